"""Nonstationary locomotion as a Gymnasium env: run along +x while a leg pair loses torque."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium
import mujoco
import numpy as np

from envs.bodies import body_info, check_body
from envs.checks import real_actions, reset_options
from envs.nonstationary_locomotion.scene import FRAME_SKIP, build_spec, leg_layout
from envs.nonstationary_locomotion.tasks import LegDamage, check_damage

MAX_STEPS = 100  # env steps per episode by default, 5 s at dt = 0.05 s
FORWARD_REWARD_WEIGHT = 1.0  # reward per m/s of torso velocity along +x
CTRL_COST_WEIGHT = 5e-3  # cost per unit of sum(action^2): rllab's ant, 0.5 * 1e-2
LATERAL_COST_WEIGHT = 0.0  # cost per m/s of sideways torso speed |vy| (0: the paper's task)
RESET_NOISE_SCALE = 0.1  # rad (or m) of uniform qpos noise, and std of qvel noise, at reset
REWARD_TERMS = ("forward", "ctrl", "lateral")
RESET_OPTIONS = ("damage",)


def initial_state(model: mujoco.MjModel, rng: np.random.Generator,
                  noise: float) -> tuple[np.ndarray, np.ndarray]:
    """A start state: ``qpos0`` plus uniform noise, ``qvel`` Gaussian noise, unit quaternion.

    The single env and the vectorised env both draw their start states here, in this order, so
    that equal seeds give equal starts.
    """
    qpos = model.qpos0 + rng.uniform(-noise, noise, size=model.nq)
    qvel = noise * rng.standard_normal(model.nv)
    qpos[3:7] /= np.linalg.norm(qpos[3:7])
    return qpos, qvel


def damage_gains(base: np.ndarray, actuators: tuple[tuple[int, int], ...],
                 damage: LegDamage | None) -> np.ndarray:
    """Actuator gains (``actuator_gainprm[:, 0]``) with both legs of the damaged pair scaled."""
    gains = base.copy()
    if damage is not None:
        for leg in damage.pair:
            gains[list(actuators[leg - 1])] *= damage.scale
    return gains


def observation_space(model: mujoco.MjModel,
                      observe_damage: bool = False) -> gymnasium.spaces.Box:
    """``qpos`` then ``qvel`` as float32; the torso quaternion is bounded by [-1, 1]. With
    ``observe_damage``, then every actuator's torque scale, in [0, 1]."""
    n = model.nq + model.nv
    extra = model.nu if observe_damage else 0
    low = np.full(n + extra, -np.inf, np.float32)
    high = np.full(n + extra, np.inf, np.float32)
    low[3:7], high[3:7] = -1.0, 1.0
    low[n:], high[n:] = 0.0, 1.0
    return gymnasium.spaces.Box(low, high, dtype=np.float32)


