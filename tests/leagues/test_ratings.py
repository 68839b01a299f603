"""Rating invariants: symmetry, conservation, dominance, prior, order-independent fit."""

from __future__ import annotations

import numpy as np
import pytest

from leagues.ratings import (
    Rating,
    RatingConfig,
    elo_expected,
    elo_update,
    fit_elo,
    initial_rating,
    leaderboard,
    rate_game,
    replay_ratings,
    skill_update,
)
from leagues.rules import DRAW, LOSS, WIN


def test_prior_follows_the_paper():
    r = initial_rating()
    assert (r.mu, r.sigma) == (25.0, pytest.approx(25 / 3))
    assert RatingConfig().beta == pytest.approx(25 / 6)
    assert r.ordinal == pytest.approx(0.0)


def test_elo_is_zero_sum_and_expected_scores_add_to_one():
    for ea, eb in [(1500, 1500), (1700, 1400), (1200, 2000)]:
        assert elo_expected(ea, eb) + elo_expected(eb, ea) == pytest.approx(1.0)
        for s in (0.0, 0.5, 1.0):
            na, nb = elo_update(ea, eb, s, 16)
            assert na + nb == pytest.approx(ea + eb)
    assert elo_update(1500, 1500, 0.5, 16) == (1500, 1500)
    with pytest.raises(ValueError, match="score_a"):
        elo_update(1500, 1500, 1.5, 16)


def test_mirrored_games_give_mirrored_updates():
    a, b = Rating(27.0, 6.0, 1550.0, 3), Rating(22.0, 7.0, 1480.0, 5)
    for outcome in (WIN, DRAW, LOSS):
        na, nb = rate_game(a, b, outcome)
        mb, ma = rate_game(b, a, -outcome)
        assert (na.mu, na.sigma, na.elo) == pytest.approx((ma.mu, ma.sigma, ma.elo))
        assert (nb.mu, nb.sigma, nb.elo) == pytest.approx((mb.mu, mb.sigma, mb.elo))
        assert na.games == 4 and nb.games == 6


def test_symmetric_records_give_equal_ratings():
    # Equal players who draw keep equal ratings (and mu unchanged); the winner of a game gains
    # exactly what the loser loses in mu when both had the same sigma.
    (ma, sa), (mb, sb) = skill_update((25.0, 25 / 3), (25.0, 25 / 3), 0.5)
    assert (ma, sa) == pytest.approx((mb, sb)) and ma == pytest.approx(25.0)
    (wa, _), (lb, _) = skill_update((25.0, 25 / 3), (25.0, 25 / 3), 1.0)
    assert wa - 25.0 == pytest.approx(25.0 - lb)
    # The order-independent fit: a cyclic record (each beats the next twice, loses once).
    scores = np.array([[0, 2, 1], [1, 0, 2], [2, 1, 0]], float)
    games = np.array([[0, 3, 3], [3, 0, 3], [3, 3, 0]], float)
    elo = fit_elo(scores, games)
    assert elo == pytest.approx(np.full(3, 1500.0), abs=1e-6)


def test_a_dominant_player_ranks_first():
    names = ["strong", "middle", "weak"]
    games = [("strong", "middle", WIN), ("middle", "weak", WIN), ("strong", "weak", WIN)] * 5
    table = replay_ratings(names, games)
    assert [name for name, _ in leaderboard(table)] == names
    scores = np.array([[0, 5, 5], [0, 0, 5], [0, 0, 0]], float)
    games_m = np.array([[0, 5, 5], [5, 0, 5], [5, 5, 0]], float)
    elo = fit_elo(scores, games_m)
    assert elo[0] > elo[1] > elo[2]
    assert elo.mean() == pytest.approx(1500.0)


def test_ratings_from_a_record_do_not_depend_on_names_order():
    games = [("a", "b", WIN), ("b", "c", DRAW), ("c", "a", LOSS)]
    one = replay_ratings(["a", "b", "c"], games)
    two = replay_ratings(["c", "b", "a"], games)
    assert one == two
    with pytest.raises(ValueError, match="unknown player"):
        replay_ratings(["a"], games)


def test_fit_elo_checks_its_input():
    with pytest.raises(ValueError, match="symmetric"):
        fit_elo(np.zeros((2, 2)), np.array([[0, 1], [2, 0]]))
    with pytest.raises(ValueError, match="scores"):
        fit_elo(np.array([[0, 3], [0, 0]]), np.array([[0, 1], [1, 0]]))


def test_rating_config_validates():
    with pytest.raises(ValueError, match="sigma"):
        RatingConfig(sigma=0)
    with pytest.raises(ValueError, match="finite"):
        RatingConfig(mu=float("nan"))
