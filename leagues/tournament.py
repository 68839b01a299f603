"""Tournaments: a fixed schedule of iterated games, round robin or random pairings.

All games are scheduled in one batch when the tournament's file is created, then played; rerun a
killed tournament with the same file to finish it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from leagues.competition import Competition
from leagues.games import GameConfig
from leagues.matchmaking import random_pairings, round_robin
from leagues.ratings import RatingConfig

# format -> function(number of agents, games per pair, games, rng) -> pairs of agent indices
FORMATS: dict[str, Callable[[int, int, int, np.random.Generator], list[tuple[int, int]]]] = {
    "round-robin": lambda n, per_pair, games, rng: round_robin(n, per_pair),
    "random": lambda n, per_pair, games, rng: random_pairings(n, games, rng),
}


@dataclass(frozen=True)
class TournamentConfig:
    """A tournament's schedule, games and ratings.

    Attributes:
        format: "round-robin" (every pair plays ``games_per_pair`` games, sides swapped every
            other game) or "random" (``games`` games between random distinct agents).
        games_per_pair: games per pair in a round robin.
        games: number of games of a random tournament.
        game: rounds, episodes and scoring of each game.
        seed: seed of the pairings and of every game.
        ratings: rating parameters.
    """

    format: str = "round-robin"
    games_per_pair: int = 1
    games: int = 0
    game: GameConfig = field(default_factory=GameConfig)
    seed: int = 0
    ratings: RatingConfig = field(default_factory=RatingConfig)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown tournament format {self.format!r}; choose one of "
                             f"{', '.join(FORMATS)}")
        if self.games_per_pair < 1:
            raise ValueError(f"games_per_pair must be >= 1, got {self.games_per_pair}")
        if self.format == "random" and self.games < 1:
            raise ValueError(f"a random tournament needs games >= 1, got {self.games}")


class Tournament(Competition):
    """A tournament in a league file (see ``Competition`` for the arguments)."""

    kind = "tournament"
    config_type = TournamentConfig

    def setup(self, conn: sqlite3.Connection) -> None:
        """Schedule every game of the tournament as batch 0."""
        ids = [int(r["id"]) for r in self.db.agents()]
        rng = np.random.default_rng([self.config.seed, 0])
        pairs = FORMATS[self.config.format](len(ids), self.config.games_per_pair,
                                            self.config.games, rng)
        games = [(ids[a], ids[b], self.game_spec(ids[a], ids[b], 0, k))
                 for k, (a, b) in enumerate(pairs)]
        self.db.schedule(0, games, conn=conn)

    def schedule_next(self) -> bool:
        """A tournament has a single batch, scheduled at creation."""
        return False

    def total_games(self) -> int:
        """Games scheduled."""
        return sum(self.db.counts().values())
