"""``arena train <algorithm>``: training runs from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from arena import options
from arena.meta_cli import add_norml_parser, add_rl2_parser, run_to_end

ALGORITHMS = ("ppo", "maml", "rl2", "norml")


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an agent (ppo, maml, rl2, norml)",
                       description="Train an agent. Runs are resumable: run the same command "
                                   "again to continue from the last checkpoint.")
    algos = p.add_subparsers(dest="algorithm", required=True, metavar="ALGORITHM")
    ppo = algos.add_parser(
        "ppo", help="PPO on a single-agent env, or RoboSumo self-play keeping a lineage",
        description="PPO with a Gaussian MLP or LSTM policy. RoboSumo ids train by self-play "
                    "(or the paper's pool curriculum) and save a snapshot every iteration.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ppo.add_argument("--env", required=True,
                     help="env id: RoboSumo-Ant-vs-Ant-v0, NonstationaryLocomotion-Bug-v0, "
                          "ToyPoint-v0, or another Gymnasium id")
    ppo.add_argument("--run-dir", type=Path, default=None,
                     help="run directory (default: runs/<env>-<arch>-s<seed>)")
    ppo.add_argument("--total-steps", type=int, default=1_000_000)
    ppo.add_argument("--num-envs", type=int, default=16)
    ppo.add_argument("--rollout", type=int, default=128, help="steps per env per iteration")
    ppo.add_argument("--seed", type=options.seed, default=0)
    ppo.add_argument("--arch", choices=("mlp", "lstm"), default="mlp")
    ppo.add_argument("--hidden", type=int, default=64)
    ppo.add_argument("--opponent", choices=("self", "pool", "lineage"), default="self",
                     help="RoboSumo: self-play, a random own snapshot in [1, k-1], or a random "
                          "version of the --opponents lineage")
    ppo.add_argument("--opponents", default=None,
                     help="with --opponent lineage: a lineage directory or zoo:<name>")
    ppo.add_argument("--init-from", default=None,
                     help="PPO checkpoint (path or zoo: reference) to start the policy from")
    ppo.add_argument("--shaping-anneal", type=float, default=0.0,
                     help="RoboSumo: fraction of the run over which shaping falls from 1 to 0")
    ppo.add_argument("--reward-scale", type=float, default=None,
                     help="reward multiplier for learning (default 0.01 for RoboSumo, else 1)")
    ppo.add_argument("--lr", type=float, default=3e-4)
    ppo.add_argument("--lr-anneal", action="store_true", help="decay the learning rate to 0")
    ppo.add_argument("--gamma", type=float, default=None,
                     help="discount (default 0.995 for RoboSumo, else 0.99)")
    ppo.add_argument("--lam", type=float, default=0.95)
    ppo.add_argument("--epochs", type=int, default=10)
    ppo.add_argument("--minibatches", type=int, default=32)
    ppo.add_argument("--ent-coef", type=float, default=0.0)
    ppo.add_argument("--bptt", type=int, default=10, help="LSTM unroll length")
    ppo.add_argument("--nthread", type=int, default=0, help="physics threads (0: all cores)")
    ppo.add_argument("--snapshot-every", type=int, default=None, metavar="N",
                     help="iterations between lineage snapshots (default: every iteration in "
                          "RoboSumo, every 50 elsewhere; the last is always kept)")
    ppo.add_argument("--fresh", action="store_true",
                     help="refuse to resume: fail if the run directory already holds a run")
    ppo.add_argument("--no-progress", action="store_true", help="no progress bar")
    ppo.add_argument("--no-tensorboard", action="store_true", help="CSV metrics only")
    ppo.set_defaults(func=run_train)
    _add_maml_parser(algos)
    add_rl2_parser(algos)
    add_norml_parser(algos)


def _add_maml_parser(algos: argparse._SubParsersAction) -> None:
    p = algos.add_parser(
        "maml", help="MAML for continuous adaptation (nonstationary locomotion or RoboSumo)",
        description="Meta-train a policy and its step sizes on consecutive-task pairs "
                    "(Al-Shedivat et al. 2018, Algorithm 1): the training leg pairs of "
                    "nonstationary locomotion, or consecutive versions of an opponent lineage "
                    "in RoboSumo (adapt against version k, judged against k+1). Resumable.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--env", default=None,
                   help="NonstationaryLocomotion-{Bug,Ant,Spider}-v0 (default: the --body's) or "
                        "RoboSumo-X-vs-Y-v0 (with --opponents)")
    p.add_argument("--body", choices=("ant", "bug", "spider"), default="bug",
                   help="locomotion body when --env is not given")
    p.add_argument("--opponents", default=None,
                   help="RoboSumo: the opponents' lineage, a directory or zoo:<name> "
                        "(e.g. zoo:selfplay-bug)")
    p.add_argument("--episode-steps", type=int, default=None,
                   help="RoboSumo: step limit of a bout (default 500)")
    p.add_argument("--reward-scale", type=float, default=None,
                   help="RoboSumo: reward multiplier for learning (default 0.01)")
    p.add_argument("--nthread", type=int, default=None,
                   help="RoboSumo: physics threads (default 1)")
    p.add_argument("--run-dir", type=Path, default=None,
                   help="run directory (default: runs/maml-<body>-s<seed>, or "
                        "runs/<env>-maml-s<seed> in RoboSumo)")
    p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--meta-batch", type=int, default=None,
                   help="task pairs per iteration (default 12 locomotion, 8 RoboSumo)")
    p.add_argument("--episodes", type=int, default=None,
                   help="K: episodes (bouts) per task (default 3 locomotion, 4 RoboSumo)")
    p.add_argument("--inner-steps", type=int, default=3, help="M: adaptation steps")
    p.add_argument("--step-size", type=float, default=0.001, help="initial step sizes")
    p.add_argument("--per-parameter", action="store_true", help="Meta-SGD step sizes")
    p.add_argument("--max-weight", type=float, default=2.0, help="importance-weight truncation")
    p.add_argument("--first-order", action="store_true", help="first-order meta-gradients")
    p.add_argument("--arch", choices=("mlp", "lstm"), default="mlp",
                   help="policy architecture (ignored with --init-from: the checkpoint's)")
    p.add_argument("--hidden", type=int, default=64, help="hidden width of the policy")
    p.add_argument("--vmap-tasks", action=argparse.BooleanOptionalAction, default=None,
                   help="meta-update all tasks at once with torch.func.vmap (MLP only), or in "
                        "a loop (default: vmap for an MLP, the loop for an LSTM)")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--step-size-lr", type=float, default=None,
                   help="Adam rate of the step sizes (default: --lr)")
    p.add_argument("--epochs", type=int, default=5, help="outer PPO epochs")
    p.add_argument("--init-from", default=None,
                   help="PPO checkpoint (path or zoo: reference) to start theta from")
    p.add_argument("--seed", type=options.seed, default=0)
    p.add_argument("--fresh", action="store_true", help="fail if the run directory holds a run")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-tensorboard", action="store_true")
    p.set_defaults(func=run_maml)


def run_maml(args: argparse.Namespace) -> int:
    import re

    from agents.env_ids import sumo_bodies_of
    from agents.maml import AdaptConfig
    from agents.maml.sumo import SumoMetaConfig, SumoMetaTrainer
    from agents.maml.train import MetaConfig, MetaTrainer
    from agents.policy import PolicyConfig

    env = args.env or f"NonstationaryLocomotion-{args.body.capitalize()}-v0"
    locomotion = re.match(r"^NonstationaryLocomotion-(Ant|Bug|Spider)-v0$", env)
    sumo = sumo_bodies_of(env) is not None
    if not (locomotion or sumo):
        raise SystemExit(f"arena train maml: --env must be NonstationaryLocomotion-"
                         f"{{Bug,Ant,Spider}}-v0 or RoboSumo-X-vs-Y-v0, got {env!r}")
    if sumo and not args.opponents:
        raise SystemExit("arena train maml: RoboSumo needs --opponents (a lineage directory "
                         "or zoo:<name>, e.g. zoo:selfplay-bug)")
    sumo_only = {"--opponents": args.opponents, "--episode-steps": args.episode_steps,
                 "--reward-scale": args.reward_scale, "--nthread": args.nthread}
    given = [flag for flag, value in sumo_only.items() if value is not None]
    if not sumo and given:
        raise SystemExit(f"arena train maml: {', '.join(given)} applies to RoboSumo envs only")
    if sumo and args.vmap_tasks is not None:
        raise SystemExit("arena train maml: --vmap-tasks applies to locomotion only (RoboSumo "
                         "meta-updates loop over tasks)")
    default = (lambda v, d: d if v is None else v)  # noqa: E731  (0 must reach validation)
    common = dict(
        iterations=args.iterations, seed=args.seed, first_order=args.first_order, lr=args.lr,
        step_size_lr=args.step_size_lr, epochs=args.epochs, init_from=args.init_from,
        policy=PolicyConfig(arch=args.arch, hidden=args.hidden),
        adapt=AdaptConfig(steps=args.inner_steps, step_size=args.step_size,
                          per_parameter=args.per_parameter, max_weight=args.max_weight,
                          gamma=0.995 if sumo else 0.99))
    try:
        if sumo:
            config = SumoMetaConfig(
                env=env, opponents=args.opponents, meta_batch=default(args.meta_batch, 8),
                episodes=default(args.episodes, 4), episode_steps=args.episode_steps,
                reward_scale=default(args.reward_scale, 0.01), nthread=default(args.nthread, 1),
                **common)
            run_dir = args.run_dir or Path("runs") / f"{env}-maml-s{args.seed}"
            trainer = SumoMetaTrainer(config, run_dir, resume=not args.fresh,
                                      tensorboard=not args.no_tensorboard)
        else:
            config = MetaConfig(
                body=locomotion.group(1).lower(), meta_batch=default(args.meta_batch, 12),
                episodes=default(args.episodes, 3), vmap_tasks=args.vmap_tasks, **common)
            run_dir = args.run_dir or Path("runs") / f"maml-{config.body}-s{args.seed}"
            trainer = MetaTrainer(config, run_dir, resume=not args.fresh,
                                  tensorboard=not args.no_tensorboard)
    except ValueError as err:
        raise SystemExit(f"arena train maml: {err}") from None
    return run_to_end(trainer, run_dir, args)


def config_from_args(args: argparse.Namespace):
    from agents.env_ids import sumo_bodies_of
    from agents.policy import PolicyConfig
    from agents.ppo import PPOConfig
    from agents.ppo.train import TrainConfig

    sumo = sumo_bodies_of(args.env) is not None
    gamma = args.gamma if args.gamma is not None else (0.995 if sumo else 0.99)
    scale = args.reward_scale if args.reward_scale is not None else (0.01 if sumo else 1.0)
    return TrainConfig(
        env=args.env, total_steps=args.total_steps, num_envs=args.num_envs,
        rollout=args.rollout, seed=args.seed, opponent=args.opponent,
        opponents=args.opponents, init_from=args.init_from,
        shaping_anneal=args.shaping_anneal, lr_anneal=args.lr_anneal, reward_scale=scale,
        nthread=args.nthread, snapshot_every=args.snapshot_every,
        policy=PolicyConfig(arch=args.arch, hidden=args.hidden),
        ppo=PPOConfig(lr=args.lr, gamma=gamma, lam=args.lam, epochs=args.epochs,
                      minibatches=args.minibatches, ent_coef=args.ent_coef, bptt=args.bptt))


def run_train(args: argparse.Namespace) -> int:
    from agents.ppo.train import Trainer

    config = config_from_args(args)
    run_dir = args.run_dir or Path("runs") / f"{config.env}-{config.policy.arch}-s{config.seed}"
    trainer = Trainer(config, run_dir, resume=not args.fresh,
                      tensorboard=not args.no_tensorboard)
    return run_to_end(trainer, run_dir, args)
