"""The vectorised path must reproduce the single env for the same seeds and damages."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import envs.nonstationary_locomotion as nl
from envs.nonstationary_locomotion import LegDamage, LocomotionEnv, LocomotionVectorEnv


def single_env_episodes(body, seeds, damages, actions, max_steps, **kwargs):
    """Run each simulation's episodes in one ``LocomotionEnv``: [sim] -> (obs, rewards, truncs)."""
    env = LocomotionEnv(body, max_steps=max_steps, **kwargs)
    out = []
    for i, (seed, damage) in enumerate(zip(seeds, damages, strict=True)):
        obs, _ = env.reset(seed=seed, options={"damage": damage})
        observations, rewards, truncs = [obs], [], []
        done = False
        for a in actions[:, i]:
            if done:  # the vector env's next-step autoreset: no seed, the stream goes on
                obs, _ = env.reset()
                reward, truncated, done = 0.0, False, False
            else:
                obs, reward, _, truncated, _ = env.step(a)
                done = truncated
            observations.append(obs)
            rewards.append(reward)
            truncs.append(truncated)
        out.append((np.array(observations), np.array(rewards), np.array(truncs)))
    return out


@pytest.mark.parametrize(("nthread", "lateral"), [(1, 0.0), (2, 0.3)])
def test_vector_equals_single_env_for_all_training_pairs(nthread, lateral):
    train, _ = nl.train_test_split("bug")
    scales = np.linspace(0.0, 1.0, len(train))
    damages = [LegDamage(p, s) for p, s in zip(train, scales, strict=True)]
    max_steps, n_steps = 8, 18  # crosses two autoresets
    actions = np.random.default_rng(0).uniform(-1.2, 1.2, (n_steps, len(train), 12))
    venv = LocomotionVectorEnv(len(train), "bug", max_steps=max_steps, nthread=nthread,
                               lateral_cost_weight=lateral)
    obs, _ = venv.reset(seed=100, options={"damage": damages})
    observations, rewards, truncs = [obs], [], []
    for a in actions:
        obs, reward, terminated, truncated, info = venv.step(a)
        assert not terminated.any()
        np.testing.assert_allclose(reward, info["reward_forward"] + info["reward_ctrl"]
                                   + info["reward_lateral"])
        observations.append(obs)
        rewards.append(reward)
        truncs.append(truncated)
    observations, rewards, truncs = np.array(observations), np.array(rewards), np.array(truncs)
    expected = single_env_episodes("bug", [100 + i for i in range(12)], damages, actions,
                                   max_steps, lateral_cost_weight=lateral)
    for i, (obs_i, rew_i, trunc_i) in enumerate(expected):
        np.testing.assert_array_equal(observations[:, i], obs_i)
        np.testing.assert_allclose(rewards[:, i], rew_i, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(truncs[:, i], trunc_i)
    assert truncs[:, 0].sum() == 2


def test_an_informed_vector_env_adds_the_single_envs_torque_scales():
    damages = [LegDamage((1, 2), 0.0), None, LegDamage((5, 6), 0.25)]
    actions = np.random.default_rng(1).uniform(-1, 1, (12, 3, 12))
    runs = {}
    for informed in (False, True):
        venv = LocomotionVectorEnv(3, "bug", max_steps=5, observe_damage=informed)
        obs, _ = venv.reset(seed=40, options={"damage": damages})
        runs[informed] = np.array([obs] + [venv.step(a)[0] for a in actions])  # 2 autoresets
        assert venv.single_observation_space == LocomotionEnv(
            "bug", observe_damage=informed).observation_space
    n = runs[False].shape[-1]
    np.testing.assert_array_equal(runs[True][..., :n], runs[False])  # the same physics
    single = LocomotionEnv("bug", observe_damage=True)
    for i, damage in enumerate(damages):
        obs, _ = single.reset(seed=0, options={"damage": damage})
        np.testing.assert_array_equal(runs[True][:, i, n:], np.broadcast_to(obs[n:], (13, 12)))


def test_vector_damage_is_per_simulation_and_kept():
    venv = LocomotionVectorEnv(3, "ant", nthread=1)
    damages = [LegDamage((1, 2), 0.0), None, LegDamage((3, 4), 0.5)]
    venv.reset(seed=0, options={"damage": damages})
    venv.reset(seed=1)
    gains = venv.batch.expanded("actuator_gainprm")[:, :, 0]
    np.testing.assert_array_equal(gains[0], [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(gains[1], np.ones(8))
    np.testing.assert_array_equal(gains[2], [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5])
    venv.step(np.ones((3, 8)))
    force = venv.get_data(0).actuator_force
    np.testing.assert_array_equal(force, [0, 0, 0, 0, 1, 1, 1, 1])


def test_make_vec_uses_the_batched_path():
    venv = gymnasium.make_vec("NonstationaryLocomotion-Spider-v0", num_envs=4, nthread=1)
    assert isinstance(venv, LocomotionVectorEnv) and venv.body == "spider"
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (4, 45) and obs.dtype == np.float32
    assert venv.observation_space.shape == (4, 45) and venv.action_space.shape == (4, 16)
    assert obs in venv.observation_space


def test_vector_bad_input():
    venv = LocomotionVectorEnv(2, "bug", nthread=1)
    with pytest.raises(ValueError, match="one damage per simulation"):
        venv.reset(options={"damage": [None]})
    with pytest.raises(ValueError, match=r"legs are numbered 1\.\.6"):
        venv.reset(options={"damage": [None, LegDamage((7, 8), 0.5)]})
    with pytest.raises(ValueError, match="one seed per simulation"):
        venv.reset(seed=[1, 2, 3])
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2, 12\)"):
        venv.step(np.zeros((3, 12)))
    bad = np.zeros((2, 12))
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"simulations \[1\]"):
        venv.step(bad)
    with pytest.raises(ValueError, match="num_envs"):
        LocomotionVectorEnv(0, "bug")
    with pytest.raises(ValueError, match="valid bodies"):
        LocomotionVectorEnv(2, "cheetah")


def test_same_step_autoreset_returns_the_final_observation_and_the_next_episode():
    from gymnasium.vector import AutoresetMode

    from envs.nonstationary_locomotion import LocomotionVectorEnv

    kw = dict(num_envs=2, body="ant", max_steps=3, nthread=1)
    same = LocomotionVectorEnv(**kw, autoreset_mode=AutoresetMode.SAME_STEP)
    nxt = LocomotionVectorEnv(**kw)
    same.reset(seed=5)
    nxt.reset(seed=5)
    actions = np.full((2, 8), 0.3)
    for _ in range(2):
        same.step(actions)
        nxt.step(actions)
    obs, rew, _, trunc, info = same.step(actions)
    final, rew_n, _, trunc_n, _ = nxt.step(actions)
    assert trunc.all() and trunc_n.all()
    np.testing.assert_array_equal(info["final_obs"], final)
    np.testing.assert_array_equal(rew, rew_n)
    first, *_ = nxt.step(actions)  # next-step mode resets one call later
    np.testing.assert_array_equal(obs, first)
