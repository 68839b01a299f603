"""The paper's population experiments: every method meets every body, then evolution.

The population, for each body of ``--bodies``:
- no adaptation and PPO tracking: ``--versions`` snapshots of the body's self-play lineage
  ``selfplay-<body>`` under ``--zoo`` (the newest, then evenly spaced back over the newer half of
  the lineage), frozen or with PPO updates on the game's recent episodes between rounds;
- the meta-learners of that body in ``--zoo`` (files ``maml-sumo-<body>*``, ``rl2-sumo-<body>*``,
  ``norml-sumo-<body>*``), each adapting its own way between rounds;
- any ``--extra REF[,key=value]`` entrant (the ``arena tournament`` syntax; give it ``kind=``,
  its method label).

1. A round-robin tournament of iterated adaptation games (both sides adapting, across bodies
   too), ``--games-per-pair`` games per pair with sides swapped: win rates of each method against
   each other method by body (the shape of the paper's Table 3, Wilson intervals, games as the
   unit), the TrueSkill leaderboard of the whole population (mu - 3 sigma) and the ranks each
   method's agents take.
2. An evolution (``leagues.Evolution``): every entrant starts with ``--copies`` slots; each
   generation random disjoint pairs of slots play, the loser's slot takes a copy of the winner.
   The share of each method per generation is plotted.

League files go under ``--out`` (resumable: rerun the command to finish a killed run). Writes the
``population`` section of docs/results.md, docs/results/population.json and two plots.

Usage:
    python scripts/population.py [--zoo agents/zoo] [--bodies ant bug spider] [--versions 1]
        [--rounds 10] [--episodes 3] [--generations 10] [--copies 4] [--backend local]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from resultsdoc import ROOT, commit, machine, save_figure, write_section

import agents
from agents.lineage import Lineage
from arena.zoo import is_replicate
from leagues import (
    AgentSpec,
    Evolution,
    EvolutionConfig,
    GameConfig,
    Tournament,
    TournamentConfig,
    make_executor,
    population_shares,
)
from leagues.executors import single_threaded_torch
from leagues.population import by_body, cell, matrix_markdown, method_matrix, rank_by_method
from leagues.report import leaderboard_markdown, standings
from leagues.roster import parse_agent

META_LEARNERS = {"maml": "MAML", "rl2": "RL^2", "norml": "NoRML"}  # file prefix -> method
BASELINES = {"none": "no adaptation", "tracking": "tracking"}  # adaptation -> method
METHOD_ORDER = ["MAML", "RL^2", "NoRML", "tracking", "no adaptation"]
JSON_PATH = ROOT / "docs" / "results" / "population.json"


def lineage_of(zoo: Path, body: str) -> Lineage:
    """``selfplay-<body>`` in a zoo folder, or in a folder of training runs
    (``selfplay-<body>/lineage/selfplay-<body>``)."""
    lineage = Lineage(zoo, f"selfplay-{body}")
    if lineage.latest() is None:
        lineage = Lineage(zoo / f"selfplay-{body}" / "lineage", f"selfplay-{body}")
    if lineage.latest() is None:
        raise SystemExit(f"--zoo {zoo} holds no lineage selfplay-{body} (looked in "
                         f"{zoo / f'selfplay-{body}'} and its lineage/ folder)")
    return lineage


def pick_versions(versions: list[int], k: int) -> list[int]:
    """The newest stored version, then ``k - 1`` more evenly spaced (by position among the stored
    snapshots) back to the oldest of the newer half; newest first.

    Raises:
        SystemExit: the newer half holds fewer than ``k`` snapshots.
    """
    newer = versions[len(versions) // 2:]
    if k > len(newer):
        raise SystemExit(f"--versions {k}: the newer half of the lineage holds only "
                         f"{len(newer)} snapshots ({', '.join(map(str, newer))})")
    if k == len(newer):
        return newer[::-1]
    step = (len(newer) - 1) / max(1, k - 1)
    return sorted({newer[len(newer) - 1 - round(i * step)] for i in range(k)}, reverse=True)


def relative(path: Path | str) -> str:
    """A path relative to the repository where it lies inside it (records name no machine)."""
    if not Path(path).exists():  # a built-in or a zoo: reference
        return str(path)
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def reference(path: Path, version: int | None = None) -> str:
    """How an entrant names its checkpoint: ``zoo:<name>[@<version>]`` for one of the
    repository's zoo (the league files then resume in any clone), else its absolute path (they
    resume from any working directory)."""
    path = path.resolve()
    zoo = Path(agents.ZOO_DIR).resolve()
    if path.is_relative_to(zoo):
        inside = path.relative_to(zoo)
        if version is None and len(inside.parts) == 1:
            return f"zoo:{path.stem}"
        if version is not None and len(inside.parts) == 2:
            return f"zoo:{inside.parts[0]}@{version}"
    return str(path)


def population(zoo: Path, bodies: list[str], versions: int, extra: list[str],
               replicates: bool = False) -> list[AgentSpec]:
    """The entrants, every one with its method as ``kind`` and a checkpoint reference that
    resumes anywhere (``reference``); ``replicates`` adds the meta-learners' further training
    seeds (``<method>-sumo-<body>-seed<k>``)."""
    specs = []
    for body in bodies:
        lineage = lineage_of(zoo, body)
        for v in pick_versions(lineage.versions(), versions):
            ref = reference(lineage.path(v), v)
            for adaptation, method in BASELINES.items():
                specs.append(AgentSpec(ref, name=f"{adaptation}-{body}@{v}", kind=method,
                                       adaptation=adaptation))
        found = []
        for prefix, method in META_LEARNERS.items():
            for path in sorted(zoo.glob(f"{prefix}-sumo-{body}*.safetensors")):
                if not replicates and is_replicate(path.stem):
                    continue
                specs.append(AgentSpec(reference(path), name=path.stem, kind=method))
                found.append(path.name)
        print(f"{body}: lineage {relative(lineage.directory)}, meta-learners: "
              + (", ".join(found) if found else f"none in {relative(zoo)}"), flush=True)
    for text in extra:
        spec = parse_agent(text)
        if not spec.kind:
            raise SystemExit(f"--extra {text!r} needs kind=<method> (its label in the tables)")
        specs.append(spec)
    if len(specs) < 2:
        raise SystemExit(f"the population has {len(specs)} agents; it needs at least 2")
    return specs


def run(competition, backend: str, workers: int) -> float:
    """Play a competition to the end; wall seconds."""
    start = time.perf_counter()
    with make_executor(backend, workers=workers) as executor:
        competition.run(executor)
    return time.perf_counter() - start


def plot_shares(shares: list[dict[str, float]], methods: list[str], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    gens = np.arange(len(shares))
    ax.stackplot(gens, [[s.get(m, 0.0) for s in shares] for m in methods], labels=methods)
    ax.set_xlabel("generation")
    ax.set_ylabel("share of the population")
    ax.set_xlim(0, max(1, len(shares) - 1))
    ax.set_ylim(0, 1)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    return save_figure(fig, path)


def plot_ranks(ranks: dict[str, list[int]], methods: list[str], size: int, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 0.5 + 0.45 * len(methods)))
    for i, m in enumerate(methods):
        ax.scatter(ranks.get(m, []), [i] * len(ranks.get(m, [])), s=30)
    ax.set_yticks(range(len(methods)), methods)
    ax.set_xlim(0.5, size + 0.5)
    ax.invert_yaxis()
    ax.set_xlabel("rank on the TrueSkill leaderboard (1 = best, by mu - 3 sigma)")
    return save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", type=Path, default=ROOT / "agents" / "zoo",
                        help="a zoo folder, or a folder of training runs (lineages and "
                             "meta-learners)")
    parser.add_argument("--bodies", nargs="+", default=["ant", "bug", "spider"],
                        choices=["ant", "bug", "spider"])
    parser.add_argument("--versions", type=int, default=1,
                        help="lineage snapshots per body for no adaptation and tracking")
    parser.add_argument("--extra", nargs="*", default=[], metavar="REF[,key=value]")
    parser.add_argument("--replicates", action="store_true",
                        help="also enter the meta-learners' further training seeds (zoo files "
                             "<method>-sumo-<body>-seed<k>)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds per game (paper: 100)")
    parser.add_argument("--episodes", type=int, default=3, help="episodes per round")
    parser.add_argument("--max-steps", type=int, default=500, help="steps per episode")
    parser.add_argument("--games-per-pair", type=int, default=2,
                        help="tournament games per pair, sides swapped")
    parser.add_argument("--generations", type=int, default=10, help="evolution generations")
    parser.add_argument("--copies", type=int, default=4,
                        help="evolution slots per entrant at the start (paper: 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=("local", "ray"), default="local")
    parser.add_argument("--workers", type=int, default=1, help="parallel games (Ray)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder of the league files and the entrants, resumed if present "
                             "(default runs/population, or runs/population-trial with "
                             "--print-only)")
    parser.add_argument("--print-only", action="store_true",
                        help="print the section, write no docs (for a trial run)")
    args = parser.parse_args()
    for flag in ("versions", "rounds", "episodes", "max_steps", "games_per_pair", "generations",
                 "copies", "workers"):
        if getattr(args, flag) < 1:
            raise SystemExit(f"--{flag.replace('_', '-')} must be >= 1, "
                             f"got {getattr(args, flag)}")

    args.out = args.out or ROOT / "runs" / ("population-trial" if args.print_only
                                            else "population")
    args.out.mkdir(parents=True, exist_ok=True)
    entrants = args.out / "entrants.json"
    if entrants.exists():  # a run to finish: the population it started with, not the zoo's now
        specs = [AgentSpec.from_dict(d) for d in json.loads(entrants.read_text())]
        print(f"resuming the population of {relative(entrants)} ({len(specs)} agents)")
    else:
        specs = population(args.zoo, args.bodies, args.versions, args.extra, args.replicates)
        entrants.write_text(json.dumps([s.to_dict() for s in specs], indent=1) + "\n")
    game = GameConfig(rounds=args.rounds, episodes=args.episodes, max_steps=args.max_steps)
    single_threaded_torch()
    n = len(specs)
    print(f"population: {n} agents; tournament {n * (n - 1) // 2 * args.games_per_pair} games; "
          f"evolution {args.generations} generations of at most {n * args.copies // 2} games",
          flush=True)
    tournament = Tournament(args.out / "tournament.sqlite", specs,
                            TournamentConfig(games_per_pair=args.games_per_pair, game=game,
                                             seed=args.seed))
    t_tournament = run(tournament, args.backend, args.workers)
    evolution = Evolution(args.out / "evolution.sqlite", specs,
                          EvolutionConfig(generations=args.generations, copies=args.copies,
                                          game=game, seed=args.seed))
    t_evolution = run(evolution, args.backend, args.workers)

    methods = [m for m in METHOD_ORDER if any(s.kind == m for s in specs)]
    methods += sorted({s.kind for s in specs} - set(methods))
    table = standings(tournament.db)
    ranks = rank_by_method(table)
    matrix = method_matrix(tournament.db)
    shares = population_shares(evolution.db)
    counts, evo_counts = tournament.db.counts(), evolution.db.counts()
    games, evo_games = counts["done"], evo_counts["done"]
    void = counts.get("void", 0) + evo_counts.get("void", 0)
    body_of = {s.name: s.body for s in table}

    plots = args.out if args.print_only else ROOT / "docs" / "plots"  # a trial's stay out
    shares_plot = plot_shares(shares, methods, plots / "population_shares.png")
    ranks_plot = plot_ranks(ranks, methods, len(table), plots / "population_ranks.png")
    present = [b for b in ("ant", "bug", "spider") if any(st.body == b for st in table)]
    matrices = "\n\n".join(matrix_markdown(matrix, b, methods) for b in present)
    bodies = by_body(matrix)
    body_rows = ["| body \\ opponent | " + " | ".join(present) + " |",
                 "|---" * (len(present) + 1) + "|"]
    for b in present:
        cells = []
        for o in present:
            t = bodies.get((b, o))
            cells.append("·" if t is None or b == o else cell(t))
        body_rows.append(f"| {b} | " + " | ".join(cells) + " |")
    rank_rows = ["| method | agents | mean rank | best | worst | ranks |",
                 "|---|---:|---:|---:|---:|---|"]
    for m in methods:
        r = ranks.get(m, [])
        if r:
            rank_rows.append(f"| {m} | {len(r)} | {sum(r) / len(r):.1f} | {min(r)} | {max(r)} | "
                             f"{', '.join(map(str, r))} |")
    share_rows = ["| generation | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1)
                  + "|"]
    for g, s in enumerate(shares):
        share_rows.append(f"| {g} | " + " | ".join(f"{s.get(m, 0.0):.2f}" for m in methods)
                          + " |")
    command = "python scripts/population.py " + " ".join(
        a for a in sys.argv[1:] if a != "--print-only")
    cpu = "; ".join([f"tournament {t_tournament / 60:.0f} min", f"evolution "
                                                                    f"{t_evolution / 60:.0f} min"])
    population_rows = ["| agent | method | body | checkpoint |", "|---|---|---|---|"]
    population_rows += [f"| {s.label} | {s.kind} | {body_of.get(s.label, s.body)} | "
                        f"`{relative(s.ref)}` |" for s in specs]
    body = f"""## The population experiments (the paper's Table 3, TrueSkill ranking and evolution)

