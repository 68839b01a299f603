"""Policy and value networks, and running observation normalisation.

Every network is a plain ``nn.Module`` whose ``forward`` is a pure function of its inputs and
parameters, so meta-learners can call it with explicit parameter dicts::

    from torch.func import functional_call
    mean, log_std, value = functional_call(net, params, (obs,))

The observation normaliser holds buffers, not parameters: it is part of the agent and of its
checkpoint, but never adapted by gradient steps.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Normal

OBS_CLIP = 5.0  # normalised observations are clipped to [-5, 5] (paper setting)


class RunningNorm(nn.Module):
    """Running mean/variance of observations; ``forward`` normalises and clips to +-5.

    Statistics are merged batch by batch with the parallel algorithm of Chan et al., in float64 so
    that millions of updates do not drift.
    """

    def __init__(self, dim: int, clip: float = OBS_CLIP, eps: float = 1e-8) -> None:
        super().__init__()
        self.clip, self.eps = clip, eps
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Merge a batch ``[..., dim]`` of raw observations into the statistics."""
        x = x.reshape(-1, self.mean.shape[0]).to(torch.float64)
        n = x.shape[0]
        if n == 0:
            return
        batch_mean = x.mean(0)
        batch_var = x.var(0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        m2 = self.var * self.count + batch_var * n + delta.square() * self.count * n / total
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = torch.sqrt(self.var + self.eps).to(x.dtype)
        return torch.clamp((x - self.mean.to(x.dtype)) / std, -self.clip, self.clip)


def mlp(sizes: list[int], activation: type[nn.Module] = nn.Tanh, out_gain: float = 1.0):
    """Tanh MLP with orthogonal initialisation (hidden gain sqrt(2), output ``out_gain``)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        linear = nn.Linear(sizes[i], sizes[i + 1])
        last = i == len(sizes) - 2
        nn.init.orthogonal_(linear.weight, out_gain if last else math.sqrt(2))
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if not last:
            layers.append(activation())
    return nn.Sequential(*layers)


class MLPActorCritic(nn.Module):
    """Gaussian MLP policy (2x64 tanh, state-independent log-std) and a separate value MLP.

    ``forward(obs)`` takes normalised observations ``[..., obs_dim]`` and returns
    ``(mean [..., act_dim], log_std [act_dim], value [...])``.

    With ``context > 0`` a parameter vector ``context`` (zero at initialisation) is appended to
    the policy network's input: the task context that CAVIA-style adaptation (Zintgraf et al.
    2019) moves while the weights stay fixed. The value network does not read it (as CAVIA's
    baseline does not), so an inner step on the context follows the policy gradient alone.
    """

    recurrent = False

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...] = (64, 64),
                 init_log_std: float = 0.0, context: int = 0) -> None:
        super().__init__()
        self.obs_dim, self.act_dim, self.hidden = obs_dim, act_dim, tuple(hidden)
        self.pi = mlp([obs_dim + context, *hidden, act_dim], out_gain=0.01)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))
        self.v = mlp([obs_dim, *hidden, 1], out_gain=1.0)
        self.context = nn.Parameter(torch.zeros(context)) if context else None

    def forward(self, obs: torch.Tensor):
        x = obs
        if self.context is not None:
            x = torch.cat([obs, self.context.expand(*obs.shape[:-1], -1)], -1)
        return self.pi(x), self.log_std, self.v(obs).squeeze(-1)


class LSTMActorCritic(nn.Module):
    """Recurrent policy and value: FC-64 tanh embedding then LSTM-64, one of each (no sharing).

    The state is a tensor ``[4, B, hidden]`` stacking (h_pi, c_pi, h_v, c_v) so that samplers can
    store and reset it as one array. ``forward(obs, state, starts)`` unrolls a sequence
    ``obs [T, B, obs_dim]``; ``starts [T, B]`` marks the first step of an episode (or trial), where
    the state is zeroed before the step. Returns ``(mean [T, B, act], log_std, value [T, B],
    final state)``.
    """

    recurrent = True

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 64, embed: int = 64,
                 init_log_std: float = 0.0) -> None:
        super().__init__()
        self.obs_dim, self.act_dim, self.hidden_size = obs_dim, act_dim, hidden
        self.pi_embed = mlp([obs_dim, embed])
        self.pi_cell = nn.LSTMCell(embed, hidden)
        self.pi_head = mlp([hidden, act_dim], out_gain=0.01)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))
        self.v_embed = mlp([obs_dim, embed])
        self.v_cell = nn.LSTMCell(embed, hidden)
        self.v_head = mlp([hidden, 1])

    def initial_state(self, batch: int) -> torch.Tensor:
        """The zero state ``[4, batch, hidden]``."""
        return torch.zeros(4, batch, self.hidden_size)

    def forward(self, obs: torch.Tensor, state: torch.Tensor, starts: torch.Tensor):
        pi_x = torch.tanh(self.pi_embed(obs))
        v_x = torch.tanh(self.v_embed(obs))
        h_pi, c_pi, h_v, c_v = state.unbind(0)
        means, values = [], []
        for t in range(obs.shape[0]):
            keep = (1.0 - starts[t].to(obs.dtype)).unsqueeze(-1)
            h_pi, c_pi = self.pi_cell(pi_x[t], (h_pi * keep, c_pi * keep))
            h_v, c_v = self.v_cell(v_x[t], (h_v * keep, c_v * keep))
            means.append(self.pi_head(h_pi))
            values.append(self.v_head(h_v).squeeze(-1))
        final = torch.stack([h_pi, c_pi, h_v, c_v])
        return torch.stack(means), self.log_std, torch.stack(values), final


def network_facts(arch: str) -> dict[str, object]:
    """What a checkpoint records of the computation, for anyone porting its weights elsewhere:
    activations, the observation normalisation and clip, the action distribution."""
    facts: dict[str, object] = {
        "obs_norm": "z = clip((obs - mean) / sqrt(var + 1e-8), -obs_clip, obs_clip)",
        "obs_clip": OBS_CLIP,
        "action": "Normal(mean, exp(log_std)), state-independent log_std",
    }
    if arch == "lstm":
        facts.update(activation="tanh", layout="tanh(Linear) embedding -> torch LSTMCell "
                                               "(gates i, f, g, o) -> Linear head")
    else:
        facts.update(activation="tanh", layout="Linear-tanh-Linear-tanh-Linear, policy and "
                                               "value apart")
    return facts


def gaussian(mean: torch.Tensor, log_std: torch.Tensor) -> Normal:
    """The diagonal Gaussian policy distribution."""
    return Normal(mean, log_std.exp().expand_as(mean))


def log_prob(mean: torch.Tensor, log_std: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """Log-density of ``action`` under the Gaussian, summed over action dimensions ``[...]``."""
    var = torch.exp(2 * log_std)
    return (-(action - mean).square() / (2 * var) - log_std
            - 0.5 * math.log(2 * math.pi)).sum(-1)


def entropy(log_std: torch.Tensor) -> torch.Tensor:
    """Entropy of the Gaussian (independent of the mean), summed over action dimensions."""
    return (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum(-1)
