"""NoRML's model and its pure pieces: the inner step, the value baseline, the outer loss.

The model holds the meta-parameters (Yang et al., AAMAS 2019, section 4):

- ``theta``: a Gaussian policy ``N(f(s | theta_mu), diag(exp(theta_sigma))^2)``, 50x50 tanh;
- ``psi``: the learned advantage ``A_psi(s, a, s')`` fed ``concat(s', s, a)``, 50x50 tanh, one
  output. It is not a true advantage; it is whatever makes the one-step update good;
- ``offset``: one tensor per policy tensor, initialised to 0 and added by the inner step, so that
  the exploration policy (``theta``) and the adapted one can differ;
- ``alpha``: the inner step size, one scalar or (Meta-SGD) one per policy parameter, fixed or
  learned.

The inner step for a task with data ``D`` collected by ``pi_theta`` is::

    theta_i = theta + offset - alpha * grad_theta L(theta),
    L(theta) = -mean_D A(s, a, s') * log pi_theta(a | s)

with ``A = A_psi`` (NoRML: no reward is read) or, without the learned advantage, the true
advantage (plain MAML with Meta-SGD). Using the mean rather than the paper's sum only rescales
alpha, as the reference code does. Everything runs through ``torch.func.functional_call`` with
explicit parameter dicts; with ``create_graph=True`` the outer gradient flows through the inner
step (second order) into theta, offset, psi and alpha.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from agents.features import FEATURES, FeatureNorm, feature_size, with_features
from agents.nets import log_prob, mlp

RIDGE = 1e-5  # ridge regularisation of the value baseline (the MAML-RL LinearFeatureBaseline)

VARIANTS: dict[str, dict[str, bool | float]] = {
    # name: which parts of NoRML are on (the paper's ablations), and the initial inner step size
    # (the reference code's MovePoint settings: the step scales with what multiplies grad log pi)
    "norml": {"learned_advantage": True, "learn_offset": True, "adapt": True, "alpha": 10.0},
    "norml-no-offset": {"learned_advantage": True, "learn_offset": False, "adapt": True,
                        "alpha": 0.7},
    "norml-no-apsi": {"learned_advantage": False, "learn_offset": True, "adapt": True,
                      "alpha": 0.1},
    "maml": {"learned_advantage": False, "learn_offset": False, "adapt": True, "alpha": 0.02},
    "dr": {"learned_advantage": False, "learn_offset": False, "adapt": False, "alpha": 0.0},
}


@dataclass(frozen=True)
class NoRMLConfig:
    """Architecture and inner step of a NoRML model.

    Attributes:
        learned_advantage: the inner step uses ``A_psi(s, a, s')`` (reads no reward); False uses
            the true advantage from the rewards (MAML).
        learn_offset: add a learned offset (initialised to 0) to the adapted parameters.
        adapt: take the inner step at all; False is domain randomisation (alpha = offset = 0).
        alpha: initial inner step size.
        learn_alpha: meta-learn the step size.
        alpha_per_parameter: one step size per policy parameter (Meta-SGD) instead of one scalar.
        hidden: width of the policy's two tanh layers.
        adv_hidden: width of A_psi's two tanh layers.
        init_log_std: initial log standard deviation of the policy.
        center_advantage: subtract A_psi's mean over each task's adaptation data before the
            inner step: a constant part of A_psi only moves the policy along the sampled
            actions' mean score, noise that has nothing to do with the task (off: the paper's).
        normalize_obs: the model holds frozen observation statistics (``obs_norm``, a
            ``RunningNorm`` that is never updated, e.g. copied from a PPO checkpoint) and the
            policy, A_psi and the value baseline see clipped z-scores (``normalize``). Off for
            the point agent, whose states are already of order one.
        features: ``"raw"`` (the observation alone) or ``"sumo"`` (RoboSumo only: the egocentric
            features of ``agents.features`` appended before normalisation, as a PPO policy
            trained with them reads them; the policy and A_psi see both).
    """

    learned_advantage: bool = True
    learn_offset: bool = True
    adapt: bool = True
    alpha: float = 10.0
    learn_alpha: bool = False
    alpha_per_parameter: bool = False
    hidden: int = 50
    adv_hidden: int = 50
    init_log_std: float = -0.75
    normalize_obs: bool = False
    center_advantage: bool = False
    features: str = "raw"

    def __post_init__(self) -> None:
        if self.features not in FEATURES:
            raise ValueError(f"NoRML features must be one of {FEATURES}, got {self.features!r}")
        if not self.adapt and (self.learn_offset or self.learned_advantage or self.learn_alpha):
            raise ValueError("adapt=False (domain randomisation) takes no inner step: it needs "
                             "learned_advantage=False, learn_offset=False and learn_alpha=False")
        if self.hidden < 1 or self.adv_hidden < 1:
            raise ValueError(f"hidden and adv_hidden must be >= 1, got {self.hidden}, "
                             f"{self.adv_hidden}")

    @classmethod
    def variant(cls, name: str, **overrides: object) -> NoRMLConfig:
        """The config of a named variant: ``norml``, ``norml-no-offset``, ``norml-no-apsi``,
        ``maml`` (Meta-SGD: learned per-parameter step sizes) or ``dr``."""
        if name not in VARIANTS:
            raise ValueError(f"unknown NoRML variant {name!r}; valid: {', '.join(VARIANTS)}")
        base = dict(VARIANTS[name])
        if not base["learned_advantage"] and base["adapt"]:
            base.update(learn_alpha=True, alpha_per_parameter=True)  # Meta-SGD
        return dataclasses.replace(cls(**base), **overrides)


class TaskData(NamedTuple):
    """Rollouts of ``R`` episodes of up to ``T`` steps (``mask`` marks real steps), for one
    task or, with a leading axis ``K``, for K tasks."""

    obs: torch.Tensor  # [R, T, S]
    actions: torch.Tensor  # [R, T, A]
    rewards: torch.Tensor  # [R, T]
    next_obs: torch.Tensor  # [R, T, S]
    mask: torch.Tensor  # [R, T] 1 for steps inside the episode


class GaussianMLP(nn.Module):
    """``forward(obs) -> (mean, log_std)`` with a tanh MLP mean and a state-independent log-std."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, init_log_std: float) -> None:
        super().__init__()
        self.mu = mlp([obs_dim, hidden, hidden, act_dim], out_gain=0.01)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mu(obs), self.log_std


