"""Time and memory of one MAML meta-iteration against a PPO iteration on the same amount of data.

The setting is meta-training on nonstationary locomotion with the ``MetaConfig`` defaults (bug,
meta_batch 12, episodes K = 3, M = 3 adaptation steps, 2x64 tanh MLP, 5 outer PPO epochs). One
meta-iteration has two parts:

- sampling: K episodes of pi_theta on T_i for the 12 task pairs, the adaptation phi_i (first
  order, no meta-gradient needed here), then K episodes of pi_phi_i on T_{i+1}:
  2 x 12 x 3 x 100 = 7200 env steps;
- meta-update: the outer PPO epochs, each recomputing the adaptation of every task with
  ``create_graph=True`` (second order) or ``False`` (first order) and back-propagating through it.
  The tasks are processed in a loop (each task back-propagated before the next) or all at once
  with ``torch.func.vmap`` (``MetaConfig.vmap_tasks``, the default for MLPs); both run on the
  same sampled data (same seed, and the sampling
  does not depend on the option: a checksum of the data is compared). An LSTM policy (FC-64 then
  LSTM-64 for policy and value) is timed with the loop, the only way it runs (``nn.LSTMCell``
  cannot be vmapped), on its own samples; its updates are slow, so they are repeated
  ``--lstm-repeats`` times.

Every ratio is against a reference measured in the same run: the looped second-order MLP
meta-update, and the PPO update.

The PPO reference collects the same 7200 steps (``VectorSampler`` on 72 locomotion envs x 100
steps) and runs one ``PPO.update`` on them with the locomotion PPO settings of
``scripts/ppo_locomotion.py`` (10 epochs x 16 minibatches).

Every variant runs in a fresh subprocess. Times are wall-clock medians over ``--repeats``.
Memory is the peak resident set size during the phase minus the resident set size just before
it (Linux ``VmHWM`` reset through ``/proc/self/clear_refs``, after ``malloc_trim`` returns freed
heap to the system), median over the repeats: the extra memory the phase needs on top of the
data it starts from. It counts torch's CPU tensors (which ``tracemalloc`` does not see), Python
objects and the physics; elsewhere than Linux the ``ru_maxrss`` growth is reported, a lower bound.

Usage:
    python benchmarks/maml_iteration.py [--repeats 5] [--lstm-repeats 2] [--body bug]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

torch.set_num_threads(1)

VARIANTS = ("maml-sample", "maml-update-2nd", "maml-update-1st", "maml-update-2nd-vmap",
            "maml-update-1st-vmap", "maml-sample-lstm", "maml-update-2nd-lstm",
            "maml-update-1st-lstm", "ppo-sample", "ppo-update")
PPO_EPOCHS, PPO_MINIBATCHES = 10, 16  # scripts/ppo_locomotion.py


# ---------------------------------------------------------------- memory


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measure(phase: Callable[[], object]) -> tuple[float, float]:
    """Run ``phase``; return (seconds, peak RSS growth in MiB)."""
    _trim()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        before = _status_kib("VmRSS")
    except OSError:
        before = None
    max_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    phase()
    seconds = time.perf_counter() - start
    if before is not None:
        grown = _status_kib("VmHWM") - before
    else:  # ru_maxrss: KiB on Linux, bytes on macOS; only growth above the earlier peak shows
        scale = 1024 if sys.platform == "darwin" else 1
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - max_before) / scale
    return seconds, max(grown, 0) / 1024


# ---------------------------------------------------------------- phases


def maml_sampling(trainer):
    """The first half of ``MetaTrainer.iterate``: pre episodes, adaptation, post episodes."""
    return trainer.sample()


def run_variant(variant: str, body: str, repeats: int) -> dict:
    from agents.maml.train import MetaConfig, MetaTrainer
    from agents.policy import PolicyConfig

    parts = variant.split("-")
    config = MetaConfig(body=body, first_order="1st" in parts, vmap_tasks="vmap" in parts,
                        policy=PolicyConfig(arch="lstm" if "lstm" in parts else "mlp"))
    steps = 2 * config.meta_batch * config.episodes  # episodes (of 100 steps) per iteration
    checksum = None
    with tempfile.TemporaryDirectory() as run_dir:
        if variant.startswith("maml"):
            trainer = MetaTrainer(config, run_dir, resume=False, tensorboard=False)
            if "sample" in parts:
                phase = lambda: maml_sampling(trainer)  # noqa: E731
            else:
                pre, post = maml_sampling(trainer)
                checksum = float(sum(t.double().sum() for phase_data in (pre, post) for t in (
                    phase_data.obs, phase_data.actions, phase_data.rewards, phase_data.logp)))
                phase = lambda: trainer._meta_update(pre, post)  # noqa: E731
            env_steps = steps * trainer.envs.max_steps
        else:
            from gymnasium.vector import AutoresetMode

            from agents.policy import Policy
            from agents.ppo import PPO, PPOConfig
            from agents.sampler import VectorSampler
            from envs.nonstationary_locomotion import LocomotionVectorEnv

            torch.manual_seed(config.seed)
            envs = LocomotionVectorEnv(steps, body, autoreset_mode=AutoresetMode.SAME_STEP)
            policy = Policy(envs.single_observation_space.shape[0],
                            envs.single_action_space.shape[0], config.policy)
            sampler = VectorSampler(envs, policy, envs.max_steps, seed=config.seed)
            if variant == "ppo-sample":
                phase = sampler.collect
            else:
                rollout, _ = sampler.collect()
                ppo = PPO(policy, PPOConfig(epochs=PPO_EPOCHS, minibatches=PPO_MINIBATCHES))
                generator = torch.Generator().manual_seed(config.seed)
                phase = lambda: ppo.update(rollout, generator)  # noqa: E731
            env_steps = steps * envs.max_steps
        results = [measure(phase) for _ in range(repeats)]
    return {"variant": variant, "seconds": [r[0] for r in results],
            "mib": [r[1] for r in results], "env_steps": env_steps, "checksum": checksum}


# ---------------------------------------------------------------- report


def table(res: dict[str, dict]) -> str:
    def t(v: str) -> float:
        return statistics.median(res[v]["seconds"])

    def m(v: str) -> float:
        return statistics.median(res[v]["mib"])

    ppo_update, ppo_total = t("ppo-update"), t("ppo-sample") + t("ppo-update")
    lines = ["| variant | sampling s | update s | update / PPO update | iteration s "
             "| iteration / PPO iteration | sampling MiB | update MiB | update MiB / PPO |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [("MAML second order", "maml-sample", "maml-update-2nd"),
            ("MAML first order", "maml-sample", "maml-update-1st"),
            ("MAML second order, vmap", "maml-sample", "maml-update-2nd-vmap"),
            ("MAML first order, vmap", "maml-sample", "maml-update-1st-vmap"),
            ("MAML LSTM second order", "maml-sample-lstm", "maml-update-2nd-lstm"),
            ("MAML LSTM first order", "maml-sample-lstm", "maml-update-1st-lstm"),
            ("PPO (same 7200 steps)", "ppo-sample", "ppo-update")]
    for label, sample, update in rows:
        total = t(sample) + t(update)
        lines.append(f"| {label} | {t(sample):.2f} | {t(update):.2f} | "
                     f"{t(update) / ppo_update:.1f}x | {total:.2f} | {total / ppo_total:.1f}x | "
                     f"{m(sample):.0f} | {m(update):.0f} | "
                     f"{m(update) / max(m('ppo-update'), 1e-9):.1f}x |")
    ref = "maml-update-2nd"
    lines += ["", "| meta-update | s | / looped MLP second order | / looped MLP, same order "
              "| MiB | MiB / looped MLP second order |", "|---|---:|---:|---:|---:|---:|"]
    for label, v, looped in (("MLP second order, loop", "maml-update-2nd", "maml-update-2nd"),
                             ("MLP second order, vmap", "maml-update-2nd-vmap",
                              "maml-update-2nd"),
                             ("MLP first order, loop", "maml-update-1st", "maml-update-1st"),
                             ("MLP first order, vmap", "maml-update-1st-vmap", "maml-update-1st"),
                             ("LSTM second order, loop", "maml-update-2nd-lstm", "maml-update-2nd"),
                             ("LSTM first order, loop", "maml-update-1st-lstm", "maml-update-1st")):
        lines.append(f"| {label} | {t(v):.2f} | {t(v) / t(ref):.2f}x | {t(v) / t(looped):.2f}x | "
                     f"{m(v):.0f} | {m(v) / max(m(ref), 1e-9):.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="measurements per variant")
    parser.add_argument("--lstm-repeats", type=int, default=2,
                        help="measurements of the (slow) LSTM meta-updates")
    parser.add_argument("--body", default="bug", help="robot of the locomotion tasks")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:  # a child: one variant, one JSON line
        print(json.dumps(run_variant(args.variant, args.body, args.repeats)))
        return
    res = {}
    for variant in VARIANTS:
        repeats = args.lstm_repeats if variant.startswith("maml-update") and "lstm" in variant \
            else args.repeats
        out = subprocess.run([sys.executable, __file__, "--variant", variant, "--repeats",
                              str(repeats), "--body", args.body],
                             check=True, capture_output=True, text=True)
        res[variant] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{variant}: {[round(s, 2) for s in res[variant]['seconds']]} s, "
              f"{[round(x) for x in res[variant]['mib']]} MiB", file=sys.stderr)
    mlp_updates = [v for v in VARIANTS if v.startswith("maml-update") and "lstm" not in v]
    same_data = len({res[v]["checksum"] for v in mlp_updates}) == 1
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    print(f"MAML meta-iteration vs PPO, body {args.body}, meta_batch 12, K 3, M 3, "
          f"{res['maml-sample']['env_steps']} env steps per iteration; medians of "
          f"{args.repeats} ({args.lstm_repeats} for the LSTM updates); torch "
          f"{torch.__version__}, 1 torch thread; {platform.machine()} {os.cpu_count()} CPUs, "
          f"load average {', '.join(f'{x:.1f}' for x in load)}; MLP meta-updates on the same "
          f"data: {'yes' if same_data else 'NO'}\n")
    print(table(res))


if __name__ == "__main__":
    main()