Command: `{command}` (commit {commit()}, {machine()}; wall time this invocation: {cpu}, games
already in the league files not counted). {n} agents; iterated adaptation games of
{args.rounds} rounds x {args.episodes} episodes (at most {args.max_steps} steps), both sides
adapting between rounds; a game is won by a lead of at least {game.margin * 100:g} % of the rounds.
{f"{void} games could not be played (void) and are left out." if void else ""}

The population:

{chr(10).join(population_rows)}

### Method against method, by body

Round robin, {args.games_per_pair} game(s) per pair (A and B swapped every other game),
{games} games. The row method's share of games won against the column method, agents of the
named bodies, with its 95 % Wilson interval and the number of games (a draw is not a win; a
loss by forfeit is a loss, and is named). Games between two agents of the same method and body
are not tallied here; games across bodies are in docs/results/population.json.

{matrices}

Body against body, all methods pooled (the calibration the paper's Table 2 aims at: about
half between bodies):

{chr(10).join(body_rows)}

### TrueSkill ranking of the whole population

{leaderboard_markdown(table)}

Ranks by method:

{chr(10).join(rank_rows)}

![ranks by method](plots/{ranks_plot.name})

### Evolution

{args.copies} slots per entrant at the start ({n * args.copies} slots), {args.generations}
generations, random disjoint pairs of slots each generation (a pair of two copies of one agent
does not play); the loser's slot takes a copy of the winner, a draw changes nothing;
{evo_games} games. Share of each method by generation:

