"""Argument types the commands share, so that bad values get argparse's one-line error with the
flag's name."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def seed(text: str) -> int:
    """A seed: an integer >= 0 (numpy's seeding refuses negative ones)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"seeds are integers >= 0, got {value}")
    return value


def add_json(parser: argparse.ArgumentParser) -> None:
    """``--json FILE``: also write the command's result as JSON ('-': standard output)."""
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the result as JSON ('-' for standard output only)")


def write_json(target: Path | None, payload: object) -> bool:
    """Write ``payload`` where ``--json`` says; whether it went to standard output (then the
    command prints nothing else)."""
    if target is None:
        return False
    text = json.dumps(payload, indent=2, default=str) + "\n"
    if str(target) == "-":
        sys.stdout.write(text)
        return True
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return False
