"""The zoo's long self-play runs: one resumable PPO run per body, spread over many invocations.

Each body trains from scratch in its mirror matchup: 8 of 20 arenas are self-play arenas (the
learner plays both sides and learns from both), the other 12 draw an opponent each iteration from
a pool of the run's own earlier versions (the paper's curriculum, drawn from the recent half of
the history as Bansal et al. 2018 do), or, with chances 0.2 and 0.1, the idle and the random
robot, so that the lineage also learns to push a robot that stands still and to outlast one that
flails. The shaping weight falls linearly from 1 to 0
over the first half of the budget (the paper anneals its dense rewards; no schedule is
published).

The bodies take turns an iteration at a time, so that all three advance together. Every
iteration saves the run's resume point; a run directory holds ``config.json``, ``metrics.csv``
(with the win rates against the pool, idle and random opponents), ``state.safetensors``, a
snapshot every ``SNAPSHOT_EVERY`` iterations under ``lineage/`` (the pool, and the zoo's lineage
later), and ``budget.json`` (arena steps and CPU hours of every invocation). Running the same
command again continues; ``--hours`` bounds one invocation by wall-clock time.

Recipes (``--recipe``): 1, the first runs (``training/zoo``); 2, the same with the egocentric
features of ``agents.features`` appended to the policy's input (``training/zoo2``). Recipe 1's
ant and bug, after 4.8 M steps, still walked off the tatami by themselves against an idle robot:
nothing in a world-frame observation tells a small network where the edge or the opponent is
relative to its own heading. 3, recipe 2 with an entropy bonus (``training/zoo3``): recipe 2's ant
and bug plateaued at a 0.2-0.27 win rate against idle in training over 3 M steps while their
action noise kept shrinking (no entropy term). One change per recipe, so that their curves
compare. Recipe 3 was stopped after 95-140 iterations: its entropy rose steadily for all three
bodies (Adam turns the bonus's constant gradient on the log-std into a
full-size step whenever the policy gradient on it is weaker). 4, recipe 2 with a floor on the
action noise (std 0.15, ``PPOConfig.log_std_min``), continued from recipe 2's resume points
(``training/zoo4`` starts as a copy of ``training/zoo2``; ``budget.json`` keeps recipe 2's
invocations and says where recipe 4 took over). 5, recipe 4 with PPO's epochs stopped early once
a minibatch's approximate KL passes 0.02 (``PPOConfig.target_kl``), continued from recipe 4's
resume points (``training/zoo5``): recipe 2 and 4 ran every update's 10 epochs to a mean KL of
0.07-0.25 with 50-70 % of the ratios clipped, far outside PPO's trust region. 6, recipe 5 with
a discount of 0.999 instead of 0.995, continued from recipe 5's resume points
(``training/zoo6``): the draw penalty comes at step 500, where 0.995 leaves 8 % of it at a bout's
start (0.999: 61 %), so standing off an idle robot cost almost nothing for most of a bout.
7, recipe 6 with the idle robot as the opponent of half the pool arenas instead of a fifth,
continued from recipe 6's resume points (``training/zoo7``): after 6 recipes the ant and the bug
still beat an idle robot in only about a third of their bouts, and rarely by pushing it out,
while the idle robot was the opponent of 12 % of their training arenas.

Usage:
    python scripts/zoo_training.py [--recipe 7] [--bodies ant bug spider] [--hours 2.5]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

from resultsdoc import ROOT

from agents.policy import PolicyConfig
from agents.ppo import PPOConfig
from agents.ppo.train import TrainConfig, Trainer

TOTAL_STEPS = 30_000_000  # arena steps per body: the whole budget, over many invocations
SNAPSHOT_EVERY = 10  # iterations (102,400 arena steps) between pool snapshots
KEEP_EVERY = 50  # iterations between the older snapshots kept when pruning (history of the zoo)
# Initial action noise: std 0.37. With std 1 (log-std 0) a robot's own noise makes it fall: a
# first run kept std above 0.68 for its first 800k steps and lost 39 of 40 bouts to an idle
# robot by falling or walking out; the original policies end at std 0.03-0.22.
INIT_LOG_STD = -1.0


NOISE_FLOOR = math.log(0.15)  # recipe 4's floor on the log-std (the originals end at 0.03-0.22)
TARGET_KL = 0.02  # recipe 5's early stop of PPO's epochs (a common value; not tuned)
# recipe -> (the policy's features, PPO's entropy-bonus weight, log-std floor, target KL,
# discount, the idle robot's share of the pool arenas)
RECIPES = {1: ("raw", 0.0, None, None, 0.995, 0.2), 2: ("sumo", 0.0, None, None, 0.995, 0.2),
           3: ("sumo", 0.01, None, None, 0.995, 0.2),
           4: ("sumo", 0.0, NOISE_FLOOR, None, 0.995, 0.2),
           5: ("sumo", 0.0, NOISE_FLOOR, TARGET_KL, 0.995, 0.2),
           6: ("sumo", 0.0, NOISE_FLOOR, TARGET_KL, 0.999, 0.2),
           7: ("sumo", 0.0, NOISE_FLOOR, TARGET_KL, 0.999, 0.5)}
ROOTS = {r: ROOT / "training" / ("zoo" if r == 1 else f"zoo{r}") for r in RECIPES}
# recipe -> the recipe whose runs it continues (else: from scratch)
CONTINUES = {4: 2, 5: 4, 6: 5, 7: 6}


def config(body: str, seed: int = 0, recipe: int = 7) -> TrainConfig:
    """The zoo's training run of one body (fixed: a changed config refuses to resume)."""
    name = body.capitalize()
    features, ent_coef, log_std_min, target_kl, gamma, idle = RECIPES[recipe]
    return TrainConfig(env=f"RoboSumo-{name}-vs-{name}-v0", total_steps=TOTAL_STEPS,
                       num_envs=20, rollout=512, seed=seed, opponent="pool", pool_window=0.5,
                       self_play_arenas=8, idle_fraction=idle, random_fraction=0.1,
                       shaping_anneal=0.5,
                       reward_scale=0.01, snapshot_every=SNAPSHOT_EVERY, nthread=1,
                       policy=PolicyConfig(arch="mlp", hidden=64, init_log_std=INIT_LOG_STD,
                                           features=features),
                       ppo=PPOConfig(lr=3e-4, gamma=gamma, lam=0.95, epochs=10, minibatches=32,
                                     ent_coef=ent_coef, log_std_min=log_std_min,
                                     target_kl=target_kl))


