"""The RoboSumo scene composed in code with ``mujoco.MjSpec``, and a thin physics layer over it.

The scene is a floor plane, a square tatami box with four border cylinders on its edges, and two
robots attached under the prefixes ``player_0/`` and ``player_1/`` so that both may be the same
body. Physics follows the original: RK4, timestep 0.01 s; the env runs 5 substeps per action.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from envs.bodies import body_info, load_spec

TIMESTEP = 0.01  # s, physics step (RK4)
FRAME_SKIP = 5  # physics steps per env step, so dt = 0.05 s (20 Hz control)
TATAMI_HEIGHT = 0.5  # m, z of the tatami's top surface
FLOOR_Z = -0.025  # m, z of the floor plane
START_RADIUS = 1.15  # m, distance of each robot from the centre at reset
START_HEIGHT = 0.75  # m, torso height above the tatami surface at reset
PLAYERS: tuple[str, str] = ("player_0", "player_1")
# Distinct player colours (HSV hues 0 and 0.5 at s = v = 0.5, as in the original scenes).
PLAYER_RGBA = ((0.5, 0.25, 0.25, 1.0), (0.25, 0.5, 0.5, 1.0))


def build_spec(
    bodies: tuple[str, str],
    tatami_size: float = 2.0,
    densities: tuple[float | None, float | None] = (None, None),
) -> mujoco.MjSpec:
    """Compose the arena spec: floor, tatami, border and the two prefixed robots.

    Args:
        bodies: the two body names, for player_0 and player_1.
        tatami_size: half-width (m) of the square inside the border; the box is 0.3 m wider.
        densities: optional density override per player (see ``envs.bodies.load_spec``).
    """
    spec = mujoco.MjSpec()
    spec.modelname = f"robosumo_{bodies[0]}_vs_{bodies[1]}"
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_RK4
    spec.option.timestep = TIMESTEP
    spec.visual.global_.offwidth = 1920
    spec.visual.global_.offheight = 1080
    spec.visual.quality.shadowsize = 2048
    spec.stat.extent = 2 * (tatami_size + 0.3)
    spec.stat.center = [0.0, 0.0, TATAMI_HEIGHT]

    _add_assets(spec)
    world = spec.worldbody
    world.add_light(pos=[0, 0, 6], dir=[0, 0, -1], type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
                    diffuse=[0.8, 0.8, 0.8],
                    specular=[0.3, 0.3, 0.3], castshadow=True)
    world.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[20, 20, 0.125],
                   pos=[0, 0, FLOOR_Z], friction=[1, 0.1, 0.1], material="floor")
    half = tatami_size + 0.3
    world.add_geom(name="tatami", type=mujoco.mjtGeom.mjGEOM_BOX, size=[half, half, 0.25],
                   pos=[0, 0, TATAMI_HEIGHT / 2], friction=[1, 0.1, 0.1], material="tatami")
    s, z = tatami_size, TATAMI_HEIGHT
    for name, a, b in (("top", (-s, s), (s, s)), ("right", (s, -s), (s, s)),
                       ("bottom", (-s, -s), (s, -s)), ("left", (-s, -s), (-s, s))):
        world.add_geom(name=f"{name}border", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.03, 0, 0],
                       fromto=[a[0], a[1], z, b[0], b[1], z], rgba=[0.18, 0.23, 0.38, 1])

    for i, (body, density) in enumerate(zip(bodies, densities, strict=True)):
        child = load_spec(body, density=density)
        for geom in child.geoms:
            geom.rgba = PLAYER_RGBA[i]
        angle = np.pi * i
        frame = world.add_frame(pos=[START_RADIUS * np.cos(angle), START_RADIUS * np.sin(angle),
                                     TATAMI_HEIGHT - 0.75 + START_HEIGHT])
        frame.attach_body(child.body("torso"), f"{PLAYERS[i]}/", "")
        # An acceleration-stage sensor makes every mj_step (and mujoco.batch) run
        # mj_rnePostConstraint, which fills cfrc_ext with the contact forces the robots observe;
        # on MuJoCo >= 2 nothing else computes them.
        spec.add_sensor(name=f"{PLAYERS[i]}/torso_linacc", type=mujoco.mjtSensor.mjSENS_FRAMELINACC,
                        objtype=mujoco.mjtObj.mjOBJ_BODY, objname=f"{PLAYERS[i]}/torso")
    return spec


def _add_assets(spec: mujoco.MjSpec) -> None:
    spec.add_texture(name="sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT, rgb1=[0.8, 0.8, 1.0],
                     rgb2=[0, 0, 0], width=100, height=100)
    floor_tex = spec.add_texture(name="floor", type=mujoco.mjtTexture.mjTEXTURE_2D,
                                 builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, rgb1=[0.2, 0.2, 0.2],
                                 rgb2=[0.15, 0.15, 0.15], width=100, height=100)
    tatami_tex = spec.add_texture(name="tatami", type=mujoco.mjtTexture.mjTEXTURE_2D,
                                  builtin=mujoco.mjtBuiltin.mjBUILTIN_FLAT,
                                  rgb1=[0.65, 0.57, 0.31], rgb2=[0, 0, 0], width=100, height=100)
    floor_mat = spec.add_material(name="floor", reflectance=0.1, texrepeat=[20, 20])
    floor_mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = floor_tex.name
    tatami_mat = spec.add_material(name="tatami", reflectance=0.25)
    tatami_mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = tatami_tex.name


@dataclass(frozen=True)
class PlayerLayout:
    """Where one player's state lives in the compiled model (all ranges contiguous).

    Attributes:
        body: body name (ant, bug, spider).
        qpos: slice of ``data.qpos`` (free joint 7 + hinges).
        qvel: slice of ``data.qvel`` (free joint 6 + hinges).
        bodies: slice of body ids (torso first), for ``data.cfrc_ext``.
        ctrl: slice of ``data.ctrl``.
        torso: body id of the torso.
    """

    body: str
    qpos: slice
    qvel: slice
    bodies: slice
    ctrl: slice
    torso: int

    @property
    def qpos_adr(self) -> int:
        """Address of the free joint's x in ``data.qpos``."""
        return self.qpos.start


def player_layout(model: mujoco.MjModel, player: str, body: str) -> PlayerLayout:
    """Locate a player's joints, bodies and actuators in a compiled arena model."""
    info = body_info(body)
    root = model.joint(f"{player}/root")
    torso = model.body(f"{player}/torso").id
    first_act = model.actuator(f"{player}/hip_1").id
    qadr, dadr = int(root.qposadr[0]), int(root.dofadr[0])
    layout = PlayerLayout(
        body=body,
        qpos=slice(qadr, qadr + 7 + info.n_joints),
        qvel=slice(dadr, dadr + 6 + info.n_joints),
        bodies=slice(torso, torso + info.n_bodies),
        ctrl=slice(first_act, first_act + info.n_joints),
        torso=torso,
    )
    # The observation relies on these ranges being contiguous and owned by this player only.
    names = [model.body(b).name for b in range(layout.bodies.start, layout.bodies.stop)]
    if not all(n.startswith(f"{player}/") for n in names):
        raise RuntimeError(f"bodies of {player} are not contiguous in the compiled model")
    return layout
