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

The net may be an ``MLPActorCritic`` or an ``LSTMActorCritic`` (any module with the same call
conventions and a ``recurrent`` flag). ``evaluate_episodes`` is the one place that runs a net with
a parameter dict on a batch of episodes ``[E, T, ...]`` (an LSTM is unrolled over each episode from
the zero state); the inner loss, the meta-training losses and the agents all go through it, and
``act_step`` is its step-by-step counterpart for acting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.func import functional_call
from torch.func import grad as func_grad

from agents.episodes import Episodes
from agents.nets import log_prob

Params = dict[str, torch.Tensor]


VALUE_STEPS = ("shared", "separate", "none")
PARAMETRIZATIONS = ("linear", "log")
INNER_STEPS = ("gradient", "kl")
ADAPTED = ("weights", "context")
CONTEXT = "context"  # the name of a context-vector parameter (agents.nets.MLPActorCritic)


@dataclass(frozen=True)
class AdaptConfig:
    """The adaptation rule.

    Attributes:
        steps: number of inner gradient steps M (paper: 3).
        step_size: initial value of every learned step size alpha_m (paper: 0.001); with
            ``inner_step="kl"`` the KL divergence each step makes (e.g. 0.01).
        per_parameter: one learned step size per parameter entry (Meta-SGD style) instead of
            one scalar per step.
        gamma: discount of the inner policy-gradient loss.
        value_coef: weight of the value-regression term of the inner loss.
        max_weight: truncation of the per-step importance weights.
        normalize_advantages: standardise the inner advantages (per adaptation batch).
        value_step: how the inner step treats the value parameters: ``"shared"`` (one step
            size for policy and value, the paper's), ``"separate"`` (the value parameters have
            step sizes of their own, so the outer value loss cannot drive the policy's) or
            ``"none"`` (only the policy adapts; phi keeps theta's value function).
        parametrization: ``"linear"`` (alpha is learned as it is, and may cross 0 into
            gradient ascent) or ``"log"`` (log alpha is learned: alpha stays positive, and the
            meta-update leaves it outside the element-wise gradient clip of theta).
        inner_step: ``"gradient"`` (phi = phi - alpha grad L) or ``"kl"`` (the policy
            parameters step along -grad L by the length whose KL divergence between the
            policies before and after it, on the adaptation batch, is alpha: a trust-region step
            that does not shrink with the size of the batch or the scale of the loss; the value
            parameters, if they adapt, take a plain gradient step with their own step size, so
            it needs ``value_step`` ``"separate"`` or ``"none"``).
        adapt: what the inner steps move: ``"weights"`` (every parameter, as MAML) or
            ``"context"`` (only the policy's context vector, CAVIA-style: the weights stay
            theta's; needs a policy with ``context > 0``; the value net does not read the
            context, so the step follows the policy-gradient term alone and ``value_step``
            does not apply).
    """

    steps: int = 3
    step_size: float = 0.001
    per_parameter: bool = False
    gamma: float = 0.99
    value_coef: float = 0.5
    max_weight: float = 2.0
    normalize_advantages: bool = True
    value_step: str = "shared"
    parametrization: str = "linear"
    inner_step: str = "gradient"
    adapt: str = "weights"

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
        for name, allowed in (("value_step", VALUE_STEPS),
                              ("parametrization", PARAMETRIZATIONS),
                              ("inner_step", INNER_STEPS), ("adapt", ADAPTED)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got "
                                 f"{getattr(self, name)!r}")
        if self.inner_step == "kl" and self.value_step == "shared" and self.adapt == "weights":
            raise ValueError("inner_step 'kl' sizes the policy's step by its KL; give the value "
                             "parameters their own step size (value_step 'separate') or none "
                             "(value_step 'none')")
        if (self.parametrization == "log" or self.inner_step == "kl") and not self.step_size > 0:
            raise ValueError(f"a {self.parametrization} {self.inner_step} step needs "
                             f"step_size > 0, got {self.step_size!r}")


def is_value_parameter(name: str) -> bool:
    """Whether a parameter of an actor-critic net belongs to its value function."""
    return name.startswith(("v.", "v_"))


class Evaluation(NamedTuple):
    """Outputs of a net with a parameter dict on a batch of episodes (see ``evaluate_episodes``)."""

    mean: torch.Tensor  # [E, T, act_dim] action means
    log_std: torch.Tensor  # [act_dim] log standard deviations
    logp: torch.Tensor | None  # [E, T] log pi(a|s) of the given actions (None without actions)
    values: torch.Tensor  # [E, T] value estimates


