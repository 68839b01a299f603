"""Collecting experience from many environments with one batched policy call per step.

Two samplers fill the same ``Rollout``:

- ``VectorSampler`` for single-agent vector envs with same-step autoreset (the finished
  episode's last observation in ``info["final_obs"]``), e.g. the nonstationary locomotion envs;
- ``SumoSampler`` for ``SumoVectorEnv``: a learner against frozen opponents (one per arena), or
  self-play where one policy controls both players and learns from both sides.

Time-limit truncations bootstrap from the value of the final observation (``next_values``);
terminations do not. Observation statistics are updated after each rollout, so every step of a
rollout is normalised with the same statistics that PPO will see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from agents.policy import Policy


class Rollout(NamedTuple):
    """``T`` steps of ``N`` learner streams (tensors, float32 unless noted).

    ``obs`` holds the normalised observations the policy saw; ``states`` the recurrent state
    before each step (``[T, 4, N, H]``, LSTM only); ``starts`` marks the first step of an episode.
    """

    obs: torch.Tensor  # [T, N, input_dim] the normalised network inputs
    actions: torch.Tensor  # [T, N, act_dim]
    logp: torch.Tensor  # [T, N]
    values: torch.Tensor  # [T, N]
    rewards: torch.Tensor  # [T, N]
    terminated: torch.Tensor  # [T, N]
    dones: torch.Tensor  # [T, N]
    next_values: torch.Tensor  # [T, N]
    starts: torch.Tensor  # [T, N]
    states: torch.Tensor | None  # [T, 4, N, H]


@dataclass
class EpisodeStats:
    """Finished episodes of one rollout: undiscounted returns, lengths and (sumo) outcomes."""

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)  # "win", "loss", "draw", "none" (sumo)
    # The kind of opponent of each outcome ("pool", "idle", ...), where the sampler names them.
    opponents: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        out: dict[str, float] = {"episodes": len(self.returns)}
        if self.returns:
            out["return_mean"] = float(np.mean(self.returns))
            out["length_mean"] = float(np.mean(self.lengths))
        if self.outcomes:
            for kind in ("win", "loss", "draw"):
                out[f"{kind}_rate"] = self.outcomes.count(kind) / len(self.outcomes)
        # Win rate against each kind of opponent, when there are several kinds.
        if len(set(self.opponents)) > 1:
            for label in sorted(set(self.opponents)):
                mine = [o for o, lab in zip(self.outcomes, self.opponents, strict=True)
                        if lab == label]
                out[f"win_rate_{label}"] = mine.count("win") / len(mine)
        return out


class _Buffer:
    """Preallocated storage for one rollout."""

    def __init__(self, policy: Policy, steps: int, streams: int) -> None:
        t, n = steps, streams
        self.obs = torch.zeros(t, n, policy.input_dim)
        self.raw = np.zeros((t, n, policy.obs_dim), np.float32)
        self.actions = torch.zeros(t, n, policy.act_dim)
        self.logp, self.values, self.rewards = (torch.zeros(t, n) for _ in range(3))
        self.terminated, self.dones, self.next_values, self.starts = (torch.zeros(t, n)
                                                                      for _ in range(4))
        state = policy.initial_state(n)
        self.states = None if state is None else torch.zeros(t, *state.shape)

    def rollout(self) -> Rollout:
        return Rollout(self.obs, self.actions, self.logp, self.values, self.rewards,
                       self.terminated, self.dones, self.next_values, self.starts, self.states)


class _Stream:
    """The acting side of a sampler: policy, generator, recurrent state and episode starts."""

    def __init__(self, policy: Policy, streams: int, seed: int | None) -> None:
        self.policy = policy
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)
        self.state = policy.initial_state(streams)
        self.starts = np.ones(streams, dtype=bool)

    def act(self, obs: np.ndarray):
        out = self.policy.act(obs, self.state, self.starts, generator=self.generator)
        return out

    @torch.no_grad()
    def value_of(self, obs: np.ndarray, state: torch.Tensor | None) -> np.ndarray:
        """V(obs) for bootstrapping, continuing from ``state`` (the state after the last step)."""
        x = self.policy.normalize(obs)
        if self.policy.recurrent:
            zeros = torch.zeros(1, x.shape[0])
            return self.policy(x[None], state, zeros)[2][0].numpy()
        return self.policy(x)[2].numpy()


def _record(buf: _Buffer, t: int, stream: _Stream, raw: np.ndarray, out) -> None:
    buf.raw[t] = raw
    buf.obs[t] = out.obs
    buf.actions[t] = torch.as_tensor(out.action, dtype=torch.float32)
    buf.logp[t] = torch.as_tensor(out.logp)
    buf.values[t] = torch.as_tensor(out.value)
    buf.starts[t] = torch.as_tensor(stream.starts, dtype=torch.float32)


def _finish_step(buf: _Buffer, t: int, stream: _Stream, out, rewards: np.ndarray,
                 terminated: np.ndarray, truncated: np.ndarray, next_obs: np.ndarray,
                 final_obs: np.ndarray) -> None:
    """Store the step's outcome; bootstrap values of truncated streams from their final obs."""
    done = terminated | truncated
    buf.rewards[t] = torch.as_tensor(rewards, dtype=torch.float32)
    buf.terminated[t] = torch.as_tensor(terminated, dtype=torch.float32)
    buf.dones[t] = torch.as_tensor(done, dtype=torch.float32)
    if truncated.any():
        ids = np.flatnonzero(truncated)
        state = None if out.state is None else out.state[:, ids]
        boot = stream.value_of(final_obs[ids], state)
        buf.next_values[t, ids] = torch.as_tensor(boot)
    stream.state = out.state
    stream.starts = done.copy()