def continue_run(source: Path, target: Path) -> bool:
    """Start ``target`` as a copy of the run in ``source`` (its resume point, snapshots, metrics
    and budget; not its config, which the continuing recipe writes). False where ``target``
    already holds a run or ``source`` holds none."""
    if (target / "state.safetensors").exists() or not (source / "state.safetensors").exists():
        return False
    # copied aside first, the resume point moved in last: a stopped copy is redone next time
    scratch = target.with_name(target.name + ".copying")
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(source, scratch,
                    ignore=shutil.ignore_patterns("config.json", "*.tmp", "events.*"))
    budget = scratch / "budget.json"
    data = json.loads(budget.read_text()) if budget.exists() else {"invocations": []}
    earlier = data.get("continued_from")  # the source's own origin, kept as a chain
    data["continued_from"] = {"run": source.relative_to(ROOT).as_posix(),
                              "env_steps": data.get("env_steps", 0),
                              "invocations": len(data["invocations"])}
    if earlier:
        data["continued_from"]["earlier"] = earlier
    budget.write_text(json.dumps(data, indent=1) + "\n")
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(scratch.iterdir(), key=lambda e: e.name == "state.safetensors"):
        there = target / entry.name
        if there.is_dir():
            shutil.rmtree(there)
        elif there.exists():
            there.unlink()
        entry.rename(there)
    scratch.rmdir()
    return True