def evaluate_episodes(net: nn.Module, params: Params, obs: torch.Tensor,
                      actions: torch.Tensor | None = None) -> Evaluation:
    """Run ``net`` with the parameter dict ``params`` on a batch of complete episodes.

    Args:
        net: an actor-critic module (``MLPActorCritic`` or ``LSTMActorCritic``; its own
            parameters are not used).
        params: name -> tensor dict of every parameter of ``net`` (theta, or an adapted phi).
        obs: ``[E, T, obs_dim]`` normalised observations, one row per episode, each starting at
            its first step (padding, if any, after the real steps). An MLP also takes any other
            leading shape ``[..., obs_dim]``.
        actions: ``[E, T, act_dim]`` actions whose log-probabilities are wanted (optional).

    A recurrent net (``net.recurrent``) is unrolled along T from the zero state, with
    ``starts`` marking step 0 of every row as an episode start, which is exactly what acting
    step by step with ``act_step`` (zero state at each episode start) computes. Padded steps come
    after the real ones, so they never influence a real step; mask them in any loss. Everything
    is differentiable with respect to ``params`` (and composable with ``torch.func``
    transforms for MLPs; ``nn.LSTMCell`` has no ``vmap`` batching rule).
    """
    if getattr(net, "recurrent", False):
        if obs.dim() != 3:
            raise ValueError(f"a recurrent net needs episodes [E, T, obs_dim], got obs of shape "
                             f"{tuple(obs.shape)}")
        e, t = obs.shape[:2]
        state = net.initial_state(e).to(obs)
        starts = obs.new_zeros(t, e)
        starts[0] = 1.0
        mean, log_std, values, _ = functional_call(net, params,
                                                   (obs.transpose(0, 1), state, starts))
        mean, values = mean.transpose(0, 1), values.transpose(0, 1)
    else:
        mean, log_std, values = functional_call(net, params, (obs,))
    logp = None if actions is None else log_prob(mean, log_std, actions)
    return Evaluation(mean, log_std, logp, values)


def act_step(net: nn.Module, params: Params, obs: torch.Tensor,
             state: torch.Tensor | None = None):
    """One acting step of B streams: ``obs [B, obs_dim]`` -> ``(mean, log_std, value, state)``.

    ``state`` is the recurrent state after the previous step of the same episode, or None at an
    episode's first step (the zero state); the returned state goes into the next step (None for
    an MLP). Stepping an episode this way gives the outputs ``evaluate_episodes`` recomputes.
    """
    if not getattr(net, "recurrent", False):
        mean, log_std, value = functional_call(net, params, (obs,))
        return mean, log_std, value, None
    b = obs.shape[0]
    if state is None:
        state = net.initial_state(b).to(obs)
    mean, log_std, value, state = functional_call(net, params,
                                                  (obs[None], state, obs.new_zeros(1, b)))
    return mean[0], log_std, value[0], state


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
    out = evaluate_episodes(net, params, episodes.obs, episodes.actions)
    logp, values = out.logp, out.values
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
    """Learned step sizes alpha_1..alpha_M: scalars, or one per parameter entry.

    With ``value_step="separate"`` every scalar step has a policy and a value step size; with
    ``"none"`` the value parameters have none (they do not adapt). With
    ``parametrization="log"`` the learned tensors are log alpha. ``get`` always gives alpha.
    """

    def __init__(self, params: Params, config: AdaptConfig) -> None:
        super().__init__()
        self.per_parameter = config.per_parameter
        self.value_step = config.value_step
        self.log = config.parametrization == "log"
        self.context_only = config.adapt == "context"
        if self.context_only and CONTEXT not in params:
            raise ValueError("adapt 'context' needs a policy with a context vector (policy "
                             "context > 0)")
        self.names = [k for k in params if self.adapts(k)]
        init = math.log(config.step_size) if self.log else float(config.step_size)
        if config.per_parameter:
            self.alphas = nn.ParameterList([
                nn.ParameterDict({_key(k): nn.Parameter(torch.full_like(params[k], init))
                                  for k in self.names})
                for _ in range(config.steps)])
        elif config.value_step == "separate" and not self.context_only:
            self.alphas = nn.ParameterList([
                nn.ParameterDict({group: nn.Parameter(torch.tensor(init))
                                  for group in ("policy", "value")})
                for _ in range(config.steps)])
        else:
            self.alphas = nn.ParameterList([nn.Parameter(torch.tensor(init))
                                            for _ in range(config.steps)])

    def adapts(self, name: str) -> bool:
        """Whether the inner step moves parameter ``name``."""
        if self.context_only:
            return name == CONTEXT
        return self.value_step != "none" or not is_value_parameter(name)

    def raw(self, step: int, name: str) -> torch.Tensor:
        alpha = self.alphas[step]
        if self.per_parameter:
            return alpha[_key(name)]
        if isinstance(alpha, nn.ParameterDict):  # separate policy and value step sizes
            return alpha["value" if is_value_parameter(name) else "policy"]
        return alpha

    def get(self, step: int, name: str) -> torch.Tensor:
        """alpha of inner step ``step`` for parameter ``name``."""
        raw = self.raw(step, name)
        return raw.exp() if self.log else raw

    def summary(self) -> dict[str, float]:
        """The mean alpha of every step (and of each group where they are separate)."""
        row = {}
        for m, alpha in enumerate(self.alphas):
            groups = (alpha.items() if isinstance(alpha, nn.ParameterDict)
                      and not self.per_parameter else [("", alpha)])
            for group, value in groups:
                tensors = value.values() if self.per_parameter else [value]
                flat = torch.cat([t.detach().flatten() for t in tensors])
                key = f"alpha_{m + 1}" + (f"_{group}" if group else "")
                row[key] = float((flat.exp() if self.log else flat).mean())
        return row


