"""The one interface for everything that plays, and the agents built on it.

A game drives an agent like this::

    agent.reset()                      # a new game (a new opponent): forget what was adapted
    for round in rounds:
        for episode in round:
            obs = ...                  # the env's reset observation
            while not done:
                action = agent.act(obs)
                obs, reward, terminated, truncated, info = env.step(...)
                agent.observe(action, reward, obs, terminated, truncated)
        agent.adapt()                  # between rounds: learn from the experience of the game

Subclasses override what they need: ``act`` always; ``observe`` and ``adapt`` to learn during a
game (MAML's importance-corrected meta-update, tracking's PPO steps); RL^2 carries its memory in
``act``. The default ``observe`` and ``adapt`` do nothing (no adaptation).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch

from agents.policy import Policy


def reseed(generator: torch.Generator, seed: int | None) -> None:
    """Restart an agent's noise: from ``seed``, or from fresh entropy when it is None."""
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)


class Agent(ABC):
    """Something that plays one body in RoboSumo or locomotion.

    Attributes:
        name: a label for tables and logs.
        body: the body it controls, or None if it can control any (built-ins).
        action_dim: size of its actions.
    """

    name: str = "agent"
    body: str | None = None
    action_dim: int = 0

    def _identity(self, name: str, body: str | None, action_dim: int, seed: int | None,
                  deterministic: bool = False) -> None:
        """Set what every learned agent holds: its label, body and action size, whether it
        acts with the mean action, and the seeded generator of its action noise."""
        self.name, self.body, self.action_dim = name, body, int(action_dim)
        self.deterministic = deterministic
        self._seed = seed
        self._generator = torch.Generator()

    def reset(self) -> None:  # noqa: B027  (optional hook: most agents keep no game state)
        """Start a new game: drop everything adapted or remembered during the last one."""

    @abstractmethod
    def act(self, obs: np.ndarray) -> np.ndarray:
        """The action ``[action_dim]`` for one observation."""

    def observe(self, action: np.ndarray, reward: float, next_obs: np.ndarray,  # noqa: B027
                terminated: bool, truncated: bool) -> None:
        """The outcome of the last action; ``terminated or truncated`` ends the episode."""

    def adapt(self) -> None:  # noqa: B027
        """Adapt between rounds from the experience of the game so far."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, body={self.body!r})"


class RandomAgent(Agent):
    """Uniform random actions in [-1, 1], from a seeded generator."""

    def __init__(self, action_dim: int, seed: int | None = None, body: str | None = None) -> None:
        self.name, self.body, self.action_dim = "random", body, int(action_dim)
        self._seed = seed
        self._rng = np.random.default_rng(seed)

    def reset(self) -> None:
        """A new game replays the same random stream when seeded."""
        self._rng = np.random.default_rng(self._seed)

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self._rng.uniform(-1.0, 1.0, self.action_dim)


class IdleAgent(Agent):
    """Zero torques: the robot stands where it is put."""

    def __init__(self, action_dim: int, body: str | None = None) -> None:
        self.name, self.body, self.action_dim = "idle", body, int(action_dim)

    def act(self, obs: np.ndarray) -> np.ndarray:
        return np.zeros(self.action_dim)


class PolicyAgent(Agent):
    """A trained policy that does not adapt (the paper's "no adaptation" baseline).

    Args:
        policy: the policy (its normalisation statistics are frozen while playing).
        name: label.
        body: the body it was trained for.
        deterministic: act with the mean action instead of sampling.
        seed: seed of the action noise (a new game restarts it).
        meta: the checkpoint metadata it was loaded from, if any.
    """

    def __init__(self, policy: Policy, name: str = "policy", body: str | None = None,
                 deterministic: bool = False, seed: int | None = None,
                 meta: Any = None) -> None:
        self.policy = policy.eval()
        self._identity(name, body, policy.act_dim, seed, deterministic)
        self.meta = meta
        self.reset()

    def reset(self) -> None:
        reseed(self._generator, self._seed)
        self._state = self.policy.initial_state(1)
        self._start = True

    def act(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32)
        if obs.shape != (self.policy.obs_dim,):
            raise ValueError(f"{self.name} expects observations of shape "
                             f"({self.policy.obs_dim},), got {obs.shape}")
        out = self.policy.act(obs[None], self._state, np.array([self._start]),
                              deterministic=self.deterministic, generator=self._generator)
        self._state, self._start = out.state, False
        return out.action[0]

    def observe(self, action: np.ndarray, reward: float, next_obs: np.ndarray,
                terminated: bool, truncated: bool) -> None:
        if terminated or truncated:  # recurrent state is kept for one episode
            self._start = True


def load_policy_agent(path: Any, meta: Any, seed: int | None, **kwargs: Any) -> PolicyAgent:
    """A ``PolicyAgent`` from a ``"ppo-mlp"`` or ``"ppo-lstm"`` checkpoint (``agents.loaders``)."""
    from agents.policy import load_policy

    policy, meta = load_policy(path)
    label = f"{meta.lineage}@{meta.version}" if meta.lineage else path.stem
    return PolicyAgent(policy, name=label, body=meta.body, seed=seed, meta=meta, **kwargs)

