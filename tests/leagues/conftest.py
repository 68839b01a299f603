"""Fixtures for the league tests: tiny games, tiny lineages, agents that misbehave on purpose."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import agents
from agents.base import Agent
from agents.checkpoint import CheckpointMeta, save_checkpoint
from agents.lineage import Lineage
from agents.policy import Policy
from leagues.games import GameConfig

ANT_ACT = 8
FAULT_KIND = "test-fault"


@pytest.fixture
def tiny_game() -> GameConfig:
    """Three rounds of one 30-step episode: fast enough for many games per test."""
    return GameConfig(rounds=3, episodes=1, max_steps=30)


def make_lineage(root: Path, name: str, versions: int, body: str = "ant") -> Lineage:
    """A lineage of ``versions`` small random MLP policies for ``body``."""
    dims = {"ant": (120, 8), "bug": (164, 12), "spider": (208, 16)}[body]
    lineage = Lineage(root, name)
    for v in range(1, versions + 1):
        torch.manual_seed(v)
        policy = Policy(*dims)
        meta = CheckpointMeta(kind="ppo-mlp", body=body, env_id=f"RoboSumo-{body}",
                              config=policy.describe())
        lineage.save(v, policy.tensors(), meta)
    return lineage


@pytest.fixture
def lineage(tmp_path: Path) -> Lineage:
    """An ant lineage with versions 1..3."""
    return make_lineage(tmp_path / "zoo", "selfplay-ant", 3)


class FaultyAgent(Agent):
    """Acts like idle until ``after`` steps, then misbehaves as told (nan, shape, raise, adapt)."""

    def __init__(self, fault: str, after: int) -> None:
        self.name, self.body, self.action_dim = f"faulty-{fault}", "ant", ANT_ACT
        self.fault, self.after, self.steps = fault, after, 0

    def act(self, obs: np.ndarray) -> np.ndarray:
        self.steps += 1
        if self.steps <= self.after:
            return np.zeros(ANT_ACT)
        if self.fault == "nan":
            return np.full(ANT_ACT, np.nan)
        if self.fault == "shape":
            return np.zeros(ANT_ACT + 1)
        if self.fault == "raise":
            raise RuntimeError("policy exploded")
        if self.fault == "exit":
            sys.exit(3)
        if self.fault == "hang":
            while True:
                time.sleep(0.01)
        if self.fault == "swallow":  # catches everything an agent can catch, and goes on
            while True:
                try:
                    time.sleep(0.01)
                except Exception:
                    pass
        if self.fault == "complex":
            return np.zeros(ANT_ACT) + 1j
        if self.fault == "absurd":
            return np.full(ANT_ACT, 1e200)
        if self.fault == "string":
            return ["0.5"] * ANT_ACT
        return np.zeros(ANT_ACT)

    def adapt(self) -> None:
        if self.fault == "adapt":
            raise RuntimeError("adaptation diverged")
        if self.fault == "slow-adapt":
            time.sleep(60)


def _load_faulty(path: Path, meta: CheckpointMeta, seed: int | None, **kwargs) -> Agent:
    return FaultyAgent(meta.config["fault"], int(meta.config["after"]))


@pytest.fixture
def faulty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A function: fault -> path of a checkpoint whose agent misbehaves so (this process only)."""
    monkeypatch.setitem(agents.LOADERS, FAULT_KIND, _load_faulty)

    def make(fault: str, after: int = 5) -> str:
        meta = CheckpointMeta(kind=FAULT_KIND, body="ant", env_id=None,
                              config={"fault": fault, "after": after})
        path = tmp_path / "faulty" / f"{fault}.safetensors"
        save_checkpoint(path, {"w": torch.zeros(1)}, meta)
        return str(path)

    return make
