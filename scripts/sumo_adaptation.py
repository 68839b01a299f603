"""Continuous adaptation in RoboSumo: meta-learners against an opponent that keeps training.

1. Meta-trains MAML (bug vs bug) on pairs of consecutive versions of the self-play lineage
   ``zoo:selfplay-bug`` (adapt against version k, judged against version k+1), starting from
   the lineage's last version (theta and observation statistics), resumable.
1b. Fine-tunes that same last version with PPO against uniformly drawn versions of the lineage
   for about as many steps as MAML's meta-training took (``--ppo-steps``): the baseline that
   separates what meta-training gains by training against the lineage from what it gains by
   adapting.
2. Plays iterated adaptation games (the paper's Fig. 5 at this machine's scale): the opponent is
   the lineage itself, one stored version later every round, from its first stored version to
   its last; the agent only adapts from the experience of the game (``--episodes`` bouts per
   round). Methods: the lineage's last version frozen (no adaptation), PPO tracking of it,
   MAML (importance-corrected adaptation from theta on the last 75 bouts after every round),
   MAML's theta frozen, the PPO fine-tuned policy frozen, plus any ``--extra NAME=CHECKPOINT``
   agent (RL^2, NoRML, ...). Every method plays the same ``--games`` game seeds, so
   differences are paired game by game.
3. Writes the "sumo-adaptation" section of docs/results.md with a plot of the win rate per round.

Usage:
    python scripts/sumo_adaptation.py [--maml-iterations 200] [--games 16]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from resultsdoc import ROOT, commit, machine, mean_ci, save_figure, write_section

from agents.maml import AdaptConfig
from agents.maml.sumo import SumoMetaConfig, SumoMetaTrainer
from agents.policy import PolicyConfig
from agents.ppo import PPOConfig
from agents.ppo.train import TrainConfig, Trainer
from leagues.games import GameConfig, GameSpec, play_game
from leagues.roster import AgentSpec, with_body

ENV = "RoboSumo-Bug-vs-Bug-v0"
LINEAGE = "selfplay-bug"
SECTION = "sumo-adaptation"
EXTRA_NOTES = {  # how the zoo's other RoboSumo meta-learners were trained (population_zoo.py)
    "zoo:rl2-sumo-bug": "LSTM, 200,000 steps of trials of 5 bouts against a uniformly drawn "
                        "version of the same lineage (BPTT windows of 100 steps); a new trial, "
                        "i.e. a zeroed memory, every round",
    "zoo:norml-sumo-bug": "meta-trained for 25 iterations on consecutive versions of the same "
                          "lineage from its newest version, centred learned advantage; between "
                          "rounds one reward-free step from theta on the last round's bouts, "
                          "importance-weighted",
}


def maml_config(iterations: int, seed: int) -> SumoMetaConfig:
    return SumoMetaConfig(env=ENV, opponents=f"zoo:{LINEAGE}", iterations=iterations,
                          meta_batch=8, episodes=4, seed=seed,
                          adapt=AdaptConfig(steps=3, step_size=0.001, per_parameter=True,
                                            gamma=0.995, max_weight=2.0),
                          lr=3e-4, step_size_lr=1e-5, epochs=5, clip=0.2, gamma=0.995,
                          init_from=f"zoo:{LINEAGE}", nthread=1)


def ppo_config(steps: int, seed: int) -> TrainConfig:
    """PPO from the lineage's last version against its versions (the self-play settings)."""
    return TrainConfig(env=ENV, total_steps=steps, num_envs=16, rollout=512, seed=seed,
                       opponent="lineage", opponents=f"zoo:{LINEAGE}",
                       init_from=f"zoo:{LINEAGE}", reward_scale=0.01, nthread=1,
                       snapshot_every=10, policy=PolicyConfig(arch="mlp", hidden=64),
                       ppo=PPOConfig(lr=3e-4, gamma=0.995, lam=0.95, epochs=10,
                                     minibatches=32))


