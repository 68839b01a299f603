"""MAML for continuous adaptation in RoboSumo: adapt against opponent version k, meet version k+1.

The nonstationary opponent of the paper's RoboSumo experiments is a self-play lineage: each
round, the opponent is the next version of its training run. Meta-training therefore draws,
every iteration, ``meta_batch`` pairs of consecutive stored versions (v_k, v_{k+1}) of the
opponents' lineage (uniformly over k) and, for all pairs at once in one ``SumoVectorEnv``
(the learner is player_0):

1. plays K bouts of pi_theta against v_k (one bout per arena, so long and short bouts count
   alike: an arena whose bout ended waits, its later steps are masked out);
2. adapts phi_i = U(theta, tau_i) (M importance-weighted inner steps, ``agents.maml``) on those
   K bouts, padded to a common length with a mask;
3. plays K bouts of pi_{phi_i} against v_{k+1};
4. updates theta and the step sizes with PPO on the v_{k+1} bouts, differentiated through the
   adaptation, plus the score-function term of the v_k bouts (eq. 8 / 24), as for locomotion
   (``agents.maml.train``).

A bout ends in a win, a loss (terminations) or a draw at the step limit; both losses treat every
end as terminal (the next bout is a new game and a draw carries its penalty), so nothing is
bootstrapped, unlike PPO self-play training (``agents.ppo.train``), which bootstraps at the step
limit; a value head started from such a checkpoint adjusts to the terminal reading. Arenas the
physics gave up on (``unstable``) count as draws in the win rates. ``env_steps`` counts the real
bout steps; the batch also steps finished arenas until the phase's last bout ends.

Rewards are the env's (outcome +-2000 plus the shaping terms) times ``reward_scale`` for
learning; the agent that plays games with the meta-trained parameters (``SumoMAMLAgent``)
applies the same scale before it adapts. The observation statistics are frozen: taken from
``init_from``, or measured once by a warm-up of pi_theta before the first iteration.

MLP and LSTM policies both work: an LSTM acts from the zero state at each bout's start and
carries its state through the bout (``agents.maml.act_step``); the losses unroll the padded bouts
the same way (``agents.maml.evaluate_episodes``).

Snapshots are of kind ``"maml-sumo"`` with the run's settings under ``config["maml_sumo"]``
(files written before that kind existed say ``"maml"`` and are read the same);
``agents.load`` turns them into a ``SumoMAMLAgent`` (default buffer: the paper's 75 bouts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from agents.checkpoint import (
    CheckpointError,
    CheckpointMeta,
    load_checked,
    load_checkpoint,
    read_meta,
)
from agents.env_ids import sumo_bodies_of
from agents.episodes import Episodes
from agents.lineage import Lineage
from agents.losses import gae
from agents.maml.agent import MAMLAgent
from agents.maml.core import (
    AdaptConfig,
    StepSizes,
    act_step,
    parameters_of,
)
from agents.maml.train import KIND, MAMLRun, OuterLoop
from agents.nets import log_prob
from agents.opponents import LineageOpponents
from agents.policy import Policy, PolicyConfig, load_policy, with_context
from agents.run import check_counts, env_seed, one_off_env_seed
from envs.bodies import article

CONFIG_KEY = "maml_sumo"
SUMO_KIND = "maml-sumo"
STATE_KIND = "maml-sumo-train-state"
BUFFER_EPISODES = 75  # the paper's experience buffer in RoboSumo


def sumo_bodies(env_id: str) -> tuple[str, str]:
    """(learner body, opponent body) of ``RoboSumo-X-vs-Y-v0``."""
    bodies = sumo_bodies_of(env_id)
    if bodies is None:
        raise ValueError(f"expected RoboSumo-X-vs-Y-v0 (X, Y in Ant, Bug, Spider), got {env_id!r}")
    return bodies


def opponent_lineage(ref: str) -> Lineage:
    """The lineage ``ref`` names: ``zoo:<name>`` or a directory of snapshots.

    Raises:
        ValueError: the reference names no lineage, or pins a version (opponents are a whole
            lineage: its versions are drawn or paired by the trainer).
    """
    from agents.refs import lineage_of_ref

    lineage, version = lineage_of_ref(ref)
    if version is not None:
        raise ValueError(f"opponents {ref!r}: give the lineage without '@{version}' "
                         f"(the trainer draws its versions)")
    return lineage


@dataclass(frozen=True)
class SumoMetaConfig(OuterLoop):
    """A MAML meta-training run in RoboSumo against consecutive versions of a lineage (and the
    ``OuterLoop`` settings of ``agents.maml.train``).

    Attributes:
        env: ``RoboSumo-X-vs-Y-v0``; the learner is X (player_0), the opponents are Y.
        opponents: the opponents' lineage: a directory or ``zoo:<name>`` (its snapshots must
            control Y); needs at least two versions.
        iterations: meta-iterations.
        meta_batch: consecutive-version pairs per iteration.
        episodes: K, bouts per version to adapt on and to evaluate the adapted policy on.
        episode_steps: step limit of a bout (None: the env's 500).
        seed: seed of everything.
        adapt: the inner adaptation rule (discount 0.995 as the outer loss).
        gamma: discount of the outer loss (paper: 0.995 in RoboSumo).
        reward_scale: rewards are multiplied by this for learning (RoboSumo outcomes are
            +-2000).
        init_from: a PPO checkpoint (path or ``zoo:`` reference) controlling X to start theta
            and the observation statistics from, e.g. the last version of a self-play lineage.
        warmup_steps: without ``init_from``, steps of every arena pi_theta plays before the
            first iteration to measure the observation statistics.
        policy: architecture when not starting from a checkpoint.
            Its ``context`` applies in either case: a checkpoint without one gets a context
            vector of that size (``agents.policy.with_context``: it acts as before).
        snapshot_every: iterations between saved snapshots.
        nthread: physics threads (0: all cores).
    """

    env: str = "RoboSumo-Bug-vs-Bug-v0"
    opponents: str = "agents/zoo/selfplay-bug"
    iterations: int = 100
    meta_batch: int = 8
    episodes: int = 4
    episode_steps: int | None = None
    seed: int = 0
    adapt: AdaptConfig = field(default_factory=lambda: AdaptConfig(gamma=0.995))
    gamma: float = 0.995
    reward_scale: float = 0.01
    init_from: str | None = None
    warmup_steps: int = 200
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    snapshot_every: int = 10
    nthread: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if sumo_bodies_of(self.env) is None:
            raise ValueError(f"MAML in RoboSumo trains on RoboSumo-X-vs-Y-v0 (X, Y in Ant, Bug, "
                             f"Spider), got {self.env!r}")
        check_counts(self, ("iterations", "meta_batch", "episodes", "epochs", "snapshot_every",
                            "warmup_steps"), optional=("episode_steps",))
        if not self.reward_scale > 0:
            raise ValueError(f"reward_scale must be positive, got {self.reward_scale!r}")

    @property
    def bodies(self) -> tuple[str, str]:
        return sumo_bodies(self.env)



class Bouts(NamedTuple):
    """One phase's bouts for every task: ``[tasks, K, T, ...]`` tensors padded with a mask."""

    obs: torch.Tensor  # normalised, as the policy saw them
    actions: torch.Tensor
    rewards: torch.Tensor  # scaled for learning; 0 on padding
    logp: torch.Tensor
    values: torch.Tensor
    mask: torch.Tensor  # 1 on real steps
    winners: np.ndarray  # [tasks, K]: 0 the learner won, 1 the opponent, -1 a draw

    def task(self, i: int) -> Episodes:
        return Episodes(self.obs[i], self.actions[i], self.rewards[i], self.logp[i], self.mask[i])

    def stacked(self) -> Episodes:
        """Every task's bouts ``[tasks, K, T, ...]`` (the task dimension first, for vmap)."""
        return Episodes(self.obs, self.actions, self.rewards, self.logp, self.mask)

    def returns(self) -> torch.Tensor:
        """Bout returns ``[tasks, K]`` (scaled)."""
        return (self.rewards * self.mask).sum(-1)

    def steps(self) -> int:
        return int(self.mask.sum())


def consecutive_pairs(versions: list[int], rng: np.random.Generator, n: int) -> list[tuple]:
    """``n`` pairs (v_k, v_{k+1}) of consecutive stored versions, k uniform."""
    if len(versions) < 2:
        raise ValueError(f"consecutive opponent versions need a lineage of >= 2 snapshots, "
                         f"got {versions}")
    ks = rng.integers(len(versions) - 1, size=n)
    return [(int(versions[k]), int(versions[k + 1])) for k in ks]


def terminal_gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
                 lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE of padded bouts ``[K, T]`` whose last real step is terminal; zero on padding."""
    r, v, m = rewards.T, (values * mask).T, mask.T  # [T, K]
    lengths = mask.sum(1).long()
    done = torch.zeros_like(r)
    done[(lengths - 1).clamp_min(0), torch.arange(r.shape[1])] = 1.0
    nxt = torch.cat([v[1:], torch.zeros_like(v[:1])]) * (1 - done)
    adv, ret = gae(r * m, v, nxt, done, done, gamma, lam)
    return (adv * m).T, (ret * m).T


class SumoMetaTrainer(MAMLRun):
    """One MAML meta-training run in RoboSumo (resumable, metrics CSV/TensorBoard, snapshots)."""

    STATE_KIND = STATE_KIND
    KIND = SUMO_KIND
    PROGRESS = ("pre_win_rate", "post_win_rate")

    def build(self) -> None:
        from envs.robosumo.vector import SumoVectorEnv

        config = self.config
        self.opponent_lineage = opponent_lineage(config.opponents)
        # the versions of the run: a lineage still being written does not change the task pairs
        self.versions = versions = self.opponent_lineage.versions()
        if len(versions) < 2:
            raise ValueError(f"opponents {config.opponents!r}: MAML meta-trains on consecutive "
                             f"versions and needs a lineage of >= 2 snapshots, found "
                             f"{len(versions)}")
        learner_body, opponent_body = config.bodies
        opp_meta = read_meta(self.opponent_lineage.path(versions[-1]))
        if opp_meta.body is not None and opp_meta.body != opponent_body:
            raise ValueError(f"opponents {config.opponents!r} control a {opp_meta.body}, but "
                             f"{config.env} needs opponents controlling a {opponent_body}")
        n = config.meta_batch * config.episodes
        kwargs = {} if config.episode_steps is None else {"max_steps": config.episode_steps}
        self.envs = SumoVectorEnv(n, config.bodies, nthread=config.nthread, **kwargs)
        self.max_steps = self.envs.core.max_steps
        self.opponents = LineageOpponents(self.opponent_lineage, n, config.seed + 1)
        obs_dim = self.envs.observation_spaces["player_0"].shape[0]
        act_dim = self.envs.action_spaces["player_0"].shape[0]
        if config.init_from:
            from agents import resolve

            self.policy, meta = load_policy(resolve(config.init_from))
            if (self.policy.obs_dim, self.policy.act_dim) != (obs_dim, act_dim) or (
                    meta.body is not None and meta.body != learner_body):
                raise ValueError(f"init_from {config.init_from!r} controls {article(meta.body)} "
                                 f"(obs {self.policy.obs_dim}, act {self.policy.act_dim}); "
                                 f"{config.env} needs a {learner_body} (obs {obs_dim}, "
                                 f"act {act_dim})")
            if config.policy.context:
                self.policy = with_context(self.policy, config.policy.context, config.seed)
        else:
            self.policy = Policy(obs_dim, act_dim, config.policy)
        self._init_vmap()
        self._init_learner()

    def start(self) -> None:
        if not (self.resumed or self.config.init_from):
            self._warm_up()

    @property
    def body(self) -> str:
        return self.config.bodies[0]

    def meta_config(self) -> dict[str, Any]:
        return {CONFIG_KEY: self.config.to_dict(), **self.policy.describe()}

    # ---------------------------------------------------------------- sampling

    @torch.no_grad()
    def _warm_up(self) -> None:
        """Measure the observation statistics on ``warmup_steps`` steps of pi_theta, once."""
        c = self.config
        pairs = consecutive_pairs(self.versions, self.rng, self.envs.num_envs)
        self.opponents.set_versions(np.arange(self.envs.num_envs), [p[0] for p in pairs])
        obs, _ = self.envs.reset(seed=one_off_env_seed(c.seed, self.envs.num_envs))
        raw, state = [], self.policy.initial_state(self.envs.num_envs)
        starts = np.ones(self.envs.num_envs, dtype=bool)
        for _ in range(c.warmup_steps):
            raw.append(obs[0].copy())
            out = self.policy.act(obs[0], state, starts, generator=self.generator)
            obs, _, terminated, truncated, _ = self.envs.step(
                (out.action, self.opponents.actions(obs[1])))
            state, starts = out.state, terminated | truncated
            self.opponents.bouts_ended(starts)
        self.policy.norm.update(torch.from_numpy(np.stack(raw)))

    @torch.no_grad()
    def collect(self, versions: list[int], params: list[dict[str, torch.Tensor]],
                seed: int) -> Bouts:
        """One bout per arena; arena block i (K arenas) plays ``versions[i]`` with ``params[i]``."""
        k, n_tasks = self.config.episodes, len(versions)
        n = n_tasks * k
        self.opponents.set_versions(np.arange(n), np.repeat(versions, k))
        obs, _ = self.envs.reset(seed=seed)
        steps, d, a_dim = self.max_steps, self.policy.input_dim, self.policy.act_dim
        out_obs, out_act = torch.zeros(n, steps, d), torch.zeros(n, steps, a_dim)
        out_rew, out_logp, out_val, mask = (torch.zeros(n, steps) for _ in range(4))
        winners = np.full(n, -1, dtype=np.int64)
        active = np.ones(n, dtype=bool)
        states: list[torch.Tensor | None] = [None] * n_tasks  # recurrent: one bout per arena
        used = steps
        for t in range(steps):
            x = self.policy.normalize(obs[0])
            actions = np.zeros((n, a_dim))
            for i in range(n_tasks):
                rows = slice(i * k, (i + 1) * k)
                mean, log_std, value, states[i] = act_step(self.net, params[i], x[rows],
                                                           states[i])
                a = mean + log_std.exp() * torch.randn(mean.shape, generator=self.generator)
                out_logp[rows, t], out_val[rows, t], out_act[rows, t] = (
                    log_prob(mean, log_std, a), value, a)
                actions[rows] = a.double().numpy()
            out_obs[:, t] = x
            mask[:, t] = torch.as_tensor(active, dtype=torch.float32)
            obs, rewards, terminated, truncated, info = self.envs.step(
                (actions, self.opponents.actions(obs[1])))
            self.opponents.bouts_ended(terminated | truncated)
            out_rew[:, t] = torch.as_tensor(rewards[:, 0] * self.config.reward_scale,
                                            dtype=torch.float32)
            ended = (terminated | truncated) & active
            winners[ended] = info["winner"][ended]
            active &= ~ended
            if not active.any():
                used = t + 1
                break
        m = mask[:, :used]
        shape = (n_tasks, k, used)
        return Bouts(out_obs[:, :used].reshape(*shape, d), out_act[:, :used].reshape(*shape, a_dim),
                     (out_rew[:, :used] * m).reshape(shape), out_logp[:, :used].reshape(shape),
                     (out_val[:, :used] * m).reshape(shape), m.reshape(shape),
                     winners.reshape(n_tasks, k))

    def sample(self) -> tuple[list[tuple[int, int]], Bouts, Bouts]:
        """Steps 1-3: bouts of theta against v_k, adaptation, bouts of each phi_i against v_k+1."""
        c = self.config
        pairs = consecutive_pairs(self.versions, self.rng, c.meta_batch)
        n = self.envs.num_envs  # two resets an iteration
        seed, post_seed = (env_seed(c.seed, 2 * self.iteration + phase, n) for phase in (0, 1))
        theta_now = {k: v.detach() for k, v in self.theta.items()}
        pre = self.collect([p[0] for p in pairs], [theta_now] * c.meta_batch, seed)
        post = self.collect([p[1] for p in pairs], self.adapted(pre, c.meta_batch), post_seed)
        return pairs, pre, post

    # ---------------------------------------------------------------- one iteration

    def step(self) -> tuple[dict[str, float], int]:
        start = time.perf_counter()
        _, pre, post = self.sample()
        sampled = time.perf_counter()
        stats = self.meta_update(pre, post)
        updated = time.perf_counter()
        scale = self.config.reward_scale
        row = {"pre_return": float(pre.returns().mean()) / scale,
               "post_return": float(post.returns().mean()) / scale,
               "pre_win_rate": float((pre.winners == 0).mean()),
               "post_win_rate": float((post.winners == 0).mean()),
               "pre_loss_rate": float((pre.winners == 1).mean()),
               "post_loss_rate": float((post.winners == 1).mean()),
               "bout_steps": float(post.mask.sum(-1).mean()), **stats,
               "sample_s": sampled - start, "update_s": updated - sampled}
        row["adaptation_gain"] = row["post_return"] - row["pre_return"]
        row.update(self.step_size_metrics())
        return row, pre.steps() + post.steps()

    def outer_targets(self, pre: Bouts,
                      post: Bouts) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """GAE advantages and returns ``[tasks, K, T]`` of the v_k+1 bouts (each ends terminal
        at its last real step; 0 on padding) and each task's standardised post return."""
        c = self.config
        targets = [terminal_gae(post.rewards[i], post.values[i], post.mask[i], c.gamma, c.lam)
                   for i in range(post.rewards.shape[0])]
        return (torch.stack([t[0] for t in targets]), torch.stack([t[1] for t in targets]),
                self.task_advantages(pre, post))

    # ---------------------------------------------------------------- checkpoints

    def state_extra(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return ({"rng.opponents": self.opponents.generator.get_state()},
                {"rng": self.rng.bit_generator.state, "opponent_versions": self.versions})

    def restore_extra(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        self.opponents.generator.set_state(tensors["rng.opponents"])
        self.rng.bit_generator.state = extra["rng"]
        self.env_steps = int(extra["env_steps"])
        stored = extra.get("opponent_versions", self.versions)
        missing = sorted(set(stored) - set(self.versions))
        if missing:
            raise ValueError(f"{self.run_dir / 'state.safetensors'}: the run trained against "
                             f"versions {missing} of {self.config.opponents!r}, which are no "
                             f"longer stored")
        self.versions = [int(v) for v in stored]


# ---------------------------------------------------------------- the agent


class SumoMAMLAgent(MAMLAgent):
    """``MAMLAgent`` for RoboSumo games: rewards are scaled as in meta-training before adapting.

    The game calls ``adapt()`` between rounds; phi is recomputed from theta on the last
    ``buffer_episodes`` bouts (the paper: 75) with truncated per-step importance weights.
    """

    def __init__(self, *args: Any, reward_scale: float = 0.01, **kwargs: Any) -> None:
        kwargs.setdefault("buffer_episodes", BUFFER_EPISODES)
        super().__init__(*args, **kwargs)
        self.reward_scale = float(reward_scale)

    def observe(self, action: np.ndarray, reward: float, next_obs: np.ndarray,
                terminated: bool, truncated: bool) -> None:
        super().observe(action, reward * self.reward_scale, next_obs, terminated, truncated)


def load_sumo_maml(path: Path | str) -> tuple[Policy, StepSizes, SumoMetaConfig, CheckpointMeta]:
    """Policy (theta), step sizes and run settings of a RoboSumo MAML snapshot."""
    from agents.policy import policy_from_checkpoint

    tensors, meta = load_checkpoint(path)
    if meta.kind not in (SUMO_KIND, KIND):
        raise CheckpointError(f"{path} is of kind {meta.kind!r}, expected {SUMO_KIND!r}")
    if CONFIG_KEY not in meta.config:
        raise ValueError(f"{path}: a MAML checkpoint, but not one meta-trained in RoboSumo "
                         f"(no {CONFIG_KEY!r} settings)")
    policy = policy_from_checkpoint(tensors, meta.config, path, prefix="policy.")
    config = SumoMetaConfig.from_dict(meta.config[CONFIG_KEY])
    step_sizes = StepSizes(parameters_of(policy.net), config.adapt)
    load_checked(step_sizes, tensors, path, prefix="alpha.")
    return policy, step_sizes, config, meta


def adaptable_policy(path: Path | str, meta: CheckpointMeta) -> tuple[Policy, float, float]:
    """theta as a policy, with reward scale and discount (``agents.loaders``)."""
    policy, _, config, _ = load_sumo_maml(path)
    return policy, config.reward_scale, config.gamma


def load_agent(path: Path, meta: CheckpointMeta, seed: int | None,
               **kwargs: Any) -> SumoMAMLAgent:
    """A ``SumoMAMLAgent`` from a RoboSumo MAML checkpoint (``agents.loaders``)."""
    policy, step_sizes, config, meta = load_sumo_maml(path)
    label = f"maml@{meta.version}" if meta.version is not None else "maml"
    return SumoMAMLAgent(policy, step_sizes, config.adapt, name=label, body=meta.body,
                         seed=seed, reward_scale=config.reward_scale, **kwargs)


__all__ = [
    "Bouts",
    "SumoMAMLAgent",
    "SumoMetaConfig",
    "SumoMetaTrainer",
    "consecutive_pairs",
    "load_agent",
    "load_sumo_maml",
    "opponent_lineage",
    "sumo_bodies",
    "terminal_gae",
]
