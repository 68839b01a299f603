"""NoRML: the reward-free inner step, gradients to every meta-parameter, the ablation switches,
the value baseline, checkpoints, and a short meta-training that visibly learns."""

import dataclasses

import numpy as np
import pytest
import torch

import agents
from agents.checkpoint import CheckpointMeta
from agents.norml import (
    MetaTrainConfig,
    MetaTrainer,
    NoRMLAgent,
    NoRMLConfig,
    NoRMLModel,
    load_norml,
    save_norml,
)
from agents.norml.core import TaskData, discounted_returns, ridge_values
from agents.norml.train import collect, task
from envs.point import PointRotationEnv


def _batch(seed: int = 0, rollouts: int = 6, angles=(0.7, -2.0)) -> TaskData:
    model = NoRMLModel(2, 2, NoRMLConfig.variant("dr"))
    gen = torch.Generator().manual_seed(seed)
    return collect(model, [model.theta()] * len(angles), np.array(angles), rollouts, False, gen)


def _data(seed: int = 0) -> TaskData:
    return task(_batch(seed, angles=(0.7,)), 0)


def _model(variant: str, seed: int = 0) -> NoRMLModel:
    torch.manual_seed(seed)
    model = NoRMLModel(2, 2, NoRMLConfig.variant(variant))
    if model.offset is not None:  # a non-zero offset, as after some meta-training
        with torch.no_grad():
            for p in model.offset.values():
                p.normal_(0.0, 0.01)
    return model


def _differs(a: dict, b: dict) -> bool:
    return any(not torch.allclose(a[k], b[k]) for k in a)


@pytest.mark.parametrize("variant", ["norml", "norml-no-offset"])
def test_norml_inner_step_does_not_read_rewards(variant):
    model, data = _model(variant), _data()
    adapted = model.adapt(data, create_graph=False)
    other = data._replace(rewards=torch.randn_like(data.rewards) * 100)
    again = model.adapt(other, create_graph=False)
    assert all(torch.equal(adapted[k], again[k]) for k in adapted)
    assert _differs(adapted, model.theta())  # and it did adapt


@pytest.mark.parametrize("variant", ["maml", "norml-no-apsi"])
def test_variants_without_learned_advantage_use_the_rewards(variant):
    model, data = _model(variant), _data()
    assert model.advantage is None
    adapted = model.adapt(data, create_graph=False)
    other = data._replace(rewards=data.rewards + torch.linspace(-3, 3, data.rewards.shape[1]))
    assert _differs(adapted, model.adapt(other, create_graph=False))


@pytest.mark.parametrize("variant", ["norml", "norml-no-offset", "norml-no-apsi", "maml"])
def test_meta_gradient_reaches_every_meta_parameter(variant):
    model, data, test_data = _model(variant), _batch(0), _batch(1)
    adapted = model.adapt_tasks(data)
    model.outer_loss(adapted, test_data, 0.9).backward()
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if variant.startswith("norml") and "apsi" not in variant:
        assert any(n.startswith("advantage.") for n in trainable)
    if "offset" not in variant and variant != "maml":
        assert any(n.startswith("offset.") for n in trainable)
    if variant in ("maml", "norml-no-apsi"):
        assert any(n.startswith("alpha.") for n in trainable)  # Meta-SGD step sizes
    for name, p in trainable.items():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_no_offset_has_no_offset_parameter():
    model = _model("norml-no-offset")
    assert model.offset is None
    assert not any(n.startswith("offset") for n, _ in model.named_parameters())


def test_domain_randomisation_leaves_parameters_unchanged():
    model = _model("dr")
    assert model.advantage is None and model.offset is None
    theta = model.theta()
    adapted = model.adapt(_data())
    assert all(torch.equal(adapted[k], theta[k]) for k in theta)
    assert not any(p.requires_grad for p in model.alpha.values())


@pytest.mark.parametrize("variant", ["norml", "maml"])
def test_batched_inner_step_equals_one_task_at_a_time(variant):
    model, batch = _model(variant), _batch()
    together = model.adapt_tasks(batch, create_graph=False)
    for k in range(2):
        alone = model.adapt(task(batch, k), create_graph=False)
        for name, value in alone.items():
            torch.testing.assert_close(together[name][k], value)


def test_zero_step_and_zero_offset_reproduce_theta():
    model = NoRMLModel(2, 2, NoRMLConfig(alpha=0.0))
    adapted = model.adapt(_data(), create_graph=False)
    assert all(torch.allclose(adapted[k], v) for k, v in model.theta().items())


def test_config_rejects_inconsistent_switches_and_unknown_variants():
    with pytest.raises(ValueError, match="domain randomisation"):
        NoRMLConfig(adapt=False, learn_offset=True)
    with pytest.raises(ValueError, match="valid: norml, norml-no-offset"):
        NoRMLConfig.variant("reptile")


