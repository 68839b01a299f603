"""Frozen opponents from a lineage, one version per arena, acting in batches.

Meta-learners in RoboSumo train against the snapshots of a self-play lineage: RL^2 plays a
trial of bouts against one drawn version, MAML and NoRML adapt against version k and are judged
against version k+1. ``LineageOpponents`` holds which version plays player_1 in every arena, a
bounded cache of loaded snapshots, and the recurrent state of LSTM opponents (zeroed when an
arena's bout starts or its version changes). ``actions`` runs each distinct version once on all
the arenas it plays in.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from agents.lineage import Lineage
from agents.policy import Policy, load_policy

CACHE_SIZE = 32  # loaded snapshots kept in memory


class LineageOpponents:
    """player_1 of ``n`` arenas: frozen snapshots of ``lineage``.

    Args:
        lineage: the opponents' lineage (snapshots of kind ``ppo-mlp`` or ``ppo-lstm``).
        n: number of arenas.
        seed: seed of the opponents' action noise.
    """

    def __init__(self, lineage: Lineage, n: int, seed: int) -> None:
        if not lineage.versions():
            raise ValueError(f"opponent lineage {lineage.directory} holds no snapshots")
        self.lineage, self.n = lineage, int(n)
        self.generator = torch.Generator().manual_seed(seed)
        self._cache: OrderedDict[int, Policy] = OrderedDict()
        first = lineage.versions()[0]
        self.versions = np.full(self.n, first, dtype=np.int64)
        self._state: list[torch.Tensor | None] = [None] * self.n
        self._start = np.ones(self.n, dtype=bool)

    def policy(self, version: int) -> Policy:
        """The frozen snapshot ``version`` (loaded once, kept in a bounded cache)."""
        version = int(version)
        if version not in self._cache:
            self._cache[version] = load_policy(self.lineage.path(version))[0]
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        self._cache.move_to_end(version)
        return self._cache[version]

    def set_versions(self, ids: np.ndarray | list[int], versions: np.ndarray | list[int] | int):
        """Arenas ``ids`` play ``versions`` from their next step on, from a fresh state."""
        ids = np.asarray(ids, dtype=np.int64)
        self.versions[ids] = versions
        for i in ids:
            self._state[int(i)] = None
        self._start[ids] = True

    def bouts_ended(self, ended: np.ndarray) -> None:
        """Mark arenas whose bout ended at the last step: their next step starts a bout."""
        self._start = self._start | np.asarray(ended, dtype=bool)

    @torch.no_grad()
    def actions(self, obs: np.ndarray) -> np.ndarray:
        """player_1's actions ``[n, act_dim]`` for its raw observations ``[n, obs_dim]``."""
        out_actions: np.ndarray | None = None
        for version in np.unique(self.versions):
            ids = np.flatnonzero(self.versions == version)
            opp = self.policy(int(version))
            state = None
            if opp.recurrent:
                state = torch.cat([self._state[i] if self._state[i] is not None
                                   else opp.initial_state(1) for i in ids], 1)
            out = opp.act(obs[ids], state, self._start[ids], generator=self.generator)
            if out_actions is None:
                out_actions = np.zeros((self.n, out.action.shape[1]))
            out_actions[ids] = out.action
            for j, i in enumerate(ids):
                self._state[i] = None if out.state is None else out.state[:, j:j + 1]
        self._start[:] = False
        assert out_actions is not None
        return out_actions


__all__ = ["LineageOpponents"]
