"""Which environment family an env id names, through the envs' own inverses of ``gym_id``."""

from __future__ import annotations


def sumo_bodies_of(env_id: str) -> tuple[str, str] | None:
    """(learner body, opponent body) of ``RoboSumo-X-vs-Y-v0``, or None."""
    from envs.robosumo.gym_env import parse_gym_id

    return parse_gym_id(env_id)


def locomotion_body_of(env_id: str) -> str | None:
    """The body of ``NonstationaryLocomotion-X-v0``, or None."""
    from envs.nonstationary_locomotion import parse_gym_id

    return parse_gym_id(env_id)


def body_of(env_id: str) -> str | None:
    """The learner's body of a RoboSumo or locomotion id, or None."""
    sumo = sumo_bodies_of(env_id)
    return sumo[0] if sumo else locomotion_body_of(env_id)
