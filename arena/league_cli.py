"""``arena game``, ``arena tournament`` and ``arena league``: iterated games and competitions.

Agents are written ``REF[,key=value,...]``: REF is "random", "idle", "zoo:<name>[@<version>]", a
checkpoint path or (with ``evolve``) a lineage; keys are body, name, kind, start, stride, adapt
(own, none or tracking: ``agents.load``), and the flags evolve and deterministic. Examples:
``random,body=bug``, ``zoo:selfplay-ant,evolve,start=60``, ``zoo:selfplay-bug,adapt=tracking``,
``runs/x/lineage/v0003.safetensors,name=mine``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from arena import options
from leagues.games import DEFAULT_ACT_TIMEOUT, DEFAULT_ADAPT_TIMEOUT
from leagues.roster import AGENT_HELP, parse_agent


def _add_game_options(p: argparse.ArgumentParser, rounds: int = 10) -> None:
    g = p.add_argument_group("game")
    g.add_argument("--rounds", type=int, default=rounds, help=f"rounds per game (default {rounds})")
    g.add_argument("--episodes", type=int, default=3, help="episodes per round (default 3)")
    g.add_argument("--max-steps", type=int, default=500, help="steps per episode (default 500)")
    g.add_argument("--margin", type=float, default=0.05,
                   help="least lead, as a fraction of rounds, that wins a game (default 0.05)")
    g.add_argument("--seed", type=options.seed, default=0,
                   help="seed of pairings and games (default 0)")
    g.add_argument("--act-timeout", type=float, default=DEFAULT_ACT_TIMEOUT, metavar="S",
                   help=f"seconds an agent may take per action before it forfeits "
                        f"(default {DEFAULT_ACT_TIMEOUT:g})")
    g.add_argument("--adapt-timeout", type=float, default=DEFAULT_ADAPT_TIMEOUT, metavar="S",
                   help=f"seconds an agent may take to load or adapt between rounds "
                        f"(default {DEFAULT_ADAPT_TIMEOUT:g})")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    r = p.add_argument_group("execution")
    r.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="play in this process (default) or on Ray workers")
    r.add_argument("--workers", type=options.count(1), default=1,
                   help="parallel games on Ray (default 1)")
    r.add_argument("--address", default=None,
                   help="join a running Ray cluster (auto or host:port) instead of starting one")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_league_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``game``, ``tournament`` and ``league`` on the ``arena`` subcommand parser."""
    p = sub.add_parser("game", help="one iterated adaptation game between two agents",
                       description="Play an iterated adaptation game: rounds of episodes, each "
                                   "side adapting between rounds. " + __doc__.split("\n\n")[1])
    p.add_argument("a", metavar="A", help=AGENT_HELP)
    p.add_argument("b", metavar="B", help="the opponent, same syntax")
    _add_game_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    options.add_json(p)
    p.set_defaults(func=run_game)

    p = sub.add_parser("tournament", help="a round-robin or random tournament, resumable",
                       description="Play a tournament into a league file; run the same command "
                                   "again to resume it. " + __doc__.split("\n\n")[1])
    p.add_argument("agents", nargs="+", metavar="AGENT", help=AGENT_HELP)
    p.add_argument("--db", type=Path, required=True, help="league file (SQLite)")
    p.add_argument("--format", choices=("round-robin", "random"), default="round-robin")
    p.add_argument("--games-per-pair", type=options.count(1), default=1,
                   help="round robin (default 1)")
    p.add_argument("--games", type=options.count(0), default=0,
                   help="games of a random tournament")
    _add_game_options(p)
    _add_run_options(p)
    options.add_json(p)
    p.set_defaults(func=run_tournament)

    league = sub.add_parser("league", help="run, inspect or report a league",
                            description="Leagues: PFSP matchmaking or evolution in a league file.")
    cmds = league.add_subparsers(dest="league_command", required=True, metavar="ACTION")
    p = cmds.add_parser("run", help="start or resume a league",
                        description="Start a league (give agents) or resume the one in --db "
                                    "(give no agents). " + __doc__.split("\n\n")[1])
    p.add_argument("agents", nargs="*", metavar="AGENT", help=AGENT_HELP)
    p.add_argument("--db", type=Path, required=True, help="league file (SQLite)")
    p.add_argument("--mode", choices=("pfsp", "evolution"), default="pfsp")
    p.add_argument("--matchmaking", choices=("pfsp-hard", "pfsp-var", "uniform"),
                   default="pfsp-hard", help="pfsp mode: opponent weighting (default pfsp-hard)")
    p.add_argument("--batches", type=int, default=10, help="pfsp mode: batches (default 10)")
    p.add_argument("--batch-size", type=int, default=0,
                   help="pfsp mode: games per batch (default: one per member)")
    p.add_argument("--snapshot-every", type=int, default=0,
                   help="pfsp mode: add lineage snapshots every N batches (default never)")
    p.add_argument("--generations", type=options.count(1), default=10,
                   help="evolution: generations")
    p.add_argument("--copies", type=options.count(1), default=1,
                   help="evolution: slots per agent")
    p.add_argument("--pairs", type=options.count(0), default=0,
                   help="evolution: games per generation (default: all disjoint pairs)")
    _add_game_options(p)
    _add_run_options(p)
    options.add_json(p)
    p.set_defaults(func=run_league)
    for name, help_ in (("status", "what a league file holds"),
                        ("report", "leaderboard, payoff table and population shares")):
        p = cmds.add_parser(name, help=help_, description=help_[0].upper() + help_[1:] + ".")
        p.add_argument("--db", type=Path, required=True, help="league file (SQLite)")
        options.add_json(p)
        if name == "report":
            p.add_argument("--out", type=Path, default=None, help="also write it to this file")
            p.add_argument("--history", type=Path, default=None,
                           help="write every rating update (game, agent, mu, sigma, ordinal, elo) "
                                "to this CSV file, for plots")
        p.set_defaults(func=league_status if name == "status" else league_report)


