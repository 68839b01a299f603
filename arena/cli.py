"""The ``arena`` command line.

Commands:
    arena demo        a league tournament among the zoo agents; leaderboard printed, report written
    arena train       train an agent (ppo, maml, rl2, norml), resumable, metrics to CSV
    arena match       head-to-head evaluation of two agents with confidence intervals
    arena game        one iterated adaptation game
    arena tournament  a round-robin or random tournament into a league file
    arena league      run, inspect or report a league
    arena watch       watch a game in the pygame viewer, or record it
    arena replay      replay a stored episode of a league file
    arena report      a Markdown and HTML report of a league file, with plots
    arena zoo         the trained agents shipped in agents/zoo
    arena envs        list the registered environment ids
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from arena.demo import add_demo_parser
from arena.league_cli import add_league_parsers
from arena.match import add_match_parser
from arena.report import add_report_parser
from arena.train_cli import add_train_parser
from arena.watch import add_replay_parser, add_watch_parser
from arena.zoo import add_zoo_parser

# mujoco picks its OpenGL backend at import: default to EGL on headless machines.
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("MUJOCO_GL", "egl")


def _envs(args: argparse.Namespace) -> int:
    import gymnasium

    import envs.nonstationary_locomotion
    import envs.robosumo  # noqa: F401

    for env_id in sorted(gymnasium.registry):
        if env_id.startswith(("RoboSumo-", "NonstationaryLocomotion-")):
            print(env_id)
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("robosumo-arena")
    except PackageNotFoundError:
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arena", description="The RoboSumo adaptation arena.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_demo_parser(sub)
    add_train_parser(sub)
    add_match_parser(sub)
    add_league_parsers(sub)
    add_watch_parser(sub)
    add_replay_parser(sub)
    add_report_parser(sub)
    add_zoo_parser(sub)
    p = sub.add_parser("envs", help="list the registered environment ids")
    p.set_defaults(func=_envs)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `arena` alone: what there is to run
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except ValueError as err:
        parser.exit(2, f"arena {args.command}: error: {err}\n")
    except BrokenPipeError:
        # the reader went away (`arena zoo | head`): stop quietly, as other tools do
        # (what is still buffered goes nowhere rather than into a second error at exit)
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        # Everything written so far is committed (games, training states): say how to go on.
        print(f"\narena {args.command}: interrupted; run the same command to resume",
              file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
