"""Training RL^2: locomotion trials (one damage chain of 7 episodes), or RoboSumo trials.

RoboSumo ids (``RoboSumo-X-vs-Y-v0``) train player_0 against an opponent lineage, a trial
being ``episodes`` bouts against one version (``agents.rl2.sumo``); the rest of this docstring
is about locomotion.

Every iteration runs one trial in each of ``num_envs`` simulations of ``LocomotionVectorEnv``:
simulation ``i`` follows a ``TaskChain`` on a leg pair drawn from the training pairs, its damage
set per episode with ``set_damages`` (scale 1 in episode 1 down to 0 in episode 7). The rollout
is trial-aligned (``T = 7 x 100`` steps) and PPO updates the LSTM with truncated BPTT (10 steps)
on sequences that start from the recorded state.

Returns and advantages run across the whole trial: an episode end inside the trial (a time
limit, or a termination) is neither terminal nor a cut of the GAE recursion; the value of the
last step of an episode bootstraps from the value of the next episode's first step, as the LSTM
carries on. The end of the trial is terminal: the trial is RL^2's episode, nothing follows it
(the next trial is another task with a fresh state).

A run directory holds ``config.json``, ``metrics.csv`` (and ``tb/``), ``state.safetensors``
(resume point) and ``lineage/<name>/vNNNN.safetensors`` snapshots of kind ``"rl2"``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.checkpoint import CheckpointMeta
from agents.config import Config
from agents.env_ids import body_of, sumo_bodies_of
from agents.ppo import PPO, PPOConfig
from agents.rl2.core import RL2Config, RL2Policy, save_rl2
from agents.run import TrainingRun, env_seed
from agents.sampler import Rollout

STATE_KIND = "rl2-train-state"


@dataclass(frozen=True)
class RL2TrainConfig(Config):
    """An RL^2 training run on nonstationary locomotion or in RoboSumo.

    Attributes:
        env: ``NonstationaryLocomotion-{Bug,Ant,Spider}-v0``, or ``RoboSumo-X-vs-Y-v0`` (the
            learner is player_0, the opponents come from ``opponents``).
        total_steps: environment steps to train for.
        num_envs: simulations (arenas); locomotion: trials per iteration.
        episodes: episodes per trial (locomotion: the chain length, the paper's 7; RoboSumo:
            bouts against one opponent version).
        episode_steps: steps per episode (None: the env's default, 100 for locomotion, 500 for
            RoboSumo bouts, which may end earlier).
        opponents: RoboSumo: the opponents' lineage, a directory (e.g. ``agents/zoo/
            selfplay-ant``) or ``zoo:<name>``; each trial draws one of its versions uniformly.
        rollout: RoboSumo: steps per arena per iteration (a multiple of ``ppo.bptt``).
        reward_scale: rewards are multiplied by this for learning (0.01 suits RoboSumo's +-2000
            outcomes); the reward input of the policy has its own scale (``rl2``).
        split: leg pairs to train on: ``train`` (the paper's 12 for the bug), ``test``, ``all``.
        seed: seed of everything.
        lr_anneal: decay the learning rate linearly to 0 over the run.
        snapshot_every: iterations between lineage snapshots (and the last one).
        nthread: physics threads (0: all cores).
        rl2: policy architecture and inputs.
        ppo: PPO settings; ``bptt``, the truncated-BPTT length, is a whole locomotion episode
            (100) by default, so that gradients carry what one episode teaches into the next
            (with the paper's 10 none crossed an episode; 3.7x the update's cost,
            ``benchmarks/rl2_bptt.py``; 700, a whole trial, costs 21x).
    """

    env: str = "NonstationaryLocomotion-Bug-v0"
    total_steps: int = 2_000_000
    num_envs: int = 12
    episodes: int = 7
    episode_steps: int | None = None
    opponents: str | None = None
    rollout: int = 500
    reward_scale: float = 1.0
    split: str = "train"
    seed: int = 0
    lr_anneal: bool = False
    snapshot_every: int = 10
    nthread: int = 0
    rl2: RL2Config = field(default_factory=RL2Config)
    ppo: PPOConfig = field(default_factory=lambda: PPOConfig(minibatches=8, epochs=5, bptt=100))

    def __post_init__(self) -> None:
        if body_of(self.env) is None:
            raise ValueError(f"RL^2 trains on NonstationaryLocomotion-{{Bug,Ant,Spider}}-v0 or "
                             f"RoboSumo-X-vs-Y-v0, got {self.env!r}")
        for name in ("total_steps", "num_envs", "snapshot_every", "rollout"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.episode_steps is not None and self.episode_steps < 1:
            raise ValueError(f"episode_steps must be >= 1 or None, got {self.episode_steps!r}")
        if self.episodes < (1 if self.is_sumo else 2):
            raise ValueError(f"episodes must be >= 2 (a chain), got {self.episodes!r}")
        if not self.reward_scale > 0:
            raise ValueError(f"reward_scale must be positive, got {self.reward_scale!r}")
        if self.is_sumo and not self.opponents:
            raise ValueError("RoboSumo training needs opponents= (a lineage directory or "
                             "zoo:<name>)")
        if self.trial_steps % self.ppo.bptt:
            raise ValueError(f"a rollout's {self.trial_steps} steps must be a multiple of bptt "
                             f"({self.ppo.bptt})")

    @property
    def is_sumo(self) -> bool:
        return sumo_bodies_of(self.env) is not None

    @property
    def body(self) -> str:
        return body_of(self.env)

    @property
    def trial_steps(self) -> int:
        """Steps per simulation per iteration: a whole trial (locomotion) or ``rollout``."""
        if self.is_sumo:
            return self.rollout
        return self.episodes * (self.episode_steps or 100)



class TrialSampler:
    """Runs one damage-chain trial per simulation and returns it as a trial-aligned ``Rollout``.

    Args:
        envs: a ``LocomotionVectorEnv`` with same-step autoreset and ``episode_steps`` steps.
        policy: the learner.
        tasks: a ``TaskSampler`` giving the chains.
        seed: seed of the simulations and of the action noise.
    """

    def __init__(self, envs: Any, policy: RL2Policy, tasks: Any, seed: int) -> None:
        self.envs, self.policy, self.tasks = envs, policy, tasks
        self.n = envs.num_envs
        self.generator = torch.Generator().manual_seed(seed)
        self.obs, _ = envs.reset(seed=seed)

    def collect(self) -> tuple[Rollout, dict[str, float]]:
        """One trial per simulation: ``[T, N]`` tensors, ``T = episodes x episode_steps``."""
        chains = self.tasks.chains(self.n)
        episodes, n, p = chains[0].episodes, self.n, self.policy
        steps = self.envs.max_steps
        t_total = episodes * steps
        buf = {k: torch.zeros(t_total, n) for k in ("logp", "values", "rewards")}
        inputs = torch.zeros(t_total, n, p.input_dim)
        actions = torch.zeros(t_total, n, p.act_dim)
        states = torch.zeros(t_total, *p.initial_state(n).shape)
        raw = np.zeros((t_total, n, p.obs_dim), np.float32)
        returns = np.zeros((episodes, n))
        state = p.initial_state(n)
        prev_a, prev_r, done = np.zeros((n, p.act_dim)), np.zeros(n), np.ones(n, dtype=bool)
        for e in range(episodes):
            self.envs.set_damages([chain.tasks[e] for chain in chains])
            for s in range(steps):
                t = e * steps + s
                states[t] = state
                x = p.inputs(self.obs, prev_a, prev_r, done)
                out = p.act(x, state, np.full(n, t == 0), generator=self.generator)
                obs, reward, terminated, truncated, _ = self.envs.step(out.action)
                raw[t], inputs[t], actions[t] = self.obs, x, torch.as_tensor(out.action)
                buf["logp"][t], buf["values"][t] = torch.as_tensor(out.logp), torch.as_tensor(
                    out.value)
                buf["rewards"][t] = torch.as_tensor(reward, dtype=torch.float32)
                returns[e] += reward
                state, prev_a, prev_r = out.state, out.action, np.asarray(reward)
                done = np.asarray(terminated) | np.asarray(truncated)
                self.obs = obs
            if not done.all():
                raise RuntimeError(f"episode {e + 1} of the trial did not end after {steps} "
                                   "steps: the envs' episode length must equal episode_steps")
        self.policy.norm.update(torch.from_numpy(raw))
        rollout = _trial_rollout(inputs, actions, buf, states)
        stats = {"return_mean": float(returns.mean()), "trial_return": float(returns.sum(0).mean()),
                 "return_first": float(returns[0].mean()), "return_last": float(returns[-1].mean())}
        return rollout, stats


def _trial_rollout(inputs: torch.Tensor, actions: torch.Tensor, buf: dict[str, torch.Tensor],
                   states: torch.Tensor) -> Rollout:
    """Flags for returns across the trial: only its last step is terminal (see module doc)."""
    values = buf["values"]
    end = torch.zeros_like(values)
    end[-1] = 1.0
    starts = torch.zeros_like(values)
    starts[0] = 1.0
    next_values = torch.cat([values[1:], torch.zeros_like(values[:1])])
    return Rollout(inputs, actions, buf["logp"], values, buf["rewards"], end, end.clone(),
                   next_values, starts, states)


class RL2Trainer(TrainingRun):
    """One RL^2 run on locomotion trials: collect, PPO update, snapshot, log; resumable."""

    STATE_KIND = STATE_KIND
    KIND = "rl2"
    LENGTH = "total_steps"
    DESC = "rl2"
    PROGRESS = ("trial_return", "win_rate")

    def build(self) -> None:
        from gymnasium.vector import AutoresetMode

        from envs.nonstationary_locomotion import LocomotionVectorEnv

        config = self.config
        steps = {} if config.episode_steps is None else {"max_steps": config.episode_steps}
        if config.is_sumo:
            from envs.robosumo import SumoVectorEnv

            self.envs = SumoVectorEnv(config.num_envs, sumo_bodies_of(config.env),
                                      nthread=config.nthread, **steps)
            obs_dim = self.envs.observation_spaces["player_0"].shape[0]
            act_dim = self.envs.action_spaces["player_0"].shape[0]
        else:
            self.envs = LocomotionVectorEnv(config.num_envs, config.body, nthread=config.nthread,
                                            autoreset_mode=AutoresetMode.SAME_STEP, **steps)
            obs_dim = self.envs.single_observation_space.shape[0]
            act_dim = self.envs.single_action_space.shape[0]
        self.policy = RL2Policy(obs_dim, act_dim, config.rl2)
        self.ppo = PPO(self.policy.core, config.ppo)
        self.optimizer = self.ppo.optimizer

    def start(self) -> None:
        from envs.nonstationary_locomotion import TaskSampler

        config = self.config
        # the envs reset once per start: fresh trials (and task draws) after a resume
        seed = env_seed(config.seed, self.iteration, config.num_envs)
        if config.is_sumo:
            from agents.maml.sumo import opponent_lineage
            from agents.rl2.sumo import SumoTrialSampler

            self.sampler: Any = SumoTrialSampler(self.envs, self.policy,
                                                 opponent_lineage(config.opponents),
                                                 config.episodes, config.rollout, seed)
        else:
            self.sampler = TrialSampler(self.envs, self.policy, TaskSampler(
                config.body, config.split, config.episodes, seed), seed)

    @property
    def steps_per_iteration(self) -> int:
        return self.config.num_envs * self.config.trial_steps

    def step(self) -> tuple[dict[str, float], int]:
        """A trial per simulation, then the PPO epochs."""
        c = self.config
        if c.lr_anneal:
            self.ppo.set_lr(c.ppo.lr * max(0.0, 1.0 - self.env_steps / c.total_steps))
        start = time.perf_counter()
        rollout, stats = self.sampler.collect()
        collected = time.perf_counter()
        losses = self.ppo.update(rollout, self.generator, c.reward_scale)
        return {**stats, **losses, "steps_per_s": self.steps_per_iteration / (collected - start),
                "iteration_s": time.perf_counter() - start}, self.steps_per_iteration

    def save_snapshot(self, path: Path, meta: CheckpointMeta) -> Path:
        return save_rl2(path, self.policy, meta)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {f"policy.{k}": v.detach().clone() for k, v in self.policy.state_dict().items()}

    def restore_tensors(self, tensors: dict[str, torch.Tensor], path: Path) -> None:
        self.policy.load_state_dict({k[7:]: v for k, v in tensors.items()
                                     if k.startswith("policy.")})


def train_rl2(config: RL2TrainConfig, run_dir: Path | str, resume: bool = True,
              progress: bool = True, tensorboard: bool = True) -> RL2Trainer:
    """Run (or resume) an RL^2 training run to completion and return its trainer."""
    trainer = RL2Trainer(config, run_dir, resume=resume, tensorboard=tensorboard)
    trainer.run(progress=progress)
    return trainer


__all__ = ["RL2TrainConfig", "RL2Trainer", "TrialSampler", "train_rl2"]
