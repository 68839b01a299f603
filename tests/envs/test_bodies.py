"""The robot bodies match the reference facts (masses, joints, geometry, actuators)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from envs.bodies import BODIES, body_info, check_body, load_spec

# (legs, capsule radius, hip range deg, total mass kg) from the RoboSumo reference.
FACTS = {
    "ant": (4, 0.08, 30, 2.37),
    "bug": (6, 0.08, 30, 2.31),
    "spider": (8, 0.04, 20, 2.83),
}
ANKLE_RANGES = {  # per leg, degrees
    "ant": [(-70, -30), (30, 70), (-70, -30), (30, 70)],
    "bug": [(30, 70), (-70, -30), (-70, -30), (30, 70), (-70, -30), (30, 70)],
    "spider": [(-35, 45), (-45, 35)] * 4,
}


def compiled(body, density=None):
    return load_spec(body, density=density).compile()


@pytest.mark.parametrize("body", BODIES)
def test_structure_masses_and_joints(body):
    legs, radius, hip, mass = FACTS[body]
    m = compiled(body)
    info = body_info(body)
    assert info.n_legs == legs
    assert m.nbody - 1 == info.n_bodies == 1 + 3 * legs
    assert m.njnt == 1 + 2 * legs and m.nu == 2 * legs
    assert m.nq == 7 + 2 * legs and m.nv == 6 + 2 * legs
    assert m.body_subtreemass[1] == pytest.approx(mass, abs=0.01)
    torso = m.geom("torso_geom")
    assert torso.type[0] == mujoco.mjtGeom.mjGEOM_SPHERE and torso.size[0] == 0.25
    for k in range(1, legs + 1):
        for name in (f"hip_{k}", f"ankle_{k}"):
            j = m.joint(name)
            assert j.type[0] == mujoco.mjtJoint.mjJNT_HINGE
            assert m.dof_armature[j.dofadr[0]] == 1 and m.dof_damping[j.dofadr[0]] == 1
            assert m.jnt_limited[j.id]
        np.testing.assert_allclose(np.degrees(m.joint(f"hip_{k}").range), (-hip, hip))
        np.testing.assert_allclose(m.joint(f"hip_{k}").axis, (0, 0, 1))
        np.testing.assert_allclose(np.degrees(m.joint(f"ankle_{k}").range),
                                   ANKLE_RANGES[body][k - 1])
    root = m.joint("root")
    assert root.type[0] == mujoco.mjtJoint.mjJNT_FREE and not m.jnt_limited[root.id]
    assert (m.dof_armature[:6] == 0).all() and (m.dof_damping[:6] == 0).all()
    capsules = m.geom_type == mujoco.mjtGeom.mjGEOM_CAPSULE
    assert capsules.sum() == 3 * legs
    np.testing.assert_allclose(m.geom_size[capsules, 0], radius)
    np.testing.assert_allclose(m.geom_friction, np.tile([1, 0.5, 0.5], (m.ngeom, 1)))
    np.testing.assert_allclose(m.geom_margin, 0.01)
    assert (m.geom_condim == 3).all()


@pytest.mark.parametrize("body", BODIES)
def test_actuators_are_interleaved_motors_with_gear_150(body):
    m = compiled(body)
    names = [m.actuator(i).name for i in range(m.nu)]
    legs = body_info(body).n_legs
    assert names == [f"{j}_{k}" for k in range(1, legs + 1) for j in ("hip", "ankle")]
    np.testing.assert_allclose(m.actuator_gear[:, 0], 150)
    np.testing.assert_allclose(m.actuator_ctrlrange, np.tile([-1, 1], (m.nu, 1)))
    assert m.actuator_ctrllimited.all()
    # hinge qpos order equals actuator order
    for i in range(m.nu):
        assert m.jnt_qposadr[m.actuator_trnid[i, 0]] == 7 + i


def test_densities_are_calibrated_and_overridable():
    spider = compiled("spider")
    torso = spider.geom("torso_geom")
    volume = 4 / 3 * np.pi * 0.25**3
    assert spider.body_mass[torso.bodyid[0]] == pytest.approx(39 * volume)
    ant = compiled("ant")
    ant10 = compiled("ant", density=10)
    assert ant10.body_subtreemass[1] == pytest.approx(ant.body_subtreemass[1] * 10 / 13)
    spider10 = compiled("spider", density=10)
    legs = spider.body_subtreemass[1] - spider.body_mass[1]
    assert spider10.body_subtreemass[1] - spider10.body_mass[1] == pytest.approx(legs)
    with pytest.raises(ValueError, match="positive"):
        load_spec("ant", density=0)


def test_unknown_body_names_the_valid_ones():
    with pytest.raises(ValueError, match="ant, bug, spider"):
        check_body("snake")
    with pytest.raises(ValueError, match="ant, bug, spider"):
        body_info("Ant")


@pytest.mark.parametrize("body", BODIES)
def test_forward_axis_points_from_back_legs_to_front_legs(body):
    m = compiled(body)
    mujoco.mj_forward(m, mujoco.MjData(m))
    forward = np.array(body_info(body).forward)
    front = [m.body(i).pos[:2] for i in range(m.nbody) if m.body(i).name.startswith("aux_")
             and m.body(i).name.endswith("1") and "front" in m.body(m.body(i).parentid[0]).name]
    back = [m.body(i).pos[:2] for i in range(m.nbody) if m.body(i).name.startswith("aux_")
            and m.body(i).name.endswith("1") and "back" in m.body(m.body(i).parentid[0]).name]
    assert front and back
    assert np.mean(front, axis=0) @ forward > 0 > np.mean(back, axis=0) @ forward
