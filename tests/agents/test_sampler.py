"""Samplers: a rollout is exactly what single envs give for the same seeds and actions; truncated
episodes bootstrap from their final observation; episode statistics are sums of rewards."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode

from agents.policy import Policy, PolicyConfig
from agents.sampler import SELF, EpisodeStats, SumoSampler, VectorSampler
from agents.scripted import IdlePolicy, RandomPolicy
from envs.nonstationary_locomotion import LocomotionEnv, LocomotionVectorEnv
from envs.robosumo import SumoVectorEnv, parallel_env
from envs.toy import PointGoalVectorEnv

RAW = PolicyConfig(normalize_obs=False)  # the rollout then stores the raw observations
SUMO_KW = dict(max_steps=12, tatami_size=1.3)  # a small tatami: bouts are won and lost quickly


def value(policy: Policy, obs: np.ndarray) -> np.ndarray:
    """V(obs) of an MLP policy for a batch of raw observations."""
    with torch.no_grad():
        return policy(policy.normalize(obs))[2].numpy()


def starts_from(dones: torch.Tensor) -> torch.Tensor:
    """Episode starts implied by the dones of a rollout that begins with fresh episodes."""
    return torch.cat([torch.ones_like(dones[:1]), dones[:-1]])


class ScriptedVectorEnv:
    """Stream ``i`` has episodes of ``lengths[i]`` steps that end by termination or truncation.

    The observation is (step in episode, episode index, stream): a final observation never equals
    the reset observation that replaces it. The reward depends on the action.
    """

    def __init__(self, lengths: list[int], terminates: list[bool]) -> None:
        self.num_envs = len(lengths)
        self.lengths = np.array(lengths)
        self.terminates = np.array(terminates)
        self.steps = 0

    def reset(self, seed: int | None = None, options: dict | None = None):
        self._t = np.zeros(self.num_envs, dtype=np.int64)
        self._episode = np.zeros(self.num_envs, dtype=np.int64)
        return self._obs(), {}

    def _obs(self) -> np.ndarray:
        return np.stack([self._t, self._episode, np.arange(self.num_envs)], 1).astype(np.float32)

    def step(self, actions: np.ndarray):
        assert actions.shape == (self.num_envs, 1)
        self.steps += 1
        self._t += 1
        rewards = 1.0 + 0.5 * self._t + 0.25 * self._episode + actions[:, 0]
        obs = self._obs()
        end = self._t >= self.lengths
        info: dict[str, Any] = {}
        if end.any():
            info["final_obs"] = obs.copy()
            self._t[end] = 0
            self._episode[end] += 1
            obs = self._obs()
        return obs, rewards, end & self.terminates, end & ~self.terminates, info


class RecordingPolicy(Policy):
    """A frozen opponent that remembers what it saw and did."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def act(self, obs, state=None, starts=None, deterministic=False, generator=None):
        out = super().act(obs, state, starts, deterministic, generator)
        self.calls.append((np.array(obs), out.action.copy()))
        return out


# ---------------------------------------------------------------- single-agent vector envs


