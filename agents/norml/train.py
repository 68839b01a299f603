"""Meta-training NoRML (and its ablations) on the point agent, in a resumable run directory.

One meta-iteration (Yang et al. 2019, Algorithm 1):

1. draw ``tasks`` rotation angles;
2. per task, ``rollouts`` episodes with the exploration policy ``pi_theta`` (``D_train``);
3. per task, the inner step ``theta_i = theta + offset - alpha grad L(D_train)`` (no reward read
   for NoRML), keeping the graph;
4. per task, ``rollouts`` episodes with ``pi_theta_i`` (``D_test``);
5. one Adam step on the mean over tasks of the policy-gradient loss of ``pi_theta_i`` on
   ``D_test`` (true advantage: discounted return minus a per-task ridge baseline),
   differentiated through the inner step into theta, offset, psi and alpha. The learning rate
   decays linearly to 0 over the run.

As in the reference code and most MAML-RL implementations, the dependence of ``D_train``'s
distribution on theta (the score-function term of the exact meta-gradient) is left out.

A run lives in a directory like every training run's (``agents.run``): ``config.json``,
``metrics.csv`` (and ``tb/``), ``state.safetensors`` (resume point) and
``lineage/<name>/vNNNN.safetensors``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from agents.checkpoint import CheckpointMeta
from agents.config import Config
from agents.norml.agent import save_norml
from agents.norml.core import NoRMLConfig, NoRMLModel, TaskData
from agents.run import TrainingRun
from envs.point import ENV_ID, PointRotationVectorEnv, sample_angles

STATE_KIND = "norml-train-state"


@dataclass(frozen=True)
class MetaTrainConfig(Config):
    """A NoRML meta-training run on ``PointRotation-v0``.

    Attributes:
        sparse: sparse reward (-1 per step, 100 steps, ends at the goal) instead of shaped.
        iterations: meta-iterations (outer Adam steps).
        tasks: tasks (rotation angles) per meta-batch (reference: 10).
        rollouts: episodes per task for the inner step and for the outer loss (reference: 25).
        gamma: discount (reference: 0.9).
        lr: initial outer Adam learning rate.
        lr_decay: decay the outer learning rate linearly to 0 over the run.
        seed: seed of tasks, initialisation and action noise.
        snapshot_every: iterations between lineage snapshots (and the last one).
        model: the NoRML variant (``NoRMLConfig.variant(name)``).
    """

    sparse: bool = False
    iterations: int = 300
    tasks: int = 10
    rollouts: int = 25
    gamma: float = 0.9
    lr: float = 3e-3
    lr_decay: bool = True
    seed: int = 0
    snapshot_every: int = 50
    model: NoRMLConfig = field(default_factory=NoRMLConfig)

    def __post_init__(self) -> None:
        for name in ("iterations", "tasks", "rollouts", "snapshot_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not 0 < self.gamma <= 1 or not self.lr > 0:
            raise ValueError(f"need 0 < gamma <= 1 and lr > 0, got {self.gamma}, {self.lr}")
        if self.model.features != "raw":
            raise ValueError(f"model features={self.model.features!r} is for RoboSumo envs only")



def _stack(params: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([p[k].detach() for p in params]) for k in params[0]}


def _batched_policy(model: NoRMLModel, stacked: dict[str, torch.Tensor], x: torch.Tensor):
    """Mean ``[K, R, A]`` and log-std ``[K, A]`` of K parameter sets on ``x [K, R, S]``.

    The same computation as ``model.distribution`` per task, written with batched matrix
    products: ``vmap(functional_call)`` costs about a millisecond of overhead per call, which
    dominated collection.
    """
    layers = [i for i, m in enumerate(model.policy.mu) if isinstance(m, torch.nn.Linear)]
    for j, i in enumerate(layers):
        w, b = stacked[f"mu.{i}.weight"], stacked[f"mu.{i}.bias"]
        x = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
        if j < len(layers) - 1:
            x = torch.tanh(x)
    return x, stacked["log_std"]


@torch.no_grad()
def collect(model: NoRMLModel, params: list[dict[str, torch.Tensor]], angles: np.ndarray,
            rollouts: int, sparse: bool, generator: torch.Generator) -> TaskData:
    """``rollouts`` episodes per task, task ``k`` acted by ``params[k]`` at angle ``angles[k]``.

    All ``K * R`` points step together; a point whose episode ended (sparse reward: goal
    reached) keeps stepping but its steps are masked out.

    Returns:
        ``TaskData`` with a leading task axis: ``obs [K, R, T, 2]``, ``mask [K, R, T]``, ...
    """
    k, r = len(params), int(rollouts)
    envs = PointRotationVectorEnv(k * r, sparse=sparse, angles=np.repeat(angles, r))
    obs, _ = envs.reset()
    steps = envs.max_steps
    stacked = _stack(params)
    out = {name: [] for name in TaskData._fields}
    alive = np.ones(k * r, dtype=bool)
    for _ in range(steps):
        x = torch.as_tensor(obs).reshape(k, r, -1)
        mean, log_std = _batched_policy(model, stacked, x)
        noise = torch.randn(mean.shape, generator=generator)
        action = mean + log_std.exp().unsqueeze(1) * noise
        nxt, reward, terminated, truncated, info = envs.step(action.reshape(k * r, -1).numpy())
        final = info.get("final_obs", nxt)
        out["obs"].append(x)
        out["actions"].append(action)
        out["rewards"].append(torch.as_tensor(reward, dtype=torch.float32).reshape(k, r))
        out["next_obs"].append(torch.as_tensor(final).reshape(k, r, -1))
        out["mask"].append(torch.as_tensor(alive, dtype=torch.float32).reshape(k, r))
        alive &= ~(terminated | truncated)
        obs = nxt
    return TaskData(*(torch.stack(out[name], 2) for name in TaskData._fields))


def _split(params: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """Name -> ``[K, ...]`` into K detached parameter dicts."""
    k = next(iter(params.values())).shape[0]
    return [{n: v[i].detach() for n, v in params.items()} for i in range(k)]


def task(batch: TaskData, k: int) -> TaskData:
    """The data of task ``k`` of a batched ``TaskData``."""
    return TaskData(*(x[k] for x in batch))


def episode_returns(batch: TaskData) -> torch.Tensor:
    """Undiscounted return of every episode, ``[K, R]``."""
    return (batch.rewards * batch.mask).sum(-1)


def evaluate(model: NoRMLModel, angles: np.ndarray, rollouts: int, sparse: bool, gamma: float,
             seed: int) -> dict[str, np.ndarray]:
    """Mean return per task before (``pi_theta``) and after one inner step (``pi_theta_i``)."""
    gen = torch.Generator().manual_seed(seed)
    theta = {k: v.detach() for k, v in model.theta().items()}
    pre = collect(model, [theta] * len(angles), angles, rollouts, sparse, gen)
    adapted = _split(model.adapt_tasks(pre, gamma, create_graph=False))
    post = collect(model, adapted, angles, rollouts, sparse, gen)
    return {"pre": episode_returns(pre).mean(1).numpy(),
            "post": episode_returns(post).mean(1).numpy()}


class MetaTrainer(TrainingRun):
    """One NoRML meta-training run; ``iterate()`` is one meta-iteration; resumable."""

    STATE_KIND = STATE_KIND
    KIND = "norml"
    DESC = "norml"
    PROGRESS = ("return_pre", "return_post")

    def build(self) -> None:
        self.model = self._build_model()
        self.optimizer = torch.optim.Adam(self._param_groups(), lr=self.config.lr)

    def _build_model(self) -> NoRMLModel:
        return NoRMLModel(2, 2, self.config.model)

    def _param_groups(self) -> list:
        """What Adam meta-trains (at ``config.lr`` unless a group says otherwise)."""
        return [p for p in self.model.parameters() if p.requires_grad]

    @property
    def env_id(self) -> str | None:
        return ENV_ID

    def step(self) -> tuple[dict[str, float], int]:
        """One meta-iteration (see the module docstring): its metrics and env steps."""
        c, model = self.config, self.model
        lr = c.lr * (1.0 - self.iteration / c.iterations) if c.lr_decay else c.lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        angles = sample_angles(self.rng, c.tasks)
        theta = model.theta()
        train = collect(model, [theta] * c.tasks, angles, c.rollouts, c.sparse, self.generator)
        adapted = model.adapt_tasks(train, c.gamma)
        test = collect(model, _split(adapted), angles, c.rollouts, c.sparse, self.generator)
        loss = model.outer_loss(adapted, test, c.gamma)
        self.optimizer.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(
            [p for p in model.parameters() if p.requires_grad], float("inf"))
        check_finite("NoRML meta-training", self.iteration, loss, grad_norm)
        self.optimizer.step()
        return ({"return_pre": float(episode_returns(train).mean()),
                 "return_post": float(episode_returns(test).mean()),
                 "loss": float(loss.detach()), "grad_norm": float(grad_norm), "lr": lr},
                int(train.mask.sum() + test.mask.sum()))

    def save_snapshot(self, path: Path, meta: CheckpointMeta) -> Path:
        return save_norml(path, self.model, meta)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {f"model.{k}": v for k, v in self.model.state_dict().items()}

    def restore_tensors(self, tensors: dict[str, torch.Tensor], path: Path) -> None:
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items()
                                    if k.startswith("model.")})


def check_finite(what: str, iteration: int, loss: torch.Tensor, grad_norm: torch.Tensor) -> None:
    """Refuse a meta-update whose loss or gradient is not finite (before the optimiser step)."""
    if not torch.isfinite(loss) or not torch.isfinite(grad_norm):
        raise FloatingPointError(f"{what} diverged at iteration {iteration + 1}: loss "
                                 f"{float(loss)}, gradient norm {float(grad_norm)}; lower lr or "
                                 f"alpha")


def meta_train(config: MetaTrainConfig, run_dir: Path | str, resume: bool = True,
               progress: bool = False, tensorboard: bool = True) -> MetaTrainer:
    """Run (or resume) a meta-training run to completion and return its trainer."""
    trainer = MetaTrainer(config, run_dir, resume=resume, tensorboard=tensorboard)
    trainer.run(progress=progress)
    return trainer


__all__ = ["MetaTrainConfig", "MetaTrainer", "collect", "episode_returns", "evaluate",
           "meta_train", "task"]
