"""RL^2: its inputs, a memory that survives episode ends but not trials, trial-long returns,
locomotion trials, checkpoints and resumable runs."""

import numpy as np
import pytest
import torch

import agents
from agents.checkpoint import CheckpointMeta
from agents.losses import gae
from agents.ppo import PPOConfig
from agents.rl2 import (
    RL2Agent,
    RL2Config,
    RL2Policy,
    RL2TrainConfig,
    RL2Trainer,
    load_rl2,
    save_rl2,
)
from agents.rl2.train import _trial_rollout


class Spy:
    """Wraps ``RL2Policy.act`` to record the inputs, states and starts it is given."""

    def __init__(self, policy: RL2Policy) -> None:
        self.calls: list[tuple[torch.Tensor, torch.Tensor, np.ndarray]] = []
        original = policy.act

        def act(inputs, state, starts, *args, **kwargs):
            self.calls.append((inputs.clone(), state.clone(), np.array(starts)))
            return original(inputs, state, starts, *args, **kwargs)

        policy.act = act


def _agent(seed: int = 0, reward_scale: float = 0.5) -> tuple[RL2Agent, Spy]:
    torch.manual_seed(seed)
    policy = RL2Policy(3, 2, RL2Config(reward_scale=reward_scale, normalize_obs=False))
    spy = Spy(policy)
    return RL2Agent(policy, seed=seed), spy


def test_inputs_hold_previous_action_reward_and_a_time_limit_done():
    agent, spy = _agent()
    obs = np.array([0.1, 0.2, 0.3])
    agent.act(obs)
    agent.observe(np.array([3.0, -0.25]), 2.5, obs, terminated=False, truncated=True)
    agent.act(obs)
    first, second = spy.calls[0][0][0], spy.calls[1][0][0]
    torch.testing.assert_close(first, torch.tensor([0.1, 0.2, 0.3, 0.0, 0.0, 0.0, 1.0]))
    # action clipped to [-1, 1]; reward scaled by 0.5; done = 1 after the time-limit end
    torch.testing.assert_close(second, torch.tensor([0.1, 0.2, 0.3, 1.0, -0.25, 1.25, 1.0]))
    agent.observe(np.zeros(2), -1.0, obs, terminated=False, truncated=False)
    agent.act(obs)
    assert spy.calls[2][0][0, -1] == 0.0 and spy.calls[2][0][0, -2] == -0.5


def test_hidden_state_survives_episode_ends_and_is_reset_between_trials():
    agent, spy = _agent()
    obs = np.ones(3)
    for step in range(6):  # two episodes of three steps
        agent.act(obs)
        agent.observe(np.zeros(2), 1.0, obs, terminated=False, truncated=step % 3 == 2)
    agent.act(obs)
    starts = [bool(c[2][0]) for c in spy.calls]
    assert starts == [True] + [False] * 6  # only the first step of the trial starts fresh
    after_end = spy.calls[3][1]  # the state entering episode 2
    assert after_end.abs().sum() > 0
    agent.reset()
    agent.act(obs)
    assert spy.calls[-1][1].abs().sum() == 0 and bool(spy.calls[-1][2][0])


@pytest.mark.parametrize("per_round", [False, True])
def test_adapt_starts_a_new_trial_only_when_trials_are_rounds(per_round):
    agent, spy = _agent()
    agent.trial_per_round = per_round
    obs = np.ones(3)
    for step in range(4):
        agent.act(obs)
        agent.observe(np.ones(2), 1.0, obs, terminated=step == 3, truncated=False)
    agent.adapt()  # a round boundary
    agent.act(obs)
    state, start = spy.calls[-1][1], bool(spy.calls[-1][2][0])
    assert start is per_round
    assert bool(state.abs().sum() == 0) is per_round
    assert bool(spy.calls[-1][0][0, 3:6].abs().sum() == 0) is per_round  # prev. action, reward


def test_trial_per_episode_forgets_every_bout():
    agent, spy = _agent()
    agent.trial_per_episode = True
    obs = np.ones(3)
    for step in range(6):  # two episodes of three steps
        agent.act(obs)
        agent.observe(np.ones(2), 1.0, obs, terminated=step % 3 == 2, truncated=False)
    starts = [bool(c[2][0]) for c in spy.calls]
    assert starts == [True, False, False, True, False, False]
    second = spy.calls[3]  # the first step of episode 2: as the first of a trial
    assert second[1].abs().sum() == 0
    torch.testing.assert_close(second[0], spy.calls[0][0])  # no previous action or reward


