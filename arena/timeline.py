"""The timeline of the shown episode: every step's physics state and HUD, to scrub through.

The viewer keeps a ``Snapshot`` per step (``qpos``, ``qvel`` and time, the torso positions, the HUD
as it was) and renders a step from its snapshot alone, into a scratch ``MjData``; the env that
plays the game is only read, never written, so moving back and forth in the timeline cannot change
the game. A step's frame is a pure function of its snapshot and the camera: stepping back and then
forward again shows the very same frames.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

# Terms the reward plot leaves out: one spike of +-2000 (or -1000) at the episode's last step,
# which the terms table shows; the plot is for the shaping that accumulates step by step.
TERMINAL_TERMS = ("reward_win", "reward_loss", "reward_draw")


@dataclass(frozen=True)
class Snapshot:
    """One step of an episode as shown.

    Attributes:
        model: the env's ``MjModel`` (shared, not copied).
        qpos: generalized positions after the step (a copy).
        qvel: generalized velocities after the step (a copy).
        time: simulation time after the step (s).
        torsos: world positions (x, y, z) of player_0's and player_1's torso.
        hud: what the HUD showed at this step (a copy), or None.
    """

    model: Any
    qpos: np.ndarray
    qvel: np.ndarray
    time: float
    torsos: tuple[np.ndarray, np.ndarray]
    hud: Any = None

    @classmethod
    def of(cls, env: Any, hud: Any = None) -> Snapshot:
        """The current state of a RoboSumo ``SumoEnv`` (and a copy of ``hud``, a ``Hud``)."""
        if hud is not None:
            hud = dataclasses.replace(hud, returns=dict(hud.returns),
                                      terms={s: dict(t) for s, t in hud.terms.items()})
        return cls(env.model, env.data.qpos.copy(), env.data.qvel.copy(), float(env.data.time),
                   (env.torso_xyz(0), env.torso_xyz(1)), hud)


class Timeline:
    """The snapshots of one episode and a cursor on the one shown.

    Args:
        length: the episode's step limit (the scale of the timeline bar while it grows).
    """

    def __init__(self, length: int = 500) -> None:
        self.clear(length)

    def clear(self, length: int | None = None) -> None:
        """Forget every step (a new episode); ``length``: its step limit."""
        if length is not None:
            if length < 1:
                raise ValueError(f"a timeline needs a length >= 1, got {length}")
            self.limit = length
        self.snapshots: list[Snapshot] = []
        self.cursor = -1  # index of the step shown; -1: nothing shown yet
        self.complete = False  # the episode is over: nothing will be appended
        self.series: dict[tuple[str, str], list[float]] = {}  # (side, term) -> value per step

    def __len__(self) -> int:
        return len(self.snapshots)

    def __iter__(self) -> Iterator[Snapshot]:
        return iter(self.snapshots)

    @property
    def head(self) -> int:
        """Index of the newest step (-1 when empty)."""
        return len(self.snapshots) - 1

    @property
    def length(self) -> int:
        """Steps the timeline bar spans: the step limit while the episode runs, then its length."""
        return len(self.snapshots) if self.complete else max(self.limit, len(self.snapshots))

    @property
    def current(self) -> Snapshot:
        """The snapshot under the cursor."""
        if self.cursor < 0:
            raise IndexError("the timeline has shown nothing yet")
        return self.snapshots[self.cursor]

    def append(self, snapshot: Snapshot) -> int:
        """Add the newest step; its index. The cursor stays where it is."""
        if self.complete:
            raise RuntimeError("the episode of this timeline is over")
        n = len(self.snapshots)
        terms = snapshot.hud.terms if snapshot.hud is not None else {}
        for side, values in terms.items():
            for name, value in values.items():
                if name not in TERMINAL_TERMS:
                    self.series.setdefault((side, name), [0.0] * n).append(float(value))
        for values in self.series.values():  # a term a step did not report counts as 0
            if len(values) == n:
                values.append(0.0)
        self.snapshots.append(snapshot)
        return n

    def clamp(self, index: int) -> int:
        """``index`` limited to the steps there are."""
        return min(max(index, 0), self.head)

    def at_fraction(self, fraction: float) -> int:
        """The step at ``fraction`` (0..1) of the timeline bar, limited to the steps there are."""
        return self.clamp(round(min(max(fraction, 0.0), 1.0) * (self.length - 1)))

    def plotted_terms(self) -> list[str]:
        """Shaping terms that are not zero at some step for either side, sorted."""
        return sorted({name for (_, name), values in self.series.items() if any(values)})
