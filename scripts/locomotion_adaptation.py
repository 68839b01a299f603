"""The paper's Fig. 4 at this machine's scale: adapting to a leg pair that fails episode by episode.

1. Trains the no-adaptation baseline: PPO on the bug with a random training leg pair and torque
   scale per episode (the 12 training pairs), resumable.
2. Meta-trains MAML for continuous adaptation on consecutive-task pairs of the training pairs,
   starting from that PPO policy (theta and observation statistics), resumable.
3. Evaluates on the 3 held-out pairs (back, middle, front): 7 consecutive episodes with the scale
   falling 1 -> 0, then a full reset of environment, policy and adaptation, ``--repeats`` times
   per pair. Methods: no adaptation (the PPO policy), PPO tracking (PPO updates on the last 3
   episodes after every episode) and MAML (importance-corrected adaptation from theta on the
   last 3 episodes after every episode), plus any ``--extra NAME=CHECKPOINT`` agent.
4. Writes the "locomotion-adaptation" section of docs/results.md with a plot.

Usage:
    python scripts/locomotion_adaptation.py [--ppo-steps 2000000] [--maml-iterations 150]
        [--repeats 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from resultsdoc import (
    ROOT,
    commit,
    episode_errorbars,
    machine,
    mean_ci,
    newest_snapshot,
    relative,
    save_figure,
    update_entries,
    write_section,
)

import agents
from agents.base import PolicyAgent
from agents.evaluate import nonstationary_returns
from agents.maml import AdaptConfig
from agents.maml.agent import MAMLAgent
from agents.maml.train import MetaConfig, MetaTrainer, load_maml
from agents.policy import PolicyConfig, load_policy
from agents.ppo import PPOConfig
from agents.ppo.tracking import TrackingAgent
from agents.ppo.train import TrainConfig, Trainer


def ppo_config(steps: int, seed: int, lateral_cost: float = 0.0) -> TrainConfig:
    return TrainConfig(env="NonstationaryLocomotion-Bug-v0", total_steps=steps, num_envs=16,
                       rollout=200, seed=seed, damage="train", lateral_cost=lateral_cost,
                       policy=PolicyConfig(arch="mlp", hidden=64),
                       ppo=PPOConfig(lr=3e-4, gamma=0.99, lam=0.95, epochs=10, minibatches=16))


def maml_config(iterations: int, seed: int, init_from: Path, step_size_lr: float | None,
                per_parameter: bool = False, args: argparse.Namespace | None = None) -> MetaConfig:
    """The MAML run; ``args`` may carry the inner-step options (defaults: the paper's rule)."""
    inner = {} if args is None else dict(
        step_size=args.maml_step_size, value_step=args.value_step,
        parametrization="log" if args.log_step_sizes else "linear",
        inner_step=args.inner_step, adapt=args.adapt)
    outer = {} if args is None else {"sf_baseline": args.sf_baseline,
                                     "meta_learn": args.meta_learn,
                                     "policy": PolicyConfig(context=args.context)}
    return MetaConfig(body="bug", iterations=iterations, meta_batch=12, episodes=3, seed=seed,
                      adapt=AdaptConfig(**{"steps": 3, "step_size": 0.001, "gamma": 0.99,
                                           "max_weight": 2.0, "per_parameter": per_parameter,
                                           **inner}),
                      lr=3e-4, step_size_lr=step_size_lr, epochs=5, clip=0.2,
                      init_from=str(init_from), **outer)


def rl2_checkpoint(ref: Path) -> Path:
    """An RL^2 run directory's newest snapshot, or the checkpoint itself."""
    if ref.is_dir():
        return newest_snapshot(ref, "--rl2")
    if not ref.is_file():
        raise SystemExit(f"--rl2 {ref}: no such run directory or checkpoint")
    return ref


def rl2_description(path: Path) -> str:
    """The report's bullet on the RL^2 rows, from the checkpoint's metadata."""
    from agents.rl2.core import load_rl2

    _, meta = load_rl2(path)
    steps = meta.extra.get("env_steps")
    budget = f"{steps:,} steps" if isinstance(steps, int) else "its checkpoint's steps"
    return (f"\n- RL^2 (`{relative(path).as_posix()}`, {budget} of 7-episode trials on the "
            f"training pairs): its LSTM state runs on across the chain's episodes; RL^2, memory "
            f"reset every episode: the same policy starting a new trial after every episode (the "
            f"ablation that leaves it only what it infers within an episode)")


def plot(results: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    episode_errorbars(ax, results, 0.15)
    ax.set_title("Bug, held-out leg pairs")
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ppo-steps", type=int, default=2_000_000)
    parser.add_argument("--base-lateral-cost", type=float, default=0.0, metavar="W",
                        help="the PPO base trains with a cost of W per m/s of sideways speed "
                             "(a heading term its training alone sees; 0: the task's reward)")
    parser.add_argument("--maml-iterations", type=int, default=150)
    parser.add_argument("--buffer-episodes", type=int, default=3, metavar="N",
                        help="at execution MAML adapts on its last N episodes (the paper: 3; "
                             "7 or more: all of the chain's episodes so far)")
    parser.add_argument("--repeats", type=int, default=20, help="chains per held-out pair")
    parser.add_argument("--step-size-lr", type=float, default=None,
                        help="Adam rate of MAML's step sizes (default: the policy's 3e-4)")
    parser.add_argument("--maml-run", default="adapt-maml", help="MAML run directory name")
    parser.add_argument("--per-parameter", action="store_true",
                        help="Meta-SGD: one learned step size per parameter entry")
    parser.add_argument("--section", default="locomotion-adaptation",
                        help="the docs/results.md section to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the report from the returns saved by the last evaluation")
    parser.add_argument("--extra", nargs="*", default=[], metavar="NAME=CHECKPOINT",
                        help="more agents to evaluate (e.g. rl2=path.safetensors)")
    parser.add_argument("--rl2", type=Path, default=None, metavar="RUN_OR_CHECKPOINT",
                        help="an RL^2 run directory (its newest snapshot) or checkpoint: two "
                             "rows, RL^2 and RL^2 with its memory reset every episode (its "
                             "ablation: no experience carried from one episode to the next)")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "results")
    parser.add_argument("--maml-step-size", type=float, default=0.001,
                        help="MAML's initial step sizes (--inner-step kl: a step's KL)")
    parser.add_argument("--value-step", choices=("shared", "separate", "none"), default="shared")
    parser.add_argument("--log-step-sizes", action="store_true")
    parser.add_argument("--inner-step", choices=("gradient", "kl"), default="gradient")
    parser.add_argument("--sf-baseline", choices=("batch", "pre"), default="batch")
    parser.add_argument("--adapt", choices=("weights", "context"), default="weights",
                        help="what MAML's inner steps move: every weight, or only a context "
                             "vector (CAVIA-style, with --context)")
    parser.add_argument("--meta-learn", choices=("all", "context", "reader"), default="all",
                        help="what the outer loop trains: all of theta, only the context's "
                             "start and the weights that read it, or those weights alone "
                             "(the last two with --adapt context)")
    parser.add_argument("--context", type=int, default=0, metavar="K",
                        help="a context vector of K values appended to theta's input")
    args = parser.parse_args()
    progress = sys.stderr.isatty()

    t0 = time.perf_counter()
    if args.buffer_episodes < 1:
        raise SystemExit(f"--buffer-episodes must be >= 1, got {args.buffer_episodes}")
    if not (args.base_lateral_cost >= 0 and np.isfinite(args.base_lateral_cost)):
        raise SystemExit(f"--base-lateral-cost must be a finite number >= 0, got "
                         f"{args.base_lateral_cost}")
    ppo = Trainer(ppo_config(args.ppo_steps, args.seed, args.base_lateral_cost),
                  args.runs / "adapt-ppo",
                  tensorboard=False)
    ppo.run(progress=progress)
    ppo_path = ppo.lineage.path(ppo.lineage.latest())
    t1 = time.perf_counter()
    # A path relative to the repository, so that no checkpoint records where it was made.
    init = ppo_path.resolve().relative_to(ROOT) if ppo_path.resolve().is_relative_to(ROOT) \
        else ppo_path
    meta_cfg = maml_config(args.maml_iterations, args.seed, init, args.step_size_lr,
                           args.per_parameter, args)
    meta = MetaTrainer(meta_cfg, args.runs / args.maml_run, tensorboard=False)
    meta.run(progress=progress)
    maml_path = meta.lineage.path(meta.lineage.latest())
    t2 = time.perf_counter()

    policy, _ = load_policy(ppo_path)
    theta, step_sizes, adapt_cfg, _ = load_maml(maml_path)
    label = "MAML" if adapt_cfg.adapt == "weights" else "MAML, context only (CAVIA-style)"
    maml, frozen = f"{label} (importance-corrected)", f"{label} theta, no adaptation"
    methods = {
        "no adaptation (PPO)": PolicyAgent(policy, name="ppo", body="bug", seed=args.seed),
        "PPO tracking": TrackingAgent(policy, body="bug", seed=args.seed),
        maml: MAMLAgent(theta, step_sizes, adapt_cfg, buffer_episodes=args.buffer_episodes,
                        body="bug", seed=args.seed),
        # The ablation that separates learning to adapt from training theta further: MAML's
        # meta-trained theta acting without any adaptation.
        frozen: PolicyAgent(theta, name="maml-theta", body="bug", seed=args.seed),
    }
    rl2, rl2_reset = "RL^2", "RL^2, memory reset every episode"
    rl2_path = None if args.rl2 is None else rl2_checkpoint(args.rl2)
    if rl2_path is not None:
        methods[rl2] = agents.load(rl2_path, body="bug", seed=args.seed)
        # a new trial at every adapt(), which the chain calls after every episode
        methods[rl2_reset] = agents.load(rl2_path, body="bug", seed=args.seed,
                                         trial_per_round=True)
    for spec in args.extra:
        name, _, ref = spec.partition("=")
        if Path(ref).is_dir():  # a lineage directory: its latest snapshot
            ref = str(max(Path(ref).glob("v*.safetensors")))
        methods[name] = agents.load(ref, body="bug", seed=args.seed)
    saved = args.runs / f"{args.section}.npz"
    if args.report_only:  # the returns of the last evaluation, e.g. to rewrite the report
        results = dict(np.load(saved))
    else:
        results = {}
        for name, agent in methods.items():
            results[name] = nonstationary_returns(agent, "bug", repeats=args.repeats,
                                                  seed=10_000 + args.seed)
            print(name, results[name].reshape(-1, 7).mean(0).round(1), flush=True)
        np.savez(saved, **results)
    t3 = time.perf_counter()
    plot_path = ROOT / "docs" / "plots" / f"{args.section.replace('-', '_')}.png"
    plot(results, plot_path)

    header = "| method | " + " | ".join(f"ep {e}" for e in range(1, 8)) + " | mean 6-7 |"
    rows = [header, "|---" * 9 + "|"]
    paired = [header, "|---" * 9 + "|"]
    for name, r in results.items():
        flat = r.reshape(-1, 7)
        cells = [f"{m:.1f} ± {h:.1f}" for m, h in (mean_ci(flat[:, e]) for e in range(7))]
        late = mean_ci(flat[:, 5:].mean(1))
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {late[0]:.1f} ± {late[1]:.1f} |")
    timing = (f"Wall time: PPO {(t1 - t0) / 60:.0f} min, MAML {(t2 - t1) / 60:.0f} min, "
              f"evaluation {(t3 - t2) / 60:.0f} min (this invocation; resumed runs count only "
              "the remainder).")
    if args.report_only:
        timing = ("This report was rewritten from the saved returns (`--report-only`); the "
                  "same command without that flag trains (resuming) and evaluates.")
    base = next(iter(results.values())).reshape(-1, 7)
    comparisons = [(name, r.reshape(-1, 7) - base) for name, r in list(results.items())[1:]]
    if maml in results and frozen in results:  # what adaptation itself adds to MAML's theta
        comparisons.append((f"{maml} minus {frozen}",
                            results[maml].reshape(-1, 7) - results[frozen].reshape(-1, 7)))
    if rl2 in results and rl2_reset in results:  # what the memory across episodes adds
        comparisons.append((f"{rl2} minus {rl2_reset}",
                            results[rl2].reshape(-1, 7) - results[rl2_reset].reshape(-1, 7)))
    entries = []
    command = "python scripts/locomotion_adaptation.py " + " ".join(
        a for a in sys.argv[1:] if a != "--report-only")
    for name, diff in comparisons:
        cells = [f"{m:+.1f} ± {h:.1f}" for m, h in (mean_ci(diff[:, e]) for e in range(7))]
        late = mean_ci(diff[:, 5:].mean(1))
        paired.append(f"| {name} | " + " | ".join(cells) + f" | {late[0]:+.1f} ± {late[1]:.1f} |")
        method, _, other = name.partition(" minus ")
        entries.append({"domain": "locomotion", "method": f"{method} [{args.section}]",
                        "comparison": f"minus {other or next(iter(results))}",
                        "window": "episodes 6-7", "mean": late[0],
                        "ci_low": late[0] - late[1], "ci_high": late[0] + late[1],
                        "n": len(diff), "command": command})
    update_entries(entries)
    n_chains = args.repeats * 3
    kind = "per-parameter (Meta-SGD; mean shown)" if meta_cfg.adapt.per_parameter else "scalar"
    alphas = list(step_sizes.summary().values())
    a = meta_cfg.adapt
    clip_note = (" (theta's; the log-parametrised step sizes outside the clip)"
                 if a.parametrization == "log" else "")
    rules = []
    if a.inner_step == "kl":
        rules.append(f"KL-sized inner steps: each moves the policy by the KL its step size "
                     f"gives, {a.step_size} at the start")
    if a.adapt == "context":
        rules.append(f"CAVIA-style: the inner steps move only a context vector of "
                     f"{meta_cfg.policy.context} values appended to the policy's and the value "
                     f"net's input (zero in theta, its input weights drawn at random when it is "
                     f"added to the PPO policy); the weights stay theta's")
        if meta_cfg.meta_learn == "context":
            rules.append("the outer loop trains only the context's initial value and the "
                         "weights that read it: every other weight stays the PPO policy's")
        elif meta_cfg.meta_learn == "reader":
            rules.append("the outer loop trains only the weights that read the context, whose "
                         "initial value stays 0: unadapted, the policy is the PPO policy")
    elif a.value_step != "shared":
        rules.append({"separate": "value parameters with step sizes of their own (policy, "
                                  "value pairs in the final values)",
                      "none": "no inner step of the value parameters"}[a.value_step])
    if a.parametrization == "log":
        rules.append("log-parametrised step sizes")
    if meta_cfg.sf_baseline == "pre":
        rules.append("the score-function term's per-task baseline (post minus pre return)")
    rule_note = "; " + "; ".join(rules) if rules else ""
    lateral_note = (f" (trained with a cost of {args.base_lateral_cost:g} per m/s of sideways "
                    f"speed, a heading term only its training saw; every method is evaluated, "
                    f"and MAML meta-trained, on the task's reward)"
                    if args.base_lateral_cost else "")
    buffer_note = (f"its last {args.buffer_episodes} episodes" if args.buffer_episodes < 7
                   else "all of the chain's episodes so far")
    rl2_note = "" if rl2_path is None else rl2_description(rl2_path)
    title = "Continuous adaptation on nonstationary locomotion (the paper's Fig. 4)"
    if meta_cfg.adapt.per_parameter:
        title += f", MAML with Meta-SGD step sizes, {args.maml_iterations} iterations"
    body = f"""## {title}

Command: `python scripts/locomotion_adaptation.py {" ".join(sys.argv[1:])}` (commit {commit()},
{machine()}). The bug runs along +x while one held-out leg pair (back, middle, front) loses
torque over 7 episodes (scale 1, 5/6, ..., 0); every chain starts from a full reset of
environment, policy and adaptation; {args.repeats} chains per pair ({n_chains} in all, seeds
fixed). Return per episode (mean ± 95 % t-interval over the {n_chains} chains):

{chr(10).join(rows)}

Every method meets the same environment seeds, so differences can be paired chain by chain
(to no adaptation unless the row says otherwise; mean difference ± 95 % t-interval over the
{n_chains} chains):

{chr(10).join(paired)}

- No adaptation: PPO ({args.ppo_steps:,} steps) on random training pairs and scales,
  frozen{lateral_note}.
- PPO tracking: the same policy; after every episode 4 PPO epochs on the last 3 episodes.
- MAML theta, no adaptation: MAML's meta-trained theta, frozen (an ablation: what the outer
  loop's extra training on damaged tasks gives without any adaptation).
- MAML: meta-trained for {args.maml_iterations} iterations from the PPO policy on consecutive
  task pairs of the 12 training pairs ({meta_cfg.meta_batch} pairs x {meta_cfg.episodes}
  episodes per iteration, M = {meta_cfg.adapt.steps} inner steps, learned {kind} step sizes
  initialised to {meta_cfg.adapt.step_size} and learned at rate
  {meta_cfg.step_size_lr or meta_cfg.lr} (final values {", ".join(f"{a:.2g}" for a in alphas)}),
  second-order meta-gradients clipped to
  ±{meta_cfg.grad_clip}{clip_note}, per-step importance weights truncated at
  {meta_cfg.adapt.max_weight}){rule_note};
  at execution it recomputes phi from theta on {buffer_note} after every episode.{rl2_note}
- {timing}

![adaptation curves]({plot_path.relative_to(ROOT / 'docs').as_posix()})
"""
    print(write_section(args.section, body))


if __name__ == "__main__":
    main()
