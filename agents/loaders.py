"""The checkpoint kinds ``agents.load`` understands and the code that loads each: one table.

Every kind names (as ``"module:function"``, imported when first used):

- ``agent``: ``function(path, meta, seed, **kwargs) -> Agent``, the agent as its kind plays
  (PPO: its policy; MAML: theta and its meta-learned update; RL^2: its memory; NoRML: its
  reward-free step);
- ``policy``: ``function(path, meta) -> (Policy, reward_scale, gamma)``, the policy a frozen
  (``adaptation="none"``) or PPO-tracking (``"tracking"``) agent starts from, or None where the
  kind adapts only its own way;
- ``method``: how agents of the kind adapt, in the reports' words;
- ``frozen``: ``function(path, meta, seed, **kwargs) -> Agent``, the kind's agent that does not
  adapt (``adaptation="none"``) where the kind has no single policy to freeze (RL^2: its memory
  cleared at every episode; NoRML: theta, without its offset or step), else None.

``kind_of(meta)`` is the kind a file is loaded as: its own, except ``"maml"`` files written before
RoboSumo MAML had a kind of its own, which hold their RoboSumo settings under
``config["maml_sumo"]`` and load as ``"maml-sumo"``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple


class Kind(NamedTuple):
    agent: str
    policy: str | None
    method: str
    frozen: str | None = None


KINDS: dict[str, Kind] = {
    "ppo-mlp": Kind("agents.base:load_policy_agent", "agents.policy:adaptable_policy",
                    "none (PPO policy)"),
    "ppo-lstm": Kind("agents.base:load_policy_agent", "agents.policy:adaptable_policy",
                     "none (PPO LSTM)"),
    "maml": Kind("agents.maml.train:load_agent", "agents.maml.train:adaptable_policy",
                 "MAML meta-update"),
    "maml-sumo": Kind("agents.maml.sumo:load_agent", "agents.maml.sumo:adaptable_policy",
                      "MAML meta-update"),
    "rl2": Kind("agents.rl2.core:load_agent", None, "RL^2 memory",
                "agents.rl2.core:load_frozen_agent"),
    "norml": Kind("agents.norml.agent:load_agent", None, "NoRML",
                  "agents.norml.agent:load_frozen_agent"),
    "robosumo-mlp": Kind("agents.robosumo_original:load_agent", None,
                         "none (original RoboSumo MLP)"),
    "robosumo-lstm": Kind("agents.robosumo_original:load_agent", None,
                          "none (original RoboSumo LSTM)"),
}


def kind_of(meta: Any) -> str:
    """The kind a checkpoint with this metadata loads as (see the module docstring)."""
    if meta.kind == "maml" and isinstance(meta.config, dict) and "maml_sumo" in meta.config:
        return "maml-sumo"
    return meta.kind


def function(spec: str) -> Callable[..., Any]:
    """The function a ``"module:function"`` entry names."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def lazy(spec: str) -> Callable[..., Any]:
    """A function that imports ``spec``'s module when first called, then calls it."""
    def call(*args: Any, **kwargs: Any) -> Any:
        return function(spec)(*args, **kwargs)

    call.__qualname__ = call.__name__ = spec
    return call


__all__ = ["KINDS", "Kind", "function", "kind_of", "lazy"]
