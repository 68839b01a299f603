"""Fixtures for the arena tests: a tiny zoo with one self-play lineage, an empty zoo."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import agents
from agents.checkpoint import CheckpointMeta
from agents.lineage import Lineage
from agents.policy import Policy, save_policy

DIMS = {"ant": (120, 8), "bug": (164, 12), "spider": (208, 16)}


def make_lineage(root: Path, name: str, versions: int, body: str = "ant") -> Lineage:
    """A zoo-style lineage of small random MLP policies, with training metadata."""
    lineage = Lineage(root, name)
    lineage.directory.mkdir(parents=True, exist_ok=True)
    for v in range(1, versions + 1):
        torch.manual_seed(v)
        policy = Policy(*DIMS[body])
        env_id = f"RoboSumo-{body.capitalize()}-vs-{body.capitalize()}-v0"
        meta = CheckpointMeta(kind="ppo-mlp", body=body, env_id=env_id,
                              config={"train": {"total_steps": 1000}}, lineage=name, version=v,
                              extra={"iteration": v, "env_steps": 100 * v,
                                     "saved_at": f"2026-01-0{v}T12:00:00"})
        save_policy(lineage.path(v), policy, meta)
    return lineage


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A zoo holding the lineage ``selfplay-ant`` (versions 1..3)."""
    root = tmp_path / "zoo"
    make_lineage(root, "selfplay-ant", 3)
    monkeypatch.setattr(agents.refs, "ZOO_DIR", root)
    return root


@pytest.fixture
def empty_zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A zoo with nothing in it."""
    root = tmp_path / "empty-zoo"
    root.mkdir()
    monkeypatch.setattr(agents.refs, "ZOO_DIR", root)
    return root


@pytest.fixture
def zoo_single():
    """Write a single RoboSumo checkpoint (a small random MLP policy) into a zoo folder:
    ``zoo_single(root, name, body)``; the lineage maker is ``zoo_single.lineage``."""

    def single(root: Path, name: str, body: str) -> Path:
        env_id = f"RoboSumo-{body.capitalize()}-vs-{body.capitalize()}-v0"
        meta = CheckpointMeta(kind="ppo-mlp", body=body, env_id=env_id, config={})
        return save_policy(root / f"{name}.safetensors", Policy(*DIMS[body]), meta)

    single.lineage = make_lineage
    return single
