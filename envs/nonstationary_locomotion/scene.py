"""The flat-floor scene composed in code, and where each leg lives in the compiled model.

One robot body from ``envs.bodies`` (the same MJCF as RoboSumo) stands on an infinite plane. The
torso is turned about z so that the body's forward axis (``body_info(body).forward``, from the
back legs to the front legs) points along world +x, the direction the robot is rewarded for.

Physics: ``implicitfast`` at a 0.0125 s timestep, 4 substeps per action, so the control period
is 0.05 s (20 Hz) as in RoboSumo. RoboSumo runs RK4 at 0.01 s (5 substeps, four force evaluations
each). Under random and bang-bang torques implicitfast at 0.0125 s stayed stable for all three
bodies (no NaN, no instability warning), with a 99th-percentile floor penetration on par with RK4
at 0.01 s, at 3.5-5.5x its speed; at 0.025 s the legs sank two to four times deeper (deeper than the
leg capsules' radius) and at 0.05 s the ant and bug blew up.
``benchmarks/locomotion_throughput.py --integrators`` measures this; ``docs/locomotion.md`` has
the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from envs.bodies import body_info, load_spec

INTEGRATOR = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
TIMESTEP = 0.0125  # s, physics step
FRAME_SKIP = 4  # physics steps per env step, so dt = 0.05 s (20 Hz control, as RoboSumo)
START_HEIGHT = 0.75  # m, torso centre above the floor at reset (the bodies' MJCF default)
FLOOR_FRICTION = (1.0, 0.1, 0.1)  # sliding, torsional, rolling (as the RoboSumo floor)


def heading_yaw(body: str) -> float:
    """Yaw (rad) that turns ``body``'s forward axis onto world +x."""
    fx, fy = body_info(body).forward
    return -math.atan2(fy, fx)


def build_spec(
    body: str,
    *,
    integrator: int = INTEGRATOR,
    timestep: float = TIMESTEP,
    density: float | None = None,
) -> mujoco.MjSpec:
    """Compose the scene: a floor plane, a light and one robot facing +x.

    Args:
        body: one of ``envs.bodies.BODIES``.
        integrator: a ``mujoco.mjtIntegrator`` value (the benchmark compares others).
        timestep: physics step in seconds.
        density: optional density override (see ``envs.bodies.load_spec``).
    """
    spec = load_spec(body, density=density)
    spec.modelname = f"nonstationary_locomotion_{body}"
    spec.option.integrator = integrator
    spec.option.timestep = timestep
    spec.visual.global_.offwidth = 1280
    spec.visual.global_.offheight = 960
    spec.stat.extent = 4.0
    spec.stat.center = [0.0, 0.0, 0.5]

    spec.add_texture(name="sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT, rgb1=[0.8, 0.8, 1.0],
                     rgb2=[0, 0, 0], width=100, height=100)
    floor_tex = spec.add_texture(name="floor", type=mujoco.mjtTexture.mjTEXTURE_2D,
                                 builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
                                 rgb1=[0.25, 0.25, 0.25], rgb2=[0.15, 0.15, 0.15],
                                 width=100, height=100)
    floor_mat = spec.add_material(name="floor", reflectance=0.1, texrepeat=[40, 40])
    floor_mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = floor_tex.name

    world = spec.worldbody
    world.add_light(pos=[0, 0, 6], dir=[0, 0, -1], type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
                    diffuse=[0.8, 0.8, 0.8], specular=[0.3, 0.3, 0.3], castshadow=True)
    world.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[100, 100, 0.125],
                   friction=list(FLOOR_FRICTION), material="floor")
    torso = spec.body("torso")
    yaw = heading_yaw(body)
    torso.pos = [0.0, 0.0, START_HEIGHT]
    torso.quat = [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]
    return spec


@dataclass(frozen=True)
class LegLayout:
    """Where the legs of the robot live in a compiled model.

    Attributes:
        body: body name.
        actuators: ``actuators[k - 1]`` holds the two actuator ids (hip, ankle) of leg ``k``.
        hip_offsets: ``(n_legs, 2)`` xy position of each hip joint relative to the torso, in the
            robot's own frame (before the turn to +x), from the compiled model.
    """

    body: str
    actuators: tuple[tuple[int, int], ...]
    hip_offsets: np.ndarray

    @property
    def n_legs(self) -> int:
        """Number of legs."""
        return len(self.actuators)

    def along_forward(self) -> np.ndarray:
        """Each leg's hip position along the body's forward axis (m): larger is further front."""
        return self.hip_offsets @ np.asarray(body_info(self.body).forward)


def leg_layout(model: mujoco.MjModel, body: str) -> LegLayout:
    """Locate each leg's actuators and hip position in a compiled single-robot model."""
    info = body_info(body)
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    torso = model.body("torso").id
    rot = data.xmat[torso].reshape(3, 3)
    actuators, offsets = [], []
    for k in range(1, info.n_legs + 1):
        hip = model.actuator(f"hip_{k}").id
        ankle = model.actuator(f"ankle_{k}").id
        actuators.append((hip, ankle))
        joint = model.joint(f"hip_{k}").id
        anchor = data.xanchor[joint] - data.xpos[torso]
        offsets.append((rot.T @ anchor)[:2])  # back into the torso's own frame
    return LegLayout(body=body, actuators=tuple(actuators), hip_offsets=np.array(offsets))
