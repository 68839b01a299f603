"""The experience an adapting agent keeps during a game, and the batch it adapts on.

``EpisodeBuffer`` holds the acting policy's most recent complete episodes (``record_act`` at
every action, ``record_outcome`` at every reward; an episode ends with ``terminated or
truncated``). ``Episodes`` is the padded batch the adaptation rules read (MAML's inner steps,
NoRML's), and ``stream_rollout`` lays the episodes end to end for PPO (tracking).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from agents.sampler import Rollout


class Episodes(NamedTuple):
    """A batch of E complete episodes of length T used to adapt (tensors).

    ``behaviour_logp`` holds log pi_behaviour(a|s) of the policy that acted; ``mask`` is 1 for
    real steps (episodes may be padded to a common length).
    """

    obs: torch.Tensor  # [E, T, input_dim], normalised as the policy sees them
    actions: torch.Tensor  # [E, T, act_dim]
    rewards: torch.Tensor  # [E, T]
    behaviour_logp: torch.Tensor  # [E, T]
    mask: torch.Tensor  # [E, T]


@dataclass
class Episode:
    obs: list[torch.Tensor]
    actions: list[np.ndarray]
    rewards: list[float]
    logp: list[float]
    values: list[float]


class EpisodeBuffer:
    """The last ``capacity`` complete episodes of the acting policy."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"the experience buffer needs at least 1 episode, got {capacity}")
        self.done: deque[Episode] = deque(maxlen=capacity)
        self.current = Episode([], [], [], [], [])

    def record_act(self, obs: torch.Tensor, action: np.ndarray, logp: float,
                   value: float) -> None:
        c = self.current
        c.obs.append(obs)
        c.actions.append(action)
        c.logp.append(logp)
        c.values.append(value)

    def record_outcome(self, reward: float, episode_over: bool) -> None:
        self.current.rewards.append(float(reward))
        if episode_over:
            self.done.append(self.current)
            self.current = Episode([], [], [], [], [])

    def episodes(self) -> Episodes:
        """The finished episodes, padded to a common length, as ``maml.Episodes``."""
        eps = list(self.done)
        t = max(len(e.rewards) for e in eps)
        n_obs, n_act = eps[0].obs[0].shape[-1], len(eps[0].actions[0])
        obs = torch.zeros(len(eps), t, n_obs)
        act = torch.zeros(len(eps), t, n_act)
        rew, logp, mask = (torch.zeros(len(eps), t) for _ in range(3))
        for i, e in enumerate(eps):
            n = len(e.rewards)
            obs[i, :n] = torch.stack(e.obs)
            act[i, :n] = torch.as_tensor(np.array(e.actions), dtype=torch.float32)
            rew[i, :n] = torch.as_tensor(e.rewards)
            logp[i, :n] = torch.as_tensor(e.logp)
            mask[i, :n] = 1.0
        return Episodes(obs, act, rew, logp, mask)

    def clear(self) -> None:
        self.done.clear()
        self.current = Episode([], [], [], [], [])


def stream_rollout(episodes: list[Episode]) -> Rollout:
    """Complete episodes laid end to end as one stream ``[sum of lengths, 1]``.

    Each episode's last step is terminal; every other step bootstraps from the recorded value
    of the step after it.
    """
    col = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float32)[:, None]  # noqa: E731
    obs = torch.cat([torch.stack(e.obs) for e in episodes])[:, None]
    actions = col(np.concatenate([np.asarray(e.actions) for e in episodes]))
    logp = col([v for e in episodes for v in e.logp])
    values = col([v for e in episodes for v in e.values])
    rewards = col([r for e in episodes for r in e.rewards])
    dones = torch.zeros_like(values)
    dones[np.cumsum([len(e.rewards) for e in episodes]) - 1] = 1.0
    next_values = torch.cat([values[1:], torch.zeros(1, 1)]) * (1.0 - dones)
    return Rollout(obs, actions, logp, values, rewards, dones,
                   dones.clone(), next_values, torch.zeros_like(values), None)
