"""RoboSumo's Gymnasium ids against a zoo opponent: ``RoboSumo-X-vs-Y-v1`` and ``-Batched-v1``.

The ``-v0`` ids (``envs.robosumo``, which knows nothing of learning) drive player_1 with uniformly
random torques. Such a robot falls over by itself (a zero-action player wins 40 of 40 bouts
against it), so a learning curve against it looks solved from the first step. The ``-v1`` ids,
registered when ``agents`` is imported, drive player_1 with the zoo's agent of its body: the
newest snapshot of the lineage ``zoo:selfplay-<body>``, its actions sampled from a generator that
each seeded reset reseeds (a seeded reset gives a reproducible bout). Everything else is the v0
env: observation, reward, step limit, ``max_episode_steps``. ``opponent=`` takes ``"zoo"`` (the
default), any PPO policy reference (``"zoo:<name>[@<version>]"`` or a checkpoint path),
``"random"``, ``"idle"`` or a callable, and ``deterministic=True`` makes a policy opponent act
with its mean action::

    import agents, gymnasium
    env = gymnasium.make("RoboSumo-Ant-vs-Bug-v1")                  # the zoo's bug
    env = gymnasium.make("agents:RoboSumo-Ant-vs-Bug-v1")           # imports agents itself
    env = gymnasium.make("RoboSumo-Ant-vs-Bug-v1", opponent="zoo:selfplay-bug@60")
    venv = gymnasium.make_vec("RoboSumo-Ant-vs-Bug-Batched-v1", num_envs=16)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from envs.bodies import BODIES, article
from envs.robosumo.gym_env import OPPONENTS, REGISTERED_MAX_STEPS, SumoGymEnv
from envs.robosumo.gym_vector import SumoGymVectorEnv
from envs.timelimit import STEP_LIMIT_SYNC

VERSION = 1
ZOO = "zoo"  # the default opponent: the zoo's lineage of the opponent's body


def gym_id(a: str, b: str) -> str:
    """``RoboSumo-A-vs-B-v1``."""
    return f"RoboSumo-{a.capitalize()}-vs-{b.capitalize()}-v{VERSION}"


def batched_gym_id(a: str, b: str) -> str:
    """``RoboSumo-A-vs-B-Batched-v1`` (for ``gymnasium.make_vec``)."""
    return f"RoboSumo-{a.capitalize()}-vs-{b.capitalize()}-Batched-v{VERSION}"


def default_opponent(body: str) -> str:
    """The reference the ids' default opponent of ``body`` resolves to."""
    return f"zoo:selfplay-{body}"


class PolicyOpponent:
    """Player_1 acting with a PPO policy checkpoint.

    Called with one observation ``[d]`` (``SumoGymEnv``) or, with ``batched``, a batch ``[n, d]``
    (``SumoGymVectorEnv``, whose arenas reset on their own: a batched opponent must be
    feed-forward). ``reset(seed)``, which the envs call at every reset, restarts the action
    noise from ``seed`` and zeroes a recurrent state.

    Raises:
        ValueError: an unknown reference, a checkpoint of another body or of an agent that is
            not a PPO policy, or a recurrent policy for a batch.
    """

    def __init__(self, ref: str, body: str, batched: bool = False,
                 deterministic: bool = False) -> None:
        from agents.checkpoint import read_meta
        from agents.policy import load_policy
        from agents.refs import resolve

        path = resolve(ref)
        meta = read_meta(path)
        if not meta.kind.startswith("ppo"):
            raise ValueError(f"opponent {ref!r} is a {meta.kind} agent; the RoboSumo ids take a "
                             f"PPO policy (zoo:<lineage>[@<version>] or a PPO checkpoint), "
                             f"'random', 'idle' or a callable")
        if meta.body is not None and meta.body != body:
            raise ValueError(f"opponent {ref!r} controls {article(meta.body)}; player_1 here is "
                             f"{article(body)}")
        self.policy, _ = load_policy(path)
        if batched and self.policy.recurrent:
            raise ValueError(f"opponent {ref!r} is recurrent; the batched ids reset arenas one "
                             f"by one and take feed-forward opponents (use make_vec on the "
                             f"plain id for a recurrent one)")
        self.ref, self.body, self.batched = ref, body, batched
        self.deterministic = deterministic
        self.generator = torch.Generator().manual_seed(0)
        self.state: torch.Tensor | None = None
        self.starts = np.ones(1, dtype=bool)

    def reset(self, seed: int | None = None) -> None:
        """A new bout (all of them, batched): noise from ``seed``, recurrent state zeroed."""
        if seed is not None:
            self.generator.manual_seed(int(seed))
        self.state, self.starts = None, np.ones(1, dtype=bool)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        batch = np.asarray(obs, dtype=np.float32)
        if not self.batched:
            batch = batch[None]
        out = self.policy.act(batch, self.state, self.starts if self.policy.recurrent else None,
                              deterministic=self.deterministic, generator=self.generator)
        self.state, self.starts = out.state, np.zeros(1, dtype=bool)
        return out.action if self.batched else out.action[0]

    def __repr__(self) -> str:
        return f"PolicyOpponent({self.ref!r}, body={self.body!r})"


