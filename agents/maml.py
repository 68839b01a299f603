"""Meta-learning for continuous adaptation (Al-Shedivat et al., ICLR 2018): the adaptation rule.

theta holds the policy and value parameters of an actor-critic net. Adaptation takes M gradient
steps, each with its own learned step size (eq. 7)::

    phi^0 = theta;  phi^m = phi^{m-1} - alpha_m * grad L(tau; phi^{m-1});  phi = phi^M

where L is the vanilla policy gradient of the negative discounted reward with a value baseline
(plus a value-regression term, since phi holds value parameters too). The trajectories tau were
collected by some behaviour policy: pi_theta during meta-training, the previously adapted policy
at execution time (Algorithm 2, eq. 9). Each step weights every time step by the importance ratio
pi_{phi^{m-1}}(a|s) / pi_behaviour(a|s), truncated at ``max_weight`` and treated as a constant
(not differentiated). A trajectory-level ratio would explode over 100-step episodes, so the
ratios are per step; truncation bounds the variance (the choice is tested). On data of the
current policy every weight is exactly 1 and the update is the plain one.

Everything here is functional (``torch.func.functional_call`` with explicit parameter dicts), so
the adapted parameters stay differentiable with respect to theta and the step sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.func import functional_call

from agents.nets import log_prob

Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class AdaptConfig:
    """The adaptation rule.

    Attributes:
        steps: number of inner gradient steps M (paper: 3).
        step_size: initial value of every learned step size alpha_m (paper: 0.001).
        per_parameter: one learned step size per parameter entry (Meta-SGD style) instead of
            one scalar per step.
        gamma: discount of the inner policy-gradient loss.
        value_coef: weight of the value-regression term of the inner loss.
        max_weight: truncation of the per-step importance weights.
        normalize_advantages: standardise the inner advantages (per adaptation batch).
    """

    steps: int = 3
    step_size: float = 0.001
    per_parameter: bool = False
    gamma: float = 0.99
    value_coef: float = 0.5
    max_weight: float = 2.0
    normalize_advantages: bool = True

    def __post_init__(self) -> None:
        if not (isinstance(self.steps, int) and not isinstance(self.steps, bool)
                and self.steps >= 1):
            raise ValueError(f"steps must be an integer >= 1, got {self.steps!r}")
        if not self.max_weight >= 1.0:
            raise ValueError(f"max_weight must be >= 1 (1 means no importance correction "
                             f"above on-policy), got {self.max_weight!r}")
        if not self.step_size >= 0 or not self.value_coef >= 0:
            raise ValueError(f"step_size and value_coef must be >= 0, got {self.step_size!r}, "
                             f"{self.value_coef!r}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma!r}")


class Episodes(NamedTuple):
    """A batch of E complete episodes of length T used to adapt (tensors).

    ``behaviour_logp`` holds log pi_behaviour(a|s) of the policy that acted; ``mask`` is 1 for
    real steps (episodes may be padded to a common length).
    """

    obs: torch.Tensor  # [E, T, obs_dim], normalised as the policy sees them
    actions: torch.Tensor  # [E, T, act_dim]
    rewards: torch.Tensor  # [E, T]
    behaviour_logp: torch.Tensor  # [E, T]
    mask: torch.Tensor  # [E, T]


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """Reward-to-go ``[E, T]`` within each (masked) episode."""
    out = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = (rewards[:, t] + gamma * running) * mask[:, t]
        out[:, t] = running
    return out


def importance_weights(logp: torch.Tensor, behaviour_logp: torch.Tensor,
                       max_weight: float) -> torch.Tensor:
    """Per-step ratios pi(a|s) / pi_behaviour(a|s), truncated at ``max_weight``, no gradient."""
    return torch.exp(logp.detach() - behaviour_logp.detach()).clamp(max=max_weight)


def inner_loss(net: nn.Module, params: Params, episodes: Episodes, config: AdaptConfig,
               weighted: bool = True) -> torch.Tensor:
    """Importance-weighted vanilla policy gradient with a value baseline, plus value regression.

    ``L = -mean(w * logp * A) + value_coef * 0.5 * mean(w * (V - R)^2)`` over real steps, with
    R the reward-to-go, A = R - V (detached, optionally standardised) and w the truncated
    importance weights of ``params`` against the behaviour policy (1 when ``weighted`` is False).
    """
    mean, log_std, values = functional_call(net, params, (episodes.obs,))
    logp = log_prob(mean, log_std, episodes.actions)
    mask = episodes.mask
    returns = discounted_returns(episodes.rewards, mask, config.gamma)
    adv = (returns - values).detach()
    n = mask.sum().clamp_min(1.0)
    if config.normalize_advantages:
        mu = (adv * mask).sum() / n
        sd = (((adv - mu) * mask).square().sum() / n).sqrt()
        adv = (adv - mu) / (sd + 1e-8)
    w = (importance_weights(logp, episodes.behaviour_logp, config.max_weight)
         if weighted else torch.ones_like(logp))
    pg = -(w * logp * adv * mask).sum() / n
    vf = 0.5 * (w * (values - returns).square() * mask).sum() / n
    return pg + config.value_coef * vf


class StepSizes(nn.Module):
    """Learned step sizes alpha_1..alpha_M: scalars, or one per parameter entry."""

    def __init__(self, params: Params, config: AdaptConfig) -> None:
        super().__init__()
        self.per_parameter = config.per_parameter
        self.names = list(params)
        init = config.step_size
        if config.per_parameter:
            self.alphas = nn.ParameterList([
                nn.ParameterDict({_key(k): nn.Parameter(torch.full_like(p, init))
                                  for k, p in params.items()})
                for _ in range(config.steps)])
        else:
            self.alphas = nn.ParameterList([nn.Parameter(torch.tensor(float(init)))
                                            for _ in range(config.steps)])

    def get(self, step: int, name: str) -> torch.Tensor:
        alpha = self.alphas[step]
        return alpha[_key(name)] if self.per_parameter else alpha


def _key(name: str) -> str:
    return name.replace(".", "__")  # ParameterDict keys may not contain dots


def adapt(net: nn.Module, theta: Params, step_sizes: StepSizes, episodes: Episodes,
          config: AdaptConfig, create_graph: bool = False,
          weighted: bool = True) -> list[Params]:
    """Run the M inner steps from theta on ``episodes``; return [phi^1, ..., phi^M].

    Args:
        net: the actor-critic module (its own parameters are not used).
        theta: the meta-parameters (a dict of tensors; they may require grad).
        step_sizes: learned alphas.
        episodes: adaptation data with the behaviour policy's log-probabilities.
        config: adaptation settings.
        create_graph: keep the graph of the inner gradients, for second-order meta-gradients
            with respect to theta and the step sizes (first-order otherwise).
        weighted: apply the importance weights (False: plain on-policy update).
    """
    phi = theta
    out = []
    for m in range(config.steps):
        if create_graph:  # second order: differentiate through the inner gradient
            at = phi
        else:  # first order: the inner gradient is a constant; phi still moves with theta
            at = {k: v.detach().requires_grad_() for k, v in phi.items()}
        loss = inner_loss(net, at, episodes, config, weighted=weighted)
        grads = torch.autograd.grad(loss, list(at.values()), create_graph=create_graph,
                                    allow_unused=True)
        phi = {name: p - step_sizes.get(m, name) * (g if g is not None else torch.zeros_like(p))
               for (name, p), g in zip(phi.items(), grads, strict=True)}
        out.append(phi)
    return out


def parameters_of(net: nn.Module) -> Params:
    """theta: the net's parameters as a name -> tensor dict (the live parameters)."""
    return dict(net.named_parameters())
