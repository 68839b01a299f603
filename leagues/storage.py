"""One SQLite file per league: agents, scheduled games, rounds, episodes, ratings history.

The file is opened in WAL mode so that ``arena league status`` can read while a league runs. Games
are scheduled (written as ``pending``) before they are played, and each finished game is written
in one transaction together with its rounds, episodes and rating updates, so a killed run loses at
most the games in flight and never counts one twice: ``record_game`` refuses a game that is not
pending. Episode seeds are stored, so any episode can be replayed by replaying its game.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from leagues.games import GameResult, GameSpec
from leagues.ratings import Rating, RatingConfig, initial_rating, rate_game
from leagues.roster import AgentSpec

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agents(
    id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, spec TEXT NOT NULL, body TEXT NOT NULL,
    kind TEXT NOT NULL, sha256 TEXT, added_batch INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS games(
    id INTEGER PRIMARY KEY, batch INTEGER NOT NULL,
    a INTEGER NOT NULL REFERENCES agents(id), b INTEGER NOT NULL REFERENCES agents(id),
    slot_a INTEGER, slot_b INTEGER, seed INTEGER NOT NULL, spec TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'void')),
    outcome INTEGER, forfeit TEXT, reason TEXT, elapsed REAL, finished_at TEXT);
CREATE INDEX IF NOT EXISTS games_status ON games(status, batch);
CREATE TABLE IF NOT EXISTS rounds(
    game INTEGER NOT NULL REFERENCES games(id), round INTEGER NOT NULL,
    a_version INTEGER, b_version INTEGER, wins INTEGER NOT NULL, losses INTEGER NOT NULL,
    draws INTEGER NOT NULL, outcome INTEGER NOT NULL, PRIMARY KEY (game, round));
CREATE TABLE IF NOT EXISTS episodes(
    game INTEGER NOT NULL REFERENCES games(id), round INTEGER NOT NULL, episode INTEGER NOT NULL,
    seed INTEGER NOT NULL, a_player TEXT NOT NULL, outcome INTEGER NOT NULL,
    steps INTEGER NOT NULL, return_a REAL NOT NULL, return_b REAL NOT NULL,
    PRIMARY KEY (game, round, episode));
CREATE TABLE IF NOT EXISTS ratings(
    game INTEGER NOT NULL REFERENCES games(id), agent INTEGER NOT NULL REFERENCES agents(id),
    mu REAL NOT NULL, sigma REAL NOT NULL, ordinal REAL NOT NULL, elo REAL NOT NULL,
    games INTEGER NOT NULL, PRIMARY KEY (game, agent));
CREATE INDEX IF NOT EXISTS ratings_agent ON ratings(agent, game);
CREATE TABLE IF NOT EXISTS population(
    generation INTEGER NOT NULL, slot INTEGER NOT NULL,
    agent INTEGER NOT NULL REFERENCES agents(id), PRIMARY KEY (generation, slot));
"""


class StorageError(RuntimeError):
    """The league file is not one this code wrote, or an operation contradicts its contents."""


def _check_league_path(path: Path) -> None:
    """Refuse a path that is no league file before SQLite touches it.

    A directory, a file that is not SQLite, or an SQLite database of some other program (which
    opening as a league would change: new tables, another journal mode) is refused with what was
    found; a new path or an empty file becomes a league file.

    Raises:
        StorageError: saying what the path holds.
    """
    if path.is_dir():
        raise StorageError(f"{path} is a directory; give the path of a league file (e.g. "
                           f"{path / 'league.sqlite'})")
    if not path.exists() or path.stat().st_size == 0:
        return
    if not path.is_file():
        raise StorageError(f"{path} is not a regular file; give the path of a league file")
    with open(path, "rb") as handle:
        magic = handle.read(16)
    if magic != b"SQLite format 3\x00":
        raise StorageError(f"{path} is not a league database: not an SQLite file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            version = (conn.execute("SELECT value FROM meta WHERE key='schema_version'")
                       .fetchone() if "meta" in tables else None)
        finally:
            conn.close()
    except sqlite3.Error as err:
        raise StorageError(f"{path} is not a league database: {err}") from None
    if tables and version is None:
        shown = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
        raise StorageError(f"{path} is an SQLite database of another program (tables: {shown}), "
                           f"not a league file; it was left untouched")


