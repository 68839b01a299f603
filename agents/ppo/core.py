"""PPO updates for MLP and LSTM policies (truncated backpropagation through time for the latter).

Collection lives in ``agents.sampler``, the pure losses in ``agents.losses``; this module turns a
``Rollout`` into advantages and minibatch updates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from agents.losses import gae, ppo_loss
from agents.nets import entropy, log_prob
from agents.policy import Policy
from agents.sampler import Rollout


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyper-parameters (defaults: the paper's outer loop and common MuJoCo settings).

    Attributes:
        lr: Adam learning rate.
        gamma: discount (0.995 in the paper's RoboSumo runs, 0.99 for locomotion).
        lam: GAE lambda.
        clip: surrogate clip range.
        epochs: passes over each rollout.
        minibatches: minibatches per epoch.
        vf_coef: value-loss weight.
        ent_coef: entropy-bonus weight.
        max_grad_norm: gradient-norm clip, applied to the policy and value parameters apart.
        value_clip: clip range of value updates (None: off).
        norm_adv: normalise advantages per minibatch.
        bptt: unroll length of truncated backprop through time (LSTM policies; paper: 10).
        target_kl: stop the epochs of an update early when the approximate KL exceeds this.
        log_std_min: a floor on the policy's state-independent log-std (a noise floor), applied
            after every optimiser step by projecting the parameter (None: no floor).
    """

    lr: float = 3e-4
    gamma: float = 0.99
    lam: float = 0.95
    clip: float = 0.2
    epochs: int = 10
    minibatches: int = 32
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    max_grad_norm: float = 0.5
    value_clip: float | None = None
    norm_adv: bool = True
    bptt: int = 10
    target_kl: float | None = None
    log_std_min: float | None = None

    def __post_init__(self) -> None:
        checks = {"lr": self.lr > 0, "gamma": 0 < self.gamma <= 1, "lam": 0 <= self.lam <= 1,
                  "clip": self.clip > 0, "epochs": self.epochs >= 1,
                  "minibatches": self.minibatches >= 1, "bptt": self.bptt >= 1}
        if self.log_std_min is not None:
            checks["log_std_min"] = math.isfinite(self.log_std_min)
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            settings = ", ".join(f"{b}={getattr(self, b)!r}" for b in bad)
            raise ValueError(f"invalid PPO settings: {settings}")


