"""Damage tasks as plain data: leg pairs, the train/test split, the 7-episode schedule, task chains.

Legs are numbered **1-based**, as in the bodies' MJCF (leg ``k`` owns joints and actuators
``hip_k`` and ``ankle_k``), so ``LegDamage(pair=(1, 2), scale=0.5)`` halves the torque of
``hip_1``, ``ankle_1``, ``hip_2`` and ``ankle_2``.

Which legs are the back, middle and front ones is derived from the compiled model: each hip's
position relative to the torso is projected on the body's forward axis
(``envs.bodies.body_info(body).forward``) and legs at the same position along it form a row
(``leg_rows``). For the bug that gives back (1, 2), middle (3, 4) and front (5, 6); the paper holds
those three pairs out for testing and trains on the other 12.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from envs.bodies import body_info, check_body
from envs.nonstationary_locomotion.scene import build_spec, leg_layout

EPISODES_PER_CHAIN = 7  # the paper's schedule: scale 1 in episode 1, 0 in episode 7
ROW_TOLERANCE = 1e-3  # m, hips closer than this along the forward axis share a row

Pair = tuple[int, int]


@dataclass(frozen=True)
class LegDamage:
    """Both legs of ``pair`` deliver ``scale`` times the commanded torque.

    Attributes:
        pair: two distinct 1-based leg numbers; stored in increasing order, so ``(2, 1)`` and
            ``(1, 2)`` are the same damage.
        scale: torque factor in [0, 1]; 1 is a healthy pair, 0 a paralysed one.
    """

    pair: Pair
    scale: float = 1.0

    def __post_init__(self) -> None:
        pair = self.pair
        if (not isinstance(pair, tuple | list) or len(pair) != 2
                or not all(isinstance(k, int | np.integer) and not isinstance(k, bool)
                           for k in pair)):
            raise ValueError(f"pair must be two 1-based leg numbers such as (1, 2), got {pair!r}")
        i, j = int(pair[0]), int(pair[1])
        if i == j or min(i, j) < 1:
            raise ValueError(f"pair must be two distinct leg numbers >= 1 (legs are 1-based), "
                             f"got {pair!r}")
        try:
            scale = float(self.scale)
        except (TypeError, ValueError):
            raise ValueError(f"scale must be a number in [0, 1], got {self.scale!r}") from None
        if not (math.isfinite(scale) and 0.0 <= scale <= 1.0):
            raise ValueError(f"scale must be in [0, 1], got {self.scale!r}")
        object.__setattr__(self, "pair", (min(i, j), max(i, j)))
        object.__setattr__(self, "scale", scale)


def check_damage(body: str, damage: LegDamage | None) -> LegDamage | None:
    """Return ``damage`` if it names a pair of ``body``'s legs (``None``: healthy), else raise."""
    if damage is None:
        return None
    if not isinstance(damage, LegDamage):
        raise ValueError(f"damage must be a LegDamage or None, got {damage!r}")
    # Validated again: fields set behind the constructor's back (object.__setattr__) must not
    # reach the physics as a gain outside [0, 1].
    damage = LegDamage(damage.pair, damage.scale)
    n = body_info(body).n_legs
    if damage.pair[1] > n:
        raise ValueError(f"{damage.pair} is not a pair of the {body}'s legs: legs are numbered "
                         f"1..{n}, valid pairs are {leg_pairs(body)}")
    return damage


def leg_pairs(body: str) -> tuple[Pair, ...]:
    """All unordered pairs of a body's legs, 1-based, in lexicographic order.

    15 for the bug, 6 for the ant, 28 for the spider.
    """
    n = body_info(body).n_legs
    return tuple(itertools.combinations(range(1, n + 1), 2))


@functools.cache
def leg_rows(body: str) -> tuple[tuple[int, ...], ...]:
    """Legs grouped by their hip's position along the body's forward axis, back row first.

    Derived from the compiled model, not from leg names: for the bug
    ``((1, 2), (3, 4), (5, 6))`` (back, middle, front).
    """
    check_body(body)
    layout = leg_layout(build_spec(body).compile(), body)
    along = layout.along_forward()
    order = np.argsort(along, kind="stable")
    rows: list[list[int]] = []
    last = -math.inf
    for idx in order:
        if along[idx] - last > ROW_TOLERANCE:
            rows.append([])
        rows[-1].append(int(idx) + 1)
        last = along[idx]
    return tuple(tuple(sorted(row)) for row in rows)


