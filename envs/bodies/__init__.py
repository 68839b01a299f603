"""The three robot bodies (ant, bug, spider): one home for both environments.

The MJCF files under ``assets/`` are written from the RoboSumo reference facts (legs, joint axes and
ranges, capsule sizes, gear 150, densities 13 / 10 / 39 with the spider's legs at 5). Every leg is a
chain aux -> hip (hinge about z) -> ankle, and actuators are interleaved per leg (hip_1, ankle_1,
hip_2, ...), so leg ``k`` (1-based) drives actuators ``2(k-1)`` and ``2(k-1)+1``.

Example:
    >>> from envs.bodies import load_spec, body_info
    >>> spec = load_spec("bug")          # a fresh, editable mujoco.MjSpec
    >>> body_info("bug").n_legs
    6
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import mujoco

BODIES: tuple[str, ...] = ("ant", "bug", "spider")

TORSO_RADIUS = 0.25  # m, the torso sphere of every body


@dataclass(frozen=True)
class BodyInfo:
    """Static facts about one robot body.

    Attributes:
        name: body name, one of ``BODIES``.
        n_legs: number of legs; each leg has a hip and an ankle hinge and actuator.
        density: density (kg/m^3 in MuJoCo units) of the torso geom, the calibrated value.
        leg_density: density of the leg geoms (equal to ``density`` except for the spider).
        forward: unit xy vector, in the robot's own frame, from the back legs to the front legs.
    """

    name: str
    n_legs: int
    density: float
    leg_density: float
    forward: tuple[float, float]

    @property
    def n_joints(self) -> int:
        """Number of hinge joints (and actuators): two per leg."""
        return 2 * self.n_legs

    @property
    def n_bodies(self) -> int:
        """Number of MuJoCo bodies of one robot: the torso plus three per leg."""
        return 1 + 3 * self.n_legs

    @property
    def xml_path(self) -> Path:
        """Path of the body's MJCF file."""
        return Path(str(resources.files(__package__) / "assets" / f"{self.name}.xml"))


_INFO = {
    # The ant's legs named "front" lie at +y; the bug's and spider's at -y (see the MJCF comments).
    "ant": BodyInfo("ant", n_legs=4, density=13.0, leg_density=13.0, forward=(0.0, 1.0)),
    "bug": BodyInfo("bug", n_legs=6, density=10.0, leg_density=10.0, forward=(0.0, -1.0)),
    "spider": BodyInfo("spider", n_legs=8, density=39.0, leg_density=5.0, forward=(0.0, -1.0)),
}


def article(body: str | None) -> str:
    """The body with its article, for messages: "an ant", "a bug", "a spider"."""
    return f"an {body}" if body and body[0] in "aeiou" else f"a {body}"


def check_body(name: str) -> str:
    """Return ``name`` if it is a known body, else raise ``ValueError`` naming the valid ones."""
    if name not in _INFO:
        raise ValueError(f"unknown body {name!r}; valid bodies are {', '.join(BODIES)}")
    return name


def body_info(name: str) -> BodyInfo:
    """Static facts about a body (legs, densities, forward direction)."""
    return _INFO[check_body(name)]


def load_spec(name: str, density: float | None = None) -> mujoco.MjSpec:
    """Parse a body's MJCF into a fresh ``mujoco.MjSpec``.

    Args:
        name: one of ``BODIES``.
        density: if given, replaces the calibrated density of the torso (and of the legs for
            the ant and bug, whose legs share the torso's density); the spider's legs keep 5.
            Useful to reproduce the paper's uncalibrated setting (all densities 10).

    Returns:
        An editable spec whose worldbody holds one body named ``torso`` with a free joint.
    """
    info = body_info(name)
    spec = mujoco.MjSpec.from_file(str(info.xml_path))
    if density is not None:
        if not density > 0:
            raise ValueError(f"density must be positive, got {density!r}")
        for geom in spec.geoms:
            if geom.density == info.density:
                geom.density = float(density)
    return spec
