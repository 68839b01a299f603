"""Pairings, payoff table, PFSP probabilities and population updates."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from leagues.matchmaking import (
    WEIGHTINGS,
    disjoint_pairs,
    evolve_population,
    f_hard,
    f_var,
    payoff_table,
    pfsp_pairings,
    pfsp_probabilities,
    random_pairings,
    round_robin,
    shares,
    weighting,
)


def test_pfsp_probabilities_follow_the_weightings():
    x = np.array([0.1, 0.5, 0.9])
    hard = pfsp_probabilities(x, "pfsp-hard")
    assert hard == pytest.approx(f_hard(x) / f_hard(x).sum())
    assert hard == pytest.approx(np.array([0.81, 0.25, 0.01]) / 1.07)
    var = pfsp_probabilities(x, "pfsp-var")
    assert var == pytest.approx(np.array([0.09, 0.25, 0.09]) / 0.43)
    assert pfsp_probabilities(x, "uniform") == pytest.approx(np.full(3, 1 / 3))
    for kind in WEIGHTINGS:
        p = pfsp_probabilities(x, kind)
        assert p.sum() == pytest.approx(1.0) and np.all(p >= 0)


def test_pfsp_hard_prefers_hard_opponents_and_var_even_ones():
    x = np.array([0.0, 0.3, 0.5, 0.8, 1.0])
    hard = pfsp_probabilities(x, "pfsp-hard")
    assert np.all(np.diff(hard) <= 0)  # the lower A's win rate, the likelier the opponent
    assert hard[-1] == 0.0
    var = pfsp_probabilities(x, "pfsp-var")
    assert var.argmax() == 2 and var[0] == var[-1] == 0.0


def test_pfsp_falls_back_to_uniform_when_all_weights_vanish():
    assert pfsp_probabilities(np.ones(4), "pfsp-hard") == pytest.approx(np.full(4, 0.25))
    assert pfsp_probabilities(np.array([0.0, 1.0]), "pfsp-var") == pytest.approx([0.5, 0.5])


def test_unknown_weighting_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"pfsp-hard.*pfsp-var.*uniform"):
        weighting("pfsp-easy")
    with pytest.raises(ValueError, match="win_rates"):
        pfsp_probabilities(np.array([1.5]))


def test_payoff_table_counts_draws_half_and_is_complementary():
    games = [(0, 1, 1), (1, 0, 1), (0, 1, 0), (0, 2, -1)]
    rate, count = payoff_table(3, games)
    assert count[0, 1] == count[1, 0] == 3
    assert rate[0, 1] == pytest.approx((1 + 0.5) / 3)
    assert rate[0, 2] == 0.0 and rate[2, 0] == 1.0
    met = count > 0
    assert (rate + rate.T)[met] == pytest.approx(np.ones(met.sum()))
    assert rate[1, 2] == 0.5  # never met: the prior
    with pytest.raises(ValueError, match="self-game"):
        payoff_table(2, [(1, 1, 0)])


def test_pfsp_pairings_never_pair_a_player_with_itself_and_sample_by_weight():
    rate = np.array([[0.5, 0.0, 1.0], [1.0, 0.5, 0.5], [0.0, 0.5, 0.5]])
    pairs = pfsp_pairings(3, 3000, rate, "pfsp-hard", np.random.default_rng(0))
    assert all(a != b for a, b in pairs)
    assert Counter(a for a, _ in pairs) == {0: 1000, 1: 1000, 2: 1000}
    # Player 0 never loses to 2 (win rate 1): hard weighting never picks it.
    assert Counter(b for a, b in pairs if a == 0) == {1: 1000}
    assert pfsp_pairings(3, 5, rate, "uniform", np.random.default_rng(1)) == pfsp_pairings(
        3, 5, rate, "uniform", np.random.default_rng(1))


def test_round_robin_pairs_everyone_and_swaps_sides():
    pairs = round_robin(4, games_per_pair=2)
    assert len(pairs) == 12
    for a, b in itertools.combinations(range(4), 2):
        assert pairs.count((a, b)) == 1 and pairs.count((b, a)) == 1
    with pytest.raises(ValueError, match="n >= 2"):
        round_robin(1)


def test_random_pairings_are_distinct_players():
    pairs = random_pairings(3, 50, np.random.default_rng(0))
    assert len(pairs) == 50 and all(a != b and 0 <= a < 3 and 0 <= b < 3 for a, b in pairs)


def test_disjoint_pairs_use_every_slot_at_most_once():
    pairs = disjoint_pairs(list(range(7)), 10, np.random.default_rng(0))
    slots = [s for p in pairs for s in p]
    assert len(pairs) == 3 and len(set(slots)) == 6


def test_evolution_replaces_losers_by_winners_and_keeps_size():
    population = ["meta", "meta", "ppo", "rl2"]
    nxt = evolve_population(population, [(0, 2, 1), (3, 1, 0)])
    assert nxt == ["meta", "meta", "meta", "rl2"]
    assert evolve_population(population, [(2, 3, -1)]) == ["meta", "meta", "rl2", "rl2"]
    with pytest.raises(ValueError, match="at most one game"):
        evolve_population(population, [(0, 1, 1), (1, 2, 1)])
    assert shares(nxt, lambda name: name) == {"meta": 0.75, "rl2": 0.25}


def test_weighting_functions_match_alphastar():
    x = np.linspace(0, 1, 11)
    assert f_hard(x, p=1) == pytest.approx(1 - x)
    assert f_var(x) == pytest.approx(x * (1 - x))
