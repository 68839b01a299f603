"""RoboSumo-X-vs-Y-Zoo-v0: the Gymnasium ids whose default opponent is the zoo's agent."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils import seeding

import agents
from agents.checkpoint import CheckpointMeta
from agents.lineage import Lineage
from agents.policy import Policy, load_policy, save_policy
from agents.refs import zoo_dir
from agents.sumo_ids import DEFAULT_OPPONENTS, PolicyOpponent, batched_gym_id, gym_id
from envs.robosumo import SumoEnv
from envs.robosumo.gym_vector import SumoGymVectorEnv

BODIES = ("ant", "bug", "spider")


def _meta(body: str, kind: str = "ppo-mlp") -> CheckpointMeta:
    return CheckpointMeta(kind=kind, body=body, env_id=f"RoboSumo-{body}", config={})


def test_every_matchup_has_a_zoo_id_and_a_batched_twin_next_to_v0():
    for a in BODIES:
        for b in BODIES:
            for env_id in (gym_id(a, b), batched_gym_id(a, b)):
                assert env_id in gymnasium.registry
                assert gymnasium.spec(env_id).max_episode_steps == 500
            assert gym_id(a, b).replace("-Zoo-v0", "-v0") in gymnasium.registry  # v0 stays
    # a family of its own: nothing makes the random-opponent v0 ids out of date
    assert not any(i.startswith("RoboSumo-") and i.endswith("-v1") for i in gymnasium.registry)


def test_the_default_opponents_are_pinned_snapshots_that_the_zoo_holds():
    for body, ref in DEFAULT_OPPONENTS.items():
        name, _, version = ref.removeprefix("zoo:").partition("@")
        assert name == f"selfplay-{body}"
        # replacing the zoo's lineage must come with a new pin (and a new VERSION of the ids)
        assert int(version) in Lineage(zoo_dir(), name).versions(), ref
    env = gymnasium.make("RoboSumo-Ant-vs-Bug-Zoo-v0")
    opponent = env.unwrapped.opponent
    assert isinstance(opponent, PolicyOpponent)
    assert opponent.ref == DEFAULT_OPPONENTS["bug"] and opponent.body == "bug"
    pinned, _ = load_policy(Lineage(zoo_dir(), "selfplay-bug").path(123))
    for key, value in pinned.state_dict().items():
        torch.testing.assert_close(opponent.policy.state_dict()[key], value)
    env.close()


def test_player_1_acts_as_its_policy_step_for_step():
    """The zoo env equals a SumoEnv in which player_1 takes the zoo policy's mean action."""
    env = gymnasium.make("RoboSumo-Bug-vs-Ant-Zoo-v0", deterministic=True)
    policy, _ = load_policy(agents.resolve(DEFAULT_OPPONENTS["ant"]))
    obs, _ = env.reset(seed=5)
    rng, _ = seeding.np_random(5)  # the arena's seed, as SumoGymEnv draws it
    reference = SumoEnv(bodies=("bug", "ant"))
    ref_obs, _ = reference.reset(seed=int(rng.integers(2**31)))
    np.testing.assert_array_equal(obs, ref_obs["player_0"])
    actions = np.random.default_rng(1).uniform(-1, 1, (25, *env.action_space.shape))
    for a0 in actions:
        a1 = policy.act(ref_obs["player_1"][None], deterministic=True).action[0]
        obs, reward, term, trunc, _ = env.step(a0)
        ref_obs, ref_rew, ref_term, ref_trunc, _ = reference.step({"player_0": a0,
                                                                    "player_1": a1})
        np.testing.assert_array_equal(obs, ref_obs["player_0"])
        assert reward == ref_rew["player_0"]
        assert (term, trunc) == (ref_term["player_0"], ref_trunc["player_0"])
        if term or trunc:
            break


