"""The MAML adaptation rule (``agents.maml``): invariants, meta-gradients and a learning check.

The inner loss treats the baseline and the importance weights as constants (``detach``), so the
autograd meta-gradient is the derivative of the adaptation with those held fixed. The finite
difference checks therefore perturb only what the detached terms do not depend on: with varied
observations the policy entries, log-std and the last step size (the value parameters and alpha_1
move the baseline of the second step); with a constant observation the baseline of an MLP is the
same at every step, so the standardised advantages do not depend on it and every entry can be
checked (an LSTM's baseline changes along the episode even then).

The properties are checked for the MLP and the LSTM actor-critic: the LSTM is unrolled over each
episode from the zero state (``evaluate_episodes``), the same computation as acting step by step.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from agents.maml import (
    AdaptConfig,
    Episodes,
    StepSizes,
    act_step,
    adapt,
    discounted_returns,
    evaluate_episodes,
    importance_weights,
    inner_loss,
    parameters_of,
)
from agents.nets import LSTMActorCritic, MLPActorCritic, log_prob

OBS, ACT = 3, 2
ARCHS = ("mlp", "lstm")


def make_net(seed: int = 0, dtype: torch.dtype = torch.float32, arch: str = "mlp"):
    torch.manual_seed(seed)
    if arch == "lstm":
        return LSTMActorCritic(OBS, ACT, hidden=4, embed=4).to(dtype)
    return MLPActorCritic(OBS, ACT, hidden=(4,)).to(dtype)


def leaf_theta(net: MLPActorCritic) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().requires_grad_() for k, v in parameters_of(net).items()}


def on_policy_episodes(net, theta, episodes: int = 3, steps: int = 5, seed: int = 1,
                       constant_obs: bool = False, pad_last: int = 0) -> Episodes:
    """Episodes sampled from pi_theta (behaviour_logp = its log-prob); the last one padded."""
    g = torch.Generator().manual_seed(seed)
    dtype = next(iter(theta.values())).dtype
    if constant_obs:
        obs = torch.tensor([0.3, -0.5, 0.8], dtype=dtype).expand(episodes, steps, OBS).clone()
    else:
        obs = torch.randn(episodes, steps, OBS, generator=g, dtype=dtype)
    with torch.no_grad():
        mean, log_std, _, _ = evaluate_episodes(net, theta, obs)
        actions = mean + log_std.exp() * torch.randn(mean.shape, generator=g, dtype=dtype)
        logp = log_prob(mean, log_std, actions)
    rewards = torch.randn(episodes, steps, generator=g, dtype=dtype)
    mask = torch.ones(episodes, steps, dtype=dtype)
    if pad_last:
        mask[-1, -pad_last:] = 0.0
    return Episodes(obs, actions, rewards, logp, mask)


def outer_loss(net, phi, seed: int = 7) -> torch.Tensor:
    """A smooth stand-in for the outer objective on T_{i+1} data: policy gradient + value fit.

    The value term matters: the policy part of phi depends on the value parameters of theta only
    through the (detached) baseline, so without it they would get no meta-gradient.
    """
    g = torch.Generator().manual_seed(seed)
    dtype = phi["log_std"].dtype
    obs = torch.randn(2, 4, OBS, generator=g, dtype=dtype)  # two episodes of 4 steps
    actions = torch.randn(2, 4, ACT, generator=g, dtype=dtype)
    adv = torch.randn(2, 4, generator=g, dtype=dtype)
    ret = torch.randn(2, 4, generator=g, dtype=dtype)
    out = evaluate_episodes(net, phi, obs, actions)
    return -(out.logp * adv).mean() + 0.5 * (out.values - ret).square().mean()


def set_alphas(step_sizes: StepSizes, value: float) -> None:
    with torch.no_grad():
        for p in step_sizes.parameters():
            p.fill_(value)


# ------------------------------------------------------------------ config and pure functions


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "steps"), ({"steps": -1}, "steps"), ({"steps": 2.0}, "steps"),
    ({"max_weight": 0.5}, "max_weight"), ({"max_weight": float("nan")}, "max_weight"),
    ({"gamma": 0.0}, "gamma"), ({"gamma": 1.5}, "gamma"),
])
def test_adapt_config_rejects_invalid_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdaptConfig(**kwargs)


def test_adapt_config_defaults_are_the_paper_settings():
    c = AdaptConfig()
    assert (c.steps, c.step_size, c.per_parameter) == (3, 0.001, False)


def test_discounted_returns_by_hand_with_a_mask():
    rewards = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, -1.0, 9.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])  # 2nd episode: 2 steps
    out = discounted_returns(rewards, mask, 0.5)
    expected = torch.tensor([[1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 4, 2 + 0.5 * 3 + 0.25 * 4,
                              3 + 0.5 * 4, 4.0],
                             [1 + 0.5 * -1, -1.0, 0.0, 0.0]])  # padded rewards never count
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("arch", ARCHS)
def test_inner_loss_by_hand_and_padding_does_not_count(arch):
    net = make_net(arch=arch)
    theta = leaf_theta(net)
    config = AdaptConfig(gamma=0.9, value_coef=0.5, normalize_advantages=False)
    ep = on_policy_episodes(net, theta, pad_last=2)
    mean, log_std, _, values = evaluate_episodes(net, theta, ep.obs)
    logp = log_prob(mean, log_std, ep.actions)
    ret = discounted_returns(ep.rewards, ep.mask, 0.9)
    n = ep.mask.sum()
    adv = (ret - values).detach()
    expected = (-(logp * adv * ep.mask).sum() / n
                + 0.5 * 0.5 * ((values - ret).square() * ep.mask).sum() / n)
    loss = inner_loss(net, theta, ep, config)
    torch.testing.assert_close(loss, expected)
    # garbage in the padded steps changes nothing
    junk = ep.mask == 0
    noisy = Episodes(ep.obs.masked_fill(junk[..., None], 50.0),
                     ep.actions.masked_fill(junk[..., None], -7.0),
                     ep.rewards.masked_fill(junk, 1e3), ep.behaviour_logp.masked_fill(junk, -1e4),
                     ep.mask)
    for normalize in (False, True):
        c = AdaptConfig(gamma=0.9, normalize_advantages=normalize)
        torch.testing.assert_close(inner_loss(net, theta, noisy, c), inner_loss(net, theta, ep, c))


# ------------------------------------------------------------------ adaptation


@pytest.mark.parametrize("per_parameter", [False, True])
@pytest.mark.parametrize("steps", [1, 2, 3])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("arch", ARCHS)
def test_zero_step_sizes_leave_theta_unchanged(steps, per_parameter, create_graph, arch):
    net = make_net(arch=arch)
    theta = leaf_theta(net)
    config = AdaptConfig(steps=steps, step_size=0.0, per_parameter=per_parameter)
    phis = adapt(net, theta, StepSizes(theta, config), on_policy_episodes(net, theta), config,
                 create_graph=create_graph)
    assert len(phis) == steps
    for phi in phis:
        assert list(phi) == list(theta)
        for k in theta:
            assert torch.equal(phi[k], theta[k]), k


@pytest.mark.parametrize("per_parameter", [False, True])
@pytest.mark.parametrize("steps", [1, 2, 3])
@pytest.mark.parametrize("arch", ARCHS)
def test_every_step_gives_a_distinct_parameter_dict(steps, per_parameter, arch):
    net = make_net(arch=arch)
    theta = leaf_theta(net)
    config = AdaptConfig(steps=steps, step_size=0.05, per_parameter=per_parameter)
    phis = adapt(net, theta, StepSizes(theta, config), on_policy_episodes(net, theta), config)
    assert len(phis) == steps
    previous = theta
    for phi in phis:
        for k in theta:  # every tensor, policy and value, moves at every step
            assert phi[k].shape == theta[k].shape
            assert not torch.equal(phi[k], previous[k]), k
        previous = phi


def meta_gradients(per_parameter: bool, first_order: bool, steps: int = 3, seed: int = 0,
                   arch: str = "mlp"):
    net = make_net(seed, arch=arch)
    theta = leaf_theta(net)
    config = AdaptConfig(steps=steps, step_size=0.05, per_parameter=per_parameter)
    step_sizes = StepSizes(theta, config)
    phi = adapt(net, theta, step_sizes, on_policy_episodes(net, theta, pad_last=2), config,
                create_graph=not first_order)[-1]
    outer_loss(net, phi).backward()
    alphas = [list(a.values()) if per_parameter else [a] for a in step_sizes.alphas]
    return ({k: v.grad for k, v in theta.items()},
            [[a.grad for a in step] for step in alphas])


@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("per_parameter", [False, True])
@pytest.mark.parametrize("arch", ARCHS)
def test_meta_gradient_reaches_every_theta_entry_and_every_step_size(per_parameter, first_order,
                                                                     arch):
    theta_grads, alpha_grads = meta_gradients(per_parameter, first_order, arch=arch)
    modules = ({"pi", "v", "log_std"} if arch == "mlp" else
               {"pi_embed", "pi_cell", "pi_head", "log_std", "v_embed", "v_cell", "v_head"})
    assert {k.split(".")[0] for k in theta_grads} == modules
    for name, g in theta_grads.items():
        assert g is not None, name
        assert torch.isfinite(g).all() and (g != 0).all(), f"{name}: {g}"
    assert len(alpha_grads) == 3
    for m, step in enumerate(alpha_grads):
        for g in step:
            assert g is not None, f"alpha_{m + 1}"
            assert torch.isfinite(g).all() and (g != 0).all(), f"alpha_{m + 1}: {g}"


@pytest.mark.parametrize("per_parameter", [False, True])
@pytest.mark.parametrize("arch", ARCHS)
def test_first_order_theta_gradient_differs_but_last_step_size_gradient_agrees(per_parameter,
                                                                               arch):
    """phi^M = phi^{M-1} - alpha_M g_M, with g_M computed at phi^{M-1} by the same forward pass in
    both modes, so d outer / d alpha_M = -<d outer / d phi^M, g_M> in both. Earlier alphas and
    theta also act through the later inner gradients (Hessian terms), which first order drops.
    """
    theta2, alpha2 = meta_gradients(per_parameter, first_order=False, arch=arch)
    theta1, alpha1 = meta_gradients(per_parameter, first_order=True, arch=arch)
    assert any(not torch.allclose(theta1[k], theta2[k], rtol=1e-3, atol=1e-7) for k in theta1)
    for a1, a2 in zip(alpha1[-1], alpha2[-1], strict=True):
        torch.testing.assert_close(a1, a2, rtol=1e-5, atol=1e-8)
    for m in range(2):  # alpha_1 and alpha_2 see the second-order terms
        assert any(not torch.allclose(a1, a2, rtol=1e-3, atol=1e-8)
                   for a1, a2 in zip(alpha1[m], alpha2[m], strict=True)), f"alpha_{m + 1}"


@pytest.mark.parametrize("arch", ARCHS)
def test_first_order_theta_gradient_is_the_gradient_at_the_adapted_parameters(arch):
    """First order: phi^M = theta - sum alpha_m g_m with constant g_m, so d phi^M / d theta = I."""
    net = make_net(arch=arch)
    theta = leaf_theta(net)
    config = AdaptConfig(steps=3, step_size=0.05)
    phi = adapt(net, theta, StepSizes(theta, config), on_policy_episodes(net, theta), config)[-1]
    grads = torch.autograd.grad(outer_loss(net, phi), list(theta.values()))
    at = {k: v.detach().requires_grad_() for k, v in phi.items()}
    direct = torch.autograd.grad(outer_loss(net, at), list(at.values()))
    for g, d in zip(grads, direct, strict=True):
        torch.testing.assert_close(g, d)


# ------------------------------------------------------------------ importance weights


@pytest.mark.parametrize("arch", ARCHS)
def test_on_policy_weights_are_exactly_one_and_the_update_is_the_plain_one(arch):
    net = make_net(arch=arch)
    theta = leaf_theta(net)
    ep = on_policy_episodes(net, theta, pad_last=2)
    w = importance_weights(evaluate_episodes(net, theta, ep.obs, ep.actions).logp,
                           ep.behaviour_logp, 2.0)
    assert torch.equal(w, torch.ones_like(w))
    config = AdaptConfig(steps=1, step_size=0.05)
    step_sizes = StepSizes(theta, config)
    assert torch.equal(inner_loss(net, theta, ep, config, weighted=True),
                       inner_loss(net, theta, ep, config, weighted=False))
    weighted = adapt(net, theta, step_sizes, ep, config, weighted=True)[0]
    plain = adapt(net, theta, step_sizes, ep, config, weighted=False)[0]
    for k in theta:
        assert torch.equal(weighted[k], plain[k]), k


@pytest.mark.parametrize("arch", ARCHS)
def test_later_steps_are_weighted_against_the_behaviour_policy(arch):
    """With M > 1 the data is on-policy for step 1 only; steps 2.. weight by pi_{phi^{m-1}}."""
    net = make_net(arch=arch)
    theta = leaf_theta(net)
    ep = on_policy_episodes(net, theta)
    config = AdaptConfig(steps=3, step_size=0.2)
    step_sizes = StepSizes(theta, config)
    weighted = adapt(net, theta, step_sizes, ep, config, weighted=True)
    plain = adapt(net, theta, step_sizes, ep, config, weighted=False)
    assert all(torch.equal(weighted[0][k], plain[0][k]) for k in theta)
    assert any(not torch.equal(weighted[-1][k], plain[-1][k]) for k in theta)


@pytest.mark.parametrize("arch", ARCHS)
def test_off_policy_weights_are_truncated_and_change_the_update(arch):
    net = make_net(arch=arch)
    theta = leaf_theta(net)
    ep = on_policy_episodes(net, theta)
    g = torch.Generator().manual_seed(3)
    shift = torch.randn(ep.behaviour_logp.shape, generator=g)  # ratios from e^-3 to e^3
    off = ep._replace(behaviour_logp=ep.behaviour_logp + shift)
    logp = evaluate_episodes(net, theta, off.obs, off.actions).logp
    w = importance_weights(logp, off.behaviour_logp, 1.5)
    raw = torch.exp(logp - off.behaviour_logp).detach()
    assert (raw > 1.5).any() and (raw < 1.0).any()
    torch.testing.assert_close(w, raw.clamp(max=1.5))
    assert w.max() == 1.5 and w.min() < 1.0  # truncated above only
    config = AdaptConfig(steps=1, step_size=0.05, max_weight=1.5)
    step_sizes = StepSizes(theta, config)
    assert not torch.allclose(inner_loss(net, theta, off, config),
                              inner_loss(net, theta, off, config, weighted=False))
    weighted = adapt(net, theta, step_sizes, off, config, weighted=True)[0]
    plain = adapt(net, theta, step_sizes, off, config, weighted=False)[0]
    assert any(not torch.allclose(weighted[k], plain[k]) for k in theta)


def test_importance_weights_carry_no_gradient():
    logp = torch.randn(4, 5, requires_grad=True)
    behaviour = torch.randn(4, 5, requires_grad=True)
    w = importance_weights(logp, behaviour, 2.0)
    assert not w.requires_grad and w.grad_fn is None
    # the inner loss is linear in logp with the weights as constant coefficients
    net = make_net()
    theta = leaf_theta(net)
    ep = on_policy_episodes(net, theta)
    off = ep._replace(behaviour_logp=ep.behaviour_logp - 0.3)  # every ratio e^0.3, untruncated
    config = AdaptConfig(normalize_advantages=False, value_coef=0.0)
    g_w = torch.autograd.grad(inner_loss(net, theta, off, config), theta["log_std"])[0]
    g_1 = torch.autograd.grad(inner_loss(net, theta, off, config, weighted=False),
                              theta["log_std"])[0]
    torch.testing.assert_close(g_w, math.exp(0.3) * g_1)


# ------------------------------------------------------------------ finite differences


def finite_difference_case(constant_obs: bool, per_parameter: bool, arch: str = "mlp"):
    net = make_net(seed=2, dtype=torch.float64, arch=arch)
    theta = leaf_theta(net)
    config = AdaptConfig(steps=2, step_size=0.3, per_parameter=per_parameter, gamma=0.9)
    step_sizes = StepSizes(theta, config).double()
    ep = on_policy_episodes(net, theta, episodes=4, steps=6, constant_obs=constant_obs)

    def objective(create_graph: bool) -> torch.Tensor:
        phi = adapt(net, theta, step_sizes, ep, config, create_graph=create_graph,
                    weighted=False)[-1]
        return outer_loss(net, phi)

    return theta, step_sizes, objective


POLICY_ENTRIES = [("pi.0.weight", (0, 1)), ("pi.0.weight", (3, 2)), ("pi.0.bias", (2,)),
                  ("pi.2.weight", (1, 3)), ("pi.2.bias", (0,)), ("log_std", (0,)),
                  ("log_std", (1,))]
VALUE_ENTRIES = [("v.0.weight", (1, 0)), ("v.0.bias", (3,)), ("v.2.weight", (0, 2)),
                 ("v.2.bias", (0,))]
LSTM_POLICY_ENTRIES = [("pi_embed.0.weight", (0, 1)), ("pi_embed.0.bias", (2,)),
                       ("pi_cell.weight_ih", (10, 1)), ("pi_cell.weight_hh", (10, 3)),
                       ("pi_cell.bias_ih", (13,)), ("pi_cell.bias_hh", (3,)),
                       ("pi_head.0.weight", (1, 3)), ("pi_head.0.bias", (0,)), ("log_std", (1,))]


@pytest.mark.parametrize("constant_obs, per_parameter, arch", [
    (False, False, "mlp"), (True, False, "mlp"), (True, True, "mlp"), (False, False, "lstm")])
def test_meta_gradient_matches_finite_differences(constant_obs, per_parameter, arch):
    """An LSTM's baseline varies along an episode even for a constant observation, so for it
    only the policy entries and the last step size are checked (as for varied observations)."""
    theta, step_sizes, objective = finite_difference_case(constant_obs, per_parameter, arch)
    theta_grads = torch.autograd.grad(objective(True), list(theta.values()))
    autograd = dict(zip(theta, theta_grads, strict=True))
    step_sizes.zero_grad()
    objective(True).backward()
    alpha_steps = ([list(a.values()) for a in step_sizes.alphas] if per_parameter
                   else [[a] for a in step_sizes.alphas])
    # (tensor, index, autograd value); alpha_1 and the value entries only with a constant obs
    entries = POLICY_ENTRIES if arch == "mlp" else LSTM_POLICY_ENTRIES
    checks = [(theta[k], i, autograd[k][i]) for k, i in entries]
    first_alpha = 0
    if constant_obs:
        checks += [(theta[k], i, autograd[k][i]) for k, i in VALUE_ENTRIES]
    else:
        first_alpha = 1
    for step in alpha_steps[first_alpha:]:
        for a in step[:: max(1, len(step) // 3)]:  # a few of the per-parameter tensors
            index = (0,) * a.dim()
            if arch == "lstm":  # many LSTM entries barely move the loss: take the largest
                index = tuple(int(j) for j in torch.unravel_index(a.grad.abs().argmax(),
                                                                   a.shape))
                if float(a.grad.abs().max()) < 1e-5:
                    continue
            checks.append((a, index, a.grad[index]))
    eps = 1e-6
    for tensor, index, expected in checks:
        with torch.no_grad():
            tensor[index] += eps
        up = float(objective(False).detach())
        with torch.no_grad():
            tensor[index] -= 2 * eps
        down = float(objective(False).detach())
        with torch.no_grad():
            tensor[index] += eps
        numeric = (up - down) / (2 * eps)
        assert abs(float(expected)) > 1e-6, "pick entries with a non-trivial gradient"
        assert math.isclose(float(expected), numeric, rel_tol=1e-4, abs_tol=1e-9), (
            f"entry {index} of a {tuple(tensor.shape)} tensor: autograd {float(expected):.8g}, "
            f"central difference {numeric:.8g}")


@pytest.mark.parametrize("arch, constant_obs, name", [("mlp", True, "pi.0.weight"),
                                                      ("lstm", False, "pi_embed.0.weight")])
def test_finite_differences_tell_first_order_apart(arch, constant_obs, name):
    """The check above has power: the first-order gradient misses the Hessian terms."""
    theta, _, objective = finite_difference_case(constant_obs, False, arch)
    first = torch.autograd.grad(objective(False), [theta[name]])[0][0, 1]
    eps = 1e-6
    with torch.no_grad():
        theta[name][0, 1] += eps
    up = float(objective(False).detach())
    with torch.no_grad():
        theta[name][0, 1] -= 2 * eps
    down = float(objective(False).detach())
    numeric = (up - down) / (2 * eps)
    assert not math.isclose(float(first), numeric, rel_tol=1e-2)


# ------------------------------------------------------------------ evaluating on episodes


def test_lstm_evaluation_is_acting_step_by_step_and_one_stream_with_starts():
    """Unrolling [E, T] episodes from the zero state equals (a) stepping each episode with
    ``act_step`` from a fresh state and (b) one long stream of the episodes back to back through
    the net's own forward, with ``starts`` at each episode's first step."""
    net = make_net(arch="lstm")
    theta = leaf_theta(net)
    ep = on_policy_episodes(net, theta, episodes=3, steps=5)
    out = evaluate_episodes(net, theta, ep.obs, ep.actions)
    assert out.mean.shape == (3, 5, ACT) and out.values.shape == out.logp.shape == (3, 5)
    with torch.no_grad():
        for e in range(3):
            state = None
            for t in range(5):
                mean, _, value, state = act_step(net, theta, ep.obs[e, t][None], state)
                torch.testing.assert_close(mean[0], out.mean[e, t])
                torch.testing.assert_close(value[0], out.values[e, t])
        stream = ep.obs.reshape(1, 15, OBS).transpose(0, 1)  # [15, 1, OBS]
        starts = torch.zeros(15, 1)
        starts[::5] = 1.0
        junk = torch.full((4, 1, 4), 3.0)  # a stale state is discarded at the first start
        mean, _, values, _ = functional_call(net, theta, (stream, junk, starts))
    torch.testing.assert_close(mean[:, 0].reshape(3, 5, ACT), out.mean)
    torch.testing.assert_close(values[:, 0].reshape(3, 5), out.values)
    with pytest.raises(ValueError, match=r"\[E, T, obs_dim\]"):
        evaluate_episodes(net, theta, ep.obs[0])


def test_mlp_evaluation_is_the_plain_forward_pass_and_acting_carries_no_state():
    net = make_net()
    theta = leaf_theta(net)
    ep = on_policy_episodes(net, theta)
    out = evaluate_episodes(net, theta, ep.obs, ep.actions)
    mean, log_std, values = functional_call(net, theta, (ep.obs,))
    assert torch.equal(out.mean, mean) and torch.equal(out.values, values)
    assert torch.equal(out.logp, log_prob(mean, log_std, ep.actions))
    assert evaluate_episodes(net, theta, ep.obs).logp is None
    assert act_step(net, theta, ep.obs[:, 0])[3] is None


@pytest.mark.parametrize("per_parameter", [False, True])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("arch", ARCHS)
def test_functional_inner_gradients_give_the_same_adaptation_and_meta_gradient(
        arch, create_graph, per_parameter):
    """``adapt(functional=True)`` (torch.func.grad, what vmap needs) matches torch.autograd."""
    net = make_net(arch=arch, dtype=torch.float64)
    theta = leaf_theta(net)
    config = AdaptConfig(steps=2, step_size=0.1, per_parameter=per_parameter)
    step_sizes = StepSizes(theta, config).double()
    ep = on_policy_episodes(net, theta, pad_last=2)
    off = ep._replace(behaviour_logp=ep.behaviour_logp - 0.5)  # truncated weights too
    results = []
    for functional in (False, True):
        phis = adapt(net, theta, step_sizes, off, config, create_graph=create_graph,
                     functional=functional)
        params = [*theta.values(), *step_sizes.parameters()]
        results.append((phis, torch.autograd.grad(outer_loss(net, phis[-1]), params)))
    (phis_a, grads_a), (phis_f, grads_f) = results
    for a, f in zip(phis_a, phis_f, strict=True):
        for k in theta:
            torch.testing.assert_close(f[k], a[k], rtol=1e-10, atol=1e-12)
    for a, f in zip(grads_a, grads_f, strict=True):
        torch.testing.assert_close(f, a, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ learning


SHIFT = 0.5  # the target moves by this much from one task to the next
ADAPT_EPISODES, OUTER_EPISODES, META_BATCH = 16, 64, 8


def bandit_sample(net, params, target: float, n: int, gen: torch.Generator):
    """n one-step episodes of the drifting bandit: constant observation, r = -(a - target)^2."""
    obs = torch.ones(n, 1, 1)
    mean, log_std, _ = functional_call(net, params, (obs,))
    actions = (mean + log_std.exp() * torch.randn(mean.shape, generator=gen)).detach()
    rewards = -(actions[..., 0] - target).square()
    return obs, actions, rewards, log_prob(mean, log_std, actions).detach()


def bandit_value(net, params, target: float) -> float:
    """Expected return of the Gaussian policy on a task: -((mean - target)^2 + std^2)."""
    with torch.no_grad():
        mean, log_std, _ = functional_call(net, params, (torch.ones(1, 1),))
        return float(-((mean[0, 0] - target).square() + log_std.exp()[0].square()))


def bandit_adapt(net, theta, step_sizes, config, target, gen, create_graph=False):
    obs, actions, rewards, logp = bandit_sample(net, theta, target, ADAPT_EPISODES, gen)
    episodes = Episodes(obs, actions, rewards, logp, torch.ones_like(rewards))
    return adapt(net, theta, step_sizes, episodes, config, create_graph=create_graph)[-1]


def bandit_evaluate(net, theta, step_sizes, config, seed: int, pairs: int = 150):
    """Mean expected return on T_{i+1}: of theta itself, and after adapting on T_i samples."""
    gen = torch.Generator().manual_seed(seed)
    before = after = 0.0
    for _ in range(pairs):
        target = float(torch.rand(1, generator=gen)) * 4 - 2
        phi = bandit_adapt(net, theta, step_sizes, config, target, gen)
        before += bandit_value(net, theta, target + SHIFT)
        after += bandit_value(net, phi, target + SHIFT)
    return before / pairs, after / pairs


@pytest.mark.slow
def test_meta_training_on_a_drifting_bandit_learns_to_adapt():
    """Tasks are targets c in [-2, 2]; the next task is c + 0.5. theta and two step sizes
    (initialised at 0.001, so adaptation does nothing at first) are meta-trained with a policy
    gradient on samples of the adapted policy on T_{i+1}, second order through the adaptation.

    Measured over seeds 0-11 (150 iterations, 200 evaluation pairs): after meta-training the
    adapted policy beats theta on T_{i+1} by 0.9 to 6.0 and beats the adaptation before training
    by 1.2 to 2.3 (expected returns, theta itself near -2.6 before training); before training the
    two differ by about 0.01. The asserted margins are 0.5. About 5-30 s on a loaded 2-core box.
    """
    seed = 0
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    net = MLPActorCritic(1, 1, hidden=(16,))
    config = AdaptConfig(steps=2, step_size=0.001, gamma=1.0)
    theta = parameters_of(net)
    step_sizes = StepSizes(theta, config)
    optimizer = torch.optim.Adam([*net.parameters(), *step_sizes.parameters()], lr=0.01)
    gen = torch.Generator().manual_seed(seed)
    before_training = bandit_evaluate(net, theta, step_sizes, config, seed=100 + seed)
    for _ in range(150):
        loss = torch.zeros(())
        for _ in range(META_BATCH):
            target = float(torch.rand(1, generator=gen)) * 4 - 2
            phi = bandit_adapt(net, theta, step_sizes, config, target, gen, create_graph=True)
            obs, actions, rewards, _ = bandit_sample(net, phi, target + SHIFT, OUTER_EPISODES,
                                                     gen)
            mean, log_std, _ = functional_call(net, phi, (obs,))
            adv = (rewards - rewards.mean()) / (rewards.std() + 1e-8)
            loss = loss - (log_prob(mean, log_std, actions) * adv).mean() / META_BATCH
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    theta_return, adapted_return = bandit_evaluate(net, theta, step_sizes, config,
                                                   seed=100 + seed)
    assert abs(before_training[1] - before_training[0]) < 0.1
    assert adapted_return > theta_return + 0.5, (theta_return, adapted_return)
    assert adapted_return > before_training[1] + 0.5, (before_training, adapted_return)
