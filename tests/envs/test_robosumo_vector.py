"""The batched arenas reproduce the single env exactly, and the vectorised rules its scalar ones."""

from __future__ import annotations

import numpy as np
import pytest

from envs.robosumo import SumoVectorEnv, parallel_env

KW = dict(stay_in_center_weight=0.2, attack_weight=0.01, max_steps=40)


def single_rollouts(bodies, seeds, actions, **kw):
    """Per arena: the list of (obs0, obs1, rewards, terminated, truncated, winner) per step."""
    out = []
    for i, seed in enumerate(seeds):
        env = parallel_env(bodies, **kw)
        obs, _ = env.reset(seed=seed)
        rows = [(obs["player_0"], obs["player_1"])]
        for a0, a1 in zip(actions[0][:, i], actions[1][:, i], strict=True):
            obs, rew, term, trunc, info = env.step({"player_0": a0, "player_1": a1})
            rows.append((obs["player_0"], obs["player_1"],
                         np.array([rew["player_0"], rew["player_1"]]), term["player_0"],
                         trunc["player_0"], info["player_0"]["winner"], info["player_0"]))
            if not env.agents:
                obs, _ = env.reset()
                rows.append((obs["player_0"], obs["player_1"]))
        out.append(rows)
    return out


@pytest.mark.parametrize("bodies", [("ant", "ant"), ("bug", "spider")])
@pytest.mark.parametrize("nthread", [1, 2])
def test_vector_arenas_equal_single_envs(bodies, nthread):
    n, steps = 4, 90
    rng = np.random.default_rng(0)
    vec = SumoVectorEnv(n, bodies, nthread=nthread, **KW)
    acts = [rng.uniform(-1.2, 1.2, (steps, n, vec.action_spaces[p].shape[0]))
            for p in ("player_0", "player_1")]
    expected = single_rollouts(bodies, [10 + i for i in range(n)], acts, **KW)
    obs, _ = vec.reset(seed=10)
    cursor = [0] * n
    for i in range(n):
        np.testing.assert_array_equal(obs[0][i], expected[i][0][0])
        np.testing.assert_array_equal(obs[1][i], expected[i][0][1])
    ended = 0
    for t in range(steps):
        obs, rewards, term, trunc, info = vec.step((acts[0][t], acts[1][t]))
        for i in range(n):
            cursor[i] += 1
            o0, o1, rew, e_term, e_trunc, e_winner, e_info = expected[i][cursor[i]]
            np.testing.assert_array_equal(info["final_obs"][0][i], o0)
            np.testing.assert_array_equal(info["final_obs"][1][i], o1)
            np.testing.assert_allclose(rewards[i], rew, rtol=1e-12, atol=1e-9)
            assert term[i] == e_term and trunc[i] == e_trunc
            assert info["winner"][i] == (-1 if e_winner is None else int(e_winner[-1]))
            for key in ("reward_win", "reward_draw", "reward_move_to_opponent", "reward_attack"):
                assert info[key][i, 0] == pytest.approx(e_info[key], rel=1e-12, abs=1e-9)
            if term[i] or trunc[i]:
                ended += 1
                cursor[i] += 1  # the single env's reset observation
                np.testing.assert_array_equal(obs[0][i], expected[i][cursor[i]][0])
                assert info["episode_steps"][i] > 0
            else:
                np.testing.assert_array_equal(obs[0][i], o0)
                assert info["episode_steps"][i] == 0
    assert ended >= n, "the test should cover bouts that end and restart"


def test_vector_arena_rejects_bad_actions_and_seeds():
    vec = SumoVectorEnv(3, ("ant", "bug"))
    with pytest.raises(RuntimeError, match="reset"):
        vec.step((np.zeros((3, 8)), np.zeros((3, 12))))
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=r"player_1.*shape"):
        vec.step((np.zeros((3, 8)), np.zeros((3, 8))))
    bad = np.zeros((3, 8))
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"player_0.*NaN"):
        vec.step((bad, np.zeros((3, 12))))
    with pytest.raises(ValueError, match="one seed per arena"):
        vec.reset(seed=[1, 2])
    with pytest.raises(ValueError, match="num_envs"):
        SumoVectorEnv(0)


def test_divergence_in_one_arena_ends_only_that_bout():
    vec = SumoVectorEnv(3, ("ant", "ant"), nthread=1)
    vec.reset(seed=0)
    vec._qvel[1] = 1e12
    _, rewards, term, trunc, info = vec.step((np.zeros((3, 8)), np.zeros((3, 8))))
    assert info["unstable"].tolist() == [False, True, False]
    assert trunc.tolist() == [False, True, False] and not term.any()
    assert info["reward_draw"][1].tolist() == [0.0, 0.0]
    assert np.abs(rewards[1]).max() < 15


def test_fallen_and_out_say_why_a_bout_was_won_and_are_false_while_it_goes_on():
    envs = SumoVectorEnv(6, ("ant", "ant"), nthread=1)
    envs.reset(seed=11)
    rng = np.random.default_rng(0)
    decided = 0
    for _ in range(200):
        _, _, term, _, info = envs.step((rng.uniform(-1, 1, (6, 8)), np.zeros((6, 8))))
        lost = info["fallen"] | info["out"]
        assert lost.shape == (6, 2)
        assert not lost[~term].any()  # a bout goes on only while neither has lost
        for i in np.flatnonzero(term):
            w = int(info["winner"][i])
            if w >= 0:
                assert lost[i, 1 - w] and not lost[i, w]
                decided += 1
            else:
                assert lost[i].all()  # both at once
    assert decided >= 6  # random torques topple or walk out within 200 steps
