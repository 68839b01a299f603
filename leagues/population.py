"""The paper's population study, read from league files: who beats whom by adaptation method.

Entrants carry their method in ``AgentSpec.kind`` (e.g. "MAML", "RL^2", "tracking") and their
body. From a tournament's file, ``method_matrix`` tallies the games between methods for each
pair of bodies (the shape of the paper's Table 3) and ``rank_by_method`` gives the ranks the
methods' agents take on the TrueSkill leaderboard; an evolution's shares per generation come
from ``leagues.evolution.population_shares``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agents.evaluate import wilson_interval
from leagues.report import Standing
from leagues.storage import LeagueDB


@dataclass(frozen=True)
class Tally:
    """Games of one side (a method with a body) against another, from the first side's view."""

    wins: int = 0
    draws: int = 0
    losses: int = 0
    forfeits: int = 0  # of the losses, those by forfeit (the side's agent faulted or timed out)

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def win_rate(self) -> float:
        """Share of games won (a draw is not a win)."""
        return self.wins / self.games if self.games else float("nan")

    def interval(self) -> tuple[float, float]:
        """95 % Wilson interval of the win rate."""
        return wilson_interval(self.wins, self.games)

    def add(self, outcome: int, forfeited: bool = False) -> Tally:
        """This tally with one more game (``outcome`` 1, 0 or -1 for this side; ``forfeited``:
        this side lost it by forfeit)."""
        return Tally(self.wins + (outcome > 0), self.draws + (outcome == 0),
                     self.losses + (outcome < 0), self.forfeits + forfeited)

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.wins + other.wins, self.draws + other.draws,
                     self.losses + other.losses, self.forfeits + other.forfeits)


Side = tuple[str, str]  # (body, method)


def method_matrix(db: LeagueDB) -> dict[tuple[Side, Side], Tally]:
    """Every played game between two entrants, tallied by (body, method) of both sides.

    Each game counts once in each direction: ``m[(x, y)]`` holds x's wins, draws and losses
    against y, so ``m[(x, y)].wins == m[(y, x)].losses``. A game between two agents of the same
    body and method is left out: neither side of it is the row's. Void games are not played
    games and are not tallied.
    """
    side = {int(r["id"]): (r["body"], r["kind"]) for r in db.agents()}
    out: dict[tuple[Side, Side], Tally] = {}
    for g in db.results():
        a, b, outcome = side[int(g["a"])], side[int(g["b"])], int(g["outcome"])
        if a == b:
            continue
        forfeit = g["forfeit"]
        out[(a, b)] = out.get((a, b), Tally()).add(outcome, forfeit == "a")
        out[(b, a)] = out.get((b, a), Tally()).add(-outcome, forfeit == "b")
    return out


def by_body(matrix: dict[tuple[Side, Side], Tally]) -> dict[tuple[str, str], Tally]:
    """``method_matrix`` pooled over methods: each body's games against each body."""
    out: dict[tuple[str, str], Tally] = {}
    for ((body, _), (other, _)), t in matrix.items():
        out[(body, other)] = out.get((body, other), Tally()) + t
    return out


def rank_by_method(table: Sequence[Standing]) -> dict[str, list[int]]:
    """The leaderboard ranks (1 = best) of each method's agents, in rank order."""
    out: dict[str, list[int]] = {}
    for rank, s in enumerate(table, 1):
        out.setdefault(s.kind, []).append(rank)
    return out


def cell(t: Tally) -> str:
    """``win rate [Wilson interval] (n=games)``, with the forfeits lost if there were any."""
    lo, hi = t.interval()
    lost = f", {t.forfeits} lost by forfeit" if t.forfeits else ""
    return f"{t.win_rate:.2f} [{lo:.2f}, {hi:.2f}] (n={t.games}{lost})"


def matrix_markdown(matrix: dict[tuple[Side, Side], Tally], body: str,
                    methods: Sequence[str], other: str | None = None) -> str:
    """A Markdown table of the row method's win rate against each column method, games of a
    ``body`` agent against an ``other`` body (default: the same), with Wilson intervals."""
    other = other or body
    lines = ["| " + body + " \\ " + other + " | " + " | ".join(methods) + " |",
             "|---" * (len(methods) + 1) + "|"]
    for row in methods:
        cells = []
        for col in methods:
            t = matrix.get(((body, row), (other, col)))
            if t is None or not t.games:
                cells.append("·")
                continue
            cells.append(cell(t))
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
