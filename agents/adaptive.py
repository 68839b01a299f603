"""Agents that adapt during a game: MAML (importance-corrected, Algorithm 2) and PPO tracking.

Both keep a buffer of their most recent episodes (``observe`` fills it; an episode ends with
``terminated or truncated``) and change their acting parameters in ``adapt()``, which the game
calls between episodes or rounds. ``reset()`` starts a new game from the meta-trained (or
pre-trained) parameters.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

from agents.base import Agent, reseed
from agents.maml import AdaptConfig, Episodes, StepSizes, act_step, adapt, parameters_of
from agents.nets import log_prob
from agents.policy import Policy
from agents.ppo import PPO, PPOConfig
from agents.sampler import Rollout


@dataclass
class _Episode:
    obs: list[torch.Tensor]
    actions: list[np.ndarray]
    rewards: list[float]
    logp: list[float]
    values: list[float]


class _EpisodeBuffer:
    """The last ``capacity`` complete episodes of the acting policy."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"the experience buffer needs at least 1 episode, got {capacity}")
        self.done: deque[_Episode] = deque(maxlen=capacity)
        self.current = _Episode([], [], [], [], [])

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
            self.current = _Episode([], [], [], [], [])

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
        self.current = _Episode([], [], [], [], [])


class MAMLAgent(Agent):
    """Acts with pi_phi and, after each episode, recomputes phi from theta (eq. 9).

    phi = adapt(theta) on the last ``buffer_episodes`` episodes, which the previously adapted
    policies collected; every inner step weights each time step by the truncated importance
    ratio of the parameters being differentiated against the policy that acted.

    With an LSTM policy the recurrent state is carried from step to step within an episode and
    starts from zero at every episode start (after ``reset()`` and after an observation with
    ``terminated or truncated``), so the log-probabilities it records are those that
    ``agents.maml.evaluate_episodes`` recomputes by unrolling the buffered episodes. An
    ``adapt()`` between episodes changes phi for the next episode; the state is not carried
    across episodes.

    Args:
        policy: holds theta (network parameters) and the frozen observation statistics.
        step_sizes: the meta-learned alphas.
        config: the adaptation rule used in meta-training.
        buffer_episodes: episodes kept for adaptation (paper: 3 for locomotion, 75 RoboSumo).
        name, body, seed: as for every agent.
    """

    def __init__(self, policy: Policy, step_sizes: StepSizes, config: AdaptConfig,
                 buffer_episodes: int = 3, name: str = "maml", body: str | None = None,
                 seed: int | None = None) -> None:
        self.policy = policy.eval()
        self.step_sizes, self.config = step_sizes, config
        self.name, self.body, self.action_dim = name, body, policy.act_dim
        self.buffer = _EpisodeBuffer(buffer_episodes)
        self._seed = seed
        self._generator = torch.Generator()
        self.adaptations = 0
        self.reset()

    def reset(self) -> None:
        self.theta = {k: v.detach() for k, v in parameters_of(self.policy.net).items()}
        self.phi = dict(self.theta)
        self.buffer.clear()
        self.state: torch.Tensor | None = None  # recurrent state within the episode
        self.adaptations = 0
        reseed(self._generator, self._seed)

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        x = self.policy.normalize(np.asarray(obs, dtype=np.float32)[None])
        mean, log_std, value, self.state = act_step(self.policy.net, self.phi, x, self.state)
        action = mean + log_std.exp() * torch.randn(mean.shape, generator=self._generator)
        logp = log_prob(mean, log_std, action)
        a = action[0].double().numpy()
        self.buffer.record_act(x[0], a, float(logp[0]), float(value[0]))
        return a

    def observe(self, action: np.ndarray, reward: float, next_obs: np.ndarray,
                terminated: bool, truncated: bool) -> None:
        self.buffer.record_outcome(reward, terminated or truncated)
        if terminated or truncated:
            self.state = None  # the next step starts an episode

    def adapt(self) -> None:
        """phi <- adapt(theta) on the buffered episodes (nothing before the first episode)."""
        if not self.buffer.done:
            return
        theta = {k: v.clone().requires_grad_() for k, v in self.theta.items()}
        with torch.enable_grad():
            phis = adapt(self.policy.net, theta, self.step_sizes, self.buffer.episodes(),
                         self.config, create_graph=False, weighted=True)
        self.phi = {k: v.detach() for k, v in phis[-1].items()}
        self.adaptations += 1


class TrackingAgent(Agent):
    """PPO tracking: keeps doing PPO updates on the experience of the game (paper baseline).

    After every episode (or round) the buffered episodes are laid end to end as one stream,
    each ending terminal, and PPO runs its epochs on them: GAE bootstraps from the recorded value
    of the next step inside an episode and from nothing at its end, so episodes of different
    lengths (RoboSumo bouts) are fine.

    Args:
        policy: the pre-trained policy (copied; the original is untouched); MLP.
        ppo: PPO settings of the updates at execution time.
        buffer_episodes: most recent episodes each update learns from.
        reward_scale: rewards are multiplied by this before the update, as in the policy's
            training (0.01 for RoboSumo), so that its value function keeps its units.
        name, body, seed: as for every agent.
    """

    def __init__(self, policy: Policy, ppo: PPOConfig | None = None, buffer_episodes: int = 3,
                 name: str = "tracking", body: str | None = None, seed: int | None = None,
                 reward_scale: float = 1.0) -> None:
        if policy.recurrent:
            raise ValueError("PPO tracking supports MLP policies; this one is recurrent")
        if not reward_scale > 0:
            raise ValueError(f"reward_scale must be positive, got {reward_scale!r}")
        self.initial = copy.deepcopy(policy).eval()
        self.ppo_config = ppo or PPOConfig(epochs=4, minibatches=4, lr=3e-4)
        self.reward_scale = float(reward_scale)
        self.name, self.body, self.action_dim = name, body, policy.act_dim
        self.buffer = _EpisodeBuffer(buffer_episodes)
        self._seed = seed
        self._generator = torch.Generator()
        self.updates = 0
        self.reset()

    def reset(self) -> None:
        self.policy = copy.deepcopy(self.initial)
        self.ppo = PPO(self.policy, self.ppo_config)
        self.buffer.clear()
        self.updates = 0
        reseed(self._generator, self._seed)

    def act(self, obs: np.ndarray) -> np.ndarray:
        out = self.policy.act(np.asarray(obs, dtype=np.float32)[None], generator=self._generator)
        self.buffer.record_act(out.obs[0], out.action[0], float(out.logp[0]),
                               float(out.value[0]))
        return out.action[0]

    def observe(self, action: np.ndarray, reward: float, next_obs: np.ndarray,
                terminated: bool, truncated: bool) -> None:
        self.buffer.record_outcome(reward, terminated or truncated)

    def adapt(self) -> None:
        """PPO epochs on the buffered episodes, laid end to end (each ends terminal)."""
        if not self.buffer.done:
            return
        rollout = stream_rollout(list(self.buffer.done))
        self.ppo.update(rollout, self._generator, reward_scale=self.reward_scale)
        self.updates += 1


def stream_rollout(episodes: list[_Episode]) -> Rollout:
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
