"""Ratings as pure functions: TrueSkill-style skill (openskill) and Elo, per game and in batch.

Per-game updates (``rate_game``) give the rating history a league stores for plots. They depend on
the order of the games, as any online rating does; ``fit_elo`` fits Bradley-Terry (Elo) ratings to
a whole record at once, so that identical records give identical ratings whatever the order.

The TrueSkill-style model is openskill's Thurstone-Mosteller "full pairing" model (Weng & Lin,
2011): a Gaussian skill N(mu, sigma^2) per player, performance noise beta, draws as equal ranks,
players ranked by the conservative estimate ``mu - 3 sigma``. Prior and beta follow the paper's
TrueSkill setup: N(25, (25/3)^2), beta = 25/6.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from leagues.rules import score as outcome_score


@dataclass(frozen=True)
class RatingConfig:
    """Parameters of both rating systems.

    Attributes:
        mu: prior mean skill (25).
        sigma: prior skill standard deviation (25/3).
        beta: performance noise, the skill gap that gives about 76 % wins (25/6).
        tau: additive dynamics: sigma grows by it before each game so ratings keep moving (25/300).
        elo_initial: Elo of a new player (1500).
        elo_k: Elo K-factor: the most points one game moves (16).
    """

    mu: float = 25.0
    sigma: float = 25.0 / 3.0
    beta: float = 25.0 / 6.0
    tau: float = 25.0 / 300.0
    elo_initial: float = 1500.0
    elo_k: float = 16.0

    def __post_init__(self) -> None:
        for name in ("mu", "sigma", "beta", "tau", "elo_initial", "elo_k"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value)):
                raise ValueError(f"RatingConfig.{name} must be a finite number, got {value!r}")
        for name in ("sigma", "beta"):
            if getattr(self, name) <= 0:
                raise ValueError(f"RatingConfig.{name} must be > 0, got {getattr(self, name)!r}")
        if self.tau < 0 or self.elo_k < 0:
            raise ValueError(f"RatingConfig.tau and elo_k must be >= 0, got {self.tau}, "
                             f"{self.elo_k}")


@dataclass(frozen=True)
class Rating:
    """One player's ratings after some games.

    Attributes:
        mu: mean skill.
        sigma: skill uncertainty.
        elo: Elo rating from per-game updates.
        games: games rated so far.
    """

    mu: float
    sigma: float
    elo: float
    games: int = 0

    @property
    def ordinal(self) -> float:
        """The conservative skill estimate used for ranking: ``mu - 3 sigma``."""
        return self.mu - 3.0 * self.sigma


def initial_rating(config: RatingConfig = RatingConfig()) -> Rating:
    """The prior rating of a new player."""
    return Rating(config.mu, config.sigma, config.elo_initial, 0)


def elo_expected(elo_a: float, elo_b: float) -> float:
    """The expected score of A against B under Elo's logistic model (base 10, scale 400)."""
    return 1.0 / (1.0 + 10.0 ** ((elo_b - elo_a) / 400.0))


def elo_update(elo_a: float, elo_b: float, score_a: float, k: float) -> tuple[float, float]:
    """Elo after one game: each side moves by ``k * (actual - expected)``; the sum is conserved.

    Args:
        elo_a: A's rating before the game.
        elo_b: B's rating before the game.
        score_a: A's score: 1 win, 0.5 draw, 0 loss.
        k: the K-factor.
    """
    if not 0.0 <= score_a <= 1.0:
        raise ValueError(f"score_a must be in [0, 1] (1 win, 0.5 draw, 0 loss), got {score_a!r}")
    delta = k * (score_a - elo_expected(elo_a, elo_b))
    return elo_a + delta, elo_b - delta


@functools.lru_cache(maxsize=8)
def _model(config: RatingConfig):
    from openskill.models import ThurstoneMostellerFull

    return ThurstoneMostellerFull(mu=config.mu, sigma=config.sigma, beta=config.beta,
                                  tau=config.tau)


