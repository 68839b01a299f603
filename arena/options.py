"""Argument types the commands share, so that bad values get argparse's one-line error with the
flag's name."""

from __future__ import annotations

import argparse


def seed(text: str) -> int:
    """A seed: an integer >= 0 (numpy's seeding refuses negative ones)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"seeds are integers >= 0, got {value}")
    return value
