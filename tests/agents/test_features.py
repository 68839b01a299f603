"""Egocentric RoboSumo features: geometry checked against MuJoCo, and how policies carry them."""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np
import pytest
import torch

from agents.features import SUMO_FEATURES, rotate_into, sumo_features
from agents.policy import Policy, PolicyConfig, policy_from_description
from agents.ppo.train import TrainConfig
from envs.bodies import body_info
from envs.robosumo.sumo import SumoEnv


def test_rotation_into_the_body_frame_is_mujocos_inverse_rotation():
    rng = np.random.default_rng(0)
    quats = rng.normal(size=(20, 4))
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    vecs = rng.normal(size=(20, 3))
    got = rotate_into(torch.tensor(quats), torch.tensor(vecs)).numpy()
    for q, v, g in zip(quats, vecs, got, strict=True):
        inverse, want = q * np.array([1, -1, -1, -1]), np.zeros(3)
        mujoco.mju_rotVecQuat(want, v, inverse)
        np.testing.assert_allclose(g, want, atol=1e-12)


@pytest.mark.parametrize("bodies", [("ant", "ant"), ("bug", "spider")])
def test_features_describe_the_arena_as_each_robot_sees_it(bodies):
    env = SumoEnv(bodies, face_each_other=True)
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        for _ in range(30):  # away from the start pose
            obs, *_ = env.step({a: np.zeros(env.action_space(a).shape) for a in env.agents})
        xyz = [env.data.qpos[lay.qpos_adr:lay.qpos_adr + 3] for lay in env.layouts]
        for i, player in enumerate(env.possible_agents):
            f = sumo_features(torch.tensor(obs[player], dtype=torch.float64)).numpy()
            assert f.shape == (SUMO_FEATURES,)
            offset, to_centre, up = f[0:3], f[3:6], f[9:12]
            own, opp = xyz[i], xyz[1 - i]
            np.testing.assert_allclose(np.linalg.norm(offset), np.linalg.norm(opp - own),
                                       rtol=1e-5)
            np.testing.assert_allclose(f[12], np.linalg.norm((opp - own)[:2]), rtol=1e-5)
            np.testing.assert_allclose(f[13:17], [np.linalg.norm(own[:2]), np.abs(own[:2]).max(),
                                                  np.linalg.norm(opp[:2]),
                                                  np.abs(opp[:2]).max()], rtol=1e-5)
            np.testing.assert_allclose(np.linalg.norm(to_centre), np.linalg.norm(own[:2]),
                                       rtol=1e-5)
            assert up[2] > 0.9  # standing robots: the world's up is the body's up
            # robots turned towards each other see the opponent ahead, along their forward axis
            forward = np.array(body_info(bodies[i]).forward)
            assert offset[:2] @ forward / np.linalg.norm(offset[:2]) > 0.9


def test_a_policy_with_features_normalises_and_feeds_them():
    policy = Policy(120, 8, PolicyConfig(features="sumo"))
    assert policy.input_dim == 120 + SUMO_FEATURES
    obs = np.random.default_rng(0).normal(size=(64, 120)).astype(np.float32)
    policy.norm.update(torch.from_numpy(obs))  # callers pass raw observations
    x = policy.normalize(obs)
    assert x.shape == (64, 120 + SUMO_FEATURES)
    # the features' statistics are kept: they come out standardised like the observation
    np.testing.assert_allclose(x[:, 120:].mean(0).numpy(), 0, atol=1e-4)
    assert policy.act(obs).action.shape == (64, 8)


def test_checkpoints_without_the_setting_load_as_raw_observations():
    raw = Policy(120, 8, PolicyConfig())
    desc = raw.describe()
    del desc["policy"]["features"]  # written before policies had features
    old = policy_from_description(desc)
    assert old.config.features == "raw" and old.input_dim == 120


def test_features_are_refused_where_they_mean_nothing():
    with pytest.raises(ValueError, match="policy features must be one of"):
        PolicyConfig(features="egocentric")
    sumo = PolicyConfig(features="sumo")
    with pytest.raises(ValueError, match="is for RoboSumo envs only"):
        TrainConfig(env="NonstationaryLocomotion-Bug-v0", policy=sumo)
    config = TrainConfig(env="RoboSumo-Ant-vs-Ant-v0", policy=sumo)
    assert dataclasses.asdict(config)["policy"]["features"] == "sumo"