def test_vector_sampler_equals_single_envs_step_for_step():
    n, steps, seed, max_steps = 3, 12, 7, 5
    envs = LocomotionVectorEnv(n, "bug", max_steps=max_steps, nthread=1,
                               autoreset_mode=AutoresetMode.SAME_STEP)
    torch.manual_seed(0)
    policy = Policy(37, 12, RAW)
    rollout, stats = VectorSampler(envs, policy, steps, seed=seed).collect()

    assert rollout.obs.shape == (steps, n, 37) and rollout.actions.shape == (steps, n, 12)
    expected_returns = []
    for i in range(n):
        env = LocomotionEnv("bug", max_steps=max_steps)
        obs, _ = env.reset(seed=seed + i)
        ret, length = 0.0, 0
        for t in range(steps):
            np.testing.assert_array_equal(rollout.obs[t, i].numpy(), obs)
            action = rollout.actions[t, i].double().numpy()
            obs, reward, terminated, truncated, _ = env.step(action)
            ret, length = ret + reward, length + 1
            assert rollout.rewards[t, i].item() == pytest.approx(reward, rel=1e-6, abs=1e-6)
            assert rollout.terminated[t, i] == terminated
            assert rollout.dones[t, i] == (terminated or truncated)
            assert truncated == ((t + 1) % max_steps == 0)
            if truncated:  # bootstrap from the final observation, not from the reset one
                assert rollout.next_values[t, i].item() == pytest.approx(
                    value(policy, obs[None])[0], rel=1e-5, abs=1e-6)
                expected_returns.append((t, i, ret, length))
                ret, length = 0.0, 0
                obs, _ = env.reset()  # the vector env's same-step autoreset: the stream goes on
    torch.testing.assert_close(rollout.starts, starts_from(rollout.dones))
    assert rollout.dones.sum() == n * (steps // max_steps)
    expected_returns.sort()
    assert stats.returns == pytest.approx([r for _, _, r, _ in expected_returns], rel=1e-12)
    assert stats.lengths == [length for *_, length in expected_returns]


def test_vector_sampler_is_reproducible_and_depends_on_the_seed():
    def collect(seed):
        torch.manual_seed(0)
        return VectorSampler(PointGoalVectorEnv(4), Policy(4, 2), 30, seed=seed).collect()[0]

    first, again, other = collect(3), collect(3), collect(4)
    for a, b in zip(first, again, strict=True):
        if a is not None:
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(first.actions, other.actions)


def test_vector_sampler_refuses_next_step_autoreset():
    envs = LocomotionVectorEnv(2, "bug", max_steps=2, nthread=1)  # next-step mode: no final_obs
    sampler = VectorSampler(envs, Policy(37, 12), 4, seed=0)
    with pytest.raises(ValueError, match="same-step autoreset"):
        sampler.collect()


def test_vector_sampler_reads_gymnasium_object_final_obs():
    """Gymnasium's own vector envs report final_obs as an object array with a mask."""
    envs = gymnasium.make_vec("MountainCarContinuous-v0", num_envs=2, vectorization_mode="sync",
                              vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
                              max_episode_steps=3)
    torch.manual_seed(0)
    policy = Policy(2, 1, RAW)
    rollout, stats = VectorSampler(envs, policy, 5, seed=0).collect()
    assert rollout.dones[2].tolist() == [1.0, 1.0] and rollout.dones.sum() == 2
    assert stats.lengths == [3, 3]
    # the final observation differs from the reset observation that follows it
    boot, reset_value = rollout.next_values[2], rollout.values[3]
    assert not torch.allclose(boot, reset_value)


# ---------------------------------------------------------------- bootstrapping


@pytest.mark.parametrize("arch", ["mlp", "lstm"])
def test_next_values_bootstrap_truncations_from_the_final_observation(arch):
    # stream 0 truncates every 3 steps, stream 1 terminates every 4, stream 2 runs throughout
    envs = ScriptedVectorEnv([3, 4, 100], [False, True, False])
    torch.manual_seed(1)
    policy = Policy(3, 1, PolicyConfig(arch=arch, hidden=16, normalize_obs=False))
    sampler = VectorSampler(envs, policy, 10, seed=0)
    r, _ = sampler.collect()
    following, _ = sampler.collect()

    truncated = (r.dones == 1) & (r.terminated == 0)
    assert truncated[:, 0].nonzero().flatten().tolist() == [2, 5, 8]
    assert r.terminated[:, 1].nonzero().flatten().tolist() == [3, 7]
    assert r.terminated[:, 0].sum() == 0 and r.dones[:, 2].sum() == 0
    torch.testing.assert_close(r.dones, torch.maximum(r.terminated, truncated.float()))
    # non-final steps of an episode: the value of the next step's observation
    cont = r.dones[:-1] == 0
    assert torch.equal(r.next_values[:-1][cont], r.values[1:][cont])
    # the last step continues into the next rollout: its first values
    assert torch.equal(r.next_values[-1], following.values[0])
    # truncated steps: the value of the final observation with the state after the step
    for t, i in truncated.nonzero().tolist():
        final = np.array([[3.0, t // 3, i]], np.float32)
        x = policy.normalize(final)
        with torch.no_grad():
            if arch == "mlp":
                expected = policy(x)[2][0]
            else:
                expected = policy(x[None], r.states[t + 1][:, [i]], torch.zeros(1, 1))[2][0, 0]
            reset_obs = policy.normalize(np.array([[0.0, t // 3 + 1, i]], np.float32))
        assert r.next_values[t, i].item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-6)
        # the reset observation would give another value (the test can tell them apart)
        assert r.values[t + 1, i].item() != pytest.approx(expected.item(), abs=1e-4)
        if arch == "mlp":
            assert r.values[t + 1, i].item() == pytest.approx(
                policy(reset_obs)[2][0].item(), rel=1e-5, abs=1e-6)
    torch.testing.assert_close(r.starts, starts_from(r.dones))


def test_lstm_rollout_records_the_state_before_each_step():
    envs = ScriptedVectorEnv([3, 4], [False, True])
    torch.manual_seed(2)
    policy = Policy(3, 1, PolicyConfig(arch="lstm", hidden=8, normalize_obs=False))
    r, _ = VectorSampler(envs, policy, 6, seed=0).collect()
    assert r.states.shape == (6, 4, 2, 8)
    assert torch.count_nonzero(r.states[0]) == 0
    # replaying the stored observations from the stored first state gives the stored values
    with torch.no_grad():
        _, _, values, _ = policy(r.obs, r.states[0], r.starts)
    torch.testing.assert_close(values, r.values, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- episode statistics


def test_episode_stats_sum_rewards_across_rollouts():
    envs = ScriptedVectorEnv([3, 5], [False, True])
    sampler = VectorSampler(envs, Policy(3, 1, RAW), 7, seed=0)
    rewards, all_stats = [], EpisodeStats()
    for _ in range(3):  # episodes straddle the rollout boundaries
        rollout, stats = sampler.collect()
        rewards.append(rollout.rewards)
        all_stats.returns += stats.returns
        all_stats.lengths += stats.lengths
    rewards = torch.cat(rewards).double()  # [21, 2]
    expected = []
    for i, length in enumerate((3, 5)):
        for end in range(length, 22, length):
            expected.append((end, i, float(rewards[end - length:end, i].sum()), length))
    expected.sort()
    assert all_stats.returns == pytest.approx([e[2] for e in expected], rel=1e-6)
    assert all_stats.lengths == [e[3] for e in expected]
    summary = all_stats.summary()
    assert summary["episodes"] == len(expected) == 11
    assert summary["length_mean"] == pytest.approx(np.mean([e[3] for e in expected]))
    assert "win_rate" not in summary


def test_episode_stats_summary_rates():
    stats = EpisodeStats([1.0, 2.0, 3.0, 6.0], [1, 2, 3, 2], ["win", "loss", "win", "draw"])
    assert stats.summary() == {"episodes": 4, "return_mean": 3.0, "length_mean": 2.0,
                               "win_rate": 0.5, "loss_rate": 0.25, "draw_rate": 0.25}
    assert EpisodeStats().summary() == {"episodes": 0}


# ---------------------------------------------------------------- normalisation


def test_observation_statistics_are_updated_after_the_rollout_only():
    class Recorder(PointGoalVectorEnv):
        def reset(self, **kwargs):
            obs, info = super().reset(**kwargs)
            self.seen = [obs]
            return obs, info

        def step(self, actions):
            out = super().step(actions)
            self.seen.append(out[0])
            return out

    envs = Recorder(4)
    policy = Policy(4, 2)
    sampler = VectorSampler(envs, policy, 16, seed=0)
    first, _ = sampler.collect()
    raw = np.stack(envs.seen[:16])  # what the policy saw
    # the first rollout was normalised with the initial statistics (identity)
    torch.testing.assert_close(first.obs, torch.as_tensor(raw))
    assert policy.norm.count.item() == 16 * 4
    seen = torch.as_tensor(raw.reshape(-1, 4)).double()
    torch.testing.assert_close(policy.norm.mean, seen.mean(0))
    mean, std = policy.norm.mean.clone(), policy.norm.var.add(policy.norm.eps).sqrt()
    second, _ = sampler.collect()
    raw2 = np.stack(envs.seen[16:32])
    expected = ((torch.as_tensor(raw2).double() - mean) / std).clamp(-5, 5).float()
    torch.testing.assert_close(second.obs, expected, rtol=1e-5, atol=1e-5)
    assert policy.norm.count.item() == 2 * 16 * 4

    frozen = Policy(4, 2)
    VectorSampler(PointGoalVectorEnv(4), frozen, 8, seed=0, update_norm=False).collect()
    assert frozen.norm.count.item() == 0


# ---------------------------------------------------------------- RoboSumo


def test_sumo_self_play_equals_single_arenas():
    arenas, steps, seed = 3, 30, 11
    envs = SumoVectorEnv(arenas, ("ant", "ant"), nthread=1, **SUMO_KW)
    obs_dim, act_dim = envs.observation_spaces["player_0"].shape[0], 8
    torch.manual_seed(0)
    policy = Policy(obs_dim, act_dim, RAW)
    r, stats = SumoSampler(envs, policy, steps, "self", seed=seed).collect()

    # the learner's streams: player_0 of every arena, then player_1 of every arena
    assert r.obs.shape == (steps, 2 * arenas, obs_dim)
    ends = []
    for i in range(arenas):
        env = parallel_env(("ant", "ant"), **SUMO_KW)
        obs, _ = env.reset(seed=seed + i)
        returns = np.zeros(2)
        lengths = 0
        for t in range(steps):
            streams = (i, arenas + i)
            for j, player in zip(streams, ("player_0", "player_1"), strict=True):
                np.testing.assert_array_equal(r.obs[t, j].numpy(), obs[player])
            actions = {p: r.actions[t, j].double().numpy()
                       for j, p in zip(streams, ("player_0", "player_1"), strict=True)}
            obs, rewards, terms, truncs, _ = env.step(actions)
            lengths += 1
            for k, (j, player) in enumerate(zip(streams, ("player_0", "player_1"), strict=True)):
                returns[k] += rewards[player]
                assert r.rewards[t, j].item() == pytest.approx(rewards[player], rel=1e-6,
                                                               abs=1e-4)
                assert r.terminated[t, j] == terms[player]
                assert r.dones[t, j] == (terms[player] or truncs[player])
                if truncs[player]:
                    assert r.next_values[t, j].item() == pytest.approx(
                        value(policy, obs[player][None])[0], rel=1e-5, abs=1e-5)
            if not env.agents:
                ends += [(t, j, returns[k], lengths) for k, j in enumerate(streams)]
                returns[:], lengths = 0.0, 0
                obs, _ = env.reset()  # later bouts continue the arena's random stream
    torch.testing.assert_close(r.starts, starts_from(r.dones))
    assert r.terminated.sum() > 0 and ((r.dones == 1) & (r.terminated == 0)).sum() > 0
    ends.sort()
    assert stats.returns == pytest.approx([e[2] for e in ends], rel=1e-9)
    assert stats.lengths == [e[3] for e in ends]
    assert stats.outcomes == []  # self-play has no side to report outcomes for


def test_sumo_sampler_against_frozen_opponents():
    arenas, steps, seed = 2, 30, 5
    envs = SumoVectorEnv(arenas, ("ant", "bug"), nthread=1, **SUMO_KW)
    d0, d1 = (envs.observation_spaces[p].shape[0] for p in ("player_0", "player_1"))
    torch.manual_seed(0)
    learner = Policy(d0, 8, RAW)
    opponents = [RecordingPolicy(d1, 12, RAW), RecordingPolicy(d1, 12, RAW)]
    sampler = SumoSampler(envs, learner, steps, opponents, seed=seed)
    r, stats = sampler.collect()

    assert sampler.n == arenas and r.obs.shape == (steps, arenas, d0)
    outcome = {"player_0": "win", "player_1": "loss", None: "draw"}
    outcomes = []
    for i, opponent in enumerate(opponents):
        assert len(opponent.calls) == steps  # every step, with its own arena only
        env = parallel_env(("ant", "bug"), **SUMO_KW)
        obs, _ = env.reset(seed=seed + i)
        for t in range(steps):
            np.testing.assert_array_equal(r.obs[t, i].numpy(), obs["player_0"])
            seen, action = opponent.calls[t]
            np.testing.assert_array_equal(seen, obs["player_1"][None])
            obs, rewards, terms, truncs, infos = env.step(
                {"player_0": r.actions[t, i].double().numpy(), "player_1": action[0]})
            assert r.rewards[t, i].item() == pytest.approx(rewards["player_0"], rel=1e-6,
                                                           abs=1e-4)
            assert r.dones[t, i] == (terms["player_0"] or truncs["player_0"])
            if not env.agents:
                winner = infos["player_0"]["winner"]
                assert winner is not None or truncs["player_0"], "no bout may end with both out"
                outcomes.append((t, i, outcome[winner]))
                obs, _ = env.reset()
    outcomes.sort()
    assert stats.outcomes == [o for *_, o in outcomes]
    assert {"draw"} < set(stats.outcomes), "the test should see bouts won or lost"
    assert len(stats.returns) == len(stats.outcomes)


def test_one_opponent_object_for_many_arenas_acts_once_per_step():
    envs = SumoVectorEnv(3, ("bug", "bug"), nthread=1, **SUMO_KW)
    d = envs.observation_spaces["player_0"].shape[0]
    shared = RecordingPolicy(d, 12, RAW)
    SumoSampler(envs, Policy(d, 12), 4, [shared] * 3, seed=0).collect()
    assert [obs.shape for obs, _ in shared.calls] == [(3, d)] * 4


def test_sumo_sampler_validates_opponents():
    envs = SumoVectorEnv(2, ("ant", "bug"), nthread=1, **SUMO_KW)
    d0, d1 = (envs.observation_spaces[p].shape[0] for p in ("player_0", "player_1"))
    learner = Policy(d0, 8)
    with pytest.raises(ValueError, match="one body"):
        SumoSampler(envs, learner, 4, "self")
    with pytest.raises(ValueError, match="'self' or a list"):
        SumoSampler(envs, learner, 4, "league")
    with pytest.raises(ValueError, match=r"one opponent per arena \(2\), got 1"):
        SumoSampler(envs, learner, 4, [Policy(d1, 12)])
    sampler = SumoSampler(envs, learner, 4, [Policy(d1, 12), Policy(d1, 12)], seed=0)
    with pytest.raises(ValueError, match=r"one opponent per arena \(2\), got 3"):
        sampler.set_opponents([Policy(d1, 12)] * 3)
    replacement = [RecordingPolicy(d1, 12), RecordingPolicy(d1, 12)]
    sampler.set_opponents(replacement)
    sampler.collect()
    assert all(len(p.calls) == 4 for p in replacement)


class ScriptedArenas:
    """Stands in for ``SumoVectorEnv``: arena 0 is won by player_0 after 2 steps, arena 1 by
    player_1 after 3, arena 2 reaches the step limit after 4, and in arena 3 both robots fall
    after 2 steps (terminated without a winner)."""

    bodies = ("bug", "bug")
    num_envs = 4
    ends = np.array([2, 3, 4, 2])
    winners = np.array([0, 1, -1, -1])
    terminates = np.array([True, True, False, True])

    def __init__(self) -> None:
        self.action_spaces = {p: gymnasium.spaces.Box(-1, 1, (12,)) for p in ("player_0",
                                                                              "player_1")}

    def reset(self, seed=None, options=None):
        self._t = np.zeros(4, dtype=np.int64)
        return self._obs(), {}

    def _obs(self):
        return tuple(np.tile(self._t[:, None], (1, 5)).astype(np.float32) for _ in range(2))

    def step(self, actions):
        self._t += 1
        end = self._t >= self.ends
        final = self._obs()
        self._t[end] = 0
        info = {"final_obs": final, "winner": np.where(end, self.winners, -1)}
        rewards = np.ones((4, 2))
        return self._obs(), rewards, end & self.terminates, end & ~self.terminates, info


def test_sumo_outcomes_are_counted_from_the_learner_side():
    sampler = SumoSampler(ScriptedArenas(), Policy(5, 12), 4, [Policy(5, 12)] * 4, seed=0)
    _, stats = sampler.collect()
    # step 2: arenas 0 and 3 end; step 3: arena 1; step 4: arenas 0, 2 and 3
    assert [stats.outcomes[k] for k in (0, 2, 3, 4)] == ["win", "loss", "win", "draw"]
    assert stats.lengths == [2, 2, 3, 2, 4, 2]
    assert stats.returns == [2.0, 2.0, 3.0, 2.0, 4.0, 2.0]


def test_a_bout_without_a_result_is_not_a_draw():
    sampler = SumoSampler(ScriptedArenas(), Policy(5, 12), 2, [Policy(5, 12)] * 4, seed=0)
    _, stats = sampler.collect()
    assert stats.outcomes == ["win", "none"]
    assert stats.summary()["draw_rate"] == 0.0


def test_win_rates_are_reported_per_kind_of_opponent():
    idle, learner = IdlePolicy(12), Policy(5, 12)
    sampler = SumoSampler(ScriptedArenas(), learner, 4, [Policy(5, 12)] * 4, seed=0)
    sampler.set_opponents([idle, Policy(5, 12), idle, Policy(5, 12)],
                          ["idle", "pool", "idle", "pool"])
    _, stats = sampler.collect()
    # arena 0 (idle) wins twice, arena 1 (pool) loses, arena 2 (idle) draws, arena 3 (pool)
    # has no result twice; in the order the bouts end:
    assert stats.outcomes == ["win", "none", "loss", "win", "draw", "none"]
    assert stats.opponents == ["idle", "pool", "pool", "idle", "idle", "pool"]
    summary = stats.summary()
    assert summary["win_rate_idle"] == pytest.approx(2 / 3)
    assert summary["win_rate_pool"] == 0.0
    with pytest.raises(ValueError, match=r"one label per arena \(4\), got 1"):
        sampler.set_opponents([idle] * 4, ["idle"])


def test_one_kind_of_opponent_gives_no_per_kind_rates():
    sampler = SumoSampler(ScriptedArenas(), Policy(5, 12), 4, [Policy(5, 12)] * 4, seed=0)
    _, stats = sampler.collect()
    assert set(stats.opponents) == {"policy"}
    assert not any(k.startswith("win_rate_") for k in stats.summary())


def test_scripted_opponents_act_as_the_built_in_robots():
    gen = torch.Generator().manual_seed(0)
    obs = np.zeros((6, 5), np.float32)
    idle = IdlePolicy(12).act(obs, None, None, generator=gen)
    assert idle.action.shape == (6, 12) and not idle.action.any() and idle.state is None
    rand = RandomPolicy(12).act(obs, None, None, generator=gen).action
    assert rand.shape == (6, 12) and rand.min() >= -1 and rand.max() <= 1
    assert rand.std() > 0.4  # uniform in [-1, 1] has std 0.58
    # seeded like the sampler's opponent generator: the same seed, the same torques
    again = RandomPolicy(12).act(obs, None, None, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(again.action, rand)
    assert not np.array_equal(RandomPolicy(12).act(obs, generator=gen).action, rand)
    with pytest.raises(ValueError, match="positive integer"):
        IdlePolicy(0)


def test_self_play_arenas_among_frozen_opponents_equal_single_arenas():
    arenas, steps, seed = 3, 30, 7
    envs = SumoVectorEnv(arenas, ("ant", "ant"), nthread=1, **SUMO_KW)
    d = envs.observation_spaces["player_0"].shape[0]
    torch.manual_seed(0)
    learner = Policy(d, 8, RAW)
    frozen = [RecordingPolicy(d, 8, RAW), RecordingPolicy(d, 8, RAW)]
    sampler = SumoSampler(envs, learner, steps, [frozen[0], SELF, frozen[1]], seed=seed)
    assert sampler.n == 4 and sampler.labels == ["policy", "self", "policy"]
    r, stats = sampler.collect()
    # streams: player_0 of arenas 0, 1, 2, then player_1 of the self-play arena 1
    assert r.obs.shape == (steps, 4, d)
    for i in range(arenas):
        env = parallel_env(("ant", "ant"), **SUMO_KW)
        obs, _ = env.reset(seed=seed + i)
        calls = iter(frozen[0 if i == 0 else 1].calls) if i != 1 else None
        for t in range(steps):
            np.testing.assert_array_equal(r.obs[t, i].numpy(), obs["player_0"])
            if i == 1:
                np.testing.assert_array_equal(r.obs[t, 3].numpy(), obs["player_1"])
                other = r.actions[t, 3].double().numpy()
            else:
                seen, other = next(calls)
                np.testing.assert_array_equal(seen, obs["player_1"][None])
                other = other[0]
            obs, rewards, terms, truncs, _ = env.step(
                {"player_0": r.actions[t, i].double().numpy(), "player_1": other})
            assert r.rewards[t, i].item() == pytest.approx(rewards["player_0"], rel=1e-6,
                                                           abs=1e-4)
            assert r.dones[t, i] == (terms["player_0"] or truncs["player_0"])
            if i == 1:
                assert r.rewards[t, 3].item() == pytest.approx(rewards["player_1"], rel=1e-6,
                                                               abs=1e-4)
                assert r.dones[t, 3] == r.dones[t, 1]
            if not env.agents:
                obs, _ = env.reset()
    assert set(stats.opponents) == {"policy", "self"}  # outcomes of every arena, player_0's side
    with pytest.raises(ValueError, match="self-play arenas are fixed"):
        sampler.set_opponents([SELF, frozen[0], frozen[1]])
    with pytest.raises(ValueError, match="one body on both sides"):
        SumoSampler(SumoVectorEnv(2, ("ant", "bug"), nthread=1), learner, 4,
                    [SELF, Policy(164, 12)])