def _game_config(args: argparse.Namespace) -> Any:
    from leagues.games import GameConfig

    return options.flagged(GameConfig, rounds=args.rounds, episodes=args.episodes,
                           max_steps=args.max_steps, margin=args.margin,
                           act_timeout=args.act_timeout, adapt_timeout=args.adapt_timeout)


@contextlib.contextmanager
def _storage_errors() -> Iterator[None]:
    """League-file problems are the user's to fix: report them like bad arguments."""
    from leagues.storage import StorageError

    try:
        yield
    except StorageError as err:
        raise ValueError(str(err)) from None


def run_game(args: argparse.Namespace) -> int:
    """``arena game``: play one game and print its rounds and result."""
    from agents.progress import progress_bar
    from leagues.executors import single_threaded_torch
    from leagues.games import GameSpec, play_game
    from leagues.roster import with_body

    a, b = with_body(parse_agent(args.a)), with_body(parse_agent(args.b))
    config = _game_config(args)
    single_threaded_torch()
    bar = progress_bar(config.rounds * config.episodes, unit="episodes", desc="game",
                       disable=args.no_progress)

    def progress(event: Any) -> None:
        if event.done:
            bar.update()

    result = play_game(GameSpec(a, b, config, args.seed), observer=progress)
    bar.close()
    if options.write_json(args.json, {"a": a.to_dict(), "b": b.to_dict(), "seed": args.seed,
                                      "config": config.to_dict(),
                                      **dataclasses.asdict(result)}):
        return 0
    print(f"{a.label} ({a.body}) vs {b.label} ({b.body}): {config.rounds} rounds x "
          f"{config.episodes} episodes, seed {args.seed}")
    for r in result.rounds:
        versions = "".join(f", {side} v{v}" for side, v in (("A", r.a_version),
                                                              ("B", r.b_version)) if v)
        print(f"  round {r.round + 1:3d}: {r.wins}-{r.draws}-{r.losses} (W-D-L for A) -> "
              f"{_word(r.outcome)}{versions}")
    if result.forfeit:
        print(f"forfeit: {result.reason}")
    wins = sum(r.outcome == 1 for r in result.rounds)
    losses = sum(r.outcome == -1 for r in result.rounds)
    print(f"game: {_word(result.outcome)} for {a.label} (rounds {wins}-{losses}, "
          f"{result.elapsed:.1f} s)")
    return 0


def _word(outcome: int) -> str:
    return {1: "win", 0: "draw", -1: "loss"}[outcome]


def _execute(competition: Any, args: argparse.Namespace) -> None:
    from agents.progress import progress_bar
    from leagues.backends import make_executor
    from leagues.report import markdown_report

    counts = competition.db.counts()
    total = competition.total_games()
    bar = progress_bar(total, counts["done"] if total else 0, "games", desc=competition.kind,
                       disable=args.no_progress)
    with make_executor(args.backend, workers=args.workers, address=args.address) as executor:
        competition.run(executor, on_game=lambda game_id, outcome: bar.update())
    bar.close()
    if not options.write_json(getattr(args, "json", None), league_json(competition.db)):
        print(markdown_report(competition.db, full=False))


