"""RoboSumo as a PettingZoo ParallelEnv: two robots wrestle on a square tatami."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium
import mujoco
import numpy as np
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from envs.bodies import BODIES, TORSO_RADIUS, body_info, check_body
from envs.robosumo.render import SumoRenderer
from envs.robosumo.scene import (
    FRAME_SKIP,
    PLAYERS,
    START_HEIGHT,
    START_RADIUS,
    TATAMI_HEIGHT,
    build_spec,
    player_layout,
)

WIN_REWARD = 2000.0  # to the winner; the loser gets -WIN_REWARD
DRAW_PENALTY = -1000.0  # to both players when the step limit is reached without a winner
FORCE_CLIP = 100.0  # N, contact forces are clipped to [-100, 100] before their absolute value
FALL_HEIGHT = 0.29  # m above the tatami: below it the torso sphere (r = 0.25) touches the surface
OUT_MARGIN = 0.1  # m, a torso at L-inf distance >= tatami_size + OUT_MARGIN from the centre is out
HEIGHT_REFERENCES = ("surface", "world")
REWARD_TERMS = ("win", "loss", "draw", "ctrl", "move_to_opponent", "push_out", "stay_in_center",
                "attack")


class SumoEnv(ParallelEnv):
    """Two robots (ant, bug or spider) on a tatami; each must push the other out or topple it.

    Both players act at once (PettingZoo Parallel API). ``model`` and ``data`` are the MuJoCo
    ``MjModel`` and ``MjData`` of the arena, as in Gymnasium's ``MujocoEnv``.

    ## Observation (float32, per player, in this order)

    | part | size (ant / bug / spider) |
    |---|---|
    | own qpos: torso x, y, z, quaternion (w, x, y, z), hinge angles | 15 / 19 / 23 |
    | own qvel: torso linear and angular velocity, hinge velocities | 14 / 18 / 22 |
    | abs(clip(cfrc_ext, -100, 100)) of each own body (torso + 3 per leg), 6 each | 78 / 114 / 150 |
    | opponent torso x, y, z, quaternion | 7 |
    | abs(clip(cfrc_ext, -100, 100)) of the opponent torso | 6 |
    | total | 120 / 164 / 208 |

    Heights (own and opponent z) are relative to the tatami surface by default, as in the released
    demos (``height_reference="world"`` observes the world z instead; the fall rule always uses
    the surface-relative height). Contact forces are real: ``mj_rnePostConstraint`` runs after
    every step (on MuJoCo >= 2 ``cfrc_ext`` is only filled by it; the original read zeros).

    ## Action

    ``Box(-1, 1, (2 * legs,))``: hip_1, ankle_1, hip_2, ankle_2, ... torques (gear 150). Values
    outside [-1, 1] are clipped by the actuators' ctrlrange, as in the original; the control cost
    uses the action as given.

    ## Rewards (per step, per player; each term is in ``info`` as ``reward_<term>``)

    | term | value |
    |---|---|
    | win / loss | +2000 / -2000 when the opponent / own torso falls or leaves the square |
    | draw | -1000 to both when ``max_steps`` is reached with no winner |
    | ctrl | ``-ctrl_cost_weight * sum(a^2)`` (0.1) |
    | move_to_opponent | ``move_to_opponent_weight * max(0, v . d)`` (0.1) |
    | push_out | ``-push_out_weight * exp(-|opponent xy|)`` (10) |
    | stay_in_center | ``stay_in_center_weight * exp(-|own xy|)`` (0: the paper's term, off) |
    | attack | ``attack_weight * sum(abs(clip(opponent torso cfrc_ext)))`` (0: off) |

    v is the own xy velocity over the step, d the unit vector from the own position before the
    step to the opponent's after it.

    Shaping terms (all but win, loss and draw) are multiplied by ``shaping_weight`` (1.0), which a
    trainer can anneal. The reward is the exact sum of the ``reward_*`` terms. ``info["winner"]``
    is the winning player's name, or ``None``.

    ## Episode end

    A torso whose centre is less than 0.29 m above the tatami (it touches the surface), or at
    L-infinity distance >= ``tatami_size + 0.1`` from the centre, loses: both players terminate.
    If both lose in the same step the episode ends without a winner (no win, loss or draw reward).
    Reaching ``max_steps`` (500) without a winner truncates with the draw penalty. Should the
    simulation diverge (MuJoCo then resets its state), the episode is truncated without a result
    and ``info["unstable"]`` is True.

    ## Arguments

    bodies, max_steps (alias max_cycles), shaping_weight, ctrl_cost_weight, move_to_opponent_weight,
    push_out_weight, stay_in_center_weight, attack_weight, height_reference, face_each_other,
    init_pos_noise, init_vel_noise, tatami_size, densities, render_mode, width, height, camera.

    ## Version history

    v0: the original RoboSumo on the ``mujoco`` bindings, with real contact forces, truncation for
    draws, normalised start quaternions and optional paper shaping terms.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "robosumo_v0",
        "render_modes": ["human", "rgb_array"],
        "render_fps": 20,  # = 1 / dt
        "is_parallelizable": True,
    }

    def __init__(
        self,
        bodies: tuple[str, str] = ("ant", "ant"),
        *,
        max_steps: int = 500,
        max_cycles: int | None = None,
        shaping_weight: float = 1.0,
        ctrl_cost_weight: float = 0.1,
        move_to_opponent_weight: float = 0.1,
        push_out_weight: float = 10.0,
        stay_in_center_weight: float = 0.0,
        attack_weight: float = 0.0,
        height_reference: str = "surface",
        face_each_other: bool = False,
        init_pos_noise: float = 0.1,
        init_vel_noise: float = 0.1,
        tatami_size: float = 2.0,
        densities: tuple[float | None, float | None] = (None, None),
        render_mode: str | None = None,
        width: int = 640,
        height: int = 480,
        camera: str = "tracking",
    ) -> None:
        self.bodies = _check_bodies(bodies)
        if max_cycles is not None:  # PettingZoo's name for the step limit
            max_steps = max_cycles
        if not (isinstance(max_steps, int | np.integer) and max_steps > 0):
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        if height_reference not in HEIGHT_REFERENCES:
            raise ValueError(f"height_reference must be one of {HEIGHT_REFERENCES}, "
                             f"got {height_reference!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, "
                             f"got {render_mode!r}")
        if not tatami_size > 0:
            raise ValueError(f"tatami_size must be positive, got {tatami_size!r}")
        weights = dict(shaping_weight=shaping_weight, ctrl_cost_weight=ctrl_cost_weight,
                       move_to_opponent_weight=move_to_opponent_weight,
                       push_out_weight=push_out_weight, stay_in_center_weight=stay_in_center_weight,
                       attack_weight=attack_weight, init_pos_noise=init_pos_noise,
                       init_vel_noise=init_vel_noise)
        for name, value in weights.items():
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        self.max_steps = int(max_steps)
        self.shaping_weight = float(shaping_weight)
        self.ctrl_cost_weight = float(ctrl_cost_weight)
        self.move_to_opponent_weight = float(move_to_opponent_weight)
        self.push_out_weight = float(push_out_weight)
        self.stay_in_center_weight = float(stay_in_center_weight)
        self.attack_weight = float(attack_weight)
        self.height_reference = height_reference
        self.face_each_other = bool(face_each_other)
        self.init_pos_noise = float(init_pos_noise)
        self.init_vel_noise = float(init_vel_noise)
        self.tatami_size = float(tatami_size)
        self.render_mode = render_mode

        self.model = build_spec(self.bodies, tatami_size=self.tatami_size,
                                densities=tuple(densities)).compile()
        self.data = mujoco.MjData(self.model)
        self.dt = self.model.opt.timestep * FRAME_SKIP
        self.layouts = tuple(player_layout(self.model, p, b)
                             for p, b in zip(PLAYERS, self.bodies, strict=True))

        self.possible_agents = list(PLAYERS)
        self.agents: list[str] = []
        self._action_spaces = {}
        self._observation_spaces = {}
        for player, body in zip(PLAYERS, self.bodies, strict=True):
            n = body_info(body).n_joints
            self._action_spaces[player] = gymnasium.spaces.Box(-1.0, 1.0, (n,), np.float32)
            self._observation_spaces[player] = _observation_space(body)
        n_state = self.model.nq + self.model.nv
        self.state_space = gymnasium.spaces.Box(-np.inf, np.inf, (n_state,), np.float64)

        self._z_offset = TATAMI_HEIGHT if height_reference == "surface" else 0.0
        self._out_limit = self.tatami_size + OUT_MARGIN
        self._obs_buf = [np.zeros(s.shape, np.float32) for s in self._observation_spaces.values()]
        self._forces = np.zeros_like(self.data.cfrc_ext)
        # Live views of MuJoCo's divergence counters: on NaN or huge values mj_step resets the
        # state to the model's defaults, which must not pass silently as a normal step.
        self._divergence = [self.data.warning[int(w)] for w in (
            mujoco.mjtWarning.mjWARN_BADQPOS, mujoco.mjtWarning.mjWARN_BADQVEL,
            mujoco.mjtWarning.mjWARN_BADQACC)]
        self._steps = 0
        self._np_random, self._np_random_seed = seeding.np_random()
        self._renderer = SumoRenderer(self.model, self.data, render_mode, width, height, camera,
                                      self.layouts) if render_mode else None

    # ---------------------------------------------------------------- spaces

    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Box:
        return self._action_spaces[agent]

    # ---------------------------------------------------------------- physics accessors

    def torso_xyz(self, player: int) -> np.ndarray:
        """World position (x, y, z) of a player's torso (a copy)."""
        a = self.layouts[player].qpos_adr
        return self.data.qpos[a:a + 3].copy()

    def torso_height(self, player: int) -> float:
        """Height of a player's torso centre above the tatami surface (m)."""
        return float(self.data.qpos[self.layouts[player].qpos_adr + 2]) - TATAMI_HEIGHT

    def state(self) -> np.ndarray:
        """Global state: the full ``qpos`` and ``qvel`` of the arena (world coordinates)."""
        return np.concatenate([self.data.qpos, self.data.qvel])

    # ---------------------------------------------------------------- episode

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Start a new bout: random pair orientation, radius 1.15, 0.75 m above the tatami, noise.

        Options:
            face_each_other (bool): override the constructor's choice for this reset.
        """
        if seed is not None:
            self._np_random, self._np_random_seed = seeding.np_random(seed)
        options = options or {}
        face = bool(options.get("face_each_other", self.face_each_other))
        rng = self._np_random
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        qpos = m.qpos0.copy()
        phi = rng.uniform(0.0, 2.0 * np.pi)
        for i, layout in enumerate(self.layouts):
            angle = phi + i * np.pi
            a = layout.qpos_adr
            qpos[a:a + 3] = (START_RADIUS * np.cos(angle), START_RADIUS * np.sin(angle),
                             TATAMI_HEIGHT + START_HEIGHT)
            if face:  # turn the body's forward axis towards the opponent
                fx, fy = body_info(layout.body).forward
                yaw = angle + np.pi - math.atan2(fy, fx)
                qpos[a + 3:a + 7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
        qpos += rng.uniform(-self.init_pos_noise, self.init_pos_noise, size=m.nq)
        qvel = self.init_vel_noise * rng.standard_normal(m.nv)
        for layout in self.layouts:  # noise must not denormalise the free-joint quaternion
            q = qpos[layout.qpos_adr + 3:layout.qpos_adr + 7]
            q /= np.linalg.norm(q)
        d.qpos[:] = qpos
        d.qvel[:] = qvel
        mujoco.mj_forward(m, d)
        mujoco.mj_rnePostConstraint(m, d)
        self._steps = 0
        self.agents = list(self.possible_agents)
        observations = self._observe()
        infos = {p: {} for p in self.agents}
        if self.render_mode == "human":
            self.render()
        return observations, infos

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise RuntimeError("the episode is over: call reset() before step()")
        m, d = self.model, self.data
        acts = [self._check_action(actions, p) for p in PLAYERS]
        l0, l1 = self.layouts
        a0, a1 = l0.qpos_adr, l1.qpos_adr
        before = (d.qpos[a0:a0 + 2].tolist(), d.qpos[a1:a1 + 2].tolist())
        d.ctrl[l0.ctrl] = acts[0]
        d.ctrl[l1.ctrl] = acts[1]
        mujoco.mj_step(m, d, nstep=FRAME_SKIP)
        mujoco.mj_rnePostConstraint(m, d)
        self._steps += 1

        after = (d.qpos[a0:a0 + 3].tolist(), d.qpos[a1:a1 + 3].tolist())
        unstable = any(w.number for w in self._divergence)
        if unstable:
            gymnasium.logger.warn(f"the simulation diverged at step {self._steps} (MuJoCo reset "
                                  "its state); the bout ends without a result")
            lost = (False, False)
        else:
            lost = (self._has_lost(after[0]), self._has_lost(after[1]))
        terminated = lost[0] or lost[1]
        truncated = unstable or (not terminated and self._steps >= self.max_steps)
        winner = None
        if lost[0] != lost[1]:
            winner = PLAYERS[1] if lost[0] else PLAYERS[0]

        observations = self._observe()
        rewards, infos = {}, {}
        for i, player in enumerate(PLAYERS):
            j = 1 - i
            info = self._reward_terms(i, acts[i], before[i], after[i], after[j])
            if winner is not None:
                info["reward_win"] = WIN_REWARD if winner == player else 0.0
                info["reward_loss"] = -WIN_REWARD if winner != player else 0.0
            if truncated and not unstable:
                info["reward_draw"] = DRAW_PENALTY
            info["winner"] = winner
            if unstable:
                info["unstable"] = True
            rewards[player] = (info["reward_win"] + info["reward_loss"] + info["reward_draw"]
                               + info["reward_ctrl"] + info["reward_move_to_opponent"]
                               + info["reward_push_out"] + info["reward_stay_in_center"]
                               + info["reward_attack"])
            infos[player] = info
        terminations = {p: terminated for p in PLAYERS}
        truncations = {p: truncated for p in PLAYERS}
        if terminated or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    # ---------------------------------------------------------------- internals

    def _check_action(self, actions: dict[str, Any], player: str) -> np.ndarray:
        try:
            action = actions[player]
        except (KeyError, TypeError):
            raise ValueError(f"step() needs an action for {player}: pass a dict with keys "
                             f"{self.possible_agents}") from None
        action = np.asarray(action, dtype=np.float64)
        n = self._action_spaces[player].shape[0]
        if action.shape != (n,):
            raise ValueError(f"action of {player} ({self.bodies[PLAYERS.index(player)]}) must have "
                             f"shape ({n},), got {action.shape}")
        if not np.isfinite(action).all():
            raise ValueError(f"action of {player} contains NaN or infinite values: {action}")
        return action

    def _has_lost(self, xyz: list[float]) -> bool:
        return (xyz[2] - TATAMI_HEIGHT < FALL_HEIGHT
                or max(abs(xyz[0]), abs(xyz[1])) >= self._out_limit)

    def _reward_terms(self, i: int, action: np.ndarray, before: list[float], own: list[float],
                      opp: list[float]) -> dict[str, Any]:
        w = self.shaping_weight
        # Moving towards the opponent: own xy velocity projected on the direction from the
        # position before the step to the opponent's position after it (as the original).
        dx, dy = opp[0] - before[0], opp[1] - before[1]
        norm = math.hypot(dx, dy)
        vx, vy = (own[0] - before[0]) / self.dt, (own[1] - before[1]) / self.dt
        move = max((vx * dx + vy * dy) / norm, 0.0) if norm > 0 else 0.0
        attack = 0.0
        if self.attack_weight:
            attack = float(self._forces[self.layouts[1 - i].torso].sum())
        return {
            "reward_win": 0.0,
            "reward_loss": 0.0,
            "reward_draw": 0.0,
            "reward_ctrl": -w * self.ctrl_cost_weight * float(np.dot(action, action)),
            "reward_move_to_opponent": w * self.move_to_opponent_weight * move,
            "reward_push_out": -w * self.push_out_weight * math.exp(-math.hypot(opp[0], opp[1])),
            "reward_stay_in_center": w * self.stay_in_center_weight
            * math.exp(-math.hypot(own[0], own[1])),
            "reward_attack": w * self.attack_weight * attack,
        }

    def _observe(self) -> dict[str, np.ndarray]:
        d = self.data
        forces = self._forces
        np.clip(d.cfrc_ext, -FORCE_CLIP, FORCE_CLIP, out=forces)
        np.abs(forces, out=forces)
        qpos, qvel, z = d.qpos, d.qvel, self._z_offset
        out = {}
        for i, player in enumerate(PLAYERS):
            own, opp = self.layouts[i], self.layouts[1 - i]
            buf = self._obs_buf[i]
            n_q = own.qpos.stop - own.qpos.start
            n_v = own.qvel.stop - own.qvel.start
            n_f = 6 * (own.bodies.stop - own.bodies.start)
            k = n_q + n_v + n_f
            buf[:n_q] = qpos[own.qpos]
            buf[n_q:n_q + n_v] = qvel[own.qvel]
            buf[n_q + n_v:k] = forces[own.bodies].ravel()
            buf[k:k + 7] = qpos[opp.qpos_adr:opp.qpos_adr + 7]
            buf[k + 7:] = forces[opp.torso]
            buf[2] -= z
            buf[k + 2] -= z
            out[player] = buf.copy()
        return out

    # ---------------------------------------------------------------- rendering

    def render(self) -> np.ndarray | None:
        """Render the arena: an RGB array (H, W, 3) in ``rgb_array`` mode, a window in ``human``."""
        if self._renderer is None:
            gymnasium.logger.warn("render() called with render_mode=None; pass render_mode to "
                                  "the constructor ('rgb_array' or 'human')")
            return None
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def _check_bodies(bodies: Any) -> tuple[str, str]:
    if isinstance(bodies, str) or len(bodies) != 2:
        raise ValueError(f"bodies must be a pair of body names from {BODIES}, got {bodies!r}")
    return (check_body(bodies[0]), check_body(bodies[1]))


def _observation_space(body: str) -> gymnasium.spaces.Box:
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
        low[force], high[force] = 0.0, FORCE_CLIP
    return gymnasium.spaces.Box(low, high, dtype=np.float32)


__all__ = ["DRAW_PENALTY", "FALL_HEIGHT", "REWARD_TERMS", "TORSO_RADIUS", "WIN_REWARD", "SumoEnv"]
