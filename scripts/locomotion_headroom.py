"""Headroom on nonstationary locomotion: what a policy specialised to the damage gains over the
frozen generalist, per held-out leg pair and damage level. It bounds what any adaptation can add.

The protocol, fixed before any result was seen:

- body: the bug; the generalist G is ``zoo:ppo-locomotion-bug`` (PPO, 1 M steps on the schedules
  of the 12 training pairs, the baseline every adapting method starts from);
- tasks: the 3 held-out pairs (back, middle, front: ``train_test_split``) at torque scales 0 and
  0.5, six tasks;
- a specialist per task: PPO fine-tuned from G on that one damage for ``--specialist-steps`` env
  steps (16 envs x 200 steps an iteration, G's PPO settings, seed 0); runs are resumable under
  ``--runs`` (running the command again continues them);
- evaluation: ``--episodes`` episodes of G and of the specialist on the task from the same seeds
  (episode i starts from seed 1000 + i, actions sampled with a generator seeded 0), and the
  paired difference specialist minus G with its 95 % t-interval.

Added later, as its own columns (an oracle: fixed before its results): an informed policy I,
PPO from scratch with G's settings and budget (1 M steps on the schedules of the 12 training
pairs, seed 0) whose observation also holds every actuator's torque scale
(``observe_damage``): one policy for every task that knows the damage, evaluated on the same
seeds, and the paired difference I minus G.

Writes the "locomotion-headroom" section of docs/results.md and its entries in
docs/results/adaptation.json (method "specialist", comparison "specialist minus frozen
generalist", window "pair (a, b) at scale s").

Usage:
    python scripts/locomotion_headroom.py [--specialist-steps 300000] [--episodes 50]
        [--informed-steps 1000000] [--runs training/headroom] [--report-only]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from resultsdoc import ROOT, commit, machine, mean_ci, update_entries, write_section

import agents
from agents.policy import PolicyConfig, load_policy
from agents.ppo import PPOConfig
from agents.ppo.train import TrainConfig, Trainer
from envs.nonstationary_locomotion import LegDamage, LocomotionVectorEnv, train_test_split

ENV = "NonstationaryLocomotion-Bug-v0"
GENERALIST = "zoo:ppo-locomotion-bug"
SCALES = (0.0, 0.5)
ROW_NAMES = ("back", "middle", "front")  # the held-out pairs, back first


def tasks() -> list[tuple[str, LegDamage]]:
    """(row name, damage) of every task: the held-out pairs, back first, at each scale."""
    _, test = train_test_split("bug")
    return [(name, LegDamage(pair, scale)) for name, pair in zip(ROW_NAMES, test, strict=True)
            for scale in SCALES]


def damage_spec(task: LegDamage) -> str:
    return f"{task.pair[0]}-{task.pair[1]}@{task.scale:g}"


def specialist_config(task: LegDamage, steps: int) -> TrainConfig:
    return TrainConfig(env=ENV, total_steps=steps, num_envs=16, rollout=200, seed=0,
                       damage=damage_spec(task), init_from=GENERALIST, nthread=1,
                       policy=PolicyConfig(arch="mlp", hidden=64),
                       ppo=PPOConfig(lr=3e-4, gamma=0.99, lam=0.95, epochs=10, minibatches=16))


def informed_config(steps: int) -> TrainConfig:
    """The oracle: G's training run, with the damage in the observation."""
    return TrainConfig(env=ENV, total_steps=steps, num_envs=16, rollout=200, seed=0,
                       damage="train", observe_damage=True, nthread=1,
                       policy=PolicyConfig(arch="mlp", hidden=64),
                       ppo=PPOConfig(lr=3e-4, gamma=0.99, lam=0.95, epochs=10, minibatches=16))


