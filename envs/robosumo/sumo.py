"""RoboSumo as a PettingZoo ParallelEnv: two robots wrestle on a square tatami."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium
import mujoco
import numpy as np
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from envs.robosumo import rules
from envs.robosumo.core import CLOCK_START, SumoCore
from envs.robosumo.render import SumoRenderer, has_display
from envs.robosumo.rules import (
    DRAW_PENALTY,
    FALL_HEIGHT,
    REWARD_TERMS,
    WIN_REWARD,
    RewardWeights,
)
from envs.robosumo.scene import FRAME_SKIP, PLAYERS, TATAMI_HEIGHT

ALL_RENDER_MODES = ("human", "rgb_array")
RENDER_MODES = list(ALL_RENDER_MODES) if has_display() else ["rgb_array"]
RESET_OPTIONS = ("face_each_other",)


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
        # "human" opens a window: declared only where there is a display to open it on, so that
        # tools that try every declared mode (Gymnasium's check_env) pass on headless machines.
        "render_modes": RENDER_MODES,
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
        # "human" is accepted everywhere (PettingZoo's render_test builds a human env first) and
        # explains itself when it needs the display; headless it is just not declared.
        if render_mode is not None and render_mode not in ALL_RENDER_MODES:
            raise ValueError(f"render_mode must be None or one of {list(ALL_RENDER_MODES)}, "
                             f"got {render_mode!r}")
        weights = RewardWeights(shaping=shaping_weight, ctrl_cost=ctrl_cost_weight,
                                move_to_opponent=move_to_opponent_weight,
                                push_out=push_out_weight, stay_in_center=stay_in_center_weight,
                                attack=attack_weight)
        self.core = SumoCore(
            bodies, max_steps=max_steps if max_cycles is None else max_cycles, weights=weights,
            height_reference=height_reference, face_each_other=face_each_other,
            init_pos_noise=init_pos_noise, init_vel_noise=init_vel_noise,
            tatami_size=tatami_size, densities=densities)
        self.bodies = self.core.bodies
        self.max_steps = self.core.max_steps
        self.render_mode = render_mode
        self.model = self.core.model
        self.data = mujoco.MjData(self.model)
        self.dt = self.core.dt
        self.layouts = self.core.layouts

        self.possible_agents = list(PLAYERS)
        self.agents: list[str] = []
        n_state = self.model.nq + self.model.nv
        self.state_space = gymnasium.spaces.Box(-np.inf, np.inf, (n_state,), np.float64)
        self._bind_views()
        self._forces = np.zeros_like(self._cfrc)
        self._obs_buf = [np.zeros((1, *self.core.observation_spaces[p].shape), np.float32)
                         for p in PLAYERS]
        self._action_sq = np.zeros((1, 2))
        self._steps = 0
        self._np_random, self._np_random_seed = seeding.np_random()
        self._render_args = (width, height, camera)
        self._renderer = self._make_renderer()

    def _bind_views(self) -> None:
        """Batch-of-one views of the live MjData arrays, for the shared rules."""
        d = self.data
        self._qpos, self._qvel, self._cfrc = d.qpos[None], d.qvel[None], d.cfrc_ext[None]

    def _make_renderer(self) -> SumoRenderer | None:
        if not self.render_mode:
            return None
        return SumoRenderer(self.model, self.data, self.render_mode, *self._render_args,
                            self.layouts)

    # A copy or an unpickled env must observe its own MjData: views are rebound, not copied
    # (copied views would detach from the physics and freeze the observations).
    _VIEWS = ("_qpos", "_qvel", "_cfrc", "_renderer")

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._VIEWS}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind_views()
        self._renderer = self._make_renderer()

    # ---------------------------------------------------------------- spaces

    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        return self.core.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Box:
        return self.core.action_spaces[agent]

    @property
    def shaping_weight(self) -> float:
        """The factor on all shaping terms; assign to anneal it between episodes."""
        return self.core.weights.shaping

    @shaping_weight.setter
    def shaping_weight(self, value: float) -> None:
        import dataclasses

        self.core.weights = dataclasses.replace(self.core.weights, shaping=value)

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
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:  # a warning, not an error: PettingZoo's own API test passes {"options": 1}
            gymnasium.logger.warn(f"reset() ignores unknown options {unknown}; it knows "
                                  f"{list(RESET_OPTIONS)}")
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[:], d.qvel[:] = self.core.initial_state(self._np_random,
                                                       options.get("face_each_other"))
        d.time = CLOCK_START
        mujoco.mj_forward(m, d)  # also fills cfrc_ext (see scene.build_spec)
        self._steps = 0
        self.agents = list(self.possible_agents)
        observations = self._observe()
        if self.render_mode == "human":
            self.render()
        return observations, {p: {} for p in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise RuntimeError("the episode is over: call reset() before step()")
        m, d = self.model, self.data
        if isinstance(actions, dict) and set(actions) - set(PLAYERS):
            raise ValueError(f"step() got actions for unknown players "
                             f"{sorted(map(str, set(actions) - set(PLAYERS)))}; the players are "
                             f"{', '.join(PLAYERS)}")
        for i, layout in enumerate(self.layouts):
            player = PLAYERS[i]
            if not isinstance(actions, dict) or player not in actions:
                raise ValueError(f"step() needs an action for {player}: pass a dict with keys "
                                 f"{self.possible_agents}")
            a = rules.check_actions(actions[player], player, self.bodies[i],
                                    self.core.action_spaces[player].shape)
            self._action_sq[0, i] = a @ a
            d.ctrl[layout.ctrl] = a
        a0, a1 = self.layouts[0].qpos_adr, self.layouts[1].qpos_adr
        before = (d.qpos[a0:a0 + 2].tolist(), d.qpos[a1:a1 + 2].tolist())
        mujoco.mj_step(m, d, nstep=FRAME_SKIP)
        self._steps += 1
        observations = self._observe()
        # The rules below are the scalar twin of rules.outcome / rules.reward_terms (which
        # SumoVectorEnv uses): plain floats cost a few microseconds where numpy on arrays of
        # one arena costs a hundred. tests/envs/test_robosumo_vector.py holds them equal.
        after = (d.qpos[a0:a0 + 3].tolist(), d.qpos[a1:a1 + 3].tolist())
        unstable = d.time < CLOCK_START  # MuJoCo reset a diverged simulation to time 0
        if unstable:
            gymnasium.logger.warn(f"the simulation diverged at step {self._steps} (MuJoCo reset "
                                  "its state); the bout ends without a result")
            lost = (False, False)
        else:
            lost = (self._has_lost(after[0]), self._has_lost(after[1]))
        terminated = lost[0] or lost[1]
        truncated = unstable or (not terminated and self._steps >= self.max_steps)
        draw = truncated and not unstable
        winner = PLAYERS[1 if lost[0] else 0] if lost[0] != lost[1] else None
        rewards, infos = {}, {}
        for i, player in enumerate(PLAYERS):
            info = self._shaping_terms(i, before[i], after[i], after[1 - i])
            info["reward_win"] = WIN_REWARD if winner == player else 0.0
            info["reward_loss"] = -WIN_REWARD if winner not in (None, player) else 0.0
            info["reward_draw"] = DRAW_PENALTY if draw else 0.0
            rewards[player] = sum(info.values())
            info["winner"] = winner
            if unstable:
                info["unstable"] = True
            infos[player] = info
        terminations = {p: terminated for p in PLAYERS}
        truncations = {p: truncated for p in PLAYERS}
        if terminated or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def _has_lost(self, xyz: list[float]) -> bool:
        return (xyz[2] - TATAMI_HEIGHT < FALL_HEIGHT
                or max(abs(xyz[0]), abs(xyz[1])) >= self.core.out_limit)

    def _shaping_terms(self, i: int, before: list[float], own: list[float],
                       opp: list[float]) -> dict[str, float]:
        w = self.core.weights
        s = w.shaping
        dx, dy = opp[0] - before[0], opp[1] - before[1]
        norm = math.hypot(dx, dy)
        vx, vy = (own[0] - before[0]) / self.dt, (own[1] - before[1]) / self.dt
        move = max((vx * dx + vy * dy) / norm, 0.0) if norm > 0 else 0.0
        attack = float(self._forces[0, self.layouts[1 - i].torso].sum()) if w.attack else 0.0
        return {
            "reward_ctrl": -s * w.ctrl_cost * float(self._action_sq[0, i]),
            "reward_move_to_opponent": s * w.move_to_opponent * move,
            "reward_push_out": -s * w.push_out * math.exp(-math.hypot(opp[0], opp[1])),
            "reward_stay_in_center": s * w.stay_in_center * math.exp(-math.hypot(own[0], own[1])),
            "reward_attack": s * w.attack * attack,
        }

    def _observe(self) -> dict[str, np.ndarray]:
        self.core.observe(self._qpos, self._qvel, self._cfrc, self._forces, self._obs_buf)
        return {p: self._obs_buf[i][0].copy() for i, p in enumerate(PLAYERS)}

    # ---------------------------------------------------------------- rendering

    def render(self, mode: str | None = None) -> np.ndarray | None:
        """Render the arena: an RGB array (H, W, 3) in ``rgb_array`` mode, a window in ``human``.

        Args:
            mode: accepted for callers that pass the mode (RLlib's PettingZoo wrapper does); it
                must be the ``render_mode`` given at construction.
        """
        if mode is not None and mode != self.render_mode:
            raise ValueError(f"render mode is set at construction (render_mode="
                             f"{self.render_mode!r}); got render({mode!r})")
        if self._renderer is None:
            gymnasium.logger.warn("render() called with render_mode=None; pass render_mode to "
                                  "the constructor ('rgb_array' or 'human')")
            return None
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


__all__ = ["DRAW_PENALTY", "FALL_HEIGHT", "RENDER_MODES", "RESET_OPTIONS", "REWARD_TERMS",
           "WIN_REWARD", "SumoEnv"]