def test_a_seeded_reset_replays_the_same_bout_with_a_sampling_opponent():
    env = gymnasium.make("RoboSumo-Ant-vs-Ant-Zoo-v0")

    def bout(seed):
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        trace = [obs]
        for _ in range(30):
            obs, *_ = env.step(rng.uniform(-1, 1, env.action_space.shape))
            trace.append(obs)
        return np.array(trace)

    # one env: the opponent's noise must restart from the reset's seed, not run on
    first, other, again = bout(3), bout(4), bout(3)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[5:], other[5:])
    # the opponent samples: a mean-action opponent plays another bout from the same seed
    env = gymnasium.make("RoboSumo-Ant-vs-Ant-Zoo-v0", deterministic=True)
    assert not np.array_equal(bout(3)[5:], first[5:])


def test_the_zoo_ids_still_take_the_builtins_a_callable_and_any_policy_reference(tmp_path):
    for opponent in ("idle", "random", lambda obs: np.zeros(8)):
        env = gymnasium.make("RoboSumo-Ant-vs-Ant-Zoo-v0", opponent=opponent)
        assert env.unwrapped.opponent is opponent
    torch.manual_seed(0)
    path = save_policy(tmp_path / "mine.safetensors", Policy(120, 8), _meta("ant"))
    env = gymnasium.make("RoboSumo-Bug-vs-Ant-Zoo-v0", opponent=str(path))
    env.reset(seed=0)
    env.step(env.action_space.sample())
    assert env.unwrapped.opponent.ref == str(path)


@pytest.mark.parametrize(("opponent", "message"), [
    ("zoo:nobody", "unknown zoo agent 'nobody'"),
    ("zoo:selfplay-bug", "controls a bug; player_1 here is an ant"),
    ("zoo:maml-sumo-bug", "is a maml-sumo agent; the RoboSumo ids take a PPO policy"),
    (3, "opponent must be 'zoo', a PPO policy reference, 'random', 'idle' or a callable"),
    ("zoo:ppo-locomotion-bug", "reads 37 values and acts with 12; player_1 of this matchup "
                               "observes 164"),
])
def test_a_bad_opponent_is_refused_with_what_is_accepted(opponent, message):
    matchup = "RoboSumo-Ant-vs-Bug-Zoo-v0" if opponent == "zoo:ppo-locomotion-bug" else (
        "RoboSumo-Ant-vs-Ant-Zoo-v0")
    with pytest.raises(ValueError, match=message):
        gymnasium.make(matchup, opponent=opponent)


def test_deterministic_is_refused_for_an_opponent_without_a_policy():
    with pytest.raises(ValueError, match="deterministic=True applies to a policy opponent"):
        gymnasium.make("RoboSumo-Ant-vs-Ant-Zoo-v0", opponent="idle", deterministic=True)


def test_the_batched_zoo_id_drives_every_arena_with_the_zoo_policy():
    venv = gymnasium.make_vec("RoboSumo-Ant-vs-Bug-Zoo-Batched-v0", num_envs=3, nthread=1,
                              deterministic=True)
    assert isinstance(venv, SumoGymVectorEnv)
    policy, _ = load_policy(agents.resolve(DEFAULT_OPPONENTS["bug"]))  # the pin, not the newest
    venv.reset(seed=0)
    for _ in range(5):
        expected = policy.act(venv._opponent_obs, deterministic=True).action
        np.testing.assert_allclose(venv._opponent_actions(), expected, rtol=1e-6)
        venv.step(venv.action_space.sample())
    venv.close()


def test_a_recurrent_opponent_is_refused_by_the_batched_ids(tmp_path):
    from agents.policy import PolicyConfig

    policy = Policy(164, 12, config=PolicyConfig(arch="lstm", hidden=16))
    path = save_policy(tmp_path / "lstm.safetensors", policy, _meta("bug", "ppo-lstm"))
    with pytest.raises(ValueError, match="is recurrent; the batched ids"):
        PolicyOpponent(str(path), "bug", batched=True)
    single = PolicyOpponent(str(path), "bug")  # one arena: the state restarts at each reset
    single.reset(0)
    a = single(np.zeros(164, dtype=np.float32))
    assert a.shape == (12,) and single.state is not None
    single.reset(0)
    assert single.state is None and np.array_equal(single(np.zeros(164, np.float32)), a)
