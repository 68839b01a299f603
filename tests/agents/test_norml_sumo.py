"""NoRML meta-training in RoboSumo against consecutive versions of a self-play lineage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import agents
from agents.norml import NoRMLAgent
from agents.norml.core import TaskData
from agents.norml.sumo import SumoNoRMLConfig, SumoNoRMLTrainer

OPPONENTS = "zoo:selfplay-bug"
# a version that reads the observation alone (the newest also read the egocentric features)
INIT = "zoo:selfplay-bug@123"


def tiny(**overrides) -> SumoNoRMLConfig:
    settings = dict(env="RoboSumo-Bug-vs-Bug-v0", opponents=OPPONENTS, iterations=2,
                    meta_batch=2, episodes=2, episode_steps=25, init_from=INIT,
                    snapshot_every=1, lr=1e-3)
    settings.update(overrides)
    return SumoNoRMLConfig(**settings)


def state(trainer: SumoNoRMLTrainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def test_collect_plays_one_bout_per_arena_against_the_given_versions(tmp_path):
    trainer = SumoNoRMLTrainer(tiny(episode_steps=40), tmp_path / "run", tensorboard=False)
    theta = {k: v.detach() for k, v in trainer.model.theta().items()}
    data, winners = trainer.collect([8, 12], [theta, theta], seed=3)
    assert list(trainer.opponents.versions) == [8, 8, 12, 12]
    mask = data.mask.reshape(4, -1)
    lengths = mask.sum(1).long()
    for row, n in zip(mask, lengths, strict=True):  # a prefix of real steps, then padding
        assert row[:n].eq(1).all() and row[n:].eq(0).all()
    assert mask.shape[1] == int(lengths.max()) <= 40
    assert data.obs.shape[:3] == (2, 2, mask.shape[1])
    assert set(winners.reshape(-1).tolist()) <= {-1, 0, 1}
    assert all(w == -1 for w, n in zip(winners.reshape(-1), lengths, strict=True) if n == 40)
    for x in data:  # padding holds zeros in every field
        assert x.reshape(4, mask.shape[1], -1)[mask == 0].eq(0).all()


def test_config_errors_say_what_is_accepted(tmp_path):
    with pytest.raises(ValueError, match="RoboSumo-X-vs-Y-v0"):
        SumoNoRMLConfig(env="NonstationaryLocomotion-Bug-v0")
    with pytest.raises(ValueError, match="meta_batch"):
        SumoNoRMLConfig(meta_batch=0)
    with pytest.raises(ValueError, match="needs opponents controlling a ant"):
        SumoNoRMLTrainer(tiny(env="RoboSumo-Bug-vs-Ant-v0", init_from=None), tmp_path / "r")


def _pad(data: TaskData, steps: int, garbage: bool) -> TaskData:
    g = torch.Generator().manual_seed(5)

    def extra(x):
        shape = (*x.shape[:2], steps, *x.shape[3:])
        return torch.randn(shape, generator=g) * 100 if garbage else torch.zeros(shape)

    return TaskData(*(torch.cat([x, torch.zeros(*x.shape[:2], steps) if name == "mask"
                                 else extra(x)], 2)
                      for name, x in zip(TaskData._fields, data, strict=True)))


def test_padding_reaches_neither_the_inner_step_nor_the_outer_loss(tmp_path):
    trainer = SumoNoRMLTrainer(tiny(), tmp_path / "run", tensorboard=False)
    model = trainer.model
    with torch.no_grad():  # a non-trivial A_psi and offset
        for p in [*model.advantage.parameters(), *model.offset.values()]:
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)) * 0.1)
    theta = {k: v.detach() for k, v in model.theta().items()}
    pre, _ = trainer.collect([8, 12], [theta, theta], seed=1)
    post, _ = trainer.collect([12, 16], [theta, theta], seed=2)
    grads = []
    for garbage in (False, True):
        model.zero_grad()
        a, b = _pad(pre, 6, garbage), _pad(post, 6, garbage)
        adapted = model.adapt_tasks(a, 0.995)
        model.outer_loss(adapted, b, 0.995).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()
                      if p.grad is not None})
    assert {n.split(".")[0] for n in grads[0]} >= {"policy", "advantage", "offset", "alpha"}
    assert any(g.abs().sum() > 0 for g in grads[0].values())
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], rtol=1e-5, atol=1e-7)


def test_the_inner_step_reads_no_rewards(tmp_path):
    trainer = SumoNoRMLTrainer(tiny(), tmp_path / "run", tensorboard=False)
    theta = {k: v.detach() for k, v in trainer.model.theta().items()}
    pre, _ = trainer.collect([8, 12], [theta, theta], seed=1)
    a = trainer.model.adapt_tasks(pre, 0.995, create_graph=False)
    b = trainer.model.adapt_tasks(pre._replace(rewards=torch.randn(pre.rewards.shape) * 1e3),
                                  0.995, create_graph=False)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_an_iteration_moves_theta_offset_and_psi_and_reports_win_rates(tmp_path):
    trainer = SumoNoRMLTrainer(tiny(), tmp_path / "run", tensorboard=False)
    before = state(trainer)
    row = trainer.iterate()
    after = state(trainer)
    for prefix in ("policy.", "offset.", "advantage."):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix))
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("obs_norm."))
    for key in ("pre_win_rate", "post_win_rate", "pre_loss_rate", "post_loss_rate"):
        assert 0.0 <= row[key] <= 1.0
    assert 0 < row["env_steps"] <= 2 * 2 * 2 * 25


def test_kill_and_resume_gives_the_same_state(tmp_path):
    straight = SumoNoRMLTrainer(tiny(), tmp_path / "a", tensorboard=False)
    straight.run()
    first = SumoNoRMLTrainer(tiny(), tmp_path / "b", tensorboard=False)
    first.iterate()
    del first
    resumed = SumoNoRMLTrainer(tiny(), tmp_path / "b", tensorboard=False)
    assert resumed.iteration == 1
    resumed.run()
    a, b = state(straight), state(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert straight.env_steps == resumed.env_steps


def test_snapshot_loads_as_an_agent_that_adapts_between_rounds(tmp_path):
    trainer = SumoNoRMLTrainer(tiny(iterations=1), tmp_path / "run", tensorboard=False)
    trainer.run()
    with torch.no_grad():  # an A_psi whose step is visible
        for p in trainer.model.advantage.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(2)) * 0.3)
    path = trainer.snapshot()
    agent = agents.load(str(path), body="bug", seed=0)
    assert isinstance(agent, NoRMLAgent) and agent.body == "bug"
    assert agent.window is None and agent.max_weight == 2.0 and agent.reward_scale == 0.01
    assert agent.gamma == 0.995
    theta = {k: v.clone() for k, v in agent.params.items()}
    rng = np.random.default_rng(0)
    obs_dim = agent.model.obs_dim
    for t in range(6):  # one round of two bouts
        agent.act(rng.normal(size=obs_dim).astype(np.float32))
        agent.observe(rng.normal(size=12), 200.0, rng.normal(size=obs_dim), t == 2, t == 5)
    assert agent.experience().rewards[0, 0] == 2.0  # scaled as in meta-training
    agent.adapt()
    assert any(not torch.equal(theta[k], v) for k, v in agent.params.items())
    assert agent.experience() is None  # the next adaptation uses the next round only
    agent.reset()
    assert all(torch.equal(theta[k], v) for k, v in agent.params.items())


def test_adapt_none_acts_with_theta_and_never_steps(tmp_path):
    trainer = SumoNoRMLTrainer(tiny(iterations=1), tmp_path / "run", tensorboard=False)
    trainer.run()
    with torch.no_grad():  # an offset and an A_psi that would both show
        for p in [*trainer.model.advantage.parameters(), *trainer.model.offset.values()]:
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(3)) * 0.3)
    path = str(trainer.snapshot())
    own = agents.load(path, body="bug", seed=0, deterministic=True)
    frozen = agents.load(path, body="bug", seed=0, adaptation="none", deterministic=True)
    assert frozen.name.endswith("[none]") and type(frozen).__name__ == "FrozenNoRMLAgent"
    rng = np.random.default_rng(1)
    probe = rng.normal(size=own.model.obs_dim).astype(np.float32)
    np.testing.assert_array_equal(frozen.act(probe), own.act(probe))  # theta, no offset
    for agent in (own, frozen):  # one round of two bouts, then the round boundary
        for t in range(6):
            agent.act(rng.normal(size=own.model.obs_dim).astype(np.float32))
            agent.observe(rng.normal(size=12), 200.0, rng.normal(size=own.model.obs_dim),
                          t == 2, t == 5)
        agent.adapt()
    before = frozen.act(probe)
    assert not np.allclose(own.act(probe), before)  # the own agent stepped, the frozen did not
    np.testing.assert_array_equal(before, agents.load(path, body="bug", adaptation="none",
                                                      deterministic=True).act(probe))


def test_the_agent_plays_a_robosumo_game_and_adapts_between_rounds(tmp_path, monkeypatch):
    from leagues.games import GameConfig, GameSpec, play_game
    from leagues.roster import AgentSpec, with_body

    trainer = SumoNoRMLTrainer(tiny(iterations=1), tmp_path / "run", tensorboard=False)
    trainer.run()
    shifts = []
    adapt = NoRMLAgent.adapt

    def recorded(self):
        before = {k: v.clone() for k, v in self.params.items()}
        adapt(self)
        shifts.append(sum(float((v - before[k]).abs().sum()) for k, v in self.params.items()))

    monkeypatch.setattr(NoRMLAgent, "adapt", recorded)
    spec = GameSpec(a=with_body(AgentSpec(str(trainer.lineage.path(1)))),
                    b=with_body(AgentSpec("zoo:selfplay-bug@4")),
                    config=GameConfig(rounds=3, episodes=1, max_steps=8), seed=0)
    result = play_game(spec)
    assert result.forfeit is None and len(result.rounds) == 3
    assert len(shifts) >= 2 and all(s > 0 for s in shifts)


def test_a_model_with_features_starts_as_the_ppo_policy_that_reads_them():
    import dataclasses

    from agents.norml.core import NoRMLModel
    from agents.norml.locomotion import default_model, init_from_ppo
    from agents.policy import load_policy

    policy, _ = load_policy(agents.resolve(OPPONENTS))
    assert policy.config.features == "sumo" and policy.input_dim > policy.obs_dim
    model = NoRMLModel(policy.obs_dim, policy.act_dim,
                       dataclasses.replace(default_model(), features="sumo"))
    init_from_ppo(model, OPPONENTS)
    assert model.input_dim == policy.input_dim
    obs = np.random.default_rng(0).normal(size=(7, policy.obs_dim)).astype(np.float32)
    mean, _ = model.distribution(model.theta(), model.normalize(obs))
    np.testing.assert_allclose(mean.detach().numpy(), policy.act(obs, deterministic=True).action,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"the policy reads features=.sumo.*must agree"):
        init_from_ppo(NoRMLModel(policy.obs_dim, policy.act_dim, default_model()), OPPONENTS)


def test_arena_train_norml_reads_the_features_of_the_policy_it_starts_from(tmp_path):
    from arena.cli import build_parser, main
    from arena.meta_cli import norml_config_from_args

    def features(init: str) -> str:
        args = build_parser().parse_args(["train", "norml", "--env", "RoboSumo-Bug-vs-Bug-v0",
                                          "--opponents", OPPONENTS, "--init-from", init])
        return norml_config_from_args(args).model.features

    assert (features(OPPONENTS), features(INIT), features("none")) == ("sumo", "raw", "raw")
    run = tmp_path / "run"
    assert main(["train", "norml", "--env", "RoboSumo-Bug-vs-Bug-v0", "--opponents", OPPONENTS,
                 "--init-from", OPPONENTS, "--iterations", "1", "--tasks", "1", "--rollouts",
                 "1", "--episode-steps", "10", "--run-dir", str(run), "--no-progress",
                 "--no-tensorboard"]) == 0
    agent = agents.load(run / "lineage" / "run" / "v0001.safetensors", seed=0)  # a Path works
    assert isinstance(agent, NoRMLAgent) and agent.model.config.features == "sumo"
    assert agent.act(np.zeros(agent.model.obs_dim, np.float32)).shape == (agent.model.act_dim,)


def test_arena_train_norml_runs_in_robosumo_and_resumes(tmp_path, capsys):
    from arena.cli import main

    argv = ["train", "norml", "--env", "RoboSumo-Bug-vs-Bug-v0", "--opponents", OPPONENTS,
            "--init-from", INIT, "--iterations", "1", "--tasks", "1", "--rollouts", "1",
            "--episode-steps", "10", "--run-dir", str(tmp_path / "run"), "--no-progress",
            "--no-tensorboard"]
    assert main(argv) == 0
    argv[argv.index("--iterations") + 1] = "2"
    assert main(argv) == 0
    assert "resuming" in capsys.readouterr().out
    agent = agents.load(str(tmp_path / "run" / "lineage" / "run" / "v0002.safetensors"))
    assert isinstance(agent, NoRMLAgent) and agent.body == "bug"


@pytest.mark.parametrize(("extra", "message"), [
    (["--env", "RoboSumo-Bug-vs-Bug-v0"], "needs --opponents"),
    (["--opponents", OPPONENTS], "applies to RoboSumo envs only"),
    (["--env", "NonstationaryLocomotion-Bug-v0", "--opponents", OPPONENTS],
     "applies to RoboSumo envs only"),
    (["--episode-steps", "10"], "applies to RoboSumo envs only"),
    (["--reward-scale", "0.1"], "applies to RoboSumo envs only"),
    (["--env", "Hopper-v5"], "PointRotation-v0, NonstationaryLocomotion"),
    (["--env", "RoboSumo-Bug-vs-Bug-v0", "--opponents", OPPONENTS, "--sparse"],
     "--sparse is a point-agent option"),
    (["--env", "RoboSumo-Bug-vs-Bug-v0", "--opponents", OPPONENTS, "--tasks", "0"],
     "meta_batch must be an integer >= 1"),
    (["--env", "RoboSumo-Bug-vs-Ant-v0", "--opponents", OPPONENTS],
     "needs opponents controlling a ant"),
    (["--env", "RoboSumo-Ant-vs-Bug-v0", "--opponents", OPPONENTS, "--init-from", INIT],
     "controls a bug"),
])
def test_arena_train_norml_refuses_bad_combinations(tmp_path, extra, message):
    from arena.cli import main

    with pytest.raises(SystemExit, match=message):
        main(["train", "norml", "--run-dir", str(tmp_path / "run"), *extra])
