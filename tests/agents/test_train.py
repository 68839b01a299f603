"""Training runs: deterministic for a seed, resumable without lost or repeated iterations, refusing
foreign run directories; RoboSumo runs keep a lineage with one loadable snapshot per iteration."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

import agents
from agents.base import PolicyAgent
from agents.lineage import Lineage
from agents.logger import MetricsLogger, read_metrics
from agents.policy import PolicyConfig, load_policy
from agents.ppo import PPOConfig
from agents.ppo.train import TrainConfig, Trainer, train
from agents.scripted import IdlePolicy, RandomPolicy

TIMING = ("steps_per_s", "iteration_s")  # wall-clock columns: the only ones allowed to differ
TOY = TrainConfig(env="ToyPoint-v0", total_steps=4 * 16 * 4, num_envs=4, rollout=16, seed=3,
                  ppo=PPOConfig(epochs=2, minibatches=2))  # 4 iterations of 64 steps
SUMO = TrainConfig(env="RoboSumo-Ant-vs-Ant-v0", total_steps=4 * 4 * 16, num_envs=4, rollout=16,
                   opponent="pool", shaping_anneal=0.5, reward_scale=0.01, nthread=1,
                   ppo=PPOConfig(epochs=2, minibatches=2))


def run(config: TrainConfig, run_dir, **kwargs) -> tuple[Trainer, list[dict]]:
    rows: list[dict] = []
    trainer = Trainer(config, run_dir, tensorboard=False, **kwargs)
    trainer.run(progress=False, callback=rows.append)
    return trainer, rows


def without_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def test_same_config_and_seed_give_identical_runs(tmp_path):
    a, rows_a = run(TOY, tmp_path / "a")
    b, rows_b = run(TOY, tmp_path / "b")
    assert len(rows_a) == 4
    assert without_timing(rows_a) == without_timing(rows_b)
    assert without_timing(read_metrics(tmp_path / "a" / "metrics.csv")) == without_timing(
        read_metrics(tmp_path / "b" / "metrics.csv"))
    for key, value in a.policy.state_dict().items():
        assert torch.equal(value, b.policy.state_dict()[key]), key
    _, rows_c = run(dataclasses.replace(TOY, seed=4), tmp_path / "c")
    assert without_timing(rows_c) != without_timing(rows_a)


def test_run_directory_layout(tmp_path):
    trainer, rows = run(TOY, tmp_path / "toy")
    d = tmp_path / "toy"
    assert TrainConfig.from_dict(json.loads((d / "config.json").read_text())) == TOY
    assert (d / "state.safetensors").is_file() and not (d / "tb").exists()
    # outside RoboSumo a snapshot every SNAPSHOT_EVERY_OTHER iterations and the last one
    assert Lineage(d / "lineage", "toy").versions() == [4]
    metrics = read_metrics(d / "metrics.csv")
    assert [m["iteration"] for m in metrics] == [1, 2, 3, 4]
    assert [m["env_steps"] for m in metrics] == [64, 128, 192, 256]
    assert trainer.iteration == 4 and trainer.env_steps == 256
    for row, stored in zip(rows, metrics, strict=True):
        assert stored["total"] == pytest.approx(row["total"], rel=1e-12)


def test_snapshots_every_n_iterations_and_the_last(tmp_path):
    run(dataclasses.replace(TOY, total_steps=5 * 64, snapshot_every=2),
                     tmp_path / "every2")
    assert Lineage(tmp_path / "every2" / "lineage", "every2").versions() == [2, 4, 5]
    assert dataclasses.replace(TOY).snapshot_interval == 50
    assert dataclasses.replace(SUMO).snapshot_interval == 1  # RoboSumo lineages: every one
    with pytest.raises(ValueError, match="snapshot_every must be >= 1 or None"):
        dataclasses.replace(TOY, snapshot_every=0)


def _event_tags(path) -> set[str]:
    """The scalar tags of a TensorBoard event file (TFRecord framing, Event protos)."""
    import struct

    from tensorboardX.proto import event_pb2

    data, tags, pos = path.read_bytes(), set(), 0
    while pos < len(data):
        (length,) = struct.unpack("<Q", data[pos:pos + 8])
        event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
        tags |= {v.tag for v in event.summary.value}
        pos += 12 + length + 4
    return tags


def test_train_writes_tensorboard_events_in_groups(tmp_path):
    train(dataclasses.replace(TOY, total_steps=64), tmp_path / "tb", progress=False)
    files = list((tmp_path / "tb" / "tb").glob("events.out.tfevents.*"))
    assert len(files) == 1
    tags = _event_tags(files[0])
    assert {"rollout/episodes", "train/policy", "train/value", "train/approx_kl",
            "time/steps_per_s"} <= tags
    assert all(t.split("/")[0] in ("rollout", "train", "time") for t in tags), tags


def test_resume_continues_at_the_next_iteration(tmp_path):
    d = tmp_path / "run"
    first = Trainer(TOY, d, tensorboard=False)
    for _ in range(2):  # stopped after two iterations
        first.iterate()
    first.logger.close()

    resumed = Trainer(TOY, d, tensorboard=False)
    assert (resumed.iteration, resumed.env_steps) == (2, 128)
    # everything learned and all random-number states come back
    for key, value in first.policy.state_dict().items():
        assert torch.equal(value, resumed.policy.state_dict()[key]), key
    saved, loaded = first.ppo.optimizer.state_dict(), resumed.ppo.optimizer.state_dict()
    for idx, state in saved["state"].items():
        for key, value in state.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(loaded["state"][idx][key]))
    assert torch.equal(first.generator.get_state(), resumed.generator.get_state())
    assert first.rng.bit_generator.state == resumed.rng.bit_generator.state

    rows: list[dict] = []
    resumed.run(progress=False, callback=rows.append)
    assert [r["iteration"] for r in rows] == [3, 4]
    # extended budget: a third Trainer continues again from iteration 4
    longer = dataclasses.replace(TOY, total_steps=6 * 64)
    _, more = run(longer, d)
    assert [r["iteration"] for r in more] == [5, 6]
    metrics = read_metrics(d / "metrics.csv")
    assert [m["iteration"] for m in metrics] == [1, 2, 3, 4, 5, 6]
    assert [m["env_steps"] for m in metrics] == [64 * k for k in range(1, 7)]
    assert Lineage(d / "lineage", "run").versions() == [4, 6]  # the last of each budget


def test_resume_drops_metrics_rows_that_were_not_checkpointed(tmp_path):
    d = tmp_path / "run"
    run(dataclasses.replace(TOY, total_steps=2 * 64), d)
    logger = MetricsLogger(d, tensorboard=False)  # a row logged after the last checkpoint
    logger.log({"iteration": 3, "env_steps": 192})
    _, rows = run(TOY, d)
    assert [r["iteration"] for r in rows] == [3, 4]
    assert [m["iteration"] for m in read_metrics(d / "metrics.csv")] == [1, 2, 3, 4]


def test_a_run_stopped_while_logging_loses_no_row(tmp_path, monkeypatch):
    d = tmp_path / "run"
    log = MetricsLogger.log

    def stop_at_second_row(self, row):
        if row["iteration"] == 2:
            raise KeyboardInterrupt
        log(self, row)

    monkeypatch.setattr(MetricsLogger, "log", stop_at_second_row)
    with pytest.raises(KeyboardInterrupt):
        run(TOY, d)
    monkeypatch.setattr(MetricsLogger, "log", log)
    run(TOY, d)
    assert [m["iteration"] for m in read_metrics(d / "metrics.csv")] == [1, 2, 3, 4]


def test_metrics_csv_keeps_returns_that_first_appear_later(tmp_path):
    config = dataclasses.replace(TOY, rollout=8, total_steps=4 * 8 * 4)  # 20-step episodes
    _, rows = run(config, tmp_path / "run")
    assert "return_mean" not in rows[0] and "return_mean" in rows[2]
    stored = read_metrics(tmp_path / "run" / "metrics.csv")
    assert stored[2]["return_mean"] == pytest.approx(rows[2]["return_mean"])


def test_resume_with_another_config_is_refused(tmp_path):
    d = tmp_path / "run"
    short = dataclasses.replace(TOY, total_steps=64)
    run(short, d)
    other_lr = dataclasses.replace(TOY, ppo=dataclasses.replace(TOY.ppo, lr=1e-3))
    with pytest.raises(ValueError, match=r"another config \(differs in ppo\)"):
        Trainer(other_lr, d, tensorboard=False)
    with pytest.raises(ValueError, match=r"differs in num_envs, rollout\)"):
        Trainer(dataclasses.replace(TOY, num_envs=2, rollout=32), d, tensorboard=False)
    # the refused attempts left the run as it was
    assert TrainConfig.from_dict(json.loads((d / "config.json").read_text())) == short
    assert Trainer(TOY, d, tensorboard=False).iteration == 1  # a longer budget is allowed


def test_a_fresh_run_refuses_a_directory_that_holds_one(tmp_path):
    d = tmp_path / "run"
    run(dataclasses.replace(TOY, total_steps=64), d)
    with pytest.raises(ValueError, match="already holds a run"):
        Trainer(TOY, d, resume=False, tensorboard=False)
    with pytest.raises(ValueError, match="already holds a run"):
        train(TOY, d, resume=False, progress=False, tensorboard=False)


@pytest.mark.parametrize("changes, message", [
    ({"opponent": "league"}, "opponent must be one of"),
    ({"num_envs": 0}, "num_envs must be >= 1"),
    ({"reward_scale": 0.0}, "reward_scale must be positive"),
    ({"shaping_anneal": 1.5}, r"shaping_anneal must be in \[0, 1\]"),
    ({"rollout": 15, "policy": PolicyConfig(arch="lstm")}, "multiple of bptt"),
    ({"observe_damage": True}, "observe_damage applies to NonstationaryLocomotion envs only"),
    ({"lateral_cost": 1.0}, "lateral_cost applies to NonstationaryLocomotion envs only"),
    ({"lateral_cost": -1.0}, "lateral_cost must be a finite number >= 0"),
    ({"lateral_cost": True}, "lateral_cost must be a finite number >= 0"),
    ({"policy": PolicyConfig(features="sumo")}, "is for RoboSumo envs only"),
])
def test_train_config_refuses_invalid_settings(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TOY, **changes)


def test_a_noise_floor_holds_from_the_first_rollout_and_is_inert_below_the_noise(tmp_path):
    low = dataclasses.replace(TOY, policy=PolicyConfig(init_log_std=-3.0))
    floored = dataclasses.replace(low, ppo=dataclasses.replace(low.ppo, log_std_min=-1.5))
    seen: list[torch.Tensor] = []
    trainer = Trainer(floored, tmp_path / "floor", tensorboard=False)
    trainer.start()
    assert torch.all(trainer.policy.net.log_std == -1.5)  # before any update: a continued run
    trainer = Trainer(floored, tmp_path / "floor2", tensorboard=False)
    trainer.run(progress=False, callback=lambda row: seen.append(
        trainer.policy.net.log_std.detach().clone()))
    assert len(seen) == 4 and all(bool(torch.all(ls >= -1.5)) for ls in seen)
    # every update projects: noise pushed under the floor mid-run is back on it after one
    with torch.no_grad():
        trainer.policy.net.log_std.fill_(-5.0)
    trainer.config = dataclasses.replace(trainer.config, total_steps=5 * 64)
    trainer.iterate()
    assert torch.all(trainer.policy.net.log_std >= -1.5)
    # a floor under the noise changes nothing: the same run as without one
    _, rows_none = run(TOY, tmp_path / "none")
    inert = dataclasses.replace(TOY, ppo=dataclasses.replace(TOY.ppo, log_std_min=-20.0))
    _, rows_inert = run(inert, tmp_path / "inert")
    assert without_timing(rows_inert) == without_timing(rows_none)
    with pytest.raises(ValueError, match="log_std_min"):
        PPOConfig(log_std_min=float("nan"))


def test_train_config_round_trips_through_json():
    config = dataclasses.replace(SUMO, policy=PolicyConfig(arch="lstm", hidden=32),
                                 ppo=PPOConfig(bptt=8, value_clip=0.2))
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert (config.is_sumo, config.body, config.kind) == (True, "ant", "ppo-lstm")
    assert (TOY.is_sumo, TOY.body, TOY.kind) == (False, None, "ppo-mlp")


def test_robosumo_pool_run_keeps_a_lineage_and_anneals_shaping(tmp_path):
    d = tmp_path / "sumo"
    trainer, rows = run(SUMO, d)
    lineage = Lineage(d / "lineage", "sumo")
    assert lineage.versions() == [1, 2, 3, 4]  # one snapshot per iteration
    obs = np.random.default_rng(0).normal(size=120)
    for version in lineage.versions():
        agent = agents.load(str(lineage.path(version)), seed=0)
        assert isinstance(agent, PolicyAgent)
        assert (agent.body, agent.meta.lineage, agent.meta.version) == ("ant", "sumo", version)
        assert agent.meta.extra["iteration"] == version
        assert agent.meta.config["train"] == json.loads(json.dumps(SUMO.to_dict()))
        action = agent.act(obs)
        assert action.shape == (8,) and np.isfinite(action).all()
    # the latest snapshot is the trained policy
    latest, _ = load_policy(lineage.path(4))
    for key, value in trainer.policy.state_dict().items():
        assert torch.equal(value, latest.state_dict()[key]), key
    # shaping falls linearly from 1 to 0 over the first half of the run
    assert [r["shaping_weight"] for r in rows] == [1.0, 0.5, 0.0, 0.0]
    stored = read_metrics(d / "metrics.csv")
    assert [m["shaping_weight"] for m in stored] == [1.0, 0.5, 0.0, 0.0]
    assert trainer.envs.weights.shaping == 0.0
    # pool opponents are frozen snapshots, never the learner itself
    assert len(trainer.sampler.opponents) == 4
    assert all(o is not trainer.policy for o in trainer.sampler.opponents)


def test_robosumo_self_play_run_resumes_its_lineage(tmp_path):
    d = tmp_path / "self"
    config = dataclasses.replace(SUMO, opponent="self", shaping_anneal=1.0, total_steps=2 * 64)
    _, rows = run(config, d)
    assert [r["shaping_weight"] for r in rows] == [1.0, 0.5]
    longer = dataclasses.replace(config, total_steps=3 * 64)
    _, rows = run(longer, d)
    assert [r["iteration"] for r in rows] == [3]
    # the anneal follows the extended budget: 128 of 192 steps done
    assert rows[0]["shaping_weight"] == pytest.approx(1 - 128 / 192)
    assert Lineage(d / "lineage", "self").versions() == [1, 2, 3]


def test_lineage_opponents_fine_tune_a_checkpoint_against_drawn_versions(tmp_path):
    config = TrainConfig(env="RoboSumo-Bug-vs-Bug-v0", total_steps=2 * 2 * 16, num_envs=2,
                         rollout=16, opponent="lineage", opponents="zoo:selfplay-bug",
                         init_from="zoo:selfplay-bug", reward_scale=0.01, nthread=1, seed=1,
                         ppo=PPOConfig(epochs=1, minibatches=2))
    trainer = Trainer(config, tmp_path / "run", tensorboard=False)
    start, _ = load_policy(agents.resolve("zoo:selfplay-bug"))
    for k, v in start.state_dict().items():
        assert torch.equal(v, trainer.policy.state_dict()[k]), k
    versions = set(Lineage(agents.ZOO_DIR, "selfplay-bug").versions())
    drawn = set()
    for _ in range(2):
        trainer.iterate()
        drawn |= {key[1] for key in trainer._opponents}
    assert drawn <= versions and len(drawn) >= 2  # frozen versions of the lineage
    assert not torch.equal(start.state_dict()["net.pi.0.weight"],
                           trainer.policy.state_dict()["net.pi.0.weight"])


def test_pool_mixes_in_idle_and_random_robots_and_reports_them(tmp_path):
    config = dataclasses.replace(SUMO, num_envs=8, total_steps=3 * 8 * 16, idle_fraction=0.3,
                                 random_fraction=0.3, shaping_anneal=0.0)
    trainer = Trainer(config, tmp_path / "mix", tensorboard=False)
    kinds = []
    for _ in range(3):
        trainer.iterate()
        labels = trainer.sampler.labels  # the opponents of the iteration just played
        kinds += labels
        for opponent, label in zip(trainer.sampler.opponents, labels, strict=True):
            assert label == {IdlePolicy: "idle", RandomPolicy: "random"}.get(type(opponent),
                                                                             "pool")
            if label == "pool":
                assert opponent is not trainer.policy
    assert {"idle", "random", "pool"} <= set(kinds)
    # about 30 / 30 / 40 % of 24 draws
    assert 2 <= kinds.count("idle") <= 14 and 2 <= kinds.count("random") <= 14


def test_self_play_arenas_learn_from_both_sides_beside_the_pool(tmp_path):
    config = dataclasses.replace(SUMO, num_envs=4, self_play_arenas=2, idle_fraction=0.5,
                                 shaping_anneal=0.0, total_steps=2 * 4 * 16)
    trainer = Trainer(config, tmp_path / "mixed", tensorboard=False)
    assert trainer.sampler.n == 6  # 4 learner seats as player_0, 2 more as player_1
    for _ in range(2):
        row = trainer.iterate()
        labels = trainer.sampler.labels
        assert labels[:2] == ["self", "self"] and set(labels[2:]) <= {"idle", "pool"}
        assert row["env_steps"] == trainer.iteration * 4 * 16  # arena steps, not samples
    # resuming rebuilds the same arenas
    again = Trainer(dataclasses.replace(config, total_steps=3 * 4 * 16), tmp_path / "mixed",
                    tensorboard=False)
    assert again.iteration == 2 and again.sampler.labels[:2] == ["self", "self"]


def test_pool_window_draws_from_the_recent_versions(tmp_path):
    config = dataclasses.replace(SUMO, total_steps=8 * 64, pool_window=0.5, shaping_anneal=0.0)
    trainer = Trainer(config, tmp_path / "window", tensorboard=False)
    for _ in range(6):
        trainer.iterate()
    drawn = [trainer._pool_opponents() for _ in range(20)]
    versions = {v for (_, v) in trainer._opponents}
    assert min(v for (_, v) in list(trainer._opponents)[-4:]) >= 3  # ceil(0.5 * 6) = 3
    assert all(o is not trainer.policy for batch in drawn for o in batch)
    assert versions >= {3, 4, 5, 6}


def test_a_run_without_scripted_robots_draws_as_before(tmp_path):
    # the new fields at 0 leave the random stream untouched: the old runs resume identically
    _, plain = run(SUMO, tmp_path / "a")
    _, zeros = run(dataclasses.replace(SUMO, idle_fraction=0.0, random_fraction=0.0),
                   tmp_path / "b")
    assert without_timing(plain) == without_timing(zeros)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"opponent": "pool", "idle_fraction": 1.5}, r"idle_fraction must be in \[0, 1\]"),
    ({"opponent": "pool", "idle_fraction": 0.6, "random_fraction": 0.6}, "must be <= 1"),
    ({"idle_fraction": 0.1}, "apply to opponent='pool' or 'lineage'"),
    ({"opponent": "pool", "pool_window": -0.1}, r"pool_window must be in \[0, 1\]"),
    ({"pool_window": 0.5}, "applies to opponent='pool' only"),
    ({"opponent": "pool", "self_play_arenas": 17}, r"self_play_arenas must be an integer in "
                                                   r"\[0, num_envs \(16\)\]"),
    ({"self_play_arenas": 2}, "opponent='self' makes every arena a self-play arena"),
    ({"opponent": "lineage"}, "go together"),
    ({"opponents": "zoo:selfplay-bug"}, "go together"),
    ({"env": "ToyPoint-v0", "opponent": "pool"}, "applies to RoboSumo envs only"),
])
def test_opponent_settings_are_checked(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{"env": "RoboSumo-Bug-vs-Bug-v0", **overrides})


def test_robosumo_runs_take_their_shaping_weights_and_anneal_them(tmp_path):
    config = dataclasses.replace(SUMO, reward_weights={"move_to_opponent": 1.0, "attack": 0.5},
                                 total_steps=2 * 4 * 16)
    trainer, rows = run(config, tmp_path / "run")
    weights = trainer.envs.weights
    assert (weights.move_to_opponent, weights.attack, weights.push_out) == (1.0, 0.5, 10.0)
    assert weights.shaping == rows[-1]["shaping_weight"] < 1.0  # annealed, the terms kept
    with pytest.raises(ValueError, match=r"unknown reward_weights \['push'\]"):
        dataclasses.replace(SUMO, reward_weights={"push": 1.0})
    with pytest.raises(ValueError, match="RoboSumo envs only"):
        TrainConfig(env="ToyPoint-v0", reward_weights={"attack": 1.0})


def test_a_locomotion_run_can_train_on_one_fixed_damage(tmp_path):
    from envs.nonstationary_locomotion import LegDamage

    config = TrainConfig(env="NonstationaryLocomotion-Bug-v0", total_steps=2 * 2 * 100,
                         num_envs=2, rollout=100, damage="1-2@0.25", nthread=1,
                         ppo=PPOConfig(epochs=1, minibatches=2))
    trainer, rows = run(config, tmp_path / "run")
    assert trainer.envs.damages == [LegDamage((1, 2), 0.25)] * 2
    assert len(rows) == 2
    for bad, message in (("1-2", "'A-B@S'"), ("1-1@0", "distinct"), ("1-2@2", r"\[0, 1\]")):
        with pytest.raises(ValueError, match=message):
            dataclasses.replace(config, damage=bad)
    with pytest.raises(ValueError, match="applies to NonstationaryLocomotion"):
        dataclasses.replace(SUMO, damage="1-2@0")


def test_a_lateral_cost_reaches_the_run_envs_and_their_rewards():
    from agents.ppo.train import make_envs

    config = TrainConfig(env="NonstationaryLocomotion-Bug-v0", num_envs=2, nthread=1,
                         lateral_cost=0.7)
    envs = make_envs(config)
    assert envs.lateral_cost_weight == 0.7
    envs.reset(seed=0)
    _, reward, _, _, info = envs.step(np.random.default_rng(0).uniform(-1, 1, (2, 12)))
    np.testing.assert_allclose(info["reward_lateral"], -0.7 * np.abs(info["y_velocity"]))
    np.testing.assert_allclose(reward, info["reward_forward"] + info["reward_ctrl"]
                               + info["reward_lateral"])
    assert make_envs(dataclasses.replace(config, lateral_cost=0.0)).lateral_cost_weight == 0.0


def test_an_informed_run_sees_each_episodes_damage_from_its_first_step(tmp_path):
    config = TrainConfig(env="NonstationaryLocomotion-Bug-v0", total_steps=2 * 4 * 100,
                         num_envs=4, rollout=100, seed=1, damage="train", observe_damage=True,
                         nthread=1, ppo=PPOConfig(epochs=1, minibatches=2))
    trainer = Trainer(config, tmp_path / "informed", tensorboard=False)
    seen = []
    collect = trainer.sampler.collect

    def recording_collect():  # what the policy is shown at the first step of the rollout
        seen.append((trainer.sampler.obs[:, -12:].copy(),
                     np.array([trainer.envs.observe()[i, -12:] for i in range(4)])))
        return collect()

    trainer.sampler.collect = recording_collect
    for _ in range(2):
        trainer.iterate()
    for shown, damage in seen:
        np.testing.assert_array_equal(shown, damage)
    assert (seen[0][1] < 1).any() and (seen[1][1] < 1).any()  # damages were drawn