class LeagueDB:
    """A league's SQLite file.

    Args:
        path: the file; created with its tables if missing.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        _check_league_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=60.0)
        except sqlite3.Error as err:
            raise StorageError(f"{self.path} cannot be opened as a league file: {err}") from None
        self.conn.row_factory = sqlite3.Row
        mode = self._journal_mode_wal()
        if mode.lower() != "wal":
            raise StorageError(f"{self.path}: SQLite refused WAL mode (got {mode!r})")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        try:
            self._create_schema()
        except sqlite3.OperationalError as err:
            self.conn.close()
            raise StorageError(f"{self.path} cannot be written as a league file: {err}") from None

    def _create_schema(self) -> None:
        with self.transaction() as c:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    c.execute(statement)
            found = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if found is None:
                c.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(found[0]) != SCHEMA_VERSION:
                raise StorageError(f"{self.path} has schema version {found[0]}; this code reads "
                                   f"version {SCHEMA_VERSION}")

    def _journal_mode_wal(self, wait: float = 60.0) -> str:
        """Switch to WAL mode, waiting while another connection holds the file (two commands
        started on one new file at once); a file that is no database is refused."""
        deadline = time.monotonic() + wait
        while True:
            try:
                return self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            except sqlite3.OperationalError as err:
                if "locked" in str(err) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                self.conn.close()
                raise StorageError(f"{self.path} cannot be opened as a league database: "
                                   f"{err}") from None
            except sqlite3.DatabaseError as err:
                self.conn.close()
                raise StorageError(f"{self.path} is not a league database: {err}") from None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the file's runner lock: one process at a time plays a league's games.

        The lock is an advisory ``flock`` on ``<file>.lock``; the OS releases it when the holder
        dies, so a killed run never blocks the next one.

        Raises:
            StorageError: if another process holds it.
        """
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, one runner per file is then the user's job
            yield
            return
        # The resolved path: a symlink to the file must find the same lock.
        real = self.path.resolve()
        with open(real.with_name(real.name + ".lock"), "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StorageError(f"another process is running the league in {self.path}; "
                                   f"wait for it or stop it first") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def __enter__(self) -> LeagueDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: all its statements are committed together or not at all."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ---------------------------------------------------------------- meta

    def get_meta(self, key: str) -> Any:
        """A JSON value stored under ``key``, or None."""
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any, conn: sqlite3.Connection | None = None) -> None:
        """Store a JSON value under ``key`` (inside the caller's transaction if given)."""
        sql = "INSERT OR REPLACE INTO meta VALUES (?, ?)"
        if conn is not None:
            conn.execute(sql, (key, json.dumps(value, sort_keys=True)))
            return
        with self.transaction() as c:
            c.execute(sql, (key, json.dumps(value, sort_keys=True)))

    # ---------------------------------------------------------------- agents

    def add_agent(self, spec: AgentSpec, info: dict[str, Any], batch: int = 0,
                  conn: sqlite3.Connection | None = None) -> int:
        """Register an agent (``info``: body, kind, sha256 from ``roster.describe``); its id.

        Raises:
            StorageError: if the name is taken by a different spec.
        """
        row = self.conn.execute("SELECT id, spec FROM agents WHERE name=?",
                                (spec.label,)).fetchone()
        if row is not None:
            # through AgentSpec: rows written before a field existed hold its default
            if AgentSpec.from_dict(json.loads(row["spec"])) != spec:
                raise StorageError(f"{self.path} already has an agent named {spec.label!r} with "
                                   f"a different spec; give the new one another name")
            return int(row["id"])
        values = (spec.label, json.dumps(spec.to_dict(), sort_keys=True), info["body"],
                  info["kind"], info["sha256"], batch)
        sql = "INSERT INTO agents(name, spec, body, kind, sha256, added_batch) VALUES (?,?,?,?,?,?)"
        if conn is not None:
            return int(conn.execute(sql, values).lastrowid)
        with self.transaction() as c:
            return int(c.execute(sql, values).lastrowid)

    def agents(self) -> list[sqlite3.Row]:
        """All agents, by id: id, name, spec (JSON), body, kind, sha256, added_batch."""
        return self.conn.execute("SELECT * FROM agents ORDER BY id").fetchall()

    def agent_spec(self, agent_id: int) -> AgentSpec:
        """The spec of an agent (with its body filled in)."""
        row = self.conn.execute("SELECT spec, body FROM agents WHERE id=?", (agent_id,)).fetchone()
        if row is None:
            raise StorageError(f"{self.path} has no agent with id {agent_id}")
        spec = AgentSpec.from_dict(json.loads(row["spec"]))
        return spec if spec.body else AgentSpec.from_dict({**spec.to_dict(), "body": row["body"]})

    # ---------------------------------------------------------------- games

    def schedule(self, batch: int, games: Sequence[tuple[int, int, GameSpec]],
                 slots: Sequence[tuple[int, int]] | None = None,
                 conn: sqlite3.Connection | None = None) -> list[int]:
        """Add pending games (agent id a, agent id b, spec) of a batch; their ids."""
        ids = []
        with self._maybe_transaction(conn) as c:
            for k, (a, b, spec) in enumerate(games):
                sa, sb = slots[k] if slots is not None else (None, None)
                cur = c.execute("INSERT INTO games(batch, a, b, slot_a, slot_b, seed, spec) "
                                "VALUES (?,?,?,?,?,?,?)",
                                (batch, a, b, sa, sb, spec.seed, json.dumps(spec.to_dict())))
                ids.append(int(cur.lastrowid))
        return ids

    @contextmanager
    def _maybe_transaction(self, conn: sqlite3.Connection | None) -> Iterator[sqlite3.Connection]:
        if conn is not None:
            yield conn
        else:
            with self.transaction() as c:
                yield c

    def pending(self) -> list[tuple[int, GameSpec]]:
        """Scheduled games not yet played, by id."""
        rows = self.conn.execute("SELECT id, spec FROM games WHERE status='pending' ORDER BY id")
        return [(int(r["id"]), GameSpec.from_dict(json.loads(r["spec"]))) for r in rows]

    def game_spec(self, game_id: int) -> GameSpec:
        """The full spec of a scheduled game: ``play_game`` on it replays every episode exactly."""
        row = self.conn.execute("SELECT spec FROM games WHERE id=?", (game_id,)).fetchone()
        if row is None:
            last = self.conn.execute("SELECT MAX(id) FROM games").fetchone()[0]
            raise StorageError(f"{self.path} has no game {game_id}; games are 1..{last or 0}")
        return GameSpec.from_dict(json.loads(row["spec"]))

    def reopen_void(self, batch: int) -> int:
        """Mark the void games of a batch (their worker kept dying) pending again; how many."""
        with self.transaction() as c:
            return c.execute("UPDATE games SET status='pending', reason=NULL "
                             "WHERE status='void' AND batch=?", (batch,)).rowcount

    def last_batch(self) -> int:
        """The highest scheduled batch, or -1."""
        row = self.conn.execute("SELECT MAX(batch) FROM games").fetchone()
        return -1 if row[0] is None else int(row[0])

    def results(self, batch: int | None = None) -> list[sqlite3.Row]:
        """Played games (id, batch, a, b, slot_a, slot_b, outcome, forfeit, reason), by id."""
        sql = "SELECT * FROM games WHERE status='done'" + (" AND batch=?" if batch is not None
                                                           else "") + " ORDER BY id"
        return self.conn.execute(sql, () if batch is None else (batch,)).fetchall()

    def counts(self) -> dict[str, int]:
        """Number of games by status."""
        rows = self.conn.execute("SELECT status, COUNT(*) FROM games GROUP BY status")
        return {"pending": 0, "done": 0, "void": 0} | {r[0]: int(r[1]) for r in rows}

    def ratings(self, config: RatingConfig) -> dict[int, Rating]:
        """The current rating of every agent (the prior for agents without games)."""
        table = {int(r["id"]): initial_rating(config) for r in self.agents()}
        rows = self.conn.execute(
            "SELECT r.* FROM ratings r JOIN (SELECT agent, MAX(game) AS g FROM ratings "
            "GROUP BY agent) last ON r.agent = last.agent AND r.game = last.g")
        for r in rows:
            table[int(r["agent"])] = Rating(r["mu"], r["sigma"], r["elo"], r["games"])
        return table

    def _rating(self, agent: int, config: RatingConfig, before: int | None = None) -> Rating:
        """An agent's rating after its last rated game (before game ``before``, if given)."""
        r = self.conn.execute("SELECT * FROM ratings WHERE agent=? AND game < ? "
                              "ORDER BY game DESC LIMIT 1",
                              (agent, before if before is not None else 2**62)).fetchone()
        return initial_rating(config) if r is None else Rating(r["mu"], r["sigma"], r["elo"],
                                                               r["games"])

    def record_game(self, game_id: int, result: GameResult, config: RatingConfig) -> None:
        """Write a played game, its rounds, episodes and both rating updates in one transaction.

        Raises:
            StorageError: if the game is not pending (already recorded, or never scheduled).
        """
        with self.transaction() as c:
            row = c.execute("SELECT a, b, status FROM games WHERE id=?", (game_id,)).fetchone()
            if row is None or row["status"] != "pending":
                state = "not scheduled" if row is None else row["status"]
                raise StorageError(f"game {game_id} is {state}, not pending; not recorded again")
            c.executemany("INSERT INTO rounds VALUES (?,?,?,?,?,?,?,?)",
                          [(game_id, x.round, x.a_version, x.b_version, x.wins, x.losses,
                            x.draws, x.outcome) for x in result.rounds])
            c.executemany("INSERT INTO episodes VALUES (?,?,?,?,?,?,?,?,?)",
                          [(game_id, x.round, x.episode, x.seed, x.a_player, x.outcome,
                            x.steps, x.return_a, x.return_b) for x in result.episodes])
            c.execute("UPDATE games SET status='done', outcome=?, forfeit=?, reason=?, "
                      "elapsed=?, finished_at=datetime('now') WHERE id=?",
                      (result.outcome, result.forfeit, result.reason, result.elapsed, game_id))
            later = c.execute("SELECT COUNT(*) FROM games WHERE status='done' AND id > ?",
                              (game_id,)).fetchone()[0]
            if later:
                # A void game replayed after later games were rated: rate every game from this
                # one on again in game order, so that the history equals an uninterrupted run's.
                self._rerate_from(c, game_id, config)
            else:
                self._rate(c, game_id, int(row["a"]), int(row["b"]), result.outcome, config)

    def _rate(self, c: sqlite3.Connection, game_id: int, a: int, b: int, outcome: int,
              config: RatingConfig) -> None:
        new_a, new_b = rate_game(self._rating(a, config, game_id), self._rating(b, config, game_id),
                                 outcome, config)
        for agent, r in ((a, new_a), (b, new_b)):
            c.execute("INSERT INTO ratings VALUES (?,?,?,?,?,?,?)",
                      (game_id, agent, r.mu, r.sigma, r.ordinal, r.elo, r.games))

    def _rerate_from(self, c: sqlite3.Connection, game_id: int, config: RatingConfig) -> None:
        c.execute("DELETE FROM ratings WHERE game >= ?", (game_id,))
        rows = c.execute("SELECT id, a, b, outcome FROM games WHERE status='done' AND id >= ? "
                         "ORDER BY id", (game_id,)).fetchall()
        for r in rows:
            self._rate(c, int(r["id"]), int(r["a"]), int(r["b"]), int(r["outcome"]), config)

    def played_games(self, limit: int | None = None) -> list[sqlite3.Row]:
        """Played games, newest first: id, batch, a_name, b_name, outcome (for a), forfeit,
        rounds, episodes per round."""
        sql = ("SELECT g.id, g.batch, a.name AS a_name, b.name AS b_name, g.outcome, g.forfeit, "
               "(SELECT COUNT(*) FROM rounds r WHERE r.game = g.id) AS rounds, "
               "(SELECT COUNT(*) FROM episodes e WHERE e.game = g.id AND e.round = 0) "
               "AS episodes FROM games g JOIN agents a ON a.id = g.a JOIN agents b ON b.id = g.b "
               "WHERE g.status='done' ORDER BY g.id DESC")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self.conn.execute(sql).fetchall()

    def episode(self, game_id: int, round_index: int, episode: int) -> sqlite3.Row | None:
        """A stored episode (0-based round and episode): outcome for a, steps, returns, seed."""
        return self.conn.execute("SELECT * FROM episodes WHERE game=? AND round=? AND episode=?",
                                 (game_id, round_index, episode)).fetchone()

    def game_episodes(self, game_id: int) -> list[sqlite3.Row]:
        """The stored episodes of a game in play order (0-based round and episode)."""
        return self.conn.execute("SELECT * FROM episodes WHERE game=? ORDER BY round, episode",
                                 (game_id,)).fetchall()

    def episode_sides(self, group: str) -> list[sqlite3.Row]:
        """Every episode of played games with the ``group`` column (body or kind) of both sides:
        outcome (for a), ga, gb."""
        if group not in ("body", "kind"):
            raise ValueError(f"group must be 'body' or 'kind', got {group!r}")
        return self.conn.execute(
            f"SELECT e.outcome, ga.{group} AS ga, gb.{group} AS gb FROM episodes e "
            f"JOIN games g ON g.id = e.game JOIN agents ga ON ga.id = g.a "
            f"JOIN agents gb ON gb.id = g.b WHERE g.status = 'done'").fetchall()

    def rating_updates(self) -> list[sqlite3.Row]:
        """Every rating update in game order: game, name, mu, sigma, ordinal, elo."""
        return self.conn.execute(
            "SELECT r.game, a.name, r.mu, r.sigma, r.ordinal, r.elo FROM ratings r "
            "JOIN agents a ON a.id = r.agent ORDER BY r.game, a.id").fetchall()

    def void_games(self) -> list[sqlite3.Row]:
        """Void games (id, batch, a_name, b_name, reason), by id."""
        return self.conn.execute(
            "SELECT g.id, g.batch, a.name AS a_name, b.name AS b_name, g.reason FROM games g "
            "JOIN agents a ON a.id = g.a JOIN agents b ON b.id = g.b "
            "WHERE g.status='void' ORDER BY g.id").fetchall()

    def void_game(self, game_id: int, reason: str) -> None:
        """Mark a pending game void: it could not be played (its worker kept dying)."""
        with self.transaction() as c:
            c.execute("UPDATE games SET status='void', reason=?, finished_at=datetime('now') "
                      "WHERE id=? AND status='pending'", (reason, game_id))

    # ---------------------------------------------------------------- population

    def set_population(self, generation: int, members: Sequence[int],
                       conn: sqlite3.Connection | None = None) -> None:
        """Store the agent id in each slot of a generation."""
        with self._maybe_transaction(conn) as c:
            c.executemany("INSERT INTO population VALUES (?,?,?)",
                          [(generation, slot, agent) for slot, agent in enumerate(members)])

    def population(self, generation: int | None = None) -> tuple[int, list[int]]:
        """(generation, agent id per slot) of the given or latest generation ((-1, []) if none)."""
        if generation is None:
            row = self.conn.execute("SELECT MAX(generation) FROM population").fetchone()
            if row[0] is None:
                return -1, []
            generation = int(row[0])
        rows = self.conn.execute("SELECT agent FROM population WHERE generation=? ORDER BY slot",
                                 (generation,))
        return generation, [int(r[0]) for r in rows]
