"""Cost of meta-training in RoboSumo: MAML and NoRML iterations against PPO on the same steps.

The three trainers of the RoboSumo comparison (``scripts/sumo_adaptation.py``,
``scripts/norml_sumo.py``), bug vs bug against the ``zoo:selfplay-bug`` lineage, all starting
from its last version, one torch thread and one physics thread:

- MAML (``agents.maml.sumo``): 8 consecutive-version pairs x K = 4 bouts before and after the
  adaptation (M = 3 inner steps, Meta-SGD step sizes), then 5 outer PPO epochs through the
  adaptation, second order, with the tasks of the meta-update vmapped (the default for an MLP)
  and in a loop;
- NoRML (``agents.norml.sumo``): the same bouts around its one reward-free inner step, then one
  outer gradient step;
- PPO (``agents.ppo.train``, ``opponent="lineage"``): 32 arenas x 128 steps against drawn versions,
  then one update with the self-play settings (10 epochs x 32 minibatches).

The meta-learners play one bout per arena and an arena whose bout ended waits for the phase's
longest bout, so their simulated steps exceed the real ones; every cost is reported per 1000 real
learner steps (the steps that reach a loss), and as a ratio to PPO's measured in the same run.
Each trainer runs one warm-up iteration, then ``--repeats`` timed ones (medians).

Usage:
    python benchmarks/sumo_meta_iteration.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.maml import AdaptConfig
from agents.maml.sumo import SumoMetaConfig, SumoMetaTrainer
from agents.norml.sumo import SumoNoRMLConfig, SumoNoRMLTrainer
from agents.ppo import PPOConfig
from agents.ppo.train import TrainConfig, Trainer

ENV, LINEAGE = "RoboSumo-Bug-vs-Bug-v0", "zoo:selfplay-bug"


def time_maml(run_dir: Path, repeats: int,
              vmap_tasks: bool = True) -> list[tuple[float, float, int]]:
    config = SumoMetaConfig(env=ENV, opponents=LINEAGE, init_from=LINEAGE, meta_batch=8,
                            episodes=4, adapt=AdaptConfig(steps=3, per_parameter=True,
                                                          gamma=0.995),
                            step_size_lr=1e-5, iterations=repeats + 1, nthread=1,
                            vmap_tasks=vmap_tasks)
    trainer = SumoMetaTrainer(config, run_dir, tensorboard=False)
    out = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        _, pre, post = trainer.sample()
        sampled = time.perf_counter()
        trainer.meta_update(pre, post)
        out.append((sampled - start, time.perf_counter() - sampled, pre.steps() + post.steps()))
    return out[1:]


def time_norml(run_dir: Path, repeats: int) -> list[tuple[float, float, int]]:
    config = SumoNoRMLConfig(env=ENV, opponents=LINEAGE, meta_batch=8, episodes=4,
                             iterations=repeats + 1)
    trainer = SumoNoRMLTrainer(config, run_dir, tensorboard=False)
    out = []
    for _ in range(repeats + 1):
        steps = trainer.env_steps
        row = trainer.iterate()
        out.append((row["sample_s"], row["iteration_s"] - row["sample_s"],
                    trainer.env_steps - steps))
    return out[1:]


def time_ppo(run_dir: Path, repeats: int) -> list[tuple[float, float, int]]:
    config = TrainConfig(env=ENV, total_steps=(repeats + 1) * 32 * 128, num_envs=32, rollout=128,
                         opponent="lineage", opponents=LINEAGE, init_from=LINEAGE,
                         reward_scale=0.01, nthread=1,
                         ppo=PPOConfig(lr=3e-4, gamma=0.995, epochs=10, minibatches=32))
    trainer = Trainer(config, run_dir, tensorboard=False)
    out = []
    for _ in range(repeats + 1):
        trainer.sampler.set_opponents(trainer._lineage_opponents())
        start = time.perf_counter()
        rollout, _ = trainer.sampler.collect()
        sampled = time.perf_counter()
        trainer.ppo.update(rollout, trainer.generator, config.reward_scale)
        out.append((sampled - start, time.perf_counter() - sampled, trainer.steps_per_iteration))
    return out[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (("PPO against the lineage", time_ppo),
                         ("MAML, second order (tasks vmapped)", time_maml),
                         ("MAML, second order (tasks in a loop)",
                          lambda d, r: time_maml(d, r, vmap_tasks=False)),
                         ("NoRML", time_norml)):
            runs = fn(Path(tmp) / name.split()[0] / name.split()[-2], args.repeats)
            per_k = [(s / n * 1000, u / n * 1000) for s, u, n in runs]
            results[name] = (statistics.median(p[0] for p in per_k),
                             statistics.median(p[1] for p in per_k),
                             statistics.median(n for *_, n in runs))
            print(name, results[name], flush=True)
    ref_s, ref_u, _ = results["PPO against the lineage"]
    print(f"\n{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"median of {args.repeats}\n")
    print("| trainer | real steps / iteration | sampling s / 1k steps | update s / 1k steps | "
          "total / PPO's |")
    print("|---|---:|---:|---:|---:|")
    for name, (s, u, n) in results.items():
        print(f"| {name} | {n:,.0f} | {s:.2f} | {u:.2f} | {(s + u) / (ref_s + ref_u):.1f}x |")


if __name__ == "__main__":
    main()