def _key(name: str) -> str:
    return name.replace(".", "__")  # ParameterDict keys may not contain dots


def policy_kl(net: nn.Module, before: Params, after: Params, episodes: Episodes) -> torch.Tensor:
    """Mean KL(pi_before || pi_after) over the real steps of ``episodes`` (diagonal Gaussians)."""
    a = evaluate_episodes(net, before, episodes.obs)
    b = evaluate_episodes(net, after, episodes.obs)
    var_a, var_b = (2 * a.log_std).exp(), (2 * b.log_std).exp()
    kl = (b.log_std - a.log_std + (var_a + (a.mean - b.mean).square()) / (2 * var_b)
          - 0.5).sum(-1)
    n = episodes.mask.sum().clamp_min(1.0)
    return (kl * episodes.mask).sum() / n


def _kl_scale(net: nn.Module, phi: Params, grads: dict[str, torch.Tensor],
              episodes: Episodes) -> torch.Tensor:
    """1 / sqrt(c) with KL(s) ~ c s^2 the KL of the policy step phi - s grad (a detached probe;
    ``grads`` holds the policy parameters' gradients)."""
    with torch.no_grad():  # no data-dependent branch: the same code runs under vmap
        norm = torch.sqrt(sum(g.detach().square().sum() for g in grads.values()))
        probe = 1e-2 / norm.clamp_min(1e-12)  # moves the parameters by 0.01: quadratic regime
        at = {k: v.detach() for k, v in phi.items()}
        moved = {k: v - probe * grads[k].detach() if k in grads else v for k, v in at.items()}
        kl = policy_kl(net, at, moved, episodes)
        return probe / kl.clamp_min(1e-20).sqrt()


def adapt(net: nn.Module, theta: Params, step_sizes: StepSizes, episodes: Episodes,
          config: AdaptConfig, create_graph: bool = False,
          weighted: bool = True, functional: bool = False) -> list[Params]:
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
        functional: take the inner gradients with ``torch.func.grad`` instead of
            ``torch.autograd.grad``: the same values, but composable with ``torch.func.vmap``
            (to adapt a stack of tasks at once); the result stays differentiable with respect
            to theta and the step sizes by ordinary autograd either way.

    With ``config.inner_step == "kl"`` the step along -grad L has the length whose KL is
    alpha: the length is alpha^(1/2) / c^(1/2), with c measured by a detached probe step (so
    the meta-gradient reaches alpha and, through the gradient, theta).
    """
    phi = theta
    out = []
    moving = [name for name in phi if step_sizes.adapts(name)]

    def loss_at(params: Params) -> torch.Tensor:
        return inner_loss(net, params, episodes, config, weighted=weighted)

    for m in range(config.steps):
        if functional:
            # second order: differentiate through the inner gradient; first order: a constant
            at = phi if create_graph else {k: v.detach() for k, v in phi.items()}
            g_of = func_grad(loss_at)(at)
            grads = [g_of[name] for name in moving]
        else:
            if create_graph:  # second order: differentiate through the inner gradient
                at = phi
            else:  # first order: the inner gradient is a constant; phi still moves with theta
                at = {k: v.detach().requires_grad_() for k, v in phi.items()}
            grads = torch.autograd.grad(loss_at(at), [at[name] for name in moving],
                                        create_graph=create_graph, allow_unused=True)
        g = {name: grad if grad is not None else torch.zeros_like(phi[name])
             for name, grad in zip(moving, grads, strict=True)}
        if config.inner_step == "kl":
            policy = {k: v for k, v in g.items() if not is_value_parameter(k)}
            scale = _kl_scale(net, phi, policy, episodes)
            phi = {name: p - step_sizes.get(m, name).sqrt() * scale * g[name] if name in policy
                   else p - step_sizes.get(m, name) * g[name] if name in g
                   else p for name, p in phi.items()}
        else:
            phi = {name: p - step_sizes.get(m, name) * g[name] if name in g else p
                   for name, p in phi.items()}
        out.append(phi)
    return out


def task_advantages(task_returns: torch.Tensor,
                    baseline: torch.Tensor | None = None) -> torch.Tensor:
    """Each task's post-adaptation return standardised across the meta-batch ``[tasks]``.

    The advantage of the score-function term of eq. 8 / 24. With ``baseline`` (a per-task
    baseline, e.g. the task's pre-adaptation return) the return minus it is standardised
    instead, so that how hard the drawn task is (which leg pair lost torque) no longer decides
    the sign of a task's term. With a single task there is nothing to compare against: the
    advantages are 0 (the term vanishes) rather than NaN.
    """
    if baseline is not None:
        task_returns = task_returns - baseline
    if task_returns.numel() < 2:
        return torch.zeros_like(task_returns)
    return (task_returns - task_returns.mean()) / (task_returns.std() + 1e-8)


def parameters_of(net: nn.Module) -> Params:
    """theta: the net's parameters as a name -> tensor dict (the live parameters)."""
    return dict(net.named_parameters())
