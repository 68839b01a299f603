"""The examples run as users would run them (slow: each trains for a moment)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _example(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["NonstationaryLocomotion-Bug-v0", "RoboSumo-Ant-vs-Ant-v0"])
def test_sb3_trains_saves_reloads_and_plays_on_our_ids(tmp_path, env_id):
    pytest.importorskip("stable_baselines3")
    out = _example("sb3_locomotion").main(["--env", env_id, "--steps", "1024", "--envs", "2",
                                           "--out", str(tmp_path)])
    assert (tmp_path / f"ppo-{env_id}.zip").is_file() and math.isfinite(out["return"])
    lengths = out["episode_lengths"]
    assert lengths, "SB3 saw no episode end"
    # the ids' step limits reach SB3: no episode runs past them (locomotion: exactly 100)
    limit = 100 if env_id.startswith("Nonstationary") else 500
    assert max(lengths) <= limit
    if limit == 100:
        assert set(lengths) == {100}


@pytest.mark.slow
def test_rllib_trains_two_robosumo_policies_for_an_iteration_and_checkpoints(tmp_path):
    pytest.importorskip("ray.rllib",
                        reason="RLlib is installed in its own venv (make test-ecosystem)")
    returns = _example("rllib_selfplay").main(["--iterations", "1", "--batch", "400",
                                               "--max-steps", "60", "--bodies", "ant", "bug",
                                               "--out", str(tmp_path / "ckpt")])
    assert set(returns) == {"player_0", "player_1"}  # one policy per player, both sampled
    assert all(math.isfinite(v) for v in returns.values())
    assert any((tmp_path / "ckpt").iterdir())  # a checkpoint was written


@pytest.mark.slow
def test_supersuit_self_play_shares_one_policy_between_both_players(tmp_path):
    pytest.importorskip("supersuit", reason="SuperSuit is installed in the ecosystem venv only "
                                            "(make test-ecosystem)")
    pytest.importorskip("stable_baselines3")
    out = _example("supersuit_selfplay").main(["--steps", "1024", "--max-steps", "50",
                                               "--out", str(tmp_path)])
    assert out["seats"] == 4  # 2 arenas x 2 players, one policy
    assert (tmp_path / "selfplay-ant.zip").is_file()
    assert 1 <= out["steps"] <= 50 and out["winner"] in (None, "player_0", "player_1")
