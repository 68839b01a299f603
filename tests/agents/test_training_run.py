"""The one training-run template (agents.run) as every trainer uses it: env seeds that never
repeat within a run (across phases, iterations and resumes), and a stop while a row is written
that loses no row (the row goes before the resume point)."""

from __future__ import annotations

import dataclasses

import pytest

from agents.logger import MetricsLogger, read_metrics
from agents.maml import AdaptConfig
from agents.maml.sumo import SumoMetaConfig, SumoMetaTrainer
from agents.maml.train import MetaConfig, MetaTrainer
from agents.norml.locomotion import LocomotionMetaConfig, LocomotionMetaTrainer, default_model
from agents.norml.sumo import SumoNoRMLConfig, SumoNoRMLTrainer
from agents.norml.train import MetaTrainConfig
from agents.norml.train import MetaTrainer as PointNoRMLTrainer
from agents.policy import PolicyConfig
from agents.ppo import PPOConfig
from agents.ppo.train import TrainConfig, Trainer
from agents.rl2.train import RL2TrainConfig, RL2Trainer
from agents.run import SEED_SPREAD, TrainingRun, env_seed, one_off_env_seed
from envs.nonstationary_locomotion import LocomotionVectorEnv
from envs.robosumo import SumoVectorEnv

ZOO_BUG = "zoo:selfplay-bug"
SMALL_NORML = dataclasses.replace(default_model(), hidden=8, adv_hidden=8)
SMALL_PPO = PPOConfig(epochs=1, minibatches=2)

# Every trainer with a run of three iterations, as small as it goes.
TRAINERS = {
    "ppo-locomotion": (Trainer, TrainConfig(
        env="NonstationaryLocomotion-Bug-v0", total_steps=3 * 2 * 16, num_envs=2, rollout=16,
        nthread=1, ppo=SMALL_PPO, policy=PolicyConfig(hidden=8))),
    "ppo-robosumo-pool": (Trainer, TrainConfig(
        env="RoboSumo-Ant-vs-Ant-v0", total_steps=3 * 2 * 16, num_envs=2, rollout=16,
        opponent="pool", nthread=1, ppo=SMALL_PPO, policy=PolicyConfig(hidden=8))),
    "rl2-locomotion": (RL2Trainer, RL2TrainConfig(
        num_envs=3, episodes=3, episode_steps=10, total_steps=3 * 90, snapshot_every=1,
        ppo=PPOConfig(epochs=1, minibatches=3))),
    "rl2-robosumo": (RL2Trainer, RL2TrainConfig(
        env="RoboSumo-Bug-vs-Bug-v0", opponents=ZOO_BUG, num_envs=2, rollout=10, episodes=2,
        total_steps=3 * 20, nthread=1, ppo=PPOConfig(epochs=1, minibatches=1, bptt=10))),
    "maml-locomotion": (MetaTrainer, MetaConfig(
        iterations=3, meta_batch=2, episodes=1, epochs=1, seed=3,
        adapt=AdaptConfig(steps=1, step_size=0.01), policy=PolicyConfig(hidden=8))),
    "maml-robosumo": (SumoMetaTrainer, SumoMetaConfig(
        env="RoboSumo-Bug-vs-Bug-v0", opponents=ZOO_BUG, iterations=3, meta_batch=2,
        episodes=2, episode_steps=25, epochs=1, init_from=ZOO_BUG, snapshot_every=1,
        adapt=AdaptConfig(steps=1, gamma=0.995))),
    "norml-point": (PointNoRMLTrainer, MetaTrainConfig(iterations=3, tasks=2, rollouts=2)),
    "norml-locomotion": (LocomotionMetaTrainer, LocomotionMetaConfig(
        iterations=3, meta_batch=2, episodes=1, snapshot_every=1, model=SMALL_NORML)),
    "norml-locomotion-execution-data": (LocomotionMetaTrainer, LocomotionMetaConfig(
        iterations=3, meta_batch=2, episodes=1, snapshot_every=1, model=SMALL_NORML,
        execution_data=True)),
    "norml-locomotion-first-step": (LocomotionMetaTrainer, LocomotionMetaConfig(
        iterations=3, meta_batch=2, episodes=1, snapshot_every=1, model=SMALL_NORML,
        execution_data=True, first_step=True, outer_epochs=2)),
    "norml-robosumo": (SumoNoRMLTrainer, SumoNoRMLConfig(
        env="RoboSumo-Bug-vs-Bug-v0", opponents=ZOO_BUG, iterations=3, meta_batch=2,
        episodes=2, episode_steps=25, init_from=ZOO_BUG + "@123", snapshot_every=1)),
}
SEEDED = [name for name in TRAINERS if name != "norml-point"]  # the point env is not seeded


