"""RoboSumo's Gymnasium ids against a zoo opponent: ``RoboSumo-X-vs-Y-Zoo-v0`` (and
``-Zoo-Batched-v0``).

The ``RoboSumo-X-vs-Y-v0`` ids (``envs.robosumo``, which knows nothing of learning) drive
player_1 with uniformly random torques. Such a robot falls over by itself (a zero-action ant
wins 40 of 40 bouts against a random ant), so a learning curve against it looks solved from the
first step. The ``-Zoo-v0`` ids, registered when ``agents`` is imported, drive player_1 with the
zoo's agent of its body, a pinned snapshot of the lineage ``zoo:selfplay-<body>``
(``DEFAULT_OPPONENTS``; the ids' version changes when the pin does), its actions sampled from a
generator that each seeded reset reseeds (a seeded reset gives a reproducible bout). Everything
else is the v0 env: observation, reward, step limit, ``max_episode_steps``. They are a family of
their own rather than a v1 of the random-opponent ids: a v1 would make Gymnasium call every v0
out of date and resolve an unversioned name to it, and the v0 ids keep their documented
default. ``opponent=`` takes ``"zoo"`` (the default), any RoboSumo PPO policy reference
(``"zoo:<name>[@<version>]"`` or a checkpoint path), ``"random"``, ``"idle"`` or a callable;
``deterministic=True`` makes a policy opponent act with its mean action::

    import agents, gymnasium
    env = gymnasium.make("RoboSumo-Ant-vs-Bug-Zoo-v0")               # the zoo's bug
    env = gymnasium.make("agents:RoboSumo-Ant-vs-Bug-Zoo-v0")        # imports agents itself
    env = gymnasium.make("RoboSumo-Ant-vs-Bug-Zoo-v0", opponent="zoo:selfplay-bug@60")
    venv = gymnasium.make_vec("RoboSumo-Ant-vs-Bug-Zoo-Batched-v0", num_envs=16)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from envs.bodies import BODIES, article
from envs.robosumo.gym_env import OPPONENTS, REGISTERED_MAX_STEPS, SumoGymEnv
from envs.robosumo.gym_vector import SumoGymVectorEnv
from envs.timelimit import STEP_LIMIT_SYNC

VERSION = 0  # of the -Zoo ids: bumped whenever DEFAULT_OPPONENTS changes
ZOO = "zoo"  # the default opponent: the zoo's lineage of the opponent's body
# The default opponent of each body: a stored snapshot of the shipped lineage (tested to exist,
# so that replacing the zoo's lineage fails until the pin and VERSION are updated together).
DEFAULT_OPPONENTS = {"ant": "zoo:selfplay-ant@123", "bug": "zoo:selfplay-bug@123",
                     "spider": "zoo:selfplay-spider@123"}


def gym_id(a: str, b: str) -> str:
    """``RoboSumo-A-vs-B-Zoo-v0``."""
    return f"RoboSumo-{a.capitalize()}-vs-{b.capitalize()}-Zoo-v{VERSION}"


def batched_gym_id(a: str, b: str) -> str:
    """``RoboSumo-A-vs-B-Zoo-Batched-v0`` (for ``gymnasium.make_vec``)."""
    return f"RoboSumo-{a.capitalize()}-vs-{b.capitalize()}-Zoo-Batched-v{VERSION}"


def default_opponent(body: str) -> str:
    """The reference the ids' default opponent of ``body`` is."""
    return DEFAULT_OPPONENTS[body]


class PolicyOpponent:
    """Player_1 acting with a PPO policy checkpoint.

    Called with one observation ``[d]`` (``SumoGymEnv``) or, with ``batched``, a batch ``[n, d]``
    (``SumoGymVectorEnv``, whose arenas reset on their own: a batched opponent must be
    feed-forward). ``reset(seed)``, which the envs call at every reset, restarts the action
    noise from ``seed`` and zeroes a recurrent state.

    Raises:
        ValueError: an unknown reference, a checkpoint of another body or of an agent that is
            not a PPO policy, or a recurrent policy for a batch.
    """

    def __init__(self, ref: str, body: str, batched: bool = False,
                 deterministic: bool = False) -> None:
        from agents.checkpoint import read_meta
        from agents.policy import load_policy
        from agents.refs import resolve

        path = resolve(ref)
        meta = read_meta(path)
        if not meta.kind.startswith("ppo"):
            raise ValueError(f"opponent {ref!r} is a {meta.kind} agent; the RoboSumo ids take a "
                             f"PPO policy (zoo:<lineage>[@<version>] or a PPO checkpoint), "
                             f"'random', 'idle' or a callable")
        if meta.body is not None and meta.body != body:
            raise ValueError(f"opponent {ref!r} controls {article(meta.body)}; player_1 here is "
                             f"{article(body)}")
        self.policy, _ = load_policy(path)
        if batched and self.policy.recurrent:
            raise ValueError(f"opponent {ref!r} is recurrent; the batched ids reset arenas one "
                             f"by one and take feed-forward opponents (use make_vec on the "
                             f"plain id for a recurrent one)")
        self.ref, self.body, self.batched = ref, body, batched
        self.deterministic = deterministic
        self.generator = torch.Generator().manual_seed(0)
        self.state: torch.Tensor | None = None
        self.starts = np.ones(1, dtype=bool)

    def reset(self, seed: int | None = None) -> None:
        """A new bout (all of them, batched): noise from ``seed``, recurrent state zeroed."""
        if seed is not None:
            self.generator.manual_seed(int(seed))
        self.state, self.starts = None, np.ones(1, dtype=bool)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        batch = np.asarray(obs, dtype=np.float32)
        if not self.batched:
            batch = batch[None]
        out = self.policy.act(batch, self.state, self.starts if self.policy.recurrent else None,
                              deterministic=self.deterministic, generator=self.generator)
        self.state, self.starts = out.state, np.zeros(1, dtype=bool)
        return out.action if self.batched else out.action[0]

    def __repr__(self) -> str:
        return f"PolicyOpponent({self.ref!r}, body={self.body!r})"


