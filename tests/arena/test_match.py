"""``arena match``: tallies, intervals, determinism, and errors for bad agents and files."""

from __future__ import annotations

import json

import pytest

from agents.evaluate import wilson_interval
from arena.cli import main
from arena.match import resolve_pair
from leagues.games import GameConfig, GameSpec, play_game


def _match_json(tmp_path, capsys, *extra: str) -> dict:
    out = tmp_path / "m.json"
    argv = ["match", "random", "idle", "--bodies", "ant", "bug", "--episodes", "6",
            "--max-steps", "40", "--json", str(out), *extra]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "95 % Wilson interval" in printed
    return json.loads(out.read_text())


def test_tallies_match_the_episodes_played_and_intervals_are_wilson(tmp_path, capsys):
    result = _match_json(tmp_path, capsys, "--seed", "3")
    assert result["wins"] + result["losses"] + result["draws"] == result["episodes"] == 6
    a, b = resolve_pair("random", "idle", ["ant", "bug"])
    game = play_game(GameSpec(a, b, GameConfig(rounds=1, episodes=6, max_steps=40), 3))
    outcomes = [e.outcome for e in game.episodes]
    assert (result["wins"], result["losses"], result["draws"]) == (
        outcomes.count(1), outcomes.count(-1), outcomes.count(0))
    assert [e.a_player for e in game.episodes] == ["player_0", "player_1"] * 3  # sides swap
    for outcome, count in (("win", "wins"), ("loss", "losses"), ("draw", "draws")):
        low, high = wilson_interval(result[count], 6)
        rate = result[f"{outcome}_rate"]
        assert rate["rate"] == pytest.approx(result[count] / 6)
        assert (rate["low"], rate["high"]) == pytest.approx((low, high))
        assert rate["low"] <= rate["rate"] <= rate["high"]


def test_same_seed_same_tallies(tmp_path, capsys):
    first = _match_json(tmp_path, capsys)
    second = _match_json(tmp_path, capsys)
    for key in ("elapsed",):
        first.pop(key), second.pop(key)
    assert first == second


def test_idle_against_idle_is_all_draws(capsys):
    assert main(["match", "idle", "idle", "--bodies", "bug", "bug", "--episodes", "2",
                 "--max-steps", "10", "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["wins"], result["losses"], result["draws"]) == (0, 0, 2)
    assert result["draw_rate"]["low"] == pytest.approx(wilson_interval(2, 2)[0])


def test_zoo_agent_takes_its_body_from_the_checkpoint(zoo, capsys):
    assert main(["match", "zoo:selfplay-ant@2", "random,body=spider", "--episodes", "2",
                 "--max-steps", "20"]) == 0
    assert "zoo:selfplay-ant@2 (ant) vs random (spider)" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["match", "nobody", "idle", "--bodies", "ant", "ant"], "unknown agent 'nobody'"),
    (["match", "random", "idle"], "needs a body"),
    (["match", "random", "idle", "--bodies", "ant", "cat"], "unknown body 'cat'"),
    (["match", "missing/file.safetensors", "idle", "--bodies", "ant", "ant"],
     "no checkpoint file at that path"),
    (["match", "zoo:nothing", "idle,body=ant"], "unknown zoo agent 'nothing'"),
    (["match", "random,colour=red", "idle", "--bodies", "ant", "ant"], "unknown option"),
    (["match", "random", "idle", "--bodies", "ant", "ant", "--episodes", "0"], "--episodes"),
])
def test_bad_agents_and_files_exit_with_a_clear_message(argv, message, capsys, empty_zoo):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_a_malformed_checkpoint_is_refused(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(SystemExit) as exc:
        main(["match", str(bad), "idle", "--bodies", "ant", "ant"])
    assert exc.value.code == 2
    assert "bad.safetensors" in capsys.readouterr().err


class _NanAgent:
    """Acts with NaN: the match must stop with an error naming it."""

    name, body, action_dim = "nan-agent", "ant", 8

    def reset(self) -> None:
        pass

    def act(self, obs):
        import numpy as np

        return np.full(8, np.nan)

    def observe(self, *args) -> None:
        pass

    def adapt(self) -> None:
        pass


def test_an_agent_acting_with_nan_stops_the_match_with_its_name(tmp_path, capsys, monkeypatch):
    import torch

    import agents
    from agents.checkpoint import CheckpointMeta, save_checkpoint

    monkeypatch.setitem(agents.LOADERS, "test-nan", lambda path, meta, seed, **kw: _NanAgent())
    path = save_checkpoint(tmp_path / "nan.safetensors", {"w": torch.zeros(1)},
                           CheckpointMeta(kind="test-nan", body="ant", env_id=None, config={}))
    with pytest.raises(SystemExit) as exc:
        main(["match", f"{path},name=broken", "idle", "--bodies", "ant", "ant",
              "--episodes", "2"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "agent 'broken'" in err and "NaN" in err
