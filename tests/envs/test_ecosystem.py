"""The environments as Gymnasium and PettingZoo users expect them: copies and pickles that keep
observing their own physics, check_env on every id headless, step limits in the specs that the
draw follows, rendering without setting MUJOCO_GL, and the smaller conventions."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs.nonstationary_locomotion as nl
import envs.robosumo as robosumo

SUMO_IDS = [robosumo.gym_env.gym_id(a, b) for a in robosumo.BODIES for b in robosumo.BODIES]
ALL_IDS = SUMO_IDS + list(nl.ENV_IDS)


def _play(env, actions):
    out = []
    for a in actions:
        out.append(env.step(a)[0])
    return out


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_env_observes_its_own_physics(how):
    clone_of = copy.deepcopy if how == "deepcopy" else (lambda e: pickle.loads(pickle.dumps(e)))
    env = robosumo.parallel_env(("ant", "bug"))
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    warm = [{p: rng.uniform(-1, 1, env.action_space(p).shape) for p in env.possible_agents}
            for _ in range(5)]
    _play(env, warm)  # mid-bout
    clone = clone_of(env)
    actions = [{p: rng.uniform(-1, 1, env.action_space(p).shape) for p in env.possible_agents}
               for _ in range(15)]
    mine, theirs = _play(env, actions), _play(clone, actions)
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(a["player_0"], b["player_0"])
        np.testing.assert_array_equal(a["player_1"], b["player_1"])
    assert not np.array_equal(theirs[0]["player_0"], theirs[-1]["player_0"])  # they move on
    assert clone.data is not env.data

    gym_env = gymnasium.make("RoboSumo-Spider-vs-Ant-v0")
    gym_env.reset(seed=3)
    gym_clone = clone_of(gym_env)
    steps = [np.full(16, 0.3 * (-1) ** k) for k in range(12)]
    mine, theirs = _play(gym_env, steps), _play(gym_clone, steps)
    np.testing.assert_array_equal(np.array(mine), np.array(theirs))
    assert not np.array_equal(theirs[0], theirs[-1])


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_check_env_passes_on_every_id_without_skipping_render(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # infinite Box bounds are warned about, rightly
        check_env(gymnasium.make(env_id).unwrapped)


def test_specs_carry_the_step_limit_and_the_draw_follows_any_limit():
    assert {gymnasium.spec(i).max_episode_steps for i in SUMO_IDS} == {500}
    assert {gymnasium.spec(i).max_episode_steps for i in nl.ENV_IDS} == {100}
    for limit in (7, 600):
        env = gymnasium.make("RoboSumo-Ant-vs-Ant-v0", max_episode_steps=limit, opponent="idle")
        env.reset(seed=0)
        flags = []
        for _ in range(limit):
            *_, terminated, truncated, info = env.step(np.zeros(8))
            flags.append((terminated, truncated))
        assert flags == [(False, False)] * (limit - 1) + [(False, True)]  # an idle bout: a draw
        assert info["reward_draw"] == robosumo.DRAW_PENALTY
    loco = gymnasium.make("NonstationaryLocomotion-Bug-v0", max_episode_steps=130)
    loco.reset(seed=0)
    flags = [loco.step(np.zeros(12))[3] for _ in range(130)]
    assert flags.index(True) == 129
    timed = gymnasium.wrappers.TimeAwareObservation(gymnasium.make("RoboSumo-Bug-vs-Ant-v0"))
    obs, _ = timed.reset(seed=0)
    assert obs.shape == (165,)


def test_rendering_works_headless_without_setting_mujoco_gl():
    env = {k: v for k, v in os.environ.items()
           if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    code = ("import envs.robosumo as r, envs.nonstationary_locomotion as n, gymnasium\n"
            "e = r.parallel_env(('ant', 'bug'), render_mode='rgb_array', width=64, height=48)\n"
            "e.reset(seed=0); print(e.render().shape)\n"
            "g = gymnasium.make('NonstationaryLocomotion-Bug-v0', render_mode='rgb_array')\n"
            "g.reset(seed=0); print(g.render().shape)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["(48, 64, 3)", "(480, 480, 3)"]


def test_the_gymnasium_view_has_dt_reset_info_and_strict_options():
    env = gymnasium.make("RoboSumo-Ant-vs-Bug-v0")
    _, info = env.reset(seed=0)
    assert env.unwrapped.dt == pytest.approx(0.05)
    assert set(info) == {"torso_xyz", "opponent_xyz"} and info["torso_xyz"].shape == (3,)
    assert np.linalg.norm(info["torso_xyz"][:2] - info["opponent_xyz"][:2]) > 1.5  # 2.3 m apart
    with pytest.raises(ValueError, match=r"unknown reset options \['colour'\]; known: "
                                         r"\['face_each_other'\]"):
        env.reset(options={"colour": "red"})
    env.reset(options={"face_each_other": True})
    par = robosumo.parallel_env(("ant", "ant"))
    with pytest.warns(UserWarning, match=r"ignores unknown options \['colour'\]"):
        par.reset(seed=0, options={"colour": "red"})


def test_render_accepts_the_mode_it_was_built_with():
    env = robosumo.parallel_env(("ant", "ant"), render_mode="rgb_array", width=32, height=24)
    env.reset(seed=0)
    assert env.render("rgb_array").shape == (24, 32, 3)  # RLlib's wrapper passes the mode
    with pytest.raises(ValueError, match="render mode is set at construction"):
        env.render("human")


def test_raw_env_is_the_aec_env_and_ids_load_their_module_by_name():
    from pettingzoo import AECEnv

    assert isinstance(robosumo.raw_env(("ant", "bug")), AECEnv)
    code = ("import gymnasium\n"
            "e = gymnasium.make('envs.robosumo:RoboSumo-Ant-vs-Bug-v0')\n"
            "print(e.reset(seed=0)[0].shape, e.spec.max_episode_steps)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(120,) 500"


def test_the_env_ids_have_one_inverse_each():
    from envs.robosumo.gym_env import parse_gym_id

    for a in robosumo.BODIES:
        assert nl.parse_gym_id(nl.gym_id(a)) == a
        for b in robosumo.BODIES:
            assert parse_gym_id(robosumo.gym_env.gym_id(a, b)) == (a, b)
    for wrong in ("RoboSumo-Ant-vs-Octopus-v0", "RoboSumo-ant-vs-ant-v0", "RoboSumo-Ant-vs-Ant-v1",
                  "NonstationaryLocomotion-Bug-v0"):
        assert parse_gym_id(wrong) is None
    assert nl.parse_gym_id("RoboSumo-Ant-vs-Ant-v0") is None


def test_the_gymnasium_vector_env_equals_the_single_envs_and_fits_the_wrappers():
    from gymnasium.vector import AutoresetMode, VectorEnv

    from envs.robosumo import SumoGymVectorEnv

    venv = SumoGymVectorEnv(3, ("bug", "ant"), opponent="idle", nthread=1, max_steps=30)
    assert isinstance(venv, VectorEnv)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert venv.observation_space.shape == (3, 164) and venv.action_space.shape == (3, 12)
    obs, _ = venv.reset(seed=4)
    singles = [robosumo.parallel_env(("bug", "ant"), max_steps=30) for _ in range(3)]
    single_obs = [env.reset(seed=4 + i)[0]["player_0"] for i, env in enumerate(singles)]
    np.testing.assert_array_equal(obs, np.stack(single_obs))  # arena i starts as seed 4 + i
    rng = np.random.default_rng(0)
    ended = 0
    for t in range(40):
        actions = rng.uniform(-1, 1, (3, 12))
        obs, rewards, terminated, truncated, info = venv.step(actions)
        assert obs.shape == (3, 164) and rewards.shape == (3,)
        if t < 20:  # before any bout of 30 steps ends: step for step the single envs
            for i, env in enumerate(singles):
                o, r, *_ = env.step({"player_0": actions[i], "player_1": np.zeros(8)})
                np.testing.assert_allclose(obs[i], o["player_0"], rtol=1e-5, atol=1e-5)
                assert rewards[i] == pytest.approx(r["player_0"], rel=1e-6, abs=1e-6)
        ended += int((terminated | truncated).sum())
        assert np.array_equal(info["_final_obs"], terminated | truncated)
    assert ended >= 3  # every arena finished a bout and went on
    wrapped = gymnasium.wrappers.vector.RecordEpisodeStatistics(venv)
    wrapped.reset(seed=0)
    *_, info = wrapped.step(np.zeros((3, 12)))
    with pytest.raises(ValueError, match="opponent must be a callable or one of"):
        SumoGymVectorEnv(2, opponent="strong")


def test_make_vec_of_a_batched_id_is_the_batched_env_with_the_limit_it_is_given():
    from envs.robosumo import SumoGymVectorEnv

    venv = gymnasium.make_vec("RoboSumo-Bug-vs-Ant-Batched-v0", num_envs=3, opponent="idle",
                              nthread=1)
    assert isinstance(venv, SumoGymVectorEnv)  # vector_entry_point is the default mode there
    assert venv.arenas.core.max_steps == 500 == gymnasium.spec("RoboSumo-Bug-vs-Ant-Batched-v0")\
        .max_episode_steps
    venv = gymnasium.make_vec("RoboSumo-Ant-vs-Ant-Batched-v0", num_envs=2, opponent="idle",
                              nthread=1, max_episode_steps=9)
    venv.reset(seed=0)
    steps = [venv.step(np.zeros((2, 8))) for _ in range(9)]
    assert [s[2].any() or s[3].any() for s in steps] == [False] * 8 + [True]
    assert steps[-1][3].all() and (steps[-1][4]["reward_draw"] == robosumo.DRAW_PENALTY).all()
    _, _, terminated, truncated, _ = venv.step(np.zeros((2, 8)))
    assert not (terminated.any() or truncated.any())  # the arenas went on after the draw
    assert gymnasium.make_vec("RoboSumo-Ant-vs-Ant-v0", num_envs=2).spec.kwargs[
        "vectorization_mode"] == "sync"  # the plain ids keep StepLimitSync: copies in sync
    with pytest.raises(ValueError, match="does not render"):
        gymnasium.make_vec("RoboSumo-Ant-vs-Ant-Batched-v0", num_envs=2,
                           render_mode="rgb_array")
    with pytest.raises(ValueError, match="disagree"):
        SumoGymVectorEnv(2, max_episode_steps=9, max_steps=10)


def test_the_sb3_adapter_gives_sb3_the_batched_steps_with_its_conventions():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecMonitor

    from envs.sb3_vec import SB3VecEnv

    def make():
        return gymnasium.make_vec("RoboSumo-Ant-vs-Ant-Batched-v0", num_envs=3,
                                  opponent="idle", nthread=1, max_episode_steps=12)

    raw, sb3 = make(), SB3VecEnv(make())
    sb3.seed(5)
    np.testing.assert_array_equal(sb3.reset(), raw.reset(seed=5)[0])  # env i: seed 5 + i
    rng = np.random.default_rng(1)
    dones = 0
    for _ in range(30):
        actions = rng.uniform(-1, 1, (3, 8))
        obs, rewards, terminated, truncated, info = raw.step(actions)
        obs_b, rewards_b, done_b, infos = sb3.step(actions)
        np.testing.assert_array_equal(obs_b, obs)
        np.testing.assert_allclose(rewards_b, rewards, rtol=1e-6)
        np.testing.assert_array_equal(done_b, terminated | truncated)
        assert [i["winner"] for i in infos] == list(info["winner"])
        for i in np.flatnonzero(done_b):
            np.testing.assert_array_equal(infos[i]["terminal_observation"], info["final_obs"][i])
            assert infos[i]["TimeLimit.truncated"] == bool(truncated[i] and not terminated[i])
            dones += 1
        assert all("terminal_observation" not in infos[i] for i in np.flatnonzero(~done_b))
    assert dones >= 6
    model = PPO("MlpPolicy", VecMonitor(SB3VecEnv(make())), n_steps=16, batch_size=24,
                n_epochs=1, seed=0, device="cpu")
    model.learn(48)
    assert model.num_timesteps == 48
    assert model.ep_info_buffer and all(e["l"] <= 12 for e in model.ep_info_buffer)
    with pytest.raises(ValueError, match="same-step autoreset"):
        SB3VecEnv(nl.LocomotionVectorEnv(2, "bug"))  # next-step autoreset by default
    with pytest.raises(TypeError, match=r"gymnasium\.vector\.VectorEnv"):
        SB3VecEnv(gymnasium.make("RoboSumo-Ant-vs-Ant-v0"))