def test_env_seed_spaces_the_resets_of_a_run_and_the_runs_of_other_seeds():
    for envs in (1, 7, 24):
        starts = [env_seed(seed, reset, envs) + i for seed in (0, 1, 2) for reset in range(300)
                  for i in range(envs)]
        starts += [one_off_env_seed(seed, envs) + i for seed in (0, 1, 2) for i in range(envs)]
        assert len(set(starts)) == len(starts)
        assert min(starts) >= 0
    assert env_seed(1, 0, 4) - env_seed(0, 0, 4) == SEED_SPREAD
    with pytest.raises(ValueError, match="reset >= 0"):
        env_seed(0, -1, 4)
    with pytest.raises(ValueError, match="leaves the run's seed range"):
        env_seed(0, SEED_SPREAD // 4, 4)


@pytest.mark.parametrize("name", SEEDED)
def test_no_two_arenas_of_a_run_start_alike_across_phases_iterations_and_resumes(
        name, tmp_path, monkeypatch):
    resets: list[tuple[int, int]] = []
    for cls in (LocomotionVectorEnv, SumoVectorEnv):
        original = cls.reset

        def recording(self, *args, _original=original, **kwargs):
            seed = kwargs.get("seed", args[0] if args else None)
            assert seed is not None, "every reset of a training run is seeded"
            resets.append((int(seed), self.num_envs))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "reset", recording)
    trainer_cls, config = TRAINERS[name]
    first = trainer_cls(config, tmp_path / "run", tensorboard=False)
    first.iterate()
    first.iterate()
    first.logger.close()
    resumed = trainer_cls(config, tmp_path / "run", tensorboard=False)  # the resume resets too
    assert resumed.iteration == 2
    resumed.iterate()
    resumed.logger.close()
    starts = [seed + i for seed, n in resets for i in range(n)]
    assert len(resets) >= 2
    repeated = sorted({s for s in starts if starts.count(s) > 1})
    assert not repeated, f"arena starts used twice: {repeated[:5]}"


@pytest.mark.parametrize("name", list(TRAINERS))
def test_a_stop_while_a_row_is_written_loses_no_row_and_counts_none_twice(
        name, tmp_path, monkeypatch):
    log = MetricsLogger.log

    def stop_at_second_row(self, row):
        if row["iteration"] == 2:
            raise KeyboardInterrupt
        log(self, row)

    trainer_cls, config = TRAINERS[name]
    monkeypatch.setattr(MetricsLogger, "log", stop_at_second_row)
    trainer = trainer_cls(config, tmp_path / "run", tensorboard=False)
    with pytest.raises(KeyboardInterrupt):
        trainer.run(progress=False)
    monkeypatch.setattr(MetricsLogger, "log", log)
    resumed = trainer_cls(config, tmp_path / "run", tensorboard=False)
    assert resumed.iteration == 1  # the state of iteration 2 was never written
    resumed.run(progress=False)
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    steps = [r["env_steps"] for r in rows]
    assert steps == sorted(steps) and steps[0] > 0
    assert all(issubclass(cls, TrainingRun) for cls, _ in TRAINERS.values())


def test_a_run_resumes_after_its_config_class_gained_fields_that_hold_their_defaults(tmp_path):
    import json

    trainer_cls, config = TRAINERS["maml-locomotion"]
    trainer_cls(config, tmp_path / "run", tensorboard=False).iterate()
    path = tmp_path / "run" / "config.json"
    stored = json.loads(path.read_text())
    del stored["adapt"]["value_step"], stored["grad_clip"]  # as written before they existed
    path.write_text(json.dumps(stored))
    assert trainer_cls(config, tmp_path / "run", tensorboard=False).iteration == 1
    path.write_text(json.dumps(stored))
    changed = dataclasses.replace(config, adapt=dataclasses.replace(config.adapt,
                                                                    value_step="none"))
    with pytest.raises(ValueError, match="differs in adapt"):
        trainer_cls(changed, tmp_path / "run", tensorboard=False)