def torque_scales(gains: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Each actuator's torque scale (1: healthy) from its gains and the healthy ones."""
    return (gains / base).astype(np.float32)


def check_weights(**weights: float) -> None:
    """Raise ``ValueError`` for a weight that is not a finite number."""
    for name, value in weights.items():
        if not (isinstance(value, int | float | np.floating) and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number, got {value!r}")


def check_lateral(weight: float) -> None:
    """The lateral cost is a cost: a negative weight would pay for running sideways."""
    if weight < 0:
        raise ValueError(f"lateral_cost_weight must be >= 0 (a cost on sideways speed), "
                         f"got {weight!r}")


class LocomotionEnv(gymnasium.Env):
    """A robot (bug, ant or spider) on a flat floor, rewarded for running along +x, whose legs
    may be damaged.

    At every reset the robot faces +x: its forward axis (``body_info(body).forward``, back legs to
    front legs; -y in the bug's own frame) is turned onto world +x. ``model`` and ``data`` are the
    MuJoCo ``MjModel`` and ``MjData``, as in Gymnasium's ``MujocoEnv``.

    ## Observation (float32)

    | part | size (ant / bug / spider) |
    |---|---|
    | torso position x, y, z (world, absolute) and quaternion w, x, y, z | 7 |
    | joint angles hip_1, ankle_1, hip_2, ... (rad) | 8 / 12 / 16 |
    | torso linear velocity (world) and angular velocity (local) | 6 |
    | joint velocities, same order (rad/s) | 8 / 12 / 16 |
    | total | 29 / 37 / 45 |

    The damage is not observed: an agent has to infer it from how the body moves.

    ## Action

    ``Box(-1, 1, (2 * legs,))``: hip_1, ankle_1, hip_2, ... commands; an actuator delivers
    ``gain * clip(command, -1, 1)`` with gain 1 (or the damage scale) and joint gear 150.

    ## Rewards (each term is in ``info`` as ``reward_<term>``; the reward is their sum)

    | term | value |
    |---|---|
    | forward | ``forward_reward_weight * vx`` (1.0); vx: torso x displacement in the step / dt |
    | ctrl | ``-ctrl_cost_weight * sum(action^2)`` (0.005, rllab's ant), on the commanded action |
    | lateral | ``-lateral_cost_weight * abs(vy)`` (0: off); vy: torso y displacement / dt |

    The paper rewards speed in a fixed direction; weight 1 makes the return of an episode the
    distance covered divided by dt. The control cost is rllab's ant coefficient (the paper's code
    base): large enough to discourage needless full-torque chatter, small next to the speed term
    (at most 0.06 per step for the bug at full command on all 12 actuators). It is charged on the
    command, not on the delivered torque, so a damaged leg costs as much as a healthy one.
    The lateral cost is not part of the paper's task (weight 0 by default): a training-only
    term that makes running off +x cost more than its lost speed, for base policies that keep
    their heading.

    ## Episode end

    No termination: the robots cannot fall off a plane and a flipped robot may right itself.
    The episode is truncated after ``max_steps`` steps (100 = 5 s at dt 0.05 s, the horizon of
    MAML's locomotion tasks; a 7-episode chain is 700 steps). ``info`` also holds ``x_position``
    and ``x_velocity``.

    ## Reset options

    ``damage``: a ``LegDamage`` (or ``None`` for a healthy robot), kept for later resets until
    another one is given. Every actuator of both legs of the pair delivers exactly ``scale``
    times the command (``data.actuator_force``), via ``model.actuator_gainprm``.

    ## Arguments

    body ("bug"), max_steps (100), forward_reward_weight (1.0), ctrl_cost_weight (0.005),
    lateral_cost_weight (0), reset_noise_scale (0.1), damage (None: initial damage),
    observe_damage (False: True appends every actuator's torque scale to the observation, for
    an informed policy that knows the damage: an oracle, the bound on what adapting to it can
    give), render_mode (None or "rgb_array"), width (480), height (480).

    ## Version history

    v0: first version; implicitfast at 0.0125 s, 4 substeps (dt 0.05 s).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        body: str = "bug",
        *,
        max_steps: int | None = MAX_STEPS,
        forward_reward_weight: float = FORWARD_REWARD_WEIGHT,
        ctrl_cost_weight: float = CTRL_COST_WEIGHT,
        lateral_cost_weight: float = LATERAL_COST_WEIGHT,
        reset_noise_scale: float = RESET_NOISE_SCALE,
        damage: LegDamage | None = None,
        observe_damage: bool = False,
        render_mode: str | None = None,
        width: int = 480,
        height: int = 480,
    ) -> None:
        self.body = check_body(body)
        if max_steps is not None and not (isinstance(max_steps, int | np.integer)
                                          and max_steps > 0):
            raise ValueError(f"max_steps must be a positive integer or None, got {max_steps!r}")
        check_weights(forward_reward_weight=forward_reward_weight,
                      ctrl_cost_weight=ctrl_cost_weight, lateral_cost_weight=lateral_cost_weight,
                      reset_noise_scale=reset_noise_scale)
        check_lateral(lateral_cost_weight)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, "
                             f"got {render_mode!r}")
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            raise ValueError(f"width and height must be positive integers, got {width}x{height}")
        # None: no step limit of its own (the registered ids: Gymnasium's TimeLimit truncates)
        self.max_steps = None if max_steps is None else int(max_steps)
        self.forward_reward_weight = float(forward_reward_weight)
        self.ctrl_cost_weight = float(ctrl_cost_weight)
        self.lateral_cost_weight = float(lateral_cost_weight)
        self.reset_noise_scale = float(reset_noise_scale)
        self.render_mode = render_mode
        self.width, self.height = width, height

        self.model = build_spec(self.body).compile()
        self.data = mujoco.MjData(self.model)
        self.frame_skip = FRAME_SKIP
        self.dt = self.model.opt.timestep * FRAME_SKIP
        self.layout = leg_layout(self.model, self.body)
        self._base_gain = self.model.actuator_gainprm[:, 0].copy()
        self.damage: LegDamage | None = None
        self.set_damage(damage)

        n = body_info(self.body).n_joints
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (n,), np.float32)
        self.observe_damage = bool(observe_damage)
        self.observation_space = observation_space(self.model, self.observe_damage)
        self._nq, self._nqv = self.model.nq, self.model.nq + self.model.nv
        self._obs = np.zeros(self.observation_space.shape, np.float32)
        self._steps: int | None = None  # None until the first reset
        self._renderer: mujoco.Renderer | None = None
        self._camera: mujoco.MjvCamera | None = None

    # ---------------------------------------------------------------- physics accessors

    def torso_xyz(self) -> np.ndarray:
        """World position (x, y, z) of the torso (a copy)."""
        return self.data.qpos[:3].copy()

    def set_damage(self, damage: LegDamage | None) -> None:
        """Apply ``damage`` (``None``: healthy) from the next physics step on."""
        self.damage = check_damage(self.body, damage)
        self.model.actuator_gainprm[:, 0] = damage_gains(self._base_gain, self.layout.actuators,
                                                         self.damage)

    # ---------------------------------------------------------------- episode

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode from a noisy standing pose facing +x.

        Options:
            damage (LegDamage | None): the damage from now on (see the class docstring).
        """
        super().reset(seed=seed)
        if "damage" in (options := reset_options(options, RESET_OPTIONS)):
            self.set_damage(options["damage"])
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[:], d.qvel[:] = initial_state(m, self.np_random, self.reset_noise_scale)
        mujoco.mj_forward(m, d)
        self._steps = 0
        return self._observe(), {}

    def step(self, action: np.ndarray):
        """Apply ``action`` for ``frame_skip`` physics steps; see the class docstring."""
        if self._steps is None or (self.max_steps is not None
                                   and self._steps >= self.max_steps):
            raise RuntimeError("the episode is over (or never started): call reset() before "
                               "step()")
        a = real_actions(action, self.action_space.shape, f"action of the {self.body}")
        ctrl_cost = self.ctrl_cost_weight * float(a @ a)
        if not math.isfinite(ctrl_cost):  # a NaN or inf command would poison the physics
            raise ValueError(f"action contains NaN or infinite values: {action}")
        d = self.data
        x_before, y_before = d.qpos[0], d.qpos[1]
        d.ctrl[:] = a
        mujoco.mj_step(self.model, d, nstep=self.frame_skip)
        self._steps += 1
        x_after = d.qpos[0]
        x_velocity = (x_after - x_before) / self.dt
        y_velocity = (d.qpos[1] - y_before) / self.dt
        forward = self.forward_reward_weight * x_velocity
        lateral = self.lateral_cost_weight * abs(y_velocity)
        info = {"reward_forward": forward, "reward_ctrl": -ctrl_cost, "reward_lateral": -lateral,
                "x_position": x_after, "x_velocity": x_velocity, "y_velocity": y_velocity}
        truncated = self.max_steps is not None and self._steps >= self.max_steps
        return self._observe(), forward - ctrl_cost - lateral, False, truncated, info

    def _observe(self) -> np.ndarray:
        obs, d = self._obs, self.data
        obs[:self._nq] = d.qpos
        obs[self._nq:self._nqv] = d.qvel
        if self.observe_damage:
            obs[self._nqv:] = torque_scales(self.model.actuator_gainprm[:, 0], self._base_gain)
        return obs.copy()

    # ---------------------------------------------------------------- rendering

    def render(self) -> np.ndarray | None:
        """An RGB frame (height, width, 3) from a camera that follows the torso."""
        if self.render_mode is None:
            gymnasium.logger.warn("render() called with render_mode=None; pass "
                                  "render_mode='rgb_array' to the constructor")
            return None
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.height, self.width)
            self._camera = mujoco.MjvCamera()
            self._camera.type = mujoco.mjtCamera.mjCAMERA_FREE
            self._camera.distance, self._camera.elevation = 4.0, -25.0
            self._camera.azimuth = 90.0  # looking along +y, so running to +x goes left to right
        self._camera.lookat[:] = (self.data.qpos[0], self.data.qpos[1], 0.4)
        self._renderer.update_scene(self.data, self._camera)
        return self._renderer.render()

    def close(self) -> None:
        """Release the renderer."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


__all__ = ["CTRL_COST_WEIGHT", "FORWARD_REWARD_WEIGHT", "LATERAL_COST_WEIGHT", "MAX_STEPS",
           "REWARD_TERMS", "LocomotionEnv", "initial_state"]
