"""The NoRML agent: acts with its current parameters and adapts between rounds without reward.

``reset()`` starts a game with the exploration policy ``pi_theta``. ``observe`` stores the
transitions of the current round; ``adapt()`` recomputes ``theta_i = theta + offset -
alpha grad L`` from theta on stored episodes (NoRML reads their states and actions only; the
MAML ablation reads their rewards too) and acts with ``pi_theta_i`` from then on: by default the
episodes observed since the last ``adapt``, or with ``window=n`` the last ``n`` complete
episodes (the locomotion protocol: adapt after every episode on the last 3). Each adaptation
starts again from theta, as at meta-training time; the experience of later rounds comes from the
previous adapted policy rather than from ``pi_theta``. With ``max_weight`` (locomotion
checkpoints: 2) every step's term is importance-weighted by ``pi_theta(a | s) /
pi_behaviour(a | s)`` truncated at ``max_weight``, so that the step estimates the gradient it was
meta-trained with; without it (the point agent's default) the experience is used as if
``pi_theta`` had collected it. Uncorrected, the steps can feed back on themselves over a
locomotion chain: actions far from ``pi_theta``'s mean give large ``grad log pi_theta`` and a
larger step, whose policy acts further away still.
Models with frozen observation statistics (``NoRMLConfig.normalize_obs``, locomotion) see and
store normalised observations.

Checkpoints are of kind ``"norml"``: the model's tensors (with the observation statistics when
the model has them) plus its ``NoRMLConfig`` and sizes. Locomotion checkpoints record the
adaptation window in ``config["train"]["episodes"]``. RoboSumo checkpoints (``env_id``
``RoboSumo-...``, ``agents.norml.sumo``) give an agent that adapts on the bouts since its last
adaptation (the game's last round: the bouts against the previous opponent version, as at
meta-training time), importance-weighted (``max_weight`` 2), with rewards scaled as in
meta-training.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.base import Agent, reseed
from agents.checkpoint import CheckpointMeta, load_module, save_checkpoint
from agents.nets import log_prob
from agents.norml.core import NoRMLConfig, NoRMLModel, TaskData, _key

KIND = "norml"
LOCOMOTION_MAX_WEIGHT = 2.0  # truncation of the importance weights (MAML's agent: 2 as well)


def save_norml(path: Path | str, model: NoRMLModel, meta: CheckpointMeta) -> Path:
    """Save a NoRML model; its sizes and config are merged into ``meta.config``."""
    config = {**meta.config, "obs_dim": model.obs_dim, "act_dim": model.act_dim,
              "norml": dataclasses.asdict(model.config)}
    tensors = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return save_checkpoint(path, tensors, dataclasses.replace(meta, config=config))


def load_norml(path: Path | str) -> tuple[NoRMLModel, CheckpointMeta]:
    """Load a model saved by ``save_norml`` after checking every tensor's name and shape."""
    return load_module(path, KIND, lambda c: NoRMLModel(int(c["obs_dim"]), int(c["act_dim"]),
                                                        NoRMLConfig(**c["norml"])),
                       "a NoRML model")


