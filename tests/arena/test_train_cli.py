"""``arena train ppo``: a resumable training run from the command line, and clear errors."""

from __future__ import annotations

import json

import pytest

from agents.lineage import Lineage
from agents.logger import read_metrics
from arena.cli import main

TINY = ["--num-envs", "8", "--rollout", "32", "--no-progress", "--no-tensorboard",
        "--epochs", "2", "--minibatches", "2"]


def train(run_dir, *args: str) -> int:
    return main(["train", "ppo", "--run-dir", str(run_dir), *args])


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "ppo", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--env", "--total-steps", "--run-dir", "--opponent", "--shaping-anneal"):
        assert option in out


def test_train_then_resume(tmp_path, capsys):
    d = tmp_path / "toy"
    assert train(d, "--env", "ToyPoint-v0", "--total-steps", "2048", *TINY) == 0
    out = capsys.readouterr().out
    assert "resuming" not in out and "8 iterations" in out
    assert (d / "state.safetensors").is_file()
    assert [m["iteration"] for m in read_metrics(d / "metrics.csv")] == list(range(1, 9))
    assert Lineage(d / "lineage", "toy").versions() == [8]  # outside RoboSumo: every 50, last
    config = json.loads((d / "config.json").read_text())
    assert (config["env"], config["num_envs"], config["rollout"]) == ("ToyPoint-v0", 8, 32)
    assert (config["ppo"]["epochs"], config["ppo"]["gamma"], config["reward_scale"]) == (2, 0.99,
                                                                                          1.0)

    assert train(d, "--env", "ToyPoint-v0", "--total-steps", "3072", *TINY) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "at iteration 8" in out and "12 iterations" in out
    assert [m["iteration"] for m in read_metrics(d / "metrics.csv")] == list(range(1, 13))
    assert Lineage(d / "lineage", "toy").versions() == [8, 12]


def test_robosumo_defaults(tmp_path):
    d = tmp_path / "sumo"
    assert train(d, "--env", "RoboSumo-Bug-vs-Bug-v0", "--total-steps", "64", "--num-envs",
                 "2", "--rollout", "32", "--nthread", "1", "--no-progress", "--no-tensorboard",
                 "--epochs", "1", "--minibatches", "1") == 0
    config = json.loads((d / "config.json").read_text())
    assert (config["ppo"]["gamma"], config["reward_scale"]) == (0.995, 0.01)
    assert Lineage(d / "lineage", "sumo").versions() == [1]


def test_unknown_env_exits_with_code_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        train(tmp_path / "x", "--env", "NoSuchEnv-v9", *TINY)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "arena train: error: unknown env 'NoSuchEnv-v9'" in err
    assert "Traceback" not in err


def test_another_config_in_the_same_directory_exits_with_code_2(tmp_path, capsys):
    d = tmp_path / "toy"
    assert train(d, "--env", "ToyPoint-v0", "--total-steps", "256", *TINY) == 0
    with pytest.raises(SystemExit) as exc:
        train(d, "--env", "ToyPoint-v0", "--total-steps", "512", "--lr", "0.001", *TINY)
    assert exc.value.code == 2
    assert "another config (differs in ppo)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        train(d, "--env", "ToyPoint-v0", "--total-steps", "512", "--fresh", *TINY)
    assert exc.value.code == 2
    assert "already holds a run" in capsys.readouterr().err


def test_a_failed_start_does_not_block_the_directory(tmp_path, capsys):
    d = tmp_path / "run"
    with pytest.raises(SystemExit):
        train(d, "--env", "ToyPiont-v0", "--total-steps", "256", *TINY)
    assert train(d, "--env", "ToyPoint-v0", "--total-steps", "256", *TINY) == 0


def test_discrete_action_env_is_refused_clearly(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        train(tmp_path / "cartpole", "--env", "CartPole-v1", "--total-steps", "256", *TINY)
    assert exc.value.code == 2
    assert "CartPole-v1" in capsys.readouterr().err


def _train_parsers():
    import argparse

    from arena.cli import build_parser

    def sub(parser):
        return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))

    return sub(sub(build_parser()).choices["train"]).choices


@pytest.mark.parametrize("algorithm", ["ppo", "maml", "rl2", "norml"])
def test_train_help_shows_every_default(algorithm):
    import argparse

    parser = _train_parsers()[algorithm]
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        default = action.default
        if any(default is v for v in (None, False, argparse.SUPPRESS)):
            # per-env defaults say so in the help, from the configs
            assert action.help, f"{action.option_strings[0]} has no help"
            continue
        shown = " ".join(parser._get_formatter()._format_action(action).split())
        assert f"default: {default}" in shown or f"default {default}" in shown, shown


