"""Single-agent Gymnasium view of RoboSumo: player_0 against a given opponent policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np

from envs.bodies import BODIES
from envs.checks import reset_options
from envs.robosumo.sumo import RESET_OPTIONS, SumoEnv
from envs.timelimit import STEP_LIMIT_SYNC

REGISTERED_MAX_STEPS = 500  # the step limit of a bout, also the ids' max_episode_steps

OPPONENTS = ("random", "idle")
Opponent = Callable[[np.ndarray], np.ndarray]


class SumoGymEnv(gymnasium.Env):
    """RoboSumo seen by player_0; player_1 is driven by ``opponent``.

    Args:
        bodies: (player_0 body, player_1 body).
        opponent: ``"random"`` (default: uniform actions in [-1, 1] drawn from the env's seeded
            generator, so a seeded reset gives a reproducible episode), ``"idle"`` (zero torques:
            the robot stands still), or a callable mapping player_1's observation to its action.
            A callable with a ``reset()`` method has it called at every reset; one whose
            ``reset`` takes a ``seed`` keyword gets a seed drawn from the env's generator, so
            that a seeded reset seeds the opponent too. (``agents`` registers
            ``RoboSumo-X-vs-Y-Zoo-v0``, whose default opponent is the zoo's agent of player_1's
            body.)
        render_mode: ``None``, ``"rgb_array"`` or ``"human"``.
        **kwargs: passed to ``SumoEnv`` (max_steps, shaping weights, height_reference, ...).

    Observation, action, reward and info are player_0's, as documented on ``SumoEnv``; the reset
    info holds both torsos' positions. The ids are registered with ``max_episode_steps=500``, the
    env's own step limit; a limit given to ``gymnasium.make(..., max_episode_steps=N)`` becomes
    the env's step limit too, so that the draw penalty comes at step N (above 500 as well).
    """

    metadata = SumoEnv.metadata

    def __init__(self, bodies: tuple[str, str] = ("ant", "ant"),
                 opponent: str | Opponent = "random", render_mode: str | None = None,
                 **kwargs: Any) -> None:
        if isinstance(opponent, str) and opponent not in OPPONENTS:
            raise ValueError(f"opponent must be a callable or one of {OPPONENTS}, got {opponent!r}")
        if not (isinstance(opponent, str) or callable(opponent)):
            raise ValueError(f"opponent must be a callable or one of {OPPONENTS}, got {opponent!r}")
        self.sumo = SumoEnv(bodies=bodies, render_mode=render_mode, **kwargs)
        self.opponent = opponent
        self.render_mode = render_mode
        self.observation_space = self.sumo.observation_space("player_0")
        self.action_space = self.sumo.action_space("player_0")
        self._opponent_space = self.sumo.action_space("player_1")
        self._opponent_obs: np.ndarray | None = None

    @property
    def dt(self) -> float:
        """Seconds of simulated time per step (0.05: 5 physics steps of 0.01 s)."""
        return self.sumo.dt

    @property
    def model(self):
        """The arena's ``mujoco.MjModel``."""
        return self.sumo.model

    @property
    def data(self):
        """The arena's ``mujoco.MjData``."""
        return self.sumo.data

    def _opponent_action(self) -> np.ndarray:
        n = self._opponent_space.shape[0]
        if self.opponent == "idle":
            return np.zeros(n)
        if self.opponent == "random":
            return self.np_random.uniform(-1.0, 1.0, n)
        return self.opponent(self._opponent_obs)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        reset_options(options, RESET_OPTIONS)
        # One generator drives both the arena's start state and the random opponent.
        obs, _ = self.sumo.reset(seed=int(self.np_random.integers(2**31)), options=options)
        reset_opponent(self.opponent, self.np_random)
        self._opponent_obs = obs["player_1"]
        return obs["player_0"], {"torso_xyz": self.sumo.torso_xyz(0),
                                 "opponent_xyz": self.sumo.torso_xyz(1)}

    def step(self, action: np.ndarray):
        actions = {"player_0": action, "player_1": self._opponent_action()}
        obs, rewards, terms, truncs, infos = self.sumo.step(actions)
        self._opponent_obs = obs["player_1"]
        return (obs["player_0"], rewards["player_0"], terms["player_0"], truncs["player_0"],
                infos["player_0"])

    def render(self, mode: str | None = None):
        return self.sumo.render(mode)

    def close(self) -> None:
        self.sumo.close()


def reset_opponent(opponent: Any, rng: np.random.Generator) -> None:
    """Call a callable opponent's ``reset`` if it has one: ``reset(seed=...)`` with a seed drawn
    from ``rng`` when it takes a ``seed`` keyword, else ``reset()`` (and nothing is drawn)."""
    import inspect

    reset_fn = getattr(opponent, "reset", None)
    if not callable(reset_fn):
        return
    try:
        params = inspect.signature(reset_fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        params = {}
    if "seed" in params and params["seed"].kind is not inspect.Parameter.POSITIONAL_ONLY:
        reset_fn(seed=int(rng.integers(2**31)))
    else:
        reset_fn()


def gym_id(a: str, b: str) -> str:
    """Gymnasium id of a matchup, e.g. ``RoboSumo-Ant-vs-Bug-v0``."""
    return f"RoboSumo-{a.capitalize()}-vs-{b.capitalize()}-v0"


def batched_gym_id(a: str, b: str) -> str:
    """The matchup's id for ``gymnasium.make_vec``, e.g. ``RoboSumo-Ant-vs-Bug-Batched-v0``."""
    return f"RoboSumo-{a.capitalize()}-vs-{b.capitalize()}-Batched-v0"


def parse_gym_id(env_id: str) -> tuple[str, str] | None:
    """The bodies of ``RoboSumo-X-vs-Y-v0`` (the inverse of ``gym_id``), or None."""
    for a in BODIES:
        for b in BODIES:
            if env_id == gym_id(a, b):
                return a, b
    return None


def register_gym_envs() -> None:
    """Register ``RoboSumo-{Ant,Bug,Spider}-vs-{Ant,Bug,Spider}-v0`` with Gymnasium, and their
    ``-Batched-v0`` twins for ``gymnasium.make_vec``.

    The plain ids carry ``StepLimitSync`` (a limit given to ``make`` is where the draw comes);
    Gymnasium refuses its ``vector_entry_point`` mode on ids with additional wrappers, so the
    batched vector env (``SumoGymVectorEnv``, given ``max_episode_steps`` by ``make_vec``
    itself) has ids of its own: ``make_vec`` of a batched id steps all arenas in one batch,
    ``make_vec`` of a plain id steps ``SumoGymEnv`` copies one after the other.
    """
    for a in BODIES:
        for b in BODIES:
            if gym_id(a, b) not in gymnasium.registry:
                gymnasium.register(id=gym_id(a, b),
                                   entry_point="envs.robosumo.gym_env:SumoGymEnv",
                                   max_episode_steps=REGISTERED_MAX_STEPS,
                                   kwargs={"bodies": (a, b)},
                                   additional_wrappers=(STEP_LIMIT_SYNC,))
            if batched_gym_id(a, b) not in gymnasium.registry:
                gymnasium.register(id=batched_gym_id(a, b),
                                   entry_point="envs.robosumo.gym_env:SumoGymEnv",
                                   vector_entry_point="envs.robosumo.gym_vector:SumoGymVectorEnv",
                                   max_episode_steps=REGISTERED_MAX_STEPS,
                                   kwargs={"bodies": (a, b)})