def skill_update(a: tuple[float, float], b: tuple[float, float], score_a: float,
                 config: RatingConfig = RatingConfig()
                 ) -> tuple[tuple[float, float], tuple[float, float]]:
    """TrueSkill-style (mu, sigma) of A and B after one game.

    Args:
        a: A's (mu, sigma) before the game.
        b: B's (mu, sigma) before the game.
        score_a: 1 if A won, 0.5 for a draw, 0 if B won.
        config: model parameters.
    """
    if score_a not in (0.0, 0.5, 1.0):
        raise ValueError(f"score_a must be 1 (win), 0.5 (draw) or 0 (loss), got {score_a!r}")
    model = _model(config)
    ra, rb = model.rating(mu=a[0], sigma=a[1]), model.rating(mu=b[0], sigma=b[1])
    ranks = {1.0: [0, 1], 0.5: [0, 0], 0.0: [1, 0]}[score_a]
    (na,), (nb,) = model.rate([[ra], [rb]], ranks=ranks)
    return (float(na.mu), float(na.sigma)), (float(nb.mu), float(nb.sigma))


def rate_game(a: Rating, b: Rating, outcome: int,
              config: RatingConfig = RatingConfig()
              ) -> tuple[Rating, Rating]:
    """Both ratings of A and B after a game with ``outcome`` for A (1 win, 0 draw, -1 loss)."""
    s = outcome_score(outcome)
    (ma, sa), (mb, sb) = skill_update((a.mu, a.sigma), (b.mu, b.sigma), s, config)
    ea, eb = elo_update(a.elo, b.elo, s, config.elo_k)
    return Rating(ma, sa, ea, a.games + 1), Rating(mb, sb, eb, b.games + 1)


def replay_ratings(names: Sequence[str], games: Sequence[tuple[str, str, int]],
                   config: RatingConfig = RatingConfig()
                   ) -> dict[str, Rating]:
    """Ratings after rating ``games`` (a, b, outcome for a) in order, from the prior."""
    table = {name: initial_rating(config) for name in names}
    for a, b, outcome in games:
        for who in (a, b):
            if who not in table:
                raise ValueError(f"game names unknown player {who!r}; players are {list(names)}")
        table[a], table[b] = rate_game(table[a], table[b], outcome, config)
    return table


def fit_elo(scores: np.ndarray, games: np.ndarray, prior_draws: float = 1.0,
            mean: float = 1500.0, iterations: int = 1000, tol: float = 1e-10) -> np.ndarray:
    """Bradley-Terry (Elo) ratings fitted to a whole record, independent of game order.

    Uses the minorise-maximise iteration (Hunter, 2004). ``prior_draws`` virtual draws between
    every pair keep ratings finite for unbeaten or winless players.

    Args:
        scores: ``[N, N]``, ``scores[i, j]`` = points of i against j (win 1, draw 0.5).
        games: ``[N, N]`` symmetric, games played between i and j.
        prior_draws: virtual draws added to every pair (> 0 keeps the fit finite).
        mean: the mean rating of the result.
        iterations: most MM iterations.
        tol: stop when no log-strength moves by more than this.

    Returns:
        ``[N]`` Elo ratings (400 log10 of the strengths) with the given mean.
    """
    scores, games = np.asarray(scores, float), np.asarray(games, float)
    n = scores.shape[0]
    if scores.shape != (n, n) or games.shape != (n, n) or not np.allclose(games, games.T):
        raise ValueError(f"scores and games must be [N, N] with games symmetric, got "
                         f"{scores.shape} and {games.shape}")
    if np.any(scores < 0) or np.any(scores > games + 1e-9):
        raise ValueError("scores[i, j] must lie in [0, games[i, j]]")
    off = 1.0 - np.eye(n)
    g = (games + 2.0 * prior_draws) * off
    w = ((scores + prior_draws) * off).sum(1)
    strength = np.ones(n)
    for _ in range(iterations):
        denom = (g / (strength[:, None] + strength[None, :])).sum(1)
        new = np.where(denom > 0, w / np.maximum(denom, 1e-300), strength)
        new /= np.exp(np.log(new).mean())
        done = np.max(np.abs(np.log(new) - np.log(strength))) < tol
        strength = new
        if done:
            break
    elo = 400.0 * np.log10(strength)
    return elo - elo.mean() + mean


def leaderboard(ratings: Mapping[str, Rating]) -> list[tuple[str, Rating]]:
    """Players sorted best first by ``mu - 3 sigma`` (ties broken by Elo, then name)."""
    return sorted(ratings.items(), key=lambda kv: (-kv[1].ordinal, -kv[1].elo, kv[0]))