def test_adapt_none_of_a_robosumo_rl2_checkpoint_is_its_memoryless_self():
    frozen = agents.load("zoo:rl2-sumo-bug", adaptation="none", seed=0)
    own = agents.load("zoo:rl2-sumo-bug", seed=0)
    assert isinstance(frozen, RL2Agent) and frozen.name == "zoo:rl2-sumo-bug[none]"
    assert frozen.trial_per_episode and not own.trial_per_episode
    with pytest.raises(ValueError, match="adapt their own way"):
        agents.load("zoo:rl2-sumo-bug", adaptation="tracking")


def test_trial_rollout_runs_returns_across_episode_ends():
    t, n = 20, 2
    values = torch.randn(t, n)
    buf = {"logp": torch.zeros(t, n), "values": values, "rewards": torch.ones(t, n)}
    r = _trial_rollout(torch.zeros(t, n, 7), torch.zeros(t, n, 2), buf,
                       torch.zeros(t, 4, n, 8))
    assert r.terminated[:-1].sum() == 0 and r.terminated[-1].all() and r.dones[-1].all()
    assert r.starts[0].all() and r.starts[1:].sum() == 0
    torch.testing.assert_close(r.next_values[:-1], values[1:])
    adv, _ = gae(r.rewards, r.values, r.next_values, r.terminated, r.dones, 0.9, 1.0)
    # at step 9 (say, the last of a 10-step episode) the advantage still sees step 10's reward
    expected = sum(0.9 ** k for k in range(t - 9)) - values[9]
    torch.testing.assert_close(adv[9], expected, atol=1e-4, rtol=0)


def _small_config(**kwargs) -> RL2TrainConfig:
    return RL2TrainConfig(num_envs=3, episodes=3, episode_steps=10, total_steps=180,
                          snapshot_every=1, ppo=PPOConfig(epochs=1, minibatches=3), **kwargs)


def test_trial_sampler_follows_damage_chains_and_keeps_memory(tmp_path):
    trainer = RL2Trainer(_small_config(), tmp_path / "run", tensorboard=False)
    rollout, stats = trainer.sampler.collect()
    assert rollout.obs.shape == (30, 3, trainer.policy.input_dim)
    done_flags = rollout.obs[:, :, -1]
    assert done_flags[[0, 10, 20]].eq(1).all() and done_flags[1:10].eq(0).all()
    assert rollout.states[10].abs().sum() > 0  # episode 2 starts from the carried state
    assert all(d.scale == 0.0 for d in trainer.envs.damages)  # the chains' last episode
    assert np.isfinite(stats["trial_return"])


def test_training_run_snapshots_logs_and_resumes(tmp_path):
    config = _small_config()
    trainer = RL2Trainer(config, tmp_path / "run", tensorboard=False)
    row = trainer.iterate()
    assert row["env_steps"] == 90 and trainer.lineage.latest() == 1
    resumed = RL2Trainer(config, tmp_path / "run", tensorboard=False)
    assert resumed.iteration == 1
    for (k, v), w in zip(trainer.policy.state_dict().items(),
                         resumed.policy.state_dict().values(), strict=True):
        torch.testing.assert_close(v, w, msg=k)
    with pytest.raises(ValueError, match="differs in seed"):
        RL2Trainer(_small_config(seed=5), tmp_path / "run", tensorboard=False)


def test_checkpoint_round_trip_reproduces_a_game(tmp_path):
    torch.manual_seed(1)
    policy = RL2Policy(3, 2, RL2Config(reward_scale=0.1))
    policy.norm.update(torch.randn(50, 3) * 4 + 1)
    meta = CheckpointMeta(kind="rl2", body=None, env_id=None, config={})
    path = save_rl2(tmp_path / "rl2.safetensors", policy, meta)
    loaded, _ = load_rl2(path)
    assert loaded.config == policy.config
    a, b = RL2Agent(policy, seed=4), agents.load(str(path), seed=4)
    assert isinstance(b, RL2Agent)
    rng = np.random.default_rng(0)
    observations = rng.normal(size=(8, 3))
    for agent in (a, b):
        agent.reset()
    for step, obs in enumerate(observations):
        x, y = a.act(obs), b.act(obs)
        np.testing.assert_allclose(x, y)
        for agent in (a, b):
            agent.observe(x, float(step), obs, False, step == 3)
    assert not b.trial_per_round  # a locomotion (or unknown) agent's trial is the whole game
    sumo = save_rl2(tmp_path / "sumo.safetensors", policy,
                    CheckpointMeta(kind="rl2", body=None, env_id="RoboSumo-Bug-vs-Bug-v0",
                                   config={}))
    assert agents.load(str(sumo)).trial_per_round  # trained on trials of bouts vs one version


