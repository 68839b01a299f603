"""GAE and the PPO loss against values worked out by hand, and their invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from agents.losses import PPOLoss, gae, ppo_loss

# ---------------------------------------------------------------------------------------------
# GAE
#
# A hand-worked rollout, T=4 steps, B=2 envs, gamma=0.5, lam=0.5 (gamma*lam=0.25): all numbers
# are dyadic, so float arithmetic is exact and the expected values can be compared with ==.
#
# env 0 terminates at t=1 (s_2 is terminal): next_values[1, 0] = 100 is the value of a terminal
#   observation and must be ignored; a new episode starts at t=2.
# env 1 is truncated by a time limit at t=2: next_values[2, 1] = 6 is the value of the final
#   observation (not of the reset observation, whose value is values[3, 1] = 4) and must be used.
# Elsewhere next_values[t] = values[t + 1]; next_values[3] bootstraps the end of the rollout.
# ---------------------------------------------------------------------------------------------

GAMMA, LAM = 0.5, 0.5
REWARDS = [[1.0, 1.0], [2.0, 1.0], [0.0, 3.0], [1.0, 2.0]]
VALUES = [[2.0, 1.0], [1.0, 2.0], [3.0, 2.0], [2.0, 4.0]]
NEXT_VALUES = [[1.0, 2.0], [100.0, 2.0], [2.0, 6.0], [4.0, 8.0]]
TERMINATED = [[0, 0], [1, 0], [0, 0], [0, 0]]
DONES = [[0, 0], [1, 0], [0, 1], [0, 0]]

# deltas = r + gamma * (1 - terminated) * next_value - value
#   env 0: t0: 1 + .5*1 - 2 = -0.5   t1: 2 + 0 - 1 = 1 (bootstrap dropped)
#          t2: 0 + .5*2 - 3 = -2     t3: 1 + .5*4 - 2 = 1
#   env 1: t0: 1 + .5*2 - 1 = 1      t1: 1 + .5*2 - 2 = 0
#          t2: 3 + .5*6 - 2 = 4 (bootstraps from the final obs)   t3: 2 + .5*8 - 4 = 2
DELTAS = [[-0.5, 1.0], [1.0, 0.0], [-2.0, 4.0], [1.0, 2.0]]
# A_t = delta_t + 0.25 * (1 - done_t) * A_{t+1}, from t=3 down:
#   env 0: A3 = 1; A2 = -2 + .25*1 = -1.75; A1 = 1 (done: stops); A0 = -0.5 + .25*1 = -0.25
#   env 1: A3 = 2; A2 = 4 (done: stops); A1 = 0 + .25*4 = 1; A0 = 1 + .25*1 = 1.25
ADVANTAGES = [[-0.25, 1.25], [1.0, 1.0], [-1.75, 4.0], [1.0, 2.0]]
# returns = A + V
RETURNS = [[1.75, 2.25], [2.0, 3.0], [1.25, 6.0], [3.0, 6.0]]
# lam=1: discounted return (bootstrapped where not terminated) minus V.
#   env 0: G3 = 1 + .5*4 = 3; G2 = 0 + .5*3 = 1.5; G1 = 2 (terminal); G0 = 1 + .5*2 = 2
#          A = G - V = [0, 1, -1.5, 1]
#   env 1: G3 = 2 + .5*8 = 6; G2 = 3 + .5*6 = 6 (bootstrap from final obs); G1 = 1 + .5*6 = 4;
#          G0 = 1 + .5*4 = 3;  A = G - V = [2, 2, 4, 2]
ADVANTAGES_LAM1 = [[0.0, 2.0], [1.0, 2.0], [-1.5, 4.0], [1.0, 2.0]]


def hand_rollout() -> dict[str, torch.Tensor]:
    return {
        "rewards": torch.tensor(REWARDS, dtype=torch.float64),
        "values": torch.tensor(VALUES, dtype=torch.float64),
        "next_values": torch.tensor(NEXT_VALUES, dtype=torch.float64),
        "terminated": torch.tensor(TERMINATED),
        "dones": torch.tensor(DONES),
    }


def t64(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def test_gae_matches_hand_computation() -> None:
    adv, ret = gae(**hand_rollout(), gamma=GAMMA, lam=LAM)
    assert adv.shape == ret.shape == (4, 2)
    assert torch.equal(adv, t64(ADVANTAGES))
    assert torch.equal(ret, t64(RETURNS))


def test_gae_ignores_next_value_at_termination_and_uses_it_at_truncation() -> None:
    base, _ = gae(**hand_rollout(), gamma=GAMMA, lam=LAM)

    terminal = hand_rollout()
    terminal["next_values"][1, 0] = -1e6  # value of a terminal observation: meaningless
    adv, _ = gae(**terminal, gamma=GAMMA, lam=LAM)
    assert torch.equal(adv, base)

    truncated = hand_rollout()
    # Replacing the final observation's value with the reset observation's value (a common bug)
    # must change the truncated step by gamma * (4 - 6) = -1, and the steps before it through
    # the recursion: t1 by 0.25 * -1, t0 by 0.25^2 * -1.
    truncated["next_values"][2, 1] = 4.0
    adv, _ = gae(**truncated, gamma=GAMMA, lam=LAM)
    assert torch.equal(adv[:, 0], base[:, 0])
    shift = torch.tensor([-0.0625, -0.25, -1.0, 0.0], dtype=torch.float64)
    assert torch.equal(adv[:, 1], base[:, 1] + shift)


def test_gae_lambda_one_is_discounted_return_minus_value() -> None:
    adv, ret = gae(**hand_rollout(), gamma=GAMMA, lam=1.0)
    assert torch.equal(adv, t64(ADVANTAGES_LAM1))
    assert torch.equal(ret, t64(ADVANTAGES_LAM1) + t64(VALUES))


def discounted_returns(rewards: np.ndarray, next_values: np.ndarray, terminated: np.ndarray,
                       dones: np.ndarray, gamma: float) -> np.ndarray:
    """Monte-Carlo returns, bootstrapped at truncations and at the end of the rollout."""
    T, B = rewards.shape
    out = np.zeros((T, B))
    for b in range(B):
        g = 0.0
        for t in reversed(range(T)):
            if dones[t, b] or t == T - 1:
                g = 0.0 if terminated[t, b] else next_values[t, b]
            g = rewards[t, b] + gamma * g
            out[t, b] = g
    return out


def random_rollout(T: int, B: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(T, B))
    dones = rng.random((T, B)) < 0.2
    terminated = dones & (rng.random((T, B)) < 0.5)
    # Within an episode V(s_{t+1}) is the next row's value; after an end it is the final obs's.
    next_values = np.concatenate([values[1:], rng.normal(size=(1, B))])
    next_values = np.where(dones, rng.normal(size=(T, B)), next_values)
    return {
        "rewards": rng.normal(size=(T, B)),
        "values": values,
        "next_values": next_values,
        "terminated": terminated.astype(np.float64),
        "dones": dones.astype(np.float64),
    }


def test_gae_lambda_one_equals_monte_carlo_returns_on_random_rollout() -> None:
    roll = random_rollout(T=37, B=5, seed=1)
    assert roll["dones"].sum() > 0 and roll["terminated"].sum() > 0
    assert (roll["dones"] - roll["terminated"]).sum() > 0  # some truncations too
    gamma = 0.97
    adv, ret = gae(**{k: torch.from_numpy(v) for k, v in roll.items()}, gamma=gamma, lam=1.0)
    expected = discounted_returns(roll["rewards"], roll["next_values"], roll["terminated"],
                                  roll["dones"], gamma)
    np.testing.assert_allclose(ret.numpy(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(adv.numpy(), expected - roll["values"], rtol=1e-12, atol=1e-12)


def test_gae_lambda_zero_is_one_step_td_error() -> None:
    adv, _ = gae(**hand_rollout(), gamma=GAMMA, lam=0.0)
    assert torch.equal(adv, t64(DELTAS))

    roll = {k: torch.from_numpy(v) for k, v in random_rollout(T=20, B=3, seed=2).items()}
    adv, _ = gae(**roll, gamma=0.9, lam=0.0)
    td = (roll["rewards"] + 0.9 * (1 - roll["terminated"]) * roll["next_values"]
          - roll["values"])
    torch.testing.assert_close(adv, td, rtol=0, atol=1e-14)


def test_gae_recursion_stops_at_dones() -> None:
    base, _ = gae(**hand_rollout(), gamma=GAMMA, lam=0.9)

    later = hand_rollout()
    later["rewards"][2:, 0] += 10.0  # after env 0's termination at t=1
    later["rewards"][3, 1] += 10.0  # after env 1's truncation at t=2
    adv, _ = gae(**later, gamma=GAMMA, lam=0.9)
    assert torch.equal(adv[:2, 0], base[:2, 0])
    assert torch.equal(adv[:3, 1], base[:3, 1])
    # ... but the perturbed steps themselves, and those before them in the same episode, move.
    assert not torch.equal(adv[2:, 0], base[2:, 0])
    assert adv[3, 1] == base[3, 1] + 10.0

    no_dones = hand_rollout()
    no_dones["rewards"][2:, 0] += 10.0
    no_dones["dones"].zero_()  # same terminations, but the recursion is no longer cut
    adv, _ = gae(**no_dones, gamma=GAMMA, lam=0.9)
    assert not torch.equal(adv[:2, 0], base[:2, 0])  # the mask above is what kept them equal


def test_gae_returns_are_advantages_plus_values() -> None:
    roll = {k: torch.from_numpy(v) for k, v in random_rollout(T=16, B=4, seed=3).items()}
    for lam in (0.0, 0.5, 0.95, 1.0):
        adv, ret = gae(**roll, gamma=0.99, lam=lam)
        assert torch.equal(ret, adv + roll["values"])


def test_gae_does_not_modify_inputs_and_keeps_dtype() -> None:
    roll = hand_rollout()
    copies = {k: v.clone() for k, v in roll.items()}
    adv, ret = gae(**roll, gamma=GAMMA, lam=LAM)
    for k in roll:
        assert torch.equal(roll[k], copies[k])
    assert adv.dtype == ret.dtype == torch.float64


# ---------------------------------------------------------------------------------------------
# PPO loss
# ---------------------------------------------------------------------------------------------

CLIP = 0.2

# (ratio, advantage, surrogate = min(r*A, clip(r, 0.8, 1.2)*A), clipping binds)
SURROGATE_CASES = [
    (1.1, 2.0, 2.2, False),  # inside the range
    (0.9, -1.0, -0.9, False),  # inside the range
    (1.5, 1.0, 1.2, True),  # above, A>0: the clipped term is the min
    (1.5, -1.0, -1.5, False),  # above, A<0: the unclipped term is the min (pessimistic bound)
    (0.5, -2.0, -1.6, True),  # below, A<0: the clipped term is the min
    (0.5, 1.0, 0.5, False),  # below, A>0: the unclipped term is the min
]


def logp_for(ratios: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    old = torch.tensor([-1.3, 0.2, -0.7, 0.0, -2.1, 0.5][: len(ratios)], dtype=torch.float64)
    new = old + torch.log(torch.tensor(ratios, dtype=torch.float64))
    return new, old


def zeros(n: int) -> torch.Tensor:
    return torch.zeros(n, dtype=torch.float64)


@pytest.mark.parametrize(("ratio", "adv", "surrogate", "binds"), SURROGATE_CASES)
def test_ppo_surrogate_single_sample(ratio: float, adv: float, surrogate: float,
                                     binds: bool) -> None:
    new, old = logp_for([ratio])
    new.requires_grad_(True)
    out = ppo_loss(new, old, torch.tensor([adv], dtype=torch.float64), zeros(1), zeros(1),
                   zeros(1), clip=CLIP)
    assert out.policy.item() == pytest.approx(-surrogate, abs=1e-12)
    (grad,) = torch.autograd.grad(out.policy, new)
    # d(-r*A)/d(log pi_new) = -r*A where the unclipped term is active, and 0 where clipping binds.
    expected_grad = 0.0 if binds else -ratio * adv
    assert grad.item() == pytest.approx(expected_grad, abs=1e-12)


def test_ppo_surrogate_batch_mean_and_gradients() -> None:
    ratios = [c[0] for c in SURROGATE_CASES]
    advs = torch.tensor([c[1] for c in SURROGATE_CASES], dtype=torch.float64)
    new, old = logp_for(ratios)
    new.requires_grad_(True)
    out = ppo_loss(new, old, advs, zeros(6), zeros(6), zeros(6), clip=CLIP)
    # (2.2 - 0.9 + 1.2 - 1.5 - 1.6 + 0.5) / 6 = -0.1 / 6
    assert out.policy.item() == pytest.approx(0.1 / 6, abs=1e-12)
    out.policy.backward()
    expected = [-1.1 * 2.0 / 6, 0.9 / 6, 0.0, 1.5 / 6, 0.0, -0.5 / 6]
    np.testing.assert_allclose(new.grad.numpy(), expected, rtol=0, atol=1e-12)
    assert out.policy.requires_grad


def test_ppo_clip_fraction_counts_ratios_outside_range() -> None:
    ratios = [c[0] for c in SURROGATE_CASES]  # 1.5, 1.5, 0.5, 0.5 are outside [0.8, 1.2]
    new, old = logp_for(ratios)
    advs = torch.ones(6, dtype=torch.float64)
    out = ppo_loss(new, old, advs, zeros(6), zeros(6), zeros(6), clip=CLIP)
    assert out.clip_fraction.item() == pytest.approx(4 / 6)
    wide = ppo_loss(new, old, advs, zeros(6), zeros(6), zeros(6), clip=0.6)
    assert wide.clip_fraction.item() == 0.0  # all of 0.5..1.5 lie inside [0.4, 1.6]
    same = ppo_loss(old, old, advs, zeros(6), zeros(6), zeros(6), clip=CLIP)
    assert same.clip_fraction.item() == 0.0


def test_ppo_approx_kl_zero_when_unchanged_and_positive_otherwise() -> None:
    old = torch.tensor([-1.0, 0.3, -2.0, 0.7], dtype=torch.float64)
    advs = torch.tensor([1.0, -1.0, 0.5, 2.0], dtype=torch.float64)
    z = zeros(4)
    assert ppo_loss(old.clone(), old, advs, z, z, z).approx_kl.item() == 0.0

    # k3 estimator (r - 1) - log r: for r = 2 it is 1 - ln 2, for r = 1/2 it is ln 2 - 1/2.
    new = old + torch.tensor([math.log(2), -math.log(2), math.log(2), -math.log(2)],
                             dtype=torch.float64)
    kl = ppo_loss(new, old, advs, z, z, z).approx_kl
    expected = ((1 - math.log(2)) + (math.log(2) - 0.5)) / 2  # = 0.25
    assert kl.item() == pytest.approx(expected, abs=1e-12)

    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        shifted = old + 0.3 * torch.randn(4, generator=gen, dtype=torch.float64)
        assert ppo_loss(shifted, old, advs, z, z, z).approx_kl.item() > 0.0


def test_ppo_diagnostics_carry_no_gradient() -> None:
    new, old = logp_for([1.5, 0.5])
    new.requires_grad_(True)
    out = ppo_loss(new, old, torch.ones(2, dtype=torch.float64), zeros(2), zeros(2), zeros(2))
    assert not out.approx_kl.requires_grad
    assert not out.clip_fraction.requires_grad


def test_ppo_value_loss_is_half_mse() -> None:
    values = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    returns = torch.tensor([0.0, 2.0, 5.0], dtype=torch.float64)
    z = zeros(3)
    out = ppo_loss(z, z, z, values, returns, z)
    # squared errors 1, 0, 4 -> mean 5/3 -> half: 5/6
    assert out.value.item() == pytest.approx(5 / 6, abs=1e-12)
    out.value.backward()
    # d(0.5 * mean((v - R)^2))/dv = (v - R) / N
    np.testing.assert_allclose(values.grad.numpy(), [1 / 3, 0.0, -2 / 3], atol=1e-12)


def test_ppo_value_clipping_takes_the_larger_error() -> None:
    old_values = torch.tensor([0.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    values = torch.tensor([2.0, 2.0, 1.2, -1.0], dtype=torch.float64)
    returns = torch.tensor([1.0, 3.0, 0.0, 0.0], dtype=torch.float64)
    z = zeros(4)
    out = ppo_loss(z, z, z, values, returns, z, old_values=old_values, value_clip=0.5)
    # clipped values: 0.5, 0.5, 1.2, -0.5
    # unclipped errors: 1, 1, 1.44, 1;  clipped errors: 0.25, 6.25, 1.44, 0.25
    # max: 1, 6.25, 1.44, 1 -> mean 9.69 / 4 -> half: 1.21125
    assert out.value.item() == pytest.approx(1.21125, abs=1e-12)

    unclipped = ppo_loss(z, z, z, values, returns, z)
    # 0.5 * mean(1, 1, 1.44, 1) = 0.555
    assert unclipped.value.item() == pytest.approx(0.555, abs=1e-12)
    # Old values without a clip range mean no clipping.
    same = ppo_loss(z, z, z, values, returns, z, old_values=old_values)
    assert same.value.item() == unclipped.value.item()


def test_ppo_total_combines_terms_and_entropy_bonus_lowers_it() -> None:
    new, old = logp_for([1.5, 0.9])
    advs = torch.tensor([1.0, -1.0], dtype=torch.float64)
    values = torch.tensor([1.0, 2.0], dtype=torch.float64)
    returns = torch.tensor([0.0, 4.0], dtype=torch.float64)
    low = ppo_loss(new, old, advs, values, returns, torch.tensor([1.0, 1.0], dtype=torch.float64),
                   vf_coef=0.5, ent_coef=0.01)
    high = ppo_loss(new, old, advs, values, returns, torch.tensor([2.0, 3.0], dtype=torch.float64),
                    vf_coef=0.5, ent_coef=0.01)
    assert isinstance(low, PPOLoss)
    # policy = -(1.2 - 0.9) / 2 = -0.15; value = 0.5 * (1 + 4) / 2 = 1.25
    assert low.policy.item() == pytest.approx(-0.15, abs=1e-12)
    assert low.value.item() == pytest.approx(1.25, abs=1e-12)
    assert low.entropy.item() == pytest.approx(1.0)
    assert high.entropy.item() == pytest.approx(2.5)
    assert low.total.item() == pytest.approx(-0.15 + 0.5 * 1.25 - 0.01 * 1.0, abs=1e-12)
    assert high.total.item() == pytest.approx(-0.15 + 0.5 * 1.25 - 0.01 * 2.5, abs=1e-12)
    assert high.total < low.total

    # A scalar entropy is accepted (state-independent log-std gives one entropy for all).
    scalar = ppo_loss(new, old, advs, values, returns, torch.tensor(2.5, dtype=torch.float64),
                      vf_coef=0.5, ent_coef=0.01)
    assert scalar.total.item() == pytest.approx(high.total.item(), abs=1e-12)


def test_a_weighted_ppo_loss_is_the_loss_of_the_real_samples_alone():
    g = torch.Generator().manual_seed(0)
    new, old, adv, values, returns = (torch.randn(40, generator=g) for _ in range(5))
    real = torch.rand(40, generator=g) > 0.3
    garbage = ~real
    padded = [x.masked_fill(garbage, 1e3) for x in (new, old, adv, values, returns)]
    weighted = ppo_loss(*padded, torch.tensor(0.7), weights=real.float())
    alone = ppo_loss(new[real], old[real], adv[real], values[real], returns[real],
                     torch.tensor(0.7))
    for name in ("total", "policy", "value", "entropy", "approx_kl", "clip_fraction"):
        torch.testing.assert_close(getattr(weighted, name), getattr(alone, name))
