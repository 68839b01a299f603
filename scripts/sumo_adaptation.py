"""Continuous adaptation in RoboSumo: meta-learners against an opponent that keeps training.

1. Meta-trains MAML (bug vs bug) on pairs of consecutive versions of the self-play lineage
   ``zoo:selfplay-bug`` (adapt against version k, judged against version k+1), starting from
   the lineage's last version (theta and observation statistics), resumable.
2. Plays iterated adaptation games (the paper's Fig. 5 at this machine's scale): the opponent is
   the lineage itself, one version later every round (``--rounds`` rounds of ``--episodes``
   bouts, starting from its first stored version); the agent only adapts from the experience of
   the game. Methods: the lineage's last version frozen (no adaptation), PPO tracking of it,
   MAML (importance-corrected adaptation from theta on the last 75 bouts after every round),
   MAML's theta frozen, plus any ``--extra NAME=CHECKPOINT`` agent (RL^2, NoRML, ...).
3. Writes the "sumo-adaptation" section of docs/results.md with a plot of the win rate per round.

Usage:
    python scripts/sumo_adaptation.py [--maml-iterations 200] [--games 16]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from resultsdoc import ROOT

from agents.maml import AdaptConfig
from agents.maml_sumo import SumoMetaConfig, SumoMetaTrainer

ENV = "RoboSumo-Bug-vs-Bug-v0"
LINEAGE = "selfplay-bug"


def maml_config(iterations: int, seed: int) -> SumoMetaConfig:
    return SumoMetaConfig(env=ENV, opponents=f"zoo:{LINEAGE}", iterations=iterations,
                          meta_batch=8, episodes=4, seed=seed,
                          adapt=AdaptConfig(steps=3, step_size=0.001, per_parameter=True,
                                            gamma=0.995, max_weight=2.0),
                          lr=3e-4, step_size_lr=1e-5, epochs=5, clip=0.2, gamma=0.995,
                          init_from=f"zoo:{LINEAGE}", nthread=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--maml-iterations", type=int, default=200)
    parser.add_argument("--maml-run", default="sumo-maml", help="MAML run directory name")
    parser.add_argument("--train-only", action="store_true", help="stop after meta-training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "results")
    args = parser.parse_args()
    progress = sys.stderr.isatty()

    t0 = time.perf_counter()
    meta = SumoMetaTrainer(maml_config(args.maml_iterations, args.seed),
                           args.runs / args.maml_run, tensorboard=False)
    meta.run(progress=progress)
    print(f"MAML: {time.perf_counter() - t0:.0f} s", flush=True)
    if args.train_only:
        return


if __name__ == "__main__":
    main()
