"""Batched head-to-head evaluation of policies in RoboSumo, with Wilson confidence intervals.

Many bouts run at once in ``SumoVectorEnv`` arenas; each side is a ``Policy`` (sampled actions
from its own seeded generator) or a built-in (``"random"``, ``"idle"``). Sides are swapped for
half of the arenas so that neither player slot favours a side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from agents.policy import Policy

BUILTIN_ACTORS = ("random", "idle")


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % by default)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class MatchResult:
    """Outcomes of ``episodes`` bouts from side A's point of view.

    ``ends`` counts how they ended (where known; not part of equality): ``ENDS``' keys, "won:
    B fell" (B's torso touched the tatami), "won: B out" (B's torso left it), "lost: fell",
    "lost: out", "draw: both lost" (in the same step), "draw: step limit" and "draw: unstable"
    (the simulation diverged).
    """

    wins: int
    losses: int
    draws: int
    ends: dict[str, int] = field(default_factory=dict, compare=False)

    @property
    def episodes(self) -> int:
        return self.wins + self.losses + self.draws

    @property
    def win_rate(self) -> float:
        return self.wins / max(1, self.episodes)

    def interval(self, outcome: str = "win") -> tuple[float, float]:
        """95 % Wilson interval of the rate of ``outcome`` (win, loss or draw)."""
        return wilson_interval(getattr(self, f"{outcome}s" if outcome != "loss" else "losses"),
                               self.episodes)


class _Actor:
    """Acts for a batch of arenas with a policy or a built-in."""

    def __init__(self, who: Policy | str, act_dim: int, seed: int) -> None:
        if isinstance(who, str) and who not in BUILTIN_ACTORS:
            raise ValueError(f"unknown built-in {who!r}; use a Policy or one of {BUILTIN_ACTORS}")
        self.who, self.act_dim = who, act_dim
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.state = None

    def reset(self, n: int) -> None:
        self.state = self.who.initial_state(n) if isinstance(self.who, Policy) else None
        self.starts = np.ones(n, dtype=bool)

    def act(self, obs: np.ndarray) -> np.ndarray:
        n = obs.shape[0]
        if self.who == "idle":
            return np.zeros((n, self.act_dim))
        if self.who == "random":
            return self.rng.uniform(-1, 1, (n, self.act_dim))
        out = self.who.act(obs, self.state, self.starts, generator=self.generator)
        self.state, self.starts = out.state, np.zeros(n, dtype=bool)
        return out.action

    def episode_ended(self, done: np.ndarray) -> None:
        self.starts = self.starts | done


ENDS = ("won: B fell", "won: B out", "lost: fell", "lost: out", "draw: both lost",
        "draw: step limit", "draw: unstable")


def _end(winner: int, seat_a: int, fallen: np.ndarray, out: np.ndarray, unstable: bool) -> str:
    """How a bout ended from A's side (``fallen``, ``out``: ``[2]`` per player)."""
    if winner < 0:
        if unstable:
            return "draw: unstable"
        return "draw: both lost" if (fallen | out).all() else "draw: step limit"
    loser = 1 - winner
    how = "fell" if fallen[loser] else "out"
    return f"won: B {how}" if winner == seat_a else f"lost: {how}"


def head_to_head(a: Policy | str, b: Policy | str, bodies: tuple[str, str], episodes: int = 100,
                 arenas: int = 16, seed: int = 0, nthread: int = 0) -> MatchResult:
    """Play ``episodes`` bouts of A (body ``bodies[0]``) against B (``bodies[1]``).

    Half of the arenas seat A as player_0, the other half as player_1 (A keeps its body).
    Bouts are counted from A's side; a bout with no winner at the step limit, or where both
    fell together, is a draw. The result's ``ends`` says how each bout ended.
    """
    from envs.robosumo import SumoVectorEnv

    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    arenas = min(arenas, episodes)
    half = arenas // 2 if arenas > 1 else arenas
    results = np.zeros(3, dtype=np.int64)  # wins, losses, draws
    ends = dict.fromkeys(ENDS, 0)
    seats = [(bodies, False, half), (bodies[::-1], True, arenas - half)]
    per_seat = [episodes * n // arenas for _, _, n in seats]
    per_seat[0] += episodes - sum(per_seat)
    for k, ((pair, swapped, n), quota) in enumerate(zip(seats, per_seat, strict=True)):
        if n == 0 or quota == 0:
            continue
        envs = SumoVectorEnv(n, pair, nthread=nthread)
        dims = [envs.action_spaces[p].shape[0] for p in ("player_0", "player_1")]
        actors = [_Actor(a, dims[1 if swapped else 0], seed + 10 * k + 1),
                  _Actor(b, dims[0 if swapped else 1], seed + 10 * k + 2)]
        seat_a = 1 if swapped else 0
        players = [actors[0], actors[1]] if not swapped else [actors[1], actors[0]]
        for actor in players:
            actor.reset(n)
        obs, _ = envs.reset(seed=seed + 1000 * k)
        done_count = 0
        active = np.ones(n, dtype=bool)
        started = np.full(n, 1)  # bouts started per arena, to stop at the quota
        while done_count < quota:
            acts = (players[0].act(obs[0]), players[1].act(obs[1]))
            obs, _, term, trunc, info = envs.step(acts)
            done = term | trunc
            for i in np.flatnonzero(done & active):
                w = int(info["winner"][i])
                results[2 if w < 0 else (0 if w == seat_a else 1)] += 1
                ends[_end(w, seat_a, info["fallen"][i], info["out"][i],
                          bool(info["unstable"][i]))] += 1
                done_count += 1
                if started.sum() >= quota:
                    active[i] = False
                else:
                    started[i] += 1
            for actor in players:
                actor.episode_ended(done)
    return MatchResult(int(results[0]), int(results[1]), int(results[2]),
                       {k: v for k, v in ends.items() if v})


def nonstationary_returns(agent, body: str = "bug", pairs=None, repeats: int = 10,
                          seed: int = 0, episodes: int = 7) -> np.ndarray:
    """Returns of an adapting agent over damage chains (the paper's locomotion protocol).

    For every repeat and leg pair: ``agent.reset()``, then ``episodes`` consecutive episodes with
    the pair's torque scale falling 1 -> 0; after each episode ``agent.adapt()`` (the agent sees
    every step through ``observe``). Environment, policy and adaptation start afresh for every
    chain.

    Args:
        agent: an ``agents.base.Agent`` for ``body``.
        body: robot body.
        pairs: leg pairs to damage (default: the held-out test pairs).
        repeats: chains per pair.
        seed: base seed of the environment resets.
        episodes: chain length.

    Returns:
        ``[repeats, len(pairs), episodes]`` undiscounted episode returns.
    """
    from envs.nonstationary_locomotion import LocomotionEnv, TaskChain, train_test_split

    pairs = list(pairs if pairs is not None else train_test_split(body)[1])
    env = LocomotionEnv(body)
    out = np.zeros((repeats, len(pairs), episodes))
    for r in range(repeats):
        for j, pair in enumerate(pairs):
            agent.reset()
            for e, damage in enumerate(TaskChain(tuple(pair), episodes)):
                obs, _ = env.reset(seed=seed + 1000 * r + 100 * j + e,
                                   options={"damage": damage})
                total, done = 0.0, False
                while not done:
                    action = agent.act(obs)
                    obs, reward, term, trunc, _ = env.step(action)
                    agent.observe(action, reward, obs, term, trunc)
                    total += reward
                    done = term or trunc
                out[r, j, e] = total
                agent.adapt()
    env.close()
    return out
