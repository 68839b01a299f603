"""PPO tracking (the paper's baseline): PPO updates on the experience of the game itself.

The agent keeps a buffer of its most recent episodes (``observe`` fills it) and runs PPO's
epochs on them in ``adapt()``, which the game calls between episodes or rounds. ``reset()``
starts a new game from the pre-trained policy.
"""

from __future__ import annotations

import copy

import numpy as np

from agents.base import Agent, reseed
from agents.episodes import EpisodeBuffer, stream_rollout
from agents.policy import Policy
from agents.ppo.core import PPO, PPOConfig


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
        self._identity(name, body, policy.act_dim, seed)
        self.buffer = EpisodeBuffer(buffer_episodes)
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
