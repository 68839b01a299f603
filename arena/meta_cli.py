"""``arena train maml``, ``rl2`` and ``norml``: the meta-learners.

``add_maml_parser(algos)``, ``add_rl2_parser(algos)`` and ``add_norml_parser(algos)`` add them to
the subparsers of ``arena train`` (``arena.train_cli``, which holds PPO). Every default comes from
the algorithm's config dataclasses. Runs are resumable: the same command continues a run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from arena import options

LOCOMOTION_IDS = ("NonstationaryLocomotion-Bug-v0", "NonstationaryLocomotion-Ant-v0",
                  "NonstationaryLocomotion-Spider-v0")  # the bug first: the paper's body
POINT_ID = "PointRotation-v0"
# arena train rl2's flags -> RL2TrainConfig fields (defaults and help texts come from there)
RL2_FIELDS = {"--rollout": "rollout", "--total-steps": "total_steps", "--num-envs": "num_envs",
              "--episodes": "episodes", "--split": "split", "--seed": "seed",
              "--hidden": "rl2.hidden", "--lr": "ppo.lr", "--gamma": "ppo.gamma",
              "--lam": "ppo.lam", "--epochs": "ppo.epochs", "--minibatches": "ppo.minibatches",
              "--bptt": "ppo.bptt", "--snapshot-every": "snapshot_every", "--nthread": "nthread"}


def add_maml_parser(algos: argparse._SubParsersAction) -> None:
    """Add ``maml``: MAML meta-training on locomotion task pairs or lineage version pairs."""
    from agents.maml import AdaptConfig
    from agents.maml.core import ADAPTED, INNER_STEPS, VALUE_STEPS
    from agents.maml.sumo import SumoMetaConfig
    from agents.maml.train import META_LEARNED, SF_BASELINES, MetaConfig

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
    p.add_argument("--value-step", choices=VALUE_STEPS, default=adapt.value_step,
                   help="the value parameters' inner step: shared step sizes with the policy "
                        "(the paper), separate ones, or none (only the policy adapts)")
    p.add_argument("--log-step-sizes", action="store_true",
                   help="learn log alpha: step sizes stay positive and outside the element-wise "
                        "meta-gradient clip")
    p.add_argument("--inner-step", choices=INNER_STEPS, default=adapt.inner_step,
                   help="gradient (alpha times the gradient) or kl (a step of KL divergence "
                        "alpha on the adaptation batch: --step-size is then the KL, e.g. 0.01; "
                        "needs --value-step separate or none)")
    p.add_argument("--adapt", choices=ADAPTED, default=adapt.adapt,
                   help="what the inner steps move: every weight (MAML), or only a context "
                        "vector appended to the policy's input (CAVIA-style; needs --context)")
    p.add_argument("--context", type=int, default=D("policy.context"), metavar="K",
                   help="size of a learned context vector appended to the policy's input "
                        "(MLP; added to an --init-from checkpoint, which then acts as before)")
    p.add_argument("--meta-learn", choices=META_LEARNED, default=D("meta_learn"),
                   help="what the outer loop trains besides the step sizes: all of theta, "
                        "or (with --adapt context) only the context's start and the weights "
                        "that read it (context), or those weights alone (reader)")
    p.add_argument("--first-order", action="store_true", help="first-order meta-gradients")
    p.add_argument("--sf-baseline", choices=SF_BASELINES, default=D("sf_baseline"),
                   help="the score-function term's task advantages: the post return across the "
                        "meta-batch (the paper's) or minus the task's pre-adaptation return")
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
    if args.meta_learn != "all" and args.adapt != "context":
        raise SystemExit(f"arena train maml: --meta-learn {args.meta_learn} trains what reads "
                         f"the context: add --adapt context --context K")
    if args.adapt == "context" and not args.context:
        raise SystemExit("arena train maml: --adapt context needs a context vector: add "
                         "--context K (e.g. 8)")
    if args.inner_step == "kl" and args.value_step == "shared" and args.adapt == "weights":
        raise SystemExit("arena train maml: --inner-step kl sizes the policy's step by its KL; "
                         "add --value-step separate (or none)")
    if (args.log_step_sizes or args.inner_step == "kl") and not args.step_size > 0:
        raise SystemExit(f"arena train maml: --step-size must be > 0 with --log-step-sizes or "
                         f"--inner-step kl, got {args.step_size}")
    cls = SumoMetaConfig if sumo else MetaConfig
    # flags left out take the config's defaults (0 must reach validation: compare with None)
    chosen = {"iterations": args.iterations, "meta_batch": args.meta_batch,
              "episodes": args.episodes, "vmap_tasks": args.vmap_tasks}
    if sumo:
        chosen.update(env=env, opponents=args.opponents, episode_steps=args.episode_steps,
                      reward_scale=args.reward_scale, nthread=args.nthread)
    else:
        chosen.update(body=locomotion.group(1).lower())
    settings = {k: v for k, v in chosen.items() if v is not None}
    try:
        adapt = dataclasses.replace(
            options.config_default(cls, "adapt"), steps=args.inner_steps,
            step_size=args.step_size, per_parameter=args.per_parameter,
            max_weight=args.max_weight, value_step=args.value_step,
            parametrization="log" if args.log_step_sizes else "linear",
            inner_step=args.inner_step, adapt=args.adapt)
        config = cls(seed=args.seed, first_order=args.first_order, lr=args.lr,
                     meta_learn=args.meta_learn,
                     sf_baseline=args.sf_baseline,
                     step_size_lr=args.step_size_lr, epochs=args.epochs,
                     init_from=args.init_from, adapt=adapt,
                     policy=PolicyConfig(arch=args.arch, hidden=args.hidden,
                                         context=args.context), **settings)
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


def add_rl2_parser(algos: argparse._SubParsersAction) -> None:
    """Add ``rl2``: RL^2 with PPO and truncated BPTT on nonstationary-locomotion trials."""
    from agents.rl2.train import RL2TrainConfig

    def D(field: str):
        return options.config_default(RL2TrainConfig, field)

    p = algos.add_parser(
        "rl2", help="RL^2: an LSTM that adapts in its memory across the episodes of a trial",
        description="RL^2 on nonstationary locomotion (every trial is one damage chain: a leg "
                    "pair losing torque over 7 episodes) or in RoboSumo (every trial is "
                    "--episodes bouts against one version of the --opponents lineage). The LSTM "
                    "sees the observation, the previous action, reward and done flag, and keeps "
                    "its state for the whole trial. PPO with truncated BPTT; snapshots form a "
                    "lineage.",
        formatter_class=options.DefaultsFormatter)
    p.add_argument("--env", default=LOCOMOTION_IDS[0],
                   help="NonstationaryLocomotion-{Bug,Ant,Spider}-v0 or RoboSumo-X-vs-Y-v0")
    p.add_argument("--opponents", default=None,
                   help="RoboSumo: the opponents' lineage, zoo:<name> (e.g. zoo:selfplay-ant) "
                        "or a directory of vNNNN.safetensors snapshots")
    p.add_argument("--rollout", type=int, default=D("rollout"),
                   help="RoboSumo: steps per arena per iteration")
    p.add_argument("--episode-steps", type=int, default=None,
                   help="steps per episode (default: the env's, 100 locomotion, 500 RoboSumo)")
    p.add_argument("--learn-reward-scale", type=float, default=None,
                   help="reward multiplier for learning (default 0.01 for RoboSumo, else 1)")
    p.add_argument("--run-dir", type=Path, default=None,
                   help="run directory (default: runs/<env>-rl2-s<seed>)")
    p.add_argument("--total-steps", type=int, default=D("total_steps"))
    p.add_argument("--num-envs", type=int, default=D("num_envs"), help="trials run in parallel")
    p.add_argument("--episodes", type=int, default=D("episodes"), help="episodes per trial")
    p.add_argument("--split", choices=("train", "test", "all"), default=D("split"),
                   help="leg pairs to train on (train: the paper's 12 for the bug)")
    p.add_argument("--seed", type=options.seed, default=D("seed"))
    p.add_argument("--hidden", type=int, default=D("rl2.hidden"), help="embedding and LSTM width")
    p.add_argument("--reward-scale", type=float, default=None,
                   help="the previous-reward input is clip(reward * scale, -5, 5) (default "
                        "0.01 for RoboSumo, else 1)")
    p.add_argument("--lr", type=float, default=D("ppo.lr"))
    p.add_argument("--lr-anneal", action="store_true", help="decay the learning rate to 0")
    p.add_argument("--gamma", type=float, default=D("ppo.gamma"))
    p.add_argument("--lam", type=float, default=D("ppo.lam"))
    p.add_argument("--epochs", type=int, default=D("ppo.epochs"))
    p.add_argument("--minibatches", type=int, default=D("ppo.minibatches"))
    p.add_argument("--bptt", type=int, default=D("ppo.bptt"), help="truncated-BPTT length")
    p.add_argument("--snapshot-every", type=int, default=D("snapshot_every"),
                   help="iterations between snapshots")
    p.add_argument("--nthread", type=int, default=D("nthread"),
                   help="physics threads (0: all cores)")
    options.help_from_config(p, RL2TrainConfig, RL2_FIELDS)
    _common(p)
    p.set_defaults(func=run_rl2)


def add_norml_parser(algos: argparse._SubParsersAction) -> None:
    """Add ``norml``: NoRML (or one of its ablations) on the rotated point agent or on
    nonstationary locomotion."""
    from agents.norml.core import VARIANTS
    from agents.norml.locomotion import LocomotionMetaConfig
    from agents.norml.sumo import SumoNoRMLConfig
    from agents.norml.train import MetaTrainConfig

    def three(point: str, locomotion: str | None = None, sumo: str | None = None) -> str:
        return options.per_env(("point", MetaTrainConfig, point),
                               ("locomotion", LocomotionMetaConfig, locomotion or point),
                               ("RoboSumo", SumoNoRMLConfig, sumo or point))

    p = algos.add_parser(
        "norml", help="NoRML: adapt in one step from state transitions alone (point agent, "
                      "nonstationary locomotion, RoboSumo)",
        description="Meta-train NoRML: a learned advantage A_psi(s, a, s') and a learned offset "
                    "drive one reward-free inner step. --env PointRotation-v0 (default): tasks "
                    "are rotation angles; --variant picks the paper's ablations (maml: true "
                    "advantage with Meta-SGD step sizes; dr: domain randomisation). --env "
                    "NonstationaryLocomotion-Bug-v0 (or Ant, Spider): MAML's task structure, "
                    "consecutive tasks (T_i, T_{i+1}) of the training leg pairs, adapting on "
                    "--rollouts episodes of T_i and meta-trained on as many of T_{i+1}; "
                    "observations are normalised with frozen statistics (those of --init-from). "
                    "--env RoboSumo-X-vs-Y-v0 with --opponents LINEAGE: the learner is X, "
                    "adapting on --rollouts bouts against version k of the lineage and "
                    "meta-trained on as many against version k+1 (one bout per arena).",
        formatter_class=options.DefaultsFormatter)
    p.add_argument("--env", default=POINT_ID,
                   help=f"{POINT_ID}, NonstationaryLocomotion-{{Bug,Ant,Spider}}-v0 or "
                        f"RoboSumo-X-vs-Y-v0")
    p.add_argument("--opponents", default=None,
                   help="RoboSumo: the opponents' lineage, a directory or zoo:<name> (e.g. "
                        "zoo:selfplay-bug)")
    p.add_argument("--episode-steps", type=int, default=None,
                   help="RoboSumo: step limit of a bout (default: the env's 500)")
    p.add_argument("--reward-scale", type=float, default=None,
                   help=f"RoboSumo: rewards are multiplied by this for learning (default "
                        f"{options.config_default(SumoNoRMLConfig, 'reward_scale')})")
    p.add_argument("--variant", choices=tuple(VARIANTS), default="norml",
                   help="NoRML, or one of the paper's ablations")
    p.add_argument("--sparse", action="store_true",
                   help="point: sparse reward (-1 per step, 100 steps, ends at the goal)")
    p.add_argument("--run-dir", type=Path, default=None,
                   help="run directory (default: runs/point-<reward>-<variant>-s<seed>, or "
                        "runs/<env>-<variant>-s<seed>)")
    p.add_argument("--iterations", type=int, default=None,
                   help=f"meta-iterations ({three('iterations')})")
    p.add_argument("--tasks", type=int, default=None,
                   help=f"tasks (point: angles; locomotion: consecutive-task pairs; RoboSumo: "
                        f"consecutive-version pairs) per meta-batch "
                        f"({three('tasks', 'meta_batch', 'meta_batch')})")
    p.add_argument("--rollouts", type=int, default=None,
                   help=f"episodes per task and phase, in locomotion also the agent's "
                        f"adaptation window ({three('rollouts', 'episodes', 'episodes')})")
    p.add_argument("--alpha", type=float, default=None,
                   help="initial inner step size (default: the variant's; locomotion 1)")
    p.add_argument("--learn-alpha", action=argparse.BooleanOptionalAction, default=None,
                   help="meta-learn the step size (default: the variant's; locomotion yes)")
    p.add_argument("--outer-epochs", type=int, default=None,
                   help=f"locomotion, RoboSumo: outer updates per iteration, more than 1 are "
                        f"PPO epochs (default "
                        f"{options.config_default(LocomotionMetaConfig, 'outer_epochs')}: one "
                        f"policy-gradient step)")
    p.add_argument("--execution-data", action="store_true",
                   help="locomotion: adapt, as at execution, on episodes an adapted policy "
                        "collected, importance-weighted (3 collection phases instead of 2)")
    p.add_argument("--first-step", action="store_true",
                   help="locomotion, with --execution-data: also meta-train the first inner "
                        "step, from the policy's own episodes (a fourth collection phase)")
    p.add_argument("--center-advantage", action="store_true",
                   help="subtract A_psi's mean over each task's adaptation data before the inner "
                        "step (its constant part only adds noise)")
    p.add_argument("--lr", type=float, default=None,
                   help=f"initial outer Adam learning rate ({three('lr')})")
    p.add_argument("--advantage-lr", type=float, default=None,
                   help="locomotion, RoboSumo: initial Adam rate of A_psi (default: --lr)")
    p.add_argument("--no-lr-decay", action="store_true", help="keep the learning rate constant")
    p.add_argument("--gamma", type=float, default=None, help=f"discount ({three('gamma')})")
    p.add_argument("--init-from", default=None,
                   help="locomotion, RoboSumo: PPO MLP checkpoint (path or zoo: reference) "
                        "giving theta and the observation statistics (default: locomotion "
                        "zoo:ppo-locomotion-<body> if the zoo has it, RoboSumo none); 'none' "
                        "starts from scratch. A lineage reference without @version names its "
                        "newest version, which may change: pin it for a run you will resume")
    p.add_argument("--nthread", type=int, default=None,
                   help=f"locomotion, RoboSumo: physics threads, 0: all cores (default: 0 "
                        f"locomotion, {options.config_default(SumoNoRMLConfig, 'nthread')} "
                        f"RoboSumo)")
    p.add_argument("--seed", type=options.seed, default=0,
                   help="seed of tasks, initialisation and action noise")
    p.add_argument("--snapshot-every", type=int, default=None,
                   help=f"iterations between snapshots ({three('snapshot_every')})")
    _common(p)
    p.set_defaults(func=run_norml)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fresh", action="store_true",
                   help="refuse to resume: fail if the run directory already holds a run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-tensorboard", action="store_true", help="CSV metrics only")


def rl2_config_from_args(args: argparse.Namespace):
    """The ``RL2TrainConfig`` of parsed ``arena train rl2`` arguments."""
    from agents.ppo import PPOConfig
    from agents.rl2 import RL2Config, RL2TrainConfig

    sumo = args.env.startswith("RoboSumo-")
    default_scale = 0.01 if sumo else 1.0

    def pick(value: float | None) -> float:
        return default_scale if value is None else value

    return options.with_flags(lambda: RL2TrainConfig(
        env=args.env, total_steps=args.total_steps, num_envs=args.num_envs,
        episodes=args.episodes, episode_steps=args.episode_steps, opponents=args.opponents,
        rollout=args.rollout, reward_scale=pick(args.learn_reward_scale), split=args.split,
        seed=args.seed, lr_anneal=args.lr_anneal, snapshot_every=args.snapshot_every,
        nthread=args.nthread,
        rl2=RL2Config(hidden=args.hidden, reward_scale=pick(args.reward_scale)),
        ppo=PPOConfig(lr=args.lr, gamma=args.gamma, lam=args.lam, epochs=args.epochs,
                      minibatches=args.minibatches, bptt=args.bptt)),
        {**RL2_FIELDS, "--env": "env", "--episode-steps": "episode_steps",
         "--reward-scale": "rl2.reward_scale", "--learn-reward-scale": "reward_scale"})


def _policy_features(ref: str) -> str:
    """The ``features`` setting of the PPO policy ``ref`` (``raw`` where it is no PPO policy:
    what it is wrong about, ``init_from`` says when the run starts)."""
    import agents
    from agents.checkpoint import read_meta

    try:
        config = read_meta(agents.resolve(ref)).config
    except (ValueError, OSError):
        return "raw"
    policy = config.get("policy") if isinstance(config, dict) else None
    features = policy.get("features") if isinstance(policy, dict) else None
    return features if isinstance(features, str) else "raw"


def norml_config_from_args(args: argparse.Namespace):
    """The config of parsed ``arena train norml`` arguments: a ``MetaTrainConfig`` (point) or
    a ``LocomotionMetaConfig`` (nonstationary locomotion) or a ``SumoNoRMLConfig`` (RoboSumo)."""
    import dataclasses

    from agents.env_ids import sumo_bodies_of
    from agents.norml import MetaTrainConfig, NoRMLConfig

    sumo = sumo_bodies_of(args.env) is not None
    if args.env not in (POINT_ID, *LOCOMOTION_IDS) and not sumo:
        raise ValueError(f"--env must be {POINT_ID}, NonstationaryLocomotion-{{Bug,Ant,Spider}}-v0 "
                         f"or RoboSumo-X-vs-Y-v0 (X, Y in Ant, Bug, Spider), got {args.env!r}")
    if not sumo:
        for flag, value in (("--opponents", args.opponents),
                            ("--episode-steps", args.episode_steps),
                            ("--reward-scale", args.reward_scale)):
            if value is not None:
                raise ValueError(f"{flag} applies to RoboSumo envs only")
    elif args.opponents is None:
        raise ValueError(f"{args.env} needs --opponents (a lineage directory or zoo:<name>)")

    overrides = {k: v for k, v in (("alpha", args.alpha), ("learn_alpha", args.learn_alpha),
                                   ("center_advantage", args.center_advantage or None))
                 if v is not None}
    # flags left out take the config's defaults (compare with None: 0 must reach validation)
    chosen = {"iterations": args.iterations, "gamma": args.gamma, "lr": args.lr,
              "snapshot_every": args.snapshot_every}
    if args.env == POINT_ID:
        chosen.update(tasks=args.tasks, rollouts=args.rollouts)
    else:
        chosen.update(meta_batch=args.tasks, episodes=args.rollouts,
                      advantage_lr=args.advantage_lr, outer_epochs=args.outer_epochs)

    def given(**more) -> dict:
        return {k: v for k, v in {**chosen, **more}.items() if v is not None}

    if args.env in LOCOMOTION_IDS or sumo:
        from agents.norml.locomotion import LocomotionMetaConfig, default_model

        if args.sparse:
            raise ValueError("--sparse is a point-agent option")
        model = default_model()
        if args.variant != "norml":  # the ablation's switches, at locomotion's width and inputs
            model = NoRMLConfig.variant(args.variant, hidden=model.hidden,
                                        normalize_obs=True, init_log_std=model.init_log_std)
        model = dataclasses.replace(model, **overrides)
    if args.outer_epochs is not None and args.env == POINT_ID:
        raise ValueError("--outer-epochs applies to NonstationaryLocomotion and RoboSumo envs")
    if args.execution_data and args.env not in LOCOMOTION_IDS:
        raise ValueError("--execution-data applies to NonstationaryLocomotion envs only")
    if args.first_step and not args.execution_data:
        raise ValueError("--first-step needs --execution-data (without it the first inner step "
                         "is the only one and already meta-trained)")
    if sumo:
        from agents.norml.sumo import SumoNoRMLConfig

        init = None if args.init_from is None or args.init_from.lower() == "none" \
            else args.init_from
        if init is not None:  # the model reads what the policy it starts from reads
            model = dataclasses.replace(model, features=_policy_features(init))
        return SumoNoRMLConfig(
            env=args.env, opponents=args.opponents, lr_decay=not args.no_lr_decay,
            seed=args.seed, init_from=init, model=model,
            **given(episode_steps=args.episode_steps, reward_scale=args.reward_scale,
                    nthread=args.nthread))
    if args.env in LOCOMOTION_IDS:
        import agents
        from agents.env_ids import locomotion_body_of

        body = locomotion_body_of(args.env)
        init = args.init_from
        if init is None and f"ppo-locomotion-{body}" in agents.zoo_names():
            init = f"zoo:ppo-locomotion-{body}"
        init = None if init is None or init.lower() == "none" else init
        return LocomotionMetaConfig(body=body, lr_decay=not args.no_lr_decay, seed=args.seed,
                                    init_from=init, model=model,
                                    execution_data=args.execution_data,
                                    first_step=args.first_step, **given())
    return MetaTrainConfig(sparse=args.sparse, lr_decay=not args.no_lr_decay, seed=args.seed,
                           model=NoRMLConfig.variant(args.variant, **overrides), **given())


def run_to_end(trainer, run_dir: Path, args: argparse.Namespace,
               unit: str = "iterations") -> int:
    """Run (or resume) a training run to its budget and say where its results are.

    Shared by every ``arena train`` algorithm; ``trainer`` has ``iteration``, ``lineage`` and
    ``run(progress)``, and ``env_steps`` where the budget is counted in steps.
    """
    steps = getattr(trainer, "env_steps", None)
    if trainer.iteration:
        at = f" ({steps:,} steps)" if steps is not None else ""
        print(f"resuming {run_dir} at iteration {trainer.iteration}{at}")
    trainer.run(progress=not args.no_progress)
    done = (f"{trainer.env_steps:,} steps in " if steps is not None else "")
    print(f"done: {done}{trainer.iteration} {unit}; metrics in {run_dir / 'metrics.csv'}; "
          f"latest snapshot {trainer.lineage.path(trainer.lineage.latest())}")
    return 0


def run_rl2(args: argparse.Namespace) -> int:
    """``arena train rl2``: train (or resume) and report where the snapshots are."""
    from agents.rl2 import RL2Trainer

    try:
        config = rl2_config_from_args(args)
    except ValueError as err:
        raise SystemExit(f"arena train rl2: {err}") from None
    run_dir = args.run_dir or Path("runs") / f"{config.env}-rl2-s{config.seed}"
    trainer = RL2Trainer(config, run_dir, resume=not args.fresh,
                         tensorboard=not args.no_tensorboard)
    return run_to_end(trainer, run_dir, args)


def run_norml(args: argparse.Namespace) -> int:
    """``arena train norml``: meta-train (or resume) and report where the snapshots are."""
    from agents.norml import MetaTrainer

    try:
        config = norml_config_from_args(args)
        if args.env.startswith("RoboSumo-"):
            from agents.norml.sumo import SumoNoRMLTrainer

            run_dir = args.run_dir or Path("runs") / f"{args.env}-{args.variant}-s{config.seed}"
            trainer = SumoNoRMLTrainer(config, run_dir, resume=not args.fresh,
                                       tensorboard=not args.no_tensorboard)
        elif args.env in LOCOMOTION_IDS:
            from agents.norml.locomotion import LocomotionMetaTrainer

            run_dir = args.run_dir or Path("runs") / f"{args.env}-{args.variant}-s{config.seed}"
            trainer = LocomotionMetaTrainer(config, run_dir, resume=not args.fresh,
                                            tensorboard=not args.no_tensorboard,
                                            nthread=args.nthread or 0)
        else:
            reward = "sparse" if config.sparse else "shaped"
            run_dir = args.run_dir or Path("runs") / f"point-{reward}-{args.variant}-s{config.seed}"
            trainer = MetaTrainer(config, run_dir, resume=not args.fresh,
                                  tensorboard=not args.no_tensorboard)
    except ValueError as err:
        raise SystemExit(f"arena train norml: {err}") from None
    return run_to_end(trainer, run_dir, args, unit="meta-iterations")


__all__ = ["add_maml_parser", "add_norml_parser", "add_rl2_parser", "norml_config_from_args",
           "rl2_config_from_args", "run_maml", "run_norml", "run_rl2", "run_to_end"]
