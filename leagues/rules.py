"""The scoring rules of an iterated adaptation game, as pure functions.

Outcomes are integers from side A's point of view: ``WIN = 1``, ``DRAW = 0``, ``LOSS = -1``.
An episode is won by the side whose opponent falls or leaves the tatami; a round is won by the
majority of its episodes; a game is won by the majority of its rounds with at least a margin
(5 % of the rounds by default), else it is a draw (Al-Shedivat et al., 2018, section 5.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

WIN, DRAW, LOSS = 1, 0, -1
OUTCOMES = (WIN, DRAW, LOSS)
DEFAULT_MARGIN = 0.05
PLAYERS = ("player_0", "player_1")


def episode_outcome(winner: str | None, a_player: str) -> int:
    """The outcome of one episode for side A.

    Args:
        winner: the env's ``info["winner"]``: "player_0", "player_1", or None (a draw at the step
            limit, both fallen at once, or an unstable simulation).
        a_player: the player slot side A had in this episode.

    Returns:
        WIN, DRAW or LOSS.

    Raises:
        ValueError: if a player name is not "player_0" or "player_1".
    """
    for label, value in (("a_player", a_player), ("winner", winner)):
        if value is not None and value not in PLAYERS:
            raise ValueError(f"{label} must be one of {PLAYERS}, got {value!r}")
    if winner is None:
        return DRAW
    return WIN if winner == a_player else LOSS


def _check_outcomes(outcomes: Sequence[int]) -> None:
    bad = [o for o in outcomes if o not in OUTCOMES]
    if bad:
        raise ValueError(f"outcomes must be 1 (win), 0 (draw) or -1 (loss), got {bad!r}")


def majority(outcomes: Sequence[int]) -> int:
    """A round's outcome: WIN if A won more episodes than B, LOSS if fewer, else DRAW.

    Args:
        outcomes: episode outcomes for A (at least one).

    Raises:
        ValueError: on an empty sequence or a value other than 1, 0, -1.
    """
    if len(outcomes) == 0:
        raise ValueError("a round needs at least one episode outcome")
    _check_outcomes(outcomes)
    balance = sum(outcomes)
    return (balance > 0) - (balance < 0)


def game_outcome(round_outcomes: Sequence[int], margin: float = DEFAULT_MARGIN) -> int:
    """A game's outcome: the majority of rounds, if it is at least ``margin`` of all rounds.

    A wins when ``(rounds A won - rounds B won) / rounds >= margin`` and A won more rounds than B;
    B wins symmetrically; anything closer is a draw. ``margin = 0`` is a plain majority.

    Args:
        round_outcomes: round outcomes for A (at least one).
        margin: the least winning margin as a fraction of the rounds, in [0, 1).

    Raises:
        ValueError: on an empty sequence, a bad outcome value or a margin outside [0, 1).
    """
    if not (isinstance(margin, int | float) and math.isfinite(margin) and 0 <= margin < 1):
        raise ValueError(f"margin must be a fraction in [0, 1), got {margin!r}")
    if len(round_outcomes) == 0:
        raise ValueError("a game needs at least one round outcome")
    _check_outcomes(round_outcomes)
    balance = sum(round_outcomes)
    # A small tolerance so that a lead of exactly margin * rounds (1 of 20 at 5 %) counts despite
    # floating-point rounding of the product.
    needed = margin * len(round_outcomes) - 1e-9
    if balance > 0 and balance >= needed:
        return WIN
    if balance < 0 and -balance >= needed:
        return LOSS
    return DRAW


def score(outcome: int) -> float:
    """A's score for rating and payoff tables: 1 for a win, 0.5 for a draw, 0 for a loss."""
    _check_outcomes([outcome])
    return (outcome + 1) / 2


def a_player(round_index: int, episode_index: int, episodes_per_round: int,
             a_starts: bool = True) -> str:
    """The slot of side A in an episode: sides alternate every episode across the whole game.

    Args:
        round_index: 0-based round.
        episode_index: 0-based episode within the round.
        episodes_per_round: episodes in every round.
        a_starts: whether A is player_0 in the game's first episode.
    """
    k = round_index * episodes_per_round + episode_index
    return PLAYERS[(k + (0 if a_starts else 1)) % 2]


# Actions are torques in [-1, 1] (the actuators clip larger ones, and the control cost is paid on
# the action as given); beyond this magnitude an action is a bug, and squared it would overflow
# the control cost to -inf.
ACTION_LIMIT = 1e3


def action_problem(action: object, shape: tuple[int, ...]) -> str | None:
    """What is wrong with an agent's action, or None if it is a legal one.

    Legal: a real numeric array (or sequence) of ``shape`` with finite entries within
    +-ACTION_LIMIT. Strings (even numeric ones), complex numbers, objects and booleans are not.
    """
    import numpy as np

    try:
        raw = np.asarray(action)
    except (TypeError, ValueError):
        return f"returned a non-numeric action {action!r:.80}"
    if raw.dtype.kind == "c":
        return "returned a complex action (torques are real numbers)"
    if raw.dtype.kind not in "iuf":
        return f"returned a non-numeric action of dtype {raw.dtype} ({action!r:.80})"
    if raw.shape != shape:
        return f"returned an action of shape {raw.shape}, expected {shape}"
    if not np.all(np.isfinite(raw)):
        return "returned an action with NaN or inf"
    if np.abs(raw).max(initial=0.0) > ACTION_LIMIT:
        return (f"returned an action of magnitude {np.abs(raw).max():.3g} (torques are in "
                f"[-1, 1]; beyond +-{ACTION_LIMIT:g} is refused)")
    return None
