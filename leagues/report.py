"""Tables from a league file: standings (leaderboard), payoff table, status, rating history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from leagues.competition import config_from_dict
from leagues.matchmaking import payoff_table
from leagues.ratings import RatingConfig, fit_elo
from leagues.storage import LeagueDB


@dataclass(frozen=True)
class Standing:
    """One agent's line of the leaderboard."""

    name: str
    kind: str
    body: str
    games: int
    wins: int
    draws: int
    losses: int
    forfeits: int
    mu: float
    sigma: float
    elo: float
    fitted_elo: float

    @property
    def ordinal(self) -> float:
        """``mu - 3 sigma``, the ranking key."""
        return self.mu - 3.0 * self.sigma


def rating_config(db: LeagueDB) -> RatingConfig:
    """The rating parameters a league file was made with (the defaults if none)."""
    config = db.get_meta("config") or {}
    return config_from_dict(RatingConfig, config["ratings"]) if "ratings" in config else (
        RatingConfig())


def standings(db: LeagueDB) -> list[Standing]:
    """The leaderboard, best first by ``mu - 3 sigma`` (then Elo, then name).

    ``elo`` is the per-game Elo; ``fitted_elo`` the Bradley-Terry fit to the whole record, which
    does not depend on the order of the games.
    """
    rows = db.agents()
    ids = [int(r["id"]) for r in rows]
    index = {a: i for i, a in enumerate(ids)}
    n = len(ids)
    tally = np.zeros((n, 4), int)  # wins, draws, losses, forfeits
    played = []
    for g in db.results():
        a, b, outcome = index[g["a"]], index[g["b"]], int(g["outcome"])
        played.append((a, b, outcome))
        tally[a, 1 - outcome] += 1
        tally[b, 1 + outcome] += 1
        if g["forfeit"] is not None:
            tally[a if g["forfeit"] == "a" else b, 3] += 1
    rate, count = payoff_table(n, played)
    fitted = fit_elo(np.where(count > 0, rate * count, 0.0), count)
    current = db.ratings(rating_config(db))
    table = [Standing(r["name"], r["kind"], r["body"], int(tally[i, :3].sum()),
                      int(tally[i, 0]), int(tally[i, 1]), int(tally[i, 2]), int(tally[i, 3]),
                      current[ids[i]].mu, current[ids[i]].sigma, current[ids[i]].elo,
                      float(fitted[i]))
             for i, r in enumerate(rows)]
    return sorted(table, key=lambda s: (-s.ordinal, -s.elo, s.name))


def leaderboard_markdown(table: list[Standing]) -> str:
    """The leaderboard as a Markdown table."""
    lines = ["| rank | agent | kind | body | games | W | D | L | forfeits | mu | sigma | "
             "mu - 3 sigma | Elo | fitted Elo |",
             "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for rank, s in enumerate(table, 1):
        lines.append(f"| {rank} | {s.name} | {s.kind} | {s.body} | {s.games} | {s.wins} | "
                     f"{s.draws} | {s.losses} | {s.forfeits} | {s.mu:.2f} | {s.sigma:.2f} | "
                     f"{s.ordinal:.2f} | {s.elo:.0f} | {s.fitted_elo:.0f} |")
    return "\n".join(lines)


def payoff_markdown(db: LeagueDB) -> str:
    """The payoff table (row's win rate against column, draws half) as Markdown."""
    rows = db.agents()
    index = {int(r["id"]): i for i, r in enumerate(rows)}
    played = [(index[g["a"]], index[g["b"]], int(g["outcome"])) for g in db.results()]
    rate, count = payoff_table(len(rows), played)
    names = [r["name"] for r in rows]
    lines = ["| vs | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for i, name in enumerate(names):
        cells = ["-" if i == j or count[i, j] == 0 else f"{rate[i, j]:.2f} ({int(count[i, j])})"
                 for j in range(len(names))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def status(db: LeagueDB) -> dict[str, Any]:
    """What the file holds: kind, config, agents, games by status, last batch."""
    return {"kind": db.get_meta("kind"), "config": db.get_meta("config"),
            "agents": len(db.agents()), "games": db.counts(), "last_batch": db.last_batch()}


def rating_history(db: LeagueDB) -> list[dict[str, Any]]:
    """Every rating update in game order: game, agent name, mu, sigma, ordinal, elo (for plots)."""
    return [dict(r) for r in db.rating_updates()]



GAMES_SHOWN = 30  # the newest games listed in a report


GAMES_HEADER = ("game", "batch", "A", "B", "result", "rounds x episodes")  # batches from 1


def game_rows(db: LeagueDB, limit: int = GAMES_SHOWN) -> list[tuple[str, ...]]:
    """The newest played games as table rows (``GAMES_HEADER``)."""
    word = {1: "A wins", 0: "draw", -1: "B wins"}
    return [(str(r["id"]), str(int(r["batch"]) + 1), r["a_name"], r["b_name"],
             word[int(r["outcome"])] + (f" (forfeit by {r['forfeit'].upper()})"
                                        if r["forfeit"] else ""),
             f"{r['rounds']} x {r['episodes']}") for r in db.played_games(limit)]


def replay_hint(db: LeagueDB) -> str:
    return (f"Replay an episode: `arena replay --db {db.path} --game ID --round R --episode E` "
            f"(rounds and episodes count from 1).")


def games_markdown(db: LeagueDB, limit: int = GAMES_SHOWN) -> str:
    """The newest played games with what replays one of their episodes."""
    rows = game_rows(db, limit)
    lines = [f"## Games (newest {len(rows)} of {db.counts()['done']})", "", replay_hint(db), "",
             "| " + " | ".join(GAMES_HEADER) + " |", "|---:|---:|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_report(db: LeagueDB, full: bool = True) -> str:
    """The leaderboard and, if ``full``, the payoff table and population shares, in Markdown."""
    from leagues.evolution import population_shares

    parts = ["## Leaderboard (ranked by mu - 3 sigma)", "", leaderboard_markdown(standings(db))]
    void = db.void_games()
    if void:
        parts += ["", f"{len(void)} void game(s), not rated (run the same command again to "
                      f"replay them):", ""]
        parts += [f"- game {r['id']}: {r['a_name']} vs {r['b_name']}: {r['reason']}"
                  for r in void]
    if not full:
        return "\n".join(parts)
    parts += ["", "## Payoff table (row's win rate against column, games)", "",
              payoff_markdown(db)]
    parts += ["", games_markdown(db)]
    shares = population_shares(db)
    if shares:
        kinds = sorted({k for s in shares for k in s})
        parts += ["", "## Population shares per generation", "",
                  "| generation | " + " | ".join(kinds) + " |", "|---:|" + "---:|" * len(kinds)]
        parts += [f"| {g} | " + " | ".join(f"{s.get(k, 0.0):.2f}" for k in kinds) + " |"
                  for g, s in enumerate(shares)]
    return "\n".join(parts)
