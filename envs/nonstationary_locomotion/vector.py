"""Many locomotion simulations with different damages, stepped together in C.

``LocomotionVectorEnv`` is a Gymnasium ``VectorEnv`` over one ``mujoco.batch.Batch``: every
simulation has its own actuator gains (``expand("actuator_gainprm")``), so a sampler can collect
from all 12 training pairs of the bug at once. Simulation ``i`` reproduces a ``LocomotionEnv``
reset with seed ``seed + i`` (or ``seed[i]``) and the same damage, step for step.

All simulations share one episode length and never terminate, so their episodes end together.
Autoreset follows Gymnasium's next-step mode by default: the ``step`` after the truncating one
resets every simulation (continuing each one's random stream, keeping its damage) and returns the
first observation with zero reward. With ``autoreset_mode=AutoresetMode.SAME_STEP`` (what the
samplers use) the truncating step itself resets and returns the first observation of the next
episode, with the last one of the finished episode in ``info["final_obs"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium
import mujoco
import mujoco.batch
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.bodies import body_info, check_body
from envs.checks import real_actions, reset_options
from envs.nonstationary_locomotion.env import (
    CTRL_COST_WEIGHT,
    FORWARD_REWARD_WEIGHT,
    LATERAL_COST_WEIGHT,
    MAX_STEPS,
    RESET_NOISE_SCALE,
    RESET_OPTIONS,
    check_lateral,
    check_weights,
    damage_gains,
    initial_state,
    observation_space,
    torque_scales,
)
from envs.nonstationary_locomotion.scene import FRAME_SKIP, build_spec, leg_layout
from envs.nonstationary_locomotion.tasks import LegDamage, check_damage


class LocomotionVectorEnv(VectorEnv):
    """``num_envs`` copies of ``LocomotionEnv`` (same body), each with its own damage.

    Observations, rewards and the ``reward_<term>`` infos are those of ``LocomotionEnv``,
    stacked: ``(num_envs, obs_dim)`` float32 and ``(num_envs,)`` arrays. The arrays returned by
    ``step`` and ``reset`` are fresh copies.

    Args:
        num_envs: number of simulations.
        body: robot body.
        max_episode_steps: the step limit when ``max_steps`` is None (``gymnasium.make_vec``
            passes the id's ``max_episode_steps`` so).
        max_steps, forward_reward_weight, ctrl_cost_weight, lateral_cost_weight,
            reset_noise_scale: as
            ``LocomotionEnv``.
        damages: initial damage, one for all or one per simulation (``None``: healthy).
        nthread: threads of the batch (0: all CPUs). Results do not depend on it.
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` (default) or ``AutoresetMode.SAME_STEP``.
        observe_damage: append every actuator's torque scale to the observations (as
            ``LocomotionEnv``).
    """

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.NEXT_STEP,
                                          "render_modes": []}

    def __init__(
        self,
        num_envs: int = 12,
        body: str = "bug",
        *,
        max_steps: int | None = MAX_STEPS,
        max_episode_steps: int | None = None,
        forward_reward_weight: float = FORWARD_REWARD_WEIGHT,
        ctrl_cost_weight: float = CTRL_COST_WEIGHT,
        lateral_cost_weight: float = LATERAL_COST_WEIGHT,
        reset_noise_scale: float = RESET_NOISE_SCALE,
        damages: LegDamage | Sequence[LegDamage | None] | None = None,
        nthread: int = 0,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        observe_damage: bool = False,
    ) -> None:
        mode = AutoresetMode(autoreset_mode)
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(f"autoreset_mode must be next-step or same-step, got {mode}")
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.body = check_body(body)
        if not (isinstance(num_envs, int | np.integer) and num_envs > 0):
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if max_steps is None:  # as registered: the limit make_vec passes, else the default
            max_steps = MAX_STEPS if max_episode_steps is None else max_episode_steps
        if not (isinstance(max_steps, int | np.integer) and max_steps > 0):
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        check_weights(forward_reward_weight=forward_reward_weight,
                      ctrl_cost_weight=ctrl_cost_weight, lateral_cost_weight=lateral_cost_weight,
                      reset_noise_scale=reset_noise_scale)
        check_lateral(lateral_cost_weight)
        self.num_envs = int(num_envs)
        self.max_steps = int(max_steps)
        self.forward_reward_weight = float(forward_reward_weight)
        self.ctrl_cost_weight = float(ctrl_cost_weight)
        self.lateral_cost_weight = float(lateral_cost_weight)
        self.reset_noise_scale = float(reset_noise_scale)
        self.render_mode = None

        self.model = build_spec(self.body).compile()
        self.dt = self.model.opt.timestep * FRAME_SKIP
        self.layout = leg_layout(self.model, self.body)
        self.batch = mujoco.batch.Batch(self.model, self.num_envs, nthread=nthread)
        self._qpos = self.batch.bind("qpos")
        self._qvel = self.batch.bind("qvel")
        self._ctrl = self.batch.bind("ctrl")
        self._gains = self.batch.expand("actuator_gainprm")
        self._base_gain = self.model.actuator_gainprm[:, 0].copy()
        self.damages: list[LegDamage | None] = [None] * self.num_envs
        self.set_damages(damages)

        n = body_info(self.body).n_joints
        self.single_action_space = gymnasium.spaces.Box(-1.0, 1.0, (n,), np.float32)
        self.observe_damage = bool(observe_damage)
        self.single_observation_space = observation_space(self.model, self.observe_damage)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

        nq = self.model.nq
        self._nq = nq
        self._obs = np.zeros(self.observation_space.shape, np.float32)
        self._x_before = np.zeros(self.num_envs)
        self._action = np.zeros((self.num_envs, n))
        self._rngs = [seeding.np_random()[0] for _ in range(self.num_envs)]
        self._steps = 0
        self._needs_reset = True

    # ---------------------------------------------------------------- damage

    def set_damages(self, damages: LegDamage | Sequence[LegDamage | None] | None) -> None:
        """Set one damage for every simulation, or one per simulation (``None``: healthy)."""
        if damages is None or isinstance(damages, LegDamage):
            damages = [damages] * self.num_envs
        damages = list(damages)
        if len(damages) != self.num_envs:
            raise ValueError(f"need one damage per simulation ({self.num_envs}), "
                             f"got {len(damages)}")
        checked = [check_damage(self.body, d) for d in damages]
        for i, damage in enumerate(checked):
            self._gains[i, :, 0] = damage_gains(self._base_gain, self.layout.actuators, damage)
        self.damages = checked

    # ---------------------------------------------------------------- episode

    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None):
        """Reset every simulation; ``seed`` is an int (sim ``i`` gets ``seed + i``) or a list.

        Options:
            damage: a ``LegDamage`` or ``None`` for all simulations, or a sequence with one per
                simulation; kept until changed.
        """
        if seed is not None:
            seeds = ([seed + i for i in range(self.num_envs)] if isinstance(seed, int | np.integer)
                     else list(seed))
            if len(seeds) != self.num_envs:
                raise ValueError(f"need one seed per simulation ({self.num_envs}), "
                                 f"got {len(seeds)}")
            for i, s in enumerate(seeds):
                if s is not None:
                    self._rngs[i] = seeding.np_random(int(s))[0]
        if "damage" in (options := reset_options(options, RESET_OPTIONS)):
            self.set_damages(options["damage"])
        self._reset_all()
        return self._observe(), {}

    def _reset_all(self) -> None:
        self.batch.reset(stage=mujoco.mjtStage.mjSTAGE_NONE)
        for i, rng in enumerate(self._rngs):
            self._qpos[i], self._qvel[i] = initial_state(self.model, rng, self.reset_noise_scale)
        self.batch.forward()
        self._steps = 0
        self._needs_reset = False

    def step(self, actions: np.ndarray):
        """Step every simulation with its row of ``actions`` (``(num_envs, 2 * legs)``)."""
        n = self.num_envs
        if self._needs_reset:  # next-step autoreset after the truncating step
            self._reset_all()
            zeros = np.zeros(n)
            falses = np.zeros(n, dtype=bool)
            return (self._observe(), zeros, falses, falses.copy(),
                    {"reward_forward": zeros.copy(), "reward_ctrl": zeros.copy(),
                     "reward_lateral": zeros.copy()})
        a = self._action
        a[:] = real_actions(actions, self.action_space.shape, "actions", finite=False)
        ctrl_cost = self.ctrl_cost_weight * np.einsum("ij,ij->i", a, a)
        if not np.isfinite(ctrl_cost).all():
            bad = np.flatnonzero(~np.isfinite(ctrl_cost)).tolist()
            raise ValueError(f"actions of simulations {bad} contain NaN or infinite values")
        np.copyto(self._x_before, self._qpos[:, 0])
        y_before = self._qpos[:, 1].copy()
        self._ctrl[:] = a
        self.batch.step(nstep=FRAME_SKIP)
        self._steps += 1
        x_after = self._qpos[:, 0].copy()
        x_velocity = (x_after - self._x_before) / self.dt
        y_velocity = (self._qpos[:, 1] - y_before) / self.dt
        forward = self.forward_reward_weight * x_velocity
        lateral = self.lateral_cost_weight * np.abs(y_velocity)
        truncated = np.full(n, self._steps >= self.max_steps)
        info = {"reward_forward": forward, "reward_ctrl": -ctrl_cost, "reward_lateral": -lateral,
                "x_position": x_after, "x_velocity": x_velocity, "y_velocity": y_velocity}
        obs = self._observe()
        if truncated[0] and self.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP:
            info["final_obs"] = obs
            self._reset_all()
            obs = self._observe()
        else:
            self._needs_reset = bool(truncated[0])
        return obs, forward - ctrl_cost - lateral, np.zeros(n, dtype=bool), truncated, info

    def observe(self) -> np.ndarray:
        """The simulations' current observations (a copy), without stepping: what they show
        after ``set_damages`` between steps when ``observe_damage`` is on."""
        return self._observe()

    def _observe(self) -> np.ndarray:
        obs = self._obs
        nqv = self._nq + self._qvel.shape[1]
        obs[:, :self._nq] = self._qpos
        obs[:, self._nq:nqv] = self._qvel
        if self.observe_damage:
            obs[:, nqv:] = torque_scales(self._gains[:, :, 0], self._base_gain)
        return obs.copy()

    def get_data(self, i: int) -> mujoco.MjData:
        """A copy of simulation ``i``'s state as an ``MjData`` (for rendering or inspection)."""
        data = self.batch.get_data(i)
        mujoco.mj_forward(self.batch.get_model(i), data)
        return data


__all__ = ["LocomotionVectorEnv"]
