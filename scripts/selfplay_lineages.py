"""Self-play PPO lineages for RoboSumo (ant, bug, spider) and their win rates.

For each body: trains pure self-play PPO in the mirror matchup, saving a snapshot every iteration
(resumable: rerunning continues unfinished runs); copies every ``--keep-every``-th snapshot and the
last into the zoo (``agents/zoo/selfplay-<body>/``, loadable as ``zoo:selfplay-<body>@<version>``);
then plays the final snapshot against ``random``, ``idle`` and an early snapshot of its own lineage
with sides swapped half of the time, and writes the "selfplay" section of docs/results.md.

Usage:
    python scripts/selfplay_lineages.py [--steps 1000000] [--bodies ant bug spider]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from resultsdoc import ROOT, commit, machine, write_section

from agents import ZOO_DIR
from agents.evaluate import head_to_head
from agents.lineage import Lineage
from agents.policy import PolicyConfig, load_policy
from agents.ppo import PPOConfig
from agents.ppo.train import TrainConfig, Trainer


def config(body: str, steps: int, seed: int) -> TrainConfig:
    env = f"RoboSumo-{body.capitalize()}-vs-{body.capitalize()}-v0"
    return TrainConfig(env=env, total_steps=steps, num_envs=16, rollout=512, seed=seed,
                       opponent="self", reward_scale=0.01,
                       policy=PolicyConfig(arch="mlp", hidden=64),
                       ppo=PPOConfig(lr=3e-4, gamma=0.995, lam=0.95, epochs=10, minibatches=32))


def to_zoo(run_lineage: Lineage, keep_every: int) -> Lineage:
    """Copy every ``keep_every``-th version (and the last) into the zoo lineage of that name."""
    zoo = Lineage(ZOO_DIR, run_lineage.name)
    if zoo.directory.exists():
        shutil.rmtree(zoo.directory)
    zoo.directory.mkdir(parents=True)
    last = run_lineage.latest()
    for v in run_lineage.versions():
        if v % keep_every == 0 or v == last:
            shutil.copy2(run_lineage.path(v), zoo.path(v))
    return zoo


def fmt(result) -> str:
    lo, hi = result.interval("win")
    return (f"{100 * result.win_rate:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}] "
            f"({result.wins}/{result.losses}/{result.draws})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1_000_000, help="arena steps per body")
    parser.add_argument("--bodies", nargs="+", default=["ant", "bug", "spider"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=200, help="bouts per evaluation")
    parser.add_argument("--keep-every", type=int, default=4, help="zoo keeps every k-th version")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "results")
    args = parser.parse_args()

    rows, notes = [], []
    for body in args.bodies:
        start = time.perf_counter()
        trainer = Trainer(config(body, args.steps, args.seed), args.runs / f"selfplay-{body}",
                          tensorboard=False)
        trainer.run(progress=sys.stderr.isatty())
        minutes = (time.perf_counter() - start) / 60
        zoo = to_zoo(trainer.lineage, args.keep_every)
        versions = zoo.versions()
        final_v = versions[-1]
        early_v = min(versions, key=lambda v: abs(v - final_v / 10))
        final = load_policy(zoo.path(final_v))[0]
        early = load_policy(zoo.path(early_v))[0]
        pair = (body, body)
        res = {name: head_to_head(final, opp, pair, args.episodes, seed=args.seed + 7)
               for name, opp in (("random", "random"), ("idle", "idle"), ("early", early))}
        early_vs_random = head_to_head(early, "random", pair, args.episodes, seed=args.seed + 7)
        rows.append(f"| {body} | {final_v} | {fmt(res['random'])} | {fmt(res['idle'])} | "
                    f"v{early_v}: {fmt(res['early'])} | {fmt(early_vs_random)} |")
        notes.append(f"{body}: {trainer.iteration} iterations, {trainer.env_steps:,} arena steps, "
                     f"{minutes:.0f} min (training time of this invocation)")
        print(rows[-1], flush=True)

    c = config(args.bodies[0], args.steps, args.seed)
    body = f"""## Self-play PPO lineages in RoboSumo

Command: `python scripts/selfplay_lineages.py --steps {args.steps} --bodies {' '.join(args.bodies)}
--episodes {args.episodes}` (commit {commit()}, {machine()}). Pure self-play in the mirror matchup
(one MLP 2x64 policy plays both sides and learns from both), seed {args.seed}; {c.num_envs}
arenas x {c.rollout} steps per iteration, one snapshot per iteration; PPO lr {c.ppo.lr}, gamma
{c.ppo.gamma}, lambda {c.ppo.lam}, {c.ppo.epochs} epochs x {c.ppo.minibatches} minibatches,
rewards scaled by {c.reward_scale} for learning, shaping weight 1 throughout. The zoo keeps
every {args.keep_every}th snapshot and the last (`zoo:selfplay-<body>@<version>`).

Win rate of the final snapshot in {args.episodes} bouts per opponent (sides swapped for half of
them; 95 % Wilson interval; wins/losses/draws):

| body | final version | vs random | vs idle | vs early own snapshot | early snapshot vs random |
|---|---|---|---|---|---|
{chr(10).join(rows)}

{chr(10).join(f'- {n}' for n in notes)}
"""
    print(write_section("selfplay", body))


if __name__ == "__main__":
    main()
