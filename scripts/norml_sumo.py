"""NoRML in RoboSumo: meta-training the bug against consecutive versions of its self-play lineage.

Meta-trains NoRML (``agents.norml.sumo``) bug vs bug on pairs (v_k, v_{k+1}) of consecutive
versions of ``zoo:selfplay-bug`` (adapt without reward on K bouts against version k, judged on K
bouts against version k+1), starting from the lineage's last version (its actor as theta, its
observation statistics frozen), on one core, resumable, into runs/results/sumo-norml. Prints the
pre/post-adaptation win rates at the start and the end of the run; with ``--save-zoo``, writes
the final snapshot to agents/zoo/norml-sumo-bug.safetensors. The iterated adaptation games
against the lineage are played by scripts/sumo_adaptation.py
(``--extra norml=agents/zoo/norml-sumo-bug.safetensors``).

Usage:
    python scripts/norml_sumo.py [--iterations 200] [--save-zoo]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch
from resultsdoc import ROOT

import agents
from agents.logger import read_metrics
from agents.norml import load_norml, save_norml
from agents.norml.sumo import SumoNoRMLConfig, SumoNoRMLTrainer

ENV = "RoboSumo-Bug-vs-Bug-v0"
LINEAGE = "zoo:selfplay-bug"
# the version the zoo's norml-sumo-bug was trained from (the newest then; the versions after it
# also read the egocentric features)
INIT = "zoo:selfplay-bug@123"
ZOO_NAME = "norml-sumo-bug"


def config(iterations: int, seed: int) -> SumoNoRMLConfig:
    return SumoNoRMLConfig(env=ENV, opponents=LINEAGE, iterations=iterations, meta_batch=8,
                           episodes=4, gamma=0.995, lr=3e-4, advantage_lr=1e-3,
                           reward_scale=0.01, seed=seed, snapshot_every=20,
                           init_from=INIT, nthread=1)


def summary(rows: list[dict], n: int) -> str:
    def mean(part: list[dict], key: str) -> float:
        return float(np.mean([float(r[key]) for r in part]))

    out = []
    for label, part in (("first", rows[:n]), ("last", rows[-n:])):
        out.append(f"{label} {len(part)} iterations: win rate pre {mean(part, 'pre_win_rate'):.3f}"
                   f" post {mean(part, 'post_win_rate'):.3f}; return pre "
                   f"{mean(part, 'return_pre'):.0f} post {mean(part, 'return_post'):.0f}")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200, help="meta-iterations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-zoo", action="store_true",
                        help=f"write the final snapshot to agents/zoo/{ZOO_NAME}.safetensors")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "results")
    args = parser.parse_args()
    torch.set_num_threads(1)

    trainer = SumoNoRMLTrainer(config(args.iterations, args.seed), args.runs / "sumo-norml",
                               tensorboard=False)
    trainer.run(progress=sys.stderr.isatty())
    path = trainer.lineage.path(trainer.lineage.latest())
    rows = read_metrics(trainer.run_dir / "metrics.csv")
    print(summary(rows, min(20, len(rows))))
    print(f"latest snapshot: {path}")
    if args.save_zoo:
        model, meta = load_norml(path)
        command = f"python scripts/norml_sumo.py --iterations {args.iterations} --save-zoo"
        if args.seed:
            command += f" --seed {args.seed}"
        meta = dataclasses.replace(meta, lineage=None, version=None,
                                   extra={**meta.extra, "command": command})
        zoo = save_norml(agents.ZOO_DIR / f"{ZOO_NAME}.safetensors", model, meta)
        print(f"zoo: {zoo.relative_to(ROOT)} ({zoo.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
