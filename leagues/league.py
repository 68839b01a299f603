"""A league: a population of agents and lineages, matched by prioritized fictitious self-play.

The league plays in batches. For batch k every member takes its turn as A, and draws its opponent
from the payoff table of all games before batch k (``matchmaking.pfsp_pairings``): "pfsp-hard"
seeks out the opponents A loses to, "pfsp-var" those of equal strength, "uniform" any. Every
``snapshot_every`` batches the newest version of each evolving lineage joins the league as a
frozen member (AlphaStar's snapshots), so later batches also play against the past.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from dataclasses import dataclass, field

import numpy as np

from leagues.competition import Competition
from leagues.games import GameConfig
from leagues.matchmaking import WEIGHTINGS, payoff_table, pfsp_pairings
from leagues.ratings import RatingConfig
from leagues.roster import AgentSpec, describe, lineage_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeagueConfig:
    """A league's matchmaking, length, games and ratings.

    Attributes:
        matchmaking: "pfsp-hard", "pfsp-var" or "uniform".
        batches: batches to play.
        batch_size: games per batch (0: one per member, each member A once).
        snapshot_every: add snapshots of evolving lineages every this many batches (0: never).
        game: rounds, episodes and scoring of each game.
        seed: seed of matchmaking and of every game.
        ratings: rating parameters.
    """

    matchmaking: str = "pfsp-hard"
    batches: int = 10
    batch_size: int = 0
    snapshot_every: int = 0
    game: GameConfig = field(default_factory=GameConfig)
    seed: int = 0
    ratings: RatingConfig = field(default_factory=RatingConfig)

    def __post_init__(self) -> None:
        if self.matchmaking not in WEIGHTINGS:
            raise ValueError(f"unknown matchmaking {self.matchmaking!r}; choose one of "
                             f"{', '.join(sorted(WEIGHTINGS))}")
        if self.batches < 1:  # a league of no batches plays nothing and ranks nobody
            raise ValueError(f"LeagueConfig.batches must be >= 1, got {self.batches}")
        for name in ("batch_size", "snapshot_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"LeagueConfig.{name} must be >= 0, got {getattr(self, name)}")


class League(Competition):
    """A PFSP league in a league file (see ``Competition`` for the arguments)."""

    kind = "league"
    config_type = LeagueConfig

    def schedule_next(self) -> bool:
        """Schedule the next batch from the payoff table so far; False after the last batch."""
        batch = self.db.last_batch() + 1
        if batch >= self.config.batches:
            return False
        with self.db.transaction() as conn:
            if self.config.snapshot_every and batch > 0 and batch % self.config.snapshot_every == 0:
                self._add_snapshots(batch, conn)
            ids = [int(r["id"]) for r in self.db.agents()]
            index = {agent: i for i, agent in enumerate(ids)}
            played = [(index[r["a"]], index[r["b"]], r["outcome"]) for r in self.db.results()]
            win_rate, _ = payoff_table(len(ids), played)
            rng = np.random.default_rng([self.config.seed, batch])
            count = self.config.batch_size or len(ids)
            pairs = pfsp_pairings(len(ids), count, win_rate, self.config.matchmaking, rng)
            games = [(ids[a], ids[b], self.game_spec(ids[a], ids[b], batch, k))
                     for k, (a, b) in enumerate(pairs)]
            self.db.schedule(batch, games, conn=conn)
        return True

    def _add_snapshots(self, batch: int, conn: sqlite3.Connection) -> None:
        names = {r["name"] for r in self.db.agents()}
        for agent_id in [int(r["id"]) for r in self.db.agents()]:
            spec = self.db.agent_spec(agent_id)
            if not spec.evolving:
                continue
            lineage, _ = lineage_of(spec)
            version = lineage.latest()
            ref = (f"zoo:{lineage.name}@{version}" if spec.ref.startswith("zoo:")
                   else str(lineage.path(version)))
            snap = AgentSpec(ref, body=spec.body, name=f"{lineage.name}@v{version}",
                             kind=spec.kind, deterministic=spec.deterministic)
            if snap.label in names:
                continue
            info = describe(snap)
            self.db.add_agent(dataclasses.replace(snap, body=info["body"]), info, batch, conn)
            names.add(snap.label)
            log.info("batch %d: snapshot %s joins the league", batch, snap.label)

    def total_games(self) -> int | None:
        """Games a complete run plays, when the batch size is fixed."""
        if self.config.batch_size:
            return self.config.batches * self.config.batch_size
        return None
