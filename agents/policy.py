"""An acting policy: observation normalisation plus an actor-critic network, with checkpoints."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from agents.checkpoint import (
    CheckpointMeta,
    build_checked,
    check_shapes,
    load_checkpoint,
    save_checkpoint,
)
from agents.features import FEATURES, FeatureNorm, feature_size, with_features
from agents.nets import LSTMActorCritic, MLPActorCritic, log_prob, network_facts

POLICY_KINDS = ("mlp", "lstm")


@dataclass(frozen=True)
class PolicyConfig:
    """Architecture of a policy.

    Attributes:
        arch: "mlp" (2 hidden layers, tanh, Gaussian with state-independent log-std, separate
            value MLP) or "lstm" (FC embedding then LSTM, for policy and value each).
        hidden: width of the hidden layers (and of the LSTM), 64 in the paper.
        init_log_std: initial log standard deviation of the actions.
        normalize_obs: keep a running mean/std of observations and feed clipped z-scores.
        features: "raw" (the observation as the env gives it) or "sumo" (RoboSumo only: the
            egocentric features of ``agents.features`` appended to it before normalisation).
        context: MLP only: the size of a learned context vector appended to the policy
            network's input (0: none; the value network does not read it); a meta-learner can
            adapt it alone (``AdaptConfig.adapt``).
    """

    arch: str = "mlp"
    hidden: int = 64
    init_log_std: float = 0.0
    normalize_obs: bool = True
    features: str = "raw"
    context: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.context, bool) or not isinstance(self.context, int) \
                or self.context < 0:
            raise ValueError(f"policy context must be an integer >= 0, got {self.context!r}")
        if self.context and self.arch != "mlp":
            raise ValueError(f"a policy context needs arch 'mlp', got {self.arch!r}")
        if self.features not in FEATURES:
            raise ValueError(f"policy features must be one of {FEATURES}, got {self.features!r}")
        if self.arch not in POLICY_KINDS:
            raise ValueError(f"policy arch must be one of {POLICY_KINDS}, got {self.arch!r}")
        if not (isinstance(self.hidden, int) and self.hidden > 0):
            raise ValueError(f"hidden must be a positive integer, got {self.hidden!r}")


class ActOutput(NamedTuple):
    """What ``Policy.act`` returns for a batch of B observations."""

    action: np.ndarray  # [B, act_dim] float64, the sampled (unclipped) action
    logp: np.ndarray  # [B] log-density of the action
    value: np.ndarray  # [B] value estimate
    obs: torch.Tensor  # [B, input_dim] the normalised network input (observation, features)
    state: torch.Tensor | None  # recurrent state after the step (None for MLPs)


class Policy(nn.Module):
    """Observation normaliser + actor-critic network for one body (observation/action sizes).

    ``act`` samples actions for a batch of raw observations; ``evaluate`` recomputes
    log-probabilities, entropies and values of stored data for learning, optionally with an
    explicit parameter dict (``torch.func.functional_call``) for meta-learners.
    """

    def __init__(self, obs_dim: int, act_dim: int, config: PolicyConfig | None = None) -> None:
        super().__init__()
        self.config = config or PolicyConfig()
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        c = self.config
        self.norm = FeatureNorm(self.obs_dim, c.features)
        if c.arch == "mlp":
            self.net: nn.Module = MLPActorCritic(self.input_dim, self.act_dim, (c.hidden, c.hidden),
                                                 c.init_log_std, c.context)
        else:
            self.net = LSTMActorCritic(self.input_dim, self.act_dim, c.hidden, c.hidden,
                                       c.init_log_std)

    @property
    def input_dim(self) -> int:
        """The network's input size: the observation and its features (``normalize``)."""
        return self.obs_dim + feature_size(self.config.features)

    @property
    def recurrent(self) -> bool:
        return self.config.arch == "lstm"

    def initial_state(self, batch: int) -> torch.Tensor | None:
        """Zero recurrent state for ``batch`` streams (None for MLPs)."""
        return self.net.initial_state(batch) if self.recurrent else None

    def normalize(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Raw observations -> the network's float32 input (normalised and clipped if enabled)."""
        x = torch.as_tensor(obs, dtype=torch.float32)
        return self.norm(x) if self.config.normalize_obs else with_features(x,
                                                                           self.config.features)

    def forward(self, obs: torch.Tensor, state: torch.Tensor | None = None,
                starts: torch.Tensor | None = None):
        """Network outputs for normalised obs: ``(mean, log_std, value[, state])``.

        MLP: ``obs [..., input_dim]``. LSTM: ``obs [T, B, input_dim]`` with ``state`` and
        ``starts`` (``input_dim``: the observation and its features, as ``normalize`` gives them).
        """
        if self.recurrent:
            return self.net(obs, state, starts)
        return self.net(obs)

    @torch.no_grad()
    def act(self, obs: np.ndarray, state: torch.Tensor | None = None,
            starts: np.ndarray | None = None, deterministic: bool = False,
            generator: torch.Generator | None = None) -> ActOutput:
        """Sample actions for raw observations ``[B, obs_dim]``.

        Args:
            obs: raw observations.
            state: recurrent state ``[4, B, hidden]`` (LSTM only; zero if None).
            starts: ``[B]`` bool, streams whose episode starts at this step (state zeroed).
            deterministic: return the mean action.
            generator: torch generator for reproducible sampling.
        """
        x = self.normalize(obs)
        if self.recurrent:
            b = x.shape[0]
            state = self.initial_state(b) if state is None else state
            s = torch.zeros(1, b) if starts is None else torch.as_tensor(starts,
                                                                          dtype=torch.float32)[None]
            mean, log_std, value, state = self.net(x[None], state, s.reshape(1, b))
            mean, value = mean[0], value[0]
        else:
            mean, log_std, value = self.net(x)
            state = None
        if deterministic:
            action = mean
        else:
            noise = torch.randn(mean.shape, generator=generator)
            action = mean + log_std.exp() * noise
        logp = log_prob(mean, log_std, action)
        return ActOutput(action.double().numpy(), logp.numpy(), value.numpy(), x, state)

    # ---------------------------------------------------------------- checkpoints

    def tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """All weights and normalisation statistics, for a checkpoint."""
        return {f"{prefix}{k}": v.detach().clone() for k, v in self.state_dict().items()}

    def load_tensors(self, tensors: dict[str, torch.Tensor], path: Path | str = "<memory>",
                     prefix: str = "") -> None:
        """Load weights saved by ``tensors`` after checking every name and shape."""
        state = self.state_dict()
        mine = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        check_shapes(mine, {k: tuple(v.shape) for k, v in state.items()}, path,
                     dtypes={k: v.dtype for k, v in state.items()})
        self.load_state_dict(mine)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (sizes and config) stored with every checkpoint."""
        return {"obs_dim": self.obs_dim, "act_dim": self.act_dim,
                "policy": dataclasses.asdict(self.config),
                "network": network_facts(self.config.arch)}


def with_context(policy: Policy, size: int, seed: int = 0) -> Policy:
    """A copy of an MLP ``policy`` with a context vector of ``size`` appended to its input.

    Every weight and the observation statistics are copied; the policy's first-layer columns that
    read the context are drawn at random (orthogonal columns scaled to the spread of the layer's
    other weights), so that a context step changes the policy, while the context starts at zero:
    the copy acts exactly as ``policy``.
    """
    if policy.config.context:
        if policy.config.context != size:
            raise ValueError(f"the policy already has a context of {policy.config.context}, "
                             f"not {size}")
        return policy
    out = Policy(policy.obs_dim, policy.act_dim, dataclasses.replace(policy.config,
                                                                     context=size))
    fresh = torch.Generator().manual_seed(seed)
    state = out.state_dict()
    with torch.no_grad():
        for name, value in policy.state_dict().items():
            target = state[name]
            if target.shape == value.shape:
                target.copy_(value)
            else:  # the policy's first layer [hidden, input]: copy, then fresh context columns
                extra = torch.empty(target.shape[0], size)
                nn.init.orthogonal_(extra, generator=fresh)  # entries of spread 1/sqrt(hidden)
                scale = value.std() * math.sqrt(target.shape[0])
                target.copy_(torch.cat([value, extra * scale], 1))
    out.load_state_dict(state)
    return out


def policy_from_description(desc: dict[str, Any]) -> Policy:
    """Rebuild an (untrained) policy from ``Policy.describe()``."""
    try:
        sizes = int(desc["obs_dim"]), int(desc["act_dim"])
        if min(sizes) < 1:
            raise ValueError(f"observation and action sizes must be >= 1, got {sizes}")
        return Policy(*sizes, PolicyConfig(**desc["policy"]))
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"checkpoint config does not describe a policy: {err}") from None


def policy_from_checkpoint(tensors: dict[str, torch.Tensor], desc: dict[str, Any],
                           path: Path | str, prefix: str = "") -> Policy:
    """The policy a checkpoint describes, loaded with its tensors (checked before it is built)."""
    return build_checked(lambda: policy_from_description(desc), tensors, path, prefix=prefix,
                         what="a policy")


def save_policy(path: Path | str, policy: Policy, meta: CheckpointMeta) -> Path:
    """Save a policy with its description merged into ``meta.config``."""
    config = {**meta.config, **policy.describe()}
    return save_checkpoint(path, policy.tensors(), dataclasses.replace(meta, config=config))


def load_policy(path: Path | str,
                expected_kind: str | None = None) -> tuple[Policy, CheckpointMeta]:
    """Load a policy saved by ``save_policy`` (weights and normalisation statistics)."""
    tensors, meta = load_checkpoint(path, expected_kind=expected_kind)
    return policy_from_checkpoint(tensors, meta.config, path), meta


def adaptable_policy(path: Path | str, meta: CheckpointMeta) -> tuple[Policy, float, float]:
    """A PPO checkpoint's policy with the reward scale and discount it was trained with (what a
    frozen or PPO-tracking agent starts from; ``agents.loaders``)."""
    policy, _ = load_policy(path)
    train = meta.config.get("train", {})
    return (policy, float(train.get("reward_scale", 1.0)),
            float(train.get("ppo", {}).get("gamma", 0.99)))