def advantages(rollout: Rollout, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE advantages and value targets ``[T, N]`` of a rollout."""
    return gae(rollout.rewards, rollout.values, rollout.next_values, rollout.terminated,
               rollout.dones, gamma, lam)


class PPO:
    """Clipped PPO on one policy (policy and value parameters, one Adam optimiser)."""

    def __init__(self, policy: Policy, config: PPOConfig | None = None) -> None:
        self.policy, self.config = policy, config or PPOConfig()
        self.optimizer = torch.optim.Adam(policy.net.parameters(), lr=self.config.lr, eps=1e-5)
        # Policy and value networks are separate; clipping their gradients separately keeps a
        # large value error (RoboSumo's +-2000 outcomes) from shrinking the policy's step.
        named = list(policy.net.named_parameters())
        self._value_params = [p for n, p in named if n.startswith("v")]
        self._policy_params = [p for n, p in named if not n.startswith("v")]

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def floor_log_std(self) -> None:
        """Project the policy's log-std onto ``[log_std_min, inf)`` (a no-op without a floor)."""
        if self.config.log_std_min is not None:
            with torch.no_grad():
                self.policy.net.log_std.clamp_(min=self.config.log_std_min)

    def update(self, rollout: Rollout, generator: torch.Generator | None = None,
               reward_scale: float = 1.0) -> dict[str, float]:
        """Run the PPO epochs on a rollout; return mean losses and diagnostics.

        ``reward_scale`` multiplies the rewards before advantage estimation (value targets are
        in scaled units), e.g. 0.01 for RoboSumo's +-2000 outcomes.
        """
        c = self.config
        if reward_scale != 1.0:
            rollout = rollout._replace(rewards=rollout.rewards * reward_scale)
        adv, ret = advantages(rollout, c.gamma, c.lam)
        if self.policy.recurrent:
            batches = _sequence_batches(rollout, adv, ret, c.bptt)
        else:
            batches = _flat_batches(rollout, adv, ret)
        n = batches["actions"].shape[0 if not self.policy.recurrent else 1]
        stats: dict[str, list[float]] = {}
        stop = False
        for _ in range(c.epochs):
            order = torch.randperm(n, generator=generator)
            for ids in torch.chunk(order, min(c.minibatches, n)):
                loss = self._loss(batches, ids)
                self.optimizer.zero_grad()
                loss.total.backward()
                grad_norm = nn.utils.clip_grad_norm_(self._policy_params, c.max_grad_norm)
                nn.utils.clip_grad_norm_(self._value_params, c.max_grad_norm)
                self.optimizer.step()
                self.floor_log_std()
                for key, value in loss._asdict().items():
                    stats.setdefault(key, []).append(float(value.detach()))
                stats.setdefault("grad_norm", []).append(float(grad_norm))
                if c.target_kl is not None and float(loss.approx_kl) > c.target_kl:
                    stop = True
                    break
            if stop:
                break
        out = {k: float(np.mean(v)) for k, v in stats.items()}
        out["updates"] = float(len(stats.get("total", ())))  # minibatch steps (target_kl stops)
        values, returns = rollout.values.flatten(), ret.flatten()
        residual = (returns - values).var() / returns.var().clamp_min(1e-8)
        out["explained_variance"] = float(1 - residual)
        out["value_mean"] = float(values.mean())
        return out

    def _loss(self, b: dict[str, torch.Tensor], ids: torch.Tensor):
        c = self.config
        if self.policy.recurrent:  # minibatch of sequences: index the sequence axis
            mean, log_std, values, _ = self.policy(b["obs"][:, ids], b["state0"][:, ids],
                                                   b["starts"][:, ids])
            pick = lambda key: b[key][:, ids].flatten(0, 1)  # noqa: E731
            mean, values = mean.flatten(0, 1), values.flatten(0, 1)
        else:
            mean, log_std, values = self.policy(b["obs"][ids])
            pick = lambda key: b[key][ids]  # noqa: E731
        adv = pick("adv")
        if c.norm_adv and adv.numel() > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        new_logp = log_prob(mean, log_std, pick("actions"))
        return ppo_loss(new_logp, pick("logp"), adv, values, pick("ret"), entropy(log_std),
                        c.clip, c.vf_coef, c.ent_coef, pick("values"), c.value_clip)


def _flat_batches(r: Rollout, adv: torch.Tensor, ret: torch.Tensor) -> dict[str, torch.Tensor]:
    flat = lambda x: x.reshape(-1, *x.shape[2:])  # noqa: E731
    return {"obs": flat(r.obs), "actions": flat(r.actions), "logp": flat(r.logp),
            "values": flat(r.values), "adv": flat(adv), "ret": flat(ret)}


def _sequence_batches(r: Rollout, adv: torch.Tensor, ret: torch.Tensor,
                      length: int) -> dict[str, torch.Tensor]:
    """Cut ``[T, N]`` data into ``[length, T/length * N]`` sequences with their start states.

    Gradients flow through at most ``length`` steps (truncated BPTT); each sequence starts from
    the state recorded at collection, and ``starts`` still zero the state inside it.
    """
    t, n = r.rewards.shape
    if t % length:
        raise ValueError(f"rollout length {t} must be a multiple of bptt={length}")
    k = t // length

    def seq(x: torch.Tensor) -> torch.Tensor:  # [T, N, ...] -> [length, k * N, ...]
        x = x.reshape(k, length, n, *x.shape[2:]).transpose(0, 1)
        return x.reshape(length, k * n, *x.shape[3:])

    state0 = r.states[::length]  # [k, 4, N, H] -> [4, k * N, H]
    state0 = state0.permute(1, 0, 2, 3).reshape(state0.shape[1], k * n, state0.shape[-1])
    return {"obs": seq(r.obs), "actions": seq(r.actions), "logp": seq(r.logp),
            "values": seq(r.values), "adv": seq(adv), "ret": seq(ret), "starts": seq(r.starts),
            "state0": state0}
