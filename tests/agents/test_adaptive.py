"""Agents that adapt during a game: MAMLAgent (Algorithm 2), TrackingAgent, their buffer, and the
MAML meta-training run that produces MAMLAgent checkpoints."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch.func import functional_call

import agents
from agents.episodes import EpisodeBuffer
from agents.evaluate import nonstationary_returns
from agents.logger import read_metrics
from agents.maml import (
    AdaptConfig,
    StepSizes,
    adapt,
    evaluate_episodes,
    importance_weights,
    parameters_of,
)
from agents.maml.agent import MAMLAgent
from agents.maml.train import MetaConfig, MetaTrainer, load_maml
from agents.nets import log_prob
from agents.policy import Policy, PolicyConfig
from agents.ppo import PPOConfig
from agents.ppo.tracking import TrackingAgent
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
    buffer = EpisodeBuffer(2)
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
        EpisodeBuffer(0)


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


def test_tracking_stream_bootstraps_inside_episodes_and_not_across_them():
    from agents.episodes import stream_rollout

    agent = TrackingAgent(make_policy(), seed=0)
    play_episode(agent, steps=4)
    play_episode(agent, steps=2)
    episodes = list(agent.buffer.done)
    rollout = stream_rollout(episodes)
    values = [v for e in episodes for v in e.values]
    assert rollout.obs.shape[:2] == (6, 1) and rollout.actions.shape[:2] == (6, 1)
    assert rollout.dones[:, 0].tolist() == [0, 0, 0, 1, 0, 1]
    expected_next = [*values[1:4], 0.0, *values[5:], 0.0]
    assert torch.allclose(rollout.next_values[:, 0], torch.tensor(expected_next))
    agent.adapt()  # episodes of different lengths are fine
    assert agent.updates == 1


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
    timing = ("sample_s", "update_s", "iteration_s")
    expected = read_metrics(tmp_path / "straight" / "metrics.csv")
    for got, want in zip(rows, expected, strict=True):
        assert {k: v for k, v in got.items() if k not in timing} == pytest.approx(
            {k: v for k, v in want.items() if k not in timing})
    assert same(snapshot(resumed.theta), snapshot(straight.theta))


# ------------------------------------------------------------------ LSTM policies


def make_lstm_maml_agent(steps: int = 2, step_size: float = 0.1, buffer_episodes: int = 3,
                         seed: int | None = 0) -> MAMLAgent:
    torch.manual_seed(0)
    policy = Policy(OBS, ACT, PolicyConfig(arch="lstm", hidden=8))
    config = AdaptConfig(steps=steps, step_size=step_size)
    return MAMLAgent(policy, StepSizes(parameters_of(policy.net), config), config,
                     buffer_episodes=buffer_episodes, seed=seed)


def test_lstm_maml_agent_carries_its_state_within_an_episode_and_zeroes_it_at_starts():
    agent = make_lstm_maml_agent()
    assert agent.state is None
    obs = np.ones(OBS, dtype=np.float32)
    agent.act(obs)
    first = agent.state.clone()
    assert first.shape == (4, 1, 8) and first.abs().sum() > 0
    agent.observe(np.zeros(ACT), 0.0, obs, False, False)
    agent.act(obs)  # same observation, carried state: another state
    assert not torch.equal(agent.state, first)
    agent.observe(np.zeros(ACT), 0.0, obs, False, True)
    assert agent.state is None  # the episode ended: the next step starts from zero
    agent.act(obs)
    torch.testing.assert_close(agent.state, first)
    agent.reset()
    assert agent.state is None


def test_lstm_maml_agent_records_what_the_unrolled_evaluation_recomputes():
    """Episodes of different lengths, the second played by phi_1 after an adaptation: the
    log-probabilities and values recorded step by step are those of ``evaluate_episodes``
    unrolling the buffered (padded) episodes with the parameters that acted."""
    agent = make_lstm_maml_agent(steps=1, step_size=0.5)
    net, theta = agent.policy.net, agent.theta
    play_episode(agent, steps=4, seed=1)
    agent.adapt()
    phi_1 = snapshot(agent.phi)
    assert not same(phi_1, theta)
    play_episode(agent, steps=6, seed=2)
    ep = agent.buffer.episodes()
    assert ep.mask[0].tolist() == [1, 1, 1, 1, 0, 0]
    recorded_values = [e.values for e in agent.buffer.done]
    with torch.no_grad():
        for params, e, n in ((theta, 0, 4), (phi_1, 1, 6)):
            out = evaluate_episodes(net, params, ep.obs, ep.actions)
            torch.testing.assert_close(out.logp[e, :n], ep.behaviour_logp[e, :n])
            torch.testing.assert_close(out.values[e, :n], torch.tensor(recorded_values[e]))
        w = importance_weights(evaluate_episodes(net, theta, ep.obs, ep.actions).logp,
                               ep.behaviour_logp, agent.config.max_weight)
    torch.testing.assert_close(w[0, :4], torch.ones(4))  # theta's own episode: on-policy
    assert (w[1, :6] != 1).all()
    agent.adapt()  # phi_2 from theta on both episodes, weighted as the policies that acted
    with torch.enable_grad():
        leaf = {k: v.clone().requires_grad_() for k, v in theta.items()}
        expected = adapt(net, leaf, agent.step_sizes, ep, agent.config, weighted=True)[-1]
    for k in theta:
        torch.testing.assert_close(agent.phi[k], expected[k].detach())
    assert same(snapshot(parameters_of(net)), theta)  # theta itself is untouched
    agent.reset()
    assert same(agent.phi, theta) and agent.adaptations == 0 and not agent.buffer.done


def test_lstm_meta_trainer_iterates_and_its_snapshot_acts(tmp_path):
    torch.set_num_threads(1)
    config = dataclasses.replace(tiny_meta_config(1), policy=PolicyConfig(arch="lstm", hidden=8))
    trainer = MetaTrainer(config, tmp_path / "run", tensorboard=False)
    assert not trainer.vmap_tasks  # an LSTM is meta-updated in a loop over the tasks
    row = trainer.iterate()
    assert np.isfinite(row["post_return"]) and np.isfinite(row["meta_grad_norm"])
    agent = agents.load(str(trainer.snapshot()), seed=5)
    assert isinstance(agent, MAMLAgent) and agent.policy.recurrent
    obs_dim = trainer.envs.single_observation_space.shape[0]
    assert np.isfinite(agent.act(np.zeros(obs_dim, dtype=np.float32))).all()
    assert agent.state is not None


# ------------------------------------------------------------------ tasks batched with vmap


@pytest.mark.parametrize("first_order", [False, True])
def test_vmapped_meta_gradient_equals_the_looped_one(tmp_path, first_order):
    torch.set_num_threads(1)
    config = dataclasses.replace(tiny_meta_config(1), meta_batch=3, first_order=first_order,
                                 adapt=AdaptConfig(steps=2, step_size=0.05, per_parameter=True))
    trainer = MetaTrainer(config, tmp_path / "run", tensorboard=False)
    assert trainer.vmap_tasks  # the default for an MLP
    pre, post = trainer.sample()
    params = [*trainer.net.parameters(), *trainer.step_sizes.parameters()]
    results = []
    for vmap_tasks in (False, True):
        trainer.vmap_tasks = vmap_tasks
        trainer.optimizer.zero_grad()
        stats = trainer.meta_backward(pre, post)
        results.append((stats, [p.grad.clone() for p in params]))
    (stats_l, grads_l), (stats_v, grads_v) = results
    torch.testing.assert_close(stats_v, stats_l)
    assert any(float(g.abs().max()) > 0 for g in grads_l)
    for gl, gv in zip(grads_l, grads_v, strict=True):
        torch.testing.assert_close(gv, gl, rtol=1e-4, atol=1e-7)


def test_vmap_tasks_refuses_lstm_policies_and_is_not_part_of_the_run_identity(tmp_path):
    with pytest.raises(ValueError, match="lstm_cell"):
        MetaConfig(vmap_tasks=True, policy=PolicyConfig(arch="lstm"))
    torch.set_num_threads(1)
    looped = dataclasses.replace(tiny_meta_config(2), vmap_tasks=False)
    trainer = MetaTrainer(looped, tmp_path / "run", tensorboard=False)
    assert not trainer.vmap_tasks
    trainer.iterate()
    trainer.logger.close()
    resumed = MetaTrainer(tiny_meta_config(2), tmp_path / "run", tensorboard=False)  # resumed
    assert resumed.iteration == 1 and resumed.vmap_tasks
    resumed.logger.close()
