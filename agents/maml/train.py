"""Meta-training MAML for continuous adaptation on pairs of consecutive tasks (Algorithm 1).

Each meta-iteration draws ``meta_batch`` consecutive-task pairs (T_i, T_{i+1}) from the training
leg pairs of nonstationary locomotion, and for all of them at once (one ``LocomotionVectorEnv``
with a damage per simulation):

1. collects K episodes with pi_theta on T_i;
2. adapts phi_i = U(theta, tau_i) (M importance-weighted inner steps, ``agents.maml``);
3. collects K episodes with pi_{phi_i} on T_{i+1};
4. updates theta and the step sizes with PPO on the T_{i+1} episodes, differentiating through
   the adaptation (second order, or first order as an option), plus the score-function term of
   the T_i episodes (eq. 8 / 24): ``-A_task * mean log pi_theta(tau_i)``, where A_task is the
   task's post-adaptation return standardised across the meta-batch (a baseline that keeps the
   term's variance in check).

Episodes of the locomotion env end at a fixed length; both losses treat that end as terminal
(the next episode is another task), so no bootstrap is used.

The policy may be an MLP or an LSTM (unrolled over each episode from the zero state, see
``agents.maml.evaluate_episodes``). The meta-update processes the tasks of the meta-batch all at
once with ``torch.func.vmap`` (MLPs, by default) or in a loop (LSTMs): ``vmap_tasks``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import vmap

from agents.checkpoint import CheckpointMeta, load_checked, load_checkpoint, save_checkpoint
from agents.config import Config
from agents.episodes import Episodes
from agents.losses import gae, ppo_loss
from agents.maml.core import (
    CONTEXT,
    AdaptConfig,
    StepSizes,
    act_step,
    adapt,
    evaluate_episodes,
    parameters_of,
    task_advantages,
)
from agents.nets import entropy, log_prob
from agents.policy import Policy, PolicyConfig, load_policy, with_context
from agents.run import TrainingRun, env_seed

KIND = "maml"
SF_BASELINES = ("batch", "pre")
META_LEARNED = ("all", "context", "reader")
STATE_KIND = "maml-train-state"
EXECUTION_ONLY = ("vmap_tasks",)  # config fields that do not change what a run computes
VMAP_LSTM_ERROR = (
    "vmap_tasks needs an MLP policy: torch.func.vmap has no batching rule for aten::lstm_cell "
    "(nn.LSTMCell), so the tasks of an LSTM policy are processed in a loop; drop vmap_tasks")


@dataclass(frozen=True)
class OuterLoop(Config):
    """The meta-update settings every MAML run shares (locomotion here, RoboSumo in
    ``agents.maml.sumo``).

    Attributes:
        first_order: drop second-order terms of the meta-gradient.
        lr: Adam learning rate of theta (paper: 3e-4).
        step_size_lr: Adam learning rate of the step sizes (None: ``lr``). Adam moves every
            parameter by about its learning rate per step whatever the gradient's scale, so
            with ``lr`` a step size of 0.001 can reach 0 in a few iterations; a smaller rate
            lets it change gradually.
        epochs: PPO epochs of the outer update (full meta-batch each).
        clip: PPO clip range (paper: 0.2).
        lam: GAE lambda of the outer advantages.
        vf_coef: weight of the outer value loss.
        sf_coef: weight of the score-function term of the pre-adaptation episodes.
        sf_baseline: the baseline of that term's task advantages: ``"batch"`` (the post return
            standardised across the meta-batch, the paper's) or ``"pre"`` (the post return
            minus the same task's pre-adaptation return, then standardised: the adaptation's
            gain, without the variance of which task was drawn).
        grad_clip: element-wise clip of the meta-gradient (paper: [-0.1, 0.1]).
        meta_learn: what the outer loop trains besides the step sizes: ``"all"`` of theta (the
            paper's), or ``"context"`` (with ``adapt.adapt == "context"``: only the context's
            initial value and the policy's first-layer weights that read it; every other weight,
            the value net's included, stays as it started, so the unadapted policy differs from
            the one it started from only through the context's initial value), or ``"reader"``
            (the same without the initial value, which stays 0 as CAVIA resets it: the
            unadapted policy is exactly the one it started from).
        vmap_tasks: compute the adaptations and outer losses of all meta-batch tasks at once
            with ``torch.func.vmap`` (inner gradients by ``torch.func.grad``; True, MLP policies
            only) or in a loop over the tasks, back-propagating one task at a time (False).
            None (the default) picks vmap for an MLP, about 2x faster on the meta-update
            (docs/maml.md), and the loop for an LSTM. The same meta-gradient up to float
            rounding either way: an execution choice, so a run may be resumed with another.
    """

    first_order: bool = False
    lr: float = 3e-4
    step_size_lr: float | None = None
    epochs: int = 5
    clip: float = 0.2
    lam: float = 0.95
    vf_coef: float = 0.5
    sf_coef: float = 1.0
    sf_baseline: str = "batch"
    grad_clip: float = 0.1
    vmap_tasks: bool | None = None
    meta_learn: str = "all"

    def __post_init__(self) -> None:
        if self.sf_baseline not in SF_BASELINES:
            raise ValueError(f"sf_baseline must be one of {', '.join(SF_BASELINES)}, got "
                             f"{self.sf_baseline!r}")
        if self.meta_learn not in META_LEARNED:
            raise ValueError(f"meta_learn must be one of {', '.join(META_LEARNED)}, got "
                             f"{self.meta_learn!r}")
        adapt, policy = getattr(self, "adapt", None), getattr(self, "policy", None)
        if self.meta_learn != "all" and adapt is not None and adapt.adapt != "context":
            raise ValueError(f"meta_learn {self.meta_learn!r} trains what reads the context: "
                             f"it needs adapt 'context'")
        if adapt is not None and adapt.adapt == "context" and policy is not None \
                and not policy.context:
            raise ValueError("adapt 'context' needs a policy with a context vector (policy "
                             "context > 0)")


@dataclass(frozen=True)
class MetaConfig(OuterLoop):
    """A MAML meta-training run on nonstationary locomotion (and the ``OuterLoop`` settings).

    Attributes:
        body: the robot (the paper: bug).
        iterations: meta-iterations.
        meta_batch: consecutive-task pairs per iteration.
        episodes: K, episodes per task to adapt on and to evaluate the adapted policy on.
        seed: seed of everything.
        adapt: the inner adaptation rule.
        gamma: discount of the outer advantages.
        init_from: a PPO checkpoint (path or ``zoo:`` reference) to start theta (and
            observation statistics) from. The
            observation statistics are not updated during meta-training: adapted and
            unadapted policies must see the same inputs (without ``init_from`` they stay at
            zero mean and unit variance, so observations are only clipped to +-5).
        policy: architecture when not starting from a checkpoint ("mlp" or "lstm").
            Its ``context`` applies in either case: a checkpoint without one gets a context
            vector of that size (``agents.policy.with_context``: it acts as before).
        snapshot_every: iterations between saved snapshots.
    """

    body: str = "bug"
    iterations: int = 200
    meta_batch: int = 12
    episodes: int = 3
    seed: int = 0
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    gamma: float = 0.99
    init_from: str | None = None
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    snapshot_every: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("iterations", "meta_batch", "episodes", "epochs", "snapshot_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.vmap_tasks is True and self.policy.arch != "mlp" and self.init_from is None:
            raise ValueError(VMAP_LSTM_ERROR)



class _Phase:
    """Collected episodes of one phase for every task: ``[tasks, K, T, ...]`` tensors."""

    def __init__(self, obs, actions, rewards, logp, values):
        self.obs, self.actions, self.rewards, self.logp, self.values = (
            obs, actions, rewards, logp, values)

    def task(self, i: int) -> Episodes:
        k, t = self.rewards.shape[1:]
        return Episodes(self.obs[i], self.actions[i], self.rewards[i], self.logp[i],
                        torch.ones(k, t))

    def stacked(self) -> Episodes:
        """Every task's episodes ``[tasks, K, T, ...]`` (the task dimension first, for vmap)."""
        return Episodes(self.obs, self.actions, self.rewards, self.logp,
                        torch.ones_like(self.rewards))

    def returns(self) -> torch.Tensor:
        """Undiscounted episode returns ``[tasks, K]``."""
        return self.rewards.sum(-1)


class MAMLRun(TrainingRun):
    """What every MAML meta-training run shares (locomotion here, RoboSumo in
    ``agents.maml.sumo``): theta and the step sizes with their optimiser, the step-size
    metrics, snapshots and the resume point's tensors.

    A subclass builds ``policy`` and calls ``_init_learner()`` in its ``build()``, and defines
    ``step()`` and ``meta_config()``.
    """

    STATE_KIND = STATE_KIND
    KIND = KIND
    DESC = "maml"
    PROGRESS = ("pre_return", "post_return")  # metrics shown on the progress bar

    def _init_learner(self) -> None:
        """theta (the policy's parameters), the step sizes and Adam over both."""
        c = self.config
        self.net = self.policy.net
        self.theta = parameters_of(self.net)
        self.step_sizes = StepSizes(self.theta, c.adapt)
        alpha_lr = c.lr if c.step_size_lr is None else c.step_size_lr
        self.optimizer = torch.optim.Adam(
            [{"params": list(self.net.parameters())},
             {"params": list(self.step_sizes.parameters()), "lr": alpha_lr}],
            lr=c.lr, eps=1e-5)

    def adapted(self, pre, n_tasks: int) -> list[dict[str, torch.Tensor]]:
        """phi_i of every task adapted from theta on its pre-adaptation episodes
        (``pre.task(i)``), detached: the parameters the post-adaptation phase acts with."""
        phis = []
        for i in range(n_tasks):
            theta = {k: v.detach().requires_grad_() for k, v in self.theta.items()}
            with torch.enable_grad():
                phi = adapt(self.net, theta, self.step_sizes, pre.task(i), self.config.adapt)[-1]
            phis.append({k: v.detach() for k, v in phi.items()})
        return phis

    def step_size_metrics(self) -> dict[str, float]:
        """``alpha_m``: each step's step size (the mean entry with per-parameter sizes; a policy
        and a value one where they are separate)."""
        return self.step_sizes.summary()

    def clipped_parameters(self) -> list[torch.Tensor]:
        """What the element-wise meta-gradient clip applies to: theta, and the step sizes unless
        they are log-parametrised (a clipped constant gradient would move them by Adam's rate
        every epoch, whatever the gradient says)."""
        params = list(self.net.parameters())
        if self.config.adapt.parametrization != "log":
            params += list(self.step_sizes.parameters())
        return params

    def _keep_context_gradients(self, keep_start: bool) -> None:
        """Drop the meta-gradient of every weight but the policy's first-layer columns that read
        the context, and the context's initial value if ``keep_start`` (``meta_learn`` "context"
        or "reader"): Adam then leaves the rest of theta as it is."""
        width = self.policy.input_dim
        for name, p in self.net.named_parameters():
            if p.grad is None or (name == CONTEXT and keep_start):
                continue
            if name == "pi.0.weight":
                p.grad[:, :width] = 0.0
            else:
                p.grad = None

    def meta_update(self, pre: Any, post: Any) -> dict[str, float]:
        """The outer update: ``epochs`` PPO epochs through the adaptation on the T_{i+1}
        episodes plus the score-function term of the T_i ones (``pre``/``post``: the phases,
        with ``task(i)`` and ``stacked()`` episodes and ``outer_targets``)."""
        c = self.config
        targets = self.outer_targets(pre, post)
        logs: dict[str, list[float]] = {}
        for _ in range(c.epochs):
            self.optimizer.zero_grad()
            task_stats = self.meta_backward(pre, post, targets)
            for j, key in enumerate(("policy_loss", "value_loss", "approx_kl", "sf_term")):
                logs.setdefault(key, []).extend(task_stats[:, j].tolist())
            if c.meta_learn != "all":
                self._keep_context_gradients(keep_start=c.meta_learn == "context")
            params = [*self.net.parameters(), *self.step_sizes.parameters()]
            grad_norm = torch.nn.utils.clip_grad_norm_(params, float("inf"))  # skips grad None
            torch.nn.utils.clip_grad_value_(self.clipped_parameters(), c.grad_clip)
            self.optimizer.step()
            logs.setdefault("meta_grad_norm", []).append(float(grad_norm))
        return {k: float(np.mean(v)) for k, v in logs.items()}

    def meta_backward(self, pre: Any, post: Any,
                      targets: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
                      ) -> torch.Tensor:
        """Accumulate the gradient of the meta-objective (the mean of the task losses) into
        ``.grad`` of theta and the step sizes; return per-task statistics ``[tasks, 4]``
        (policy loss, value loss, approximate KL, score-function term).

        With ``vmap_tasks`` every task is adapted and evaluated at once by ``torch.func.vmap``;
        otherwise the tasks go one by one, each back-propagated before the next is built, so
        that only one task's graph is alive at a time (what an LSTM's memory needs).
        """
        advs, rets, task_adv = self.outer_targets(pre, post) if targets is None else targets
        n_tasks = advs.shape[0]
        if self.vmap_tasks:
            task_losses, task_stats = vmap(self._task_loss)(pre.stacked(), post.stacked(), advs,
                                                            rets, task_adv)
            (task_losses.sum() / n_tasks).backward()
            return task_stats
        stats = []
        for i in range(n_tasks):
            loss, task_stats = self._task_loss(pre.task(i), post.task(i), advs[i], rets[i],
                                               task_adv[i])
            (loss / n_tasks).backward()
            stats.append(task_stats)
        return torch.stack(stats)

    def _task_loss(self, pre: Episodes, post: Episodes, adv: torch.Tensor, ret: torch.Tensor,
                   task_adv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One task's meta-loss and its statistics (policy, value, approx. KL, score term).

        The PPO loss of the T_{i+1} episodes under phi_i(theta), differentiated through the
        adaptation, plus the score-function term of the T_i episodes under theta, both over the
        real (unmasked) steps. Written for one task at a time so that ``torch.func.vmap`` can
        map it over the meta-batch.
        """
        c = self.config
        phi = adapt(self.net, self.theta, self.step_sizes, pre, c.adapt,
                    create_graph=not c.first_order, functional=self.vmap_tasks)[-1]
        out = evaluate_episodes(self.net, phi, post.obs, post.actions)
        m = post.mask  # RoboSumo bouts are padded to the phase's longest; locomotion's all 1
        n = m.sum()
        mu = (adv * m).sum() / n
        sd = (((adv - mu) * m).square().sum() / (n - 1).clamp_min(1.0)).sqrt()
        adv = (adv - mu) / (sd + 1e-8)
        loss = ppo_loss(out.logp.flatten(), post.behaviour_logp.flatten(), adv.flatten(),
                        out.values.flatten(), ret.flatten(), entropy(out.log_std), c.clip,
                        c.vf_coef, weights=m.flatten())
        pre_logp = evaluate_episodes(self.net, self.theta, pre.obs, pre.actions).logp
        sf = -task_adv * (pre_logp * pre.mask).sum() / pre.mask.sum()
        stats = torch.stack([loss.policy, loss.value, loss.approx_kl, sf]).detach()
        return loss.total + c.sf_coef * sf, stats

    def identity(self, config: Any) -> dict[str, Any]:
        return {k: v for k, v in config.to_dict().items() if k not in EXECUTION_ONLY}

    def task_advantages(self, pre: Any, post: Any) -> torch.Tensor:
        """The score-function term's task advantages ``[tasks]`` (``sf_baseline``)."""
        baseline = pre.returns().mean(1) if self.config.sf_baseline == "pre" else None
        return task_advantages(post.returns().mean(1), baseline)

    def _init_vmap(self) -> None:
        """``vmap_tasks``: the config's, or vmap for an MLP and the loop for an LSTM."""
        if self.config.vmap_tasks and self.policy.recurrent:
            raise ValueError(VMAP_LSTM_ERROR)
        self.vmap_tasks = (not self.policy.recurrent if self.config.vmap_tasks is None
                           else self.config.vmap_tasks)

    def tensors(self) -> dict[str, torch.Tensor]:
        """theta (with the observation statistics) and the step sizes."""
        out = self.policy.tensors("policy.")
        out.update({f"alpha.{k}": v.detach().clone()
                    for k, v in self.step_sizes.state_dict().items()})
        return out

    def save_snapshot(self, path: Path, meta: CheckpointMeta) -> Path:
        return save_checkpoint(path, self.tensors(), meta)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return self.tensors()

    def restore_tensors(self, tensors: dict[str, torch.Tensor], path: Path) -> None:
        self.policy.load_tensors(tensors, path, prefix="policy.")
        self.step_sizes.load_state_dict({k[6:]: v for k, v in tensors.items()
                                         if k.startswith("alpha.")})


class MetaTrainer(MAMLRun):
    """One MAML meta-training run (resumable, metrics CSV/TensorBoard, snapshots)."""

    def build(self) -> None:
        from gymnasium.vector import AutoresetMode

        from envs.nonstationary_locomotion import LocomotionVectorEnv, TaskSampler

        config = self.config
        self.envs = LocomotionVectorEnv(config.meta_batch * config.episodes, config.body,
                                        autoreset_mode=AutoresetMode.SAME_STEP)
        if config.init_from:
            from agents import resolve  # a checkpoint path or a zoo: reference

            self.policy, _ = load_policy(resolve(config.init_from))
            if config.policy.context:
                self.policy = with_context(self.policy, config.policy.context, config.seed)
        else:
            self.policy = Policy(self.envs.single_observation_space.shape[0],
                                 self.envs.single_action_space.shape[0], config.policy)
        self._init_vmap()
        self._init_learner()
        self.tasks = TaskSampler(config.body, "train", seed=config.seed)

    @property
    def env_id(self) -> str:
        return f"NonstationaryLocomotion-{self.config.body.capitalize()}-v0"

    def meta_config(self) -> dict[str, Any]:
        return {"maml": self.config.to_dict(), **self.policy.describe()}

    @property
    def steps_per_iteration(self) -> int:
        c = self.config
        return 2 * c.meta_batch * c.episodes * self.envs.max_steps

    # ---------------------------------------------------------------- sampling

    @torch.no_grad()
    def _collect(self, damages: list, params: list[dict[str, torch.Tensor]], seed: int) -> _Phase:
        """One episode per simulation; simulation block i acts with ``params[i]``."""
        k = self.config.episodes
        self.envs.set_damages([d for d in damages for _ in range(k)])
        obs, _ = self.envs.reset(seed=seed)
        n_tasks, steps = len(damages), self.envs.max_steps
        shape = (n_tasks, k, steps)
        out_obs = torch.zeros(*shape, self.policy.input_dim)
        out_act = torch.zeros(*shape, self.policy.act_dim)
        out_rew, out_logp, out_val = (torch.zeros(shape) for _ in range(3))
        states: list[torch.Tensor | None] = [None] * n_tasks  # recurrent: zero at the reset
        for t in range(steps):
            x = self.policy.normalize(obs).reshape(n_tasks, k, -1)
            actions = np.zeros((n_tasks * k, self.policy.act_dim))
            for i in range(n_tasks):
                mean, log_std, value, states[i] = act_step(self.net, params[i], x[i], states[i])
                a = mean + log_std.exp() * torch.randn(mean.shape, generator=self.generator)
                out_logp[i, :, t] = log_prob(mean, log_std, a)
                out_val[i, :, t] = value
                out_act[i, :, t] = a
                actions[i * k:(i + 1) * k] = a.double().numpy()
            out_obs[:, :, t] = x
            obs, rew, _, _, _ = self.envs.step(actions)
            out_rew[:, :, t] = torch.as_tensor(rew, dtype=torch.float32).reshape(n_tasks, k)
        return _Phase(out_obs, out_act, out_rew, out_logp, out_val)

    # ---------------------------------------------------------------- one iteration

    def sample(self) -> tuple[_Phase, _Phase]:
        """Steps 1-3: episodes of theta on T_i, adaptation, episodes of each phi_i on T_{i+1}."""
        c = self.config
        pairs = self.tasks.transitions(c.meta_batch)
        n = self.envs.num_envs  # two resets an iteration
        seed, post_seed = (env_seed(c.seed, 2 * self.iteration + phase, n) for phase in (0, 1))
        theta_now = {k: v.detach() for k, v in self.theta.items()}
        pre = self._collect([p[0] for p in pairs], [theta_now] * c.meta_batch, seed)
        post = self._collect([p[1] for p in pairs], self.adapted(pre, c.meta_batch), post_seed)
        return pre, post

    def step(self) -> tuple[dict[str, float], int]:
        start = time.perf_counter()
        pre, post = self.sample()
        sampled = time.perf_counter()
        stats = self.meta_update(pre, post)
        updated = time.perf_counter()
        row = {"pre_return": float(pre.returns().mean()),
               "post_return": float(post.returns().mean()), **stats,
               "sample_s": sampled - start, "update_s": updated - sampled}
        row["adaptation_gain"] = row["post_return"] - row["pre_return"]
        row.update(self.step_size_metrics())
        return row, self.steps_per_iteration

    def outer_targets(self, pre: _Phase,
                      post: _Phase) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """GAE advantages and returns ``[tasks, K, T]`` of the T_{i+1} episodes (which end
        terminal) and the standardised post-adaptation return of each task ``[tasks]``."""
        c = self.config
        task_adv = self.task_advantages(pre, post)
        advs, rets = [], []
        for i in range(post.rewards.shape[0]):
            r = post.rewards[i].T  # [T, K]
            v = post.values[i].T
            done = torch.zeros_like(r)
            done[-1] = 1.0
            nxt = torch.cat([v[1:], torch.zeros_like(v[:1])])
            a, ret = gae(r, v, nxt, done, done, c.gamma, c.lam)
            advs.append(a.T)
            rets.append(ret.T)
        return torch.stack(advs), torch.stack(rets), task_adv

    # ---------------------------------------------------------------- checkpoints

    def state_extra(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return {}, {"tasks_rng": self.tasks._rng.bit_generator.state}

    def restore_extra(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        self.tasks._rng.bit_generator.state = extra["tasks_rng"]
        # resume points written before they counted env steps: every iteration takes as many
        self.env_steps = int(extra.get("env_steps", self.iteration * self.steps_per_iteration))


def adaptable_policy(path: Path | str, meta: CheckpointMeta) -> tuple[Policy, float, float]:
    """theta as a policy, with reward scale and discount (``agents.loaders``)."""
    policy, *_ = load_maml(path)
    return policy, 1.0, float(meta.config["maml"].get("gamma", 0.99))


def load_maml(path: Path | str) -> tuple[Policy, StepSizes, AdaptConfig, CheckpointMeta]:
    """Policy (theta), step sizes and adaptation rule of a MAML snapshot."""
    from agents.policy import policy_from_checkpoint

    tensors, meta = load_checkpoint(path, expected_kind=KIND)
    policy = policy_from_checkpoint(tensors, meta.config, path, prefix="policy.")
    config = MetaConfig.from_dict(meta.config["maml"])
    step_sizes = StepSizes(parameters_of(policy.net), config.adapt)
    load_checked(step_sizes, tensors, path, prefix="alpha.")
    return policy, step_sizes, config.adapt, meta


def load_agent(path: Path, meta: CheckpointMeta, seed: int | None, **kwargs: Any):
    """A ``MAMLAgent`` from a ``"maml"`` checkpoint (``agents.loaders``)."""
    from agents.maml.agent import MAMLAgent

    policy, step_sizes, adapt_config, meta = load_maml(path)
    return MAMLAgent(policy, step_sizes, adapt_config, name=f"maml@{meta.version}",
                     body=meta.body, seed=seed, **kwargs)
