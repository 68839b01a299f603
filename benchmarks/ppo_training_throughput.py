"""PPO self-play training throughput in RoboSumo against the sampler alone.

For each body, the zoo's training settings (``scripts/zoo_training.py``: 20 arenas x 512 steps,
8 of them self-play, the others against pool, idle and random opponents, 10 epochs x 32
minibatches) and pure self-play (both sides learn in every arena: twice the samples per arena
step). Each round times one ``collect()`` of the run's
own sampler (the reference, measured in the same run) and one whole ``Trainer.iterate()``
(collection, PPO update, snapshot, metrics row and resume point); rounds interleave the two and
the medians are reported in arena steps per second. The goal: training at least 0.6x the
sampler's rate.

Usage:
    python benchmarks/ppo_training_throughput.py [--bodies ant bug spider] [--rounds 5]
        [--nthread 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from zoo_training import config as zoo_config

from agents.ppo.train import Trainer


def measure(config, rounds: int) -> tuple[float, float, float]:
    """Median sampler and training rates (arena steps/s) and the median update share."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, Path(tmp) / "run", tensorboard=False)
        trainer.iterate()  # warm-up: the first snapshot, caches, allocator
        steps = trainer.steps_per_iteration
        sample, train, update = [], [], []
        for _ in range(rounds):
            start = time.perf_counter()
            trainer.sampler.collect()
            sample.append(steps / (time.perf_counter() - start))
            start = time.perf_counter()
            row = trainer.iterate()
            elapsed = time.perf_counter() - start
            train.append(steps / elapsed)
            update.append(1 - steps / row["steps_per_s"] / elapsed)
        trainer.logger.close()
    return statistics.median(sample), statistics.median(train), statistics.median(update)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", nargs="+", default=["ant", "bug", "spider"],
                        choices=["ant", "bug", "spider"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nthread", type=int, default=0,
                        help="physics threads (0: all cores)")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"{args.rounds} rounds, physics threads {args.nthread or 'all'}")
    print("| body | opponents | sampler (arena steps/s) | training (arena steps/s) | "
          "training / sampler | update share |")
    print("|---|---|---|---|---|---|")
    for body in args.bodies:
        zoo = dataclasses.replace(zoo_config(body), nthread=args.nthread)
        self_play = dataclasses.replace(zoo, opponent="self", pool_window=0.0, self_play_arenas=0,
                                        idle_fraction=0.0, random_fraction=0.0)
        for label, config in (("zoo mix (8 self-play + 12 pool/idle/random)", zoo),
                              ("self-play", self_play)):
            sample, train, update = measure(config, args.rounds)
            print(f"| {body} | {label} | {sample:,.0f} | {train:,.0f} | {train / sample:.2f} | "
                  f"{100 * update:.0f} % |", flush=True)


if __name__ == "__main__":
    main()