def test_train_flags_left_out_take_the_configs_defaults():
    from agents.maml.sumo import SumoMetaConfig
    from agents.maml.train import MetaConfig
    from agents.norml.locomotion import LocomotionMetaConfig
    from agents.norml.sumo import SumoNoRMLConfig
    from agents.norml.train import MetaTrainConfig
    from arena.cli import build_parser
    from arena.meta_cli import norml_config_from_args

    parse = build_parser().parse_args
    for argv, cls in ((["--env", "RoboSumo-Bug-vs-Bug-v0", "--opponents", "zoo:selfplay-bug"],
                       SumoNoRMLConfig),
                      (["--env", "NonstationaryLocomotion-Bug-v0", "--init-from", "none"],
                       LocomotionMetaConfig),
                      ([], MetaTrainConfig)):
        config = norml_config_from_args(parse(["train", "norml", *argv]))
        want = cls(**{k: getattr(config, k) for k in ("env", "opponents", "body", "init_from",
                                                         "model") if hasattr(config, k)})
        assert config.to_dict() == want.to_dict(), cls.__name__
    parsers = _train_parsers()
    maml = parsers["maml"].parse_args([])
    assert (maml.iterations, maml.episodes, maml.meta_batch) == (None, None, None)
    assert "200 locomotion, 100 RoboSumo" in " ".join(parsers["maml"].format_help().split())
    assert MetaConfig().iterations == 200 and SumoMetaConfig().episodes == 4  # as documented


def test_min_action_std_sets_the_noise_floor_as_a_log_std(capsys):
    import math

    from arena.cli import build_parser
    from arena.train_cli import config_from_args

    parse = build_parser().parse_args
    floored = config_from_args(parse(["train", "ppo", "--env", "ToyPoint-v0",
                                      "--min-action-std", "0.15"]))
    assert floored.ppo.log_std_min == pytest.approx(math.log(0.15))
    assert config_from_args(parse(["train", "ppo", "--env", "ToyPoint-v0"])).ppo.log_std_min is None
    for bad in ("0", "-0.1", "nan", "inf", "wide"):
        with pytest.raises(SystemExit) as exc:
            parse(["train", "ppo", "--env", "ToyPoint-v0", "--min-action-std", bad])
        assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("argument --min-action-std: expected a number > 0, got 'wide'")


def test_target_kl_stops_ppo_epochs_early_and_is_off_by_default(capsys):
    from arena.cli import build_parser
    from arena.train_cli import config_from_args

    parse = build_parser().parse_args
    stopped = config_from_args(parse(["train", "ppo", "--env", "ToyPoint-v0",
                                      "--target-kl", "0.02"]))
    assert stopped.ppo.target_kl == pytest.approx(0.02)
    assert config_from_args(parse(["train", "ppo", "--env", "ToyPoint-v0"])).ppo.target_kl is None
    with pytest.raises(SystemExit) as exc:
        parse(["train", "ppo", "--env", "ToyPoint-v0", "--target-kl", "-1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("argument --target-kl: expected a finite number > 0, got -1")


@pytest.mark.parametrize("algorithm,args,message", [
    ("ppo", ["--env", "RoboSumo-Ant-vs-Ant-v0", "--shaping-anneal", "3"],
     "--shaping-anneal must be in [0, 1], got 3.0"),
    ("ppo", ["--env", "NonstationaryLocomotion-Bug-v0", "--features", "sumo"],
     "--features='sumo' is for RoboSumo envs only, got --env='NonstationaryLocomotion-Bug-v0'"),
    ("ppo", ["--env", "RoboSumo-Ant-vs-Ant-v0", "--arch", "lstm", "--rollout", "7"],
     "--rollout (7) must be a multiple of --bptt (10)"),
    ("ppo", ["--env", "ToyPoint-v0", "--reward-scale", "-1"], "--reward-scale must be positive"),
    # a nested field that shares its name with a top-level one: each keeps its own flag
    ("rl2", ["--env", "NonstationaryLocomotion-Bug-v0", "--reward-scale", "-1"],
     "--reward-scale must be positive"),
    ("rl2", ["--env", "NonstationaryLocomotion-Bug-v0", "--learn-reward-scale", "-1"],
     "--learn-reward-scale must be positive"),
])
def test_config_errors_name_the_flag_not_the_field(tmp_path, capsys, algorithm, args, message):
    with pytest.raises(SystemExit) as exc:
        main(["train", algorithm, "--run-dir", str(tmp_path / "r"), *args])
    # ppo exits through the parser (code 2), the meta-learners with their message (code 1)
    err = exc.value.code if isinstance(exc.value.code, str) else capsys.readouterr().err
    assert exc.value.code != 0
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()  # nothing is started


def test_flag_names_leave_quoted_values_alone():
    from arena import options

    def fail():
        raise ValueError("seed must be >= 0 and lr positive, got 'runs/seed/lr/x'")

    with pytest.raises(ValueError) as exc:
        options.with_flags(fail, {"--seed": "seed", "--lr": "ppo.lr"})
    assert str(exc.value) == "--seed must be >= 0 and --lr positive, got 'runs/seed/lr/x'"