class AdvantageNet(nn.Module):
    """``A_psi(s, a, s')``: a tanh MLP on ``concat(s', s, a)`` with one output."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int) -> None:
        super().__init__()
        # A near-zero output layer makes the untrained inner step nearly the identity; a large
        # random one, scaled by the large step size NoRML uses, throws the policy far away.
        self.net = mlp([2 * obs_dim + act_dim, hidden, hidden, 1], out_gain=0.01)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor,
                next_obs: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([next_obs, obs, actions], -1)).squeeze(-1)


def _key(name: str) -> str:
    return name.replace(".", "__")  # ParameterDict keys cannot hold dots


class NoRMLModel(nn.Module):
    """The meta-parameters theta, psi, offset and alpha, and the inner step.

    Args:
        obs_dim: observation size.
        act_dim: action size.
        config: which parts are on.
    """

    def __init__(self, obs_dim: int, act_dim: int, config: NoRMLConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or NoRMLConfig()
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        # what the networks read: the observation and its features (``normalize``)
        self.input_dim = self.obs_dim + feature_size(c.features)
        self.policy = GaussianMLP(self.input_dim, self.act_dim, c.hidden, c.init_log_std)
        shapes = {n: p.shape for n, p in self.policy.named_parameters()}
        self.advantage = (AdvantageNet(self.input_dim, self.act_dim, c.adv_hidden)
                          if c.learned_advantage else None)
        self.offset = (nn.ParameterDict({_key(n): nn.Parameter(torch.zeros(s))
                                         for n, s in shapes.items()}) if c.learn_offset else None)
        if c.alpha_per_parameter:
            alphas = {_key(n): torch.full(s, float(c.alpha)) for n, s in shapes.items()}
        else:
            alphas = {"all": torch.tensor(float(c.alpha))}
        self.alpha = nn.ParameterDict({k: nn.Parameter(v, requires_grad=c.learn_alpha)
                                       for k, v in alphas.items()})
        # buffers only: part of the checkpoint, never changed by meta-training or adaptation
        self.obs_norm = FeatureNorm(self.obs_dim, c.features) if c.normalize_obs else None

    def normalize(self, obs: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Raw observations ``[..., obs_dim]`` -> the float32 input of the policy and of A_psi
        ``[..., input_dim]`` (with the features, normalised where the model normalises)."""
        x = torch.as_tensor(obs, dtype=torch.float32)
        return self.obs_norm(x) if self.obs_norm is not None else with_features(
            x, self.config.features)

    def theta(self) -> dict[str, torch.Tensor]:
        """The policy's parameters as a name -> tensor dict (they carry gradients)."""
        return dict(self.policy.named_parameters())

    def distribution(self, params: dict[str, torch.Tensor],
                     obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-std of ``pi_params(. | obs)`` for one parameter set."""
        return functional_call(self.policy, params, (obs,))

    def log_prob(self, params: dict[str, torch.Tensor], obs: torch.Tensor,
                 actions: torch.Tensor) -> torch.Tensor:
        """``log pi_params(a | s)`` for K parameter sets at once.

        Args:
            params: name -> ``[K, *shape]`` tensors, one parameter set per task.
            obs: ``[K, ..., S]``.
            actions: ``[K, ..., A]``.

        Returns:
            ``[K, ...]`` log-densities summed over action dimensions.
        """
        mean, log_std = vmap(self.distribution)(params, obs)
        return log_prob(mean, log_std.reshape(log_std.shape[0], *[1] * (mean.dim() - 2),
                                              -1), actions)

    def step_size(self, name: str) -> torch.Tensor:
        return self.alpha[_key(name)] if self.config.alpha_per_parameter else self.alpha["all"]

    def inner_advantages(self, data: TaskData, gamma: float) -> torch.Tensor:
        """The advantages the inner step weighs ``grad log pi`` with, ``[K, R, T]``.

        NoRML reads ``obs``, ``actions`` and ``next_obs`` only; MAML reads the rewards.
        """
        if self.advantage is None:
            return true_advantages(data, gamma)
        adv = self.advantage(data.obs, data.actions, data.next_obs)
        if self.config.center_advantage:
            n = data.mask.sum((-2, -1), keepdim=True).clamp_min(1)
            adv = adv - (adv * data.mask).sum((-2, -1), keepdim=True) / n
        return adv

    def adapt_tasks(self, data: TaskData, gamma: float = 0.9, create_graph: bool = True,
                    weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One inner step from theta for each of K tasks at once.

        theta is repeated K times; the gradient of the sum of the K task losses with respect to
        the repeats is, slice by slice, each task's own gradient, so one backward pass serves
        all tasks.

        Args:
            data: rollouts collected by ``pi_theta``, tensors with a leading task axis K.
            gamma: discount of the true advantage (variants without A_psi).
            create_graph: keep the graph for second-order meta-gradients (training); False at
                execution time.
            weights: per-step importance weights ``[K, R, T]`` (no gradient) for data that
                another policy collected: ``pi_theta(a | s) / pi_behaviour(a | s)``, truncated
                by the caller; None: the data is ``pi_theta``'s own (weights 1).

        Returns:
            The adapted parameters ``theta_i``, name -> ``[K, *shape]`` (the model is not
            changed).
        """
        k = data.obs.shape[0]
        theta = {n: p.unsqueeze(0).expand(k, *p.shape) for n, p in self.theta().items()}
        if not self.config.adapt:
            return theta
        with torch.enable_grad():
            adv = self.inner_advantages(data, gamma)
            logp = self.log_prob(theta, data.obs, data.actions)
            if weights is not None:
                adv = adv * weights.detach()
            losses = -(data.mask * adv * logp).sum((1, 2)) / data.mask.sum((1, 2)).clamp_min(1)
            grads = torch.autograd.grad(losses.sum(), list(theta.values()),
                                        create_graph=create_graph)
        adapted = {}
        for (name, p), g in zip(theta.items(), grads, strict=True):
            new = p - self.step_size(name) * g
            if self.offset is not None:
                new = new + self.offset[_key(name)]
            adapted[name] = new
        return adapted

    def adapt(self, data: TaskData, gamma: float = 0.9, create_graph: bool = True,
              weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``adapt_tasks`` for the data ``[R, T, ...]`` of one task: name -> ``[*shape]``."""
        batch = TaskData(*(x.unsqueeze(0) for x in data))
        w = None if weights is None else weights.unsqueeze(0)
        return {n: v[0] for n, v in self.adapt_tasks(batch, gamma, create_graph, w).items()}

    def outer_loss(self, params: dict[str, torch.Tensor], data: TaskData, gamma: float,
                   old_logp: torch.Tensor | None = None, clip: float = 0.2) -> torch.Tensor:
        """Mean over K tasks of the policy-gradient loss of each adapted policy on its own
        rollouts (``params`` and ``data`` with a leading task axis).

        The advantage is the discounted return minus the ridge baseline, standardised per task
        (as the reference code does) so that one learning rate suits both reward scales. With
        ``old_logp`` (the log-probabilities of the policies that collected ``data``) the loss
        is PPO's clipped surrogate instead, for several outer epochs on the same rollouts; at
        ``old_logp`` equal to the current ones its gradient is the policy gradient's.
        """
        adv = true_advantages(data, gamma)
        n = data.mask.sum((1, 2), keepdim=True).clamp_min(2)
        mean = adv.sum((1, 2), keepdim=True) / n
        var = ((adv - mean) * data.mask).square().sum((1, 2), keepdim=True) / (n - 1)
        adv = (adv - mean) / (var.sqrt() + 1e-8)
        logp = self.log_prob(params, data.obs, data.actions)
        if old_logp is None:
            objective = adv * logp
        else:
            ratio = (logp - old_logp.detach()).exp()
            objective = torch.min(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)
        losses = -(data.mask * objective).sum((1, 2)) / data.mask.sum((1, 2)).clamp_min(1)
        return losses.mean()


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """Reward-to-go ``G_t = sum_k gamma^k r_{t+k}`` within each episode, ``[..., T]``."""
    out = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[..., 0])
    for t in range(rewards.shape[-1] - 1, -1, -1):
        running = mask[..., t] * (rewards[..., t] + gamma * running)
        out[..., t] = running
    return out


def baseline_features(obs: torch.Tensor, horizon: int) -> torch.Tensor:
    """``[s, s^2, s^3, t/T, (t/T)^2, (t/T)^3, 1]`` for observations ``[..., T, S]``."""
    t = obs.shape[-2]
    time = (torch.arange(t, dtype=obs.dtype) / horizon).expand(obs.shape[:-1]).unsqueeze(-1)
    return torch.cat([obs, obs ** 2, obs ** 3, time, time ** 2, time ** 3,
                      torch.ones_like(time)], -1)


def ridge_values(obs: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
                 reg: float = RIDGE) -> torch.Tensor:
    """Fit V(s, t) by ridge regression on ``baseline_features`` and evaluate it.

    ``obs [K, R, T, S]``, ``returns`` and ``mask [K, R, T]``: one fit per task (a per-task
    baseline) on its masked samples, in float64; a single task ``[R, T, ...]`` works too.
    """
    x = baseline_features(obs.detach().double(), obs.shape[-2])
    lead = x.shape[:-3]
    x = x.reshape(*lead, -1, x.shape[-1])  # [K, R*T, F]
    m = mask.double().reshape(*lead, -1, 1)
    g = returns.detach().double().reshape(*lead, -1, 1)
    a = (x * m).transpose(-1, -2) @ x + reg * torch.eye(x.shape[-1], dtype=torch.float64)
    b = (x * m).transpose(-1, -2) @ g
    w = torch.linalg.solve(a, b)
    return (x @ w).reshape(returns.shape).to(returns.dtype) * mask


def true_advantages(data: TaskData, gamma: float) -> torch.Tensor:
    """Discounted return minus the per-task ridge baseline, ``[..., R, T]`` (no gradient)."""
    returns = discounted_returns(data.rewards.detach(), data.mask, gamma)
    return (returns - ridge_values(data.obs, returns, data.mask)) * data.mask


__all__ = ["VARIANTS", "AdvantageNet", "GaussianMLP", "NoRMLConfig", "NoRMLModel", "TaskData",
           "baseline_features", "discounted_returns", "ridge_values", "true_advantages"]
