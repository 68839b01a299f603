"""RL^2 (Duan et al. 2016): a recurrent policy that adapts in its hidden state.

The policy is the paper's recurrent baseline: an FC-64 tanh embedding then an LSTM-64, one for
the policy and one for the value (``agents.nets.LSTMActorCritic``; an LSTM rather than garage's
GRU, so that RL^2 and the PPO-LSTM baseline share one network). Its input at every step is::

    concat(normalised obs, previous action, previous reward, done)

- previous action: the action of the previous step clipped to [-1, 1] (the envs' action range);
- previous reward: ``clip(reward * reward_scale, -5, 5)``; a fixed scale rather than running
  statistics, so that what the network sees does not drift during training (1 for locomotion,
  where rewards are about the torso's speed; 0.01 suits RoboSumo's +-2000 outcomes), clipped
  like the observations;
- done: 1 if the previous step ended an episode (termination or time limit), so 1 on the first
  step of every episode; the first step of a trial also has done = 1 and zero action and reward.

The hidden state is kept across all episodes of a trial (the 7 episodes of a locomotion damage
chain; all rounds against one opponent) and reset only when the trial changes (``reset()``).
Checkpoints are of kind ``"rl2"``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.base import Agent, reseed
from agents.checkpoint import CheckpointMeta, load_module, save_checkpoint
from agents.nets import OBS_CLIP, RunningNorm
from agents.policy import ActOutput, Policy, PolicyConfig

KIND = "rl2"


@dataclass(frozen=True)
class RL2Config:
    """Architecture and inputs of an RL^2 policy.

    Attributes:
        hidden: width of the embedding and of the LSTM (64 in the paper).
        init_log_std: initial log standard deviation of the actions.
        reward_scale: the previous-reward input is ``clip(reward * reward_scale, -5, 5)``.
        normalize_obs: feed observations as clipped running z-scores.
    """

    hidden: int = 64
    init_log_std: float = 0.0
    reward_scale: float = 1.0
    normalize_obs: bool = True

    def __post_init__(self) -> None:
        if not (isinstance(self.hidden, int) and self.hidden > 0):
            raise ValueError(f"hidden must be a positive integer, got {self.hidden!r}")
        if not self.reward_scale > 0:
            raise ValueError(f"rl2 reward_scale must be positive, got {self.reward_scale!r}")


class RL2Policy(nn.Module):
    """Observation normaliser plus an LSTM actor-critic on the RL^2 inputs.

    ``core`` is an ordinary LSTM ``Policy`` whose "observation" is the RL^2 input of size
    ``obs_dim + act_dim + 2``; PPO trains it directly on rollouts of those inputs.
    """

    def __init__(self, obs_dim: int, act_dim: int, config: RL2Config | None = None) -> None:
        super().__init__()
        self.config = config or RL2Config()
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.norm = RunningNorm(self.obs_dim)
        c = self.config
        self.core = Policy(self.input_dim, self.act_dim,
                           PolicyConfig(arch="lstm", hidden=c.hidden,
                                        init_log_std=c.init_log_std, normalize_obs=False))

    @property
    def input_dim(self) -> int:
        return self.obs_dim + self.act_dim + 2

    def initial_state(self, batch: int) -> torch.Tensor:
        """The zero LSTM state ``[4, batch, hidden]``."""
        return self.core.initial_state(batch)

    def inputs(self, obs: np.ndarray, prev_action: np.ndarray, prev_reward: np.ndarray,
               done: np.ndarray) -> torch.Tensor:
        """The network input ``[B, input_dim]`` from raw ``obs [B, obs_dim]``, the previous
        action ``[B, act_dim]``, reward ``[B]`` and done flag ``[B]``."""
        x = torch.as_tensor(obs, dtype=torch.float32)
        if self.config.normalize_obs:
            x = self.norm(x)
        a = torch.as_tensor(np.clip(prev_action, -1.0, 1.0), dtype=torch.float32)
        r = torch.as_tensor(np.clip(np.asarray(prev_reward, np.float64) * self.config.reward_scale,
                                    -OBS_CLIP, OBS_CLIP), dtype=torch.float32)
        d = torch.as_tensor(done, dtype=torch.float32)
        return torch.cat([x, a, r[:, None], d[:, None]], -1)

    @torch.no_grad()
    def act(self, inputs: torch.Tensor, state: torch.Tensor, starts: np.ndarray,
            deterministic: bool = False,
            generator: torch.Generator | None = None) -> ActOutput:
        """Sample actions for RL^2 inputs ``[B, input_dim]``; ``starts [B]`` zero the state."""
        return self.core.act(inputs, state, starts, deterministic, generator)

    def describe(self) -> dict[str, Any]:
        """JSON-ready sizes and config, stored with every checkpoint."""
        return {"obs_dim": self.obs_dim, "act_dim": self.act_dim,
                "rl2": dataclasses.asdict(self.config)}


def save_rl2(path: Path | str, policy: RL2Policy, meta: CheckpointMeta) -> Path:
    """Save an RL^2 policy; its description is merged into ``meta.config``."""
    tensors = {k: v.detach().clone() for k, v in policy.state_dict().items()}
    meta = dataclasses.replace(meta, config={**meta.config, **policy.describe()})
    return save_checkpoint(path, tensors, meta)


def load_rl2(path: Path | str) -> tuple[RL2Policy, CheckpointMeta]:
    """Load a policy saved by ``save_rl2`` after checking every tensor's name and shape."""
    return load_module(path, KIND, lambda c: RL2Policy(int(c["obs_dim"]), int(c["act_dim"]),
                                                       RL2Config(**c["rl2"])),
                       "an RL^2 policy")


