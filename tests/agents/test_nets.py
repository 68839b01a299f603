"""Networks and observation normalisation: exact statistics, shapes, separation of policy and
value, recurrent state handling, and functional calls with explicit parameter dicts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.distributions import Normal
from torch.func import functional_call

from agents.nets import (
    OBS_CLIP,
    LSTMActorCritic,
    MLPActorCritic,
    RunningNorm,
    entropy,
    gaussian,
    log_prob,
    mlp,
)

OBS, ACT = 7, 3


@pytest.fixture(autouse=True)
def seeded() -> None:
    torch.manual_seed(0)


# ---------------------------------------------------------------------------------------------
# RunningNorm
# ---------------------------------------------------------------------------------------------


def test_running_norm_matches_numpy_over_all_batches() -> None:
    rng = np.random.default_rng(0)
    # Batches of different sizes and distributions; the first has one row (variance 0), and one
    # arrives as [T, B, dim] to exercise the reshape.
    batches = [
        rng.normal(3.0, 1.0, size=(1, 4)),
        rng.normal(-2.0, 5.0, size=(7, 4)),
        rng.normal(0.5, 0.1, size=(50, 4)),
        rng.normal(10.0, 2.0, size=(3, 4)),
        rng.normal(1.0, 3.0, size=(6, 2, 4)),
    ]
    norm = RunningNorm(4)
    for b in batches:
        norm.update(torch.from_numpy(b))
    data = np.concatenate([b.reshape(-1, 4) for b in batches])
    assert norm.count.item() == len(data) == 73
    np.testing.assert_allclose(norm.mean.numpy(), data.mean(0), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(norm.var.numpy(), data.var(0, ddof=0), rtol=1e-12, atol=1e-13)
    assert norm.mean.dtype == norm.var.dtype == torch.float64


def test_running_norm_float32_input_keeps_float64_accuracy() -> None:
    # Observations far from zero: naive float32 sums would lose the variance entirely.
    rng = np.random.default_rng(1)
    batches = [(1e4 + rng.normal(size=(n, 2))).astype(np.float32) for n in (5, 100, 17, 64)]
    norm = RunningNorm(2)
    for b in batches:
        norm.update(torch.from_numpy(b))
    data = np.concatenate(batches).astype(np.float64)
    np.testing.assert_allclose(norm.mean.numpy(), data.mean(0), rtol=1e-13)
    np.testing.assert_allclose(norm.var.numpy(), data.var(0), rtol=1e-9)


def test_running_norm_forward_normalises_and_clips() -> None:
    norm = RunningNorm(2)
    # column 0: {0, 2} -> mean 1, var 1;  column 1: {-4, 4} -> mean 0, var 16
    norm.update(torch.tensor([[0.0, -4.0], [2.0, 4.0]]))
    x = torch.tensor([[3.0, 2.0], [1.0, -8.0], [100.0, -100.0], [-100.0, 100.0]])
    y = norm(x)
    s0, s1 = math.sqrt(1 + norm.eps), math.sqrt(16 + norm.eps)
    expected = torch.tensor([[2.0 / s0, 2.0 / s1], [0.0, -8.0 / s1],
                             [OBS_CLIP, -OBS_CLIP], [-OBS_CLIP, OBS_CLIP]])
    torch.testing.assert_close(y, expected, rtol=1e-6, atol=1e-6)
    assert y.dtype == torch.float32
    assert OBS_CLIP == 5.0

    big = RunningNorm(2)
    big.update(torch.randn(1000, 2, dtype=torch.float64) * 3 + 1)
    z = big(torch.randn(10, 20, 2) * 50)
    assert z.shape == (10, 20, 2)
    assert z.abs().max().item() == OBS_CLIP  # some values far out, all clipped to exactly 5


def test_running_norm_fresh_is_identity_up_to_clip() -> None:
    norm = RunningNorm(3)
    assert norm.count.item() == 0
    x = torch.tensor([[0.5, -1.0, 4.0]])
    torch.testing.assert_close(norm(x), x, rtol=1e-7, atol=0.0)


def test_running_norm_state_is_buffers_not_parameters() -> None:
    norm = RunningNorm(3)
    norm.update(torch.randn(10, 3))
    assert list(norm.parameters()) == []
    assert {name for name, _ in norm.named_buffers()} == {"mean", "var", "count"}
    state = norm.state_dict()
    assert set(state) == {"mean", "var", "count"}
    assert state["count"].item() == 10

    restored = RunningNorm(3)
    restored.load_state_dict(state)
    x = torch.randn(4, 3)
    assert torch.equal(restored(x), norm(x))


def test_running_norm_zero_size_batch_changes_nothing() -> None:
    fresh = RunningNorm(3)
    fresh.update(torch.empty(0, 3))
    assert fresh.count.item() == 0
    assert torch.equal(fresh.mean, torch.zeros(3, dtype=torch.float64))
    assert torch.equal(fresh.var, torch.ones(3, dtype=torch.float64))

    norm = RunningNorm(3)
    norm.update(torch.randn(5, 3))
    before = {k: v.clone() for k, v in norm.state_dict().items()}
    norm.update(torch.empty(0, 3))
    norm.update(torch.empty(4, 0, 3))
    for k, v in norm.state_dict().items():
        assert torch.equal(v, before[k]), k


# ---------------------------------------------------------------------------------------------
# Gaussian helpers
# ---------------------------------------------------------------------------------------------


def test_log_prob_and_entropy_match_torch_normal() -> None:
    mean = torch.randn(5, 4, ACT, dtype=torch.float64)
    log_std = torch.randn(ACT, dtype=torch.float64)
    action = torch.randn(5, 4, ACT, dtype=torch.float64) * 2
    ref = Normal(mean, log_std.exp())
    lp = log_prob(mean, log_std, action)
    assert lp.shape == (5, 4)
    torch.testing.assert_close(lp, ref.log_prob(action).sum(-1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(entropy(log_std), ref.entropy().sum(-1)[0, 0], rtol=1e-12,
                               atol=1e-12)
    # A per-sample log-std [..., act] gives a per-sample entropy.
    batch_log_std = torch.randn(5, ACT, dtype=torch.float64)
    torch.testing.assert_close(entropy(batch_log_std),
                               Normal(torch.zeros(5, ACT), batch_log_std.exp()).entropy().sum(-1),
                               rtol=1e-12, atol=1e-12)


def test_log_prob_hand_value_and_gradients_match_normal() -> None:
    # One dimension, mean 0, std 1, action 0: log N(0; 0, 1) = -0.5 * log(2 pi)
    lp = log_prob(torch.zeros(1, 1), torch.zeros(1), torch.zeros(1, 1))
    assert lp.item() == pytest.approx(-0.5 * math.log(2 * math.pi))
    # entropy of a unit Gaussian per dimension: 0.5 * log(2 pi e); two dims with std e^{-1}
    assert entropy(torch.tensor([-1.0, -1.0])).item() == pytest.approx(
        2 * (0.5 * math.log(2 * math.pi * math.e) - 1.0))

    mean = torch.randn(6, ACT, dtype=torch.float64, requires_grad=True)
    log_std = torch.randn(ACT, dtype=torch.float64, requires_grad=True)
    action = torch.randn(6, ACT, dtype=torch.float64)
    grads = torch.autograd.grad(log_prob(mean, log_std, action).sum(), (mean, log_std))
    ref = torch.autograd.grad(Normal(mean, log_std.exp()).log_prob(action).sum(),
                              (mean, log_std))
    for g, r in zip(grads, ref, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-12, atol=1e-12)


def test_gaussian_is_the_diagonal_normal() -> None:
    mean = torch.randn(4, ACT)
    log_std = torch.tensor([-0.5, 0.0, 0.3])
    dist = gaussian(mean, log_std)
    assert isinstance(dist, Normal)
    assert dist.batch_shape == mean.shape
    assert torch.equal(dist.mean, mean)
    torch.testing.assert_close(dist.stddev, log_std.exp().expand(4, ACT))
    action = dist.sample()
    torch.testing.assert_close(dist.log_prob(action).sum(-1), log_prob(mean, log_std, action))
    torch.testing.assert_close(dist.entropy().sum(-1), entropy(log_std).expand(4))


# ---------------------------------------------------------------------------------------------
# mlp and MLPActorCritic
# ---------------------------------------------------------------------------------------------


def test_mlp_layers_and_orthogonal_init() -> None:
    net = mlp([5, 16, 8, 2], out_gain=0.01)
    kinds = [type(m) for m in net]
    assert kinds == [nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    hidden_1, hidden_2, out = net[0], net[2], net[4]
    for layer, gain in ((hidden_1, math.sqrt(2)), (hidden_2, math.sqrt(2)), (out, 0.01)):
        w = layer.weight.detach().double()
        # orthogonal with gain g: the smaller Gram matrix is g^2 I
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        torch.testing.assert_close(gram, gain**2 * torch.eye(gram.shape[0], dtype=torch.float64),
                                   rtol=0, atol=1e-5 * max(gain**2, 1))
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))


def linear_shapes(seq: nn.Sequential) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in seq if isinstance(m, nn.Linear)]


def test_mlp_actor_critic_architecture_and_initial_log_std() -> None:
    net = MLPActorCritic(OBS, ACT, init_log_std=-0.5)
    assert not net.recurrent
    assert linear_shapes(net.pi) == [(OBS, 64), (64, 64), (64, ACT)]
    assert linear_shapes(net.v) == [(OBS, 64), (64, 64), (64, 1)]
    assert sum(isinstance(m, nn.Tanh) for m in net.pi) == 2
    assert sum(isinstance(m, nn.Tanh) for m in net.v) == 2
    assert torch.equal(net.log_std.detach(), torch.full((ACT,), -0.5))
    assert torch.equal(MLPActorCritic(OBS, ACT).log_std.detach(), torch.zeros(ACT))
    names = {n for n, _ in net.named_parameters()}
    assert names == {"log_std"} | {f"{h}.{i}.{p}" for h in ("pi", "v") for i in (0, 2, 4)
                                   for p in ("weight", "bias")}


@pytest.mark.parametrize("batch", [(5,), (4, 6)])
def test_mlp_actor_critic_shapes(batch: tuple[int, ...]) -> None:
    net = MLPActorCritic(OBS, ACT)
    mean, log_std, value = net(torch.randn(*batch, OBS))
    assert mean.shape == (*batch, ACT)
    assert log_std.shape == (ACT,)
    assert value.shape == batch


def test_mlp_actor_critic_outputs_are_rowwise() -> None:
    # Each output row depends on its own observation only (no batch coupling).
    net = MLPActorCritic(OBS, ACT)
    obs = torch.randn(4, 6, OBS)
    mean, _, value = net(obs)
    m1, _, v1 = net(obs[2, 3])
    torch.testing.assert_close(mean[2, 3], m1)
    torch.testing.assert_close(value[2, 3], v1)


def assert_grads_only_in(net: nn.Module, loss: torch.Tensor, prefixes: tuple[str, ...]) -> None:
    net.zero_grad(set_to_none=True)
    loss.backward()
    for name, p in net.named_parameters():
        if name.startswith(prefixes):
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None or not p.grad.any(), name


def test_mlp_actor_critic_policy_and_value_share_nothing() -> None:
    net = MLPActorCritic(OBS, ACT)
    obs = torch.randn(8, OBS)
    _, _, value = net(obs)
    assert_grads_only_in(net, value.sum(), ("v.",))
    mean, log_std, _ = net(obs)
    assert_grads_only_in(net, mean.sum() + log_std.sum(), ("pi.", "log_std"))
    pi_ids = {id(p) for p in net.pi.parameters()} | {id(net.log_std)}
    assert pi_ids.isdisjoint(id(p) for p in net.v.parameters())


def test_mlp_actor_critic_functional_call() -> None:
    net = MLPActorCritic(OBS, ACT)
    obs = torch.randn(5, OBS)
    params = dict(net.named_parameters())
    for a, b in zip(functional_call(net, params, (obs,)), net(obs), strict=True):
        assert torch.equal(a, b)

    shifted = {k: v.detach() + 0.1 for k, v in params.items()}
    mean, log_std, value = functional_call(net, shifted, (obs,))
    ref_mean, ref_log_std, ref_value = net(obs)
    assert not torch.allclose(mean, ref_mean)
    assert not torch.allclose(value, ref_value)
    torch.testing.assert_close(log_std, ref_log_std + 0.1)
    # The module itself is untouched by the call.
    for k, v in net.named_parameters():
        assert torch.equal(v, params[k])

    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    mean, log_std, value = functional_call(net, leaves, (obs,))
    loss = -log_prob(mean, log_std, torch.randn(5, ACT)).mean() + value.square().mean()
    grads = torch.autograd.grad(loss, list(leaves.values()))
    for name, g in zip(leaves, grads, strict=True):
        assert g.abs().sum() > 0, name
    assert all(p.grad is None for p in net.parameters())


def test_mlp_actor_critic_maml_second_order_gradient_reaches_every_parameter() -> None:
    net = MLPActorCritic(OBS, ACT)
    obs, act = torch.randn(16, OBS), torch.randn(16, ACT)
    returns = torch.randn(16)

    def loss_fn(p: dict[str, torch.Tensor]) -> torch.Tensor:
        mean, log_std, value = functional_call(net, p, (obs,))
        return -log_prob(mean, log_std, act).mean() + (value - returns).square().mean()

    params = dict(net.named_parameters())
    inner = torch.autograd.grad(loss_fn(params), list(params.values()), create_graph=True)
    adapted = {k: v - 0.1 * g for (k, v), g in zip(params.items(), inner, strict=True)}
    assert any(not torch.equal(adapted[k], params[k]) for k in params)
    loss_fn(adapted).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.any(), name


# ---------------------------------------------------------------------------------------------
# LSTMActorCritic
# ---------------------------------------------------------------------------------------------


def test_lstm_actor_critic_shapes_and_initial_state() -> None:
    net = LSTMActorCritic(OBS, ACT, init_log_std=-1.0)
    assert net.recurrent
    T, B = 5, 3
    state = net.initial_state(B)
    assert state.shape == (4, B, 64)
    assert not state.any()
    mean, log_std, value, final = net(torch.randn(T, B, OBS), state, torch.zeros(T, B))
    assert mean.shape == (T, B, ACT)
    assert log_std.shape == (ACT,)
    assert torch.equal(log_std.detach(), torch.full((ACT,), -1.0))
    assert value.shape == (T, B)
    assert final.shape == (4, B, 64)
    assert final.any()


def assert_same(got: torch.Tensor, want: torch.Tensor) -> None:
    # The same computation up to float32 rounding: a [T, B] batch and a [1, B] batch may take
    # different matmul blockings and so differ in the last bits.
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6 * want.abs().max().item())


def assert_differ(a: torch.Tensor, b: torch.Tensor) -> None:
    assert (a - b).abs().max() > 1e-3 * b.abs().max()


def test_lstm_starts_zero_the_state_per_env() -> None:
    net = LSTMActorCritic(OBS, ACT)
    B = 2
    obs_a, obs_b = torch.randn(1, B, OBS), torch.randn(1, B, OBS)
    # A nonzero incoming state, so that "reset" and "carry on" differ already at the first step.
    state = torch.randn(4, B, 64) * 0.5
    obs = torch.cat([obs_a, obs_b])

    fresh = net(obs_b, net.initial_state(B), torch.zeros(1, B))
    reset = net(obs, state, torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    assert_same(reset[0][1], fresh[0][0])
    assert_same(reset[2][1], fresh[2][0])
    assert_same(reset[3], fresh[3])

    carried = net(obs, state, torch.zeros(2, B))
    assert_differ(carried[0][1], fresh[0][0])
    assert_differ(carried[2][1], fresh[2][0])
    assert_differ(carried[3], fresh[3])
    # Step 1 is the same in both: starts only act where they are set.
    assert torch.equal(carried[0][0], reset[0][0])

    # Reset env 0 only: env 0 follows the fresh unroll, env 1 the carried one.
    mixed = net(obs, state, torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
    assert_same(mixed[0][1, 0], fresh[0][0, 0])
    assert_same(mixed[2][1, 0], fresh[2][0, 0])
    assert_same(mixed[0][1, 1], carried[0][1, 1])
    assert_same(mixed[2][1, 1], carried[2][1, 1])
    assert_differ(mixed[0][1, 1], fresh[0][0, 1])

    # A start at step 0 discards the incoming state.
    first = net(obs_b, state, torch.ones(1, B))
    assert_same(first[0], fresh[0])
    assert_same(first[3], fresh[3])


def test_lstm_split_unroll_equals_single_unroll() -> None:
    net = LSTMActorCritic(OBS, ACT)
    T, B, cut = 9, 3, 4
    obs = torch.randn(T, B, OBS)
    starts = torch.zeros(T, B)
    starts[0] = 1.0
    starts[2, 0] = starts[6, 1] = starts[cut, 2] = 1.0
    state = torch.randn(4, B, 64) * 0.5

    mean, _, value, final = net(obs, state, starts)
    m1, _, v1, mid = net(obs[:cut], state, starts[:cut])
    m2, _, v2, final2 = net(obs[cut:], mid, starts[cut:])
    torch.testing.assert_close(torch.cat([m1, m2]), mean)
    torch.testing.assert_close(torch.cat([v1, v2]), value)
    torch.testing.assert_close(final2, final)

    # Truncated BPTT: a detached state still gives the same forward values.
    m2d, _, _, final2d = net(obs[cut:], mid.detach(), starts[cut:])
    torch.testing.assert_close(m2d, m2)
    torch.testing.assert_close(final2d, final)


def test_lstm_state_passed_between_calls_carries_gradient() -> None:
    # Without detaching, two chained calls are the same graph as one call: equal gradients.
    net = LSTMActorCritic(OBS, ACT)
    T, B, cut = 6, 2, 3
    obs, starts = torch.randn(T, B, OBS), torch.zeros(T, B)
    state = net.initial_state(B)

    def loss(mean: torch.Tensor, value: torch.Tensor, final: torch.Tensor) -> torch.Tensor:
        return mean[-1].sum() + value[-1].sum() + final.sum()

    mean, _, value, final = net(obs, state, starts)
    whole = torch.autograd.grad(loss(mean, value, final), list(net.parameters()),
                                allow_unused=True)
    _, _, _, mid = net(obs[:cut], state, starts[:cut])
    mean, _, value, final = net(obs[cut:], mid, starts[cut:])
    split = torch.autograd.grad(loss(mean, value, final), list(net.parameters()),
                                allow_unused=True)
    for (name, _), g, h in zip(net.named_parameters(), whole, split, strict=True):
        if name == "log_std":
            assert g is None and h is None  # not used by this loss
            continue
        assert g is not None and h is not None, name
        torch.testing.assert_close(h, g, msg=name)


def test_lstm_policy_and_value_share_nothing() -> None:
    net = LSTMActorCritic(OBS, ACT)
    obs, starts = torch.randn(4, 2, OBS), torch.zeros(4, 2)
    _, _, value, _ = net(obs, net.initial_state(2), starts)
    assert_grads_only_in(net, value.sum(), ("v_",))
    mean, log_std, _, _ = net(obs, net.initial_state(2), starts)
    assert_grads_only_in(net, mean.sum() + log_std.sum(), ("pi_", "log_std"))


def test_lstm_functional_call() -> None:
    net = LSTMActorCritic(OBS, ACT)
    T, B = 4, 2
    args = (torch.randn(T, B, OBS), torch.randn(4, B, 64) * 0.5, torch.zeros(T, B))
    params = dict(net.named_parameters())
    for a, b in zip(functional_call(net, params, args), net(*args), strict=True):
        assert torch.equal(a, b)

    shifted = {k: v.detach() + 0.05 for k, v in params.items()}
    mean, _, value, final = functional_call(net, shifted, args)
    ref_mean, _, ref_value, ref_final = net(*args)
    assert not torch.allclose(mean, ref_mean)
    assert not torch.allclose(value, ref_value)
    assert not torch.allclose(final, ref_final)

    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    mean, log_std, value, _ = functional_call(net, leaves, args)
    loss = -log_prob(mean, log_std, torch.randn(T, B, ACT)).mean() + value.square().mean()
    grads = torch.autograd.grad(loss, list(leaves.values()))
    for name, g in zip(leaves, grads, strict=True):
        assert g.abs().sum() > 0, name
    assert all(p.grad is None for p in net.parameters())
