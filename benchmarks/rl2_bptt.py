"""What RL^2 pays for back-propagating through longer stretches of its trials.

RL^2's LSTM must carry what it saw in one episode into the next; with truncated BPTT of 10 steps
(``PPOConfig.bptt``, the setting RL^2 trains with by default) no gradient crosses an episode's
100 steps. This times one PPO update (the run's epochs and minibatches) of the same collected
rollout, 12 trials of 7 locomotion episodes, with BPTT through 10 steps, a whole episode
(100) and a whole trial (700), as ratios to the 10-step update measured in the same run.

Usage:
    python benchmarks/rl2_bptt.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.ppo import PPO
from agents.rl2.train import RL2TrainConfig, RL2Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        config = RL2TrainConfig(num_envs=12, episodes=7, total_steps=12 * 700, nthread=1)
        trainer = RL2Trainer(config, Path(tmp) / "run", tensorboard=False)
        rollout, _ = trainer.sampler.collect()
        start = copy.deepcopy(trainer.policy.core.state_dict())
        times: dict[int, list[float]] = {}
        for _ in range(args.repeats):
            for bptt in (10, 100, 700):
                trainer.policy.core.load_state_dict(start)
                ppo = PPO(trainer.policy.core, dataclasses.replace(config.ppo, bptt=bptt))
                t0 = time.perf_counter()
                ppo.update(rollout, torch.Generator().manual_seed(0), config.reward_scale)
                times.setdefault(bptt, []).append(time.perf_counter() - t0)
    ref = statistics.median(times[10])
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, one thread, "
          f"median of {args.repeats}; {config.ppo.epochs} epochs x {config.ppo.minibatches} "
          f"minibatches on 12 trials x 700 steps\n")
    print("| BPTT length | what the gradient crosses | update s | ratio |\n|---:|---|---:|---:|")
    what = {10: "10 steps", 100: "a whole episode", 700: "a whole trial (7 episodes)"}
    for bptt, values in times.items():
        t = statistics.median(values)
        print(f"| {bptt} | {what[bptt]} | {t:.2f} | {t / ref:.2f} |")


if __name__ == "__main__":
    main()