def _fill_next_values(buf: _Buffer, stream: _Stream, last_obs: np.ndarray) -> None:
    """next_values of non-final steps are the values of the following step's observation."""
    steps = buf.values.shape[0]
    cont = buf.dones[:-1] == 0
    buf.next_values[:-1] = torch.where(cont, buf.values[1:], buf.next_values[:-1])
    last = stream.value_of(last_obs, stream.state)
    keep = buf.dones[steps - 1] == 0
    buf.next_values[steps - 1] = torch.where(keep, torch.as_tensor(last), buf.next_values[-1])


class VectorSampler:
    """Collects rollouts from a single-agent vector env (same-step autoreset).

    Args:
        envs: a vector env whose ``step`` returns the reset observation of finished episodes and
            their last observation in ``info["final_obs"]`` (an array, or Gymnasium's object
            array with the ``_final_obs`` mask).
        policy: the learner.
        steps: steps per env per rollout (T).
        seed: seed of the envs and of the action noise.
        update_norm: update the policy's observation statistics after each rollout.
    """

    def __init__(self, envs: Any, policy: Policy, steps: int, seed: int | None = None,
                 update_norm: bool = True) -> None:
        self.envs, self.policy, self.steps = envs, policy, int(steps)
        self.n = envs.num_envs
        self.update_norm = update_norm
        self.stream = _Stream(policy, self.n, seed)
        self.obs, _ = envs.reset(seed=seed)
        self._returns = np.zeros(self.n)
        self._lengths = np.zeros(self.n, dtype=np.int64)

    def collect(self) -> tuple[Rollout, EpisodeStats]:
        buf = _Buffer(self.policy, self.steps, self.n)
        stats = EpisodeStats()
        for t in range(self.steps):
            if buf.states is not None:
                buf.states[t] = self.stream.state
            out = self.stream.act(self.obs)
            _record(buf, t, self.stream, self.obs, out)
            obs, rewards, terminated, truncated, info = self.envs.step(out.action)
            terminated, truncated = np.asarray(terminated), np.asarray(truncated)
            final = _final_obs(info, obs, terminated | truncated)
            _finish_step(buf, t, self.stream, out, np.asarray(rewards), terminated, truncated,
                         obs, final)
            self._track(stats, np.asarray(rewards), terminated | truncated)
            self.obs = obs
        _fill_next_values(buf, self.stream, self.obs)
        if self.update_norm:
            self.policy.norm.update(torch.from_numpy(buf.raw))
        return buf.rollout(), stats

    def _track(self, stats: EpisodeStats, rewards: np.ndarray, done: np.ndarray) -> None:
        self._returns += rewards
        self._lengths += 1
        for i in np.flatnonzero(done):
            stats.returns.append(float(self._returns[i]))
            stats.lengths.append(int(self._lengths[i]))
        self._returns[done] = 0.0
        self._lengths[done] = 0


