"""MAML's inner step, made to matter: step sizes that stay positive (log-parametrised, outside
the element-wise meta-gradient clip), value parameters that cannot drive the policy's step size
(separate step sizes, or no value step), and a trust-region step whose KL is its target
whatever the size of the batch; and CAVIA-style steps that move a context vector alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import agents
from agents.episodes import Episodes
from agents.maml import AdaptConfig, StepSizes, adapt, evaluate_episodes, parameters_of
from agents.maml.core import is_value_parameter, policy_kl
from agents.nets import LSTMActorCritic, MLPActorCritic, log_prob
from agents.policy import Policy, PolicyConfig, with_context
from arena.cli import main

OBS, ACT = 4, 2


def make_net(arch: str = "mlp", seed: int = 0):
    torch.manual_seed(seed)
    if arch == "lstm":
        return LSTMActorCritic(OBS, ACT, hidden=8, embed=8)
    return MLPActorCritic(OBS, ACT, hidden=(16, 16))


def leaf(net) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().requires_grad_() for k, v in parameters_of(net).items()}


def episodes_of(net, theta, episodes: int, steps: int = 20, seed: int = 1) -> Episodes:
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(episodes, steps, OBS, generator=g)
    with torch.no_grad():
        mean, log_std, _, _ = evaluate_episodes(net, theta, obs)
        actions = mean + log_std.exp() * torch.randn(mean.shape, generator=g)
        logp = log_prob(mean, log_std, actions)
    rewards = actions[..., 0] + 0.1 * torch.randn(episodes, steps, generator=g)
    return Episodes(obs, actions, rewards, logp, torch.ones(episodes, steps))


def value_loss(net, phi) -> torch.Tensor:
    """The outer value loss alone: what drove the shared step size to 0."""
    obs = torch.randn(3, 5, OBS, generator=torch.Generator().manual_seed(9))
    return evaluate_episodes(net, phi, obs).values.square().mean()


@pytest.mark.parametrize("kwargs, match", [
    ({"value_step": "both"}, "value_step"), ({"parametrization": "exp"}, "parametrization"),
    ({"inner_step": "newton"}, "inner_step"),
    ({"inner_step": "kl"}, "value_step 'separate'"),
    ({"parametrization": "log", "step_size": 0.0}, "step_size > 0")])
def test_the_new_settings_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdaptConfig(**kwargs)


@pytest.mark.parametrize("per_parameter", [False, True])
def test_log_step_sizes_stay_positive_where_linear_ones_turn_into_ascent(per_parameter):
    net = make_net()
    finals = {}
    for parametrization in ("linear", "log"):
        sizes = StepSizes(parameters_of(net), AdaptConfig(parametrization=parametrization,
                                                          per_parameter=per_parameter))
        optimizer = torch.optim.Adam(sizes.parameters(), lr=1e-3)
        for _ in range(300):  # an outer loss that always wants smaller steps
            optimizer.zero_grad()
            loss = sum(sizes.get(m, name).sum() for m in range(3) for name in sizes.names)
            loss.backward()
            optimizer.step()
        finals[parametrization] = min(float(sizes.get(m, n).detach().min()) for m in range(3)
                                      for n in sizes.names)
    assert finals["linear"] < 0 < finals["log"]


@pytest.mark.parametrize("arch", ["mlp", "lstm"])
def test_separate_value_step_sizes_keep_the_value_loss_off_the_policys(arch):
    net = make_net(arch)
    grads = {}
    for value_step in ("shared", "separate"):
        theta = leaf(net)
        config = AdaptConfig(steps=2, step_size=0.01, value_step=value_step)
        sizes = StepSizes(theta, config)
        batch = episodes_of(net, theta, 4)
        phi = adapt(net, theta, sizes, batch, config, create_graph=True)[-1]
        policy_alphas = [sizes.raw(m, "log_std") for m in range(2)]
        grads[value_step] = torch.autograd.grad(value_loss(net, phi), policy_alphas,
                                                allow_unused=True)
    assert all(g is not None and g.abs() > 0 for g in grads["shared"])  # the leak closed here
    assert all(g is None or g.abs() == 0 for g in grads["separate"])


def test_no_value_step_adapts_the_policy_alone():
    net = make_net()
    theta = leaf(net)
    config = AdaptConfig(steps=2, step_size=0.05, value_step="none")
    sizes = StepSizes(theta, config)
    phi = adapt(net, theta, sizes, episodes_of(net, theta, 4), config)[-1]
    for name in theta:
        moved = not torch.equal(phi[name], theta[name])
        assert moved != is_value_parameter(name), name
    assert not any(is_value_parameter(n) for n in sizes.names)


@pytest.mark.parametrize("arch", ["mlp", "lstm"])
@pytest.mark.parametrize("target", [1e-3, 1e-2])
def test_a_kl_step_makes_its_target_kl_whatever_the_batch_size(arch, target):
    net = make_net(arch)
    theta = leaf(net)
    config = AdaptConfig(steps=1, step_size=target, value_step="separate", inner_step="kl",
                         parametrization="log")
    sizes = StepSizes(theta, config)
    gradient = AdaptConfig(steps=1, step_size=1e-3, value_step="separate")
    kls, plain = [], []
    for n in (2, 32):
        batch = episodes_of(net, theta, n, seed=n)
        phi = adapt(net, theta, sizes, batch, config)[-1]
        kls.append(float(policy_kl(net, theta, phi, batch).detach()))
        phi = adapt(net, theta, StepSizes(theta, gradient), batch, gradient)[-1]
        plain.append(float(policy_kl(net, theta, phi, batch).detach()))
    for kl in kls:
        assert kl == pytest.approx(target, rel=0.25)
    assert max(plain) < target / 100  # the paper's initial step hardly moves the policy


def test_the_meta_gradient_reaches_a_kl_steps_size_and_theta():
    net = make_net()
    theta = leaf(net)
    config = AdaptConfig(steps=2, step_size=1e-2, value_step="separate", inner_step="kl",
                         parametrization="log")
    sizes = StepSizes(theta, config)
    phi = adapt(net, theta, sizes, episodes_of(net, theta, 4), config, create_graph=True)[-1]
    obs = torch.randn(2, 5, OBS)
    loss = evaluate_episodes(net, phi, obs).mean.square().mean() + value_loss(net, phi)
    grads = torch.autograd.grad(loss, [*sizes.parameters(), *theta.values()], allow_unused=True)
    assert all(g is not None and g.abs().sum() > 0 for g in grads)


def test_step_size_metrics_name_each_group_and_stay_positive():
    net = make_net()
    config = AdaptConfig(steps=2, step_size=0.02, value_step="separate", parametrization="log")
    row = StepSizes(parameters_of(net), config).summary()
    assert set(row) == {"alpha_1_policy", "alpha_1_value", "alpha_2_policy", "alpha_2_value"}
    assert all(v == pytest.approx(0.02) for v in row.values())
    assert StepSizes(parameters_of(net), AdaptConfig(steps=2)).summary() == pytest.approx(
        {"alpha_1": 1e-3, "alpha_2": 1e-3})


@pytest.mark.parametrize("vmap_tasks", [True, False])
def test_a_meta_training_run_with_kl_steps_meta_trains_and_its_snapshot_adapts(tmp_path,
                                                                              vmap_tasks):
    import agents
    from agents.maml.train import MetaConfig, MetaTrainer
    from agents.policy import PolicyConfig

    adapt_config = AdaptConfig(steps=1, step_size=1e-2, value_step="separate",
                               inner_step="kl", parametrization="log")
    config = MetaConfig(iterations=1, meta_batch=2, episodes=1, epochs=2, seed=3,
                        adapt=adapt_config, policy=PolicyConfig(hidden=8), grad_clip=1e-9,
                        vmap_tasks=vmap_tasks)
    trainer = MetaTrainer(config, tmp_path / "run", tensorboard=False)
    assert trainer.clipped_parameters() == list(trainer.net.parameters())
    seen = []
    step = trainer.optimizer.step

    def recording_step(*args, **kwargs):  # the gradients as the optimiser gets them
        seen.append((max(float(p.grad.abs().max()) for p in trainer.net.parameters()),
                     max(float(p.grad.abs().max()) for p in trainer.step_sizes.parameters())))
        return step(*args, **kwargs)

    trainer.optimizer.step = recording_step
    row = trainer.iterate()
    assert len(seen) == 2
    # theta's gradient is clipped entry-wise (to 1e-9 here); the log step sizes' is not
    assert all(theta_max <= 1e-9 < alpha_max for theta_max, alpha_max in seen)
    after = trainer.step_sizes.summary()
    assert all(v > 0 for v in after.values())
    assert row["alpha_1_policy"] == pytest.approx(after["alpha_1_policy"])
    agent = agents.load(str(trainer.lineage.path(1)), seed=0)
    assert agent.step_sizes.summary() == pytest.approx(after)


def test_a_per_task_baseline_takes_the_drawn_tasks_difficulty_out_of_the_score_term():
    from agents.maml import task_advantages

    gain = torch.tensor([1.0, -1.0, 0.5, -0.5])  # what adapting added on each task
    difficulty = torch.tensor([-50.0, 10.0, -20.0, 30.0])  # how hard the drawn task is
    pre = difficulty
    post = difficulty + gain
    batch = task_advantages(post)
    per_task = task_advantages(post, baseline=pre)
    torch.testing.assert_close(per_task, task_advantages(gain))
    assert torch.sign(per_task).tolist() == [1.0, -1.0, 1.0, -1.0]
    assert torch.sign(batch).tolist() != torch.sign(per_task).tolist()  # difficulty decided


def test_a_run_with_the_per_task_baseline_uses_its_tasks_pre_returns(tmp_path):
    from agents.maml import task_advantages
    from agents.maml.train import MetaConfig, MetaTrainer
    from agents.policy import PolicyConfig

    config = MetaConfig(iterations=1, meta_batch=3, episodes=1, epochs=1, seed=3,
                        sf_baseline="pre", policy=PolicyConfig(hidden=8))
    trainer = MetaTrainer(config, tmp_path / "run", tensorboard=False)
    pre, post = trainer.sample()
    torch.testing.assert_close(trainer.outer_targets(pre, post)[2],
                               task_advantages(post.returns().mean(1), pre.returns().mean(1)))
    with pytest.raises(ValueError, match="sf_baseline must be one of batch, pre"):
        MetaConfig(sf_baseline="own")

# ---------------------------------------------------------------- CAVIA-style: a context only

K = 3  # context size


def context_net(seed: int = 0) -> MLPActorCritic:
    """A net whose actions depend on its inputs (as a trained one's: a fresh net's action
    layer is scaled by 0.01), with a zero context as a meta-learner starts from."""
    torch.manual_seed(seed)
    net = MLPActorCritic(OBS, ACT, hidden=(16, 16), context=K)
    with torch.no_grad():
        net.pi[-1].weight.mul_(50.0)
    return net


def test_a_context_step_moves_the_context_alone_by_its_target_kl():
    net = context_net()
    theta = leaf(net)
    assert torch.equal(theta["context"], torch.zeros(K))
    config = AdaptConfig(steps=2, step_size=1e-2, inner_step="kl", parametrization="log",
                         adapt="context")
    sizes = StepSizes(theta, config)
    assert sizes.names == ["context"]
    batch = episodes_of(net, theta, 4)
    first, second = adapt(net, theta, sizes, batch, config)
    for name in theta:
        assert torch.equal(first[name], theta[name]) == (name != "context"), name
    assert not torch.equal(second["context"], first["context"])
    assert float(policy_kl(net, theta, first, batch).detach()) == pytest.approx(1e-2, rel=0.25)


def test_the_meta_gradient_reaches_the_weights_that_read_the_context():
    net = context_net()
    theta = leaf(net)
    config = AdaptConfig(steps=1, step_size=1e-2, inner_step="kl", parametrization="log",
                         adapt="context")
    sizes = StepSizes(theta, config)
    phi = adapt(net, theta, sizes, episodes_of(net, theta, 4), config)[-1]
    outer = evaluate_episodes(net, phi, torch.randn(2, 5, OBS)).mean.square().mean()
    grad = torch.autograd.grad(outer, theta["pi.0.weight"])[0]
    assert grad[:, OBS:].abs().max() > 0  # the columns that read the adapted context


def test_adapting_the_context_needs_one():
    with pytest.raises(ValueError, match="context > 0"):
        StepSizes(parameters_of(MLPActorCritic(OBS, ACT)), AdaptConfig(adapt="context"))
    with pytest.raises(ValueError, match="adapt must be one of"):
        AdaptConfig(adapt="bias")
    with pytest.raises(ValueError, match="policy context must be an integer >= 0"):
        PolicyConfig(context=-1)
    with pytest.raises(ValueError, match="needs arch 'mlp'"):
        PolicyConfig(arch="lstm", context=4)


def test_a_context_added_to_a_trained_policy_leaves_its_actions_and_values_unchanged():
    torch.manual_seed(0)
    policy = Policy(OBS, ACT, PolicyConfig(hidden=16))
    with torch.no_grad():
        for p in policy.net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    policy.norm.update(2.0 + torch.randn(200, OBS))
    wider = with_context(policy, K)
    assert wider.config.context == K and wider.net.pi[0].weight.shape == (16, OBS + K)
    obs = np.random.default_rng(0).normal(size=(6, OBS)).astype(np.float32)
    before, after = policy.act(obs, deterministic=True), wider.act(obs, deterministic=True)
    np.testing.assert_array_equal(before.action, after.action)
    np.testing.assert_array_equal(before.value, after.value)
    with torch.no_grad():
        wider.net.context.fill_(1.0)
    assert np.abs(wider.act(obs, deterministic=True).action - before.action).max() > 1e-3


def test_a_context_run_meta_trains_and_its_snapshot_adapts_the_context(tmp_path):
    from agents.maml.train import MetaConfig, MetaTrainer

    config = MetaConfig(iterations=1, meta_batch=2, episodes=1, epochs=1, seed=3,
                        adapt=AdaptConfig(steps=1, step_size=1e-2, inner_step="kl",
                                          parametrization="log", adapt="context"),
                        policy=PolicyConfig(hidden=8, context=K))
    trainer = MetaTrainer(config, tmp_path / "run", tensorboard=False)
    trainer.iterate()
    agent = agents.load(str(trainer.lineage.path(1)), seed=0)
    assert agent.step_sizes.names == ["context"]
    assert agent.policy.config.context == K


def test_the_cli_asks_for_a_context_before_adapting_one(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["train", "maml", "--adapt", "context", "--run-dir", str(tmp_path / "r")])
    assert "--adapt context needs a context vector: add --context K" in str(exc.value.code)
    with pytest.raises(SystemExit) as exc:
        main(["train", "maml", "--meta-learn", "context", "--run-dir", str(tmp_path / "r")])
    assert "--meta-learn context trains what reads the context" in str(exc.value.code)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("meta_learn", ["context", "reader"])
def test_meta_learning_the_context_alone_leaves_the_rest_of_theta_as_it_was(tmp_path,
                                                                           meta_learn):
    from agents.maml.train import MetaConfig, MetaTrainer

    config = MetaConfig(iterations=1, meta_batch=2, episodes=1, epochs=2, seed=3,
                        adapt=AdaptConfig(steps=1, step_size=1e-2, inner_step="kl",
                                          parametrization="log", adapt="context"),
                        policy=PolicyConfig(hidden=8, context=K), meta_learn=meta_learn)
    trainer = MetaTrainer(config, tmp_path / "run", tensorboard=False)
    before = {k: v.detach().clone() for k, v in trainer.net.named_parameters()}
    trainer.iterate()
    width = trainer.policy.input_dim
    for name, value in trainer.net.named_parameters():
        if name == "context":  # "reader": the start stays 0, as CAVIA resets it
            assert torch.equal(value, before[name]) == (meta_learn == "reader")
        elif name in ("pi.0.weight", "v.0.weight"):
            assert torch.equal(value[:, :width], before[name][:, :width]), name
            if name == "pi.0.weight" and meta_learn == "context":  # the reading columns learn
                assert not torch.equal(value[:, width:], before[name][:, width:])
        else:
            assert torch.equal(value, before[name]), name
    with pytest.raises(ValueError, match="needs adapt 'context'"):
        MetaConfig(meta_learn="context")


def test_a_context_step_follows_the_policy_gradient_not_the_value_loss():
    from agents.maml.core import inner_loss

    net = context_net()
    theta = leaf(net)
    batch = episodes_of(net, theta, 4)
    grads = []
    for value_coef in (0.0, 0.5, 50.0):
        config = AdaptConfig(adapt="context", value_coef=value_coef)
        grads.append(torch.autograd.grad(inner_loss(net, theta, batch, config),
                                         theta["context"])[0])
    assert grads[0].abs().max() > 0
    for g in grads[1:]:  # the value net does not read the context
        torch.testing.assert_close(g, grads[0])
