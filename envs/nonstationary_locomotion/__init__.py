"""Nonstationary locomotion: a robot runs along +x while a pair of its legs loses torque.

Entry points:
    Gymnasium ids ``NonstationaryLocomotion-{Bug,Ant,Spider}-v0`` (registered on import; the bug
    is the paper's robot): ``LocomotionEnv``, 100 steps per episode by default. ``gymnasium.
    make_vec(id, num_envs=n)`` gives ``LocomotionVectorEnv``, n simulations stepped in C.
    ``LegDamage(pair=(i, j), scale=s)``: a task, passed as ``reset(options={"damage": ...})``.
    ``leg_pairs(body)``, ``train_test_split(body)``, ``damage_schedule(pair)``, ``TaskChain`` and
    ``TaskSampler``: the tasks of the paper (legs are 1-based, as in the MJCF).

Example:
    >>> import gymnasium, envs.nonstationary_locomotion as nl
    >>> env = gymnasium.make("NonstationaryLocomotion-Bug-v0")
    >>> train, test = nl.train_test_split("bug")
    >>> for damage in nl.TaskChain(train[0]):
    ...     obs, info = env.reset(options={"damage": damage})
"""

from __future__ import annotations

import gymnasium

from envs.bodies import BODIES
from envs.nonstationary_locomotion.env import (
    CTRL_COST_WEIGHT,
    FORWARD_REWARD_WEIGHT,
    LATERAL_COST_WEIGHT,
    MAX_STEPS,
    REWARD_TERMS,
    LocomotionEnv,
)
from envs.nonstationary_locomotion.tasks import (
    EPISODES_PER_CHAIN,
    LegDamage,
    TaskChain,
    TaskSampler,
    damage_schedule,
    leg_pairs,
    leg_rows,
    train_test_split,
)
from envs.nonstationary_locomotion.vector import LocomotionVectorEnv


def gym_id(body: str) -> str:
    """Gymnasium id of a body's env, e.g. ``NonstationaryLocomotion-Bug-v0``."""
    return f"NonstationaryLocomotion-{body.capitalize()}-v0"


ENV_IDS: tuple[str, ...] = tuple(gym_id(b) for b in BODIES)


def parse_gym_id(env_id: str) -> str | None:
    """The body of ``NonstationaryLocomotion-X-v0`` (the inverse of ``gym_id``), or None."""
    return next((b for b in BODIES if gym_id(b) == env_id), None)


def register_gym_envs() -> None:
    """Register ``NonstationaryLocomotion-{Ant,Bug,Spider}-v0`` (single and vector entry points).

    ``max_episode_steps`` (100) is the step limit, applied by Gymnasium's ``TimeLimit`` (and by
    the vector env, which ``make_vec`` gives it to), so any limit given to ``gymnasium.make``
    holds.
    """
    for body in BODIES:
        if gym_id(body) not in gymnasium.registry:
            gymnasium.register(
                id=gym_id(body),
                entry_point="envs.nonstationary_locomotion.env:LocomotionEnv",
                vector_entry_point="envs.nonstationary_locomotion.vector:LocomotionVectorEnv",
                max_episode_steps=MAX_STEPS,
                # The TimeLimit of gymnasium.make is the step limit (max_steps=None: the env
                # does not truncate by itself), so max_episode_steps=N works for any N.
                kwargs={"body": body, "max_steps": None},
            )


register_gym_envs()

__all__ = [
    "CTRL_COST_WEIGHT",
    "ENV_IDS",
    "EPISODES_PER_CHAIN",
    "FORWARD_REWARD_WEIGHT",
    "LATERAL_COST_WEIGHT",
    "MAX_STEPS",
    "REWARD_TERMS",
    "LegDamage",
    "LocomotionEnv",
    "LocomotionVectorEnv",
    "TaskChain",
    "TaskSampler",
    "damage_schedule",
    "gym_id",
    "leg_pairs",
    "leg_rows",
    "parse_gym_id",
    "train_test_split",
]