def opponent_for(opponent: Any, body: str, batched: bool = False,
                 deterministic: bool = False) -> Any:
    """What the envs' ``opponent=`` gets for the ids' ``opponent`` (see the module docstring)."""
    if callable(opponent) or opponent in OPPONENTS:
        return opponent
    if not isinstance(opponent, str):
        raise ValueError(f"opponent must be 'zoo', a PPO policy reference, 'random', 'idle' or "
                         f"a callable; got {opponent!r}")
    ref = default_opponent(body) if opponent == ZOO else opponent
    return PolicyOpponent(ref, body, batched=batched, deterministic=deterministic)


def make_env(bodies: tuple[str, str] = ("ant", "ant"), opponent: Any = ZOO,
             deterministic: bool = False, **kwargs: Any) -> SumoGymEnv:
    """``SumoGymEnv`` with player_1 driven by ``opponent`` (default: the zoo's agent)."""
    return SumoGymEnv(bodies, opponent=opponent_for(opponent, bodies[1], False, deterministic),
                      **kwargs)


def make_vector_env(num_envs: int = 8, bodies: tuple[str, str] = ("ant", "ant"),
                    opponent: Any = ZOO, deterministic: bool = False,
                    **kwargs: Any) -> SumoGymVectorEnv:
    """``SumoGymVectorEnv`` with player_1 driven by ``opponent`` (default: the zoo's agent)."""
    return SumoGymVectorEnv(num_envs, bodies,
                            opponent=opponent_for(opponent, bodies[1], True, deterministic),
                            **kwargs)


def register() -> None:
    """Register ``RoboSumo-{Ant,Bug,Spider}-vs-{Ant,Bug,Spider}-v1`` and their ``-Batched-v1``
    twins with Gymnasium (as ``envs.robosumo`` registers the v0 ids)."""
    import gymnasium

    for a in BODIES:
        for b in BODIES:
            if gym_id(a, b) not in gymnasium.registry:
                gymnasium.register(id=gym_id(a, b), entry_point="agents.sumo_ids:make_env",
                                   max_episode_steps=REGISTERED_MAX_STEPS,
                                   kwargs={"bodies": (a, b)},
                                   additional_wrappers=(STEP_LIMIT_SYNC,))
            if batched_gym_id(a, b) not in gymnasium.registry:
                gymnasium.register(id=batched_gym_id(a, b), entry_point="agents.sumo_ids:make_env",
                                   vector_entry_point="agents.sumo_ids:make_vector_env",
                                   max_episode_steps=REGISTERED_MAX_STEPS,
                                   kwargs={"bodies": (a, b)})
