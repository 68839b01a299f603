"""Scripted opponents for training: the idle and random robots as sampler-side policies.

``SumoSampler`` acts for its frozen opponents through ``act(obs, state, starts, generator)`` and
``initial_state(batch)``, the interface of ``agents.policy.Policy``. These two classes offer the
same interface without a network, so that a training run can mix the built-in ``idle`` and
``random`` robots of ``agents.base`` into its opponents: a self-play lineage that never met a
robot standing still learns to walk itself out against one (docs/results.md, "Self-play PPO
lineages").
"""

from __future__ import annotations

import numpy as np
import torch

from agents.policy import ActOutput


class ScriptedPolicy:
    """Base of the scripted opponents: no state, no value, no learning.

    Args:
        act_dim: action size of the body it controls.
    """

    label = "scripted"
    recurrent = False

    def __init__(self, act_dim: int) -> None:
        if not (isinstance(act_dim, int) and act_dim > 0):
            raise ValueError(f"act_dim must be a positive integer, got {act_dim!r}")
        self.act_dim = act_dim

    def initial_state(self, batch: int) -> None:
        return None

    def actions(self, batch: int, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def act(self, obs: np.ndarray, state: None = None, starts: np.ndarray | None = None,
            deterministic: bool = False, generator: torch.Generator | None = None) -> ActOutput:
        """Actions ``[B, act_dim]`` for observations ``[B, obs_dim]`` (which are ignored)."""
        b = len(obs)
        action = self.actions(b, generator)
        zeros = np.zeros(b)
        return ActOutput(action.double().numpy(), zeros, zeros,
                         torch.as_tensor(obs, dtype=torch.float32), None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(act_dim={self.act_dim})"


class IdlePolicy(ScriptedPolicy):
    """Zero torques: a robot that stands still (``agents.base`` ``idle``)."""

    label = "idle"

    def actions(self, batch: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.zeros(batch, self.act_dim)


class RandomPolicy(ScriptedPolicy):
    """Uniform random torques in [-1, 1] each step (``agents.base`` ``random``)."""

    label = "random"

    def actions(self, batch: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.rand(batch, self.act_dim, generator=generator) * 2.0 - 1.0
