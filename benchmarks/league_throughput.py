"""League throughput: iterated games per minute in-process and on Ray with 1 and 2 workers.

The workload is a set of iterated adaptation games between 64x64 MLP policies (two small ant
lineages made for the run; one side evolves a version per round). Each backend plays the same
games with the same seeds; the script checks that every backend gives identical results, then
prints a Markdown table of games per minute and the speed-up of 2 Ray workers over 1 (goal: at
least 1.6x on a 2-core machine).

One local Ray with 2 CPUs serves both Ray settings: "1 worker" submits one game at a time, "2
workers" keeps up to four in flight. The settings are measured in turn, several times, and the
best time of each is kept, so that load from other processes on the machine disturbs them alike.
Before and after, two busy-looping processes measure how much parallel CPU the machine offers.

The per-game overhead of the Ray path is measured the same way with one-step games (where the
game itself costs almost nothing): (Ray 1-worker time - in-process time) / games. Ray start-up
(``ray.init``) is excluded from the rates and reported on its own line; warm-up games first make
both workers import torch, mujoco and the agents.

Usage:
    python benchmarks/league_throughput.py [--games 12] [--rounds 3] [--episodes 2]
        [--max-steps 200] [--overhead-games 40] [--repeats 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from agents.checkpoint import CheckpointMeta
from agents.lineage import Lineage
from agents.policy import Policy
from leagues.executors import Executor, InProcessExecutor, RayConfig
from leagues.games import GameConfig, GameResult, GameSpec
from leagues.ray_executor import RayExecutor
from leagues.roster import AgentSpec, with_body


def make_lineage(root: Path, name: str, versions: int, seed: int) -> Lineage:
    """A lineage of random 64x64 ant MLP policies."""
    lineage = Lineage(root, name)
    for v in range(1, versions + 1):
        torch.manual_seed(seed * 1000 + v)
        policy = Policy(120, 8)
        meta = CheckpointMeta(kind="ppo-mlp", body="ant", env_id="RoboSumo-Ant-vs-Ant-v0",
                              config=policy.describe())
        lineage.save(v, policy.tensors(), meta)
    return lineage


def workload(root: Path, games: int, config: GameConfig) -> list[tuple[int, GameSpec]]:
    """``games`` games: a fixed policy against an evolving lineage, sides swapped every game."""
    fixed = make_lineage(root, "fixed", 1, seed=1)
    evolving = make_lineage(root, "evolving", config.rounds, seed=2)
    a = with_body(AgentSpec(str(fixed.path(1))))
    b = with_body(AgentSpec(str(evolving.directory), evolving=True))
    return [(k, GameSpec(a, b, config, seed=k, a_starts=k % 2 == 0)) for k in range(games)]


def _spin(seconds: float) -> int:
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


def cpu_ceiling(seconds: float = 1.0) -> float:
    """Work two busy processes get done relative to one: 2.0 on two idle cores.

    The ceiling of any 2-worker speed-up on this machine right now; other processes lower it.
    """
    one = _spin(seconds)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        two = sum(pool.map(_spin, [seconds, seconds]))
    return two / one


def timed(executor: Executor, jobs: list[tuple[int, GameSpec]]) -> tuple[float, dict]:
    """Seconds to play the jobs, and their results by game id."""
    start = time.perf_counter()
    results = dict(executor.run(jobs))
    return time.perf_counter() - start, results


def measure(local: Executor, ray: RayExecutor, jobs: list, repeats: int
            ) -> tuple[dict[str, float], dict[int, GameResult]]:
    """Best seconds of each setting over interleaved repeats; exits if results differ."""
    settings = {"in-process": (local, None), "ray, 1 worker": (ray, 1), "ray, 2 workers": (ray, 4)}
    best = dict.fromkeys(settings, float("inf"))
    reference: dict[int, GameResult] = {}
    for _ in range(repeats):
        for name, (executor, in_flight) in settings.items():
            if in_flight is not None:
                ray.max_in_flight = in_flight
            seconds, results = timed(executor, jobs)
            best[name] = min(best[name], seconds)
            reference = reference or results
            if results != reference:
                differ = sorted(k for k in reference if results.get(k) != reference[k])
                raise SystemExit(f"{name} gave different results for games {differ}")
    return best, reference


def main() -> None:
    """Measure every setting and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--overhead-games", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = GameConfig(rounds=args.rounds, episodes=args.episodes, max_steps=args.max_steps)
    tiny = GameConfig(rounds=1, episodes=1, max_steps=1)
    ceilings = [cpu_ceiling()]
    with tempfile.TemporaryDirectory() as tmp:
        jobs = workload(Path(tmp), args.games, config)
        overhead_jobs = [(k, GameSpec(jobs[0][1].a, jobs[0][1].a, tiny, seed=k))
                         for k in range(args.overhead_games)]
        local = InProcessExecutor()
        timed(local, overhead_jobs[:2])
        start = time.perf_counter()
        ray = RayExecutor(RayConfig(workers=2))
        init = time.perf_counter() - start
        try:
            timed(ray, overhead_jobs[:8])
            seconds, reference = measure(local, ray, jobs, args.repeats)
            tiny_seconds, _ = measure(local, ray, overhead_jobs, args.repeats)
        finally:
            ray.close()
    ceilings.append(cpu_ceiling())
    steps = sum(e.steps for r in reference.values() for e in r.episodes) / len(reference)
    overhead = (tiny_seconds["ray, 1 worker"] - tiny_seconds["in-process"]) / args.overhead_games
    print_table(args, seconds, init, overhead, steps, ceilings)


def print_table(args: argparse.Namespace, seconds: dict[str, float], init: float,
                overhead: float, steps: float, ceilings: list[float]) -> None:
    """The Markdown table and the notes under it."""
    print(f"{args.games} games of {args.rounds} rounds x {args.episodes} episodes of up to "
          f"{args.max_steps} steps ({steps:.0f} steps per game on average), 64x64 MLP ant "
          f"policies, one side evolving; {os.cpu_count()} cores ({_cpu()}), "
          f"torch {torch.__version__}, {_ray_version()}; best of {args.repeats}")
    print()
    print("| backend | seconds | games/min | vs Ray 1 worker |")
    print("|---|---:|---:|---:|")
    one = seconds["ray, 1 worker"]
    for name, s in seconds.items():
        print(f"| {name} | {s:.2f} | {60 * args.games / s:.1f} | {one / s:.2f}x |")
    print()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Two busy processes got {ceilings[0]:.2f}x / {ceilings[1]:.2f}x the work of one "
          f"(before / after; 2.00x on two idle cores): the ceiling of the 2-worker speed-up "
          f"under the machine's other load (load average {load}).")
    print(f"Identical results on all backends: yes. Ray per-game overhead ({args.overhead_games} "
          f"one-step games, 1 worker vs in-process): {1000 * overhead:.1f} ms/game. "
          f"ray.init with 2 CPUs: {init:.1f} s.")


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ray_version() -> str:
    import ray

    return f"ray {ray.__version__}"


if __name__ == "__main__":
    main()
