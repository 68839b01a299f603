"""Evolution: a population plays, losers are removed and winners duplicated, for G generations.

As in the paper's population study: every entrant starts with ``copies`` slots; each generation
draws random disjoint pairs of slots, each pair of different agents plays an iterated game, and
the loser's slot takes a copy of the winner (a draw or a void game changes nothing). The
population of every generation is stored, so the share of each kind of agent can be followed
generation by generation.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import numpy as np

from leagues.competition import Competition
from leagues.games import GameConfig
from leagues.matchmaking import disjoint_pairs, evolve_population, shares
from leagues.ratings import RatingConfig
from leagues.storage import LeagueDB


@dataclass(frozen=True)
class EvolutionConfig:
    """An evolution's population, length, games and ratings.

    Attributes:
        generations: generations to play.
        copies: slots each entrant starts with (the paper: 10).
        pairs: games per generation (0: as many disjoint pairs as the population allows).
        game: rounds, episodes and scoring of each game.
        seed: seed of the pairings and of every game.
        ratings: rating parameters.
    """

    generations: int = 10
    copies: int = 1
    pairs: int = 0
    game: GameConfig = field(default_factory=GameConfig)
    seed: int = 0
    ratings: RatingConfig = field(default_factory=RatingConfig)

    def __post_init__(self) -> None:
        if self.generations < 1 or self.copies < 1 or self.pairs < 0:
            raise ValueError(f"EvolutionConfig needs generations >= 1, copies >= 1, pairs >= 0; "
                             f"got {self.generations}, {self.copies}, {self.pairs}")


class Evolution(Competition):
    """An evolution in a league file (see ``Competition`` for the arguments)."""

    kind = "evolution"
    config_type = EvolutionConfig

    def setup(self, conn: sqlite3.Connection) -> None:
        """Store generation 0: every entrant in ``copies`` slots, and schedule its games."""
        ids = [int(r["id"]) for r in self.db.agents()]
        self.db.set_population(0, [a for a in ids for _ in range(self.config.copies)], conn)
        self._schedule(0, conn)

    def _schedule(self, generation: int, conn: sqlite3.Connection) -> None:
        _, members = self.db.population(generation)
        rng = np.random.default_rng([self.config.seed, generation])
        count = self.config.pairs or len(members) // 2
        # Two copies of one agent may meet; their game cannot change the population, so it is
        # not played.
        pairs = [(a, b) for a, b in disjoint_pairs(list(range(len(members))), count, rng)
                 if members[a] != members[b]]
        games = [(members[a], members[b],
                  self.game_spec(members[a], members[b], generation, k))
                 for k, (a, b) in enumerate(pairs)]
        self.db.schedule(generation, games, slots=pairs, conn=conn)

    def schedule_next(self) -> bool:
        """Close the current generation (losers replaced by winners), schedule the next one."""
        generation, members = self.db.population()
        if generation >= self.config.generations:
            return False
        results = [(r["slot_a"], r["slot_b"], r["outcome"])
                   for r in self.db.results(batch=generation)]
        nxt = evolve_population(members, results)
        with self.db.transaction() as conn:
            self.db.set_population(generation + 1, nxt, conn)
            if generation + 1 < self.config.generations:
                self._schedule(generation + 1, conn)
        return generation + 1 < self.config.generations


def population_shares(db: LeagueDB) -> list[dict[str, float]]:
    """The share of each kind of agent in every stored generation, generation 0 first."""
    kind = {int(r["id"]): r["kind"] for r in db.agents()}
    last, _ = db.population()
    return [shares(db.population(g)[1], kind.__getitem__) for g in range(last + 1)]
