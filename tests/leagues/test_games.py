"""The iterated adaptation game: determinism, side alternation, evolving opponents, forfeits."""

from __future__ import annotations

import dataclasses
import re
import signal
import time

import numpy as np
import pytest
import torch

import leagues.games as games_module
from agents.base import IdleAgent
from agents.checkpoint import CheckpointMeta, save_checkpoint
from leagues.games import GameConfig, GameSpec, episode_seed, play_game
from leagues.roster import AgentSpec, describe, version_for_round, with_body
from leagues.rules import LOSS, WIN


def _spec(a: AgentSpec, b: AgentSpec, config: GameConfig, seed: int = 3) -> GameSpec:
    return GameSpec(with_body(a), with_body(b), config, seed)


def test_same_spec_gives_the_same_game(lineage, tiny_game):
    ref = str(lineage.path(2))
    spec = _spec(AgentSpec(ref), AgentSpec("random", body="ant"), tiny_game)
    first, second = play_game(spec), play_game(spec)
    assert first == second
    other = play_game(dataclasses.replace(spec, seed=4))
    assert [e.seed for e in other.episodes] != [e.seed for e in first.episodes]
    assert [e.return_a for e in other.episodes] != [e.return_a for e in first.episodes]


def test_rounds_and_episodes_are_recorded_with_their_seeds(tiny_game):
    config = dataclasses.replace(tiny_game, rounds=2, episodes=3)
    spec = _spec(AgentSpec("random", body="ant"), AgentSpec("idle", body="bug"), config, seed=9)
    result = play_game(spec)
    assert [(e.round, e.episode) for e in result.episodes] == [(r, e) for r in range(2)
                                                               for e in range(3)]
    assert [e.seed for e in result.episodes] == [episode_seed(9, r, e) for r in range(2)
                                                 for e in range(3)]
    assert [e.a_player for e in result.episodes] == ["player_0", "player_1"] * 3
    for r in result.rounds:
        mine = [e.outcome for e in result.episodes if e.round == r.round]
        assert (r.wins, r.losses, r.draws) == (mine.count(1), mine.count(-1), mine.count(0))
        assert r.wins + r.losses + r.draws == 3
    assert all(e.steps <= config.max_steps for e in result.episodes)


def test_swapping_sides_mirrors_the_game(lineage, tiny_game):
    config = dataclasses.replace(tiny_game, episodes=2, max_steps=60)
    # Deterministic agents: each side's seed depends on its side, the bouts must not.
    a = with_body(AgentSpec(str(lineage.path(1)), deterministic=True))
    b = AgentSpec("idle", body="ant")
    forward = play_game(GameSpec(a, b, config, 5, a_starts=True))
    backward = play_game(GameSpec(b, a, config, 5, a_starts=False))
    # Same env seeds and the same slot for each agent in every episode: the same bouts.
    assert [e.outcome for e in forward.episodes] == [-e.outcome for e in backward.episodes]
    assert [e.return_a for e in forward.episodes] == [e.return_b for e in backward.episodes]
    assert forward.outcome == -backward.outcome


def test_evolving_opponent_advances_one_version_per_round(lineage, tiny_game, monkeypatch):
    loaded = []
    real = games_module.load_agent

    def spy(spec, seed, version=None):
        loaded.append(version)
        return real(spec, seed, version)

    monkeypatch.setattr(games_module, "load_agent", spy)
    config = dataclasses.replace(tiny_game, rounds=4)
    evolving = AgentSpec(str(lineage.directory), evolving=True)
    result = play_game(_spec(AgentSpec("idle", body="ant"), evolving, config))
    assert [r.b_version for r in result.rounds] == [1, 2, 3, 3]  # capped at the newest
    assert [r.a_version for r in result.rounds] == [None] * 4
    assert loaded == [None, 1, 2, 3, 3]  # idle once, then a fresh opponent every round
    strided = AgentSpec(str(lineage.directory), evolving=True, start_version=1, stride=2)
    assert [version_for_round(strided, r) for r in range(3)] == [1, 3, 3]
    at = AgentSpec(f"{lineage.directory}@2", evolving=True)
    assert [version_for_round(at, r) for r in range(3)] == [2, 3, 3]


