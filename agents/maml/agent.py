"""MAML at execution time: the importance-corrected adaptation between rounds (Algorithm 2).

The agent keeps a buffer of its most recent episodes (``observe`` fills it) and recomputes its
acting parameters phi from theta in ``adapt()``, which the game calls between episodes or
rounds. ``reset()`` starts a new game from the meta-trained parameters.
"""

from __future__ import annotations

import numpy as np
import torch

from agents.base import Agent, reseed
from agents.episodes import EpisodeBuffer
from agents.maml.core import AdaptConfig, StepSizes, act_step, adapt, parameters_of
from agents.nets import log_prob
from agents.policy import Policy


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
        self._identity(name, body, policy.act_dim, seed)
        self.buffer = EpisodeBuffer(buffer_episodes)
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