{chr(10).join(share_rows)}

![method shares by generation]({f"plots/{shares_plot.name}"})
"""
    if args.print_only:
        print(body)
        return
    write_section("population", body)
    JSON_PATH.parent.mkdir(parents=True, exist_ok=True)
    JSON_PATH.write_text(json.dumps({
        "command": command, "commit": commit(),
        "game": game.to_dict(),
        "tournament": {"games_per_pair": args.games_per_pair, "seed": args.seed,
                       "games": games, "void": counts.get("void", 0)},
        "evolution": {"generations": args.generations, "copies": args.copies,
                      "seed": args.seed, "games": evo_games, "void": evo_counts.get("void", 0)},
        "population": [{"name": s.label, "method": s.kind,
                        "body": body_of.get(s.label, s.body), "checkpoint": relative(s.ref)}
                       for s in specs],
        "ranking": [{"rank": i, "name": s.name, "method": s.kind, "body": s.body, "mu": s.mu,
                     "sigma": s.sigma, "ordinal": s.ordinal, "games": s.games, "wins": s.wins,
                     "draws": s.draws, "losses": s.losses} for i, s in enumerate(table, 1)],
        "rank_by_method": ranks,
        "method_matrix": [{"body": a[0], "method": a[1], "opponent_body": b[0],
                           "opponent_method": b[1], "wins": t.wins, "draws": t.draws,
                           "losses": t.losses, "forfeits": t.forfeits, "win_rate": t.win_rate,
                           "ci_low": t.interval()[0], "ci_high": t.interval()[1]}
                          for (a, b), t in sorted(matrix.items())],
        "shares": shares,
    }, indent=1, allow_nan=False) + "\n")
    print(f"wrote the population section of docs/results.md and {relative(JSON_PATH)}")


if __name__ == "__main__":
    main()