class _Spy(IdleAgent):
    def __init__(self) -> None:
        super().__init__(8, "ant")
        self.calls: list[str] = []

    def reset(self) -> None:
        self.calls.append("reset")

    def adapt(self) -> None:
        self.calls.append("adapt")

    def observe(self, action, reward, next_obs, terminated, truncated) -> None:
        if terminated or truncated:
            self.calls.append("end")


def test_each_side_adapts_between_rounds_from_its_own_experience(tiny_game, monkeypatch):
    spies = []

    def make(spec, seed, version=None):
        spies.append(_Spy())
        return spies[-1]

    monkeypatch.setattr(games_module, "load_agent", make)
    config = dataclasses.replace(tiny_game, rounds=3, episodes=2)
    play_game(_spec(AgentSpec("idle", body="ant"), AgentSpec("idle", body="ant"), config))
    assert len(spies) == 2
    for spy in spies:
        assert spy.calls == ["reset", "end", "end", "adapt", "end", "end", "adapt", "end", "end"]


@pytest.mark.parametrize(("fault", "problem"), [
    ("nan", "NaN"), ("shape", "shape \\(9,\\), expected \\(8,\\)"), ("raise", "policy exploded"),
    ("adapt", "adaptation diverged"),
    ("exit", r"tried to exit the process in act \(SystemExit 3\)"),
    ("complex", "complex action"), ("string", "non-numeric action of dtype <U3"),
    ("absurd", r"magnitude 1e\+200 \(torques are in \[-1, 1\]"),
])
@pytest.mark.parametrize("side", ["a", "b"])
def test_a_faulty_agent_forfeits_with_the_reason(faulty, tiny_game, fault, problem, side):
    bad, good = AgentSpec(faulty(fault)), AgentSpec("idle", body="ant")
    a, b = (bad, good) if side == "a" else (good, bad)
    result = play_game(_spec(a, b, tiny_game))
    assert result.forfeit == side
    assert result.outcome == (LOSS if side == "a" else WIN)
    assert f"faulty/{fault}.safetensors" in result.reason and f"(side {side})" in result.reason
    assert re.search(problem, result.reason)
    if fault == "adapt":
        assert len(result.rounds) == 1  # the first round is kept, adaptation then failed


@pytest.mark.parametrize("fault", ["hang", "swallow"])
def test_an_agent_that_never_returns_forfeits_on_its_time_budget(faulty, tiny_game, fault):
    config = dataclasses.replace(tiny_game, act_timeout=0.3)
    start = time.perf_counter()
    result = play_game(_spec(AgentSpec(faulty(fault, after=3)), AgentSpec("idle", body="ant"),
                             config))
    assert time.perf_counter() - start < 10
    assert result.forfeit == "a" and result.outcome == LOSS
    assert "did not return from act within 0.3 s (--act-timeout)" in result.reason
    # the budget is gone once the game is over: nothing fires later in this process
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    time.sleep(0.5)


def test_a_slow_adaptation_forfeits_on_the_adapt_budget(faulty, tiny_game):
    config = dataclasses.replace(tiny_game, adapt_timeout=0.3)
    result = play_game(_spec(AgentSpec("idle", body="ant"), AgentSpec(faulty("slow-adapt")),
                             config))
    assert result.forfeit == "b" and len(result.rounds) == 1
    assert "did not return from adapt within 0.3 s (--adapt-timeout)" in result.reason


