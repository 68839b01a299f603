"""Input checks the environments share: actions must be real numbers of the right shape."""

from __future__ import annotations

from typing import Any

import numpy as np


def real_actions(actions: Any, shape: tuple[int, ...], what: str,
                 finite: bool = True) -> np.ndarray:
    """``actions`` as float64 of ``shape``, refusing what is not a real number.

    Strings (even numeric ones such as ``"0.5"``), complex numbers, booleans and objects are
    refused rather than converted: numpy would parse the strings and drop imaginary parts
    silently.

    Args:
        actions: the actions as given.
        shape: the shape they must have.
        what: whose actions, for the message (e.g. ``"action of player_0 (ant)"``).
        finite: also refuse NaN and infinite values (callers that name the rows leave it off).

    Raises:
        ValueError: saying what was given and what is accepted.
    """
    try:
        raw = np.asarray(actions)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be real numbers with shape {shape}, "
                         f"got {actions!r:.80}") from None
    if raw.dtype.kind not in "iuf":
        kind = "complex numbers" if raw.dtype.kind == "c" else f"dtype {raw.dtype}"
        raise ValueError(f"{what} must be real numbers (float or int) with shape {shape}, got "
                         f"{kind}")
    if raw.shape != shape:
        raise ValueError(f"{what} must have shape {shape}, got {raw.shape}")
    out = raw.astype(np.float64, copy=False)
    if finite and not np.isfinite(out).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return out


def reset_options(options: dict[str, Any] | None, known: tuple[str, ...]) -> dict[str, Any]:
    """The reset options, refused with the known ones named if any is unknown ({} for None)."""
    options = options or {}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"unknown reset options {unknown}; known: {list(known)}")
    return options