class NoRMLAgent(Agent):
    """Plays with ``pi_theta``, then with the policy adapted from the last round's transitions.

    Args:
        model: the meta-trained model (not changed by playing).
        gamma: discount of the true advantage (only the variants without A_psi use it).
        name: label.
        body: body it controls, if any.
        deterministic: act with the mean action.
        seed: seed of the action noise (a new game restarts it).
        window: adapt on the last ``window`` complete episodes (kept across ``adapt`` calls);
            None: on the episodes observed since the last ``adapt``.
        max_weight: correct the inner step for experience collected by earlier adapted
            policies: each step's term is weighted by ``pi_theta(a | s) / pi_behaviour(a | s)``
            truncated at ``max_weight`` (as MAML's agent does). None: no correction (the
            experience is treated as ``pi_theta``'s own).
        reward_scale: rewards are stored multiplied by this (RoboSumo checkpoints: the
            meta-training scale, 0.01); only the variants without A_psi read them.
    """

    def __init__(self, model: NoRMLModel, gamma: float = 0.9, name: str = "norml",
                 body: str | None = None, deterministic: bool = False,
                 seed: int | None = None, window: int | None = None,
                 max_weight: float | None = None, reward_scale: float = 1.0) -> None:
        if window is not None and window < 1:
            raise ValueError(f"window must be >= 1 or None, got {window!r}")
        if max_weight is not None and not max_weight > 0:
            raise ValueError(f"max_weight must be > 0 or None, got {max_weight!r}")
        self.max_weight = max_weight
        self.reward_scale = float(reward_scale)
        self.model = model.eval()
        self.gamma = float(gamma)
        self.window = window
        self._identity(name, body, model.act_dim, seed, deterministic)
        self.reset()

    def reset(self) -> None:
        """A new game: act with ``pi_theta`` again and forget the stored experience."""
        reseed(self._generator, self._seed)
        self.params = {k: v.detach() for k, v in self.model.theta().items()}
        self._episodes: list[list[tuple[np.ndarray, ...]]] = [[]]
        self._obs: np.ndarray | None = None

    def act(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float32)
        if obs.shape != (self.model.obs_dim,):
            raise ValueError(f"{self.name} expects observations of shape "
                             f"({self.model.obs_dim},), got {obs.shape}")
        with torch.no_grad():
            x = self.model.normalize(obs)
            mean, log_std = self.model.distribution(self.params, x)
            if self.deterministic:
                action = mean
            else:
                action = mean + log_std.exp() * torch.randn(mean.shape, generator=self._generator)
            self._logp = float(log_prob(mean, log_std, action))
        self._obs = x.numpy()
        return action.double().numpy()

    def observe(self, action: np.ndarray, reward: float, next_obs: np.ndarray,
                terminated: bool, truncated: bool) -> None:
        if self._obs is None:
            raise RuntimeError(f"{self.name}: observe() called before act()")
        nxt = self.model.normalize(np.asarray(next_obs, np.float32)).numpy()
        self._episodes[-1].append((self._obs, np.asarray(action, np.float32),
                                   float(reward) * self.reward_scale, nxt,
                                   self._logp))
        if terminated or truncated:
            self._episodes.append([])

    def _selected(self) -> list[list[tuple]]:
        if self.window is None:
            return [e for e in self._episodes if e]
        # complete episodes only: adapt() is called between episodes
        return [e for e in self._episodes[:-1] if e][-self.window:]

    def experience(self) -> TaskData | None:
        """The episodes to adapt on (see ``window``), padded to one length with a mask."""
        episodes = self._selected()
        if not episodes:
            return None
        length = max(len(e) for e in episodes)
        r, s, a = len(episodes), self.model.input_dim, self.model.act_dim
        obs, nxt = np.zeros((r, length, s), np.float32), np.zeros((r, length, s), np.float32)
        act, rew = np.zeros((r, length, a), np.float32), np.zeros((r, length), np.float32)
        mask = np.zeros((r, length), np.float32)
        for i, episode in enumerate(episodes):
            for t, (o, u, rwd, n, _) in enumerate(episode):
                obs[i, t], act[i, t], rew[i, t], nxt[i, t], mask[i, t] = o, u, rwd, n, 1.0
        return TaskData(*(torch.from_numpy(x) for x in (obs, act, rew, nxt, mask)))

    def adapt(self) -> None:
        """One inner step from theta on the experience since the last call (none: no change)."""
        data = self.experience()
        if data is None:
            return
        weights = self.importance_weights(data) if self.max_weight is not None else None
        adapted = self.model.adapt(data, self.gamma, create_graph=False, weights=weights)
        self.params = {k: v.detach() for k, v in adapted.items()}
        if self.window is None:
            self._episodes = [[]]
        else:  # keep what a later window still needs
            self._episodes = self._episodes[-(self.window + 1):]


    @torch.no_grad()
    def importance_weights(self, data: TaskData) -> torch.Tensor:
        """``min(pi_theta(a | s) / pi_behaviour(a | s), max_weight)`` of every stored step of
        ``data`` (the ``experience()``), ``[R, T]``; 0 on padding."""
        behaviour = torch.zeros_like(data.mask)
        for i, episode in enumerate(self._selected()):
            behaviour[i, :len(episode)] = torch.tensor([step[4] for step in episode])
        mean, log_std = self.model.distribution(
            {k: v.detach() for k, v in self.model.theta().items()}, data.obs)
        ratio = torch.exp(log_prob(mean, log_std, data.actions) - behaviour)
        return ratio.clamp(max=self.max_weight or float("inf")) * data.mask


class FrozenNoRMLAgent(NoRMLAgent):
    """NoRML without adaptation: acts with theta (``with_offset``: theta + offset, the inner
    step's constant part) and never takes the reward-free step.

    Args:
        model: the meta-trained model.
        with_offset: add the learned offset to theta (models without one: theta).
        **kwargs: the ``NoRMLAgent`` arguments.
    """

    def __init__(self, model: NoRMLModel, with_offset: bool = False, **kwargs: Any) -> None:
        self.with_offset = bool(with_offset)
        super().__init__(model, **kwargs)

    def reset(self) -> None:
        super().reset()
        if self.with_offset and self.model.offset is not None:
            self.params = {k: (v + self.model.offset[_key(k)]).detach()
                           for k, v in self.params.items()}

    def observe(self, action: np.ndarray, reward: float, next_obs: np.ndarray,
                terminated: bool, truncated: bool) -> None:
        """Nothing is stored: a frozen agent never adapts on its experience."""

    def adapt(self) -> None:
        """Nothing to adapt."""


def load_agent(path: Path, meta: CheckpointMeta, seed: int | None, **kwargs: Any) -> Agent:
    """A ``NoRMLAgent`` from a ``"norml"`` checkpoint (``agents.loaders``)."""
    model, meta = load_norml(path)
    train = meta.config.get("train", {})
    gamma = float(train.get("gamma", 0.9))
    label = f"{meta.lineage}@{meta.version}" if meta.lineage else path.stem
    if (meta.env_id or "").startswith("RoboSumo-"):  # adapt on the last round's bouts
        kwargs.setdefault("max_weight", LOCOMOTION_MAX_WEIGHT)
        kwargs.setdefault("reward_scale", float(train.get("reward_scale", 1.0)))
    elif "episodes" in train:  # locomotion: adapt on as many episodes as at meta-training time,
        kwargs.setdefault("window", int(train["episodes"]))  # correcting for their policies
        kwargs.setdefault("max_weight", LOCOMOTION_MAX_WEIGHT)
    return NoRMLAgent(model, gamma=gamma, name=label, body=meta.body, seed=seed, **kwargs)


def load_frozen_agent(path: Path, meta: CheckpointMeta, seed: int | None,
                      **kwargs: Any) -> Agent:
    """The ``"norml"`` checkpoint without adaptation (``agents.load(..., adaptation="none")``):
    theta, without the offset, and no reward-free step."""
    model, meta = load_norml(path)
    label = f"{meta.lineage}@{meta.version}" if meta.lineage else path.stem
    return FrozenNoRMLAgent(model, name=label, body=meta.body, seed=seed, **kwargs)


__all__ = ["KIND", "FrozenNoRMLAgent", "NoRMLAgent", "load_agent", "load_frozen_agent",
           "load_norml", "save_norml"]
