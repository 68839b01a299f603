"""agents.load: built-ins, checkpoint paths and zoo references; policy checkpoints reproduce the
saved policy's actions bit for bit; wrong bodies and shapes are refused."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch

import agents
from agents import CheckpointError, IdleAgent, PolicyAgent, RandomAgent
from agents.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from agents.lineage import Lineage
from agents.policy import Policy, PolicyConfig, load_policy, save_policy

ANT_OBS, ANT_ACT = 120, 8


@functools.cache
def trained_policy(config: PolicyConfig | None = None, seed: int = 0) -> Policy:
    """A policy whose weights and observation statistics are far from their initial values.

    Cached (orthogonal initialisation is slow): callers must not modify it.
    """
    torch.manual_seed(seed)
    policy = Policy(ANT_OBS, ANT_ACT, config)
    with torch.no_grad():
        for p in policy.net.parameters():
            p.add_(0.3 * torch.randn_like(p))
    policy.norm.update(3.0 + 2.0 * torch.randn(500, ANT_OBS))
    return policy


def meta(kind: str = "ppo-mlp", **changes) -> CheckpointMeta:
    return CheckpointMeta(kind=kind, body="ant", env_id="RoboSumo-Ant-vs-Ant-v0",
                          config={"note": "test"}, **changes)


def observations(steps: int = 6) -> np.ndarray:
    return np.random.default_rng(1).normal(3.0, 2.0, (steps, ANT_OBS)).astype(np.float32)


def play(agent: agents.Agent, obs: np.ndarray, episode_end: int | None = None) -> np.ndarray:
    """Actions of an agent over a sequence of observations (an episode ends after episode_end)."""
    actions = []
    for t, o in enumerate(obs):
        actions.append(agent.act(o))
        agent.observe(actions[-1], 0.0, o, False, t == episode_end)
    return np.stack(actions)


# ---------------------------------------------------------------- built-ins


@pytest.mark.parametrize("body, size", [("ant", 8), ("bug", 12), ("spider", 16)])
def test_builtins_act_with_the_body_action_size(body, size):
    random_agent = agents.load("random", body=body, seed=3)
    idle = agents.load("idle", body=body)
    assert isinstance(random_agent, RandomAgent) and isinstance(idle, IdleAgent)
    assert random_agent.action_dim == idle.action_dim == size
    assert random_agent.body == idle.body == body
    action = random_agent.act(np.zeros(5))
    assert action.shape == (size,) and np.all(np.abs(action) <= 1.0)
    np.testing.assert_array_equal(idle.act(np.zeros(5)), np.zeros(size))


@pytest.mark.parametrize("name", ["random", "idle"])
def test_builtins_need_a_body(name):
    with pytest.raises(ValueError, match="needs body="):
        agents.load(name)


def test_unknown_body_is_refused():
    with pytest.raises(ValueError, match="ant"):
        agents.load("random", body="snake")


def test_seeded_random_agent_replays_after_reset():
    agent = agents.load("random", body="bug", seed=7)
    first = [agent.act(None) for _ in range(5)]
    agent.reset()
    again = [agent.act(None) for _ in range(5)]
    np.testing.assert_array_equal(first, again)
    other = agents.load("random", body="bug", seed=8)
    assert not np.array_equal(first[0], other.act(None))
    assert np.unique(np.round(first, 6)).size > 5 * 12 // 2  # not one repeated action


@pytest.mark.parametrize("ref", ["randmo", "no/such/file.safetensors", "zoo"])
def test_unknown_names_and_paths_list_the_builtins(ref):
    with pytest.raises(ValueError, match=r"not a built-in \(random, idle\)"):
        agents.load(ref, body="ant")


# ---------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("arch,features", [("mlp", "raw"), ("lstm", "raw"), ("mlp", "sumo")])
def test_policy_checkpoint_round_trip_reproduces_actions(tmp_path, arch, features):
    policy = trained_policy(PolicyConfig(arch=arch, hidden=32, features=features))
    path = save_policy(tmp_path / "p.safetensors", policy, meta(f"ppo-{arch}"))
    loaded, loaded_meta = load_policy(path)
    assert loaded_meta.config["policy"] == dataclasses.asdict(policy.config)
    for key, value in policy.state_dict().items():  # incl. the normalisation statistics
        assert torch.equal(value, loaded.state_dict()[key]), key
    assert loaded.norm.count.item() == 500

    obs = observations(4)
    outs = [p.act(obs, generator=torch.Generator().manual_seed(5)) for p in (policy, loaded)]
    for field in ("action", "logp", "value"):
        np.testing.assert_array_equal(getattr(outs[0], field), getattr(outs[1], field))
    # the statistics matter: an unnormalised copy acts differently
    blank = Policy(ANT_OBS, ANT_ACT, policy.config)
    blank.net.load_state_dict(policy.net.state_dict())
    other = blank.act(obs, generator=torch.Generator().manual_seed(5))
    assert not np.array_equal(other.action, outs[0].action)


@pytest.mark.parametrize("arch", ["mlp", "lstm"])
def test_loaded_agent_acts_like_the_original_over_episodes(tmp_path, arch):
    policy = trained_policy(PolicyConfig(arch=arch, hidden=32))
    path = save_policy(tmp_path / "p.safetensors", policy, meta(f"ppo-{arch}"))
    obs = observations(8)
    original = PolicyAgent(policy, body="ant", seed=11)
    loaded = agents.load(str(path), seed=11)
    assert isinstance(loaded, PolicyAgent) and loaded.body == "ant" and loaded.name == "p"
    expected = play(original, obs, episode_end=3)
    np.testing.assert_array_equal(play(loaded, obs, episode_end=3), expected)
    # a new game restarts the noise and the memory
    loaded.reset()
    np.testing.assert_array_equal(play(loaded, obs, episode_end=3), expected)
    # another seed gives other actions
    assert not np.array_equal(play(agents.load(str(path), seed=12), obs), expected)
    deterministic = agents.load(str(path), deterministic=True)
    first = play(deterministic, obs, episode_end=3)
    deterministic.reset()
    np.testing.assert_array_equal(play(deterministic, obs, episode_end=3), first)


def test_lstm_agent_remembers_within_an_episode_and_forgets_at_its_end(tmp_path):
    policy = trained_policy(PolicyConfig(arch="lstm", hidden=32))
    agent = PolicyAgent(policy, deterministic=True)
    obs = observations(3)
    fresh = agent.act(obs[2])
    agent.reset()
    agent.act(obs[0])
    agent.observe(None, 0.0, obs[1], False, False)
    remembering = agent.act(obs[2])
    agent.observe(None, 0.0, obs[2], True, False)
    after_end = agent.act(obs[2])
    assert not np.array_equal(remembering, fresh)
    np.testing.assert_array_equal(after_end, fresh)


def test_policy_agent_refuses_wrong_observation_shapes():
    agent = PolicyAgent(Policy(ANT_OBS, ANT_ACT), name="probe")
    with pytest.raises(ValueError, match=r"probe expects observations of shape \(120,\)"):
        agent.act(np.zeros(37))


def test_checkpoint_for_another_body_is_refused(tmp_path):
    path = save_policy(tmp_path / "ant.safetensors", trained_policy(), meta())
    with pytest.raises(ValueError, match="controls an ant, not a bug"):
        agents.load(str(path), body="bug")
    assert agents.load(str(path), body="ant").body == "ant"


def test_checkpoint_with_mismatched_shapes_is_refused(tmp_path):
    path = save_policy(tmp_path / "p.safetensors", trained_policy(), meta())
    tensors, m = load_checkpoint(path)
    key = next(k for k in tensors if k.endswith("weight"))
    tensors[key] = tensors[key][:, :-1].contiguous()
    del tensors["norm.count"]
    bad = save_checkpoint(tmp_path / "bad.safetensors", tensors, m)
    with pytest.raises(CheckpointError, match="does not fit the agent") as err:
        load_policy(bad)
    assert f"shape mismatch for {key!r}" in str(err.value)
    assert "missing tensors: norm.count" in str(err.value)
    with pytest.raises(CheckpointError, match="does not fit the agent"):
        agents.load(str(bad))


def test_checkpoint_of_an_unknown_kind_is_refused(tmp_path):
    path = save_policy(tmp_path / "p.safetensors", trained_policy(), meta("alien"))
    with pytest.raises(CheckpointError, match=r"no loader for agent kind 'alien'.*ppo-mlp"):
        agents.load(str(path))


def test_checkpoint_whose_config_does_not_describe_a_policy_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "p.safetensors", trained_policy().tensors(), meta())
    with pytest.raises(ValueError, match="does not describe a policy"):
        load_policy(path)


# ---------------------------------------------------------------- the zoo


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory):
    """A zoo with a lineage 'champ' (versions 1 and 2) and a single checkpoint 'solo'."""
    root = tmp_path_factory.mktemp("zoo")
    lineage = Lineage(root, "champ")
    for version in (1, 2):
        save_policy(lineage.path(version), trained_policy(seed=version),
                    meta(lineage="champ", version=version))
    save_policy(root / "solo.safetensors", trained_policy(seed=9), meta())
    return root


@pytest.fixture
def zoo(zoo_dir, monkeypatch):
    monkeypatch.setattr(agents.refs, "ZOO_DIR", zoo_dir)
    return zoo_dir


def test_zoo_references_resolve_to_lineage_versions(zoo):
    assert agents.zoo_names() == ["champ", "solo"]
    assert agents.resolve("zoo:champ") == zoo / "champ" / "v0002.safetensors"
    assert agents.resolve("zoo:champ@1") == zoo / "champ" / "v0001.safetensors"
    assert agents.resolve("zoo:solo") == zoo / "solo.safetensors"
    latest, first = agents.load("zoo:champ", seed=0), agents.load("zoo:champ@1", seed=0)
    assert (latest.name, latest.meta.version) == ("zoo:champ", 2)
    assert (first.name, first.meta.version) == ("zoo:champ@1", 1)
    obs = observations(1)[0]
    assert not np.array_equal(latest.act(obs), first.act(obs))
    np.testing.assert_array_equal(
        agents.load("zoo:champ@1", seed=0).act(obs),
        PolicyAgent(trained_policy(seed=1), seed=0).act(obs))


@pytest.mark.parametrize("ref, message", [
    ("zoo:champ@9", r"lineage 'champ' has no version 9; its versions run from 1 to 2 "
                    r"\(2 snapshots\)"),
    ("zoo:champ@latest", "the version after .@. must be a positive integer, got .latest."),
    ("zoo:nobody", "unknown zoo agent 'nobody'; the zoo has: champ, solo"),
    ("zoo:", "unknown zoo agent ''; the zoo has: champ, solo"),
    ("zoo:../champ", "unknown zoo agent"),
])
def test_bad_zoo_references_are_refused(zoo, ref, message):
    with pytest.raises(ValueError, match=message):
        agents.load(ref)


def test_zoo_reference_checks_the_body(zoo):
    with pytest.raises(ValueError, match="zoo:champ controls an ant, not a spider"):
        agents.load("zoo:champ", body="spider")


# ---------------------------------------------------------------- policy/adaptation combinations


def test_adaptation_none_freezes_the_checkpoint_policy():
    agent = agents.load("zoo:selfplay-bug", body="bug", seed=0, adaptation="none",
                        deterministic=True)
    plain = agents.load("zoo:selfplay-bug", body="bug", seed=0, deterministic=True)
    assert isinstance(agent, PolicyAgent) and agent.name == "zoo:selfplay-bug[none]"
    obs = np.random.default_rng(0).normal(size=plain.policy.obs_dim)
    np.testing.assert_array_equal(agent.act(obs), plain.act(obs))


def test_adaptation_none_of_a_maml_checkpoint_acts_with_theta():
    from agents.maml.train import load_maml

    theta, *_ = load_maml(agents.resolve("zoo:maml-locomotion-bug"))
    agent = agents.load("zoo:maml-locomotion-bug", seed=0, adaptation="none", deterministic=True)
    obs = np.random.default_rng(1).normal(size=theta.obs_dim).astype(np.float32)
    expected = theta.act(obs[None], deterministic=True).action[0]
    np.testing.assert_allclose(agent.act(obs), expected, rtol=1e-6)
    agent.adapt()  # a frozen policy has nothing to adapt
    np.testing.assert_allclose(agent.act(obs), expected, rtol=1e-6)


def test_adaptation_tracking_updates_the_policy_between_rounds():
    from agents.ppo.tracking import TrackingAgent

    agent = agents.load("zoo:selfplay-bug", body="bug", seed=0, adaptation="tracking")
    assert isinstance(agent, TrackingAgent) and agent.reward_scale == 0.01  # as in training
    before = [p.detach().clone() for p in agent.policy.parameters()]
    rng = np.random.default_rng(2)
    for length in (5, 9, 3):  # bouts of different lengths
        for t in range(length):
            obs = rng.normal(size=agent.policy.obs_dim)
            action = agent.act(obs)
            agent.observe(action, float(rng.normal()) * 100, obs, t == length - 1, False)
    agent.adapt()
    assert agent.updates == 1
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.policy.parameters(),
                                                       strict=True))
    agent.reset()
    assert all(torch.equal(a, b) for a, b in zip(before, agent.policy.parameters(), strict=True))


@pytest.mark.parametrize(("ref", "adaptation", "message"), [
    ("zoo:selfplay-bug", "sometimes", "must be one of own, none, tracking"),
    ("random", "none", "no policy to freeze or track"),
    ("zoo:rl2-locomotion-bug", "tracking", "adapt their own way"),
    ("zoo:norml-sumo-bug", "tracking", "adapt their own way"),
])
def test_bad_adaptations_are_refused(ref, adaptation, message):
    with pytest.raises(ValueError, match=message):
        agents.load(ref, body="bug", adaptation=adaptation)