def _final_obs(info: dict, obs: np.ndarray, done: np.ndarray) -> np.ndarray:
    """Last observations of finished episodes (rows of unfinished ones are ``obs``)."""
    if not done.any():
        return obs
    final = info.get("final_obs")
    if final is None:
        raise ValueError("the vector env must use same-step autoreset and report "
                         "info['final_obs'] (gymnasium: autoreset_mode=AutoresetMode.SAME_STEP)")
    if isinstance(final, np.ndarray) and final.dtype != object:
        return final
    out = obs.copy()
    for i in np.flatnonzero(done):
        out[i] = final[i]
    return out


class _SelfMarker:
    """The ``SELF`` entry of an opponent list: the learner plays that arena's other side too."""

    label = "self"

    def __repr__(self) -> str:
        return "SELF"


SELF = _SelfMarker()


def _is_self(opponent: object) -> bool:
    return opponent is SELF


def _outcome(winner: int, terminated: bool, unstable: bool) -> str:
    """The learner's (player_0's) result: a draw only at the step limit; "none" when both fell
    together or the simulation diverged."""
    if winner >= 0:
        return "win" if winner == 0 else "loss"
    return "none" if terminated or unstable else "draw"


class SumoSampler:
    """Collects rollouts of a learner in ``SumoVectorEnv`` arenas.

    Args:
        envs: the arenas.
        learner: the learning policy.
        steps: steps per arena per rollout (T).
        opponents: ``"self"`` (self-play: the learner plays both sides, same body only, and
            learns from both: N = 2 * arenas streams), or a sequence with one frozen opponent
            ``Policy`` per arena (the learner is player_0: N = arenas). In a sequence, the entry
            ``SELF`` makes that arena a self-play arena whose player_1 is the learner too and
            learns (N = arenas + self-play arenas); those arenas stay self-play for the
            sampler's life. Call ``set_opponents`` between rollouts to change the others (e.g.
            the paper's curriculum).
        seed: seed of the arenas and of all action noise.
        update_norm: update the learner's observation statistics after each rollout.
    """

    def __init__(self, envs: Any, learner: Policy, steps: int,
                 opponents: str | Sequence[Policy] = "self", seed: int | None = None,
                 update_norm: bool = True) -> None:
        self.envs, self.learner, self.steps = envs, learner, int(steps)
        self.arenas = envs.num_envs
        self.self_play = isinstance(opponents, str)
        if self.self_play:
            if opponents != "self":
                raise ValueError(f"opponents must be 'self' or a list of policies, "
                                 f"got {opponents!r}")
            if envs.bodies[0] != envs.bodies[1]:
                raise ValueError(f"self-play needs one body on both sides, got {envs.bodies}")
        self.self_ids = (np.array([], dtype=np.int64) if self.self_play else
                         np.array([i for i, p in enumerate(opponents) if _is_self(p)],
                                  dtype=np.int64))
        if len(self.self_ids) and envs.bodies[0] != envs.bodies[1]:
            raise ValueError(f"self-play arenas need one body on both sides, got {envs.bodies}")
        self.n = 2 * self.arenas if self.self_play else self.arenas + len(self.self_ids)
        self.update_norm = update_norm
        self.stream = _Stream(learner, self.n, seed)
        self._opp_generator = torch.Generator()
        self._opp_generator.manual_seed(0 if seed is None else seed + 1)
        self.set_opponents(None if self.self_play else opponents)
        obs, _ = envs.reset(seed=seed)
        self.obs = obs
        self._returns = np.zeros(self.n)
        self._lengths = np.zeros(self.n, dtype=np.int64)

    def set_opponents(self, opponents: Sequence[Policy] | None,
                      labels: Sequence[str] | None = None) -> None:
        """One frozen opponent per arena (ignored in self-play); their states restart.

        Args:
            opponents: a ``Policy`` or a scripted policy (``agents.scripted``) per arena.
            labels: the kind of each arena's opponent (e.g. ``"pool"``, ``"idle"``): the
                summary then reports a win rate per kind. Default: the scripted policies'
                labels, ``"policy"`` for networks.
        """
        if self.self_play:
            return
        opponents = list(opponents or [])
        if len(opponents) != self.arenas:
            raise ValueError(f"need one opponent per arena ({self.arenas}), got {len(opponents)}")
        selfs = [i for i, p in enumerate(opponents) if _is_self(p)]
        if selfs != self.self_ids.tolist():
            raise ValueError(f"the self-play arenas are fixed for a sampler's life: "
                             f"{self.self_ids.tolist()}, got {selfs}")
        if labels is None:
            labels = ["self" if _is_self(p) else getattr(p, "label", "policy") for p in opponents]
        if len(labels) != self.arenas:
            raise ValueError(f"need one label per arena ({self.arenas}), got {len(labels)}")
        self.opponents, self.labels = opponents, list(labels)
        groups: dict[int, list[int]] = {}
        for i, p in enumerate(opponents):
            if not _is_self(p):
                groups.setdefault(id(p), []).append(i)
        self._groups = [(opponents[ids[0]], np.array(ids)) for ids in groups.values()]
        self._opp_state = {key: p.initial_state(len(ids)) for key, (p, ids) in
                           zip(groups, self._groups, strict=True)}
        self._opp_starts = np.ones(self.arenas, dtype=bool)

    def _learner_obs(self, obs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        if self.self_play:
            return np.concatenate(obs)
        return np.concatenate([obs[0], obs[1][self.self_ids]]) if len(self.self_ids) else obs[0]

    def _learner_rows(self, both: np.ndarray) -> np.ndarray:
        """Per-arena values of both players ``[arenas, 2]`` -> the learner's streams ``[N]``."""
        if self.self_play:
            return np.concatenate([both[:, 0], both[:, 1]])
        return np.concatenate([both[:, 0], both[self.self_ids, 1]])

    def _opponent_actions(self, obs: np.ndarray) -> np.ndarray:
        actions = np.zeros((self.arenas, self.envs.action_spaces["player_1"].shape[0]))
        for policy, ids in self._groups:
            key = id(policy)
            out = policy.act(obs[ids], self._opp_state[key], self._opp_starts[ids],
                             generator=self._opp_generator)
            self._opp_state[key] = out.state
            actions[ids] = out.action
        return actions

    def collect(self) -> tuple[Rollout, EpisodeStats]:
        buf = _Buffer(self.learner, self.steps, self.n)
        stats = EpisodeStats()
        a = self.arenas
        for t in range(self.steps):
            if buf.states is not None:
                buf.states[t] = self.stream.state
            lobs = self._learner_obs(self.obs)
            out = self.stream.act(lobs)
            _record(buf, t, self.stream, lobs, out)
            if self.self_play:
                actions = (out.action[:a], out.action[a:])
            else:
                opp = self._opponent_actions(self.obs[1])
                if len(self.self_ids):
                    opp[self.self_ids] = out.action[a:]
                actions = (out.action[:a], opp)
            obs, rewards, terminated, truncated, info = self.envs.step(actions)
            done = terminated | truncated
            rew = self._learner_rows(rewards)
            term = self._learner_rows(np.stack([terminated, terminated], axis=1))
            trunc = self._learner_rows(np.stack([truncated, truncated], axis=1))
            if not self.self_play:
                self._opp_starts = done.copy()
            final = self._learner_obs(info["final_obs"])
            _finish_step(buf, t, self.stream, out, rew, term, trunc, self._learner_obs(obs), final)
            self._track(stats, rew, term | trunc, info, terminated, done)
            self.obs = obs
        _fill_next_values(buf, self.stream, self._learner_obs(self.obs))
        if self.update_norm:
            self.learner.norm.update(torch.from_numpy(buf.raw))
        return buf.rollout(), stats

    def _track(self, stats: EpisodeStats, rewards: np.ndarray, done: np.ndarray, info: dict,
               terminated: np.ndarray, arena_done: np.ndarray) -> None:
        self._returns += rewards
        self._lengths += 1
        for i in np.flatnonzero(done):
            stats.returns.append(float(self._returns[i]))
            stats.lengths.append(int(self._lengths[i]))
        if not self.self_play:  # outcomes from the learner's (player_0's) side
            for i in np.flatnonzero(arena_done):
                unstable = "unstable" in info and bool(info["unstable"][i])
                stats.outcomes.append(_outcome(int(info["winner"][i]), bool(terminated[i]),
                                               unstable))
                stats.opponents.append(self.labels[i])
        self._returns[done] = 0.0
        self._lengths[done] = 0
