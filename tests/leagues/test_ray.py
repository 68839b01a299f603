"""The Ray executor: the same results as in-process, and games retried when a worker dies."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

pytest.importorskip("ray")

from leagues import AgentSpec, InProcessExecutor, Tournament, TournamentConfig
from leagues.backends import make_executor
from leagues.executors import GameFailure, RayConfig
from leagues.games import GameSpec, play_game
from leagues.ray_executor import RayExecutor
from leagues.report import rating_history, standings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_executor():
    executor = RayExecutor(RayConfig(workers=2))
    yield executor
    executor.close()


def _entrants(lineage) -> list[AgentSpec]:
    return [AgentSpec("idle", body="ant"), AgentSpec("random", body="ant"),
            AgentSpec(str(lineage.path(2))),
            AgentSpec(str(lineage.directory), evolving=True, name="learner")]


def _record(t: Tournament) -> tuple:
    rows = [tuple(r) for r in t.db.conn.execute(
        "SELECT id, a, b, seed, status, outcome, forfeit FROM games ORDER BY id")]
    episodes = [tuple(r) for r in t.db.conn.execute("SELECT * FROM episodes ORDER BY game, round, "
                                                    "episode")]
    return rows, episodes, rating_history(t.db), [dataclasses.astuple(s) for s in standings(t.db)]


def test_ray_gives_the_same_results_as_in_process(ray_executor, tmp_path, lineage, tiny_game):
    config = TournamentConfig(game=tiny_game, seed=11)
    local = Tournament(tmp_path / "local.db", _entrants(lineage), config)
    local.run(InProcessExecutor())
    remote = Tournament(tmp_path / "ray.db", _entrants(lineage), config)
    remote.run(ray_executor)
    assert remote.db.counts() == {"pending": 0, "done": 6, "void": 0}
    assert _record(remote) == _record(local)


def test_a_game_whose_worker_dies_is_retried(ray_executor, tmp_path, tiny_game):
    marker = tmp_path / "died-once"

    def dies_once(spec: GameSpec):
        if spec.seed == target and not marker.exists():
            marker.touch()
            os._exit(1)  # the worker process dies in the middle of the game
        return play_game(spec)

    entrants = [AgentSpec("idle", body="ant"), AgentSpec("random", body="ant"),
                AgentSpec("random", body="bug", name="random-bug")]
    config = TournamentConfig(game=tiny_game, seed=4)
    reference = Tournament(tmp_path / "ref.db", entrants, config)
    reference.run()
    t = Tournament(tmp_path / "t.db", entrants, config)
    target = t.db.pending()[1][1].seed
    t.run(RayExecutor(play=dies_once))  # joins the running Ray
    assert marker.exists()
    assert t.db.counts() == {"pending": 0, "done": 3, "void": 0}
    assert _record(t) == _record(reference)


def test_a_game_whose_worker_keeps_dying_is_void_and_the_rest_go_on(ray_executor, tiny_game):
    def always_dies(spec: GameSpec):
        if spec.seed == 2:
            os._exit(1)
        return play_game(spec)

    specs = [(k, GameSpec(AgentSpec("idle", body="ant"), AgentSpec("random", body="ant"),
                          tiny_game, seed=k)) for k in range(1, 4)]
    results = dict(make_executor("ray", play=always_dies, max_retries=0).run(specs))
    assert isinstance(results[2], GameFailure)
    assert "worker died playing idle vs random (an agent that ends its process" in results[2].reason
    assert results[1] == play_game(specs[0][1]) and results[3] == play_game(specs[2][1])


def test_ray_temp_dir_is_short_and_auth_is_disabled(ray_executor):
    assert os.environ["RAY_AUTH_MODE"] == "disabled"
    assert ray_executor._temp_dir is not None and len(ray_executor._temp_dir) < 40
    assert Path(ray_executor._temp_dir).is_dir()


def test_a_hanging_agent_forfeits_on_a_worker_and_the_other_games_are_written(
        ray_executor, tmp_path, tiny_game):
    import torch

    from agents.checkpoint import CheckpointMeta, save_checkpoint

    hang = tmp_path / "hang.safetensors"
    save_checkpoint(hang, {"w": torch.zeros(1)},
                    CheckpointMeta(kind="test-hang", body="ant", env_id=None, config={}))

    def play_with_a_hanging_kind(spec: GameSpec):
        import time

        import agents
        from agents.base import Agent

        class Hangs(Agent):
            name, body, action_dim = "hangs", "ant", 8

            def act(self, obs):
                while True:
                    time.sleep(0.01)

        agents.register_loader("test-hang", lambda *args, **kwargs: Hangs())  # on the worker
        return play_game(spec)

    config = dataclasses.replace(tiny_game, act_timeout=0.5)
    specs = [(1, GameSpec(AgentSpec(str(hang), body="ant"), AgentSpec("idle", body="ant"),
                          config, seed=1)),
             (2, GameSpec(AgentSpec("idle", body="ant"), AgentSpec("random", body="ant"),
                          config, seed=2))]
    results = dict(RayExecutor(play=play_with_a_hanging_kind).run(specs))
    assert results[1].forfeit == "a"
    assert "did not return from act within 0.5 s" in results[1].reason
    assert results[2] == play_game(specs[1][1])
