"""NoRML on nonstationary locomotion: the trainer's iteration and resume, the reward-free inner
step on locomotion data, the PPO start, the loaded agent under the evaluation protocol."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

import agents
from agents.checkpoint import load_checkpoint
from agents.evaluate import nonstationary_returns
from agents.norml import NoRMLAgent, NoRMLConfig, load_norml
from agents.norml.locomotion import (
    LocomotionMetaConfig,
    LocomotionMetaTrainer,
    collect_locomotion,
    default_model,
)
from agents.policy import load_policy
from envs.nonstationary_locomotion import LegDamage, LocomotionVectorEnv

SMALL = dataclasses.replace(default_model(), hidden=8, adv_hidden=8)


def _config(**kw) -> LocomotionMetaConfig:
    base = dict(iterations=2, meta_batch=2, episodes=1, snapshot_every=1, model=SMALL,
                lr=3e-3, advantage_lr=1e-2)
    return LocomotionMetaConfig(**{**base, **kw})


def _state(trainer: LocomotionMetaTrainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_an_iteration_meta_trains_theta_offset_psi_and_alpha(tmp_path):
    trainer = LocomotionMetaTrainer(_config(), tmp_path / "run", tensorboard=False, nthread=1)
    before = _state(trainer)
    row = trainer.iterate()
    after = trainer.model.state_dict()
    for prefix in ("policy.", "offset.", "advantage.", "alpha."):
        names = [k for k in before if k.startswith(prefix)]
        assert names and any(not torch.equal(before[k], after[k]) for k in names), prefix
    for k in before:  # the frozen observation statistics never move
        if k.startswith("obs_norm."):
            assert torch.equal(before[k], after[k])
    assert row["env_steps"] == 2 * 2 * 1 * 100 and np.isfinite(row["return_post"])
    assert row["adapt_shift"] > 0  # the inner step moved the policy
    assert (tmp_path / "run" / "lineage" / "run" / "v0001.safetensors").exists()


def test_kill_and_resume_gives_the_same_state(tmp_path):
    full = LocomotionMetaTrainer(_config(), tmp_path / "a", tensorboard=False, nthread=1)
    rows = [full.iterate(), full.iterate()]
    part = LocomotionMetaTrainer(_config(), tmp_path / "b", tensorboard=False, nthread=1)
    part.iterate()
    del part  # killed after its first iteration
    resumed = LocomotionMetaTrainer(_config(), tmp_path / "b", tensorboard=False, nthread=1)
    assert resumed.iteration == 1 and resumed.env_steps == 400
    row = resumed.iterate()
    for k, v in full.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[k], v, msg=k)
    assert row["return_post"] == pytest.approx(rows[1]["return_post"])
    a, b = (load_checkpoint(d / "state.safetensors")[0] for d in (tmp_path / "a", tmp_path / "b"))
    for k in a:
        if k.startswith("optim."):
            torch.testing.assert_close(a[k], b[k], msg=k)


def test_inner_step_reads_no_reward_on_locomotion_data():
    torch.manual_seed(0)
    model = agents.norml.NoRMLModel(37, 12, SMALL)
    with torch.no_grad():
        for p in model.offset.values():
            p.normal_(0.0, 0.01)
    envs = LocomotionVectorEnv(4, "bug", max_steps=20, nthread=1,
                               autoreset_mode=AutoresetMode.SAME_STEP)
    damages = [LegDamage((1, 3), 0.5), LegDamage((2, 6), 0.0)]
    data = collect_locomotion(model, envs, damages, [model.theta()] * 2, 2, 0,
                              torch.Generator().manual_seed(0))
    assert data.obs.shape == (2, 2, 20, 37) and data.rewards.abs().sum() > 0
    adapted = model.adapt_tasks(data, 0.99, create_graph=False)
    noisy = data._replace(rewards=torch.randn_like(data.rewards) * 100)
    again = model.adapt_tasks(noisy, 0.99, create_graph=False)
    assert all(torch.equal(adapted[k], again[k]) for k in adapted)
    theta = model.theta()
    assert any(not torch.allclose(adapted[k][i], theta[k]) for k in theta for i in range(2))


def test_theta_and_observation_statistics_start_from_the_ppo_checkpoint(tmp_path):
    config = _config(model=default_model(), init_from="zoo:ppo-locomotion-bug")
    trainer = LocomotionMetaTrainer(config, tmp_path / "run", tensorboard=False, nthread=1)
    policy, _ = load_policy(agents.resolve("zoo:ppo-locomotion-bug"))
    obs = np.random.default_rng(0).normal(size=(5, 37)).astype(np.float32) * 3
    mean, _ = trainer.model.distribution(trainer.model.theta(), trainer.model.normalize(obs))
    ppo_mean, _, _ = policy.net(policy.normalize(obs))
    torch.testing.assert_close(mean, ppo_mean)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["init_from"] == \
        "zoo:ppo-locomotion-bug"


def test_loaded_checkpoint_adapts_between_episodes_and_resets_to_theta(tmp_path):
    trainer = LocomotionMetaTrainer(_config(iterations=1), tmp_path / "run", tensorboard=False,
                                    nthread=1)
    trainer.iterate()
    with torch.no_grad():  # statistics that make normalisation visible
        trainer.model.obs_norm.mean.fill_(0.5)
        trainer.model.obs_norm.var.fill_(4.0)
    path = trainer.snapshot()
    agent = agents.load(str(path), body="bug", seed=0)
    assert isinstance(agent, NoRMLAgent) and agent.window == 1 and agent.max_weight == 2.0
    model, meta = load_norml(path)
    assert meta.env_id == "NonstationaryLocomotion-Bug-v0" and model.config.normalize_obs
    assert torch.equal(model.obs_norm.var, torch.full((37,), 4.0, dtype=torch.float64))

    theta = {k: v.detach() for k, v in model.theta().items()}
    seen = []
    original = agent.adapt

    def adapt_and_record():
        original()
        seen.append({k: v.clone() for k, v in agent.params.items()})

    agent.adapt = adapt_and_record
    out = nonstationary_returns(agent, "bug", pairs=[(1, 2)], repeats=1, seed=0, episodes=3)
    assert out.shape == (1, 1, 3) and len(seen) == 3
    for params in seen:  # every adaptation moved the policy away from theta, differently
        assert any(not torch.allclose(params[k], theta[k]) for k in theta)
    assert any(not torch.allclose(seen[0][k], seen[1][k]) for k in theta)
    # the window: one inner step on the last episode only, its states stored normalised
    data = agent.experience()
    assert data.obs.shape == (1, 100, 37) and float(data.obs.abs().max()) <= 5.0
    weights = agent.importance_weights(data)  # the episode came from an adapted policy
    assert weights.max() <= 2.0 and not torch.allclose(weights, torch.ones_like(weights))
    expected = model.adapt(data._replace(rewards=torch.zeros_like(data.rewards)),
                           create_graph=False, weights=weights)
    assert all(torch.allclose(seen[-1][k], expected[k]) for k in theta)
    agent.reset()
    assert all(torch.equal(agent.params[k], theta[k]) for k in theta)


def test_window_keeps_the_last_episodes_across_adaptations():
    model = agents.norml.NoRMLModel(3, 2, NoRMLConfig())
    agent = NoRMLAgent(model, seed=0, window=2)
    for episode in range(4):
        for t in range(5):
            agent.act(np.full(3, episode, np.float32))
            agent.observe(np.zeros(2), 0.0, np.full(3, episode, np.float32), False, t == 4)
        agent.adapt()
    data = agent.experience()
    assert data.obs.shape == (2, 5, 3)
    assert data.obs[:, 0, 0].tolist() == [2.0, 3.0]


def test_arena_train_norml_on_locomotion(tmp_path, capsys):
    import argparse

    from arena.meta_cli import add_norml_parser

    parser = argparse.ArgumentParser()
    add_norml_parser(parser.add_subparsers(dest="algorithm"))
    args = parser.parse_args(
        ["norml", "--env", "NonstationaryLocomotion-Bug-v0", "--iterations", "1", "--tasks", "1",
         "--rollouts", "1", "--init-from", "none", "--nthread", "1", "--run-dir",
         str(tmp_path / "run"), "--no-progress", "--no-tensorboard", "--execution-data",
         "--first-step"])
    assert args.func(args) == 0
    assert "1 meta-iterations" in capsys.readouterr().out
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["body"] == "bug" and config["meta_batch"] == 1 and config["init_from"] is None
    assert config["execution_data"] and config["first_step"]
    alone = parser.parse_args(["norml", "--env", "NonstationaryLocomotion-Bug-v0",
                               "--first-step", "--run-dir", str(tmp_path / "other")])
    with pytest.raises(SystemExit, match="arena train norml: --first-step needs "
                                         "--execution-data"):
        alone.func(alone)
    agent = agents.load(str(tmp_path / "run" / "lineage" / "run" / "v0001.safetensors"))
    assert isinstance(agent, NoRMLAgent) and agent.body == "bug" and agent.window == 1


def test_importance_weights_are_one_on_theta_data_and_vanish_far_from_it():
    torch.manual_seed(0)
    model = agents.norml.NoRMLModel(37, 12, SMALL)
    with torch.no_grad():
        for p in model.offset.values():
            p.normal_(0.0, 0.01)
    agent = NoRMLAgent(model, seed=0, window=1, max_weight=2.0)
    rng = np.random.default_rng(0)
    for t in range(10):  # an episode of pi_theta's own actions
        action = agent.act(rng.normal(size=37).astype(np.float32))
        agent.observe(action, 0.0, rng.normal(size=37), False, t == 9)
    torch.testing.assert_close(agent.importance_weights(agent.experience()), torch.ones(1, 10))
    for t in range(10):  # actions far from pi_theta's: no weight, no step from them
        agent.act(rng.normal(size=37).astype(np.float32))
        agent.observe(np.full(12, 50.0), 0.0, rng.normal(size=37), False, t == 9)
    assert float(agent.importance_weights(agent.experience()).max()) < 1e-6
    agent.adapt()
    with_offset = {k: v + model.offset[k.replace(".", "__")] for k, v in model.theta().items()}
    assert all(torch.allclose(agent.params[k], with_offset[k], atol=1e-6) for k in with_offset)


def test_execution_data_adapts_on_an_adapted_policys_episodes_with_truncated_weights(tmp_path):
    trainer = LocomotionMetaTrainer(_config(execution_data=True, iterations=1), tmp_path / "run",
                                    tensorboard=False)
    seen = {}
    adapt_tasks = trainer.model.adapt_tasks

    def spying(data, gamma=0.9, create_graph=True, weights=None):
        seen.setdefault("calls", []).append((create_graph, weights))
        return adapt_tasks(data, gamma, create_graph, weights)

    trainer.model.adapt_tasks = spying
    row = trainer.iterate()
    (first_graph, first_w), (second_graph, w) = seen["calls"]
    assert first_w is None and not first_graph  # the behaviour policy: theta adapted, detached
    assert second_graph and w is not None and not w.requires_grad
    assert (w <= 2.0).all() and (w > 0).all() and not torch.allclose(w, torch.ones_like(w))
    assert "return_theta" in row
    # three phases of meta_batch x episodes episodes of 100 steps
    assert row["env_steps"] == 3 * 2 * 1 * 100


def test_first_step_puts_the_behaviour_policys_step_into_the_outer_loss(tmp_path):
    trainer = LocomotionMetaTrainer(_config(execution_data=True, first_step=True, iterations=1),
                                    tmp_path / "run", tensorboard=False)
    model = trainer.model
    losses = []
    outer_loss = model.outer_loss

    psi = list(model.advantage.parameters())
    psi_grads = []

    def spying(params, data, gamma, old_logp=None, clip=0.2):
        loss = outer_loss(params, data, gamma, old_logp, clip)
        psi_grads.append(torch.autograd.grad(loss, psi, allow_unused=True, retain_graph=True))
        losses.append((params, data, loss))
        return loss

    model.outer_loss = spying
    row = trainer.iterate()
    (_, post, _), (first, own, first_loss) = losses
    # the first step is theta adapted on theta's own episodes, with its graph: its loss
    # reaches psi (A_psi shapes it)
    assert all(v.grad_fn is not None for v in first.values())
    assert any(g is not None and float(g.abs().sum()) > 0 for g in psi_grads[1])
    # ... played on T_{i+1}: its own episodes, not the execution-data step's
    assert not torch.equal(own.obs, post.obs)
    assert row["loss_first"] == pytest.approx(float(first_loss))
    assert "return_first" in row and "return_theta" in row
    assert row["env_steps"] == 4 * 2 * 1 * 100  # four phases
    with pytest.raises(ValueError, match="first_step needs execution_data"):
        _config(first_step=True)


def test_the_ppo_outer_surrogate_starts_as_the_policy_gradient_and_takes_its_epochs(tmp_path):
    trainer = LocomotionMetaTrainer(_config(iterations=1), tmp_path / "pg", tensorboard=False)
    model = trainer.model
    _, adapted, post = trainer.sample()
    params = [p for p in model.parameters() if p.requires_grad]
    pg = torch.autograd.grad(model.outer_loss(adapted, post, 0.99), params, retain_graph=True,
                             allow_unused=True)
    old = model.log_prob({k: v.detach() for k, v in adapted.items()}, post.obs, post.actions)
    ppo = torch.autograd.grad(model.outer_loss(adapted, post, 0.99, old_logp=old), params,
                              allow_unused=True)
    for a, b in zip(pg, ppo, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    steps = []
    trainer = LocomotionMetaTrainer(_config(iterations=1, outer_epochs=3), tmp_path / "ppo",
                                    tensorboard=False)
    step = trainer.optimizer.step
    trainer.optimizer.step = lambda *a, **k: (steps.append(1), step(*a, **k))[1]
    trainer.iterate()
    assert len(steps) == 3
    with pytest.raises(ValueError, match="outer_epochs must be >= 1"):
        _config(outer_epochs=0)


def test_a_policy_with_a_task_context_is_refused_as_a_start(tmp_path):
    from agents.checkpoint import CheckpointMeta
    from agents.norml.locomotion import init_from_ppo
    from agents.policy import Policy, PolicyConfig, save_policy

    path = save_policy(tmp_path / "ctx.safetensors",
                       Policy(37, 12, PolicyConfig(hidden=8, context=3)),
                       CheckpointMeta(kind="ppo-mlp", body="bug",
                                      env_id="NonstationaryLocomotion-Bug-v0", config={}))
    model = agents.norml.NoRMLModel(37, 12, SMALL)
    with pytest.raises(ValueError, match="NoRML's policy has no task context; this one reads a "
                                         "context of 3"):
        init_from_ppo(model, str(path))
    with pytest.raises(ValueError, match="features='sumo' is for RoboSumo envs only"):
        _config(model=dataclasses.replace(SMALL, features="sumo"))