def episode_returns(policy, task: LegDamage, episodes: int,
                    observe_damage: bool = False) -> np.ndarray:
    """Undiscounted returns of ``episodes`` episodes on ``task`` (episode i from seed 1000 + i)."""
    envs = LocomotionVectorEnv(episodes, "bug", nthread=1, observe_damage=observe_damage)
    envs.set_damages([task] * episodes)
    obs, _ = envs.reset(seed=1000)
    generator = torch.Generator().manual_seed(0)
    total = np.zeros(episodes)
    done = np.zeros(episodes, dtype=bool)
    while not done.all():
        action = policy.act(obs, generator=generator).action
        obs, reward, terminated, truncated, _ = envs.step(action)
        total += np.where(done, 0.0, reward)
        done |= terminated | truncated
    envs.close()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specialist-steps", type=int, default=300_000)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--informed-steps", type=int, default=1_000_000,
                        help="the informed policy's budget (0: leave it out)")
    parser.add_argument("--runs", type=Path, default=ROOT / "training" / "headroom")
    parser.add_argument("--report-only", action="store_true",
                        help="evaluate the specialists as they are (train nothing)")
    parser.add_argument("--print-only", action="store_true",
                        help="print the section, write no docs (for a trial run)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    start, cpu = time.perf_counter(), time.process_time()
    generalist, _ = load_policy(agents.resolve(GENERALIST))
    informed = None
    if args.informed_steps:
        informed = Trainer(informed_config(args.informed_steps), args.runs / "informed",
                           tensorboard=False)
        if not args.report_only:
            informed.run(progress=sys.stderr.isatty())
        elif not informed.env_steps:  # nothing trained there: no column of an untrained policy
            print("no informed run under --runs: its columns are left out", file=sys.stderr)
            informed = None
    rows, entries, steps_done = [], [], 0
    for name, task in tasks():
        run_dir = args.runs / damage_spec(task).replace("@", "_at_")
        trainer = Trainer(specialist_config(task, args.specialist_steps), run_dir,
                          tensorboard=False)
        if not args.report_only:
            trainer.run(progress=sys.stderr.isatty())
        steps_done += trainer.env_steps
        g = episode_returns(generalist, task, args.episodes)
        s = episode_returns(trainer.policy, task, args.episodes)
        diff, half = mean_ci(s - g)
        window = f"pair {task.pair} at scale {task.scale:g}"
        row = (f"| {name} {task.pair} | {task.scale:g} | {g.mean():.1f} | {s.mean():.1f} | "
               f"{diff:+.1f} +- {half:.1f} | {trainer.env_steps:,} |")
        entries.append({"domain": "locomotion", "method": "specialist",
                        "comparison": "specialist minus frozen generalist", "window": window,
                        "mean": diff, "ci_low": diff - half, "ci_high": diff + half,
                        "n": args.episodes, "command": None})
        if informed is not None:
            i = episode_returns(informed.policy, task, args.episodes, observe_damage=True)
            idiff, ihalf = mean_ci(i - g)
            row += f" {i.mean():.1f} | {idiff:+.1f} +- {ihalf:.1f} |"
            entries.append({"domain": "locomotion", "method": "informed (observes the damage)",
                            "comparison": "informed minus frozen generalist", "window": window,
                            "mean": idiff, "ci_low": idiff - ihalf, "ci_high": idiff + ihalf,
                            "n": args.episodes, "command": None})
        rows.append(row)
    minutes = (time.perf_counter() - start) / 60
    cpu_hours = (time.process_time() - cpu) / 3600
    command = (f"python scripts/locomotion_headroom.py --specialist-steps "
               f"{args.specialist_steps} --episodes {args.episodes} --informed-steps "
               f"{args.informed_steps}")
    for entry in entries:
        entry["command"] = command
    header = ("| held-out pair | torque scale | generalist | specialist | specialist - generalist "
              "| specialist steps |")
    align = "|---|---:|---:|---:|---:|---:|"
    informed_note = ""
    if informed is not None:
        header += " informed | informed - generalist |"
        align += "---:|---:|"
        informed_note = (f" The informed policy is PPO from scratch with the generalist's "
                         f"settings for {informed.env_steps:,} steps on the training pairs' "
                         f"schedules, observing every actuator's torque scale: it knows the "
                         f"damage, as no adapting agent does.")
    body = f"""## Headroom on nonstationary locomotion

Command: `{command}` (commit {commit()}, {machine()}, {minutes:.0f} min and
{cpu_hours:.2f} CPU hours in this invocation). The generalist is `{GENERALIST}`; each specialist
is it fine-tuned with PPO on one held-out damage (legs of the pair at the torque scale in every
episode) for the steps shown;
{args.episodes} episodes each from the same seeds, the difference paired by seed with its 95 %
t-interval. It bounds what adapting to that damage can add to the generalist.{informed_note}

{header}
{align}
{chr(10).join(rows)}
"""
    if not args.print_only:
        write_section("locomotion-headroom", body)
        update_entries(entries)
    print(body)
    print(f"{steps_done:,} specialist steps in all")


if __name__ == "__main__":
    main()
