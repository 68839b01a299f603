"""What tournaments, leagues and evolution share: a league file, its entrants, scheduled batches.

A competition plays in batches. Each batch's games are scheduled (written as pending) in one
transaction, from the league file's contents only (the results so far and a seed), then played
and written game by game. A killed run therefore resumes from the file alone: ``run`` plays what
is pending and goes on scheduling where it stopped, giving the same games and results as an
uninterrupted run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from leagues.executors import Executor, InProcessExecutor, Outcome, play_pending
from leagues.games import GameConfig, GameSpec, derive_seed
from leagues.ratings import RatingConfig
from leagues.roster import AgentSpec, absolute, checkpoint_path, describe
from leagues.storage import LeagueDB, StorageError


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready fields of a competition config (nested game and rating configs included)."""
    out = dataclasses.asdict(config)
    if "game" in out:
        out["game"] = config.game.to_dict()
    return out


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """A competition config of type ``cls`` from ``config_to_dict`` output."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise StorageError(f"{cls.__name__} has no fields {sorted(unknown)}; "
                           f"known: {sorted(names)}")
    data = dict(data)
    if "game" in data:
        data["game"] = GameConfig(**data["game"])
    if "ratings" in data:
        data["ratings"] = RatingConfig(**data["ratings"])
    return cls(**data)


class Competition(ABC):
    """A tournament, league or evolution stored in one league file.

    Subclasses set ``kind`` and ``config_type`` and implement ``schedule_next``.

    Args:
        db: the league file; created if it does not exist.
        agents: the entrants; required for a new file, else checked against the stored ones.
        config: the config; required for a new file, else it must equal the stored one.

    Raises:
        ValueError: bad entrants (unknown agent, body, lineage, or duplicate names).
        StorageError: the file holds another kind of competition or another config.
    """

    kind: ClassVar[str]
    config_type: ClassVar[type]

    def __init__(self, db: Path | str | LeagueDB, agents: Sequence[AgentSpec] | None = None,
                 config: Any = None) -> None:
        self.db = db if isinstance(db, LeagueDB) else LeagueDB(db)
        stored_kind = self.db.get_meta("kind")
        if stored_kind is None:
            if agents is None or config is None:
                raise StorageError(f"{self.db.path} holds no competition yet: give the agents "
                                   f"and a config to start one")
            if not self._create(list(agents), config):  # another command created it first
                stored_kind = self.db.get_meta("kind")
        if stored_kind is not None and stored_kind != self.kind:
            raise StorageError(f"{self.db.path} holds a {stored_kind}, not a {self.kind}")
        self.config = config_from_dict(self.config_type, self.db.get_meta("config"))
        if config is not None and config != self.config:
            raise StorageError(f"{self.db.path} was started with another config ({self.config}); "
                               f"resume it without a config or use a new file")
        if agents is not None and stored_kind is not None:
            self._check_same_entrants(list(agents))

    def _check_same_entrants(self, agents: list[AgentSpec]) -> None:
        """A resumed competition must be given the entrants it was started with, or none."""
        rows = [r for r in self.db.agents() if int(r["added_batch"]) == 0]
        stored = [AgentSpec.from_dict(json.loads(r["spec"])) for r in rows]
        names = [s.label for s in stored]
        given = [a.label for a in agents]
        if given != names:
            raise StorageError(f"{self.db.path} holds a {self.kind} of {len(names)} agents "
                               f"({', '.join(names)}); the command names {len(given)} "
                               f"({', '.join(given)}); give the same agents to resume it, none "
                               f"to resume it as stored, or use a new file")
        for spec, old in zip(agents, stored, strict=True):
            if dataclasses.replace(absolute(spec), body=spec.body or old.body) != old:
                raise StorageError(f"{self.db.path}: agent {spec.label!r} was started as "
                                   f"{old}, the command gives {spec}; use a new file for "
                                   f"other agents")

    def verify_checkpoints(self) -> None:
        """Refuse to go on if a checkpoint changed since the competition started.

        The league file stores the SHA-256 of every entrant's checkpoint; a file replaced between
        a stop and a resume would have later games played by another network under the same
        name.

        Raises:
            StorageError: a checkpoint is missing or its hash differs (the message names it).
        """
        from agents.checkpoint import file_sha256

        for row in self.db.agents():
            if not row["sha256"]:
                continue
            spec = self.db.agent_spec(int(row["id"]))
            try:
                path = checkpoint_path(spec)
            except ValueError:
                path = None
            if path is None or not path.is_file():
                raise StorageError(f"agent {row['name']!r}: its checkpoint {spec.ref} is gone; "
                                   f"restore it to resume {self.db.path}")
            found = file_sha256(path)
            if found != row["sha256"]:
                raise StorageError(f"agent {row['name']!r}: checkpoint {path} changed since the "
                                   f"{self.kind} started (sha256 {found[:12]}..., stored "
                                   f"{row['sha256'][:12]}...); restore the original file or "
                                   f"start a new league file")

    def _create(self, agents: list[AgentSpec], config: Any) -> bool:
        """Write a new competition; False if the file was found holding one after all."""
        if not isinstance(config, self.config_type):
            raise TypeError(f"a {self.kind} needs a {self.config_type.__name__}, "
                            f"got {type(config).__name__}")
        names = [a.label for a in agents]
        if len(set(names)) != len(names):
            raise ValueError(f"agent names must be unique, got {names}; give duplicates name=")
        self.check_entrants(agents, config)
        agents = [absolute(a) for a in agents]
        infos = [describe(a) for a in agents]  # validates every entrant before anything is written
        with self.db.transaction() as conn:
            # Checked again inside the write transaction: two commands started on a new file at
            # once both saw it empty, and only the first may create (and schedule) the games.
            if self.db.get_meta("kind") is not None:
                return False
            self.db.set_meta("kind", self.kind, conn)
            self.db.set_meta("config", config_to_dict(config), conn)
            for spec, info in zip(agents, infos, strict=True):
                spec = dataclasses.replace(spec, body=info["body"])
                self.db.add_agent(spec, info, conn=conn)
            self.config = config
            self.setup(conn)
        return True

    def check_entrants(self, agents: list[AgentSpec], config: Any) -> None:
        """Raise ValueError if the entrants do not suit this competition (at least two)."""
        if len(agents) < 2:
            raise ValueError(f"a {self.kind} needs at least 2 agents, got {len(agents)}")

    def setup(self, conn: sqlite3.Connection) -> None:  # noqa: B027  (optional hook)
        """Write what a new competition needs besides config and agents (inside its transaction)."""

    @abstractmethod
    def schedule_next(self) -> bool:
        """Schedule the next batch (in one transaction) if there is one; whether it did."""

    def game_spec(self, a: int, b: int, batch: int, index: int) -> GameSpec:
        """The spec of the index-th game of a batch between agent ids a and b."""
        seed = derive_seed(self.config.seed, batch, index)
        return GameSpec(self.db.agent_spec(a), self.db.agent_spec(b), self.config.game, seed,
                        a_starts=index % 2 == 0)

    def run(self, executor: Executor | None = None,
            on_game: Callable[[int, Outcome], None] | None = None,
            on_batch: Callable[[int], None] | None = None) -> int:
        """Play until the competition is complete (resuming whatever the file holds).

        Args:
            executor: where to play (default: in this process).
            on_game: called after each game is written.
            on_batch: called with the batch number after each batch is scheduled.

        Returns:
            The number of games written in this call.

        Raises:
            StorageError: if another process is running this league file.
        """
        own = executor is None
        executor = executor or InProcessExecutor()
        written = 0
        with contextlib.ExitStack() as stack:
            stack.enter_context(self.db.exclusive())
            self.verify_checkpoints()
            if own:
                stack.callback(executor.close)
            last = self.db.last_batch()
            if last >= 0:
                self.db.reopen_void(batch=last)
            while True:
                written += play_pending(self.db, executor, self.config.ratings, on_game)
                if not self.schedule_next():
                    break
                if on_batch is not None:
                    on_batch(self.db.last_batch())
        return written

    def total_games(self) -> int | None:
        """Games a complete run plays, if known in advance."""
        return None

    def close(self) -> None:
        """Close the league file."""
        self.db.close()
