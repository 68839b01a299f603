"""How noisy is MAML's inner gradient on nonstationary locomotion? A diagnostic of why adapting
from 3 episodes adds nothing measurable (docs/results.md, the locomotion comparison).

For tasks drawn from the bug's training damage chains (a leg pair and one of its torque scales),
plays ``--episodes`` episodes of the meta-trained theta (``zoo:maml-locomotion-bug``) and
computes the first inner gradient of the adaptation rule (``agents.maml.inner_loss``: the
policy-gradient loss with the value baseline, on-policy, so every importance weight is 1) on
disjoint batches of K episodes. For each batch it measures the cosine between its gradient and
the gradient of all the *other* episodes of the task (a nearly noise-free estimate of the
task's true gradient direction when there are many). K = 3 is what meta-training and the agent
adapt on. A cosine near 0 means a K-episode step points in a direction unrelated to the task's
gradient: the adaptation step is dominated by sampling noise. The policy's parameters (mean and
log-std) and the value parameters are measured apart.

With ``--domain sumo`` the same for RoboSumo: the meta-trained theta of ``zoo:maml-sumo-bug``,
tasks are versions of ``zoo:selfplay-bug`` (the opponent it adapts to), episodes are bouts
(padded and masked), K = 4 is what it meta-trained on.

Writes the "maml-inner-gradient-noise" (or "-sumo") section of docs/results.md.

Usage:
    python scripts/inner_gradient_noise.py [--domain locomotion|sumo] [--tasks 12] [--episodes 192]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from resultsdoc import commit, machine, mean_ci, write_section

import agents
from agents.maml import Episodes, act_step, inner_loss
from agents.maml.train import load_maml
from agents.nets import log_prob

SECTION = "maml-inner-gradient-noise"
BATCHES = (3, 6, 12, 24, 48)


@torch.no_grad()
def play(policy, theta, envs, damage, seed: int, generator: torch.Generator) -> Episodes:
    """One episode of theta per simulation, all on one task."""
    n, steps = envs.num_envs, envs.max_steps
    envs.set_damages([damage] * n)
    obs, _ = envs.reset(seed=seed)
    out_obs = torch.zeros(n, steps, policy.input_dim)
    out_act = torch.zeros(n, steps, policy.act_dim)
    rewards, logp = torch.zeros(n, steps), torch.zeros(n, steps)
    for t in range(steps):
        x = policy.normalize(obs)
        mean, log_std, _, _ = act_step(policy.net, theta, x, None)
        a = mean + log_std.exp() * torch.randn(mean.shape, generator=generator)
        out_obs[:, t], out_act[:, t], logp[:, t] = x, a, log_prob(mean, log_std, a)
        obs, rew, _, _, _ = envs.step(a.double().numpy())
        rewards[:, t] = torch.as_tensor(rew, dtype=torch.float32)
    return Episodes(out_obs, out_act, rewards, logp, torch.ones(n, steps))


def gradients(policy, theta, episodes: Episodes, config, k: int) -> dict[str, torch.Tensor]:
    """Per-batch inner gradients ``[batches, params]`` for the policy and the value parts."""
    out: dict[str, list[torch.Tensor]] = {"policy": [], "value": []}
    for b in range(episodes.obs.shape[0] // k):
        rows = slice(b * k, (b + 1) * k)
        batch = Episodes(*(x[rows] for x in episodes))
        params = {n: v.detach().requires_grad_() for n, v in theta.items()}
        loss = inner_loss(policy.net, params, batch, config)
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        parts = {"policy": [], "value": []}
        for (name, p), g in zip(params.items(), grads, strict=True):
            g = torch.zeros_like(p) if g is None else g
            parts["value" if name.startswith("v.") or ".v." in name else "policy"].append(
                g.flatten())
        for key, flat in parts.items():
            out[key].append(torch.cat(flat))
    return {key: torch.stack(v) for key, v in out.items()}


def leave_one_out_cosines(g: torch.Tensor) -> np.ndarray:
    """Cosine of each batch's gradient with the mean gradient of the other batches."""
    total = g.sum(0)
    cos = []
    for j in range(g.shape[0]):
        rest = (total - g[j]) / (g.shape[0] - 1)
        cos.append(float(torch.nn.functional.cosine_similarity(g[j], rest, dim=0)))
    return np.array(cos)


def signal_ratio(cosine: float, k: int, rest: int) -> float:
    """The per-episode signal-to-noise ratio s (squared norm of the true gradient over the trace
    of one episode's gradient covariance) that makes two independent estimates from k and
    ``rest`` episodes have this expected cosine: sqrt(s k / (1 + s k)) * sqrt(s r / (1 + s r)).
    (Treats a batch gradient as a mean of independent per-episode gradients, which the
    per-batch standardisation of advantages makes only approximately true.)"""
    if cosine <= 0:
        return 0.0
    f = lambda s: np.sqrt(s * k / (1 + s * k) * s * rest / (1 + s * rest)) - cosine  # noqa: E731
    lo, hi = 0.0, 1e6
    for _ in range(200):
        mid = np.sqrt(lo * hi) if lo > 0 else hi / 1e9
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
    return float(hi)


