"""NoRML in RoboSumo: adapt without reward against opponent version k, meet version k+1.

The task structure is MAML's in RoboSumo (``agents.maml.sumo``): the nonstationary opponent is
a self-play lineage, and every meta-iteration draws ``meta_batch`` pairs (v_k, v_{k+1}) of
consecutive stored versions of the opponents' lineage (k uniform). For all pairs at once, in
one ``SumoVectorEnv`` where the learner is player_0 and ``LineageOpponents`` play player_1:

1. K bouts of pi_theta against v_k, one bout per arena (an arena whose bout ended waits, its
   later steps masked out, so long and short bouts count alike);
2. NoRML's reward-free inner step ``theta_i = theta + offset - alpha grad L`` on those bouts,
   ``L`` weighing ``grad log pi_theta`` by ``A_psi(s, a, s')`` on the real transitions only
   (``NoRMLModel.adapt_tasks``; the mask keeps the padding out), keeping the graph;
3. K bouts of pi_theta_i against v_{k+1};
4. one Adam step on NoRML's outer policy-gradient loss of each pi_theta_i on its v_{k+1} bouts
   (discounted return minus the per-task polynomial ridge baseline, both masked), through the
   inner step into theta, the offset, psi and (if learned) alpha; every bout end is terminal
   (a draw at the step limit carries its penalty, nothing is bootstrapped).

The iteration, the learning-rate groups and decay, the clipping and the resumable run directory
are the locomotion trainer's (``agents.norml.locomotion.LocomotionMetaTrainer``); this module
supplies the arenas, the bouts and the win rates. Rewards (outcome +-2000 plus shaping) are
multiplied by ``reward_scale`` for learning; discount 0.995. Observations are normalised with
frozen statistics: those of ``init_from`` (a PPO MLP checkpoint of width ``model.hidden``, e.g.
``zoo:selfplay-bug``, whose actor also becomes theta); without it, zero mean and unit variance.
The baseline's time features are relative to the longest bout of the phase (the batch is cut
there). Arenas the physics gave up on count as draws in the win rates.

Snapshots are of kind ``"norml"`` (``env_id`` ``RoboSumo-...``); ``agents.load`` gives a
``NoRMLAgent`` that the game makes adapt between rounds: from theta, on the bouts since its last
adaptation (the last round, against the opponent's previous version, as at meta-training time),
importance-weighted against the policy that played them (truncated at 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.checkpoint import read_meta
from agents.config import Config
from agents.env_ids import sumo_bodies_of
from agents.maml.sumo import consecutive_pairs, opponent_lineage, sumo_bodies
from agents.norml.core import NoRMLConfig, NoRMLModel, TaskData
from agents.norml.locomotion import LocomotionMetaTrainer, default_model, init_from_ppo
from agents.norml.train import _batched_policy, _split, _stack
from agents.opponents import LineageOpponents
from agents.run import check_counts, check_positive, env_seed
from envs.bodies import article


@dataclass(frozen=True)
class SumoNoRMLConfig(Config):
    """A NoRML meta-training run in RoboSumo against consecutive versions of a lineage.

    Attributes:
        env: ``RoboSumo-X-vs-Y-v0``; the learner is X (player_0), the opponents are Y.
        opponents: the opponents' lineage: a directory or ``zoo:<name>`` (snapshots controlling
            Y, at least two).
        iterations: meta-iterations (outer Adam steps).
        meta_batch: consecutive-version pairs per iteration.
        episodes: K, bouts per version to adapt on and to evaluate the adapted policy on.
        episode_steps: step limit of a bout (None: the env's 500).
        gamma: discount of the outer advantage.
        lr: initial Adam learning rate of theta and the offset.
        advantage_lr: initial Adam learning rate of psi (None: ``lr``).
        alpha_lr: initial Adam learning rate of a learned step size (None: ``lr``).
        lr_decay: decay every learning rate linearly to 0 over the run.
        grad_clip: clip of the meta-gradient's global norm (None: no clip).
        reward_scale: rewards are multiplied by this for learning.
        seed: seed of the pairs, arenas, initialisation and action noise.
        snapshot_every: iterations between lineage snapshots (and the last one).
        init_from: a PPO MLP checkpoint controlling X (path or ``zoo:`` reference): its actor
            becomes theta, its observation statistics the frozen ones.
        nthread: physics threads (0: all cores; results do not depend on it).
        model: the NoRML model (``hidden`` must match ``init_from``'s).
        outer_epochs: outer updates on each iteration's bouts (1: one policy-gradient step; more
            are PPO epochs, as ``LocomotionMetaConfig.outer_epochs``).
        clip: PPO clip range of the outer epochs.
    """

    env: str = "RoboSumo-Bug-vs-Bug-v0"
    opponents: str = "zoo:selfplay-bug"
    iterations: int = 100
    meta_batch: int = 8
    episodes: int = 4
    episode_steps: int | None = None
    gamma: float = 0.995
    lr: float = 3e-4
    advantage_lr: float | None = None
    alpha_lr: float | None = None
    lr_decay: bool = True
    grad_clip: float | None = 1.0
    reward_scale: float = 0.01
    seed: int = 0
    snapshot_every: int = 10
    init_from: str | None = None
    nthread: int = 1
    model: NoRMLConfig = field(default_factory=default_model)
    outer_epochs: int = 1
    clip: float = 0.2

    def __post_init__(self) -> None:
        if sumo_bodies_of(self.env) is None:
            raise ValueError(f"NoRML in RoboSumo trains on RoboSumo-X-vs-Y-v0 (X, Y in Ant, Bug, "
                             f"Spider), got {self.env!r}")
        check_counts(self, ("iterations", "meta_batch", "episodes", "snapshot_every",
                            "outer_epochs"), optional=("episode_steps",))
        if not 0 < self.gamma <= 1:
            raise ValueError(f"need 0 < gamma <= 1, got {self.gamma}")
        check_positive(self, ("lr", "advantage_lr", "alpha_lr", "grad_clip", "reward_scale",
                              "clip"))
        if not self.model.normalize_obs:
            raise ValueError("NoRML in RoboSumo needs a model with normalize_obs=True")

    @property
    def bodies(self) -> tuple[str, str]:
        return sumo_bodies(self.env)



class SumoNoRMLTrainer(LocomotionMetaTrainer):
    """One NoRML meta-training run in RoboSumo; ``iterate()`` is one meta-iteration; resumable.

    Args:
        config: the run.
        run_dir: its directory.
        resume: continue the run held in ``run_dir`` (same config) instead of refusing it.
        tensorboard: also write TensorBoard events.
    """

    config: SumoNoRMLConfig

    def __init__(self, config: SumoNoRMLConfig, run_dir: Path | str, resume: bool = True,
                 tensorboard: bool = True) -> None:
        self.winners: tuple[np.ndarray, np.ndarray] | None = None
        super().__init__(config, run_dir, resume=resume, tensorboard=tensorboard,
                         nthread=config.nthread)

    def _build_model(self) -> NoRMLModel:
        from envs.robosumo.vector import SumoVectorEnv

        c = self.config
        lineage = opponent_lineage(c.opponents)
        # the versions of the run: a lineage still being written does not change the pairs
        self.versions = lineage.versions()
        if len(self.versions) < 2:
            raise ValueError(f"opponents {c.opponents!r}: NoRML meta-trains on consecutive "
                             f"versions and needs a lineage of >= 2 snapshots, found "
                             f"{len(self.versions)}")
        learner, opponent = c.bodies
        opp_meta = read_meta(lineage.path(self.versions[-1]))
        if opp_meta.body is not None and opp_meta.body != opponent:
            raise ValueError(f"opponents {c.opponents!r} control a {opp_meta.body}, but {c.env} "
                             f"needs opponents controlling a {opponent}")
        if c.init_from:
            from agents import resolve

            init_meta = read_meta(resolve(c.init_from))
            if init_meta.body is not None and init_meta.body != learner:
                raise ValueError(f"init_from {c.init_from!r} controls {article(init_meta.body)}; "
                                 f"{c.env} needs a {learner}")
        n = c.meta_batch * c.episodes
        kwargs = {} if c.episode_steps is None else {"max_steps": c.episode_steps}
        self.envs = SumoVectorEnv(n, c.bodies, nthread=self._nthread, **kwargs)
        self.max_steps = self.envs.core.max_steps
        self.opponents = LineageOpponents(lineage, n, c.seed + 1)
        model = NoRMLModel(self.envs.observation_spaces["player_0"].shape[0],
                           self.envs.action_spaces["player_0"].shape[0], c.model)
        if c.init_from:
            init_from_ppo(model, c.init_from)
        return model

    @torch.no_grad()
    def collect(self, versions: list[int], params: list[dict[str, torch.Tensor]],
                seed: int) -> tuple[TaskData, np.ndarray]:
        """One bout per arena; arena block i (K arenas) plays ``versions[i]`` with ``params[i]``.

        Returns:
            ``TaskData`` ``[tasks, K, T, ...]`` cut at the phase's longest bout (observations
            normalised, rewards scaled; every field 0 where ``mask`` is 0) and the winners
            ``[tasks, K]`` (0 the learner, 1 the opponent, -1 a draw).
        """
        c, model = self.config, self.model
        k, n_tasks = c.episodes, len(versions)
        n = n_tasks * k
        self.opponents.set_versions(np.arange(n), np.repeat(versions, k))
        obs, _ = self.envs.reset(seed=seed)
        stacked = _stack(params)
        out: dict[str, list[torch.Tensor]] = {name: [] for name in TaskData._fields}
        winners = np.full(n, -1, dtype=np.int64)
        active = np.ones(n, dtype=bool)
        for _ in range(self.max_steps):
            x = model.normalize(obs[0])
            mean, log_std = _batched_policy(model, stacked, x.reshape(n_tasks, k, -1))
            action = (mean + log_std.exp().unsqueeze(1)
                      * torch.randn(mean.shape, generator=self.generator)).reshape(n, -1)
            obs, rewards, terminated, truncated, info = self.envs.step(
                (action.double().numpy(), self.opponents.actions(obs[1])))
            ended = terminated | truncated
            self.opponents.bouts_ended(ended)
            m = torch.as_tensor(active, dtype=torch.float32)
            out["obs"].append(x * m[:, None])
            out["actions"].append(action * m[:, None])
            out["rewards"].append(torch.as_tensor(rewards[:, 0] * c.reward_scale,
                                                  dtype=torch.float32) * m)
            out["next_obs"].append(model.normalize(info["final_obs"][0]) * m[:, None])
            out["mask"].append(m)
            finished = ended & active
            winners[finished] = info["winner"][finished]
            active &= ~ended
            if not active.any():
                break
        data = TaskData(*(torch.stack(out[name], 1).reshape(n_tasks, k, -1,
                                                            *out[name][0].shape[1:])
                          for name in TaskData._fields))
        return data, winners.reshape(n_tasks, k)

    def sample(self) -> tuple[TaskData, dict[str, torch.Tensor], TaskData]:
        """Steps 1-3: bouts of theta against v_k, the inner steps (with graph), bouts of each
        theta_i against v_{k+1}."""
        c, model = self.config, self.model
        pairs = consecutive_pairs(self.versions, self.rng, c.meta_batch)
        n = self.envs.num_envs  # two resets an iteration
        seed, post_seed = (env_seed(c.seed, 2 * self.iteration + phase, n) for phase in (0, 1))
        theta = {k: v.detach() for k, v in model.theta().items()}
        pre, pre_won = self.collect([p[0] for p in pairs], [theta] * c.meta_batch, seed)
        adapted = model.adapt_tasks(pre, c.gamma)
        post, post_won = self.collect([p[1] for p in pairs], _split(adapted), post_seed)
        self.winners = (pre_won, post_won)
        return pre, adapted, post

    def _extra_metrics(self, pre: TaskData, post: TaskData) -> dict[str, float]:
        assert self.winners is not None
        (pre_won, post_won), scale = self.winners, self.config.reward_scale
        return {"return_pre": float((pre.rewards * pre.mask).sum(-1).mean()) / scale,
                "return_post": float((post.rewards * post.mask).sum(-1).mean()) / scale,
                "pre_win_rate": float((pre_won == 0).mean()),
                "post_win_rate": float((post_won == 0).mean()),
                "pre_loss_rate": float((pre_won == 1).mean()),
                "post_loss_rate": float((post_won == 1).mean()),
                "bout_steps": float(post.mask.sum(-1).mean())}

    def state_extra(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return ({"rng.opponents": self.opponents.generator.get_state()},
                {"opponent_versions": [int(v) for v in self.versions]})

    def restore_extra(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        self.opponents.generator.set_state(tensors["rng.opponents"])
        stored = [int(v) for v in extra["opponent_versions"]]
        missing = sorted(set(stored) - set(self.versions))
        if missing:
            raise ValueError(f"{self.run_dir}: the run trained against versions {missing} of "
                             f"{self.config.opponents!r}, which are no longer stored")
        self.versions = stored

    @property
    def body(self) -> str | None:
        return self.config.bodies[0]

    @property
    def env_id(self) -> str | None:
        return self.config.env


def meta_train_sumo(config: SumoNoRMLConfig, run_dir: Path | str, resume: bool = True,
                    progress: bool = False, tensorboard: bool = True) -> SumoNoRMLTrainer:
    """Run (or resume) a RoboSumo meta-training run to completion and return its trainer."""
    trainer = SumoNoRMLTrainer(config, run_dir, resume=resume, tensorboard=tensorboard)
    trainer.run(progress=progress)
    return trainer


__all__ = ["SumoNoRMLConfig", "SumoNoRMLTrainer", "meta_train_sumo"]
