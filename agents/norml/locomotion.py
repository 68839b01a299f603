"""Meta-training NoRML on nonstationary locomotion, on pairs of consecutive tasks.

The task structure is MAML's (``agents.maml.train``): each meta-iteration draws ``meta_batch``
consecutive-task pairs (T_i, T_{i+1}) from the training leg pairs
(``envs.nonstationary_locomotion.TaskSampler(...).transitions``) and, for all of them at once
(one ``LocomotionVectorEnv`` with a damage per simulation):

1. collects K episodes with ``pi_theta`` on T_i;
2. adapts without reward, ``theta_i = theta + offset - alpha grad L``, with ``L`` weighing
   ``grad log pi_theta`` by ``A_psi(s, a, s')`` on those episodes (``NoRMLModel.adapt_tasks``),
   keeping the graph;
3. collects K episodes with ``pi_theta_i`` on T_{i+1};
4. takes one Adam step on the policy-gradient loss of each ``pi_theta_i`` on its T_{i+1}
   episodes (true advantage: discounted return minus the per-task polynomial-feature ridge
   baseline, ``NoRMLModel.outer_loss``), differentiated through the inner step into theta, the
   offset, psi and (if learned) alpha. The learning rates decay linearly to 0 over the run.

Observations are normalised with frozen statistics held by the model (``NoRMLConfig.
normalize_obs``): with ``init_from`` (a PPO checkpoint, e.g. ``zoo:ppo-locomotion-bug``) the
PPO policy's running statistics at the end of its training, together with its actor weights as
theta; they are never updated, so the exploration and the adapted policies, A_psi and the
baseline all see the same inputs, and the agent applies them at execution time (they are saved
in every checkpoint). Without ``init_from`` they stay at zero mean and unit variance (inputs are
only clipped to +-5), as for MAML.

Episodes end at a fixed length (100 steps); the end is treated as terminal. A run directory is
like the point agent's (``agents.norml.train``), resumable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from agents.config import Config
from agents.norml.agent import LOCOMOTION_MAX_WEIGHT
from agents.norml.core import NoRMLConfig, NoRMLModel, TaskData
from agents.norml.train import (
    MetaTrainer,
    _batched_policy,
    _split,
    _stack,
    check_finite,
    episode_returns,
)
from agents.run import check_positive, env_seed


def default_model() -> NoRMLConfig:
    """NoRML for locomotion: the PPO policy's 64x64 architecture (so theta can start from it),
    frozen observation statistics, a learned scalar step size."""
    return NoRMLConfig(hidden=64, normalize_obs=True, alpha=1.0, learn_alpha=True,
                       init_log_std=0.0)


@dataclass(frozen=True)
class LocomotionMetaConfig(Config):
    """A NoRML meta-training run on ``NonstationaryLocomotion-<Body>-v0``.

    Attributes:
        body: the robot (the paper: bug).
        iterations: meta-iterations (outer Adam steps).
        meta_batch: consecutive-task pairs per iteration.
        episodes: K, episodes per task to adapt on and to evaluate the adapted policy on (also
            the agent's adaptation window at execution time).
        gamma: discount of the outer advantage.
        lr: initial Adam learning rate of theta and the offset.
        advantage_lr: initial Adam learning rate of psi (None: ``lr``).
        alpha_lr: initial Adam learning rate of a learned step size (None: ``lr``).
        lr_decay: decay every learning rate linearly to 0 over the run.
        grad_clip: clip of the meta-gradient's global norm (None: no clip).
        seed: seed of tasks, initialisation and action noise.
        snapshot_every: iterations between lineage snapshots (and the last one).
        init_from: a PPO MLP checkpoint (path or ``zoo:`` reference) whose actor becomes theta
            and whose observation statistics become the model's frozen ones.
        model: the NoRML model (``hidden`` must match ``init_from``'s).
        execution_data: adapt, as at execution time, on experience an adapted policy collected:
            each iteration first adapts theta on its own episodes of T_i (a behaviour policy,
            detached), lets that policy collect T_i again, and takes the inner step that the
            outer loss differentiates on those episodes with importance weights
            ``pi_theta / pi_behaviour`` truncated at 2 (the agent's correction); 3 collection
            phases instead of 2 (off: the paper's, theta's own data).
        first_step: with ``execution_data``, also meta-train the first inner step, the one an
            agent takes after its first episode, on theta's own data: the behaviour policy is
            then kept in the graph, collects T_{i+1} as well (a fourth phase), and the outer
            loss is the mean of its loss there and the execution-data step's (off: the
            behaviour policy is detached and no loss ever shapes it).
        outer_epochs: outer updates on each iteration's rollouts: 1, the paper's one policy-
            gradient step; more are PPO epochs (clipped surrogate at ``clip``), the adaptation
            recomputed from the updated theta each epoch.
        clip: PPO clip range of the outer epochs.
    """

    body: str = "bug"
    iterations: int = 200
    meta_batch: int = 12
    episodes: int = 3
    gamma: float = 0.99
    lr: float = 3e-4
    advantage_lr: float | None = None
    alpha_lr: float | None = None
    lr_decay: bool = True
    grad_clip: float | None = 1.0
    seed: int = 0
    snapshot_every: int = 10
    init_from: str | None = None
    model: NoRMLConfig = field(default_factory=default_model)
    execution_data: bool = False
    first_step: bool = False
    outer_epochs: int = 1
    clip: float = 0.2

    def __post_init__(self) -> None:
        for name in ("iterations", "meta_batch", "episodes", "snapshot_every", "outer_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"need 0 < gamma <= 1, got {self.gamma}")
        check_positive(self, ("lr", "advantage_lr", "alpha_lr", "grad_clip", "clip"))
        if self.first_step and not self.execution_data:
            raise ValueError("first_step needs execution_data: without it the first step is "
                             "the only one and already in the outer loss")
        if self.model.features != "raw":
            raise ValueError(f"model features={self.model.features!r} is for RoboSumo envs only")

    @property
    def env_id(self) -> str:
        from envs.nonstationary_locomotion import gym_id

        return gym_id(self.body)



def init_from_ppo(model: NoRMLModel, ref: str) -> None:
    """Copy a PPO MLP policy's actor (as theta) and observation statistics into ``model``."""
    from agents import resolve
    from agents.policy import load_policy

    policy, _ = load_policy(resolve(ref))
    if policy.config.arch != "mlp" or policy.config.hidden != model.config.hidden:
        raise ValueError(f"init_from {ref}: need an MLP policy of width {model.config.hidden} "
                         f"(NoRML's hidden), got {policy.config.arch} of width "
                         f"{policy.config.hidden}")
    if (policy.obs_dim, policy.act_dim) != (model.obs_dim, model.act_dim):
        raise ValueError(f"init_from {ref}: sizes {policy.obs_dim}/{policy.act_dim} do not "
                         f"match the env's {model.obs_dim}/{model.act_dim}")
    if policy.config.context:
        raise ValueError(f"init_from {ref}: NoRML's policy has no task context; this one reads "
                         f"a context of {policy.config.context}")
    if policy.config.features != model.config.features:
        raise ValueError(f"init_from {ref}: the policy reads features="
                         f"{policy.config.features!r}, the NoRML model features="
                         f"{model.config.features!r}; they must agree (NoRMLConfig.features)")
    with torch.no_grad():
        model.policy.mu.load_state_dict(policy.net.pi.state_dict())
        model.policy.log_std.copy_(policy.net.log_std)
        if model.obs_norm is not None and policy.config.normalize_obs:
            model.obs_norm.load_state_dict(policy.norm.state_dict())


@torch.no_grad()
def collect_locomotion(model: NoRMLModel, envs, damages: list,
                       params: list[dict[str, torch.Tensor]], episodes: int, seed: int,
                       generator: torch.Generator) -> TaskData:
    """``episodes`` episodes per task in one ``LocomotionVectorEnv`` (same-step autoreset).

    Task ``k`` runs with damage ``damages[k]`` in simulations ``k * episodes ...`` and acts with
    ``params[k]``. Observations are stored normalised (what the networks see); ``next_obs`` of
    the last step is the episode's final observation.

    Returns:
        ``TaskData`` with a leading task axis: ``obs [K, R, T, S]``, ``mask [K, R, T]`` (ones).
    """
    k, r = len(params), int(episodes)
    if envs.num_envs != k * r:
        raise ValueError(f"need {k * r} simulations, the env has {envs.num_envs}")
    envs.set_damages([d for d in damages for _ in range(r)])
    obs, _ = envs.reset(seed=seed)
    stacked = _stack(params)
    out = {name: [] for name in TaskData._fields}
    for _ in range(envs.max_steps):
        x = model.normalize(obs).reshape(k, r, -1)
        mean, log_std = _batched_policy(model, stacked, x)
        action = mean + log_std.exp().unsqueeze(1) * torch.randn(mean.shape, generator=generator)
        nxt, reward, _, _, info = envs.step(action.reshape(k * r, -1).double().numpy())
        out["obs"].append(x)
        out["actions"].append(action)
        out["rewards"].append(torch.as_tensor(reward, dtype=torch.float32).reshape(k, r))
        out["next_obs"].append(model.normalize(info.get("final_obs", nxt)).reshape(k, r, -1))
        out["mask"].append(torch.ones(k, r))
        obs = nxt
    return TaskData(*(torch.stack(out[name], 2) for name in TaskData._fields))


class LocomotionMetaTrainer(MetaTrainer):
    """One NoRML meta-training run on nonstationary locomotion; resumable.

    Args:
        config: the run.
        run_dir: its directory.
        resume: continue the run held in ``run_dir`` (same config) instead of refusing it.
        tensorboard: also write TensorBoard events.
        nthread: physics threads of the batched simulation (0: all cores; results do not
            depend on it).
    """

    config: LocomotionMetaConfig

    def __init__(self, config: LocomotionMetaConfig, run_dir: Path | str, resume: bool = True,
                 tensorboard: bool = True, nthread: int = 0) -> None:
        self._nthread = nthread
        self.extra_steps, self.behaviour_return = 0, None  # execution_data's first phase
        self.inner_weights = None  # the importance weights of the inner step (execution_data)
        self.first = None  # first_step: theta's own episodes of T_i, the behaviour's of T_{i+1}
        super().__init__(config, run_dir, resume=resume, tensorboard=tensorboard)

    def _build_model(self) -> NoRMLModel:
        from gymnasium.vector import AutoresetMode

        from envs.nonstationary_locomotion import LocomotionVectorEnv, TaskSampler

        c = self.config
        self.envs = LocomotionVectorEnv(c.meta_batch * c.episodes, c.body, nthread=self._nthread,
                                        autoreset_mode=AutoresetMode.SAME_STEP)
        self.tasks = TaskSampler(c.body, "train", seed=c.seed)
        self.rng = self.tasks._rng  # the task draws: saved and restored with the run's state
        model = NoRMLModel(self.envs.single_observation_space.shape[0],
                           self.envs.single_action_space.shape[0], c.model)
        if c.init_from:
            init_from_ppo(model, c.init_from)
        return model

    def _param_groups(self) -> list:
        c, model = self.config, self.model
        groups = [{"params": [p for n, p in model.named_parameters() if p.requires_grad
                              and not n.startswith(("advantage.", "alpha."))]}]
        if model.advantage is not None:
            groups.append({"params": list(model.advantage.parameters()),
                           "lr": c.advantage_lr or c.lr})
        alphas = [p for p in model.alpha.parameters() if p.requires_grad]
        if alphas:
            groups.append({"params": alphas, "lr": c.alpha_lr or c.lr})
        for g in groups:
            g["base_lr"] = g.get("lr", c.lr)
        return groups

    def sample(self) -> tuple[TaskData, dict[str, torch.Tensor], TaskData]:
        """Steps 1-3: episodes of theta on T_i, the inner steps (with graph), episodes of each
        theta_i on T_{i+1}."""
        c, model = self.config, self.model
        pairs = self.tasks.transitions(c.meta_batch)
        # two (three) resets an iteration, each of all arenas (env i starts from seed + i)
        n = self.envs.num_envs
        phases = 2 + int(c.execution_data) + int(c.first_step)

        def seed(phase: int) -> int:
            return env_seed(c.seed, phases * self.iteration + phase, n)

        theta = {k: v.detach() for k, v in model.theta().items()}
        pre = collect_locomotion(model, self.envs, [p[0] for p in pairs], [theta] * c.meta_batch,
                                 c.episodes, seed(0), self.generator)
        weights = None
        self.extra_steps, self.behaviour_return, self.first = 0, None, None
        if c.execution_data:  # the experience an adapted policy collects, as at execution
            behaviour = {k: v.detach() for k, v in model.adapt_tasks(
                pre, c.gamma, create_graph=False).items()}
            self.extra_steps = int(pre.mask.sum())
            if c.first_step:  # the behaviour policy plays T_{i+1}, as after episode 1
                own = collect_locomotion(model, self.envs, [p[1] for p in pairs],
                                         _split(behaviour), c.episodes, seed(2), self.generator)
                self.first = (pre, own)
                self.extra_steps += int(own.mask.sum())
            self.behaviour_return = float(episode_returns(pre).mean())  # theta's own, on T_i
            pre = collect_locomotion(model, self.envs, [p[0] for p in pairs], _split(behaviour),
                                     c.episodes, seed(1), self.generator)
            stacked = {k: v.unsqueeze(0).expand(c.meta_batch, *v.shape) for k, v in theta.items()}
            with torch.no_grad():
                weights = (model.log_prob(stacked, pre.obs, pre.actions)
                           - model.log_prob(behaviour, pre.obs, pre.actions)).exp().clamp(
                               max=LOCOMOTION_MAX_WEIGHT)
        self.inner_weights = weights
        adapted = model.adapt_tasks(pre, c.gamma, weights=weights)
        post = collect_locomotion(model, self.envs, [p[1] for p in pairs], _split(adapted),
                                  c.episodes, seed(phases - 1), self.generator)
        return pre, adapted, post

    def step(self) -> tuple[dict[str, float], int]:
        """One meta-iteration (see the module docstring): its metrics and env steps."""
        c, model = self.config, self.model
        start = time.perf_counter()
        decay = 1.0 - self.iteration / c.iterations if c.lr_decay else 1.0
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * decay
        pre, adapted, post = self.sample()
        sampled = time.perf_counter()
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        epochs = c.outer_epochs
        old = old_first = None
        first_loss = None
        for epoch in range(epochs):
            first = None
            if self.first is not None:  # the first step, from theta's own episodes, in the graph
                first = model.adapt_tasks(self.first[0], c.gamma)
            if epoch:  # PPO epochs: adapt again from the updated theta, same rollouts
                adapted = model.adapt_tasks(pre, c.gamma, weights=self.inner_weights)
            elif epochs > 1:
                with torch.no_grad():
                    old = model.log_prob({k: v.detach() for k, v in adapted.items()},
                                         post.obs, post.actions)
                    if first is not None:
                        old_first = model.log_prob({k: v.detach() for k, v in first.items()},
                                                   self.first[1].obs, self.first[1].actions)
            loss = model.outer_loss(adapted, post, c.gamma, old_logp=old,
                                    clip=c.clip)
            if first is not None:
                first_loss = model.outer_loss(first, self.first[1], c.gamma,
                                              old_logp=old_first, clip=c.clip)
                loss = (loss + first_loss) / 2
            self.optimizer.zero_grad()
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, c.grad_clip or float("inf"))
            check_finite("NoRML meta-training", self.iteration, loss, grad_norm)
            self.optimizer.step()
        theta = model.theta()
        shift = torch.cat([(adapted[n].detach() - theta[n].detach().unsqueeze(0)).flatten(1)
                           for n in theta], 1).norm(dim=1).mean()
        row = {"return_pre": float(episode_returns(pre).mean()),
               "return_post": float(episode_returns(post).mean()),
               "loss": float(loss.detach()), "grad_norm": float(grad_norm),
               "adapt_shift": float(shift), "alpha": _mean_alpha(model),
               "lr": c.lr * decay, "sample_s": sampled - start,
               "iteration_s": time.perf_counter() - start}
        row.update(self._extra_metrics(pre, post))
        row["adaptation_gain"] = row["return_post"] - row["return_pre"]
        if self.behaviour_return is not None:
            row["return_theta"] = self.behaviour_return  # theta's own episodes of T_i
        if self.first is not None:  # the first step's policy on T_{i+1}
            row["return_first"] = float(episode_returns(self.first[1]).mean())
            row["loss_first"] = float(first_loss.detach())
        return row, int(pre.mask.sum() + post.mask.sum()) + self.extra_steps

    def _extra_metrics(self, pre: TaskData, post: TaskData) -> dict[str, float]:
        """Metrics a subclass adds to (or replaces in) the iteration's row."""
        return {}

    @property
    def env_id(self) -> str | None:
        return self.config.env_id


def _mean_alpha(model: NoRMLModel) -> float:
    return float(torch.cat([a.detach().flatten() for a in model.alpha.values()]).mean())


def meta_train_locomotion(config: LocomotionMetaConfig, run_dir: Path | str, resume: bool = True,
                          progress: bool = False, tensorboard: bool = True,
                          nthread: int = 0) -> LocomotionMetaTrainer:
    """Run (or resume) a locomotion meta-training run to completion and return its trainer."""
    trainer = LocomotionMetaTrainer(config, run_dir, resume=resume, tensorboard=tensorboard,
                                    nthread=nthread)
    trainer.run(progress=progress)
    return trainer


__all__ = ["LocomotionMetaConfig", "LocomotionMetaTrainer", "collect_locomotion",
           "default_model", "init_from_ppo", "meta_train_locomotion"]
