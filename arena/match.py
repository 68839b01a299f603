"""``arena match``: head-to-head evaluation of two agents, with Wilson confidence intervals.

A match is one round of N episodes of an iterated game (``leagues.games.play_game``): no side
adapts during it, sides alternate between player_0 and player_1 every episode, and every episode's
seed derives from the match seed, so the same command gives the same tallies.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from agents.evaluate import wilson_interval
from arena import options


@dataclasses.dataclass(frozen=True)
class MatchSummary:
    """Tallies of a match from A's side, with 95 % Wilson intervals of each rate."""

    a: str
    b: str
    bodies: tuple[str, str]
    episodes: int
    seed: int
    wins: int
    draws: int
    losses: int
    mean_return_a: float
    mean_return_b: float
    mean_steps: float
    elapsed: float

    def rate(self, outcome: str) -> tuple[float, float, float]:
        """(rate, low, high) of "win", "draw" or "loss" over the episodes."""
        count = {"win": self.wins, "draw": self.draws, "loss": self.losses}[outcome]
        low, high = wilson_interval(count, self.episodes)
        return count / self.episodes, low, high

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, with the rates and their intervals."""
        out: dict[str, Any] = dataclasses.asdict(self)
        out["bodies"] = list(self.bodies)
        for outcome in ("win", "draw", "loss"):  # W-D-L, as the leaderboards
            rate, low, high = self.rate(outcome)
            out[f"{outcome}_rate"] = {"rate": rate, "low": low, "high": high}
        return out


def resolve_pair(a: str, b: str, bodies: list[str] | None = None,
                 evolve_b: bool = False) -> tuple[Any, Any]:
    """Two validated ``AgentSpec`` objects (bodies filled in) from command-line references.

    Args:
        a: ``REF[,key=value,...]`` of side A (see ``arena.league_cli``).
        b: the same for side B.
        bodies: bodies of A and B; required for built-ins, checked against checkpoints.
        evolve_b: make B an evolving lineage.

    Raises:
        ValueError: an unknown agent, file, body or lineage, or a built-in without a body.
    """
    from envs.bodies import check_body
    from leagues.roster import parse_agent, with_body

    specs = [parse_agent(a), parse_agent(b)]
    if evolve_b:
        specs[1] = dataclasses.replace(specs[1], evolving=True)
    if bodies is not None:
        for body in bodies:
            check_body(body)
        specs = [s if s.body == body else dataclasses.replace(s, body=body)
                 for s, body in zip(specs, bodies, strict=True)]
    if specs[0].label == specs[1].label:
        specs[1] = dataclasses.replace(specs[1], name=specs[1].label + " (B)")
    out = []
    for spec in specs:
        try:
            out.append(with_body(spec))
        except ValueError as err:
            hint = "; give --bodies" if "needs a body" in str(err) else ""
            raise ValueError(f"{err}{hint}") from None
    return out[0], out[1]


def run_match(a: Any, b: Any, episodes: int, seed: int = 0, max_steps: int = 500) -> MatchSummary:
    """Play a match of ``episodes`` episodes between two specs (bodies filled in).

    Raises:
        ValueError: if an agent forfeits (raises, or acts with NaN or a wrong shape).
    """
    from leagues.executors import single_threaded_torch
    from leagues.games import GameConfig, GameSpec, play_game

    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    single_threaded_torch()
    config = options.flagged(GameConfig, rounds=1, episodes=episodes, max_steps=max_steps)
    result = play_game(GameSpec(a, b, config, seed))
    if result.forfeit is not None:
        raise ValueError(f"the match stopped after {len(result.episodes)} episodes: "
                         f"{result.reason}")
    outcomes = [e.outcome for e in result.episodes]
    n = len(result.episodes)
    return MatchSummary(a.label, b.label, (a.body, b.body), n, seed, outcomes.count(1),
                        outcomes.count(0), outcomes.count(-1),
                        sum(e.return_a for e in result.episodes) / n,
                        sum(e.return_b for e in result.episodes) / n,
                        sum(e.steps for e in result.episodes) / n, result.elapsed)


def format_summary(s: MatchSummary) -> str:
    """The match as a few lines of text."""
    lines = [f"{s.a} ({s.bodies[0]}) vs {s.b} ({s.bodies[1]}): {s.episodes} episodes, seed "
             f"{s.seed}, sides swapped every episode",
             "| outcome for A | count | rate | 95 % Wilson interval |", "|---|---:|---:|---|"]
    for outcome, count in (("win", s.wins), ("draw", s.draws), ("loss", s.losses)):
        rate, low, high = s.rate(outcome)
        lines.append(f"| {outcome} | {count} | {rate:.3f} | [{low:.3f}, {high:.3f}] |")
    lines.append(f"mean return A {s.mean_return_a:+.2f}, B {s.mean_return_b:+.2f}; "
                 f"mean episode length {s.mean_steps:.0f} steps; {s.elapsed:.1f} s")
    return "\n".join(lines)


def add_match_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``arena match``."""
    from leagues.roster import AGENT_HELP

    p = sub.add_parser("match", help="head-to-head evaluation with confidence intervals",
                       description="Play N episodes between two agents, sides swapped every "
                                   "episode, seeds fixed; print wins, draws and losses of A with "
                                   "95 % Wilson intervals.")
    p.add_argument("a", metavar="A", help=AGENT_HELP)
    p.add_argument("b", metavar="B", help="the opponent, same syntax")
    p.add_argument("--episodes", type=int, default=20, help="episodes (default 20)")
    p.add_argument("--bodies", nargs=2, default=None, metavar=("BODY_A", "BODY_B"),
                   help="bodies of A and B (ant, bug, spider); required for built-ins, "
                        "read from checkpoints")
    p.add_argument("--seed", type=options.seed, default=0, help="match seed (default 0)")
    p.add_argument("--max-steps", type=int, default=500,
                   help="step limit of an episode, then a draw (default 500)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="also write the result as JSON ('-' for standard output)")
    p.set_defaults(func=_match_command)


def _match_command(args: argparse.Namespace) -> int:
    a, b = resolve_pair(args.a, args.b, args.bodies)
    summary = run_match(a, b, args.episodes, args.seed, args.max_steps)
    if args.json is not None and str(args.json) == "-":
        json.dump(summary.to_dict(), sys.stdout, indent=2)
        print()
        return 0
    print(format_summary(summary))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    return 0
