"""Agents that adapt during a game: MAMLAgent (Algorithm 2), TrackingAgent, their buffer, and the
MAML meta-training run that produces MAMLAgent checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call

import agents
from agents.adaptive import MAMLAgent, TrackingAgent, _EpisodeBuffer
from agents.evaluate import nonstationary_returns
from agents.logger import read_metrics
from agents.maml import AdaptConfig, StepSizes, adapt, importance_weights, parameters_of
from agents.maml_train import MetaConfig, MetaTrainer, load_maml
from agents.nets import log_prob
from agents.policy import Policy, PolicyConfig
from agents.ppo import PPOConfig
from envs.nonstationary_locomotion import train_test_split

OBS, ACT = 3, 2


def make_policy(seed: int = 0) -> Policy:
    torch.manual_seed(seed)
    return Policy(OBS, ACT, PolicyConfig(hidden=8))


def make_maml_agent(steps: int = 2, step_size: float = 0.1, buffer_episodes: int = 3,
                    seed: int | None = 0) -> MAMLAgent:
    policy = make_policy()
    config = AdaptConfig(steps=steps, step_size=step_size)
    return MAMLAgent(policy, StepSizes(parameters_of(policy.net), config), config,
                     buffer_episodes=buffer_episodes, seed=seed)


def play_episode(agent, steps: int = 6, seed: int = 0, end: bool = True) -> list[np.ndarray]:
    """Feed an episode of random observations; reward -|a - 0.5|^2. Returns the observations."""
    rng = np.random.default_rng(seed)
    seen = []
    for t in range(steps):
        obs = rng.normal(size=OBS).astype(np.float32)
        seen.append(obs)
        action = agent.act(obs)
        assert action.shape == (ACT,)
        reward = -float(np.square(action - 0.5).sum())
        agent.observe(action, reward, obs, False, end and t == steps - 1)
    return seen


def snapshot(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in params.items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ the episode buffer


def test_buffer_keeps_only_the_last_episodes_and_pads_them():
    buffer = _EpisodeBuffer(2)
    for e, length in enumerate((4, 3, 2)):
        for t in range(length):
            buffer.record_act(torch.full((OBS,), float(10 * e + t)), np.full(ACT, e),
                              -float(e), 0.0)
            buffer.record_outcome(float(e), t == length - 1)
    assert len(buffer.done) == 2
    ep = buffer.episodes()
    assert ep.obs.shape == (2, 3, OBS) and ep.actions.shape == (2, 3, ACT)
    torch.testing.assert_close(ep.mask, torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]))
    torch.testing.assert_close(ep.obs[:, 0, 0], torch.tensor([10.0, 20.0]))  # episodes 1, 2
    torch.testing.assert_close(ep.rewards, torch.tensor([[1.0, 1.0, 1.0], [2.0, 2.0, 0.0]]))
    torch.testing.assert_close(ep.behaviour_logp,
                               torch.tensor([[-1.0, -1.0, -1.0], [-2.0, -2.0, 0.0]]))
    buffer.clear()
    assert not buffer.done and not buffer.current.obs
    with pytest.raises(ValueError, match="at least 1 episode"):
        _EpisodeBuffer(0)


# ------------------------------------------------------------------ MAMLAgent


def test_maml_agent_keeps_theta_until_an_episode_ends():
    agent = make_maml_agent()
    theta = snapshot(parameters_of(agent.policy.net))
    play_episode(agent, end=False)
    agent.adapt()
    assert agent.adaptations == 0
    assert same(agent.phi, theta)


def test_maml_agent_adapts_after_an_episode_and_reset_restores_theta():
    agent = make_maml_agent()
    theta = snapshot(parameters_of(agent.policy.net))
    first = [agent.act(np.ones(OBS)) for _ in range(3)]
    agent.reset()
    play_episode(agent)
    agent.adapt()
    assert agent.adaptations == 1
    assert all(not torch.equal(agent.phi[k], theta[k]) for k in theta)  # policy and value move
    assert same(snapshot(parameters_of(agent.policy.net)), theta)  # theta itself is untouched
    agent.reset()
    assert same(agent.phi, theta)
    assert not agent.buffer.done and not agent.buffer.current.obs
    assert agent.adaptations == 0
    again = [agent.act(np.ones(OBS)) for _ in range(3)]  # a seeded agent replays its noise
    np.testing.assert_array_equal(np.array(first), np.array(again))


def test_maml_agent_buffer_keeps_the_last_k_episodes():
    agent = make_maml_agent(buffer_episodes=2)
    played = [play_episode(agent, steps=4 + e, seed=e) for e in range(3)]
    assert len(agent.buffer.done) == 2
    ep = agent.buffer.episodes()
    assert ep.obs.shape[:2] == (2, 6)
    norm = agent.policy.normalize
    torch.testing.assert_close(ep.obs[0, :5], norm(np.array(played[1])))
    torch.testing.assert_close(ep.obs[1, :6], norm(np.array(played[2])))
    assert ep.mask[0].tolist() == [1, 1, 1, 1, 1, 0]


def test_maml_agent_weights_its_update_by_the_policy_that_acted():
    """Episode 1 is played by theta, episode 2 by phi_1; the next phi is recomputed from theta on
    both, each step weighted by pi_theta / pi_behaviour (truncated), as eq. 9 says."""
    agent = make_maml_agent(steps=1, step_size=0.5)
    net, theta = agent.policy.net, agent.theta
    play_episode(agent, seed=1)
    agent.adapt()
    phi_1 = snapshot(agent.phi)
    play_episode(agent, seed=2)
    ep = agent.buffer.episodes()
    for params, e in ((theta, 0), (phi_1, 1)):  # act() recorded the behaviour log-probs
        mean, log_std, _ = functional_call(net, params, (ep.obs[e],))
        torch.testing.assert_close(log_prob(mean, log_std, ep.actions[e]), ep.behaviour_logp[e])
    with torch.no_grad():
        mean, log_std, _ = functional_call(net, theta, (ep.obs,))
        w = importance_weights(log_prob(mean, log_std, ep.actions), ep.behaviour_logp,
                               agent.config.max_weight)
    assert torch.equal(w[0], torch.ones_like(w[0]))
    assert (w[1] != 1).all()
    agent.adapt()
    with torch.enable_grad():
        leaf = {k: v.clone().requires_grad_() for k, v in theta.items()}
        weighted = adapt(net, leaf, agent.step_sizes, ep, agent.config, weighted=True)[-1]
        plain = adapt(net, leaf, agent.step_sizes, ep, agent.config, weighted=False)[-1]
    for k in theta:
        torch.testing.assert_close(agent.phi[k], weighted[k].detach())
    assert any(not torch.allclose(agent.phi[k], plain[k].detach()) for k in theta)


# ------------------------------------------------------------------ TrackingAgent


def test_tracking_agent_updates_a_copy_and_reset_restores_it():
    policy = make_policy()
    original = snapshot(dict(policy.state_dict()))
    agent = TrackingAgent(policy, PPOConfig(epochs=2, minibatches=2, lr=1e-2), seed=0)
    play_episode(agent, end=False)
    agent.adapt()
    assert agent.updates == 0 and same(snapshot(dict(agent.policy.state_dict())), original)
    agent.reset()
    for e in range(2):
        play_episode(agent, seed=e)
        agent.adapt()
    assert agent.updates == 2
    adapted = snapshot(dict(agent.policy.net.state_dict()))
    assert any(not torch.equal(adapted[k], v) for k, v in policy.net.state_dict().items())
    assert same(snapshot(dict(policy.state_dict())), original)  # the original is never changed
    assert agent.policy is not policy
    agent.reset()
    assert same(snapshot(dict(agent.policy.state_dict())), original)
    assert not agent.buffer.done and agent.updates == 0


def test_tracking_agent_rejects_episodes_of_different_lengths():
    agent = TrackingAgent(make_policy(), seed=0)
    play_episode(agent, steps=4)
    play_episode(agent, steps=5)
    with pytest.raises(ValueError, match="equal length"):
        agent.adapt()


# ------------------------------------------------------------------ meta-training runs


def tiny_meta_config(iterations: int) -> MetaConfig:
    return MetaConfig(iterations=iterations, meta_batch=2, episodes=1, epochs=1, seed=3,
                      adapt=AdaptConfig(steps=2, step_size=0.01),
                      policy=PolicyConfig(hidden=8))


def test_meta_trainer_snapshot_loads_as_an_acting_maml_agent(tmp_path):
    torch.set_num_threads(1)
    trainer = MetaTrainer(tiny_meta_config(1), tmp_path / "run", tensorboard=False)
    row = trainer.iterate()
    assert row["iteration"] == 1 and np.isfinite(row["post_return"])
    path = trainer.snapshot()
    assert path.is_file()
    agent = agents.load(str(path), seed=5)
    assert isinstance(agent, MAMLAgent) and agent.body == "bug"
    assert same(agent.theta, snapshot(trainer.theta))
    for got, want in zip(agent.step_sizes.parameters(), trainer.step_sizes.parameters(),
                         strict=True):
        assert torch.equal(got.detach(), want.detach())
    obs_dim = trainer.envs.single_observation_space.shape[0]
    act_dim = trainer.envs.single_action_space.shape[0]
    action = agent.act(np.zeros(obs_dim, dtype=np.float32))
    assert action.shape == (act_dim,) and np.isfinite(action).all()
    _, _, adapt_config, meta = load_maml(path)
    assert adapt_config == trainer.config.adapt and meta.version == 1
    # the locomotion protocol: reset, then an episode and an adaptation per task of the chain
    out = nonstationary_returns(agent, "bug", pairs=[train_test_split("bug")[1][0]], repeats=1,
                                episodes=2)
    assert out.shape == (1, 1, 2) and np.isfinite(out).all()
    assert agent.adaptations == 2
    assert not same(agent.phi, agent.theta)


def test_meta_trainer_resume_continues_without_duplicated_rows(tmp_path):
    torch.set_num_threads(1)
    config = tiny_meta_config(2)
    first = MetaTrainer(config, tmp_path / "run", tensorboard=False)
    first.iterate()
    first.logger.close()
    resumed = MetaTrainer(config, tmp_path / "run", tensorboard=False)
    assert resumed.iteration == 1
    assert same(snapshot(resumed.theta), snapshot(first.theta))
    resumed.run(progress=False)
    assert resumed.iteration == 2
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    assert [r["iteration"] for r in rows] == [1, 2]
    # the same two iterations without the interruption
    straight = MetaTrainer(config, tmp_path / "straight", tensorboard=False)
    straight.run(progress=False)
    timing = ("sample_s", "update_s")
    expected = read_metrics(tmp_path / "straight" / "metrics.csv")
    for got, want in zip(rows, expected, strict=True):
        assert {k: v for k, v in got.items() if k not in timing} == pytest.approx(
            {k: v for k, v in want.items() if k not in timing})
    assert same(snapshot(resumed.theta), snapshot(straight.theta))