def test_config_errors_say_what_is_accepted():
    with pytest.raises(ValueError, match="NonstationaryLocomotion"):
        RL2TrainConfig(env="CartPole-v1")
    with pytest.raises(ValueError, match="needs opponents"):
        RL2TrainConfig(env="RoboSumo-Ant-vs-Ant-v0")
    with pytest.raises(ValueError, match="multiple of bptt"):
        RL2TrainConfig(episodes=3, episode_steps=7)
    with pytest.raises(ValueError, match="reward_scale must be positive"):
        RL2Config(reward_scale=0.0)


def test_arena_train_rl2_command_trains(tmp_path, capsys):
    import argparse

    from arena.meta_cli import add_rl2_parser

    parser = argparse.ArgumentParser()
    add_rl2_parser(parser.add_subparsers(dest="algorithm"))
    args = parser.parse_args(["rl2", "--total-steps", "10", "--num-envs", "2", "--episodes", "2",
                              "--epochs", "1", "--minibatches", "2", "--run-dir",
                              str(tmp_path / "run"), "--no-progress", "--no-tensorboard"])
    assert args.func(args) == 0
    assert "1 iterations" in capsys.readouterr().out
    policy, meta = load_rl2(tmp_path / "run" / "lineage" / "run" / "v0001.safetensors")
    assert meta.kind == "rl2" and meta.body == "bug" and policy.input_dim == 37 + 12 + 2


def test_saved_checkpoints_are_never_mistaken_for_pickles(tmp_path):
    from agents.checkpoint import load_checkpoint, save_checkpoint

    tensors = {"w": torch.zeros(2)}
    for n in range(260):  # header lengths through every residue modulo 256
        meta = CheckpointMeta(kind="rl2", body=None, env_id=None, config={"x": "a" * n})
        path = save_checkpoint(tmp_path / "c.safetensors", tensors, meta)
        load_checkpoint(path)


def test_robosumo_trials_keep_memory_across_bouts_and_change_opponents(tmp_path):
    from agents.lineage import Lineage
    from agents.policy import Policy, save_policy
    from envs.robosumo import SumoVectorEnv

    probe = SumoVectorEnv(1, ("ant", "ant"))
    obs_dim = probe.observation_spaces["player_1"].shape[0]
    act_dim = probe.action_spaces["player_1"].shape[0]
    probe.close()
    lineage = Lineage(tmp_path / "zoo", "opp")
    for version in (1, 2):
        meta = CheckpointMeta(kind="ppo-mlp", body="ant", env_id=None, config={},
                              lineage="opp", version=version)
        save_policy(lineage.path(version), Policy(obs_dim, act_dim), meta)
    config = RL2TrainConfig(env="RoboSumo-Ant-vs-Ant-v0", num_envs=2, episodes=2,
                            episode_steps=15, rollout=70, total_steps=140, reward_scale=0.01,
                            opponents=str(lineage.directory), snapshot_every=1,
                            ppo=PPOConfig(epochs=1, minibatches=2))
    trainer = RL2Trainer(config, tmp_path / "run", tensorboard=False)
    rollout, stats = trainer.sampler.collect()
    assert stats["bouts"] >= 8  # bouts of at most 15 steps in 70 steps, 2 arenas
    ends, starts, done_in = rollout.terminated, rollout.starts, rollout.obs[:, :, -1]
    for i in range(2):
        trial_ends = np.flatnonzero(ends[:, i].numpy()).tolist()
        bout_starts = np.flatnonzero(done_in[:, i].numpy()).tolist()
        assert len(bout_starts) >= 2 * len(trial_ends) >= 2
        # starts only right after trial ends; bouts starting inside a trial keep the state
        assert np.flatnonzero(starts[:, i].numpy()).tolist() == [0] + [t + 1 for t in trial_ends
                                                                  if t + 1 < 70]
        inner = [t for t in bout_starts if starts[t, i] == 0]
        assert inner and all(rollout.states[t, :, i].abs().sum() > 0 for t in inner)
    row = trainer.iterate()
    assert row["env_steps"] == 140 and "value" in row


def test_robosumo_opponents_may_be_a_zoo_reference(tmp_path):
    config = RL2TrainConfig(env="RoboSumo-Bug-vs-Bug-v0", opponents="zoo:selfplay-bug",
                            num_envs=2, rollout=10, episodes=2, total_steps=20, nthread=1,
                            ppo=PPOConfig(epochs=1, minibatches=1, bptt=10))
    trainer = RL2Trainer(config, tmp_path / "run", tensorboard=False)
    assert trainer.sampler.lineage.name == "selfplay-bug"
    assert set(trainer.sampler.versions) <= set(trainer.sampler.lineage.versions())
