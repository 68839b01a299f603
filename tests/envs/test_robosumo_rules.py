"""RoboSumo rules and invariants: outcomes, rewards, symmetry, reset, contact forces, bad input."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from envs.robosumo import DRAW_PENALTY, REWARD_TERMS, WIN_REWARD, parallel_env
from envs.robosumo.scene import TATAMI_HEIGHT

IDLE = {"ant": np.zeros(8), "bug": np.zeros(12), "spider": np.zeros(16)}


def idle(env):
    return {p: IDLE[b] for p, b in zip(env.possible_agents, env.bodies, strict=True)}


def settled(bodies=("ant", "ant"), steps=30, seed=0, **kwargs):
    """An env whose robots stand idle on the tatami for a while."""
    env = parallel_env(bodies, **kwargs)
    env.reset(seed=seed)
    for _ in range(steps):
        env.step(idle(env))
    assert env.agents, "idle robots should not end the bout"
    return env


def place(env, player, x=None, y=None, z=None, quat=None):
    a = env.layouts[player].qpos_adr
    for k, v in enumerate((x, y, z)):
        if v is not None:
            env.data.qpos[a + k] = v
    if quat is not None:
        env.data.qpos[a + 3:a + 7] = quat
    env.data.qvel[env.layouts[player].qvel] = 0.0
    mujoco.mj_forward(env.model, env.data)


def test_reward_is_the_sum_of_its_info_terms():
    env = parallel_env(("bug", "spider"), stay_in_center_weight=0.3, attack_weight=0.01)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    seen_nonzero = set()
    for _ in range(300):
        if not env.agents:
            env.reset()
        acts = {p: rng.uniform(-1.5, 1.5, env.action_space(p).shape) for p in env.agents}
        _, rewards, _, _, infos = env.step(acts)
        for p, r in rewards.items():
            terms = {k: v for k, v in infos[p].items() if k.startswith("reward_")}
            assert set(terms) == {f"reward_{t}" for t in REWARD_TERMS}
            assert r == pytest.approx(sum(terms.values()), abs=1e-9)
            seen_nonzero |= {k for k, v in terms.items() if v != 0}
    assert {"reward_ctrl", "reward_move_to_opponent", "reward_push_out", "reward_stay_in_center",
            "reward_attack", "reward_win", "reward_loss"} <= seen_nonzero


def test_shaping_terms_match_their_formulas_and_scale_with_the_shaping_weight():
    env = settled(("ant", "bug"), shaping_weight=0.5, stay_in_center_weight=0.2)
    a = np.full(8, 0.5)
    before = env.torso_xyz(0)
    _, _, _, _, infos = env.step({"player_0": a, "player_1": IDLE["bug"]})
    own, opp = env.torso_xyz(0), env.torso_xyz(1)
    info = infos["player_0"]
    assert info["reward_ctrl"] == pytest.approx(-0.5 * 0.1 * 8 * 0.25)
    assert info["reward_push_out"] == pytest.approx(-0.5 * 10 * math.exp(-np.hypot(*opp[:2])))
    assert info["reward_stay_in_center"] == pytest.approx(0.5 * 0.2 * math.exp(-np.hypot(*own[:2])))
    d = (opp[:2] - before[:2]) / np.linalg.norm(opp[:2] - before[:2])
    v = (own[:2] - before[:2]) / env.dt
    assert info["reward_move_to_opponent"] == pytest.approx(0.5 * 0.1 * max(0.0, v @ d))


def test_zero_shaping_weight_leaves_only_the_outcome():
    env = settled(shaping_weight=0.0)
    _, rewards, _, _, _ = env.step({p: np.ones(8) for p in env.agents})
    assert rewards == {"player_0": 0.0, "player_1": 0.0}


@pytest.mark.parametrize(("bodies", "player", "coord", "value"), [
    (("ant", "ant"), 1, "x", 2.2),
    (("bug", "spider"), 0, "y", -2.25),
    (("spider", "ant"), 1, "y", 2.12),
])
def test_robot_out_of_the_square_loses(bodies, player, coord, value):
    env = settled(bodies)
    place(env, player, **{coord: value})
    _, rewards, terms, truncs, infos = env.step(idle(env))
    loser, winner = f"player_{player}", f"player_{1 - player}"
    assert terms == {"player_0": True, "player_1": True}
    assert truncs == {"player_0": False, "player_1": False}
    assert env.agents == []
    assert infos[winner]["winner"] == winner and infos[loser]["winner"] == winner
    assert infos[winner]["reward_win"] == WIN_REWARD and infos[winner]["reward_loss"] == 0
    assert infos[loser]["reward_loss"] == -WIN_REWARD and infos[loser]["reward_win"] == 0
    assert rewards[winner] == pytest.approx(WIN_REWARD, abs=15)
    assert rewards[loser] == pytest.approx(-WIN_REWARD, abs=15)


UPSIDE_DOWN = (0.0, 1.0, 0.0, 0.0)  # 180 degrees about x: legs up, torso on the mat


@pytest.mark.parametrize("bodies", [("ant", "ant"), ("bug", "ant"), ("spider", "bug")])
def test_torso_resting_on_the_surface_loses(bodies):
    env = settled(bodies)
    place(env, 0, x=0.0, y=0.0, z=TATAMI_HEIGHT + 0.26, quat=UPSIDE_DOWN)
    place(env, 1, x=1.3, y=0.0)
    _, rewards, terms, _, infos = env.step(idle(env))
    assert env.torso_height(0) < 0.29
    assert terms["player_0"] and infos["player_0"]["winner"] == "player_1"
    assert rewards["player_1"] > WIN_REWARD - 15


def test_both_falling_in_the_same_step_ends_without_a_winner():
    env = settled(("ant", "bug"))
    place(env, 0, x=2.3)
    place(env, 1, x=-2.3)
    _, rewards, terms, truncs, infos = env.step(idle(env))
    assert all(terms.values()) and not any(truncs.values())
    for p in env.possible_agents:
        assert infos[p]["winner"] is None
        assert infos[p]["reward_win"] == infos[p]["reward_loss"] == infos[p]["reward_draw"] == 0
        assert abs(rewards[p]) < 15


def test_step_limit_truncates_with_the_draw_penalty():
    env = parallel_env(("ant", "spider"), max_steps=12)
    env.reset(seed=4)
    for t in range(12):
        _, rewards, terms, truncs, infos = env.step(idle(env))
        assert not any(terms.values())
        assert all(truncs.values()) == (t == 11)
    for p in env.possible_agents:
        assert infos[p]["reward_draw"] == DRAW_PENALTY
        assert infos[p]["winner"] is None
        assert rewards[p] == pytest.approx(DRAW_PENALTY, abs=15)
    assert env.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        env.step(idle(env))


@pytest.mark.parametrize("bodies", [("ant", "ant"), ("spider", "spider"), ("bug", "spider")])
def test_swapping_players_mirrors_observations_and_rewards(bodies):
    """The same physical situation described with the players swapped gives swapped views."""
    env = settled(bodies, steps=10)
    rng = np.random.default_rng(1)
    acts = [rng.uniform(-1, 1, env.action_space(p).shape) for p in env.possible_agents]
    swapped = parallel_env(bodies[::-1])
    swapped.reset(seed=0)
    for src, dst in ((0, 1), (1, 0)):
        swapped.data.qpos[swapped.layouts[dst].qpos] = env.data.qpos[env.layouts[src].qpos]
        swapped.data.qvel[swapped.layouts[dst].qvel] = env.data.qvel[env.layouts[src].qvel]
    swapped._steps = env._steps
    for _ in range(5):
        obs, rew, *_ = env.step({"player_0": acts[0], "player_1": acts[1]})
        obs2, rew2, *_ = swapped.step({"player_0": acts[1], "player_1": acts[0]})
        for i in range(2):
            np.testing.assert_allclose(obs[f"player_{i}"], obs2[f"player_{1 - i}"],
                                       rtol=1e-4, atol=1e-3)
            assert rew[f"player_{i}"] == pytest.approx(rew2[f"player_{1 - i}"], rel=1e-5,
                                                       abs=1e-5)


@pytest.mark.parametrize("bodies", [("ant", "ant"), ("bug", "spider")])
def test_own_contact_forces_are_nonzero_while_standing(bodies):
    env = settled(bodies, steps=40)
    obs, *_ = env.step(idle(env))
    for i, p in enumerate(env.possible_agents):
        layout = env.layouts[i]
        n_q = layout.qpos.stop - layout.qpos.start
        n_v = layout.qvel.stop - layout.qvel.start
        n_f = 6 * (layout.bodies.stop - layout.bodies.start)
        forces = obs[p][n_q + n_v:n_q + n_v + n_f].reshape(-1, 6)
        assert forces.sum() > 1.0, f"{p} ({bodies[i]}) reads no contact force while standing"
        assert (forces >= 0).all() and (forces <= 100).all()
        # the feet (ankle bodies, every third body after the torso) carry the weight
        assert forces[3::3].sum() > 0.5 * forces.sum()


def test_observation_layout_and_height_reference():
    env = parallel_env(("ant", "bug"))
    world = parallel_env(("ant", "bug"), height_reference="world")
    obs, _ = env.reset(seed=2)
    obs_w, _ = world.reset(seed=2)
    q0, q1 = env.data.qpos[:15], env.data.qpos[15:22]
    o = obs["player_0"]
    np.testing.assert_allclose(o[:2], q0[:2], rtol=1e-6)
    assert o[2] == pytest.approx(q0[2] - 0.5, abs=1e-6)
    np.testing.assert_allclose(o[3:15], q0[3:15], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(o[15:29], env.data.qvel[:14], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(o[107:109], q1[:2], rtol=1e-6)
    assert o[109] == pytest.approx(q1[2] - 0.5, abs=1e-6)
    diff = obs_w["player_0"] - obs["player_0"]
    assert diff[2] == pytest.approx(0.5) and diff[109] == pytest.approx(0.5)
    assert np.count_nonzero(np.abs(diff) > 1e-6) == 2


def test_reset_places_robots_opposite_with_normalised_quaternions():
    env = parallel_env(("spider", "bug"))
    angles = []
    for seed in range(20):
        env.reset(seed=seed)
        a, b = env.torso_xyz(0), env.torso_xyz(1)
        assert np.hypot(*a[:2]) == pytest.approx(1.15, abs=0.15)
        assert np.hypot(*(a[:2] + b[:2])) < 0.3  # opposite sides of the centre
        assert a[2] - TATAMI_HEIGHT == pytest.approx(0.75, abs=0.1)
        for layout in env.layouts:
            q = env.data.qpos[layout.qpos_adr + 3:layout.qpos_adr + 7]
            assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-12)
        angles.append(math.atan2(a[1], a[0]))
    assert np.ptp(angles) > 3.0  # the pair's orientation is random


def test_face_each_other_turns_forward_axes_towards_the_opponent():
    env = parallel_env(("bug", "ant"), face_each_other=True, init_pos_noise=0.0)
    from envs.bodies import body_info

    for seed in range(5):
        env.reset(seed=seed)
        for i in range(2):
            fx, fy = body_info(env.bodies[i]).forward
            rot = env.data.xmat[env.layouts[i].torso].reshape(3, 3)
            forward = rot @ np.array([fx, fy, 0.0])
            to_opp = env.torso_xyz(1 - i) - env.torso_xyz(i)
            to_opp[2] = 0
            cos = forward @ to_opp / np.linalg.norm(to_opp)
            assert cos > 0.999


def test_out_of_range_actions_are_clipped_by_the_actuators():
    env = settled(("ant", "ant"), steps=2)
    env.step({"player_0": np.full(8, 7.0), "player_1": np.full(8, -3.0)})
    np.testing.assert_allclose(env.data.actuator_force[:8], 1.0)  # ctrl clipped to the range
    np.testing.assert_allclose(env.data.actuator_force[8:], -1.0)
    hinge_torque = env.data.qfrc_actuator  # gear 150 times the clipped control
    np.testing.assert_allclose(hinge_torque[env.layouts[0].qvel][6:], 150.0)
    np.testing.assert_allclose(hinge_torque[env.layouts[1].qvel][6:], -150.0)


@pytest.mark.parametrize(("actions", "message"), [
    ({"player_0": np.zeros(7), "player_1": np.zeros(12)}, "player_0.*shape"),
    ({"player_0": np.zeros(8), "player_1": np.zeros(8)}, "player_1.*shape"),
    ({"player_0": np.array([np.nan] + [0.0] * 7), "player_1": np.zeros(12)}, "player_0.*NaN"),
    ({"player_0": np.zeros(8)}, "player_1"),
])
def test_bad_actions_are_refused_naming_the_player(actions, message):
    env = parallel_env(("ant", "bug"))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(actions)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"bodies": ("ant", "octopus")}, "octopus.*ant, bug, spider"),
    ({"bodies": "ant"}, "pair"),
    ({"max_steps": 0}, "max_steps"),
    ({"height_reference": "sea"}, "height_reference"),
    ({"render_mode": "ascii"}, "render_mode"),
    ({"camera": "drone", "render_mode": "rgb_array"}, "camera"),
    ({"shaping_weight": float("nan")}, "shaping"),
    ({"init_pos_noise": -1.0}, "init_pos_noise"),
    ({"push_out_weight": "ten"}, "push_out"),
])
def test_bad_constructor_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        parallel_env(**kwargs)


def test_state_is_the_full_physics_state():
    env = parallel_env(("ant", "spider"))
    env.reset(seed=0)
    s = env.state()
    assert s.shape == env.state_space.shape == (env.model.nq + env.model.nv,)
    np.testing.assert_array_equal(s[:env.model.nq], env.data.qpos)


def test_a_diverging_simulation_ends_the_bout_without_a_result():
    env = settled(("ant", "bug"), steps=3)
    env.data.qvel[:] = 1e12
    with pytest.warns(UserWarning, match="diverged"):
        _, rewards, terms, truncs, infos = env.step(idle(env))
    assert all(truncs.values()) and not any(terms.values())
    for p in env.possible_agents:
        assert infos[p]["unstable"] and infos[p]["winner"] is None
        assert abs(rewards[p]) < 15  # shaping only
        assert infos[p]["reward_draw"] == infos[p]["reward_win"] == infos[p]["reward_loss"] == 0
    env.reset(seed=1)
    _, _, _, truncs, infos = env.step(idle(env))
    assert not any(truncs.values()) and "unstable" not in infos["player_0"]


def test_divergence_in_the_first_step_of_a_bout_is_detected():
    env = parallel_env(("ant", "ant"))
    env.reset(seed=0)
    env.data.qvel[:] = 1e12
    with pytest.warns(UserWarning, match="diverged"):
        _, _, _, truncs, infos = env.step(idle(env))
    assert truncs["player_0"] and infos["player_0"]["unstable"]
