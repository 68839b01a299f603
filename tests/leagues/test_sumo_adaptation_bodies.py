"""scripts/sumo_adaptation_bodies.py: what it plays and how it reads the games."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from leagues.roster import describe


def test_every_meta_learner_meets_its_own_frozen_self(script):
    mod = script("sumo_adaptation_bodies")
    specs = mod.methods("spider", [0, 1])
    assert specs["no adaptation"].ref == "zoo:selfplay-spider"
    assert specs["PPO tracking"].adaptation == "tracking"
    assert specs["MAML, seed 1"].ref == "zoo:maml-sumo-spider-seed1"
    assert "RL^2, seed 1" not in specs  # RL^2 is played with seed 0 only
    for label, *_ in mod.learners([0, 1]):
        own, frozen = specs[label], specs[mod.frozen(label)]
        assert own.ref == frozen.ref and (own.adaptation, frozen.adaptation) == ("own", "none")
    pairs = mod.comparisons([0, 1])
    primary = [(a, b) for a, b in pairs if b == mod.frozen(a)]
    assert pairs[:len(primary)] == primary and len(primary) == 5
    # every spec of seed 0 loads as a game would load it (the zoo's files)
    for name, spec in mod.methods("bug", [0]).items():
        assert describe(spec)["sha256"], name


def test_shares_and_paired_differences_are_per_game_and_pool_the_bodies(script):
    mod = script("sumo_adaptation_bodies")
    a = np.zeros((2, 4, 3), dtype=np.int64)
    a[0, :, 0], a[0, :, 1] = 3, 0  # game 0: every bout won
    a[1, :2, 0], a[1, :2, 1], a[1, 2:, 2] = 1, 2, 3  # game 1: 1 of 3, then draws
    np.testing.assert_allclose(mod.shares(a, slice(None)), [1.0, 2 / 12])
    np.testing.assert_allclose(mod.shares(a, slice(-2, None)), [1.0, 0.0])
    b = np.zeros_like(a)
    b[..., 1] = 3  # lost everything
    results = {"ant": {"x": a, "y": b}, "bug": {"x": b, "y": a}}
    d = mod.paired(results, "x", "y", slice(None))
    np.testing.assert_allclose(d, [1.0, 2 / 12, -1.0, -2 / 12])  # the ant's games, then the bug's


def test_entries_name_the_body_the_window_and_the_command(script):
    mod = script("sumo_adaptation_bodies")
    rng = np.random.default_rng(0)
    names = mod.methods("ant", [0])
    results = {b: {n: rng.integers(0, 3, size=(4, 12, 3)) + 1 for n in names}
               for b in ("ant", "bug")}
    args = argparse.Namespace(last=10, seeds=[0])
    entries = mod.entries(args, results)
    keys = {(e["method"], e["comparison"], e["window"]) for e in entries}
    assert len(keys) == len(entries)  # update_entries replaces by these keys
    primary = [e for e in entries if e["method"] == f"MAML [{mod.SECTION}, all bodies]"
               and e["comparison"] == "minus MAML, frozen" and e["window"] == "last 10 rounds"]
    assert len(primary) == 1 and primary[0]["n"] == 8 and primary[0]["domain"] == "robosumo"
    e = primary[0]
    assert e["ci_low"] < e["mean"] < e["ci_high"]
    assert e["command"].startswith("python scripts/sumo_adaptation_bodies.py")


def test_bad_flags_are_refused_in_their_own_words(script, monkeypatch, capsys):
    mod = script("sumo_adaptation_bodies")
    for argv, message in ((["--seeds", "1"], "--seeds must be distinct seeds >= 0 including 0"),
                          (["--games", "1"], "--games must be >= 2, got 1")):
        monkeypatch.setattr("sys.argv", ["sumo_adaptation_bodies.py", *argv])
        with pytest.raises(SystemExit, match=message):
            mod.main()
