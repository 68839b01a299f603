"""scripts/zoo_publish.py: a training run's snapshots appended to the zoo's lineage of its body."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from agents.checkpoint import CheckpointMeta, load_checkpoint, read_meta
from agents.lineage import Lineage


@pytest.fixture(scope="module")
def zoo_publish(script):
    return script("zoo_publish")


def snapshot(lineage: Lineage, version: int, body: str = "ant", steps_per_version: int = 1000):
    tensors = {"policy.w": torch.full((4,), float(version))}
    meta = CheckpointMeta(kind="ppo-mlp", body=body, env_id="RoboSumo-Ant-vs-Ant-v0", config={},
                          extra={"iteration": version, "env_steps": version * steps_per_version})
    lineage.save(version, tensors, meta)


@pytest.fixture()
def setup(tmp_path):
    zoo = tmp_path / "zoo"
    shipped = Lineage(zoo, "selfplay-ant")
    for v in (4, 8):
        snapshot(shipped, v)
    run = tmp_path / "training" / "selfplay-ant"
    source = Lineage(run / "lineage", "selfplay-ant")
    for v in range(10, 60, 10):
        snapshot(source, v)
    return zoo, run, shipped, source


def test_publishing_appends_the_chosen_snapshots_unchanged(zoo_publish, setup):
    zoo, run, shipped, source = setup
    lines = zoo_publish.publish(run, zoo, every=20, from_steps=20_000, upto=None,
                                command="python scripts/zoo_training.py --recipe 2")
    # every 20th iteration from 20,000 steps on, and the newest (50): versions 9, 10, 11
    assert shipped.versions() == [4, 8, 9, 10, 11] and len(lines) == 3
    for version, origin in zip((9, 10, 11), (20, 40, 50), strict=True):
        tensors, meta = load_checkpoint(shipped.path(version))
        want, want_meta = load_checkpoint(source.path(origin))
        assert torch.equal(tensors["policy.w"], want["policy.w"])
        assert (meta.lineage, meta.version) == ("selfplay-ant", version)
        assert meta.extra["env_steps"] == want_meta.extra["env_steps"]
        assert meta.extra["published_from"]["version"] == origin
        assert meta.extra["published_from"]["sha256"] == zoo_publish.sha256(source.path(origin))
        assert meta.extra["command"] == "python scripts/zoo_training.py --recipe 2"
    # the versions shipped before are untouched
    assert load_checkpoint(shipped.path(8))[0]["policy.w"][0] == 8.0


def test_publishing_again_appends_only_what_is_new(zoo_publish, setup):
    zoo, run, shipped, source = setup
    zoo_publish.publish(run, zoo, every=20, from_steps=0, upto=30, command=None)
    assert shipped.versions() == [4, 8, 9, 10]  # 20 and the --upto 30
    assert zoo_publish.publish(run, zoo, every=20, from_steps=0, upto=30, command=None) == []
    snapshot(source, 60)
    zoo_publish.publish(run, zoo, every=20, from_steps=0, upto=None, command=None)
    # 40 and 60 are newer than the 30 published; 50 is not a 20th iteration
    assert [read_meta(shipped.path(v)).extra["published_from"]["version"]
            for v in shipped.versions()[2:]] == [20, 30, 40, 60]


def test_a_run_continued_from_a_copy_does_not_publish_the_copied_snapshots(zoo_publish, setup,
                                                                           tmp_path):
    zoo, run, shipped, _ = setup
    zoo_publish.publish(run, zoo, every=0, from_steps=0, upto=50, command=None)
    continued = tmp_path / "training4" / "selfplay-ant"
    shutil.copytree(run, continued)
    snapshot(Lineage(continued / "lineage", "selfplay-ant"), 60)
    lines = zoo_publish.publish(continued, zoo, every=10, from_steps=0, upto=None, command=None)
    assert len(lines) == 1 and shipped.versions() == [4, 8, 9, 10]
    assert read_meta(shipped.path(10)).extra["published_from"]["version"] == 60


def test_a_continued_run_publishes_nothing_of_the_run_it_copied_even_once_pruned(
        zoo_publish, setup, tmp_path):
    zoo, run, shipped, _ = setup
    zoo_publish.publish(run, zoo, every=0, from_steps=0, upto=30, command=None)
    continued = tmp_path / "training4" / "selfplay-ant"
    shutil.copytree(run, continued)
    (continued / "budget.json").write_text(json.dumps(
        {"invocations": [], "continued_from": {"run": "x", "env_steps": 50_000,
                                               "invocations": 0}}))
    copy = Lineage(continued / "lineage", "selfplay-ant")
    copy.path(30).unlink()  # pruned: the published file is gone from the copy
    for v in (60, 100):
        snapshot(copy, v)
    zoo_publish.publish(continued, zoo, every=10, from_steps=0, upto=None, command=None)
    # 10, 20, 40 and 50 are the copied run's (up to 50,000 steps), not the continued one's
    assert [read_meta(shipped.path(v)).extra["published_from"]["version"]
            for v in shipped.versions()[2:]] == [30, 60, 100]


def test_the_size_limit_counts_what_would_be_added(zoo_publish, setup):
    zoo, run, shipped, _ = setup
    size = sum(p.stat().st_size for p in zoo.rglob("*") if p.is_file())
    with pytest.raises(SystemExit, match="the zoo would grow to"):
        zoo_publish.publish(run, zoo, every=10, from_steps=0, upto=None, command=None,
                            max_mb=(size + 100) / 1e6)
    assert shipped.versions() == [4, 8]
    zoo_publish.publish(run, zoo, every=0, from_steps=0, upto=None, command=None,
                        max_mb=(size + 4000) / 1e6)  # one snapshot fits
    assert shipped.versions() == [4, 8, 9]


def test_bad_requests_are_refused_before_anything_is_written(zoo_publish, setup):
    zoo, run, shipped, _ = setup
    change, message = {"upto": 35}, "--upto 35 is not a snapshot of the run"
    kwargs = {"every": 10, "from_steps": 0, "upto": None, "command": None, **change}
    with pytest.raises(SystemExit, match=message):
        zoo_publish.publish(run, zoo, **kwargs)
    assert shipped.versions() == [4, 8]


def test_a_run_of_another_body_is_refused(zoo_publish, setup, tmp_path):
    zoo, _, shipped, _ = setup
    run = tmp_path / "bug-run"
    snapshot(Lineage(run / "lineage", "selfplay-ant"), 10, body="bug")
    with pytest.raises(SystemExit, match="the run's robot is 'bug'"):
        zoo_publish.publish(run, zoo, every=10, from_steps=0, upto=None, command=None)
    assert shipped.versions() == [4, 8]