class Budget:
    """Arena steps and CPU hours of a run, summed over invocations (``budget.json``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = json.loads(path.read_text()) if path.exists() else {"invocations": []}
        self._started = time.strftime("%Y-%m-%dT%H:%M:%S")
        self._now: dict | None = None

    def add(self, cpu_s: float, wall_s: float, steps: int, total_steps: int) -> None:
        if self._now is None:  # an invocation is recorded once it trains
            self._now = {"started": self._started, "cpu_s": 0.0, "wall_s": 0.0, "steps": 0}
            self.data["invocations"].append(self._now)
        now = self._now
        now["cpu_s"] += cpu_s
        now["wall_s"] += wall_s
        now["steps"] += steps
        self.data["env_steps"] = total_steps
        self.data["cpu_hours"] = sum(i["cpu_s"] for i in self.data["invocations"]) / 3600
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1) + "\n")
        tmp.replace(self.path)


def prune(trainer: Trainer) -> list[int]:
    """Delete the snapshots the run no longer needs; the versions deleted.

    The pool draws from the recent half of the history only, so older snapshots matter only as
    the zoo's history: every ``KEEP_EVERY``-th of them is kept (and the first), the rest go, so
    that a committed resume point stays small."""
    lineage = trainer.lineage
    latest = lineage.latest() or 0
    window = math.ceil(trainer.config.pool_window * latest)
    gone = [v for v in lineage.versions()
            if v < window and v % KEEP_EVERY and v != lineage.versions()[0]]
    for v in gone:
        lineage.path(v).unlink()
    return gone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", nargs="+", default=["ant", "bug", "spider"],
                        choices=["ant", "bug", "spider"])
    parser.add_argument("--hours", type=float, default=2.5,
                        help="wall-clock bound of this invocation")
    parser.add_argument("--recipe", type=int, default=7, choices=sorted(RECIPES),
                        help="1: world-frame observations only; 2: with egocentric features; "
                             "3: recipe 2 with an entropy bonus; 4: recipe 2 continued with a "
                             "noise floor; 5: recipe 4 continued with PPO's epochs stopped at "
                             "a target KL; 6: recipe 5 continued with a discount of 0.999; "
                             "7: recipe 6 continued with the idle robot in half the pool "
                             "arenas")
    parser.add_argument("--root", type=Path, default=None,
                        help="where the runs live (default: training/zoo for recipe 1, "
                             "training/zooN for recipe N)")
    parser.add_argument("--prune", action="store_true",
                        help="after training, delete snapshots outside the pool's window but "
                             f"every {KEEP_EVERY}th iteration (before committing a resume point)")
    args = parser.parse_args()
    args.root = args.root or ROOTS[args.recipe]
    if args.recipe in CONTINUES:
        for b in args.bodies:
            source = ROOTS[CONTINUES[args.recipe]] / f"selfplay-{b}"
            if continue_run(source, args.root / f"selfplay-{b}"):
                print(f"{b}: continuing {source.relative_to(ROOT)}", file=sys.stderr)

    trainers = {b: Trainer(config(b, recipe=args.recipe), args.root / f"selfplay-{b}",
                           tensorboard=False) for b in args.bodies}
    budgets = {b: Budget(args.root / f"selfplay-{b}" / "budget.json") for b in args.bodies}
    deadline = time.monotonic() + 3600 * args.hours
    while time.monotonic() < deadline:
        active = [b for b in args.bodies if trainers[b].env_steps < TOTAL_STEPS]
        if not active:
            break
        for body in active:
            t = trainers[body]
            cpu, wall = time.process_time(), time.perf_counter()
            row = t.iterate()
            budgets[body].add(time.process_time() - cpu, time.perf_counter() - wall,
                              t.steps_per_iteration, t.env_steps)
            rates = " ".join(f"{k[9:]} {row[k]:.2f}" for k in sorted(row)
                             if k.startswith("win_rate_"))
            print(f"{body} it {t.iteration} steps {t.env_steps:,} wins [{rates}] "
                  f"len {row.get('length_mean', 0):.0f} shaping {row['shaping_weight']:.3f} "
                  f"kl {row['approx_kl']:.3f} updates {row['updates']:.0f} "
                  f"{row['iteration_s']:.1f}s", flush=True)
    for body, t in trainers.items():
        t.logger.close()
        if args.prune:
            gone = prune(t)
            print(f"{body}: pruned {len(gone)} snapshots; kept {t.lineage.versions()}",
                  file=sys.stderr)
    print("stopped; run the same command to continue", file=sys.stderr)


if __name__ == "__main__":
    main()
