"""Env inputs a careless or hostile caller may give: unknown player keys, complex or numeric-string
actions, steps after the episode ended, damages forged past their checks."""

from __future__ import annotations

import numpy as np
import pytest

from envs.nonstationary_locomotion import LegDamage, LocomotionEnv, LocomotionVectorEnv
from envs.robosumo import SumoVectorEnv, parallel_env


@pytest.fixture
def sumo():
    env = parallel_env(("ant", "ant"))
    env.reset(seed=0)
    yield env
    env.close()


def test_actions_for_unknown_players_are_refused(sumo):
    actions = {p: np.zeros(8) for p in sumo.possible_agents}
    with pytest.raises(ValueError, match=r"unknown players \['player_2'\]; the players are "
                                         r"player_0, player_1"):
        sumo.step({**actions, "player_2": np.zeros(8)})


@pytest.mark.parametrize(("action", "message"), [
    (np.zeros(8) + 0.5j, "complex numbers"),
    (["0.5"] * 8, "dtype <U3"),
    (np.array([True] * 8), "dtype bool"),
    ([object()] * 8, "dtype object"),
])
def test_actions_that_are_not_real_numbers_are_refused(sumo, action, message):
    with pytest.raises(ValueError, match=rf"action of player_0 \(ant\) must be real numbers.*"
                                         rf"{message}"):
        sumo.step({"player_0": action, "player_1": np.zeros(8)})
    vec = SumoVectorEnv(2, ("ant", "ant"), nthread=1)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="must be real numbers"):
        vec.step((np.stack([np.asarray(action)] * 2), np.zeros((2, 8))))


def test_locomotion_refuses_steps_after_truncation_and_before_reset():
    env = LocomotionEnv("bug", max_steps=3)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(np.zeros(12))
    env.reset(seed=0)
    for _ in range(3):
        *_, truncated, _ = env.step(np.zeros(12))
    assert truncated
    with pytest.raises(RuntimeError, match=r"the episode is over .*call reset\(\) before step"):
        env.step(np.zeros(12))
    env.reset(seed=1)
    env.step(np.zeros(12))  # a new episode steps again
    with pytest.raises(ValueError, match=r"must be real numbers.*complex"):
        env.step(np.zeros(12) + 1j)


def test_locomotion_vector_refuses_numeric_strings():
    env = LocomotionVectorEnv(2, "bug", nthread=1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must be real numbers.*dtype <U3"):
        env.step(np.full((2, 12), "0.5"))


@pytest.mark.parametrize("scale", [5.0, -1.0, float("nan")])
def test_a_forged_damage_cannot_reach_the_physics(scale):
    env = LocomotionEnv("bug")
    damage = LegDamage((1, 2), 0.5)
    object.__setattr__(damage, "scale", scale)  # behind the constructor's back
    gains = env.model.actuator_gainprm[:, 0].copy()
    with pytest.raises(ValueError, match=r"scale must be in \[0, 1\]"):
        env.reset(seed=0, options={"damage": damage})
    with pytest.raises(ValueError, match=r"scale must be in \[0, 1\]"):
        env.set_damage(damage)
    np.testing.assert_array_equal(env.model.actuator_gainprm[:, 0], gains)
