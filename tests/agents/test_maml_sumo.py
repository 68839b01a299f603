"""MAML meta-training in RoboSumo against consecutive versions of a self-play lineage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import agents
from agents.checkpoint import load_checkpoint
from agents.lineage import Lineage
from agents.maml import AdaptConfig
from agents.maml.sumo import (
    SumoMAMLAgent,
    SumoMetaConfig,
    SumoMetaTrainer,
    consecutive_pairs,
    load_sumo_maml,
    terminal_gae,
)

OPPONENTS = "zoo:selfplay-bug"


def tiny(**overrides) -> SumoMetaConfig:
    settings = dict(env="RoboSumo-Bug-vs-Bug-v0", opponents=OPPONENTS, iterations=2,
                    meta_batch=2, episodes=2, episode_steps=25, epochs=1,
                    init_from="zoo:selfplay-bug", snapshot_every=1, step_size_lr=1e-4,
                    adapt=AdaptConfig(steps=1, gamma=0.995))
    settings.update(overrides)
    return SumoMetaConfig(**settings)


def test_pairs_are_consecutive_stored_versions():
    versions = [4, 8, 12, 16]
    pairs = consecutive_pairs(versions, np.random.default_rng(0), 200)
    assert {p for p in pairs} == {(4, 8), (8, 12), (12, 16)}
    with pytest.raises(ValueError, match=">= 2 snapshots"):
        consecutive_pairs([4], np.random.default_rng(0), 1)


def test_terminal_gae_masks_padding_and_does_not_bootstrap():
    rewards = torch.tensor([[1.0, 2.0, 3.0, 0.0], [5.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    values = torch.full((2, 4), 7.0)  # padding values must not leak into the last real step
    adv, ret = terminal_gae(rewards, values, mask, gamma=1.0, lam=1.0)
    assert torch.allclose(ret, torch.tensor([[6.0, 5.0, 3.0, 0.0], [5.0, 0.0, 0.0, 0.0]]))
    assert torch.allclose(adv, (ret - 7.0) * mask)


def test_config_errors_say_what_is_accepted():
    with pytest.raises(ValueError, match="RoboSumo-X-vs-Y-v0"):
        SumoMetaConfig(env="NonstationaryLocomotion-Bug-v0")
    with pytest.raises(ValueError, match="meta_batch"):
        SumoMetaConfig(meta_batch=0)


def test_opponents_must_have_two_versions_and_the_right_body(tmp_path):
    one = Lineage(tmp_path, "one")
    tensors, meta = load_checkpoint(agents.resolve("zoo:selfplay-bug@4"))
    one.save(1, tensors, meta)
    with pytest.raises(ValueError, match=">= 2 snapshots"):
        SumoMetaTrainer(tiny(opponents=str(tmp_path / "one")), tmp_path / "run")
    with pytest.raises(ValueError, match="needs opponents controlling a ant"):
        SumoMetaTrainer(tiny(env="RoboSumo-Bug-vs-Ant-v0"), tmp_path / "run2")


def test_collect_plays_one_bout_per_arena_against_the_given_versions(tmp_path):
    trainer = SumoMetaTrainer(tiny(episode_steps=40), tmp_path / "run", tensorboard=False)
    theta = {k: v.detach() for k, v in trainer.theta.items()}
    bouts = trainer.collect([8, 12], [theta, theta], seed=3)
    assert list(trainer.opponents.versions) == [8, 8, 12, 12]
    mask = bouts.mask.reshape(4, -1)
    lengths = mask.sum(1).long()
    for row, n in zip(mask, lengths, strict=True):  # a prefix of real steps, then padding
        assert row[:n].eq(1).all() and row[n:].eq(0).all()
    assert mask.shape[1] == int(lengths.max()) <= 40
    winners = bouts.winners.reshape(4)
    assert set(winners.tolist()) <= {-1, 0, 1}
    assert all(w == -1 for w, n in zip(winners, lengths, strict=True) if n == 40)  # draws
    assert bouts.rewards.reshape(4, -1)[mask == 0].eq(0).all()
    # the recorded log-probabilities are those of theta on the recorded observations
    mean, log_std, _ = trainer.net(bouts.obs[0][0, :3])
    lp = agents.nets.log_prob(mean, log_std, bouts.actions[0][0, :3])
    assert torch.allclose(lp, bouts.logp[0][0, :3], atol=1e-5)


def test_meta_update_moves_theta_and_every_step_size(tmp_path):
    trainer = SumoMetaTrainer(tiny(adapt=AdaptConfig(steps=2, gamma=0.995)), tmp_path / "run",
                              tensorboard=False)
    before = {k: v.detach().clone() for k, v in trainer.theta.items()}
    alphas = [float(a.detach()) for a in trainer.step_sizes.alphas]
    row = trainer.iterate()
    assert any(not torch.equal(before[k], v) for k, v in trainer.theta.items())
    after = [float(a.detach()) for a in trainer.step_sizes.alphas]
    assert all(a != b for a, b in zip(after, alphas, strict=True))
    assert 0.0 <= row["pre_win_rate"] <= 1.0 and row["env_steps"] > 0
    assert row["env_steps"] <= 2 * 2 * 2 * 25


def test_resume_continues_exactly(tmp_path):
    straight = SumoMetaTrainer(tiny(), tmp_path / "a", tensorboard=False)
    straight.run(progress=False)
    first = SumoMetaTrainer(tiny(), tmp_path / "b", tensorboard=False)
    first.iterate()
    del first
    resumed = SumoMetaTrainer(tiny(), tmp_path / "b", tensorboard=False)
    assert resumed.iteration == 1
    resumed.run(progress=False)
    for k, v in straight.tensors().items():
        assert torch.equal(v, resumed.tensors()[k]), k


def test_snapshot_loads_as_an_adapting_sumo_agent(tmp_path):
    trainer = SumoMetaTrainer(tiny(iterations=1), tmp_path / "run", tensorboard=False)
    trainer.run(progress=False)
    path = trainer.lineage.path(1)
    policy, _, config, meta = load_sumo_maml(path)
    assert meta.env_id == "RoboSumo-Bug-vs-Bug-v0" and config.reward_scale == 0.01
    agent = agents.load(str(path), body="bug", seed=0)
    assert isinstance(agent, SumoMAMLAgent)
    assert agent.buffer.done.maxlen == 75
    obs = np.zeros(policy.obs_dim)
    for t in range(3):
        agent.act(obs)
        agent.observe(np.zeros(policy.act_dim), 200.0, obs, False, t == 2)
    assert agent.buffer.done[-1].rewards == [2.0, 2.0, 2.0]  # scaled as in meta-training
    theta = {k: v.clone() for k, v in agent.theta.items()}
    agent.adapt()
    assert agent.adaptations == 1
    assert any(not torch.equal(theta[k], v) for k, v in agent.phi.items())
    agent.reset()
    assert all(torch.equal(theta[k], v) for k, v in agent.phi.items())
    with pytest.raises(ValueError, match="not one meta-trained in RoboSumo"):
        load_sumo_maml(agents.resolve("zoo:maml-locomotion-bug"))


def test_arena_train_maml_runs_in_robosumo_and_resumes(tmp_path, capsys):
    from arena.cli import main

    argv = ["train", "maml", "--env", "RoboSumo-Bug-vs-Bug-v0", "--opponents", OPPONENTS,
            "--init-from", "zoo:selfplay-bug", "--iterations", "1", "--meta-batch", "2",
            "--episodes", "1", "--episode-steps", "10", "--inner-steps", "1", "--epochs", "1",
            "--run-dir", str(tmp_path / "run"), "--no-progress", "--no-tensorboard"]
    assert main(argv) == 0
    assert (tmp_path / "run" / "lineage" / "run" / "v0001.safetensors").is_file()
    argv[argv.index("--iterations") + 1] = "2"
    assert main(argv) == 0
    assert "resuming" in capsys.readouterr().out
    assert isinstance(agents.load(str(tmp_path / "run" / "lineage" / "run" / "v0002.safetensors")),
                      SumoMAMLAgent)


def test_arena_train_maml_takes_the_new_inner_steps_in_robosumo(tmp_path):
    from arena.cli import main

    argv = ["train", "maml", "--env", "RoboSumo-Bug-vs-Bug-v0", "--opponents", OPPONENTS,
            "--init-from", "zoo:selfplay-bug", "--iterations", "1", "--meta-batch", "2",
            "--episodes", "1", "--episode-steps", "10", "--inner-steps", "1", "--epochs", "1",
            "--value-step", "separate", "--log-step-sizes", "--inner-step", "kl",
            "--step-size", "0.01", "--run-dir", str(tmp_path / "run"), "--no-progress",
            "--no-tensorboard"]
    assert main(argv) == 0
    agent = agents.load(str(tmp_path / "run" / "lineage" / "run" / "v0001.safetensors"))
    assert (agent.config.value_step, agent.config.parametrization, agent.config.inner_step) == (
        "separate", "log", "kl")
    assert set(agent.step_sizes.summary()) == {"alpha_1_policy", "alpha_1_value"}


@pytest.mark.parametrize(("extra", "message"), [
    (["--env", "RoboSumo-Bug-vs-Bug-v0"], "needs --opponents"),
    (["--env", "Hopper-v5"], "must be NonstationaryLocomotion"),
    (["--opponents", OPPONENTS], "applies to RoboSumo envs only"),
    (["--inner-step", "kl"], "add --value-step separate"),
    (["--log-step-sizes", "--step-size", "0"], "--step-size must be > 0"),
])
def test_arena_train_maml_refuses_bad_combinations(tmp_path, extra, message):
    from arena.cli import main

    with pytest.raises(SystemExit, match=message):
        main(["train", "maml", "--run-dir", str(tmp_path / "run"), *extra])


def test_lstm_meta_training_records_what_the_unrolled_evaluation_recomputes(tmp_path):
    from agents.maml import evaluate_episodes
    from agents.policy import PolicyConfig

    config = tiny(init_from=None, warmup_steps=5, policy=PolicyConfig(arch="lstm", hidden=16))
    trainer = SumoMetaTrainer(config, tmp_path / "run", tensorboard=False)
    assert trainer.policy.recurrent and float(trainer.policy.norm.count) == 5 * 4
    theta = {k: v.detach() for k, v in trainer.theta.items()}
    bouts = trainer.collect([8, 12], [theta, theta], seed=1)
    for i in range(2):
        out = evaluate_episodes(trainer.net, theta, bouts.obs[i], bouts.actions[i])
        real = bouts.mask[i] > 0
        assert torch.allclose(out.logp[real], bouts.logp[i][real], atol=1e-4)
    before = {k: v.detach().clone() for k, v in trainer.theta.items()}
    trainer.meta_update(bouts, bouts)
    assert all(not torch.equal(before[k], v) for k, v in trainer.theta.items()
               if k.startswith(("pi_", "log_std")))


def _pad(bouts, steps: int, garbage: bool):
    """The bouts with ``steps`` more padded steps (mask 0) holding zeros or random garbage."""
    g = torch.Generator().manual_seed(5)

    def extra(x):
        shape = (*x.shape[:2], steps, *x.shape[3:])
        return torch.randn(shape, generator=g) * 100 if garbage else torch.zeros(shape)

    cat = lambda x: torch.cat([x, extra(x)], 2)  # noqa: E731
    mask = torch.cat([bouts.mask, torch.zeros(*bouts.mask.shape[:2], steps)], 2)
    return bouts._replace(obs=cat(bouts.obs), actions=cat(bouts.actions),
                          rewards=cat(bouts.rewards), logp=cat(bouts.logp),
                          values=cat(bouts.values), mask=mask)


@pytest.mark.parametrize("arch", ["mlp", "lstm"])
def test_padded_steps_do_not_reach_the_meta_update(tmp_path, arch):
    from agents.policy import PolicyConfig

    config = tiny(init_from=None, warmup_steps=5, adapt=AdaptConfig(steps=2, gamma=0.995),
                  policy=PolicyConfig(arch=arch, hidden=16))
    trainer = SumoMetaTrainer(config, tmp_path / "run", tensorboard=False)
    theta = {k: v.detach() for k, v in trainer.theta.items()}
    pre = trainer.collect([8, 12], [theta, theta], seed=1)
    post = trainer.collect([12, 16], [theta, theta], seed=2)
    start = {k: v.clone() for k, v in trainer.tensors().items()}
    results = []
    for garbage in (False, True):
        trainer.policy.load_tensors(start, prefix="policy.")
        trainer.step_sizes.load_state_dict({k[6:]: v for k, v in start.items()
                                            if k.startswith("alpha.")})
        trainer.optimizer.state.clear()
        stats = trainer.meta_update(_pad(pre, 7, garbage), _pad(post, 7, garbage))
        assert stats["approx_kl"] < 1e-3  # the first epoch starts on-policy
        results.append({k: v.clone() for k, v in trainer.tensors().items()})
    changed = [k for k in start if not torch.equal(start[k], results[0][k])]
    assert changed
    for k in start:
        torch.testing.assert_close(results[0][k], results[1][k], rtol=1e-5, atol=1e-6)


def test_a_single_task_meta_batch_stays_finite(tmp_path):
    trainer = SumoMetaTrainer(tiny(meta_batch=1), tmp_path / "run", tensorboard=False)
    trainer.iterate()
    assert all(torch.isfinite(v).all() for v in trainer.tensors().values())


def test_cli_refuses_options_of_the_other_env(tmp_path):
    from arena.cli import main

    for extra, message in ((["--reward-scale", "0.1"], "--reward-scale applies to RoboSumo"),
                           (["--vmap-tasks", "--arch", "lstm"], "vmap_tasks needs an MLP"),
                           (["--env", "RoboSumo-Bug-vs-Bug-v0", "--opponents", OPPONENTS,
                             "--meta-batch", "0"], "meta_batch must be an integer >= 1")):
        with pytest.raises(SystemExit, match=message):
            main(["train", "maml", "--run-dir", str(tmp_path / "run"), *extra])


@pytest.mark.parametrize("first_order", [False, True])
def test_the_vmapped_meta_update_is_the_loops_on_padded_bouts(tmp_path, first_order):
    """RoboSumo's bouts are padded to the phase's longest: the masked meta-loss, vmapped over
    the tasks, gives the loop's gradient, garbage on the padding included."""
    grads = {}
    for vmap_tasks in (False, True):
        trainer = SumoMetaTrainer(tiny(vmap_tasks=vmap_tasks, first_order=first_order,
                                       episode_steps=30, meta_batch=3),
                                  tmp_path / f"run-{vmap_tasks}", tensorboard=False)
        assert trainer.vmap_tasks is vmap_tasks
        _, pre, post = trainer.sample()
        pre, post = _pad(pre, 5, garbage=True), _pad(post, 5, garbage=True)
        trainer.optimizer.zero_grad()
        trainer.meta_backward(pre, post)
        grads[vmap_tasks] = [p.grad.clone() for p in [*trainer.net.parameters(),
                                                      *trainer.step_sizes.parameters()]]
    for loop, vmapped in zip(grads[False], grads[True], strict=True):
        torch.testing.assert_close(vmapped, loop, rtol=1e-4, atol=1e-6)
    assert SumoMetaTrainer(tiny(), tmp_path / "default", tensorboard=False).vmap_tasks