def sumo_tasks(n_tasks: int, episodes: int, seed: int):
    """theta of zoo:maml-sumo-bug and a function playing ``episodes`` bouts against a version."""
    import dataclasses
    import tempfile

    from agents.maml.sumo import SumoMetaTrainer, load_sumo_maml

    policy, _, config, _ = load_sumo_maml(agents.resolve("zoo:maml-sumo-bug"))
    config = dataclasses.replace(config, meta_batch=1, episodes=episodes, nthread=1)
    trainer = SumoMetaTrainer(config, tempfile.mkdtemp(), resume=False, tensorboard=False)
    trainer.policy.load_state_dict(policy.state_dict())
    theta = {k: v.detach() for k, v in trainer.net.named_parameters()}
    versions = trainer.versions
    picks = np.random.default_rng(seed).choice(versions, size=n_tasks, replace=False)

    def play_version(version: int, i: int) -> Episodes:
        bouts = trainer.collect([int(version)], [theta], seed=60_000 + 1000 * seed + i)
        return bouts.task(0)

    return trainer.policy, theta, config.adapt, [int(v) for v in picks], play_version


def main() -> None:
    from envs.nonstationary_locomotion import LocomotionVectorEnv, TaskSampler

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domain", choices=("locomotion", "sumo"), default="locomotion")
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--episodes", type=int, default=192, help="episodes per task")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ks = [k for k in BATCHES if args.episodes // k >= 2]  # a leave-one-out needs two batches
    generator = torch.Generator().manual_seed(args.seed)
    if args.domain == "sumo":
        policy, theta, config, tasks, play_version = sumo_tasks(args.tasks, args.episodes,
                                                                args.seed)
    else:
        policy, _, config, _ = load_maml(agents.resolve("zoo:maml-locomotion-bug"))
        theta = {k: v.detach() for k, v in policy.net.named_parameters()}
        envs = LocomotionVectorEnv(args.episodes, "bug", nthread=1)
        sampler = TaskSampler("bug", "train", seed=args.seed)
        tasks = [pair[0] for pair in sampler.transitions(args.tasks)]
    cosines = {(part, k): [] for part in ("policy", "value") for k in ks}
    for i, damage in enumerate(tasks):
        if args.domain == "sumo":
            episodes = play_version(damage, i)
        else:
            episodes = play(policy, theta, envs, damage, 50_000 + 1000 * args.seed + i,
                            generator)
        for k in ks:
            g = gradients(policy, theta, episodes, config, k)
            for part in ("policy", "value"):
                # one mean per task: batches of a task share its other episodes
                cosines[(part, k)].append(float(leave_one_out_cosines(g[part]).mean()))
        print(f"task {i + 1}/{len(tasks)}: {damage}", flush=True)
    k_used = 4 if args.domain == "sumo" else 3
    rows = ["| parameters | " + " | ".join(f"K = {k}" for k in ks) + " |",
            "|---" * (len(ks) + 1) + "|"]
    for part in ("policy", "value"):
        cells = [f"{m:.3f} ± {h:.3f}" for m, h in (mean_ci(cosines[(part, k)]) for k in ks)]
        rows.append(f"| {part} | " + " | ".join(cells) + " |")
    derived = [f"| parameters | per-episode signal ratio s | expected cosine of a "
               f"{k_used}-episode gradient with the true one | episodes for a cosine of 0.5 |",
               "|---|---|---|---|"]
    for part in ("policy", "value"):
        ratios = [signal_ratio(float(np.mean(cosines[(part, k)])), k, args.episodes - k)
                  for k in ks if k < args.episodes]
        s_hat = float(np.median(ratios))
        cos3 = np.sqrt(k_used * s_hat / (1 + k_used * s_hat))
        need = 1 / (3 * s_hat) if s_hat > 0 else float("inf")
        derived.append(f"| {part} | {s_hat:.4f} | {cos3:.2f} | {need:,.0f} |")
    if args.domain == "sumo":
        title = "RoboSumo"
        what = (f"{len(tasks)} versions of `zoo:selfplay-bug` (drawn with seed {args.seed}: "
                f"{', '.join(map(str, tasks))}), {args.episodes} bouts (episodes) of the "
                f"meta-trained theta of `zoo:maml-sumo-bug` against each")
    else:
        title = "locomotion"
        what = (f"{len(tasks)} tasks of the bug's training damage chains (a leg pair at one "
                f"torque scale, drawn with seed {args.seed}), {args.episodes} episodes of the "
                f"meta-trained theta of `zoo:maml-locomotion-bug` each")
    body = f"""## How noisy MAML's inner gradient is on {title} (a diagnostic)

Command: `python scripts/inner_gradient_noise.py {" ".join(sys.argv[1:])}` (commit {commit()},
{machine()}). For {what}; the first inner gradient of the adaptation rule (policy gradient
with the value baseline, advantages standardised per batch, on-policy) on disjoint batches of K
episodes, and its cosine with the gradient of the task's other {args.episodes} - K episodes
(mean over the batches of a task; mean ± 95 % t-interval over the {len(tasks)} tasks).
K = {k_used} is what MAML meta-trained on. A cosine of 1 would be a noise-free direction, 0 an
unrelated one.

{chr(10).join(rows)}

What these cosines imply, treating a batch gradient as a mean of independent per-episode
gradients with a per-episode signal-to-noise ratio s (squared norm of the true gradient over the
trace of one episode's covariance; then two estimates from k and r episodes have an expected
cosine sqrt(sk/(1+sk)) sqrt(sr/(1+sr)); s solved from each column, median over the columns):

{chr(10).join(derived)}
"""
    write_section(SECTION + ("-sumo" if args.domain == "sumo" else ""), body)
    print(body)


if __name__ == "__main__":
    main()
