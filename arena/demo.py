"""``arena demo``: a league tournament among the zoo agents, its leaderboard and its report.

Entrants: the agents of the population experiments (``scripts/population.py``): for every
body with a RoboSumo lineage in the zoo, the lineage's newest snapshot frozen (no adaptation)
and with PPO tracking, and that body's meta-learners (MAML, RL^2, NoRML, adapting between
rounds), body by body; then the built-ins ``random`` and ``idle`` as a floor. With an empty zoo
the built-ins play alone, one per body. Every pair plays one iterated adaptation game (round
robin) on the embedded defaults: in-process executor, one SQLite league file; then the
leaderboard is printed and the report written.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena import options

DEFAULT_OUT = Path("runs") / "demo"


@dataclass(frozen=True)
class DemoPlan:
    """What a demo plays.

    Attributes:
        rounds: rounds per game.
        episodes: episodes per round.
        max_steps: step limit of an episode.
        zoo_agents: at most this many zoo entries enter.
        tracking: whether each lineage also enters with PPO tracking.
    """

    rounds: int
    episodes: int
    max_steps: int
    zoo_agents: int
    tracking: bool


FULL = DemoPlan(rounds=4, episodes=3, max_steps=200, zoo_agents=12, tracking=True)
QUICK = DemoPlan(rounds=2, episodes=1, max_steps=60, zoo_agents=2, tracking=False)


def demo_entrants(plan: DemoPlan) -> tuple[list[Any], str]:
    """The demo's agents and a sentence saying where they come from."""
    from arena.zoo import is_replicate, zoo_entries
    from leagues.roster import AgentSpec

    # body by body: the self-play lineage first (the reference the others are measured
    # against), then that body's single checkpoints (the meta-learners) by name; further
    # training seeds of a meta-learner (``<name>-seed<k>``, replicates) stay out
    entries = sorted((e for e in zoo_entries() if e.sumo and not is_replicate(e.name)),
                     key=lambda e: (e.body or "", not e.versions, e.name))
    entries = entries[:plan.zoo_agents]
    specs = []
    for e in entries:
        specs.append(AgentSpec(f"zoo:{e.name}", name=e.name))
        if e.versions and plan.tracking:
            specs.append(AgentSpec(f"zoo:{e.name}", name=f"{e.name}+tracking",
                                   adaptation="tracking"))
    if entries:
        bodies = sorted({e.body for e in entries})[:1]
        lineages = [e.name for e in entries if e.versions]
        singles = [e.name for e in entries if not e.versions]
        parts = []
        if lineages:
            parts.append(f"zoo agents: {', '.join(lineages)}"
                         + (" (also with PPO tracking)" if plan.tracking else ""))
        if singles:
            parts.append(f"zoo meta-learners: {', '.join(singles)}")
        note = "; ".join([*parts, "built-ins random and idle as a floor"])
    else:
        bodies = ["ant", "bug", "spider"][:2 if plan is QUICK else 3]
        note = ("the zoo has no RoboSumo agents yet (`python scripts/selfplay_lineages.py` "
                "trains them): the built-ins play alone")
    for body in bodies:
        for ref in ("random", "idle"):
            specs.append(AgentSpec(ref, body=body, name=f"{ref}-{body}"))
    return specs, note


def add_demo_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``arena demo``."""
    p = sub.add_parser("demo", help="a league tournament among the zoo agents, with its report",
                       description="Run a round-robin tournament of iterated adaptation games "
                                   "among the zoo agents (each body's self-play lineage, "
                                   "frozen and tracking, and meta-learners, and random/idle as "
                                   "a floor), print the "
                                   "leaderboard and write the report. A few minutes on 2 cores; "
                                   "--quick takes seconds.")
    p.add_argument("--quick", action="store_true",
                   help=f"a small variant: {QUICK.rounds} rounds x {QUICK.episodes} episode x "
                        f"{QUICK.max_steps} steps, at most {QUICK.zoo_agents} zoo agents")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="play in this process (default) or on 2 Ray workers")
    p.add_argument("--out", type=Path, default=None,
                   help=f"report directory (default {DEFAULT_OUT}, or {DEFAULT_OUT}-quick)")
    p.add_argument("--db", type=Path, default=None,
                   help="league file; an existing one is resumed (default: a fresh "
                        "league.sqlite in the report directory)")
    p.add_argument("--seed", type=options.seed, default=0, help="seed of every game (default 0)")
    p.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """``arena demo``: play the tournament, print the leaderboard, write the report."""
    from agents.progress import progress_bar
    from arena.report import write_report
    from leagues.backends import make_executor
    from leagues.executors import single_threaded_torch
    from leagues.games import GameConfig
    from leagues.report import leaderboard_markdown, standings
    from leagues.storage import StorageError
    from leagues.tournament import Tournament, TournamentConfig

    plan = QUICK if args.quick else FULL
    out = args.out or (DEFAULT_OUT.with_name(DEFAULT_OUT.name + "-quick") if args.quick
                       else DEFAULT_OUT)
    db_path = args.db or out / "league.sqlite"
    if args.db is None:  # the demo's own file: start afresh every time
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(str(db_path) + suffix).unlink(missing_ok=True)
    specs, note = demo_entrants(plan)
    config = TournamentConfig(game=GameConfig(rounds=plan.rounds, episodes=plan.episodes,
                                              max_steps=plan.max_steps), seed=args.seed)
    print(f"arena demo: {len(specs)} agents, round robin, {plan.rounds} rounds x "
          f"{plan.episodes} episodes (at most {plan.max_steps} steps) per game, seed "
          f"{args.seed}, {args.backend} backend")
    print(note, flush=True)  # before the games' progress on stderr, also in a log
    single_threaded_torch()
    start = time.perf_counter()
    try:
        tournament = Tournament(db_path, specs, config)
        bar = progress_bar(tournament.total_games(), tournament.db.counts()["done"], "games",
                           desc="demo")
        workers = 2 if args.backend == "ray" else 1
        with make_executor(args.backend, workers=workers) as executor:
            tournament.run(executor, on_game=lambda game_id, outcome: bar.update())
        bar.close()
        table = standings(tournament.db)
        games = tournament.db.counts()["done"]
        tournament.close()
    except StorageError as err:
        raise ValueError(f"{err}; remove {db_path} or pass another --db") from None
    elapsed = time.perf_counter() - start
    print(f"\n{games} games in {elapsed:.0f} s\n")
    print(leaderboard_markdown(table))
    md, page = write_report(db_path, out)
    best, second = table[0].name, table[1].name
    print(f"\nreport: {md} and {page}")
    print(f"watch the top two: arena watch {_ref(specs, best)} {_ref(specs, second)} "
          f"--rounds {plan.rounds}")
    print(f"replay a stored episode: arena replay --db {db_path} --game 1 --round 1 --episode 1")
    return 0


def _ref(specs: list[Any], name: str) -> str:
    """The command-line reference of the entrant named ``name``."""
    spec = next(s for s in specs if s.label == name)
    return spec.ref + (f",body={spec.body}" if spec.ref in ("random", "idle") else "")