def relative(path: Path) -> str:
    """A path relative to the repository when it is inside it (nothing machine-specific)."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def play(agent: AgentSpec, games: int, episodes: int, seed: int,
         lineage: str = LINEAGE) -> np.ndarray:
    """``[games, rounds, 3]``: the agent's wins, losses and draws per round against the zoo's
    ``lineage``, one stored version later every round from its first."""
    from agents import ZOO_DIR
    from agents.lineage import Lineage

    versions = Lineage(ZOO_DIR, lineage).versions()
    stride = versions[1] - versions[0]
    opponent = with_body(AgentSpec(f"zoo:{lineage}", evolving=True,
                                   start_version=versions[0], stride=stride))
    config = GameConfig(rounds=len(versions), episodes=episodes, max_steps=500)
    out = np.zeros((games, config.rounds, 3), dtype=np.int64)
    for g in range(games):
        result = play_game(GameSpec(with_body(agent), opponent, config, seed=seed + g,
                                    a_starts=g % 2 == 0))
        if result.forfeit is not None:
            raise RuntimeError(f"{agent.label} forfeited game {g}: {result.reason}")
        for r in result.rounds:
            out[g, r.round] = (r.wins, r.losses, r.draws)
    return out


def play_cached(agent: AgentSpec, games: int, episodes: int, seed: int,
                cache: Path, lineage: str = LINEAGE) -> np.ndarray:
    """``play``, reusing the outcomes of an earlier invocation with the same agent (checkpoint
    hash included), opponent lineage, games, episodes and seed, so that adding a method plays
    only its games."""
    import hashlib
    import json

    from leagues.roster import describe

    fields = {"spec": agent.to_dict(), "sha256": describe(agent)["sha256"],
              "games": games, "episodes": episodes, "seed": seed}
    if lineage != LINEAGE:  # the key of the bug's games is what it always was
        fields["lineage"] = lineage
    key = json.dumps(fields, sort_keys=True)
    path = cache / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.npy"
    if path.exists():
        return np.load(path)
    out = play(agent, games, episodes, seed, lineage)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out


def plot(results: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    draw(ax, results)
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def draw(ax, results: dict[str, np.ndarray]) -> None:
    """The share of bouts won per round of every method (mean over games, 95 % band)."""
    for name, r in results.items():
        wins = np.convolve  # 3-round moving sums per game (rounds at the ends: what exists)
        kernel = np.ones(3)
        won = np.stack([wins(g, kernel, "same") for g in r[..., 0]])
        played = np.stack([wins(g, kernel, "same") for g in r.sum(-1)])
        rate = won / played  # [games, rounds]
        rounds = np.arange(1, rate.shape[1] + 1)
        mean = rate.mean(0)
        half = np.array([mean_ci(rate[:, k])[1] for k in range(rate.shape[1])])
        ax.plot(rounds, mean, marker="o", ms=3, label=name)
        ax.fill_between(rounds, mean - half, mean + half, alpha=0.12)
    ax.set_xlabel("round (the opponent is one stored version later every round)")
    ax.set_ylabel("bouts won (3-round moving average)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--maml-iterations", type=int, default=200)
    parser.add_argument("--maml-run", default="sumo-maml", help="MAML run directory name")
    parser.add_argument("--ppo-steps", type=int, default=52 * 16 * 512,
                        help="steps of the PPO fine-tuning against the lineage (default: about "
                             "MAML's 100 meta-iterations)")
    parser.add_argument("--games", type=int, default=16, help="games per method")
    parser.add_argument("--episodes", type=int, default=3, help="bouts per round")
    parser.add_argument("--last", type=int, default=10,
                        help="rounds at the end of a game the summary is taken over")
    parser.add_argument("--train-only", action="store_true", help="stop after meta-training")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the report from the outcomes saved by the last evaluation")
    parser.add_argument("--extra", nargs="*", default=[], metavar="NAME=CHECKPOINT",
                        help="more agents to play (e.g. rl2=path.safetensors)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "results")
    args = parser.parse_args()
    progress = sys.stderr.isatty()

    t0 = time.perf_counter()
    meta = SumoMetaTrainer(maml_config(args.maml_iterations, args.seed),
                           args.runs / args.maml_run, tensorboard=False)
    meta.run(progress=progress)
    maml_path = relative(meta.lineage.path(meta.lineage.latest()))
    ppo = Trainer(ppo_config(args.ppo_steps, args.seed), args.runs / "sumo-ppo-lineage",
                  tensorboard=False)
    ppo.run(progress=progress)
    ppo_path = relative(ppo.lineage.path(ppo.lineage.latest()))
    t1 = time.perf_counter()
    if args.train_only:
        return

    methods = {
        "no adaptation (last self-play version)": AgentSpec(f"zoo:{LINEAGE}"),
        "PPO tracking": AgentSpec(f"zoo:{LINEAGE}", adaptation="tracking"),
        "MAML (importance-corrected)": AgentSpec(maml_path),
        "MAML theta, no adaptation": AgentSpec(maml_path, adaptation="none"),
        "PPO fine-tuned against the lineage": AgentSpec(ppo_path),
    }
    extras = {}
    for spec in args.extra:
        name, _, ref = spec.partition("=")
        if Path(ref).is_dir():  # a lineage directory: its latest snapshot
            ref = relative(max(Path(ref).glob("v*.safetensors")))
        methods[name] = AgentSpec(ref)
        extras[name] = ref
    saved = args.runs / f"{SECTION}.npz"
    if args.report_only:
        results = dict(np.load(saved))
    else:
        results = {}
        for name, spec in methods.items():
            results[name] = play_cached(spec, args.games, args.episodes, 20_000 + args.seed,
                                        args.runs / SECTION)
            late = results[name][:, -args.last:]
            print(name, f"late win rate {late[..., 0].sum() / late.sum():.3f}", flush=True)
        np.savez(saved, **results)
    t2 = time.perf_counter()
    plot(results, ROOT / "docs" / "plots" / f"{SECTION.replace('-', '_')}.png")
    print(report(args, results, maml_path, ppo_path, extras, meta, t1 - t0, t2 - t1))


def report(args: argparse.Namespace, results: dict[str, np.ndarray], maml_path: str,
           ppo_path: str, extras: dict[str, str], meta: SumoMetaTrainer, train_s: float,
           eval_s: float) -> str:
    ppo_steps = args.ppo_steps
    n_rounds = next(iter(results.values())).shape[1]
    last = min(args.last, n_rounds)

    def rates(r: np.ndarray, rounds: slice) -> tuple[np.ndarray, np.ndarray]:
        part = r[:, rounds]
        return part[..., 0].sum(1) / part.sum((1, 2)), part[..., 1].sum(1) / part.sum((1, 2))

    head = f"| method | bouts won, all rounds | won, last {last} | lost, last {last} |"
    rows = [head, "|---|---|---|---|"]
    for name, r in results.items():
        cells = []
        for rounds, which in ((slice(None), 0), (slice(-last, None), 0), (slice(-last, None), 1)):
            m, h = mean_ci(rates(r, rounds)[which])
            cells.append(f"{m:.2f} ± {h:.2f}")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    paired = [f"| comparison | all rounds | last {last} |", "|---|---|---|"]
    names = list(results)
    pairs = [(n, names[0]) for n in names[1:]]
    maml, theta = "MAML (importance-corrected)", "MAML theta, no adaptation"
    tuned = "PPO fine-tuned against the lineage"
    for a, b in ((maml, theta), (theta, tuned), (maml, tuned)):
        if a in results and b in results:
            pairs.append((a, b))
    for a, b in pairs:
        cells = []
        for rounds in (slice(None), slice(-last, None)):
            d = rates(results[a], rounds)[0] - rates(results[b], rounds)[0]
            m, h = mean_ci(d)
            cells.append(f"{m:+.2f} ± {h:.2f}")
        paired.append(f"| {a} minus {b} | " + " | ".join(cells) + " |")
    c = meta.config
    from agents.logger import read_metrics

    train_min = sum(float(r["sample_s"]) + float(r["update_s"])
                    for r in read_metrics(meta.run_dir / "metrics.csv")) / 60
    alphas = [float(np.mean([p.detach().mean().item() for p in step.parameters()]))
              for step in meta.step_sizes.alphas]
    timing = (f"Wall time of this invocation: training {train_s / 60:.0f} min (resumed runs "
              f"count only the remainder), games {eval_s / 60:.0f} min (outcomes of agents already "
              f"played with the same settings are reused from the run directory).")
    if args.report_only:
        timing = ("This report was rewritten from the saved outcomes (`--report-only`); the same "
                  "command without that flag trains (resuming) and plays the games.")
    games = next(iter(results.values())).shape[0]
    extras_text = "".join(f"- {n}: `{ref}`, adapting its own way "
                          f"({EXTRA_NOTES.get(ref, 'see arena zoo')}).\n"
                          for n, ref in extras.items())
    body = f"""## Continuous adaptation in RoboSumo: the bug against its own self-play lineage

