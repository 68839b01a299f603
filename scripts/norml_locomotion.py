"""NoRML on nonstationary locomotion: meta-training on the bug and the paper's Fig. 4 protocol.

1. Meta-trains NoRML on consecutive-task pairs of the bug's 12 training leg pairs, starting from
   the PPO baseline of the locomotion comparison (``zoo:ppo-locomotion-bug``: its actor as theta,
   its observation statistics frozen), resumable (``agents.norml.locomotion``).
2. Evaluates on the 3 held-out pairs with the protocol and seeds of
   ``scripts/locomotion_adaptation.py`` (``agents.evaluate.nonstationary_returns``: 7 episodes
   with the torque of the pair falling 1 -> 0, ``adapt()`` after every episode on the last 3,
   full reset between chains, ``--repeats`` chains per pair, environment seeds from
   10,000 + seed): the no-adaptation PPO baseline, NoRML, and two ablations of NoRML, its theta
   without adaptation (``pi_theta`` throughout) and theta + offset without the gradient step
   (what the offset alone gives). ``--zoo`` adds the zoo's MAML and RL^2 agents of the
   comparison (with PPO tracking and MAML's theta without adaptation), re-evaluated from their
   checkpoints with the same seeds.
3. Writes the "norml-locomotion" section of docs/results.md with docs/plots/norml_locomotion.png
   (paired differences to the PPO baseline, chain by chain, with 95 % t-intervals) and, with
   ``--save-zoo``, the final model as agents/zoo/norml-locomotion-bug.safetensors.

Usage:
    python scripts/norml_locomotion.py [--iterations 1000] [--repeats 20] [--zoo] [--save-zoo]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch
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
from agents.logger import read_metrics
from agents.maml.train import load_maml
from agents.norml import FrozenNoRMLAgent, load_norml, save_norml
from agents.norml.locomotion import LocomotionMetaConfig, LocomotionMetaTrainer, default_model
from agents.policy import load_policy
from agents.ppo.tracking import TrackingAgent

PPO = "zoo:ppo-locomotion-bug"
ZOO_NAME = "norml-locomotion-bug"
BASELINE = "no adaptation (PPO)"
NORML = "NoRML"
UNCORRECTED = "NoRML, no importance correction"
DIVERGED = -1000.0  # an episode return below this is a diverged policy (working ones: +-200)
THETA = "NoRML theta, no adaptation"
OFFSET = "NoRML theta + offset, no gradient step"


def config(iterations: int, seed: int, init_from: str = PPO, center_advantage: bool = False,
           execution_data: bool = False, outer_epochs: int = 1,
           first_step: bool = False, offset: bool = True) -> LocomotionMetaConfig:
    """The run (defaults: the paper's rules, as the first run used them)."""
    model = dataclasses.replace(default_model(), center_advantage=center_advantage,
                                learn_offset=offset)
    return LocomotionMetaConfig(body="bug", iterations=iterations, meta_batch=12, episodes=3,
                                gamma=0.99, lr=3e-4, advantage_lr=1e-3, lr_decay=True,
                                grad_clip=1.0, seed=seed, snapshot_every=100, init_from=init_from,
                                model=model, execution_data=execution_data,
                                first_step=first_step,
                                outer_epochs=outer_epochs)


def plot(results: dict[str, np.ndarray], metrics: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8))
    shown = {n: r for n, r in results.items() if not (r < DIVERGED).any()}
    off_scale = [n for n in results if n not in shown]  # diverged chains would flatten the rest
    episode_errorbars(ax, shown, 0.2)
    title = "Bug, held-out leg pairs (95 % CI over chains)"
    if off_scale:
        title += "\nnot shown (diverged chains): " + ", ".join(off_scale)
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=6)
    it = np.array([r["iteration"] for r in metrics])
    w = max(1, min(50, len(it) // 10))
    for key, label in (("return_pre", "pi_theta on T_i"), ("return_post", "pi_theta_i on T_i+1")):
        y = np.convolve([r[key] for r in metrics], np.ones(w) / w, mode="valid")
        bx.plot(it[w - 1:], y, label=label, lw=1.2)
    bx.set_xlabel("meta-iteration")
    bx.set_ylabel("mean episode return (training pairs)")
    bx.set_title(f"meta-training ({w}-iteration window)", fontsize=9)
    bx.legend(fontsize=7)
    save_figure(fig, path, dpi=110)


def fmt(x: float, sign: str = "") -> str:
    return f"{x:{sign}.3g}" if abs(x) >= 1e5 else f"{x:{sign}.1f}"


def table(results: dict[str, np.ndarray], pairs: list[tuple[str, str]]) -> tuple[str, str]:
    header = "| method | " + " | ".join(f"ep {e}" for e in range(1, 8)) + " | mean 6-7 |"
    rows = [header, "|---" * 9 + "|"]
    for name, r in results.items():
        flat = r.reshape(-1, 7)
        cells = [f"{fmt(m)} ± {fmt(h)}" for m, h in (mean_ci(flat[:, e]) for e in range(7))]
        late = mean_ci(flat[:, 5:].mean(1))
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {fmt(late[0])} ± {fmt(late[1])} |")
    paired = [header.replace("| method |", "| difference |"), "|---" * 9 + "|"]
    for a, b in pairs:
        diff = results[a].reshape(-1, 7) - results[b].reshape(-1, 7)
        cells = [f"{fmt(m, '+')} ± {fmt(h)}" for m, h in (mean_ci(diff[:, e]) for e in range(7))]
        late = mean_ci(diff[:, 5:].mean(1))
        paired.append(f"| {a} minus {b} | " + " | ".join(cells)
                      + f" | {fmt(late[0], '+')} ± {fmt(late[1])} |")
    return "\n".join(rows), "\n".join(paired)


def verdict(results: dict[str, np.ndarray], a: str, b: str) -> str:
    diff = results[a].reshape(-1, 7) - results[b].reshape(-1, 7)
    m, h = mean_ci(diff[:, 5:].mean(1))
    word = ("higher" if m - h > 0 else "lower" if m + h < 0
            else "not distinguishable (the interval contains 0)")
    return f"{a} minus {b} at episodes 6-7: {fmt(m, '+')} ± {fmt(h)}, {word}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=1000, help="meta-iterations")
    parser.add_argument("--repeats", type=int, default=20, help="chains per held-out pair")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--zoo", action="store_true",
                        help="also evaluate zoo:maml-locomotion-bug and zoo:rl2-locomotion-bug")
    parser.add_argument("--save-zoo", action="store_true",
                        help=f"write the final model to agents/zoo/{ZOO_NAME}.safetensors")
    parser.add_argument("--train-only", action="store_true", help="stop after meta-training")
    parser.add_argument("--init-from", default=PPO, metavar="REF",
                        help="the PPO policy theta starts from and the baseline row (a zoo "
                             "reference, checkpoint or run directory: its newest snapshot)")
    parser.add_argument("--center-advantage", action="store_true",
                        help="centre A_psi over each task's adaptation data")
    parser.add_argument("--execution-data", action="store_true",
                        help="meta-train the inner step on an adapted policy's episodes, as at "
                             "execution")
    parser.add_argument("--first-step", action="store_true",
                        help="with --execution-data: also meta-train the first inner step, "
                             "from theta's own episodes")
    parser.add_argument("--no-offset", action="store_true",
                        help="an ablation: no learned offset, the inner step is A_psi's "
                             "gradient step alone")
    parser.add_argument("--outer-epochs", type=int, default=1, metavar="N",
                        help="outer PPO epochs per iteration (1: the paper's policy-gradient step)")
    parser.add_argument("--run-name", default="norml-locomotion",
                        help="the run's directory under --runs")
    parser.add_argument("--section", default="norml-locomotion",
                        help="the section of docs/results.md to write (and the plot's name)")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "results")
    args = parser.parse_args()
    if args.outer_epochs < 1:
        raise SystemExit(f"--outer-epochs must be >= 1, got {args.outer_epochs}")
    if args.first_step and not args.execution_data:
        raise SystemExit("--first-step needs --execution-data")
    init = args.init_from
    if Path(init).is_dir():  # a PPO run: its newest snapshot, repository-relative where it can be
        init = str(relative(newest_snapshot(Path(init), "--init-from")))
    torch.set_num_threads(1)
    progress = sys.stderr.isatty()

    c = config(args.iterations, args.seed, init, args.center_advantage, args.execution_data,
               args.outer_epochs, args.first_step, not args.no_offset)
    trainer = LocomotionMetaTrainer(c, args.runs / args.run_name, tensorboard=False,
                                    nthread=1)
    trainer.run(progress=progress)
    path = trainer.lineage.path(trainer.lineage.latest())
    metrics = read_metrics(trainer.run_dir / "metrics.csv")
    t1 = time.perf_counter()
    if args.train_only:
        print(f"trained: {path}")
        return
    command = "python scripts/norml_locomotion.py " + " ".join(sys.argv[1:])
    if args.save_zoo:
        model, meta = load_norml(path)
        meta = dataclasses.replace(meta, extra={**meta.extra, "command": command})
        zoo = save_norml(agents.ZOO_DIR / f"{ZOO_NAME}.safetensors", model, meta)
        print(f"zoo: {zoo.relative_to(ROOT)} ({zoo.stat().st_size:,} bytes)")

    model, meta = load_norml(path)
    gamma = c.gamma
    methods = {
        BASELINE: agents.load(init, body="bug", seed=args.seed),
        NORML: agents.load(str(path), body="bug", seed=args.seed),
        UNCORRECTED: agents.load(str(path), body="bug", seed=args.seed, max_weight=None),
        THETA: FrozenNoRMLAgent(model, False, gamma=gamma, body="bug", seed=args.seed),
    }
    if model.offset is not None:  # without an offset this row would be theta's
        methods[OFFSET] = FrozenNoRMLAgent(model, True, gamma=gamma, body="bug", seed=args.seed)
    if args.zoo:  # the rest of the comparison, from the zoo's checkpoints
        policy, _ = load_policy(agents.resolve(init))
        theta, _, _, _ = load_maml(agents.resolve("zoo:maml-locomotion-bug"))
        methods["PPO tracking"] = TrackingAgent(policy, body="bug", seed=args.seed)
        methods["MAML (zoo)"] = agents.load("zoo:maml-locomotion-bug", body="bug", seed=args.seed)
        methods["MAML theta, no adaptation"] = PolicyAgent(theta, name="maml-theta", body="bug",
                                                           seed=args.seed)
        methods["RL^2 (zoo)"] = agents.load("zoo:rl2-locomotion-bug", body="bug", seed=args.seed)
    results, seconds, failed = {}, {}, {}
    for name, agent in methods.items():
        start = time.perf_counter()
        # the seeds of scripts/locomotion_adaptation.py: every method meets the same episodes
        try:
            results[name] = nonstationary_returns(agent, "bug", repeats=args.repeats,
                                                  seed=10_000 + args.seed)
        except ValueError as err:  # e.g. an adapted policy diverged to NaN actions
            if name != UNCORRECTED:  # the one ablation known to diverge; others are errors
                raise
            failed[name] = str(err)
            print(f"{name}: stopped ({err})", flush=True)
            continue
        seconds[name] = time.perf_counter() - start
        print(name, results[name].reshape(-1, 7).mean(0).round(1),
              f"({seconds[name]:.0f} s)", flush=True)
    np.savez(args.runs / f"{args.section}.npz", **results)
    t2 = time.perf_counter()

    plot_path = ROOT / "docs" / "plots" / f"{args.section.replace('-', '_')}.png"
    plot(results, metrics, plot_path)
    pairs = [(name, BASELINE) for name in results if name != BASELINE]
    pairs += [(NORML, THETA)] + ([(NORML, OFFSET)] if OFFSET in results else [])
    rows, paired = table(results, pairs)
    findings = "\n".join(f"- {verdict(results, a, b)}." for a, b in pairs)
    for name, r in results.items():
        flat = r.reshape(-1, 7)
        bad = np.flatnonzero((flat < DIVERGED).any(1))
        if len(bad):
            first_bad = min(int(np.argmax(flat[i] < DIVERGED)) + 1 for i in bad)
            findings += (f"\n- {name}: {len(bad)} of {len(flat)} chains diverged (an episode "
                         f"return below {DIVERGED:.0f}, from episode {first_bad} on).")
    entries = []
    for a, b in pairs:  # every paired comparison, also in docs/results/adaptation.json
        m, h = mean_ci((results[a].reshape(-1, 7) - results[b].reshape(-1, 7))[:, 5:].mean(1))
        entries.append({"domain": "locomotion", "method": f"{a} [{args.section}]",
                        "comparison": f"minus {b}", "window": "episodes 6-7", "mean": m,
                        "ci_low": m - h, "ci_high": m + h, "n": args.repeats * 3,
                        "command": command})
    update_entries(entries)
    for name, why in failed.items():
        findings += (f"\n- {name}: not in the tables; its evaluation stopped when an adapted "
                     f"policy's actions were no longer finite ({why}): the chain diverged.")
    last = metrics[-50:]
    pre = mean_ci([r["return_pre"] for r in last])
    post = mean_ci([r["return_post"] for r in last])
    gain = mean_ci([r["return_post"] - r["return_pre"] for r in last])
    train_min = sum(r["iteration_s"] for r in metrics) / 60
    first = metrics[:50]
    gain0 = mean_ci([r["return_post"] - r["return_pre"] for r in first])
    n_chains = args.repeats * 3
    steps = trainer.env_steps
    alpha = metrics[-1]["alpha"]
    m = c.model
    fixes = "".join([
        " A_psi is centred: its mean over each task's adaptation data is removed before the "
        "step." if m.center_advantage else "",
        " The inner step meta-trains on execution data: theta is first adapted on its own "
        "episodes of T_i, that adapted policy collects T_i again, and the step the outer loss "
        "differentiates is taken on those episodes with importance weights truncated at 2 "
        "(three collection phases)." if c.execution_data else "",
        " The first inner step, theta adapted on its own episodes of T_i (the step an agent "
        "takes after its first episode), is meta-trained too: that policy also plays T_{i+1} "
        "(a fourth collection phase) and the outer loss is the mean of its loss there and the "
        "execution-data step's." if c.first_step else "",
        f" The outer loop runs {c.outer_epochs} PPO epochs (clipped surrogate, clip {c.clip}) "
        "on each iteration's rollouts, the adaptation recomputed every epoch, instead of one "
        "policy-gradient step." if c.outer_epochs > 1 else ""])
    offset_text = "offset from 0" if m.learn_offset else "no offset (`--no-offset`)"
    plus_offset, into_offset = (" + offset", " offset,") if m.learn_offset else ("", "")
    offset_row = (f"- {OFFSET}: `theta + offset`, frozen (what the learned offset gives without "
                  "A_psi's step).\n" if OFFSET in results else "")
    training_data = ("at meta-training too, with --execution-data" if c.execution_data else
                     "at meta-training it is always `pi_theta`'s own, weight 1")
    body = f"""## NoRML on nonstationary locomotion (the paper's Fig. 4 protocol)

Command: `{command}` (commit {commit()}, {machine()}; one core: `torch.set_num_threads(1)`, one
physics thread). Budget: {c.iterations} meta-iterations of {c.meta_batch} consecutive-task
pairs x {c.episodes} episodes before and after the inner step ({steps:,} environment steps);
meta-training took {train_min:.0f} min (the sum of the iteration times in the run's
`metrics.csv`), the evaluation of this invocation {(t2 - t1) / 60:.0f} min, on a machine shared
with other jobs.

Meta-training (`agents/norml/locomotion.py`, `arena train norml --env
NonstationaryLocomotion-Bug-v0`): MAML's task structure, pairs (T_i, T_{{i+1}}) drawn from the 12
training leg pairs; {c.episodes} episodes of `pi_theta` on T_i, one reward-free inner step
`theta_i = theta{plus_offset} - alpha grad L` with `L` weighing `log pi_theta` by `A_psi(s, a, s')`,
{c.episodes} episodes of `pi_theta_i` on T_{{i+1}}, one Adam step on their policy-gradient loss
(discounted return, gamma {c.gamma}, minus the per-task polynomial ridge baseline, standardised
per task) through the inner step into theta,{into_offset} psi and alpha. theta starts from the PPO
baseline's actor (`{init}`, MLP {m.hidden}x{m.hidden} tanh) and the observations are normalised
with that policy's statistics, frozen and stored in the NoRML checkpoint; A_psi
{m.adv_hidden}x{m.adv_hidden} tanh on `concat(s', s, a)`; {offset_text}; scalar step size from
{m.alpha}, learned (final {alpha:.3g}); Adam {c.lr} (psi {c.advantage_lr}) decaying linearly to
0; meta-gradient norm clipped at {c.grad_clip}; seed {c.seed}.{fixes}

On the training pairs, the mean return over the last 50 meta-iterations was
{pre[0]:.1f} ± {pre[1]:.1f} before and {post[0]:.1f} ± {post[1]:.1f} after the inner step (gain
{gain[0]:+.1f} ± {gain[1]:.1f}; over the first 50 iterations {gain0[0]:+.1f} ± {gain0[1]:.1f}; 95 %
t-intervals over iterations). The two phases meet different tasks: T_{{i+1}} gives the damaged
pair 1/6 less torque than T_i, so the same policy scores lower after the step than before it.

Evaluation: the protocol and seeds of the locomotion comparison above
(`agents.evaluate.nonstationary_returns`, environment seeds from {10_000 + args.seed}): the bug
runs along +x while one held-out pair (back, middle, front) loses torque over 7 episodes (scale 1,
5/6, ..., 0), `adapt()` after every episode (NoRML: one inner step from theta on the last
{c.episodes} episodes, reading no reward), a full reset between chains; {args.repeats} chains per
pair ({n_chains} in all). Return per episode (mean ± 95 % t-interval over the {n_chains} chains):

{rows}

Paired chain by chain (every method meets the same environment seeds; mean difference ± 95 %
t-interval over the {n_chains} chains):

{paired}

- {BASELINE}: `{init}`, frozen.
- {NORML}: the checkpoint as `agents.load` gives it: after every episode one inner step from
  theta on the last {c.episodes} episodes, each step's term weighted by `pi_theta(a | s) /
  pi_behaviour(a | s)` truncated at 2, since after the first episode the experience comes from
  earlier adapted policies ({training_data}).
- {UNCORRECTED}: the same without the weights (`max_weight=None`).
- {THETA}: the meta-trained `pi_theta`, frozen (what meta-training did to theta).
{offset_row}
Computed from the paired table:

{findings}

![NoRML on locomotion]({plot_path.relative_to(ROOT / 'docs').as_posix()})
"""
    print(write_section(args.section, body))


if __name__ == "__main__":
    main()
