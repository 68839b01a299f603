"""Policies and learning rules: networks, samplers, PPO, meta-learners, checkpoints, the zoo.

``agents.load(ref, body=...)`` turns a reference into an ``Agent``:

- ``"random"`` / ``"idle"``: the built-in opponents (``body`` says which action size);
- ``"zoo:<name>"``: a checkpoint shipped in ``agents/zoo/`` (``<name>.safetensors``), or the
  latest snapshot of the zoo lineage ``<name>``; ``"zoo:<name>@<version>"`` picks a version;
- a path to a ``.safetensors`` checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents import refs
from agents.base import Agent, IdleAgent, PolicyAgent, RandomAgent
from agents.checkpoint import CheckpointError, CheckpointMeta, read_meta
from agents.loaders import KINDS, function, kind_of, lazy
from agents.refs import BUILTINS, resolve, zoo_names
from envs.bodies import article

ADAPTATIONS = ("own", "none", "tracking")  # see ``load``

# checkpoint kind -> function(path, meta, seed, **kwargs) -> Agent (the table: agents.loaders)
LOADERS: dict[str, Callable[..., Agent]] = {kind: lazy(k.agent) for kind, k in KINDS.items()}


def register_loader(kind: str, loader: Callable[..., Agent]) -> None:
    """Make ``agents.load`` understand checkpoints of a kind outside the table (``loader(path,
    meta, seed, **kwargs) -> Agent``)."""
    LOADERS[kind] = loader


def _action_dim(body: str) -> int:
    from envs.bodies import body_info

    return body_info(body).n_joints


def load(ref: str | os.PathLike, body: str | None = None, seed: int | None = None,
         adaptation: str = "own", **kwargs: Any) -> Agent:
    """An ``Agent`` from a built-in name, a ``zoo:`` reference or a checkpoint path.

    Args:
        ref: ``"random"``, ``"idle"``, ``"zoo:<name>[@<version>]"`` or a ``.safetensors`` path
            (a string or a ``Path``).
        body: the body to control; required for built-ins, checked against checkpoints.
        seed: seed of the agent's randomness (action noise).
        adaptation: how the agent changes during a game (the paper's policy/adaptation
            combinations): ``"own"``, what its checkpoint kind does (PPO: nothing, MAML: its
            meta-learned update, RL^2: its memory, NoRML: its reward-free step); ``"none"``,
            the checkpoint's policy frozen (MAML and NoRML: theta; RL^2: its memory cleared
            at every episode); ``"tracking"``, PPO updates on the
            game's recent episodes starting from that policy (``agents.ppo.tracking``).
        **kwargs: passed to the agent's loader (e.g. ``deterministic=True``).
    """
    if isinstance(ref, os.PathLike):
        ref = os.fspath(ref)
    if adaptation not in ADAPTATIONS:
        raise ValueError(f"adaptation must be one of {', '.join(ADAPTATIONS)}; got "
                         f"{adaptation!r}")
    if ref in BUILTINS:
        if body is None:
            raise ValueError(f"the built-in agent {ref!r} needs body= (ant, bug or spider)")
        if adaptation != "own":
            raise ValueError(f"the built-in agent {ref!r} has no policy to freeze or track; "
                             f"adaptation={adaptation!r} applies to PPO and MAML checkpoints")
        n = _action_dim(body)
        return RandomAgent(n, seed, body) if ref == "random" else IdleAgent(n, body)
    path = resolve(ref)
    meta = read_meta(path)
    if meta.kind not in LOADERS:
        raise CheckpointError(f"{path}: no loader for agent kind {meta.kind!r}; known kinds: "
                              f"{', '.join(sorted(LOADERS))}")
    if body is not None and meta.body is not None and meta.body != body:
        raise ValueError(f"{ref} controls {article(meta.body)}, not {article(body)}")
    try:
        if adaptation == "own":
            agent = LOADERS[kind_of(meta)](path, meta, seed, **kwargs)
        else:
            agent = _with_adaptation(path, meta, seed, adaptation, **kwargs)
    except (TypeError, KeyError, AttributeError, IndexError, OverflowError) as err:
        if isinstance(err, TypeError) and "keyword argument" in str(err):
            raise ValueError(f"{meta.kind} agents do not take the options {sorted(kwargs)}: "
                             f"{err}") from None
        # A checkpoint is untrusted data: a config whose values have the wrong types or lack a
        # key the loader reads is a malformed file, reported as such.
        raise CheckpointError(f"{path}: its {meta.kind} config is malformed: "
                              f"{type(err).__name__}: {err}") from None
    if meta.body is not None and agent.action_dim != _action_dim(meta.body):
        # a game would forfeit every time: refuse the file itself
        raise CheckpointError(f"{path} says it controls {article(meta.body)} "
                              f"({_action_dim(meta.body)} actuators), but its agent acts with "
                              f"{agent.action_dim} values")
    agent.name = ref if ref.startswith("zoo:") else agent.name
    if adaptation != "own":
        agent.name += f"[{adaptation}]"
    return agent


def _with_adaptation(path: Path, meta: CheckpointMeta, seed: int | None, adaptation: str,
                     **kwargs: Any) -> Agent:
    """The checkpoint's policy, frozen (``"none"``) or tracked with PPO (``"tracking"``)."""
    kind = KINDS.get(kind_of(meta))
    if adaptation == "none" and kind is not None and kind.frozen:
        return function(kind.frozen)(path, meta, seed, **kwargs)
    if kind is None or kind.policy is None:
        adaptable = sorted(k for k, v in KINDS.items() if v.policy)
        raise ValueError(f"{path}: {meta.kind} agents adapt their own way; adaptation="
                         f"{adaptation!r} applies to {', '.join(adaptable)} checkpoints")
    policy, scale, gamma = function(kind.policy)(path, meta)
    label = f"{meta.lineage}@{meta.version}" if meta.lineage else path.stem
    if adaptation == "none":
        return PolicyAgent(policy, name=label, body=meta.body, seed=seed, meta=meta, **kwargs)
    if policy.recurrent:
        raise ValueError(f"{path}: PPO tracking supports MLP policies; this one is recurrent")
    if kwargs:
        raise ValueError(f"PPO tracking takes no options {sorted(kwargs)}")
    from agents.ppo import PPOConfig
    from agents.ppo.tracking import TrackingAgent

    ppo = PPOConfig(epochs=4, minibatches=4, lr=3e-4, gamma=gamma)  # the policy's discount
    return TrackingAgent(policy, ppo, name=label, body=meta.body, seed=seed, reward_scale=scale)


__all__ = ["ADAPTATIONS", "BUILTINS", "Agent", "CheckpointError", "IdleAgent", "PolicyAgent",
           "RandomAgent", "load", "register_loader", "resolve", "zoo_names"]


def __getattr__(name: str) -> Any:
    if name == "ZOO_DIR":  # the zoo folder lives in agents.refs (set it there)
        return refs.ZOO_DIR
    raise AttributeError(f"module 'agents' has no attribute {name!r}")



def _register_gym_ids() -> None:
    """``RoboSumo-X-vs-Y-v1``: the RoboSumo ids against the zoo's agents (``agents.sumo_ids``)."""
    from agents import sumo_ids

    sumo_ids.register()


_register_gym_ids()