Command: `python scripts/sumo_adaptation.py {" ".join(sys.argv[1:])}` (commit {commit()},
{machine()}). Iterated adaptation games (the paper's Fig. 5 protocol at this machine's scale):
the opponent is the `zoo:{LINEAGE}` lineage, one stored version later each round (versions
4, 8, ..., 120, 123: {n_rounds} rounds), {args.episodes} bouts of at most 500 steps per round,
players alternating sides; agents adapt between rounds only from the game's own bouts.
{games} games per method on the same game seeds. Share of bouts won (mean ± 95 % t-interval
over the {games} games):

{chr(10).join(rows)}

Paired differences of the share of bouts won (mean ± 95 % t-interval over the {games} games):

{chr(10).join(paired)}

![win rate per round](plots/{SECTION.replace('-', '_')}.png)

- No adaptation: the lineage's last version (v123: 1 M steps of self-play PPO), frozen.
- PPO tracking: the same policy; after every round 4 PPO epochs (4 minibatches, Adam 3e-4,
  discount 0.995, rewards x 0.01 as in its training) on the round's 3 bouts.
- MAML: meta-trained for {meta.iteration} iterations ({meta.env_steps:,} steps) from v123 on
  consecutive-version pairs of the same lineage ({c.meta_batch} pairs per iteration, K =
  {c.episodes} bouts per version, M = {c.adapt.steps} inner steps, Meta-SGD step sizes learned
  at rate {c.step_size_lr}; final mean step sizes {", ".join(f"{a:.1e}" for a in alphas)});
  at play time phi is recomputed from theta on the last 75 bouts after every round, with
  per-step importance weights truncated at {c.adapt.max_weight}; {train_min:.0f} min of
  one core on a machine shared with other jobs (the sum of its iteration times). Snapshot:
  `{maml_path}`, committed as `zoo:maml-sumo-bug`. It was meta-trained before commit ad49c55,
  which changed how the env seeds of the two phases are derived (they used to share all but
  one arena's start); rerunning the command from scratch uses the new seeds.
- MAML theta, no adaptation: the meta-trained theta frozen (what meta-training gives without
  adaptation).
- PPO fine-tuned against the lineage: v123 trained on with PPO for {ppo_steps:,} steps (about
  MAML's) against a uniformly drawn version of the lineage per arena and iteration (the
  self-play settings: 16 arenas x 512 steps, 10 epochs x 32 minibatches, Adam 3e-4, discount
  0.995, rewards x 0.01), then frozen: what training against the lineage gives without any
  meta-learning. Snapshot: `{ppo_path}` (not committed: rerun the command).
{extras_text}
{timing}
"""
    write_section(SECTION, body)
    return body


if __name__ == "__main__":
    main()
