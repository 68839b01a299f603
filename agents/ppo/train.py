"""PPO training runs: single-agent envs, and RoboSumo self-play that keeps a lineage.

A run lives in one directory::

    <run>/config.json            the TrainConfig (also stored in every checkpoint)
    <run>/metrics.csv, tb/       one row per iteration; TensorBoard events
    <run>/state.safetensors      policy, optimiser and random-number states: resume point
    <run>/lineage/<name>/vNNNN.safetensors   snapshots (every iteration for RoboSumo)

``train(config, run_dir, resume=True)`` continues from ``state.safetensors`` if present. Episodes
in flight are restarted on resume (the envs are reset), so a resumed run is a faithful but not a
bit-identical continuation.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from agents.checkpoint import CheckpointMeta
from agents.config import Config
from agents.env_ids import body_of, locomotion_body_of, sumo_bodies_of
from agents.lineage import Lineage
from agents.policy import Policy, PolicyConfig, load_policy, policy_from_description
from agents.ppo import PPO, PPOConfig
from agents.run import TrainingRun, env_seed
from agents.sampler import SELF, SumoSampler, VectorSampler
from agents.scripted import IdlePolicy, RandomPolicy

OPPONENT_MODES = ("self", "pool", "lineage")
SNAPSHOT_EVERY_OTHER = 50  # iterations between snapshots outside RoboSumo
STATE_KIND = "ppo-train-state"
# The settings whose default depends on the env (``arena train ppo`` falls back to these): in
# RoboSumo rewards are scaled down for learning and the discount looks further ahead.
SUMO_DEFAULTS = {"reward_scale": 0.01, "ppo.gamma": 0.995}


@dataclass(frozen=True)
class TrainConfig(Config):
    """A PPO training run.

    Attributes:
        env: Gymnasium id: ``RoboSumo-X-vs-Y-v0`` (self-play or pool), ``NonstationaryLocomotion-
            X-v0``, ``ToyPoint-v0``, or any id that ``gymnasium.make_vec`` can build.
        total_steps: environment steps to train for (arena steps in RoboSumo, where self-play
            yields two samples per step).
        num_envs: parallel environments (arenas).
        rollout: steps per environment per iteration.
        seed: seed of everything (envs, initialisation, action noise, minibatches).
        opponent: RoboSumo only: ``"self"`` (both players are the learner), ``"pool"`` (the
            paper's curriculum: at iteration k each arena's opponent is the run's own snapshot
            at a random version in [1, k-1]) or ``"lineage"`` (each iteration each arena's
            opponent is a uniformly drawn version of the ``opponents`` lineage, frozen).
        opponents: with ``opponent="lineage"``: a lineage directory or ``zoo:<name>``.
        pool_window: with ``opponent="pool"``: draw the opponent version among the stored ones in
            [ceil(pool_window * k), k] instead of [1, k] (0, the paper's curriculum). Bansal et
            al. (2018, "Emergent complexity via multi-agent competition") found that opponents
            from the recent half of the history (0.5) give robust sumo policies.
        idle_fraction: pool or lineage opponents only: the chance that an arena's opponent in an
            iteration is the idle robot (zero torques) instead.
        random_fraction: the same for the random robot (uniform torques in [-1, 1]).
        self_play_arenas: pool or lineage opponents only: the first this many arenas are
            self-play arenas, where the learner plays both sides and learns from both (twice the
            samples per physics step); the others draw their opponents as above.
        init_from: a PPO checkpoint (path or ``zoo:`` reference) to start the policy (weights
            and observation statistics) from; the architecture is the checkpoint's.
        shaping_anneal: RoboSumo only: fraction of ``total_steps`` over which the shaping weight
            falls linearly from 1 to 0 (0 keeps it at 1).
        lr_anneal: decay the learning rate linearly to 0 over the run.
        reward_scale: rewards are multiplied by this for learning (0.01 suits RoboSumo's +-2000
            outcomes); reported returns stay unscaled.
        damage: nonstationary locomotion only: ``"none"`` (a healthy robot) or ``"train"`` (every
            episode of every env draws a training leg pair and a scale of the 7-episode
            schedule: the tasks the paper's baselines train on) or ``"A-B@S"`` (legs A and B
            deliver S times the torque in every episode: one task, for a specialist).
        observe_damage: nonstationary locomotion only: the observation also holds every
            actuator's torque scale (an informed policy that knows the damage: the oracle
            that bounds what adapting to it can give).
        lateral_cost: nonstationary locomotion only: the weight of a training-only cost on
            sideways torso speed (``lateral_cost_weight`` of the env; 0, the paper's task), for a
            base policy that keeps its heading; reported returns include it.
        snapshot_every: iterations between lineage snapshots; None: every iteration in RoboSumo
            (the evolving opponents of iterated games), every ``SNAPSHOT_EVERY_OTHER`` elsewhere
            (a 1 M-step locomotion run would otherwise keep a thousand files); the last
            iteration is always kept.
        nthread: physics threads of batched envs (0: all cores).
        reward_weights: RoboSumo only: the shaping weights (``envs.robosumo.rules.RewardWeights``
            fields, e.g. ``{"move_to_opponent": 1.0}``; the others keep their defaults); None:
            the env's. ``shaping_anneal`` scales them all.
        policy: network architecture.
        ppo: PPO hyper-parameters.
    """

    env: str = "NonstationaryLocomotion-Bug-v0"
    total_steps: int = 1_000_000
    num_envs: int = 16
    rollout: int = 128
    seed: int = 0
    opponent: str = "self"
    opponents: str | None = None
    pool_window: float = 0.0
    idle_fraction: float = 0.0
    random_fraction: float = 0.0
    self_play_arenas: int = 0
    init_from: str | None = None
    shaping_anneal: float = 0.0
    lr_anneal: bool = False
    reward_scale: float = 1.0
    damage: str = "none"
    observe_damage: bool = False
    lateral_cost: float = 0.0
    snapshot_every: int | None = None
    nthread: int = 0
    reward_weights: dict[str, float] | None = None
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)

    def __post_init__(self) -> None:
        if self.reward_weights is not None:
            if not self.is_sumo:
                raise ValueError("reward_weights apply to RoboSumo envs only")
            self.shaping_weights()  # refuses unknown names and non-finite values
        if self.policy.features == "sumo" and not self.is_sumo:
            raise ValueError(f"policy features='sumo' is for RoboSumo envs only, got "
                             f"env={self.env!r}")
        if self.opponent not in OPPONENT_MODES:
            raise ValueError(f"opponent must be one of {OPPONENT_MODES}, got {self.opponent!r}")
        if (self.opponent == "lineage") != (self.opponents is not None):
            raise ValueError("opponent='lineage' and opponents= (a lineage directory or "
                             "zoo:<name>) go together")
        if self.opponent != "self" and not self.is_sumo:
            raise ValueError(f"opponent={self.opponent!r} applies to RoboSumo envs only")
        if self.snapshot_every is not None and self.snapshot_every < 1:
            raise ValueError(f"snapshot_every must be >= 1 or None, got {self.snapshot_every!r}")
        for name in ("total_steps", "num_envs", "rollout"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.damage not in ("none", "train"):
            fixed_damage(self.damage)  # refuses anything but "A-B@S"
        if self.damage != "none" and locomotion_body_of(self.env) is None:
            raise ValueError(f"damage={self.damage!r} applies to NonstationaryLocomotion envs "
                             f"only")
        if self.observe_damage and locomotion_body_of(self.env) is None:
            raise ValueError(f"observe_damage applies to NonstationaryLocomotion envs only, got "
                             f"env={self.env!r}")
        cost = self.lateral_cost
        if not (isinstance(cost, int | float) and not isinstance(cost, bool)
                and math.isfinite(cost) and cost >= 0):
            raise ValueError(f"lateral_cost must be a finite number >= 0, got "
                             f"{self.lateral_cost!r}")
        if self.lateral_cost and locomotion_body_of(self.env) is None:
            raise ValueError(f"lateral_cost applies to NonstationaryLocomotion envs only, got "
                             f"env={self.env!r}")
        if not self.reward_scale > 0:
            raise ValueError(f"reward_scale must be positive, got {self.reward_scale!r}")
        if not 0 <= self.pool_window <= 1:
            raise ValueError(f"pool_window must be in [0, 1], got {self.pool_window!r}")
        if self.pool_window and self.opponent != "pool":
            raise ValueError("pool_window applies to opponent='pool' only")
        for name in ("idle_fraction", "random_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.scripted_fraction and self.opponent == "self":
            raise ValueError("idle_fraction and random_fraction apply to opponent='pool' or "
                             "'lineage' (self-play has no opponent to replace)")
        if self.scripted_fraction > 1:
            raise ValueError(f"idle_fraction + random_fraction must be <= 1, got "
                             f"{self.scripted_fraction!r}")
        if isinstance(self.self_play_arenas, bool) or not isinstance(self.self_play_arenas, int) \
                or not 0 <= self.self_play_arenas <= self.num_envs:
            raise ValueError(f"self_play_arenas must be an integer in [0, num_envs "
                             f"({self.num_envs})], got {self.self_play_arenas!r}")
        if self.self_play_arenas and self.opponent == "self":
            raise ValueError("self_play_arenas applies to opponent='pool' or 'lineage' "
                             "(opponent='self' makes every arena a self-play arena)")
        if not 0 <= self.shaping_anneal <= 1:
            raise ValueError(f"shaping_anneal must be in [0, 1], got {self.shaping_anneal!r}")
        if self.policy.arch == "lstm" and self.rollout % self.ppo.bptt:
            raise ValueError(f"rollout ({self.rollout}) must be a multiple of bptt "
                             f"({self.ppo.bptt}) for LSTM policies")

    def shaping_weights(self) -> Any:
        """The RoboSumo shaping weights of the run (``RewardWeights``)."""
        import dataclasses as dc

        from envs.robosumo.rules import RewardWeights

        given = dict(self.reward_weights or {})
        known = {f.name for f in dc.fields(RewardWeights)} - {"shaping"}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f"unknown reward_weights {unknown}; known: {sorted(known)}")
        return RewardWeights(**given)

    @property
    def scripted_fraction(self) -> float:
        """The chance that an arena's opponent is a scripted (idle or random) robot."""
        return self.idle_fraction + self.random_fraction

    @property
    def snapshot_interval(self) -> int:
        """Iterations between snapshots (``snapshot_every`` or its per-env default)."""
        if self.snapshot_every is not None:
            return self.snapshot_every
        return 1 if self.is_sumo else SNAPSHOT_EVERY_OTHER

    @property
    def is_sumo(self) -> bool:
        return sumo_bodies_of(self.env) is not None

    @property
    def kind(self) -> str:
        """Checkpoint kind of the agents this run produces."""
        return f"ppo-{self.policy.arch}"

    @property
    def body(self) -> str | None:
        return body_of(self.env)



def fixed_damage(spec: str) -> Any:
    """The ``LegDamage`` of a ``damage`` setting ``"A-B@S"`` (legs A and B at torque scale S)."""
    from envs.nonstationary_locomotion import LegDamage

    try:
        legs, scale = spec.split("@")
        a, b = (int(x) for x in legs.split("-"))
        return LegDamage((a, b), float(scale))
    except ValueError as err:
        raise ValueError(f"damage must be 'none', 'train' or 'A-B@S' (legs A and B at torque "
                         f"scale S, e.g. '1-2@0'), got {spec!r}: {err}") from None


def env_defaults(env: str) -> dict[str, Any]:
    """``reward_scale`` and ``ppo.gamma`` by default for ``env`` (``SUMO_DEFAULTS`` in RoboSumo,
    the config's field defaults elsewhere)."""
    if sumo_bodies_of(env) is not None:
        return dict(SUMO_DEFAULTS)
    return {"reward_scale": TrainConfig.reward_scale, "ppo.gamma": PPOConfig.gamma}


def make_envs(config: TrainConfig) -> Any:
    """The batched envs of a run (same-step autoreset)."""
    import gymnasium
    from gymnasium.vector import AutoresetMode

    if bodies := sumo_bodies_of(config.env):
        from envs.robosumo import SumoVectorEnv

        return SumoVectorEnv(config.num_envs, bodies, nthread=config.nthread,
                             weights=config.shaping_weights())
    if body := locomotion_body_of(config.env):
        from envs.nonstationary_locomotion import LocomotionVectorEnv

        return LocomotionVectorEnv(config.num_envs, body, nthread=config.nthread,
                                   autoreset_mode=AutoresetMode.SAME_STEP,
                                   observe_damage=config.observe_damage,
                                   lateral_cost_weight=config.lateral_cost)
    if config.env == "ToyPoint-v0":
        from envs.toy import PointGoalVectorEnv

        return PointGoalVectorEnv(config.num_envs)
    try:
        return gymnasium.make_vec(config.env, num_envs=config.num_envs, vectorization_mode="sync",
                                  vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    except gymnasium.error.Error as err:
        raise ValueError(f"unknown env {config.env!r}: {err}") from None


def _sizes(envs: Any, env_id: str) -> tuple[int, int]:
    """Observation and action sizes; only flat Box spaces (continuous control) are supported."""
    import gymnasium

    if hasattr(envs, "observation_spaces"):  # RoboSumo arenas: the learner is player_0
        spaces = envs.observation_spaces["player_0"], envs.action_spaces["player_0"]
    else:
        spaces = envs.single_observation_space, envs.single_action_space
    for kind, space in zip(("observation", "action"), spaces, strict=True):
        if not (isinstance(space, gymnasium.spaces.Box) and len(space.shape) == 1):
            raise ValueError(f"PPO here needs 1-D Box observation and action spaces (continuous "
                             f"control); the {kind} space of {env_id} is {space}")
    return spaces[0].shape[0], spaces[1].shape[0]


class Trainer(TrainingRun):
    """One PPO run: builds envs, policy, sampler and PPO; iterates; checkpoints; resumes."""

    STATE_KIND = STATE_KIND
    LENGTH = "total_steps"
    DESC = "ppo"
    PROGRESS = ("return_mean", "win_rate")

    @property
    def kind(self) -> str:
        return self.config.kind  # ppo-mlp or ppo-lstm

    def build(self) -> None:
        config = self.config
        self.envs = make_envs(config)
        obs_dim, act_dim = _sizes(self.envs, config.env)
        if config.init_from:
            from agents import resolve

            self.policy, _ = load_policy(resolve(config.init_from))
            if (self.policy.obs_dim, self.policy.act_dim) != (obs_dim, act_dim):
                raise ValueError(f"init_from {config.init_from!r} has observation/action sizes "
                                 f"{self.policy.obs_dim}/{self.policy.act_dim}; {config.env} "
                                 f"needs {obs_dim}/{act_dim}")
        else:
            self.policy = Policy(obs_dim, act_dim, config.policy)
        self.ppo = PPO(self.policy, config.ppo)
        self.optimizer = self.ppo.optimizer
        self.opponent_lineage = None
        if config.opponent == "lineage":
            from agents.maml.sumo import opponent_lineage

            self.opponent_lineage = opponent_lineage(config.opponents)
            if not self.opponent_lineage.versions():
                raise ValueError(f"opponents {config.opponents!r}: no snapshots there")
        self._opponents: OrderedDict[tuple, Policy] = OrderedDict()
        self._scripted: dict[int, tuple[IdlePolicy, RandomPolicy]] = {}

    def start(self) -> None:
        self.ppo.floor_log_std()  # a floor also holds for the first rollout of a continued run
        if self.config.damage not in ("none", "train"):  # one damage for the whole run
            from envs.nonstationary_locomotion.tasks import check_damage

            damage = check_damage(self.envs.body, fixed_damage(self.config.damage))
            self.envs.set_damages([damage] * self.envs.num_envs)
        self.sampler = self._make_sampler()

    # ---------------------------------------------------------------- setup

    def _make_sampler(self):
        # the envs reset once per start: fresh episodes after a resume
        seed = env_seed(self.config.seed, self.iteration, self.config.num_envs)
        if self.config.is_sumo:
            opponents = {"self": lambda: "self", "pool": self._pool_opponents,
                         "lineage": self._lineage_opponents}[self.config.opponent]()
            sampler = SumoSampler(self.envs, self.policy, self.config.rollout, opponents, seed)
            if not isinstance(opponents, str):
                sampler.set_opponents(opponents, self._labels(opponents))
            return sampler
        return VectorSampler(self.envs, self.policy, self.config.rollout, seed)

    def _pool_opponents(self) -> list[Policy]:
        """The paper's curriculum: a random own version in [1, k-1] for every arena (or in the
        recent window of ``pool_window``), some replaced by scripted robots."""
        k = self.lineage.latest() or 0
        if k == 0:  # nothing saved yet: a frozen copy of the initial learner
            frozen = policy_from_description(self.policy.describe())
            frozen.load_state_dict(self.policy.state_dict())
            return self._with_scripted([frozen] * self.config.num_envs)
        if self.config.pool_window:
            low = math.ceil(self.config.pool_window * k)
            recent = [v for v in self.lineage.versions() if low <= v <= k]
            return self._with_scripted([self._opponent(recent[int(self.rng.integers(len(recent)))])
                                        for _ in range(self.config.num_envs)])
        return self._with_scripted([self._opponent(self.lineage.sample_version(self.rng, k))
                                    for _ in range(self.config.num_envs)])

    def _lineage_opponents(self) -> list[Policy]:
        """A uniformly drawn version of the ``opponents`` lineage for every arena."""
        versions = self.opponent_lineage.versions()
        return self._with_scripted([self._opponent(versions[int(self.rng.integers(len(versions)))],
                                                   self.opponent_lineage)
                                    for _ in range(self.config.num_envs)])

    def _with_scripted(self, opponents: list) -> list:
        """Replace each arena's opponent by the idle or random robot with their chances; the
        first ``self_play_arenas`` arenas are self-play arenas."""
        c = self.config
        k = c.self_play_arenas
        opponents = [SELF] * k + opponents[k:]
        if not c.scripted_fraction:  # no draws: runs without scripted robots stay as they were
            return opponents
        draws = self.rng.random(len(opponents))
        act_dim = self.envs.action_spaces["player_1"].shape[0]
        idle, rand = self._scripted.setdefault(act_dim, (IdlePolicy(act_dim),
                                                         RandomPolicy(act_dim)))
        return [opp if opp is SELF else idle if u < c.idle_fraction else
                rand if u < c.scripted_fraction else opp
                for u, opp in zip(draws, opponents, strict=True)]

    def _labels(self, opponents: list) -> list[str]:
        return [getattr(p, "label", self.config.opponent) for p in opponents]

    def _opponent(self, version: int, lineage: Lineage | None = None) -> Policy:
        lineage = lineage or self.lineage
        key = (lineage.directory, version)
        if key not in self._opponents:
            self._opponents[key] = load_policy(lineage.path(version))[0]
            if len(self._opponents) > 64:  # bounded cache of frozen snapshots
                self._opponents.popitem(last=False)
        self._opponents.move_to_end(key)
        return self._opponents[key]

    # ---------------------------------------------------------------- one iteration

    @property
    def steps_per_iteration(self) -> int:
        return self.config.num_envs * self.config.rollout

    @property
    def snapshot_interval(self) -> int:
        return self.config.snapshot_interval

    def step(self) -> tuple[dict[str, float], int]:
        """Anneal, draw opponents (and damages), collect, update."""
        c = self.config
        frac = self.env_steps / c.total_steps
        if c.lr_anneal:
            self.ppo.set_lr(c.ppo.lr * max(0.0, 1.0 - frac))
        if c.is_sumo:
            if c.shaping_anneal > 0:
                shaping = max(0.0, 1.0 - frac / c.shaping_anneal)
                self.envs.weights = dataclasses.replace(self.envs.weights, shaping=shaping)
            if c.opponent in ("pool", "lineage"):
                opponents = (self._pool_opponents() if c.opponent == "pool"
                             else self._lineage_opponents())
                self.sampler.set_opponents(opponents, self._labels(opponents))
        if c.damage == "train":
            self._draw_damages()
        start = time.perf_counter()
        rollout, stats = self.sampler.collect()
        collected = time.perf_counter()
        losses = self.ppo.update(rollout, self.generator, self.config.reward_scale)
        row = {**stats.summary(), **losses,
               "steps_per_s": self.steps_per_iteration / (collected - start),
               "iteration_s": time.perf_counter() - start}
        if c.is_sumo:
            row["shaping_weight"] = self.envs.weights.shaping
        return row, self.steps_per_iteration

    def _draw_damages(self) -> None:
        """A random training pair and schedule scale per env, for the episodes about to start.

        Rollouts must span whole episodes so that every episode runs under one damage."""
        from envs.nonstationary_locomotion import damage_schedule, train_test_split

        if self.config.rollout % self.envs.max_steps:
            raise ValueError(f"damage='train' needs rollout to be a multiple of the episode "
                             f"length ({self.envs.max_steps}), got {self.config.rollout}")
        train, _ = train_test_split(self.envs.body)
        damages = []
        for _ in range(self.envs.num_envs):
            pair = train[int(self.rng.integers(len(train)))]
            schedule = damage_schedule(pair)
            damages.append(schedule[int(self.rng.integers(len(schedule)))])
        self.envs.set_damages(damages)
        if self.config.observe_damage:  # the episodes start now: show their damage at once
            self.sampler.obs = self.envs.observe()

    # ---------------------------------------------------------------- checkpoints

    def save_snapshot(self, path: Path, meta: CheckpointMeta) -> Path:
        from agents.policy import save_policy

        return save_policy(path, self.policy, meta)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return self.policy.tensors("policy.")

    def state_extra(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {}, {"policy": self.policy.describe()}

    def restore_tensors(self, tensors: dict[str, torch.Tensor], path: Path) -> None:
        self.policy.load_tensors(tensors, path, prefix="policy.")


def train(config: TrainConfig, run_dir: Path | str, resume: bool = True,
          progress: bool = True, tensorboard: bool = True) -> Trainer:
    """Run (or resume) a training run to completion and return its trainer."""
    trainer = Trainer(config, run_dir, resume=resume, tensorboard=tensorboard)
    trainer.run(progress=progress)
    return trainer
