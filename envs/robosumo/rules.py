"""The rules of RoboSumo as pure functions over a leading batch dimension ``B``.

``SumoEnv`` (one arena, ``B = 1``) and ``SumoVectorEnv`` (many arenas stepped together) both use
these, so a rule lives in one place. Arrays follow the layout of the compiled arena model:
``qpos [B, nq]``, ``qvel [B, nv]``, ``cfrc_ext [B, nbody, 6]``; per-player quantities are
``[B, 2]`` with player_0 first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import mujoco
import numpy as np

from envs.bodies import body_info
from envs.checks import real_actions
from envs.robosumo.scene import START_HEIGHT, START_RADIUS, TATAMI_HEIGHT, PlayerLayout

WIN_REWARD = 2000.0  # to the winner; the loser gets -WIN_REWARD
DRAW_PENALTY = -1000.0  # to both players when the step limit is reached without a winner
FORCE_CLIP = 100.0  # N, contact forces are clipped to [-100, 100] before their absolute value
FALL_HEIGHT = 0.29  # m above the tatami: below it the torso sphere (r = 0.25) touches the surface
OUT_MARGIN = 0.1  # m, a torso at L-inf distance >= tatami_size + OUT_MARGIN from the centre is out
REWARD_TERMS = ("win", "loss", "draw", "ctrl", "move_to_opponent", "push_out", "stay_in_center",
                "attack")
SHAPING_TERMS = REWARD_TERMS[3:]


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the shaping terms; ``shaping`` scales all of them (for annealing)."""

    shaping: float = 1.0
    ctrl_cost: float = 0.1
    move_to_opponent: float = 0.1
    push_out: float = 10.0
    stay_in_center: float = 0.0
    attack: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and math.isfinite(value)):
                raise ValueError(f"reward weight {f.name} must be a finite number, got {value!r}")


def loss_reasons(xyz: np.ndarray, out_limit: float) -> tuple[np.ndarray, np.ndarray]:
    """``(fallen, out)`` for torsos at world positions ``xyz [..., 3]``: the torso is below
    ``FALL_HEIGHT`` above the tatami; it is at L-inf distance ``out_limit`` or more from the
    centre. Either loses."""
    fallen = xyz[..., 2] - TATAMI_HEIGHT < FALL_HEIGHT
    out = np.abs(xyz[..., :2]).max(-1) >= out_limit
    return fallen, out


def has_lost(xyz: np.ndarray, out_limit: float) -> np.ndarray:
    """Whether torsos at world positions ``xyz [..., 3]`` lose: fallen or out of the square."""
    fallen, out = loss_reasons(xyz, out_limit)
    return fallen | out


def torso_positions(qpos: np.ndarray, layouts: Sequence[PlayerLayout]) -> np.ndarray:
    """World torso positions ``[B, 2, 3]`` (a copy)."""
    return np.stack([qpos[:, lay.qpos_adr:lay.qpos_adr + 3] for lay in layouts], axis=1)


