"""``arena train <algorithm>``: training runs from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from arena import options
from arena.meta_cli import add_norml_parser, add_rl2_parser, run_to_end

ALGORITHMS = ("ppo", "maml", "rl2", "norml")
# arena train ppo's flags -> TrainConfig fields (defaults and help texts come from there)
PPO_FIELDS = {"--total-steps": "total_steps", "--num-envs": "num_envs", "--rollout": "rollout",
              "--seed": "seed", "--arch": "policy.arch", "--hidden": "policy.hidden",
              "--opponent": "opponent", "--shaping-anneal": "shaping_anneal",
              "--lr": "ppo.lr", "--lam": "ppo.lam", "--epochs": "ppo.epochs",
              "--minibatches": "ppo.minibatches", "--ent-coef": "ppo.ent_coef",
              "--bptt": "ppo.bptt", "--nthread": "nthread", "--snapshot-every": "snapshot_every"}


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an agent (ppo, maml, rl2, norml)",
                       description="Train an agent. Runs are resumable: run the same command "
                                   "again to continue from the last checkpoint.")
    from agents.ppo.train import SUMO_DEFAULTS, TrainConfig

    def D(flag_field: str):
        return options.config_default(TrainConfig, flag_field)

    algos = p.add_subparsers(dest="algorithm", required=True, metavar="ALGORITHM")
    ppo = algos.add_parser(
        "ppo", help="PPO on a single-agent env, or RoboSumo self-play keeping a lineage",
        description="PPO with a Gaussian MLP or LSTM policy. RoboSumo ids train by self-play "
                    "(or the paper's pool curriculum) and save a snapshot every iteration.",
        formatter_class=options.DefaultsFormatter)
    ppo.add_argument("--env", required=True,
                     help="env id: RoboSumo-Ant-vs-Ant-v0, NonstationaryLocomotion-Bug-v0, "
                          "ToyPoint-v0, or another Gymnasium id")
    ppo.add_argument("--run-dir", type=Path, default=None,
                     help="run directory (default: runs/<env>-<arch>-s<seed>)")
    ppo.add_argument("--total-steps", type=int, default=D("total_steps"))
    ppo.add_argument("--num-envs", type=int, default=D("num_envs"))
    ppo.add_argument("--rollout", type=int, default=D("rollout"),
                     help="steps per env per iteration")
    ppo.add_argument("--seed", type=options.seed, default=D("seed"))
    ppo.add_argument("--arch", choices=("mlp", "lstm"), default=D("policy.arch"))
    ppo.add_argument("--hidden", type=int, default=D("policy.hidden"))
    ppo.add_argument("--opponent", choices=("self", "pool", "lineage"), default=D("opponent"),
                     help="RoboSumo: self-play, a random own snapshot in [1, k-1], or a random "
                          "version of the --opponents lineage")
    ppo.add_argument("--opponents", default=None,
                     help="with --opponent lineage: a lineage directory or zoo:<name>")
    ppo.add_argument("--init-from", default=None,
                     help="PPO checkpoint (path or zoo: reference) to start the policy from")
    ppo.add_argument("--shaping-anneal", type=float, default=D("shaping_anneal"),
                     help="RoboSumo: fraction of the run over which shaping falls from 1 to 0")
    ppo.add_argument("--reward-scale", type=float, default=None,
                     help=f"reward multiplier for learning (default "
                          f"{SUMO_DEFAULTS['reward_scale']} for RoboSumo, else "
                          f"{D('reward_scale')})")
    ppo.add_argument("--lr", type=float, default=D("ppo.lr"))
    ppo.add_argument("--lr-anneal", action="store_true", help="decay the learning rate to 0")
    ppo.add_argument("--gamma", type=float, default=None,
                     help=f"discount (default {SUMO_DEFAULTS['ppo.gamma']} for RoboSumo, else "
                          f"{D('ppo.gamma')})")
    ppo.add_argument("--lam", type=float, default=D("ppo.lam"))
    ppo.add_argument("--epochs", type=int, default=D("ppo.epochs"))
    ppo.add_argument("--minibatches", type=int, default=D("ppo.minibatches"))
    ppo.add_argument("--ent-coef", type=float, default=D("ppo.ent_coef"))
    ppo.add_argument("--bptt", type=int, default=D("ppo.bptt"), help="LSTM unroll length")
    ppo.add_argument("--nthread", type=int, default=D("nthread"),
                     help="physics threads (0: all cores)")
    ppo.add_argument("--snapshot-every", type=int, default=D("snapshot_every"), metavar="N",
                     help="iterations between lineage snapshots (default: every iteration in "
                          "RoboSumo, every 50 elsewhere; the last is always kept)")
    ppo.add_argument("--fresh", action="store_true",
                     help="refuse to resume: fail if the run directory already holds a run")
    ppo.add_argument("--no-progress", action="store_true", help="no progress bar")
    ppo.add_argument("--no-tensorboard", action="store_true", help="CSV metrics only")
    options.help_from_config(ppo, TrainConfig, PPO_FIELDS)
    ppo.set_defaults(func=run_train)
    _add_maml_parser(algos)
    add_rl2_parser(algos)
    add_norml_parser(algos)


def _add_maml_parser(algos: argparse._SubParsersAction) -> None:
    from agents.maml import AdaptConfig
    from agents.maml.sumo import SumoMetaConfig
    from agents.maml.train import MetaConfig

    def D(field: str):
        value = options.config_default(MetaConfig, field)
        assert value == options.config_default(SumoMetaConfig, field), field
        return value

    def both(field: str) -> str:
        return options.per_env(("locomotion", MetaConfig, field),
                               ("RoboSumo", SumoMetaConfig, field))

    p = algos.add_parser(
        "maml", help="MAML for continuous adaptation (nonstationary locomotion or RoboSumo)",
        description="Meta-train a policy and its step sizes on consecutive-task pairs "
                    "(Al-Shedivat et al. 2018, Algorithm 1): the training leg pairs of "
                    "nonstationary locomotion, or consecutive versions of an opponent lineage "
                    "in RoboSumo (adapt against version k, judged against k+1). Resumable.",
        formatter_class=options.DefaultsFormatter)
    p.add_argument("--env", default=None,
                   help="NonstationaryLocomotion-{Bug,Ant,Spider}-v0 (default: the --body's) or "
                        "RoboSumo-X-vs-Y-v0 (with --opponents)")
    p.add_argument("--body", choices=("ant", "bug", "spider"),
                   default=options.config_default(MetaConfig, "body"),
                   help="locomotion body when --env is not given")
    p.add_argument("--opponents", default=None,
                   help="RoboSumo: the opponents' lineage, a directory or zoo:<name> "
                        "(e.g. zoo:selfplay-bug)")
    p.add_argument("--episode-steps", type=int, default=None,
                   help="RoboSumo: step limit of a bout (default 500)")
    p.add_argument("--reward-scale", type=float, default=None,
                   help=f"RoboSumo: reward multiplier for learning (default "
                        f"{options.config_default(SumoMetaConfig, 'reward_scale')})")
    p.add_argument("--nthread", type=int, default=None,
                   help=f"RoboSumo: physics threads (default "
                        f"{options.config_default(SumoMetaConfig, 'nthread')})")
    p.add_argument("--run-dir", type=Path, default=None,
                   help="run directory (default: runs/maml-<body>-s<seed>, or "
                        "runs/<env>-maml-s<seed> in RoboSumo)")
    p.add_argument("--iterations", type=int, default=None,
                   help=f"meta-iterations ({both('iterations')})")
    p.add_argument("--meta-batch", type=int, default=None,
                   help=f"task pairs per iteration ({both('meta_batch')})")
    p.add_argument("--episodes", type=int, default=None,
                   help=f"K: episodes (bouts) per task ({both('episodes')})")
    adapt = AdaptConfig()
    p.add_argument("--inner-steps", type=int, default=adapt.steps, help="M: adaptation steps")
    p.add_argument("--step-size", type=float, default=adapt.step_size,
                   help="initial step sizes")
    p.add_argument("--per-parameter", action="store_true", help="Meta-SGD step sizes")
    p.add_argument("--max-weight", type=float, default=adapt.max_weight,
                   help="importance-weight truncation")
    p.add_argument("--first-order", action="store_true", help="first-order meta-gradients")
    p.add_argument("--arch", choices=("mlp", "lstm"), default=D("policy.arch"),
                   help="policy architecture (ignored with --init-from: the checkpoint's)")
    p.add_argument("--hidden", type=int, default=D("policy.hidden"),
                   help="hidden width of the policy")
    p.add_argument("--vmap-tasks", action=argparse.BooleanOptionalAction, default=None,
                   help="meta-update all tasks at once with torch.func.vmap (MLP only), or in "
                        "a loop (default: vmap for an MLP, the loop for an LSTM)")
    p.add_argument("--lr", type=float, default=D("lr"), help="outer Adam learning rate")
    p.add_argument("--step-size-lr", type=float, default=None,
                   help="Adam rate of the step sizes (default: --lr)")
    p.add_argument("--epochs", type=int, default=D("epochs"), help="outer PPO epochs")
    p.add_argument("--init-from", default=None,
                   help="PPO checkpoint (path or zoo: reference) to start theta from")
    p.add_argument("--seed", type=options.seed, default=D("seed"), help="seed of everything")
    p.add_argument("--fresh", action="store_true", help="fail if the run directory holds a run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-tensorboard", action="store_true", help="CSV metrics only")
    p.set_defaults(func=run_maml)


def run_maml(args: argparse.Namespace) -> int:
    import dataclasses
    import re

    from agents.env_ids import sumo_bodies_of
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
    cls = SumoMetaConfig if sumo else MetaConfig
    # flags left out take the config's defaults (0 must reach validation: compare with None)
    chosen = {"iterations": args.iterations, "meta_batch": args.meta_batch,
              "episodes": args.episodes}
    if sumo:
        chosen.update(env=env, opponents=args.opponents, episode_steps=args.episode_steps,
                      reward_scale=args.reward_scale, nthread=args.nthread)
    else:
        chosen.update(body=locomotion.group(1).lower(), vmap_tasks=args.vmap_tasks)
    settings = {k: v for k, v in chosen.items() if v is not None}
    adapt = dataclasses.replace(options.config_default(cls, "adapt"), steps=args.inner_steps,
                                step_size=args.step_size, per_parameter=args.per_parameter,
                                max_weight=args.max_weight)
    try:
        config = cls(seed=args.seed, first_order=args.first_order, lr=args.lr,
                     step_size_lr=args.step_size_lr, epochs=args.epochs,
                     init_from=args.init_from, adapt=adapt,
                     policy=PolicyConfig(arch=args.arch, hidden=args.hidden), **settings)
        if sumo:
            run_dir = args.run_dir or Path("runs") / f"{env}-maml-s{args.seed}"
            trainer = SumoMetaTrainer(config, run_dir, resume=not args.fresh,
                                      tensorboard=not args.no_tensorboard)
        else:
            run_dir = args.run_dir or Path("runs") / f"maml-{config.body}-s{args.seed}"
            trainer = MetaTrainer(config, run_dir, resume=not args.fresh,
                                  tensorboard=not args.no_tensorboard)
    except ValueError as err:
        raise SystemExit(f"arena train maml: {err}") from None
    return run_to_end(trainer, run_dir, args)


def config_from_args(args: argparse.Namespace):
    from agents.policy import PolicyConfig
    from agents.ppo import PPOConfig
    from agents.ppo.train import TrainConfig, env_defaults

    env = env_defaults(args.env)
    gamma = args.gamma if args.gamma is not None else env["ppo.gamma"]
    scale = args.reward_scale if args.reward_scale is not None else env["reward_scale"]
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
