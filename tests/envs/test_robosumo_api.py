"""RoboSumo against the PettingZoo and Gymnasium API contracts."""

from __future__ import annotations

import itertools
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, max_cycles_test, parallel_api_test, render_test

import envs.robosumo as robosumo
from envs.robosumo import BODIES, parallel_env

MATCHUPS = list(itertools.product(BODIES, BODIES))
OBS_DIM = {"ant": 120, "bug": 164, "spider": 208}
ACT_DIM = {"ant": 8, "bug": 12, "spider": 16}


@pytest.mark.parametrize("bodies", MATCHUPS, ids=lambda b: "-vs-".join(b))
def test_parallel_api(bodies):
    env = parallel_env(bodies)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unbounded position/velocity bounds are intended
        parallel_api_test(env, num_cycles=300)
    obs, _ = env.reset(seed=1)
    for player, body in zip(env.possible_agents, bodies, strict=True):
        assert obs[player].shape == (OBS_DIM[body],)
        assert obs[player].dtype == np.float32
        assert env.action_space(player).shape == (ACT_DIM[body],)
        assert env.observation_space(player) is env.observation_space(player)
        assert env.action_space(player) is env.action_space(player)


def test_aec_api():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api_test(robosumo.env(("bug", "spider")), num_cycles=300)


def test_max_cycles():
    max_cycles_test(robosumo)


def test_render_both_modes(fake_viewer):
    def env_fn(render_mode=None):
        return robosumo.env(("ant", "spider"), render_mode=render_mode, width=160, height=120)

    render_test(env_fn)
    assert fake_viewer, "human mode never opened its viewer"
    assert all(v.closed for v in fake_viewer), "close() must close the human viewer"
    assert sum(v.syncs for v in fake_viewer) >= 5


@pytest.mark.parametrize("bodies", MATCHUPS, ids=lambda b: "-vs-".join(b))
def test_gymnasium_check_env(bodies, fake_viewer):
    env_id = f"RoboSumo-{bodies[0].capitalize()}-vs-{bodies[1].capitalize()}-v0"
    env = gymnasium.make(env_id, render_mode="rgb_array", width=96, height=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env.unwrapped)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (OBS_DIM[bodies[0]],)
    assert env.action_space.shape == (ACT_DIM[bodies[0]],)
    env.close()


def test_multi_step_seed_determinism():
    """Same seed -> identical trajectories over several episodes (PettingZoo's own test stops
    after one step in 1.27)."""

    def rollout(seed):
        env = parallel_env(("bug", "ant"))
        rng = np.random.default_rng(123)
        out = []
        for episode in range(3):
            obs, _ = env.reset(seed=seed + episode)
            out.append(obs)
            for _ in range(60):
                if not env.agents:
                    break
                acts = {p: rng.uniform(-1, 1, env.action_space(p).shape) for p in env.agents}
                out.append(env.step(acts))
        return out

    a, b, c = rollout(7), rollout(7), rollout(8)
    assert len(a) > 60
    assert gymnasium.utils.env_checker.data_equivalence(a, b, exact=True)
    assert not gymnasium.utils.env_checker.data_equivalence(a, c)


def test_unseeded_resets_differ_and_seeded_reset_reseeds():
    env = parallel_env(("ant", "ant"))
    first, _ = env.reset(seed=3)
    second, _ = env.reset()
    again, _ = env.reset(seed=3)
    assert not np.array_equal(first["player_0"], second["player_0"])
    np.testing.assert_array_equal(first["player_0"], again["player_0"])


def test_gym_view_matches_parallel_env_with_idle_opponent():
    gym_env = gymnasium.make("RoboSumo-Ant-vs-Bug-v0", opponent="idle")
    _obs, _ = gym_env.reset(seed=5)
    sumo = gym_env.unwrapped.sumo
    actions = np.random.default_rng(0).uniform(-1, 1, (20, 8))
    twin = parallel_env(("ant", "bug"))
    twin.reset()
    twin.data.qpos[:], twin.data.qvel[:] = sumo.data.qpos, sumo.data.qvel
    for a in actions:
        o, r, term, trunc, _info = gym_env.step(a)
        o2, r2, *_ = twin.step({"player_0": a, "player_1": np.zeros(12)})
        np.testing.assert_array_equal(o, o2["player_0"])
        assert r == r2["player_0"]
        if term or trunc:
            break


def test_gym_callable_opponent_sees_its_observations_and_is_reset():
    class Opponent:
        def __init__(self):
            self.resets, self.shapes = 0, set()

        def reset(self):
            self.resets += 1

        def __call__(self, obs):
            self.shapes.add(obs.shape)
            return np.zeros(16)

    opponent = Opponent()
    env = gymnasium.make("RoboSumo-Bug-vs-Spider-v0", opponent=opponent)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    env.reset()
    assert opponent.resets == 2
    assert opponent.shapes == {(208,)}


def test_gym_opponent_reset_takes_a_seed_from_the_env_seed():
    class Seeded:
        def __init__(self):
            self.seeds = []

        def reset(self, seed=None):
            self.seeds.append(seed)

        def __call__(self, obs):
            return np.zeros((*obs.shape[:-1], 8))

    def seeds_after(make, seed):
        opponent = Seeded()
        env = make(opponent)
        env.reset(seed=seed)
        env.reset()
        return opponent.seeds

    from envs.robosumo.gym_vector import SumoGymVectorEnv

    for make in (lambda o: gymnasium.make("RoboSumo-Ant-vs-Ant-v0", opponent=o),
                 lambda o: SumoGymVectorEnv(2, opponent=o, nthread=1)):
        first, again, other = seeds_after(make, 7), seeds_after(make, 7), seeds_after(make, 8)
        assert len(first) == 2 and first == again and first != other
        assert first[0] != first[1]  # each reset a new seed


def test_an_opponent_reset_without_a_seed_leaves_the_bouts_as_they_were():
    class Plain:
        def reset(self, n=1):  # takes an argument, but not a seed: called as reset()
            assert n == 1

        def __call__(self, obs):
            return np.zeros(8)

    def starts(opponent):
        env = gymnasium.make("RoboSumo-Ant-vs-Ant-v0", opponent=opponent)
        return [env.reset(seed=0)[0], env.reset()[0], env.reset()[0]]

    for a, b in zip(starts(Plain()), starts("idle"), strict=True):
        np.testing.assert_array_equal(a, b)


def test_gym_rejects_unknown_opponent():
    with pytest.raises(ValueError, match="random"):
        gymnasium.make("RoboSumo-Ant-vs-Ant-v0", opponent="strong")


def test_all_matchups_registered():
    ids = {i for i in gymnasium.registry if i.startswith("RoboSumo-") and "-Zoo" not in i}
    assert len(ids) == 18  # 9 matchups, each also as a -Batched-v0 id for make_vec
    # (agents registers the -Zoo-v0 ids, against the zoo's agents, when it is imported)
    assert {"RoboSumo-Spider-vs-Bug-v0", "RoboSumo-Spider-vs-Bug-Batched-v0"} <= ids
