"""URDF generated from a robot's MJCF, for engines that load URDF (pybullet): one description, two engines.

The MJCF stays the one source. The URDF is written from MuJoCo's compiled model, so kinematics, joint
limits, masses and inertias are what MuJoCo itself uses; nothing is copied by hand, and nothing can drift.
It is generated when asked for and cached by the MJCF's content hash (`urdf_path`), never committed.

What a URDF cannot say, and so the generated one leaves out (docs/architecture.md, "One description"):
- armature (reflected rotor inertia): Bullet has none, so pybullet's joint-space inertia is lighter by it;
- the finger coupling (MuJoCo's joint equality): the backend adds it as a gear constraint;
- joint damping and friction loss are written as URDF <dynamics>, which pybullet does not apply to
  torque-controlled joints: the backend sets them itself.
Capsules are written as <capsule> (pybullet reads it; URDF 1.0 has no capsule).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
from polyarm_core.rotations import matrix_to_rpy, quat_to_matrix

from polyarm_description.robots import RobotProfile, load_model

HINGE, SLIDE = 3, 2  # mujoco.mjtJoint
CAPSULE, BOX, SPHERE, CYLINDER = 3, 6, 2, 5  # mujoco.mjtGeom


def _fmt(values) -> str:
    return " ".join(f"{float(v):.9g}" for v in values)


def _origin(parent: ET.Element, pos, quat_wxyz) -> None:
    """URDF's origin: fixed-axis roll, pitch, yaw (R = Rz Ry Rx) of MuJoCo's w x y z quaternion."""
    w, x, y, z = quat_wxyz
    ET.SubElement(parent, "origin", xyz=_fmt(pos), rpy=_fmt(matrix_to_rpy(quat_to_matrix([x, y, z, w]))))


def _geometry(parent: ET.Element, kind: int, size) -> None:
    geometry = ET.SubElement(parent, "geometry")
    if kind == BOX:
        ET.SubElement(geometry, "box", size=_fmt(2 * np.asarray(size)))
    elif kind == CAPSULE:
        ET.SubElement(geometry, "capsule", radius=_fmt([size[0]]), length=_fmt([2 * size[1]]))
    elif kind == CYLINDER:
        ET.SubElement(geometry, "cylinder", radius=_fmt([size[0]]), length=_fmt([2 * size[1]]))
    elif kind == SPHERE:
        ET.SubElement(geometry, "sphere", radius=_fmt([size[0]]))
    else:
        raise ValueError(f"geom type {kind} has no URDF shape (the project's robots use boxes and capsules)")


def _link(robot: ET.Element, model, body: int) -> None:
    link = ET.SubElement(robot, "link", name=model.body(body).name)
    inertial = ET.SubElement(link, "inertial")
    _origin(inertial, model.body_ipos[body], model.body_iquat[body])  # MuJoCo's principal axes
    ET.SubElement(inertial, "mass", value=_fmt([model.body_mass[body]]))
    ixx, iyy, izz = model.body_inertia[body]
    ET.SubElement(inertial, "inertia", ixx=_fmt([ixx]), iyy=_fmt([iyy]), izz=_fmt([izz]), ixy="0", ixz="0", iyz="0")
    for g in range(model.body_geomadr[body], model.body_geomadr[body] + model.body_geomnum[body]):
        for tag in ("visual", "collision"):
            element = ET.SubElement(link, tag, name=f"{model.geom(g).name or f'geom{g}'}_{tag}")
            _origin(element, model.geom_pos[g], model.geom_quat[g])
            _geometry(element, int(model.geom_type[g]), model.geom_size[g])
            if tag == "visual":
                material = ET.SubElement(element, "material", name=f"rgba{g}")
                ET.SubElement(material, "color", rgba=_fmt(model.geom_rgba[g]))


def _joint(robot: ET.Element, model, body: int, max_velocity: dict) -> None:
    parent, child = model.body(model.body_parentid[body]).name, model.body(body).name
    if model.body_jntnum[body] == 0:
        joint = ET.SubElement(robot, "joint", name=f"{parent}_to_{child}", type="fixed")
    else:
        if model.body_jntnum[body] > 1:
            raise ValueError(f"body {child} has {model.body_jntnum[body]} joints; a URDF link has one")
        j = model.body_jntadr[body]
        if np.any(model.jnt_pos[j] != 0):
            raise ValueError(f"joint {model.joint(j).name} is not at its body's origin; URDF puts it there")
        kind = {HINGE: "revolute", SLIDE: "prismatic"}.get(int(model.jnt_type[j]))
        if kind is None or not model.jnt_limited[j]:
            raise ValueError(f"joint {model.joint(j).name}: only limited hinge and slide joints have a URDF form")
        joint = ET.SubElement(robot, "joint", name=model.joint(j).name, type=kind)
        ET.SubElement(joint, "axis", xyz=_fmt(model.jnt_axis[j]))
        low, high = model.jnt_range[j]
        ET.SubElement(joint, "limit", lower=_fmt([low]), upper=_fmt([high]), effort=_fmt([_effort(model, j)]),
                      velocity=_fmt([max_velocity.get(model.joint(j).name, 10.0)]))
        d = model.jnt_dofadr[j]
        ET.SubElement(joint, "dynamics", damping=_fmt([model.dof_damping[d]]), friction=_fmt([model.dof_frictionloss[d]]))
    _origin(joint, model.body_pos[body], model.body_quat[body])
    ET.SubElement(joint, "parent", link=parent)
    ET.SubElement(joint, "child", link=child)


def _effort(model, joint: int) -> float:
    """The joint's torque (force) limit: its actuator's force range, else its own, else its control range."""
    for a in range(model.nu):
        if model.actuator_trnid[a, 0] == joint:
            if model.actuator_forcelimited[a]:
                return float(np.max(np.abs(model.actuator_forcerange[a])))
            if model.actuator_ctrllimited[a] and model.actuator_gainprm[a, 0] == 1.0 and model.actuator_biasprm[a, 1] == 0:
                return float(np.max(np.abs(model.actuator_ctrlrange[a])))  # a motor: control is force
    if model.jnt_actfrclimited[joint]:
        return float(np.max(np.abs(model.jnt_actfrcrange[joint])))
    return 1000.0  # unactuated in the MJCF (a coupled finger): the URDF still needs a number


def urdf_from_mjcf(profile: RobotProfile) -> str:
    """The URDF text of `profile`'s MJCF: a link per body (root: base_link), its joints, and the TCP site
    as a fixed `tcp` link."""
    model = load_model(profile)
    max_velocity = {}
    if "max_velocity" in [model.numeric(i).name for i in range(model.nnumeric)]:
        max_velocity = dict(zip(profile.arm_joints, model.numeric("max_velocity").data))
    robot = ET.Element("robot", name=profile.name)
    root = model.body("base_link").id
    for body in range(root, model.nbody):
        _link(robot, model, body)
        if body != root:
            _joint(robot, model, body, max_velocity)
    site = model.site(profile.tcp_site)
    tcp = ET.SubElement(robot, "link", name="tcp")  # massless, said so (pybullet gives a link without <inertial> 1 kg)
    inertial = ET.SubElement(tcp, "inertial")
    ET.SubElement(inertial, "mass", value="0")
    ET.SubElement(inertial, "inertia", ixx="0", iyy="0", izz="0", ixy="0", ixz="0", iyz="0")
    joint = ET.SubElement(robot, "joint", name="tcp_joint", type="fixed")
    _origin(joint, site.pos, site.quat)
    ET.SubElement(joint, "parent", link=model.body(site.bodyid[0]).name)
    ET.SubElement(joint, "child", link="tcp")
    ET.indent(robot)
    header = f"<!-- generated by polyarm_description.urdf from {profile.mjcf_file}; edit the MJCF, not this -->\n"
    return header + ET.tostring(robot, encoding="unicode") + "\n"


def urdf_path(profile: RobotProfile, cache: Path | None = None) -> Path:
    """The generated URDF on disk, written once per MJCF content (the cache: $XDG_CACHE_HOME/polyarm/urdf)."""
    cache = cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "polyarm" / "urdf"
    digest = hashlib.sha256(profile.mjcf_path.read_bytes() + Path(__file__).read_bytes()).hexdigest()[:12]
    path = cache / f"{profile.name}-{digest}.urdf"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(urdf_from_mjcf(profile))
        tmp.replace(path)  # atomic: concurrent processes never read half a file
    return path