def test_a_keyboard_interrupt_is_not_taken_for_a_fault(tiny_game, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(games_module, "load_agent", interrupted)
    with pytest.raises(KeyboardInterrupt):
        play_game(_spec(AgentSpec("idle", body="ant"), AgentSpec("idle", body="ant"), tiny_game))


@pytest.mark.parametrize(("field", "value"), [("act_timeout", 0), ("adapt_timeout", -1.0),
                                              ("act_timeout", True)])
def test_time_budgets_are_positive_seconds(field, value):
    with pytest.raises(ValueError, match=f"{field} must be a number of seconds > 0"):
        GameConfig(**{field: value})


def test_bad_specs_are_refused_with_what_is_accepted(tmp_path):
    with pytest.raises(ValueError, match="valid bodies are ant, bug, spider"):
        AgentSpec("random", body="octopus")
    with pytest.raises(ValueError, match="needs a body"):
        describe(AgentSpec("random"))
    with pytest.raises(ValueError, match="not a built-in"):
        describe(AgentSpec(str(tmp_path / "missing.safetensors")))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04 not a checkpoint")
    with pytest.raises(ValueError, match="never loaded"):
        describe(AgentSpec(str(junk)))
    mystery = save_checkpoint(tmp_path / "m.safetensors", {"w": torch.zeros(1)},
                              CheckpointMeta(kind="mystery", body="ant", env_id=None, config={}))
    with pytest.raises(ValueError, match="no loader for agent kind 'mystery'; known kinds: "):
        describe(AgentSpec(str(mystery)))
    with pytest.raises(ValueError, match="no lineage"):
        describe(AgentSpec(str(tmp_path), evolving=True))
    with pytest.raises(ValueError, match="evolving specs only"):
        AgentSpec("random", body="ant", start_version=3)
    for bad in ({"rounds": 0}, {"episodes": -1}, {"margin": 1.0}, {"env_kwargs": {"bodies": 1}}):
        with pytest.raises(ValueError, match="GameConfig"):
            GameConfig(**bad)


def test_paths_are_made_absolute(lineage, monkeypatch):
    monkeypatch.chdir(lineage.root)
    spec = with_body(AgentSpec("selfplay-ant/v0002.safetensors"))
    assert spec.ref == str(lineage.path(2)) and spec.body == "ant"
    evolving = with_body(AgentSpec("selfplay-ant@2", evolving=True))
    assert evolving.ref == f"{lineage.directory}@2"
    assert with_body(AgentSpec("idle", body="bug")).ref == "idle"


def test_play_game_needs_bodies(tiny_game):
    with pytest.raises(ValueError, match="with_body"):
        play_game(GameSpec(AgentSpec("zoo:x"), AgentSpec("idle", body="ant"), tiny_game, 0))


def test_observer_sees_every_step(tiny_game):
    seen = []
    spec = _spec(AgentSpec("idle", body="ant"), AgentSpec("idle", body="ant"), tiny_game)
    result = play_game(spec, observer=lambda event: seen.append((event.round, event.episode)))
    assert len(seen) == sum(e.steps for e in result.episodes)
    assert np.unique(np.array(seen), axis=0).tolist() == [[r, 0] for r in range(3)]


def test_agent_spec_adaptation_is_validated_labelled_and_round_trips():
    spec = AgentSpec("zoo:selfplay-bug", adaptation="tracking")
    assert spec.label == "zoo:selfplay-bug[tracking]"
    assert AgentSpec.from_dict(spec.to_dict()) == spec
    assert describe(spec)["kind"] == "ppo-mlp[tracking]"
    with pytest.raises(ValueError, match="must be one of"):
        AgentSpec("zoo:selfplay-bug", adaptation="always")
    with pytest.raises(ValueError, match="not to evolving lineages or built-ins"):
        AgentSpec("zoo:selfplay-bug", evolving=True, adaptation="none")


@pytest.mark.parametrize(("spec", "message"), [
    (AgentSpec("zoo:rl2-locomotion-bug", adaptation="tracking"), "adapt their own way"),
    (AgentSpec("zoo:selfplay-bug", adaptation="tracking", deterministic=True), "no options"),
])
def test_specs_a_game_could_not_load_are_refused_before_any_game(spec, message):
    with pytest.raises(ValueError, match=message):
        describe(spec)


def test_step_events_carry_the_rewards_and_the_games_own_results(tiny_game):
    config = dataclasses.replace(tiny_game, rounds=2, episodes=3, max_steps=25)
    spec = _spec(AgentSpec("random", body="ant"), AgentSpec("idle", body="bug"), config)
    events = []
    result = play_game(spec, observer=events.append)
    ends = [e for e in events if e.done]
    assert [e.outcome for e in ends] == [x.outcome for x in result.episodes]
    assert [e.round_outcome for e in ends if e.round_outcome is not None] == [
        r.outcome for r in result.rounds]
    assert all(e.round_outcome is None for e in ends if e.episode < config.episodes - 1)
    for record in result.episodes:  # rewards summed per side give the stored returns
        mine = [e for e in events if (e.round, e.episode) == (record.round, record.episode)]
        assert [e.step for e in mine] == list(range(1, record.steps + 1))
        assert {e.a_player for e in mine} == {record.a_player}
        ra = sum(e.rewards[e.side_player("a")] for e in mine)
        rb = sum(e.rewards[e.side_player("b")] for e in mine)
        assert (ra, rb) == pytest.approx((record.return_a, record.return_b))
        assert "reward_ctrl" in mine[-1].infos["player_0"]
