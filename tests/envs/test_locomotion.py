"""Tests of the nonstationary-locomotion env: API, damage, determinism, physics sanity."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering for check_env; before mujoco

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs.nonstationary_locomotion as nl
from envs.bodies import BODIES, TORSO_RADIUS, body_info
from envs.nonstationary_locomotion import LegDamage, LocomotionEnv


def rollout(env: LocomotionEnv, seed: int, actions: np.ndarray, damage=None):
    """Observations and rewards of one seeded episode prefix."""
    obs, _ = env.reset(seed=seed, options={"damage": damage})
    observations, rewards = [obs], []
    for a in actions:
        obs, reward, *_ = env.step(a)
        observations.append(obs)
        rewards.append(reward)
    return np.array(observations), np.array(rewards)


# Positions and velocities are unbounded by nature; the checker's advice about infinite bounds
# does not apply.
@pytest.mark.filterwarnings("ignore:.*Box observation space m.*infinity")
@pytest.mark.parametrize("env_id", nl.ENV_IDS)
def test_check_env_on_every_registered_id(env_id):
    env = gymnasium.make(env_id)
    check_env(env.unwrapped)
    env.close()


def test_ids_registered_on_import_with_the_right_body():
    assert nl.ENV_IDS == ("NonstationaryLocomotion-Ant-v0", "NonstationaryLocomotion-Bug-v0",
                          "NonstationaryLocomotion-Spider-v0")
    for body, env_id in zip(BODIES, nl.ENV_IDS, strict=True):
        env = gymnasium.make(env_id)
        n = body_info(body).n_joints
        assert env.unwrapped.body == body
        assert env.action_space.shape == (n,)
        assert env.observation_space.shape == (7 + n + 6 + n,)
        assert env.observation_space.dtype == np.float32
        env.close()


def test_observation_is_absolute_torso_state_and_joints():
    env = LocomotionEnv("bug")
    obs, _ = env.reset(seed=3)
    np.testing.assert_array_equal(obs, np.concatenate([env.data.qpos, env.data.qvel])
                                  .astype(np.float32))
    obs, *_ = env.step(np.ones(12))
    assert obs.dtype == np.float32
    np.testing.assert_array_equal(obs[:19], env.data.qpos.astype(np.float32))


@pytest.mark.parametrize("pair,scale", [((2, 5), 0.3), ((1, 2), 0.0), ((3, 6), 1.0)])
def test_damaged_actuators_deliver_scale_times_command(pair, scale):
    env = LocomotionEnv("bug")
    env.reset(seed=0, options={"damage": LegDamage(pair=pair, scale=scale)})
    command = np.linspace(-1.5, 1.5, 12)  # includes values the ctrlrange clips
    env.step(command)
    clipped = np.clip(command, -1.0, 1.0)
    damaged = [a for leg in pair for a in env.layout.actuators[leg - 1]]
    healthy = [a for a in range(12) if a not in damaged]
    assert len(damaged) == 4
    np.testing.assert_allclose(env.data.actuator_force[damaged], scale * clipped[damaged],
                               rtol=0, atol=1e-12)
    np.testing.assert_array_equal(env.data.actuator_force[healthy], clipped[healthy])
    # The joint torque is the actuator force times the gear (150) at the actuated joint's dof.
    dofs = env.model.jnt_dofadr[env.model.actuator_trnid[:, 0]]
    expected = env.model.actuator_gear[:, 0] * clipped
    expected[damaged] *= scale
    np.testing.assert_allclose(env.data.qfrc_actuator[dofs], expected, rtol=1e-12, atol=1e-9)


def test_damage_is_kept_until_changed_and_replaced_whole():
    env = LocomotionEnv("bug")
    env.reset(seed=0, options={"damage": LegDamage((1, 4), 0.25)})
    env.reset(seed=1)  # no damage option: the damage stays
    gains = env.model.actuator_gainprm[:, 0]
    acts = env.layout.actuators
    assert env.damage == LegDamage((1, 4), 0.25)
    np.testing.assert_array_equal(gains[list(acts[0] + acts[3])], 0.25)
    env.reset(options={"damage": LegDamage((5, 6), 0.5)})
    np.testing.assert_array_equal(gains[list(acts[0] + acts[3])], 1.0)  # old pair healed
    np.testing.assert_array_equal(gains[list(acts[4] + acts[5])], 0.5)
    env.reset(options={"damage": None})
    np.testing.assert_array_equal(gains, 1.0)


def test_damage_changes_the_motion_but_is_not_observed():
    env = LocomotionEnv("bug")
    actions = np.random.default_rng(0).uniform(-1, 1, (20, 12))
    healthy, _ = rollout(env, 7, actions)
    damaged, _ = rollout(env, 7, actions, LegDamage((1, 2), 0.0))
    np.testing.assert_array_equal(healthy[0], damaged[0])  # nothing in the observation tells
    assert not np.allclose(healthy[-1], damaged[-1])  # but the physics does differ


@pytest.mark.filterwarnings("ignore:.*Box observation space m.*infinity")
def test_an_informed_env_observes_each_actuators_torque_scale():
    env = LocomotionEnv("bug", observe_damage=True)
    plain = LocomotionEnv("bug")
    check_env(env, skip_render_check=True)
    actions = np.random.default_rng(0).uniform(-1, 1, (20, 12))
    for damage in (None, LegDamage((1, 2), 0.0), LegDamage((3, 4), 0.5)):
        informed, _ = rollout(env, 7, actions, damage)
        observed, _ = rollout(plain, 7, actions, damage)
        n = plain.observation_space.shape[0]
        np.testing.assert_array_equal(informed[:, :n], observed)  # the same robot and physics
        scales = np.ones(12, np.float32)
        if damage is not None:  # the torque each actuator delivers per unit of command
            for leg in damage.pair:
                scales[list(env.layout.actuators[leg - 1])] = damage.scale
        np.testing.assert_array_equal(informed[:, n:], np.broadcast_to(scales, (21, 12)))
        assert all(env.observation_space.contains(o) for o in informed)


def test_same_seed_same_trajectory_and_other_seed_differs():
    env_a, env_b = LocomotionEnv("spider"), LocomotionEnv("spider")
    actions = np.random.default_rng(1).uniform(-1, 1, (30, 16))
    damage = LegDamage((3, 8), 0.4)
    obs_a, rew_a = rollout(env_a, 11, actions, damage)
    obs_b, rew_b = rollout(env_b, 11, actions, damage)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    obs_c, _ = rollout(env_b, 12, actions, damage)
    assert not np.array_equal(obs_a[0], obs_c[0])


def test_reward_is_sum_of_terms_and_rewards_velocity_along_x():
    env = LocomotionEnv("ant", ctrl_cost_weight=0.01, forward_reward_weight=2.0)
    env.reset(seed=0)
    for a in np.random.default_rng(2).uniform(-1, 1, (10, 8)):
        x_before = env.data.qpos[0]
        _, reward, terminated, truncated, info = env.step(a)
        assert reward == pytest.approx(info["reward_forward"] + info["reward_ctrl"], abs=1e-12)
        assert info["reward_ctrl"] == pytest.approx(-0.01 * float(a @ a))
        vx = (env.data.qpos[0] - x_before) / env.dt
        assert info["reward_forward"] == pytest.approx(2.0 * vx)
        assert info["reward_lateral"] == 0.0  # off by default: the paper's task
        assert not terminated and not truncated


def test_lateral_cost_charges_sideways_speed_and_nothing_else():
    plain = LocomotionEnv("bug")
    costly = LocomotionEnv("bug", lateral_cost_weight=0.5)
    plain.reset(seed=3)
    costly.reset(seed=3)
    moved = 0.0
    for a in np.random.default_rng(4).uniform(-1, 1, (20, 12)):
        y_before = costly.data.qpos[1]
        obs_p, r_p, *_ = plain.step(a)
        obs_c, r_c, _, _, info = costly.step(a)
        np.testing.assert_array_equal(obs_p, obs_c)  # the physics does not change
        vy = (costly.data.qpos[1] - y_before) / costly.dt
        assert info["y_velocity"] == pytest.approx(vy)
        assert info["reward_lateral"] == pytest.approx(-0.5 * abs(vy))
        assert r_c == pytest.approx(r_p + info["reward_lateral"], abs=1e-12)
        moved += abs(vy)
    assert moved > 0.1  # the robot did move sideways, so the cost was charged
    with pytest.raises(ValueError, match="lateral_cost_weight must be a finite number"):
        LocomotionEnv("bug", lateral_cost_weight=float("nan"))
    for make in (lambda: LocomotionEnv("bug", lateral_cost_weight=-1.0),
                 lambda: nl.LocomotionVectorEnv(2, "bug", lateral_cost_weight=-1.0)):
        with pytest.raises(ValueError, match="lateral_cost_weight must be >= 0"):
            make()


def test_episode_truncates_at_max_steps():
    env = LocomotionEnv("bug", max_steps=3)
    env.reset(seed=0)
    flags = [env.step(np.zeros(12))[3] for _ in range(3)]
    assert flags == [False, False, True]
    # the registered ids: the spec carries the limit and Gymnasium's TimeLimit applies it
    assert gymnasium.spec("NonstationaryLocomotion-Bug-v0").max_episode_steps == nl.MAX_STEPS
    made = gymnasium.make("NonstationaryLocomotion-Bug-v0")
    made.reset(seed=0)
    flags = [made.step(np.zeros(12))[3] for _ in range(nl.MAX_STEPS)]
    assert flags.index(True) == nl.MAX_STEPS - 1


@pytest.mark.parametrize("body", BODIES)
def test_robot_faces_plus_x_at_reset(body):
    env = LocomotionEnv(body, reset_noise_scale=0.0)
    env.reset(seed=0)
    rows = nl.leg_rows(body)
    hip_x = [np.mean([env.data.xanchor[env.model.joint(f"hip_{k}").id][0] for k in row])
             for row in rows]
    assert hip_x == sorted(hip_x) and hip_x[0] < hip_x[-1]  # back rows behind, front ahead
    torso = env.data.xmat[env.model.body("torso").id].reshape(3, 3)
    forward_world = torso[:2, :2] @ np.asarray(body_info(body).forward)
    np.testing.assert_allclose(forward_world, [1.0, 0.0], atol=1e-9)


@pytest.mark.parametrize("body", BODIES)
def test_physics_stays_stable_under_extreme_torques(body):
    env = LocomotionEnv(body, max_steps=400)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n = env.action_space.shape[0]
    bang = np.repeat(np.sign(rng.uniform(-1, 1, (40, n))), 5, axis=0)
    actions = np.concatenate([rng.uniform(-1, 1, (200, n)), bang])
    floor = env.model.geom("floor").id
    lowest_torso, lowest_geom = np.inf, np.inf
    for a in actions:
        obs, *_ = env.step(a)
        assert np.isfinite(obs).all()
        lowest_torso = min(lowest_torso, env.data.qpos[2])
        lowest_geom = min(lowest_geom, np.delete(env.data.geom_xpos[:, 2], floor).min())
    assert not any(w.number for w in env.data.warning)  # no instability reset by MuJoCo
    assert lowest_torso > TORSO_RADIUS - 0.1  # the torso sphere never sinks through the floor
    assert lowest_geom > -0.05  # no leg capsule's centre passes below the floor


# ---------------------------------------------------------------- bad input


def test_bad_input_is_refused_with_what_is_valid():
    with pytest.raises(ValueError, match="valid bodies are ant, bug, spider"):
        LocomotionEnv("cheetah")
    with pytest.raises(ValueError, match="valid bodies"):
        nl.leg_pairs("cheetah")
    env = LocomotionEnv("ant")
    with pytest.raises(ValueError, match=r"legs are numbered 1\.\.4"):
        env.reset(options={"damage": LegDamage((4, 5), 0.5)})
    with pytest.raises(ValueError, match="LegDamage"):
        env.reset(options={"damage": ((1, 2), 0.5)})
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"damages": None})
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        env.step(np.zeros(12))
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(8, np.nan))
    with pytest.raises(ValueError, match="max_steps"):
        LocomotionEnv("bug", max_steps=0)
    with pytest.raises(ValueError, match="render_mode"):
        LocomotionEnv("bug", render_mode="human")


@pytest.mark.parametrize("pair", [(1, 1), (0, 2), (1,), (1, 2, 3), "12", (1.0, 2.0), (True, 2)])
def test_leg_damage_rejects_malformed_pairs(pair):
    with pytest.raises(ValueError, match="pair"):
        LegDamage(pair=pair, scale=0.5)


@pytest.mark.parametrize("scale", [-0.1, 1.01, float("nan"), float("inf"), "half"])
def test_leg_damage_rejects_scales_outside_unit_interval(scale):
    with pytest.raises(ValueError, match=r"scale must be .*\[0, 1\]"):
        LegDamage(pair=(1, 2), scale=scale)


def test_leg_damage_is_frozen_plain_data():
    damage = LegDamage(pair=(5, 2), scale=1)
    assert damage == LegDamage(pair=(2, 5), scale=1.0) and damage.pair == (2, 5)
    assert isinstance(damage.scale, float)
    with pytest.raises(AttributeError):
        damage.scale = 0.5