def train_test_split(body: str = "bug") -> tuple[tuple[Pair, ...], tuple[Pair, ...]]:
    """Training and held-out leg pairs.

    The held-out pairs are the left-right pairs of each row of legs (``leg_rows``), back first:
    for the bug the back, middle and front pairs, the paper's split (12 train, 3 test). The same
    rule gives 4 / 2 for the ant (back, front) and 24 / 4 for the spider (one per row).

    Returns:
        ``(train, test)``: disjoint tuples of 1-based pairs whose union is ``leg_pairs(body)``.
    """
    rows = leg_rows(body)
    if any(len(row) != 2 for row in rows):
        raise ValueError(f"the {body}'s legs do not form left-right rows: {rows}")
    test = tuple((row[0], row[1]) for row in rows)
    train = tuple(p for p in leg_pairs(body) if p not in test)
    return train, test


def damage_schedule(pair: Sequence[int], episodes: int = EPISODES_PER_CHAIN,
                    body: str | None = None) -> tuple[LegDamage, ...]:
    """The damages of one chain: scale falls linearly from 1 (first episode) to 0 (last).

    Args:
        pair: the damaged pair (1-based legs).
        episodes: chain length, at least 2 (the paper: 7, scales 1, 5/6, ..., 1/6, 0).
        body: if given, ``pair`` is checked against this body's legs.
    """
    if not (isinstance(episodes, int | np.integer) and episodes >= 2):
        raise ValueError(f"episodes must be an integer >= 2, got {episodes!r}")
    damages = tuple(LegDamage(pair=tuple(pair), scale=1.0 - k / (episodes - 1))
                    for k in range(episodes))
    if body is not None:
        check_damage(body, damages[0])
    return damages


@dataclass(frozen=True)
class TaskChain:
    """One nonstationary run: a leg pair whose torque falls over consecutive episodes.

    Iterating yields the task of each episode in order; ``transitions()`` yields the consecutive
    pairs ``(T_i, T_{i+1})`` on which continuous-adaptation meta-learners train.

    Attributes:
        pair: the damaged pair (1-based legs).
        episodes: number of episodes (tasks) in the chain.
    """

    pair: Pair
    episodes: int = EPISODES_PER_CHAIN

    @property
    def tasks(self) -> tuple[LegDamage, ...]:
        """The chain's damages, one per episode (``damage_schedule``)."""
        return damage_schedule(self.pair, self.episodes)

    def __iter__(self) -> Iterator[LegDamage]:
        return iter(self.tasks)

    def __len__(self) -> int:
        return self.episodes

    def transitions(self) -> tuple[tuple[LegDamage, LegDamage], ...]:
        """The ``episodes - 1`` consecutive task pairs ``(T_i, T_{i+1})``."""
        tasks = self.tasks
        return tuple(itertools.pairwise(tasks))


class TaskSampler:
    """Seeded source of task chains and consecutive-task pairs over a set of leg pairs.

    Args:
        body: robot body.
        split: ``"train"`` or ``"test"`` (``train_test_split``), or ``"all"`` (``leg_pairs``).
        episodes: chain length.
        seed: seed of the sampler's generator; the same seed gives the same sequence.
    """

    SPLITS = ("train", "test", "all")

    def __init__(self, body: str = "bug", split: str = "train",
                 episodes: int = EPISODES_PER_CHAIN, seed: int | None = None) -> None:
        if split not in self.SPLITS:
            raise ValueError(f"split must be one of {self.SPLITS}, got {split!r}")
        train, test = train_test_split(body)
        self.body = body
        self.pairs: tuple[Pair, ...] = {"train": train, "test": test,
                                        "all": leg_pairs(body)}[split]
        damage_schedule(self.pairs[0], episodes)  # validates episodes
        self.episodes = int(episodes)
        self._rng = np.random.default_rng(seed)

    def chain(self) -> TaskChain:
        """A chain on a uniformly drawn pair."""
        return TaskChain(self.pairs[int(self._rng.integers(len(self.pairs)))], self.episodes)

    def chains(self, n: int) -> list[TaskChain]:
        """``n`` chains on uniformly drawn pairs (with replacement)."""
        return [self.chain() for _ in range(n)]

    def transitions(self, n: int) -> list[tuple[LegDamage, LegDamage]]:
        """``n`` consecutive-task pairs ``(T_i, T_{i+1})``: a uniform pair and a uniform ``i``."""
        out = []
        for _ in range(n):
            chain = self.chain()
            i = int(self._rng.integers(self.episodes - 1))
            out.append(chain.transitions()[i])
        return out


__all__ = ["EPISODES_PER_CHAIN", "LegDamage", "Pair", "TaskChain", "TaskSampler", "check_damage",
           "damage_schedule", "leg_pairs", "leg_rows", "train_test_split"]