def outcome(xyz: np.ndarray, out_limit: float, truncate: np.ndarray,
            unstable: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decide how each bout stands after a step.

    Args:
        xyz: ``[B, 2, 3]`` torso positions after the step.
        out_limit: L-inf distance from the centre at which a torso is out.
        truncate: ``[B]`` the step limit is reached.
        unstable: ``[B]`` the simulation diverged during the step (no result is taken from it).

    Returns:
        ``(winner [B] int: 0, 1 or -1 for none, terminated [B], truncated [B], draw [B])``; draw
        marks the bouts that end at the step limit without a result (and get the draw penalty).
    """
    lost = has_lost(xyz, out_limit) & ~unstable[:, None]
    terminated = lost[:, 0] | lost[:, 1]
    winner = np.where(lost[:, 0] == lost[:, 1], -1, np.where(lost[:, 0], 1, 0))
    draw = truncate & ~terminated & ~unstable
    truncated = (truncate | unstable) & ~terminated
    return winner, terminated, truncated, draw


def reward_terms(before_xy: np.ndarray, after_xyz: np.ndarray, action_sq: np.ndarray,
                 opp_torso_force: np.ndarray, winner: np.ndarray, draw: np.ndarray,
                 weights: RewardWeights, dt: float) -> dict[str, np.ndarray]:
    """Every reward term of a step, ``{"reward_<term>": [B, 2]}``; the reward is their sum.

    Args:
        before_xy: ``[B, 2, 2]`` torso xy before the step.
        after_xyz: ``[B, 2, 3]`` torso positions after the step.
        action_sq: ``[B, 2]`` sum of squared actions, as the policies gave them.
        opp_torso_force: ``[B, 2]`` sum of abs(clipped cfrc_ext) of each player's opponent torso.
        winner: ``[B]`` 0, 1 or -1 (none).
        draw: ``[B]`` the bout ended at the step limit without a result.
        weights: shaping weights.
        dt: control time step (s).
    """
    w = weights.shaping
    own = after_xyz[..., :2]
    opp = own[:, ::-1]
    # Moving towards the opponent: own xy velocity projected on the unit vector from the own
    # position before the step to the opponent's position after it (as the original).
    direction = opp - before_xy
    norm = np.linalg.norm(direction, axis=-1)
    velocity = (own - before_xy) / dt
    speed = np.einsum("bpi,bpi->bp", velocity, direction) / np.where(norm > 0, norm, 1.0)
    move = np.maximum(speed, 0.0) * (norm > 0)
    players = np.arange(2)
    won = winner[:, None] == players
    lost = (winner[:, None] >= 0) & ~won
    return {
        "reward_win": WIN_REWARD * won,
        "reward_loss": -WIN_REWARD * lost,
        "reward_draw": np.repeat(DRAW_PENALTY * draw[:, None], 2, axis=1),
        "reward_ctrl": -w * weights.ctrl_cost * action_sq,
        "reward_move_to_opponent": w * weights.move_to_opponent * move,
        "reward_push_out": -w * weights.push_out * np.exp(-np.linalg.norm(opp, axis=-1)),
        "reward_stay_in_center": w * weights.stay_in_center * np.exp(-np.linalg.norm(own, axis=-1)),
        "reward_attack": w * weights.attack * opp_torso_force,
    }


def clipped_forces(cfrc_ext: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``abs(clip(cfrc_ext, -100, 100))`` into ``out`` (same shape)."""
    np.clip(cfrc_ext, -FORCE_CLIP, FORCE_CLIP, out=out)
    return np.abs(out, out=out)


def observe(qpos: np.ndarray, qvel: np.ndarray, forces: np.ndarray,
            layouts: Sequence[PlayerLayout], z_offset: float,
            out: Sequence[np.ndarray]) -> None:
    """Write both players' observations into ``out[i] [B, obs_dim_i]`` (see ``SumoEnv``).

    Args:
        qpos, qvel: ``[B, nq]``, ``[B, nv]``.
        forces: ``[B, nbody, 6]`` clipped absolute contact forces (``clipped_forces``).
        layouts: the two players' layouts.
        z_offset: subtracted from observed heights (the tatami height, or 0 for world z).
        out: one preallocated float32 buffer per player.
    """
    for i, own in enumerate(layouts):
        opp = layouts[1 - i]
        buf = out[i]
        n_q = own.qpos.stop - own.qpos.start
        n_v = own.qvel.stop - own.qvel.start
        k = n_q + n_v + 6 * (own.bodies.stop - own.bodies.start)
        buf[:, :n_q] = qpos[:, own.qpos]
        buf[:, n_q:n_q + n_v] = qvel[:, own.qvel]
        buf[:, n_q + n_v:k] = forces[:, own.bodies].reshape(len(buf), -1)
        buf[:, k:k + 7] = qpos[:, opp.qpos_adr:opp.qpos_adr + 7]
        buf[:, k + 7:] = forces[:, opp.torso]
        buf[:, 2] -= z_offset
        buf[:, k + 2] -= z_offset


def initial_state(model: mujoco.MjModel, layouts: Sequence[PlayerLayout],
                  rng: np.random.Generator, face_each_other: bool, pos_noise: float,
                  vel_noise: float) -> tuple[np.ndarray, np.ndarray]:
    """A start state ``(qpos [nq], qvel [nv])`` drawn from ``rng``.

    The pair is oriented at a random angle phi: player i stands at radius 1.15 at angle
    phi + i pi, 0.75 m above the tatami. All qpos get U(-pos_noise, pos_noise) noise and all
    qvel N(0, vel_noise^2); each free-joint quaternion is renormalised after the noise.
    """
    qpos = model.qpos0.copy()
    phi = rng.uniform(0.0, 2.0 * np.pi)
    for i, layout in enumerate(layouts):
        angle = phi + i * np.pi
        a = layout.qpos_adr
        qpos[a:a + 3] = (START_RADIUS * np.cos(angle), START_RADIUS * np.sin(angle),
                         TATAMI_HEIGHT + START_HEIGHT)
        if face_each_other:  # turn the body's forward axis towards the opponent
            fx, fy = body_info(layout.body).forward
            yaw = angle + np.pi - math.atan2(fy, fx)
            qpos[a + 3:a + 7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
    qpos += rng.uniform(-pos_noise, pos_noise, size=model.nq)
    qvel = vel_noise * rng.standard_normal(model.nv)
    for layout in layouts:
        q = qpos[layout.qpos_adr + 3:layout.qpos_adr + 7]
        q /= np.linalg.norm(q)
    return qpos, qvel


def check_actions(actions: np.ndarray, player: str, body: str,
                  shape: tuple[int, ...]) -> np.ndarray:
    """Validate one player's actions against the expected ``shape``; return them as float64."""
    return real_actions(actions, shape, f"action of {player} ({body})")
