"""Advantage estimation and the PPO loss, as pure functions.

Shapes use ``T`` for time and ``B`` for parallel environments.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


def gae(rewards: torch.Tensor, values: torch.Tensor, next_values: torch.Tensor,
        terminated: torch.Tensor, dones: torch.Tensor, gamma: float,
        lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) with correct time-limit handling.

    Args:
        rewards: ``[T, B]`` reward of each step.
        values: ``[T, B]`` V(s_t).
        next_values: ``[T, B]`` V(s_{t+1}) of the step's next observation; where the episode was
            truncated by a time limit this must be the value of the final observation (the
            episode goes on in principle, so it bootstraps), not of the reset observation.
        terminated: ``[T, B]`` 1 where s_{t+1} is terminal (no bootstrap).
        dones: ``[T, B]`` 1 where the episode ended at this step (terminated or truncated): the
            advantage recursion stops there.
        gamma: discount factor.
        lam: GAE lambda.

    Returns:
        ``(advantages [T, B], returns [T, B])`` with returns = advantages + values.
    """
    not_term = 1.0 - terminated.to(values.dtype)
    not_done = 1.0 - dones.to(values.dtype)
    deltas = rewards + gamma * not_term * next_values - values
    advantages = torch.zeros_like(values)
    running = torch.zeros_like(values[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = deltas[t] + gamma * lam * not_done[t] * running
        advantages[t] = running
    return advantages, advantages + values


class PPOLoss(NamedTuple):
    """The PPO objective and its parts (scalars)."""

    total: torch.Tensor
    policy: torch.Tensor
    value: torch.Tensor
    entropy: torch.Tensor
    approx_kl: torch.Tensor
    clip_fraction: torch.Tensor


def ppo_loss(new_logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
             values: torch.Tensor, returns: torch.Tensor, entropy: torch.Tensor,
             clip: float = 0.2, vf_coef: float = 0.5, ent_coef: float = 0.0,
             old_values: torch.Tensor | None = None,
             value_clip: float | None = None, weights: torch.Tensor | None = None) -> PPOLoss:
    """Clipped-surrogate PPO loss (Schulman et al. 2017), to be minimised.

    Args:
        new_logp: ``[N]`` log pi_new(a|s).
        old_logp: ``[N]`` log pi_old(a|s) recorded at collection.
        advantages: ``[N]`` advantages (normalise them before, if wanted).
        values: ``[N]`` V_new(s).
        returns: ``[N]`` value targets.
        entropy: ``[N]`` or scalar policy entropy.
        clip: surrogate clip range epsilon.
        vf_coef: weight of the value loss (0.5 * squared error).
        ent_coef: weight of the entropy bonus.
        old_values: ``[N]`` values at collection, for value clipping.
        value_clip: if given (with ``old_values``), clip the value change to this range and take
            the larger of the clipped and unclipped errors.
        weights: ``[N]`` 1 for real samples, 0 for padding: every mean is over the real ones
            (None: all count).

    Returns:
        A ``PPOLoss``; ``total = policy + vf_coef * value - ent_coef * entropy``.
    """
    if weights is None:
        mean = torch.mean
    else:
        n = weights.sum().clamp_min(1.0)

        def mean(x: torch.Tensor) -> torch.Tensor:
            return (x * weights).sum() / n

    log_ratio = new_logp - old_logp
    ratio = log_ratio.exp()
    surrogate = torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    policy = -mean(surrogate)
    error = (values - returns).square()
    if value_clip is not None and old_values is not None:
        clipped = old_values + (values - old_values).clamp(-value_clip, value_clip)
        error = torch.max(error, (clipped - returns).square())
    value = 0.5 * mean(error)
    ent = entropy.mean() if entropy.dim() == 0 or weights is None else mean(entropy)
    with torch.no_grad():
        # The low-variance KL estimator (k3 of Schulman's note): E[(r - 1) - log r].
        approx_kl = mean((ratio - 1) - log_ratio)
        clip_fraction = mean(((ratio - 1).abs() > clip).float())
    total = policy + vf_coef * value - ent_coef * ent
    return PPOLoss(total, policy, value, ent, approx_kl, clip_fraction)
