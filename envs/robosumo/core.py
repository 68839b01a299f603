"""What one-arena and many-arena RoboSumo share: configuration, model, spaces and the step rules."""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium
import numpy as np

from envs.bodies import BODIES, body_info, check_body
from envs.robosumo import rules
from envs.robosumo.rules import RewardWeights
from envs.robosumo.scene import FRAME_SKIP, PLAYERS, TATAMI_HEIGHT, build_spec, player_layout

HEIGHT_REFERENCES = ("surface", "world")
# s, simulation time at the start of every bout. MuJoCo resets a diverging simulation to time 0
# without raising (mujoco.batch gives no other sign of it), so a clock below this marks one.
CLOCK_START = 1.0


class StepResult(NamedTuple):
    """Outcome of one step of B arenas (arrays over arenas, ``[B, 2]`` per player)."""

    winner: np.ndarray  # [B] 0, 1 or -1
    terminated: np.ndarray  # [B]
    truncated: np.ndarray  # [B]
    unstable: np.ndarray  # [B] the simulation diverged and was reset by MuJoCo
    rewards: np.ndarray  # [B, 2]
    terms: dict[str, np.ndarray]  # reward_<term> -> [B, 2]


class SumoCore:
    """The compiled arena for a matchup, its spaces, and the rules applied after each step.

    Args are those of ``SumoEnv`` that concern the game (not rendering).
    """

    def __init__(self, bodies: Any = ("ant", "ant"), *, max_steps: int = 500,
                 weights: RewardWeights | None = None, height_reference: str = "surface",
                 face_each_other: bool = False, init_pos_noise: float = 0.1,
                 init_vel_noise: float = 0.1, tatami_size: float = 2.0,
                 densities: tuple[float | None, float | None] = (None, None)) -> None:
        if isinstance(bodies, str) or len(bodies) != 2:
            raise ValueError(f"bodies must be a pair of body names from {BODIES}, got {bodies!r}")
        self.bodies = (check_body(bodies[0]), check_body(bodies[1]))
        if not (isinstance(max_steps, int | np.integer) and max_steps > 0):
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        if height_reference not in HEIGHT_REFERENCES:
            raise ValueError(f"height_reference must be one of {HEIGHT_REFERENCES}, "
                             f"got {height_reference!r}")
        if not tatami_size > 0:
            raise ValueError(f"tatami_size must be positive, got {tatami_size!r}")
        for name, value in (("init_pos_noise", init_pos_noise), ("init_vel_noise", init_vel_noise)):
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        self.max_steps = int(max_steps)
        self.weights = weights or RewardWeights()
        self.height_reference = height_reference
        self.face_each_other = bool(face_each_other)
        self.init_pos_noise = float(init_pos_noise)
        self.init_vel_noise = float(init_vel_noise)
        self.tatami_size = float(tatami_size)

        self.model = build_spec(self.bodies, tatami_size=self.tatami_size,
                                densities=tuple(densities)).compile()
        self.dt = self.model.opt.timestep * FRAME_SKIP
        self.layouts = tuple(player_layout(self.model, p, b)
                             for p, b in zip(PLAYERS, self.bodies, strict=True))
        self.action_spaces = {}
        self.observation_spaces = {}
        for player, body in zip(PLAYERS, self.bodies, strict=True):
            n = body_info(body).n_joints
            self.action_spaces[player] = gymnasium.spaces.Box(-1.0, 1.0, (n,), np.float32)
            self.observation_spaces[player] = observation_space(body)
        self.z_offset = TATAMI_HEIGHT if height_reference == "surface" else 0.0
        self.out_limit = self.tatami_size + rules.OUT_MARGIN

    def initial_state(self, rng: np.random.Generator,
                      face_each_other: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A random start state ``(qpos, qvel)`` (see ``rules.initial_state``)."""
        face = self.face_each_other if face_each_other is None else face_each_other
        return rules.initial_state(self.model, self.layouts, rng, face, self.init_pos_noise,
                                   self.init_vel_noise)

    def torso_xy(self, qpos: np.ndarray) -> np.ndarray:
        """Torso xy of both players ``[B, 2, 2]`` (a copy)."""
        return rules.torso_positions(qpos, self.layouts)[..., :2]

    def observe(self, qpos: np.ndarray, qvel: np.ndarray, cfrc_ext: np.ndarray,
                forces: np.ndarray, out: list[np.ndarray]) -> None:
        """Both players' observations of B arenas into ``out`` (``forces``: scratch buffer)."""
        rules.clipped_forces(cfrc_ext, forces)
        rules.observe(qpos, qvel, forces, self.layouts, self.z_offset, out)

    def judge(self, qpos: np.ndarray, forces: np.ndarray, before_xy: np.ndarray,
              action_sq: np.ndarray, steps: np.ndarray, unstable: np.ndarray) -> StepResult:
        """Apply the rules after a step of B arenas.

        Args:
            qpos: ``[B, nq]`` state after the step.
            forces: ``[B, nbody, 6]`` clipped absolute contact forces after the step.
            before_xy: ``[B, 2, 2]`` torso xy before the step.
            action_sq: ``[B, 2]`` sum of squared actions of each player.
            steps: ``[B]`` steps taken in each bout, this one included.
            unstable: ``[B]`` the simulation diverged during the step.
        """
        xyz = rules.torso_positions(qpos, self.layouts)
        winner, terminated, truncated, draw = rules.outcome(
            xyz, self.out_limit, steps >= self.max_steps, unstable)
        opp_force = np.stack([forces[:, lay.torso].sum(-1) for lay in self.layouts[::-1]], axis=1)
        terms = rules.reward_terms(before_xy, xyz, action_sq, opp_force, winner, draw,
                                   self.weights, self.dt)
        rewards = sum(terms.values())
        return StepResult(winner, terminated, truncated, unstable, rewards, terms)


def observation_space(body: str) -> gymnasium.spaces.Box:
    """Box with the known bounds: quaternions in [-1, 1], forces in [0, 100], the rest unbounded."""
    info = body_info(body)
    n_q, n_v, n_f = 7 + info.n_joints, 6 + info.n_joints, 6 * info.n_bodies
    n = n_q + n_v + n_f + 13
    low = np.full(n, -np.inf, np.float32)
    high = np.full(n, np.inf, np.float32)
    k = n_q + n_v + n_f
    for quat in (slice(3, 7), slice(k + 3, k + 7)):
        low[quat], high[quat] = -1.0, 1.0
    for force in (slice(n_q + n_v, k), slice(k + 7, n)):
        low[force], high[force] = 0.0, rules.FORCE_CLIP
    return gymnasium.spaces.Box(low, high, dtype=np.float32)


def diverged(time: np.ndarray) -> np.ndarray:
    """Arenas whose clock fell below ``CLOCK_START``: MuJoCo reset them (to time 0) after NaN or
    huge values in some substep, and went on from the model's default state."""
    return time < CLOCK_START


__all__ = ["CLOCK_START", "HEIGHT_REFERENCES", "StepResult", "SumoCore", "diverged",
           "observation_space"]