def test_discounted_returns_by_hand_and_stop_at_the_mask():
    rewards = torch.tensor([[1.0, 2.0, 3.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    out = discounted_returns(rewards, mask, 0.5)
    torch.testing.assert_close(out, torch.tensor([[1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0, 0.0]]))


def test_ridge_baseline_recovers_a_polynomial_value():
    obs = torch.rand(5, 10, 2)
    t = (torch.arange(10) / 10).expand(5, 10)
    target = 2 * obs[..., 0] - obs[..., 1] ** 3 + 0.5 * t ** 2 + 1
    values = ridge_values(obs, target, torch.ones(5, 10))
    torch.testing.assert_close(values, target, atol=1e-3, rtol=0)


def _meta(model: NoRMLModel) -> CheckpointMeta:
    return CheckpointMeta(kind="norml", body=None, env_id="PointRotation-v0",
                          config={"train": {"gamma": 0.9}})


def _play(agent: NoRMLAgent, angle: float, episodes: int) -> list[np.ndarray]:
    env, actions = PointRotationEnv(angle=angle), []
    for _ in range(episodes):
        obs, _ = env.reset()
        done = False
        while not done:
            action = agent.act(obs)
            actions.append(action)
            obs, reward, term, trunc, _ = env.step(action)
            agent.observe(action, reward, obs, term, trunc)
            done = term or trunc
    return actions


def test_checkpoint_round_trip_reproduces_actions_before_and_after_adapting(tmp_path):
    model = _model("norml")
    path = save_norml(tmp_path / "n.safetensors", model, _meta(model))
    _, meta = load_norml(path)
    assert meta.config["norml"] == dataclasses.asdict(model.config)
    a, b = NoRMLAgent(model, seed=3), agents.load(str(path), seed=3)
    assert isinstance(b, NoRMLAgent)
    for agent in (a, b):
        agent.reset()
    first = [_play(agent, 1.0, 2) for agent in (a, b)]
    for agent in (a, b):
        agent.adapt()
    second = [_play(agent, 1.0, 1) for agent in (a, b)]
    np.testing.assert_allclose(np.array(first[0]), np.array(first[1]))
    np.testing.assert_allclose(np.array(second[0]), np.array(second[1]))


def test_agent_adapts_from_transitions_only_and_reset_restores_theta():
    model = _model("norml")
    agent = NoRMLAgent(model, seed=0)
    _play(agent, 2.0, 3)
    data = agent.experience()
    assert data is not None and data.obs.shape == (3, 10, 2)
    agent.adapt()
    expected = model.adapt(data._replace(rewards=torch.zeros_like(data.rewards)),
                           create_graph=False)
    assert all(torch.allclose(agent.params[k], expected[k]) for k in expected)
    agent.reset()
    assert all(torch.equal(agent.params[k], v) for k, v in model.theta().items())


def test_short_meta_training_improves_post_adaptation_return(tmp_path):
    config = MetaTrainConfig(iterations=40, tasks=8, rollouts=10, lr=3e-3, seed=0,
                             snapshot_every=40, model=NoRMLConfig.variant("norml"))
    trainer = MetaTrainer(config, tmp_path / "run", tensorboard=False)
    rows = [trainer.iterate() for _ in range(config.iterations)]
    post = [r["return_post"] for r in rows]
    assert np.mean(post[-8:]) > np.mean(post[:8]) + 3.0
    assert trainer.lineage.latest() == 40 and (tmp_path / "run" / "metrics.csv").exists()


def test_meta_training_resumes_where_it_stopped(tmp_path):
    config = MetaTrainConfig(iterations=3, tasks=2, rollouts=2, snapshot_every=1,
                             model=NoRMLConfig.variant("norml"))
    full = MetaTrainer(config, tmp_path / "a", tensorboard=False)
    for _ in range(3):
        full.iterate()
    part = MetaTrainer(config, tmp_path / "b", tensorboard=False)
    part.iterate()
    resumed = MetaTrainer(config, tmp_path / "b", tensorboard=False)
    assert resumed.iteration == 1
    resumed.iterate()
    resumed.iterate()
    for (k, v), w in zip(full.model.state_dict().items(), resumed.model.state_dict().values(),
                         strict=True):
        torch.testing.assert_close(v, w, msg=k)


def test_arena_train_norml_command_trains_and_resumes(tmp_path, capsys):
    import argparse

    from arena.meta_cli import add_norml_parser

    parser = argparse.ArgumentParser()
    add_norml_parser(parser.add_subparsers(dest="algorithm"))
    argv = ["norml", "--variant", "norml-no-offset", "--iterations", "2", "--tasks", "2",
            "--rollouts", "2", "--alpha", "0.5", "--run-dir", str(tmp_path / "run"),
            "--no-progress", "--no-tensorboard"]
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    assert "2 meta-iterations" in capsys.readouterr().out
    model, _ = load_norml(tmp_path / "run" / "lineage" / "run" / "v0002.safetensors")
    assert model.offset is None and model.config.alpha == 0.5
    args = parser.parse_args([*argv[:4], "3", *argv[5:]])
    assert args.func(args) == 0 and "resuming" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["norml", "--variant", "reptile"])


def test_a_centred_learned_advantage_ignores_a_constant_in_a_psi():
    from agents.norml.core import NoRMLModel

    g = torch.Generator().manual_seed(0)
    k, r, t = 2, 3, 6
    obs, next_obs = torch.randn(k, r, t, 2, generator=g), torch.randn(k, r, t, 2, generator=g)
    data = TaskData(obs, torch.randn(k, r, t, 2, generator=g), torch.randn(k, r, t, generator=g),
                    next_obs, torch.ones(k, r, t))
    moved = {}
    for centre in (False, True):
        torch.manual_seed(1)
        model = NoRMLModel(2, 2, dataclasses.replace(NoRMLConfig(), center_advantage=centre))
        before = model.adapt_tasks(data, create_graph=False)
        with torch.no_grad():
            model.advantage.net[-1].bias += 5.0  # a constant added to A_psi everywhere
        after = model.adapt_tasks(data, create_graph=False)
        moved[centre] = max(float((before[n] - after[n]).detach().abs().max()) for n in before)
    assert moved[True] < 1e-5 < moved[False]