def league_json(db: Any) -> dict[str, Any]:
    """What a league file holds, as JSON-ready data: status (games by status as ``counts``,
    batches scheduled counted from 1 as ``batches``), standings, newest games."""
    from leagues.report import GAMES_SHOWN, standings, status

    info = status(db)
    return {**info, "counts": info["games"], "batches": info["last_batch"] + 1,
            "standings": [{**dataclasses.asdict(s), "ordinal": s.ordinal} for s in standings(db)],
            "games": [dict(r) for r in db.played_games(GAMES_SHOWN)],
            "void": [dict(r) for r in db.void_games()]}


def run_tournament(args: argparse.Namespace) -> int:
    """``arena tournament``: start or resume a tournament, then print the leaderboard."""
    from leagues.tournament import Tournament, TournamentConfig

    if args.format == "random" and args.games < 1:
        raise ValueError(f"--format random needs --games >= 1, got {args.games}")
    config = TournamentConfig(format=args.format, games_per_pair=args.games_per_pair,
                              games=args.games, game=_game_config(args), seed=args.seed)
    with _storage_errors():
        tournament = Tournament(args.db, [parse_agent(a) for a in args.agents], config)
        _execute(tournament, args)
        tournament.close()
    return 0


def run_league(args: argparse.Namespace) -> int:
    """``arena league run``: start a league (agents given) or resume the one in the file."""
    from leagues.evolution import Evolution, EvolutionConfig
    from leagues.league import League, LeagueConfig
    from leagues.storage import LeagueDB
    from leagues.tournament import Tournament

    with _storage_errors():
        if not args.agents:
            with LeagueDB(args.db) as db:
                kind = db.get_meta("kind")
            classes = {"league": League, "evolution": Evolution, "tournament": Tournament}
            if kind is None:
                raise ValueError(f"{args.db} holds no league yet: give the agents to start one")
            competition = classes[kind](args.db)
        elif args.mode == "pfsp":
            config = options.flagged(LeagueConfig, matchmaking=args.matchmaking,
                                     batches=args.batches, batch_size=args.batch_size,
                                     snapshot_every=args.snapshot_every,
                                     game=_game_config(args), seed=args.seed)
            competition = League(args.db, [parse_agent(a) for a in args.agents], config)
        else:
            config = EvolutionConfig(generations=args.generations, copies=args.copies,
                                     pairs=args.pairs, game=_game_config(args), seed=args.seed)
            competition = Evolution(args.db, [parse_agent(a) for a in args.agents], config)
        _execute(competition, args)
        competition.close()
    return 0


def _open_existing(path: Path) -> Any:
    from leagues.storage import LeagueDB

    if not path.is_file():
        raise ValueError(f"no league file at {path}")
    return LeagueDB(path)


def league_status(args: argparse.Namespace) -> int:
    """``arena league status``: kind, config, agents and games by status."""
    from leagues.report import status

    with _storage_errors(), _open_existing(args.db) as db:
        info = status(db)
        if options.write_json(args.json, league_json(db)):
            return 0
    games = info["games"]
    batches = info["last_batch"] + 1
    print(f"{args.db}: {info['kind']} with {info['agents']} agents; games: {games['done']} "
          f"done, {games['pending']} pending, {games['void']} void; {batches} "
          f"batch{'es' if batches != 1 else ''} scheduled")
    print("config:")
    print(_indented(info["config"]))
    with _open_existing(args.db) as db:
        newest = db.played_games(limit=5)
    if newest:
        print("newest games: " + ", ".join(f"{r['id']} ({r['a_name']} vs {r['b_name']})"
                                            for r in newest))
        print(f"replay one: arena replay --db {args.db} --game {newest[0]['id']} --round 1 "
              f"--episode 1")
    return 0


def _indented(config: dict[str, Any], depth: int = 1) -> str:
    lines = []
    for key, value in config.items():
        if isinstance(value, dict) and value:
            lines.append("  " * depth + f"{key}:")
            lines.append(_indented(value, depth + 1))
        elif isinstance(value, dict | list | tuple):  # a Python literal reads as code
            shown = ", ".join(str(v) for v in value) if value else "none"
            lines.append("  " * depth + f"{key}: {shown}")
        else:
            lines.append("  " * depth + f"{key}: {value}")
    return "\n".join(lines)


def league_report(args: argparse.Namespace) -> int:
    """``arena league report``: leaderboard, payoff table and population shares in Markdown."""
    import csv

    from leagues.report import markdown_report, rating_history

    with _storage_errors(), _open_existing(args.db) as db:
        text = markdown_report(db)
        history = rating_history(db) if args.history is not None else []
        data = league_json(db)
    if options.write_json(args.json, data):
        return 0
    print(text)
    if args.history is not None:
        args.history.parent.mkdir(parents=True, exist_ok=True)
        with args.history.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, ["game", "name", "mu", "sigma", "ordinal", "elo"])
            writer.writeheader()
            writer.writerows(history)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0
