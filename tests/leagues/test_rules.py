"""Scoring rules: episode outcome, round majority, game majority with a margin, side alternation."""

from __future__ import annotations

import itertools

import pytest

from leagues.rules import (
    DRAW,
    LOSS,
    WIN,
    a_player,
    episode_outcome,
    game_outcome,
    majority,
    score,
)


def test_episode_outcome_is_seen_from_side_a():
    assert episode_outcome("player_0", "player_0") == WIN
    assert episode_outcome("player_0", "player_1") == LOSS
    assert episode_outcome(None, "player_1") == DRAW
    with pytest.raises(ValueError, match="player_0"):
        episode_outcome("player_2", "player_0")


@pytest.mark.parametrize(("outcomes", "expected"), [
    ([WIN], WIN), ([WIN, LOSS, WIN], WIN), ([WIN, LOSS, DRAW], DRAW), ([DRAW, DRAW, LOSS], LOSS),
    ([WIN, LOSS], DRAW), ([DRAW], DRAW),
])
def test_round_is_won_by_the_majority_of_episodes(outcomes, expected):
    assert majority(outcomes) == expected


def test_majority_is_antisymmetric():
    for n in range(1, 5):
        for outcomes in itertools.product((WIN, DRAW, LOSS), repeat=n):
            assert majority([-o for o in outcomes]) == -majority(outcomes)


def test_majority_refuses_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        majority([])
    with pytest.raises(ValueError, match="1 \\(win\\)"):
        majority([2])


def test_game_needs_a_majority_with_a_margin():
    # 100 rounds: a lead of 5 rounds is exactly 5 %; 4 rounds is not enough.
    assert game_outcome([WIN] * 50 + [LOSS] * 45 + [DRAW] * 5) == WIN
    assert game_outcome([WIN] * 49 + [LOSS] * 45 + [DRAW] * 6) == DRAW
    assert game_outcome([LOSS] * 50 + [WIN] * 45 + [DRAW] * 5) == LOSS
    # 20 rounds: one round is 5 %, a floating-point edge.
    assert game_outcome([WIN] * 10 + [LOSS] * 9 + [DRAW]) == WIN
    assert game_outcome([WIN, LOSS, DRAW]) == DRAW


def test_margin_zero_is_a_plain_majority_and_ties_draw():
    assert game_outcome([WIN] * 51 + [LOSS] * 50, margin=0.0) == WIN
    assert game_outcome([WIN, LOSS], margin=0.0) == DRAW
    assert game_outcome([DRAW] * 7, margin=0.0) == DRAW


def test_game_outcome_is_antisymmetric_and_independent_of_round_order():
    for outcomes in itertools.product((WIN, DRAW, LOSS), repeat=4):
        for margin in (0.0, 0.05, 0.3):
            assert game_outcome([-o for o in outcomes], margin) == -game_outcome(outcomes, margin)
            assert game_outcome(outcomes[::-1], margin) == game_outcome(outcomes, margin)


def test_game_outcome_refuses_bad_margin():
    for margin in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError, match="margin"):
            game_outcome([WIN], margin)


def test_score_maps_outcomes_to_points():
    assert [score(o) for o in (WIN, DRAW, LOSS)] == [1.0, 0.5, 0.0]


def test_sides_alternate_every_episode_across_rounds():
    slots = [a_player(r, e, 3) for r in range(2) for e in range(3)]
    assert slots == ["player_0", "player_1"] * 3
    assert [a_player(r, e, 3, a_starts=False) for r in range(2) for e in range(3)] == (
        ["player_1", "player_0"] * 3)
