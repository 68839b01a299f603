"""Who plays whom, as pure functions: pairings, the payoff table, prioritized fictitious self-play.

Prioritized fictitious self-play (PFSP, Vinyals et al., 2019, AlphaStar) picks the opponent B of
an agent A with probability proportional to ``f(P[A beats B])``, where P comes from the payoff
table: win rate = (wins + draws / 2) / games. ``f_hard(x) = (1 - x)^p`` focuses on the opponents A
struggles against; ``f_var(x) = x (1 - x)`` on those of about equal strength.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

import numpy as np

from leagues.rules import score

Weighting = Callable[[np.ndarray], np.ndarray]
T = TypeVar("T", bound=Hashable)


def f_hard(win_rate: np.ndarray, p: float = 2.0) -> np.ndarray:
    """PFSP's hard weighting ``(1 - x)^p``: opponents that beat A most often come first."""
    return (1.0 - np.asarray(win_rate, float)) ** p


def f_var(win_rate: np.ndarray) -> np.ndarray:
    """PFSP's variance weighting ``x (1 - x)``: opponents of about equal strength come first."""
    x = np.asarray(win_rate, float)
    return x * (1.0 - x)


def f_uniform(win_rate: np.ndarray) -> np.ndarray:
    """Every opponent equally likely (plain fictitious self-play)."""
    return np.ones_like(np.asarray(win_rate, float))


WEIGHTINGS: dict[str, Weighting] = {"pfsp-hard": f_hard, "pfsp-var": f_var, "uniform": f_uniform}


def weighting(name: str) -> Weighting:
    """The weighting function registered as ``name``.

    Raises:
        ValueError: for an unknown name; the message lists the known ones.
    """
    try:
        return WEIGHTINGS[name]
    except KeyError:
        raise ValueError(f"unknown matchmaking {name!r}; choose one of "
                         f"{', '.join(sorted(WEIGHTINGS))}") from None


def payoff_table(n: int, games: Sequence[tuple[int, int, int]],
                 prior: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Win rates and game counts between ``n`` players.

    Args:
        n: number of players (indices 0..n-1).
        games: (a, b, outcome for a) with outcome 1 win, 0 draw, -1 loss.
        prior: win rate reported for pairs that never met.

    Returns:
        ``(win_rate [n, n], count [n, n])`` with ``win_rate[i, j] = (wins + draws / 2) / games``
        of i against j, so ``win_rate + win_rate.T == 1`` where pairs met.
    """
    points = np.zeros((n, n))
    count = np.zeros((n, n))
    for a, b, outcome in games:
        if not (0 <= a < n and 0 <= b < n) or a == b:
            raise ValueError(f"game between players {a} and {b}: outside 0..{n - 1} "
                             f"or a self-game")
        s = score(outcome)
        points[a, b] += s
        points[b, a] += 1.0 - s
        count[a, b] += 1
        count[b, a] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(count > 0, points / np.maximum(count, 1), prior)
    return rate, count


def pfsp_probabilities(win_rates: np.ndarray, kind: str = "pfsp-hard") -> np.ndarray:
    """The probabilities of picking each opponent given A's win rates against them.

    If every weight is zero (A beats everyone for sure under f_hard, say) the choice is uniform.

    Args:
        win_rates: ``[K]`` A's win rate against each candidate opponent, in [0, 1].
        kind: a name in ``WEIGHTINGS``.
    """
    x = np.asarray(win_rates, float)
    if x.ndim != 1 or x.size == 0 or np.any((x < 0) | (x > 1)) or not np.all(np.isfinite(x)):
        raise ValueError(f"win_rates must be a non-empty 1-d array in [0, 1], got {win_rates!r}")
    w = weighting(kind)(x)
    total = w.sum()
    return w / total if total > 0 else np.full(x.size, 1.0 / x.size)


def pfsp_pairings(n: int, count: int, win_rate: np.ndarray, kind: str,
                  rng: np.random.Generator, players: Sequence[int] | None = None
                  ) -> list[tuple[int, int]]:
    """``count`` pairings: players take turns as A; each draws its opponent by PFSP.

    Args:
        n: population size.
        count: games to schedule.
        win_rate: ``[n, n]`` payoff table (``payoff_table``).
        kind: a name in ``WEIGHTINGS``.
        rng: randomness of the draws.
        players: the indices that take turns as A (default all).
    """
    if n < 2:
        raise ValueError(f"matchmaking needs at least 2 players, got {n}")
    order = list(range(n)) if players is None else list(players)
    pairs = []
    for k in range(count):
        a = order[k % len(order)]
        others = np.array([j for j in range(n) if j != a])
        b = int(rng.choice(others, p=pfsp_probabilities(win_rate[a, others], kind)))
        pairs.append((a, b))
    return pairs


def round_robin(n: int, games_per_pair: int = 1) -> list[tuple[int, int]]:
    """Every pair plays ``games_per_pair`` games; A and B swap roles every other game."""
    if n < 2 or games_per_pair < 1:
        raise ValueError(f"round robin needs n >= 2 players and games_per_pair >= 1, "
                         f"got {n} and {games_per_pair}")
    pairs = []
    for a, b in itertools.combinations(range(n), 2):
        pairs += [(a, b) if g % 2 == 0 else (b, a) for g in range(games_per_pair)]
    return pairs


def random_pairings(n: int, count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``count`` games between uniformly random distinct players."""
    if n < 2 or count < 0:
        raise ValueError(f"random pairings need n >= 2 and count >= 0, got {n} and {count}")
    pairs = []
    for _ in range(count):
        a, b = rng.choice(n, size=2, replace=False)
        pairs.append((int(a), int(b)))
    return pairs


def disjoint_pairs(members: Sequence[int], count: int, rng: np.random.Generator
                   ) -> list[tuple[int, int]]:
    """Up to ``count`` pairs of distinct population slots, no slot twice (for evolution)."""
    if len(members) < 2:
        raise ValueError(f"pairing needs at least 2 members, got {len(members)}")
    shuffled = [members[i] for i in rng.permutation(len(members))]
    k = min(count, len(shuffled) // 2)
    return [(shuffled[2 * i], shuffled[2 * i + 1]) for i in range(k)]


def evolve_population(population: Sequence[T], results: Sequence[tuple[int, int, int]]
                      ) -> list[T]:
    """The next generation: each game's loser is replaced by a copy of its winner.

    Args:
        population: the agent (name or id) in each slot.
        results: (slot a, slot b, outcome for a); a slot appears at most once; draws change nothing.

    Returns:
        The new population, same size, slot by slot.
    """
    seen: set[int] = set()
    nxt = list(population)
    for a, b, outcome in results:
        if a in seen or b in seen or a == b:
            raise ValueError(f"slots may play at most one game per generation; {a} or {b} repeats")
        seen |= {a, b}
        if outcome > 0:
            nxt[b] = population[a]
        elif outcome < 0:
            nxt[a] = population[b]
    return nxt


def shares(population: Sequence[T], kind_of: Callable[[T], str]) -> dict[str, float]:
    """The fraction of the population of each kind."""
    counts: dict[str, int] = {}
    for name in population:
        counts[kind_of(name)] = counts.get(kind_of(name), 0) + 1
    return {kind: c / len(population) for kind, c in sorted(counts.items())}
