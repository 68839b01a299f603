"""Egocentric RoboSumo features, computed by a policy from its raw observation.

A RoboSumo observation holds the player's own free joint first (world position, then its
orientation quaternion ``w, x, y, z``) and ends with the opponent's free joint (world position,
quaternion) and the opponent torso's contact forces (``envs.robosumo.rules.observe``). Where the
opponent is and where the edge is *as the robot sees it* is a rotation of those world vectors into
the robot's frame, a product of quaternion and position that a small tanh network learns slowly;
these features hand it over directly. They are appended to the raw observation before the running
normalisation, so a policy that uses them still reads the environment's observations unchanged,
and the same function serves any body (the offsets do not depend on it).
"""

from __future__ import annotations

import torch

from agents.nets import RunningNorm

FEATURES = ("raw", "sumo")
SUMO_FEATURES = 17  # the number of values ``sumo_features`` appends
_OPP = 13  # the opponent's position (3), quaternion (4) and torso forces (6) end the observation


def rotate_into(quat: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """World vectors ``v [..., 3]`` in the frame of unit quaternions ``quat [..., 4]`` (w, x, y, z):
    ``R(quat)^T v``."""
    w, u = quat[..., :1], -quat[..., 1:]  # the inverse rotation of a unit quaternion
    t = 2.0 * torch.linalg.cross(u, v, dim=-1)
    return v + w * t + torch.linalg.cross(u, t, dim=-1)


def sumo_features(obs: torch.Tensor) -> torch.Tensor:
    """``[..., 17]`` from raw RoboSumo observations ``[..., obs_dim]``: in the robot's frame, the
    offset to the opponent (3), the direction to the centre (3), the opponent's direction from
    the centre (3), the world's up axis (3); then the horizontal distance to the opponent, the
    own and the opponent's Euclidean and L-inf distances from the centre (5)."""
    own, quat = obs[..., 0:3], obs[..., 3:7]
    quat = quat / quat.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    opp = obs[..., -_OPP:-_OPP + 3]
    zero = torch.zeros_like(own[..., :1])
    own_xy, opp_xy = own[..., :2], opp[..., :2]
    offset = rotate_into(quat, opp - own)
    to_centre = rotate_into(quat, torch.cat([-own_xy, zero], -1))
    opp_out = rotate_into(quat, torch.cat([opp_xy, zero], -1))
    up = rotate_into(quat, torch.cat([zero, zero, zero + 1.0], -1))
    scalars = torch.cat([(opp_xy - own_xy).norm(dim=-1, keepdim=True),
                         own_xy.norm(dim=-1, keepdim=True),
                         own_xy.abs().amax(-1, keepdim=True),
                         opp_xy.norm(dim=-1, keepdim=True),
                         opp_xy.abs().amax(-1, keepdim=True)], -1)
    return torch.cat([offset, to_centre, opp_out, up, scalars], -1)


def feature_size(features: str) -> int:
    """The number of values a policy's ``features`` setting appends to the observation."""
    return SUMO_FEATURES if features == "sumo" else 0


def with_features(obs: torch.Tensor, features: str) -> torch.Tensor:
    """The raw observation with the ``features`` appended (unchanged for ``"raw"``)."""
    if features == "sumo":
        return torch.cat([obs, sumo_features(obs)], -1)
    return obs


class FeatureNorm(RunningNorm):
    """A ``RunningNorm`` over the raw observation with its features appended: ``update`` and
    ``forward`` take raw observations ``[..., obs_dim]``, so callers do not change."""

    def __init__(self, obs_dim: int, features: str) -> None:
        super().__init__(obs_dim + feature_size(features))
        self.features = features

    def update(self, x: torch.Tensor) -> None:
        super().update(with_features(x.to(torch.float32), self.features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(with_features(x, self.features))
