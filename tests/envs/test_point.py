"""The NoRML point agent: dynamics, rewards, episode ends, tasks, and the vector env."""

import math

import gymnasium
import numpy as np
import pytest

import envs.point as point
from envs.point import PointRotationEnv, PointRotationVectorEnv, rotate, sample_angles


def test_registered_and_passes_the_gymnasium_checker():
    from gymnasium.utils.env_checker import check_env

    env = gymnasium.make("PointRotation-v0")
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(options={"angle": 0.3})
    assert obs.tolist() == [0.0, 0.0] and info["angle"] == 0.3


def test_rotation_moves_the_point_by_the_rotated_action():
    env = PointRotationEnv(angle=math.pi / 2)
    env.reset()
    obs, reward, terminated, truncated, _ = env.step(np.array([0.5, 0.0]))
    np.testing.assert_allclose(obs, [0.0, 0.5], atol=1e-6)
    assert reward == pytest.approx(-math.hypot(1.0, 0.5))
    assert not terminated and not truncated


def test_actions_are_clipped_and_positions_bounded():
    env = PointRotationEnv(max_steps=50)
    env.reset()
    obs, *_ = env.step(np.array([7.0, -7.0]))
    np.testing.assert_allclose(obs, [1.0, -1.0])
    for _ in range(5):
        obs, *_ = env.step(np.array([1.0, 1.0]))
    np.testing.assert_allclose(obs, [2.0, 2.0])


def test_shaped_episode_lasts_ten_steps_and_is_truncated():
    env = PointRotationEnv()
    env.reset()
    ends = [env.step(np.zeros(2))[2:4] for _ in range(10)]
    assert ends[-1] == (False, True) and all(e == (False, False) for e in ends[:-1])


def test_sparse_reward_is_minus_one_and_reaching_the_goal_terminates():
    env = PointRotationEnv(sparse=True)
    assert env.max_steps == 100
    env.reset(options={"angle": math.pi})
    _, reward, terminated, truncated, _ = env.step(np.array([-1.0, 0.0]))  # rotated to +x
    assert reward == -1.0 and terminated and not truncated


def test_reset_rejects_unknown_options_and_bad_angles():
    env = PointRotationEnv()
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"rotation": 1.0})
    with pytest.raises(ValueError, match="angle must be a finite number"):
        env.reset(options={"angle": float("nan")})


def test_vector_env_matches_single_envs_with_per_point_angles():
    rng = np.random.default_rng(0)
    angles = sample_angles(rng, 4)
    assert np.all((angles >= -math.pi) & (angles <= math.pi))
    venv = PointRotationVectorEnv(4, angles=angles)
    singles = [PointRotationEnv(angle=a) for a in angles]
    obs, _ = venv.reset()
    for env in singles:
        env.reset()
    for _ in range(12):  # past one autoreset
        actions = rng.uniform(-1.5, 1.5, (4, 2))
        obs, rew, term, trunc, info = venv.step(actions)
        for i, env in enumerate(singles):
            o, r, te, tr, _ = env.step(actions[i])
            if te or tr:
                np.testing.assert_allclose(info["final_obs"][i], o, atol=1e-6)
                o, _ = env.reset()
            np.testing.assert_allclose(obs[i], o, atol=1e-6)
            assert rew[i] == pytest.approx(r) and (term[i], trunc[i]) == (te, tr)


def test_rotate_is_a_rotation():
    a = np.array([[1.0, 0.0], [0.3, -0.4]])
    out = rotate(a, np.array([math.pi / 2, 1.0]))
    np.testing.assert_allclose(out[0], [0.0, 1.0], atol=1e-12)
    assert np.linalg.norm(out[1]) == pytest.approx(0.5)
    assert point.ENV_ID in gymnasium.registry
