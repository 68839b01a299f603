"""PPO must visibly learn on the tiny point-goal env within seconds (MLP and LSTM policies).

The toy env scores about -22 with the initial policy and about -3 with a good one. The margins
below sit well inside what these budgets reached across seeds (MLP, seeds 0-3: +13.6 to +14.1
from the mean of the first three iterations to that of the last three, ending near -8; LSTM, seeds
0-5: +5.4 to +7.8 from the first four to the last four).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.policy import Policy, PolicyConfig
from agents.ppo import PPO, PPOConfig
from agents.ppo.train import TrainConfig, Trainer
from agents.sampler import VectorSampler
from envs.toy import PointGoalVectorEnv


def returns_of(config: TrainConfig, run_dir) -> np.ndarray:
    rows: list[dict] = []
    Trainer(config, run_dir, tensorboard=False).run(progress=False, callback=rows.append)
    assert all(row["episodes"] > 0 for row in rows)
    return np.array([row["return_mean"] for row in rows])


def test_ppo_mlp_learns_the_point_goal_task(tmp_path):
    config = TrainConfig(env="ToyPoint-v0", total_steps=30_000, num_envs=16, rollout=64, seed=0,
                         ppo=PPOConfig(epochs=5, minibatches=8))
    returns = returns_of(config, tmp_path)
    assert len(returns) == 30  # ceil(30000 / 1024) iterations
    first, last = returns[:3].mean(), returns[-3:].mean()
    assert last > first + 8.0, f"no clear progress: {first:.1f} -> {last:.1f}"
    assert last > -12.0


def test_ppo_lstm_trains_and_improves(tmp_path):
    config = TrainConfig(env="ToyPoint-v0", total_steps=10_240, num_envs=16, rollout=40, seed=0,
                         policy=PolicyConfig(arch="lstm", hidden=32),
                         ppo=PPOConfig(lr=1e-3, epochs=5, minibatches=4, bptt=10))
    returns = returns_of(config, tmp_path)
    assert len(returns) == 16
    first, last = returns[:4].mean(), returns[-4:].mean()
    assert last > first + 3.0, f"no clear progress: {first:.1f} -> {last:.1f}"


def test_ppo_update_moves_only_the_network_and_reports_finite_losses():
    torch.manual_seed(0)
    policy = Policy(4, 2)
    rollout, _ = VectorSampler(PointGoalVectorEnv(8), policy, 16, seed=0).collect()
    norm_before = {k: v.clone() for k, v in policy.norm.state_dict().items()}
    params_before = [p.detach().clone() for p in policy.net.parameters()]
    stats = PPO(policy, PPOConfig(epochs=2, minibatches=4)).update(
        rollout, torch.Generator().manual_seed(0))
    for key in ("total", "policy", "value", "entropy", "approx_kl", "clip_fraction",
                "grad_norm", "explained_variance", "value_mean"):
        assert np.isfinite(stats[key]), key
    assert all(not torch.equal(a, b) for a, b in zip(params_before, policy.net.parameters(),
                                                     strict=True))
    for key, value in policy.norm.state_dict().items():  # statistics belong to the sampler
        assert torch.equal(value, norm_before[key])


def test_target_kl_stops_the_epochs_once_a_minibatch_passes_it():
    def update(target_kl):
        torch.manual_seed(0)
        policy = Policy(4, 2)
        rollout, _ = VectorSampler(PointGoalVectorEnv(8), policy, 16, seed=0).collect()
        config = PPOConfig(lr=1e-2, epochs=4, minibatches=4, target_kl=target_kl)
        return PPO(policy, config).update(rollout, torch.Generator().manual_seed(0))

    assert update(None)["updates"] == 16  # every epoch, every minibatch
    # the first minibatch is on-policy (KL 0), so a tiny target stops after the second
    assert update(1e-9)["updates"] == 2
    loose = update(10.0)
    assert loose["updates"] == 16 and loose["approx_kl"] < 10.0


def test_ppo_update_is_deterministic_for_a_seeded_generator():
    def updated(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(0)
        policy = Policy(4, 2)
        rollout, _ = VectorSampler(PointGoalVectorEnv(8), policy, 16, seed=0).collect()
        PPO(policy, PPOConfig(epochs=2, minibatches=4)).update(
            rollout, torch.Generator().manual_seed(seed))
        return [p.detach() for p in policy.net.parameters()]

    a, b, c = updated(1), updated(1), updated(2)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, z) for x, z in zip(a, c, strict=True))


def test_lstm_update_needs_rollouts_that_are_a_multiple_of_bptt():
    torch.manual_seed(0)
    policy = Policy(4, 2, PolicyConfig(arch="lstm", hidden=8))
    rollout, _ = VectorSampler(PointGoalVectorEnv(2), policy, 12, seed=0).collect()
    with pytest.raises(ValueError, match="multiple of bptt=10"):
        PPO(policy, PPOConfig(bptt=10)).update(rollout)
    stats = PPO(policy, PPOConfig(bptt=4, epochs=1, minibatches=2)).update(rollout)
    assert np.isfinite(stats["total"])


@pytest.mark.parametrize("field, value", [("lr", 0.0), ("gamma", 1.5), ("epochs", 0),
                                          ("bptt", 0), ("clip", -0.1)])
def test_ppo_config_refuses_invalid_settings(field, value):
    with pytest.raises(ValueError, match=f"{field}="):
        PPOConfig(**{field: value})