class RL2Agent(Agent):
    """Adapts in its memory: the LSTM state runs on across the episodes of a trial.

    ``reset()`` (a new game) zeroes the state; episode ends only set the done input of the next
    step. A trial is the whole game, or with ``trial_per_round`` one round: ``adapt()``, which
    the game calls between rounds, then starts a new trial (zero state, no previous action or
    reward), as in RoboSumo training, where a trial is a few bouts against one opponent version
    and an evolving opponent changes version every round. Otherwise ``adapt()`` does nothing:
    there are no parameters to update.

    Args:
        policy: the trained RL^2 policy (its statistics are frozen while playing).
        name: label.
        body: the body it controls, if any.
        deterministic: act with the mean action.
        seed: seed of the action noise (a new game restarts it).
        trial_per_round: start a new trial at every ``adapt()`` (round boundary).
        trial_per_episode: start a new trial at every episode end, so that nothing seen in one
            episode reaches the next (RL^2 without adaptation: ``adaptation="none"``).
    """

    def __init__(self, policy: RL2Policy, name: str = "rl2", body: str | None = None,
                 deterministic: bool = False, seed: int | None = None,
                 trial_per_round: bool = False, trial_per_episode: bool = False) -> None:
        self.policy = policy.eval()
        self.trial_per_round = bool(trial_per_round)
        self.trial_per_episode = bool(trial_per_episode)
        self._identity(name, body, policy.act_dim, seed, deterministic)
        self.reset()

    def reset(self) -> None:
        """A new trial: zero state, no previous action or reward, done = 1."""
        reseed(self._generator, self._seed)
        self._new_trial()

    def _new_trial(self) -> None:
        self.state = self.policy.initial_state(1)
        self.prev_action = np.zeros(self.action_dim)
        self.prev_reward, self.done, self._start = 0.0, True, True

    def adapt(self) -> None:
        """Between rounds: a new trial with ``trial_per_round``, else nothing."""
        if self.trial_per_round:
            self._new_trial()

    def act(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32)
        if obs.shape != (self.policy.obs_dim,):
            raise ValueError(f"{self.name} expects observations of shape "
                             f"({self.policy.obs_dim},), got {obs.shape}")
        x = self.policy.inputs(obs[None], self.prev_action[None], np.array([self.prev_reward]),
                               np.array([self.done]))
        out = self.policy.act(x, self.state, np.array([self._start]), self.deterministic,
                              self._generator)
        self.state, self._start = out.state, False
        return out.action[0]

    def observe(self, action: np.ndarray, reward: float, next_obs: np.ndarray,
                terminated: bool, truncated: bool) -> None:
        # The state is kept: an episode end inside a game is only an input to the next step.
        self.prev_action = np.asarray(action, dtype=np.float64).reshape(self.action_dim)
        self.prev_reward = float(reward)
        self.done = bool(terminated or truncated)
        if self.done and self.trial_per_episode:
            self._new_trial()


def load_agent(path: Path, meta: CheckpointMeta, seed: int | None, **kwargs: Any) -> Agent:
    """An ``RL2Agent`` from an ``"rl2"`` checkpoint (``agents.loaders``)."""
    policy, meta = load_rl2(path)
    label = f"{meta.lineage}@{meta.version}" if meta.lineage else path.stem
    # RoboSumo agents were trained on trials of a few bouts against one opponent version.
    kwargs.setdefault("trial_per_round", (meta.env_id or "").startswith("RoboSumo"))
    return RL2Agent(policy, name=label, body=meta.body, seed=seed, **kwargs)


def load_frozen_agent(path: Path, meta: CheckpointMeta, seed: int | None,
                      **kwargs: Any) -> Agent:
    """The ``"rl2"`` checkpoint without adaptation (``agents.load(..., adaptation="none")``): its
    memory starts afresh at every episode."""
    return load_agent(path, meta, seed, trial_per_episode=True, **kwargs)


__all__ = ["KIND", "RL2Agent", "RL2Config", "RL2Policy", "load_agent", "load_frozen_agent",
           "load_rl2", "save_rl2"]