def opponent_for(opponent: Any, body: str, batched: bool = False,
                 deterministic: bool = False) -> Any:
    """What the envs' ``opponent=`` gets for the ids' ``opponent`` (see the module docstring)."""
    if callable(opponent) or opponent in OPPONENTS:
        if deterministic:
            raise ValueError(f"deterministic=True applies to a policy opponent, not to "
                             f"{opponent!r}")
        return opponent
    if not isinstance(opponent, str):
        raise ValueError(f"opponent must be 'zoo', a PPO policy reference, 'random', 'idle' or "
                         f"a callable; got {opponent!r}")
    ref = default_opponent(body) if opponent == ZOO else opponent
    return PolicyOpponent(ref, body, batched=batched, deterministic=deterministic)


def _check_fits(opponent: Any, obs_space: Any, act_space: Any) -> None:
    """A policy opponent must read player_1's observation and give its action."""
    if isinstance(opponent, PolicyOpponent):
        want = (obs_space.shape[0], act_space.shape[0])
        have = (opponent.policy.obs_dim, opponent.policy.act_dim)
        if want != have:
            raise ValueError(f"opponent {opponent.ref!r} reads {have[0]} values and acts with "
                             f"{have[1]}; player_1 of this matchup observes {want[0]} and acts "
                             f"with {want[1]} (a RoboSumo policy of its body is needed)")


def make_env(bodies: tuple[str, str] = ("ant", "ant"), opponent: Any = ZOO,
             deterministic: bool = False, **kwargs: Any) -> SumoGymEnv:
    """``SumoGymEnv`` with player_1 driven by ``opponent`` (default: the zoo's agent)."""
    player_1 = opponent_for(opponent, bodies[1], False, deterministic)
    env = SumoGymEnv(bodies, opponent=player_1, **kwargs)
    _check_fits(player_1, env.sumo.observation_space("player_1"),
                env.sumo.action_space("player_1"))
    return env


def make_vector_env(num_envs: int = 8, bodies: tuple[str, str] = ("ant", "ant"),
                    opponent: Any = ZOO, deterministic: bool = False,
                    **kwargs: Any) -> SumoGymVectorEnv:
    """``SumoGymVectorEnv`` with player_1 driven by ``opponent`` (default: the zoo's agent)."""
    player_1 = opponent_for(opponent, bodies[1], True, deterministic)
    env = SumoGymVectorEnv(num_envs, bodies, opponent=player_1, **kwargs)
    _check_fits(player_1, env.arenas.observation_spaces["player_1"],
                env.arenas.action_spaces["player_1"])
    return env


def register() -> None:
    """Register ``RoboSumo-{Ant,Bug,Spider}-vs-{Ant,Bug,Spider}-Zoo-v0`` and their
    ``-Zoo-Batched-v0`` twins with Gymnasium (as ``envs.robosumo`` registers the v0 ids)."""
    import gymnasium

    for a in BODIES:
        for b in BODIES:
            if gym_id(a, b) not in gymnasium.registry:
                gymnasium.register(id=gym_id(a, b), entry_point="agents.sumo_ids:make_env",
                                   max_episode_steps=REGISTERED_MAX_STEPS,
                                   kwargs={"bodies": (a, b)},
                                   additional_wrappers=(STEP_LIMIT_SYNC,))
            if batched_gym_id(a, b) not in gymnasium.registry:
                gymnasium.register(id=batched_gym_id(a, b), entry_point="agents.sumo_ids:make_env",
                                   vector_entry_point="agents.sumo_ids:make_vector_env",
                                   max_episode_steps=REGISTERED_MAX_STEPS,
                                   kwargs={"bodies": (a, b)})
