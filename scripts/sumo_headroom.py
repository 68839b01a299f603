"""Headroom in RoboSumo: what knowing which version of a lineage you meet is worth.

An adapting agent in an iterated game meets one opponent version for several rounds; the most
adapting to it can give is what a policy trained against that version alone gains over one
trained against the lineage's mixture. The protocol, fixed before any result was seen:

- the lineage: ``--lineage`` (a directory of snapshots, default the zoo run of ``--body``); the
  base B is its newest version, and the two fixed opponents are its snapshot before B ("near")
  and its kept snapshot nearest to half of B ("far": half the lineage's training behind it;
  the oldest snapshots are barely trained and any policy beats them);
- the mixture policy M: PPO fine-tuned from B against versions of the lineage drawn uniformly
  (a version per arena per iteration) for ``--steps`` arena steps, with the zoo's PPO settings
  (16 arenas x 512 steps, lr 3e-4, gamma 0.995, lambda 0.95, 10 epochs x 32 minibatches,
  rewards x 0.01, the paper's shaping, seed 0);
- a specialist S_v per fixed opponent v: the same run against v alone;
- evaluation: ``--bouts`` bouts of M against v and of S_v against v (sides alternating, seed
  0), win rates with 95 % Wilson intervals, and S_v minus M with the 95 % normal interval of a
  difference of two independent proportions.

Runs are resumable under ``--runs`` (running the command again continues them). Writes the
"sumo-headroom" section of docs/results.md and its entries in docs/results/adaptation.json
(domain "robosumo", method "specialist", comparison "specialist minus lineage mixture, win
rate", window "against version v").

Usage:
    python scripts/sumo_headroom.py [--body spider] [--lineage DIR] [--steps 1000000]
        [--bouts 200] [--runs training/sumo-headroom] [--report-only]
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from pathlib import Path

from resultsdoc import ROOT, commit, machine, relative, update_entries, write_section

from agents.evaluate import head_to_head
from agents.lineage import Lineage
from agents.policy import PolicyConfig, load_policy
from agents.ppo import PPOConfig
from agents.ppo.train import TrainConfig, Trainer


def fine_tune(body: str, base: Path, opponents: Path, steps: int) -> TrainConfig:
    """PPO from ``base`` against the versions stored in ``opponents`` (the zoo's settings)."""
    name = body.capitalize()
    return TrainConfig(env=f"RoboSumo-{name}-vs-{name}-v0", total_steps=steps, num_envs=16,
                       rollout=512, seed=0, opponent="lineage", opponents=str(opponents),
                       init_from=str(base), reward_scale=0.01, nthread=1, snapshot_every=10,
                       policy=PolicyConfig(arch="mlp", hidden=64),
                       ppo=PPOConfig(lr=3e-4, gamma=0.995, lam=0.95, epochs=10, minibatches=32))


def single_version(lineage: Lineage, version: int, runs: Path) -> Path:
    """A lineage directory holding ``version`` alone (the specialist's only opponent)."""
    out = runs / f"fixed-v{version:04d}" / lineage.name
    out.mkdir(parents=True, exist_ok=True)
    target = out / lineage.path(version).name
    if not target.exists():
        shutil.copy2(lineage.path(version), target)
    return out


def difference(a_wins: int, b_wins: int, n: int) -> tuple[float, float]:
    """Difference of two win rates over ``n`` bouts each, and its 95 % normal half-width."""
    p, q = a_wins / n, b_wins / n
    return p - q, 1.96 * math.sqrt((p * (1 - p) + q * (1 - q)) / n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--body", choices=("ant", "bug", "spider"), default="spider")
    parser.add_argument("--lineage", type=Path, default=None,
                        help="a directory of snapshots (default: the zoo run of --body, "
                             "training/zoo/selfplay-<body>/lineage/selfplay-<body>)")
    parser.add_argument("--steps", type=int, default=1_000_000,
                        help="arena steps of each fine-tuning run")
    parser.add_argument("--bouts", type=int, default=200)
    parser.add_argument("--runs", type=Path, default=ROOT / "training" / "sumo-headroom")
    parser.add_argument("--report-only", action="store_true",
                        help="evaluate the runs as they are (train nothing)")
    parser.add_argument("--print-only", action="store_true",
                        help="print the section, write no docs (for a trial run)")
    args = parser.parse_args()
    directory = args.lineage or (ROOT / "training" / "zoo" / f"selfplay-{args.body}" / "lineage"
                                 / f"selfplay-{args.body}")
    lineage = Lineage(directory.parent, directory.name)
    versions = lineage.versions()
    if len(versions) < 3:
        raise SystemExit(f"sumo_headroom: {directory} holds {len(versions)} snapshots; it needs "
                         f"3 or more (a base and two older opponents)")
    base, near = versions[-1], versions[-2]
    far = min(versions[:-2], key=lambda v: (abs(v - base / 2), v))
    base_path = relative(lineage.path(base))
    start, cpu = time.perf_counter(), time.process_time()

    def trained(name: str, opponents: Path) -> Trainer:
        trainer = Trainer(fine_tune(args.body, base_path, relative(opponents), args.steps),
                          args.runs / name, tensorboard=False)
        if not args.report_only:
            trainer.run(progress=sys.stderr.isatty())
        return trainer

    mixture = trained("mixture", directory)
    base_policy, _ = load_policy(lineage.path(base))
    rows, entries, steps = [], [], mixture.env_steps
    command = (f"python scripts/sumo_headroom.py --body {args.body} --steps {args.steps} "
               f"--bouts {args.bouts}" + (f" --lineage {relative(directory)}"
                                          if args.lineage else ""))
    for label, version in (("near", near), ("far", far)):
        specialist = trained(f"specialist-v{version:04d}", single_version(lineage, version,
                                                                          args.runs))
        steps += specialist.env_steps
        opponent, _ = load_policy(lineage.path(version))
        bodies = (args.body, args.body)
        b = head_to_head(base_policy, opponent, bodies, episodes=args.bouts, seed=0, nthread=1)
        m = head_to_head(mixture.policy, opponent, bodies, episodes=args.bouts, seed=0, nthread=1)
        s = head_to_head(specialist.policy, opponent, bodies, episodes=args.bouts, seed=0,
                         nthread=1)
        diff, half = difference(s.wins, m.wins, args.bouts)
        (b_low, b_high), (m_low, m_high), (s_low, s_high) = b.interval(), m.interval(), \
            s.interval()
        rows.append(f"| {label}: v{version} | {b.win_rate:.0%} [{b_low:.0%}, {b_high:.0%}] | "
                    f"{m.win_rate:.0%} [{m_low:.0%}, {m_high:.0%}] | "
                    f"{s.win_rate:.0%} [{s_low:.0%}, {s_high:.0%}] | {diff:+.2f} +- {half:.2f} |")
        entries.append({"domain": "robosumo", "method": "specialist",
                        "comparison": "specialist minus lineage mixture, win rate",
                        "window": f"{args.body} against version {version} ({label})",
                        "mean": diff, "ci_low": diff - half, "ci_high": diff + half,
                        "n": args.bouts, "command": command})
    minutes = (time.perf_counter() - start) / 60
    cpu_hours = (time.process_time() - cpu) / 3600
    cost = (f"a report of the committed runs, {minutes:.0f} min of evaluation" if args.report_only
            else f"{minutes:.0f} min and {cpu_hours:.2f} CPU hours in this invocation")
    body = f"""## Headroom in RoboSumo: a specialist against one version, a policy for the mixture

Command: `{command}` (commit {commit()}, {machine()}, {cost}; {steps:,} arena steps of
fine-tuning in all). Base: version {base} of
`{relative(directory)}`; the mixture policy and each specialist are PPO fine-tuned from it for
{args.steps:,} arena steps, against the lineage's versions drawn uniformly or against one version
alone. {args.bouts} bouts each against the version (sides alternating), win rates with 95 %
Wilson intervals, the difference with its 95 % normal interval. It bounds what adapting to the
version met can add over playing the mixture. The base column is version {base} itself, not
fine-tuned, against the same version (what the fine-tuning started from).

| opponent | base | mixture policy | specialist | specialist - mixture |
|---|---:|---:|---:|---:|
{chr(10).join(rows)}
"""
    if not args.print_only:
        write_section("sumo-headroom", body)
        update_entries(entries)
    print(body)


if __name__ == "__main__":
    main()
