"""The MuJoCo scene rebuilt in a pybullet client: the robot from its generated URDF, and every other body
(the table, the task's objects) from the scene's compiled MjModel, as the URDF is from the robot's MJCF.

A task is written once, on MuJoCo's scene (sim_bridge.tasks): its bodies in an MjSpec, its placement,
success detector and object pose on an MjModel and MjData. pybullet keeps that MjData as a mirror:
`pull` copies pybullet's state into it (then the task's detectors read it), `push` moves pybullet's bodies
to it (after the task's reset placed them, or to show a state in a render client). Only the geometry is
built per engine.

What each MuJoCo body becomes:
- the world's own geoms (floor, table): one static body;
- a mocap body: a massless base, moved by `push` only; a free body: a dynamic base whose frame is the
  MuJoCo body's inertial frame, so pybullet's base pose (always the centre of mass's) converts exactly;
- a body with no joint under the world (the tray): static;
- a child body with a slide or hinge joint (the button's cap, the drawer): a link with a prismatic or
  revolute joint, its range set as a Bullet joint limit; the joint's spring, damping and friction loss
  are applied as joint forces each step (`apply_joint_forces`), as Bullet has no joint springs.
Geoms that collide with nothing in MuJoCo (contype and conaffinity 0) are visual only. Planes become a
3 cm slab. Friction: each body's largest sliding friction (Bullet multiplies two bodies' coefficients;
MuJoCo takes the larger: equal when one side is 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np
import pybullet as pb
from polyarm_core.rotations import matrix_to_quat, quat_to_matrix
from polyarm_description import RobotProfile
from polyarm_description.urdf import urdf_path

from sim_bridge.tasks import TaskError

PLANE_HALF_THICKNESS = 0.015
FREE, SLIDE, HINGE = (int(j) for j in (mujoco.mjtJoint.mjJNT_FREE, mujoco.mjtJoint.mjJNT_SLIDE, mujoco.mjtJoint.mjJNT_HINGE))
PLANE, SPHERE, CAPSULE, CYLINDER, BOX = (int(g) for g in (mujoco.mjtGeom.mjGEOM_PLANE, mujoco.mjtGeom.mjGEOM_SPHERE,
                                                          mujoco.mjtGeom.mjGEOM_CAPSULE, mujoco.mjtGeom.mjGEOM_CYLINDER,
                                                          mujoco.mjtGeom.mjGEOM_BOX))


def _pose(pos, quat_wxyz) -> np.ndarray:
    w, x, y, z = quat_wxyz
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = quat_to_matrix([x, y, z, w]), pos
    return T


def _split(T: np.ndarray) -> tuple[list, list]:
    """Position and pybullet's (x, y, z, w) quaternion of a pose matrix."""
    return T[:3, 3].tolist(), matrix_to_quat(T[:3, :3]).tolist()


@dataclass
class _Shapes:
    """One pybullet body part's geoms, as createCollisionShapeArray / createVisualShapeArray take them."""

    collision: dict = field(default_factory=lambda: {k: [] for k in ("shapeTypes", "halfExtents", "radii", "lengths",
                                                                      "collisionFramePositions", "collisionFrameOrientations")})
    visual: dict = field(default_factory=lambda: {k: [] for k in ("shapeTypes", "halfExtents", "radii", "lengths",
                                                                   "visualFramePositions", "visualFrameOrientations")})
    colors: list = field(default_factory=list)
    friction: float = 0.0

    def add(self, model: mujoco.MjModel, geom: int, frame: np.ndarray) -> None:
        """Geom `geom`, placed at `frame` @ its pose in its body (frame: the part's frame from the body's)."""
        kind, size = int(model.geom_type[geom]), model.geom_size[geom]
        T = frame @ _pose(model.geom_pos[geom], model.geom_quat[geom])
        if kind == PLANE:  # a slab whose top is the plane
            shape, half, radius, length = pb.GEOM_BOX, [size[0], size[1], PLANE_HALF_THICKNESS], 0.0, 0.0
            T = T @ _pose([0, 0, -PLANE_HALF_THICKNESS], [1, 0, 0, 0])
        elif kind == BOX:
            shape, half, radius, length = pb.GEOM_BOX, size.tolist(), 0.0, 0.0
        elif kind == SPHERE:
            shape, half, radius, length = pb.GEOM_SPHERE, [0.0] * 3, size[0], 0.0
        elif kind in (CYLINDER, CAPSULE):
            shape = pb.GEOM_CYLINDER if kind == CYLINDER else pb.GEOM_CAPSULE
            half, radius, length = [0.0] * 3, size[0], 2 * size[1]
        else:
            raise TaskError(f"geom {model.geom(geom).name or geom} of type {kind} has no pybullet shape here")
        position, orientation = _split(T)
        parts = [(self.visual, "visual")]
        if model.geom_contype[geom] or model.geom_conaffinity[geom]:
            parts.append((self.collision, "collision"))
            self.friction = max(self.friction, float(model.geom_friction[geom][0]))
        for part, prefix in parts:
            for key, value in (("shapeTypes", shape), ("halfExtents", half), ("radii", radius), ("lengths", length),
                               (f"{prefix}FramePositions", position), (f"{prefix}FrameOrientations", orientation)):
                part[key].append(value)
        self.colors.append(model.geom_rgba[geom].tolist())

    def create(self, call) -> tuple[int, int]:
        """Its collision and visual shape ids (-1: none)."""
        collision = call(pb.createCollisionShapeArray, **self.collision) if self.collision["shapeTypes"] else -1
        visual = call(pb.createVisualShapeArray, **self.visual) if self.visual["shapeTypes"] else -1
        return collision, visual


@dataclass
class _Joint:
    """A MuJoCo scene joint and where pybullet keeps it."""

    qposadr: int
    body: int  # pybullet body
    link: int  # pybullet link index (-1: the base, for a free joint)
    stiffness: float = 0.0
    springref: float = 0.0
    damping: float = 0.0
    frictionloss: float = 0.0
    base_from_body: np.ndarray | None = None  # free joints: the pybullet base frame (inertial) in the MuJoCo body


class BulletScene:
    """The scene of `model` (sim_bridge.scene.build_scene, with or without a task) in pybullet client `client`."""

    def __init__(self, client: int, robot: RobotProfile, model: mujoco.MjModel):
        self.client, self.model = client, model
        self._call(pb.setGravity, *model.opt.gravity)
        self.robot_body, self.robot_joints, self.robot_links = self._load_robot(robot)
        root = model.body("base_link").id
        self._robot_qpos = {model.joint(n).qposadr[0]: j for n, j in self.robot_joints.items() if n in _joint_names(model)}
        self._joints: list[_Joint] = []
        self._mocap: list[tuple[int, int]] = []  # (MuJoCo body, pybullet body)
        self._static_world()
        for body in range(1, model.nbody):
            if model.body_parentid[body] == 0 and body != root:
                self._add_object(body)
        self._set_robot_friction()

    def _call(self, function, *args, **kwargs):
        return function(*args, **kwargs, physicsClientId=self.client)

    # ------------------------------------------------------------------ build
    def _load_robot(self, robot: RobotProfile):
        """The generated URDF, fixed at the origin, with Bullet's default link damping off (MuJoCo has none)."""
        body = self._call(pb.loadURDF, str(urdf_path(robot)), useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE)
        info = [self._call(pb.getJointInfo, body, i) for i in range(self._call(pb.getNumJoints, body))]
        for link in range(-1, len(info)):
            self._call(pb.changeDynamics, body, link, linearDamping=0.0, angularDamping=0.0, jointDamping=0.0)
        self.robot_movable = [j[0] for j in info if j[2] != pb.JOINT_FIXED]  # the joints pybullet's dynamics take
        # a link's index is that of the joint above it
        return body, {j[1].decode(): j[0] for j in info}, {j[12].decode(): j[0] for j in info}

    def _set_robot_friction(self) -> None:
        for name, link in self.robot_links.items():
            body = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name)
            if body >= 0:
                shapes = _Shapes()
                for g in self._geoms(body):
                    shapes.add(self.model, g, np.eye(4))
                if shapes.friction:
                    self._call(pb.changeDynamics, self.robot_body, link, lateralFriction=shapes.friction)

    def _geoms(self, body: int) -> range:
        m = self.model
        return range(m.body_geomadr[body], m.body_geomadr[body] + m.body_geomnum[body]) if m.body_geomnum[body] else range(0)

    def _static_world(self) -> None:
        shapes = _Shapes()
        for g in self._geoms(0):
            shapes.add(self.model, g, np.eye(4))
        if shapes.colors:
            self._create(shapes, baseMass=0.0)

    def _create(self, base: _Shapes, links: list[dict] = (), **kwargs) -> int:
        collision, visual = base.create(self._call)
        link_args = {}
        if links:
            created = [link["shapes"].create(self._call) for link in links]
            link_args = dict(
                linkMasses=[link["mass"] for link in links],
                linkCollisionShapeIndices=[c for c, _ in created], linkVisualShapeIndices=[v for _, v in created],
                linkPositions=[link["position"] for link in links], linkOrientations=[link["orientation"] for link in links],
                linkInertialFramePositions=[link["inertial_position"] for link in links],
                linkInertialFrameOrientations=[link["inertial_orientation"] for link in links],
                linkParentIndices=[link["parent"] for link in links], linkJointTypes=[link["joint_type"] for link in links],
                linkJointAxis=[link["axis"] for link in links])
        body = self._call(pb.createMultiBody, baseCollisionShapeIndex=collision, baseVisualShapeIndex=visual, **kwargs, **link_args)
        for link, shapes in [(-1, base)] + [(i, link["shapes"]) for i, link in enumerate(links)]:
            self._style(body, link, shapes)
        return body

    def _style(self, body: int, link: int, shapes: _Shapes) -> None:
        for index, rgba in enumerate(shapes.colors):
            self._call(pb.changeVisualShape, body, link, shapeIndex=index, rgbaColor=rgba)
        self._call(pb.changeDynamics, body, link, lateralFriction=shapes.friction or 1.0, linearDamping=0.0, angularDamping=0.0)

    def _add_object(self, root: int) -> None:
        """A top-level MuJoCo body and its subtree, as one pybullet multibody."""
        m = self.model
        name = m.body(root).name
        joint_types = [int(m.jnt_type[j]) for j in range(m.body_jntadr[root], m.body_jntadr[root] + m.body_jntnum[root])]
        base, base_from_body, kwargs = _Shapes(), np.eye(4), {}
        body_pose = _pose(m.body_pos[root], m.body_quat[root])
        if joint_types == [FREE]:
            base_from_body = _pose(m.body_ipos[root], m.body_iquat[root])  # the base frame is the inertial frame
            kwargs["baseMass"] = float(m.body_mass[root])
        elif joint_types:
            raise TaskError(f"body {name}: a top-level body with {joint_types} joints has no pybullet form here (free or none)")
        else:
            kwargs["baseMass"] = 0.0  # static, or moved by push (mocap)
        for g in self._geoms(root):
            base.add(m, g, np.linalg.inv(base_from_body))
        position, orientation = _split(body_pose @ base_from_body)
        links, index = self._links(root)
        body = self._create(base, links, basePosition=position, baseOrientation=orientation, **kwargs)
        if joint_types == [FREE]:
            self._call(pb.changeDynamics, body, -1, localInertiaDiagonal=m.body_inertia[root].tolist())
            self._joints.append(_Joint(m.jnt_qposadr[m.body_jntadr[root]], body, -1, base_from_body=base_from_body))
        if m.body_mocapid[root] >= 0:
            self._mocap.append((root, body))
        for child, link in index.items():
            self._add_link_joint(body, link, child)

    def _links(self, root: int) -> tuple[list[dict], dict[int, int]]:
        """The subtree of `root` as createMultiBody's links, parents before children; MuJoCo body -> link index."""
        m, links, index = self.model, [], {}
        for body in range(root + 1, m.nbody):
            parent = m.body_parentid[body]
            if parent != root and parent not in index:
                continue
            njnt = m.body_jntnum[body]
            kind = int(m.jnt_type[m.body_jntadr[body]]) if njnt == 1 else None
            if njnt > 1 or kind not in (None, SLIDE, HINGE):
                raise TaskError(f"body {m.body(body).name}: only one slide or hinge joint per child body has a pybullet form here")
            shapes = _Shapes()
            for g in self._geoms(body):
                shapes.add(m, g, np.eye(4))
            position, orientation = _split(_pose(m.body_pos[body], m.body_quat[body]))
            joint_type = {None: pb.JOINT_FIXED, SLIDE: pb.JOINT_PRISMATIC, HINGE: pb.JOINT_REVOLUTE}[kind]
            axis = m.jnt_axis[m.body_jntadr[body]].tolist() if kind is not None else [0.0, 0.0, 1.0]
            inertial_position, inertial_orientation = _split(_pose(m.body_ipos[body], m.body_iquat[body]))
            links.append(dict(shapes=shapes, mass=float(m.body_mass[body]), position=position, orientation=orientation,
                              inertial_position=inertial_position, inertial_orientation=inertial_orientation,
                              parent=0 if parent == root else index[parent] + 1, joint_type=joint_type, axis=axis))
            index[body] = len(links) - 1
        return links, index

    def _add_link_joint(self, body: int, link: int, mj_body: int) -> None:
        m = self.model
        self._call(pb.changeDynamics, body, link, localInertiaDiagonal=np.maximum(m.body_inertia[mj_body], 1e-9).tolist())
        if m.body_jntnum[mj_body] != 1:
            return
        j = m.body_jntadr[mj_body]
        dof, adr = m.jnt_dofadr[j], m.jnt_qposadr[j]
        if m.jnt_limited[j]:
            low, high = m.jnt_range[j]
            self._call(pb.changeDynamics, body, link, jointLowerLimit=float(low), jointUpperLimit=float(high))
        self._call(pb.setJointMotorControl2, body, link, pb.VELOCITY_CONTROL, force=0.0)  # a free joint, moved by forces
        self._joints.append(_Joint(adr, body, link, float(m.jnt_stiffness[j]), float(m.qpos_spring[adr]),
                                   float(m.dof_damping[dof]), float(m.dof_frictionloss[dof])))

    # ------------------------------------------------------------------ state
    def apply_joint_forces(self) -> None:
        """This step's spring, damping and friction-loss force on every scene joint that has them."""
        for joint in self._joints:
            if joint.link < 0 or not (joint.stiffness or joint.damping or joint.frictionloss):
                continue
            q, qd = self._call(pb.getJointState, joint.body, joint.link)[:2]
            force = -joint.stiffness * (q - joint.springref) - joint.damping * qd - joint.frictionloss * np.tanh(qd / 0.01)
            self._call(pb.setJointMotorControl2, joint.body, joint.link, pb.TORQUE_CONTROL, force=float(force))

    def push(self, data: mujoco.MjData) -> None:
        """Move pybullet's scene to the MuJoCo state `data` (qpos and mocap), at rest."""
        for adr, joint in self._robot_qpos.items():
            self._call(pb.resetJointState, self.robot_body, joint, float(data.qpos[adr]), 0.0)
        for joint in self._joints:
            if joint.link < 0:
                world_from_body = _pose(data.qpos[joint.qposadr : joint.qposadr + 3], data.qpos[joint.qposadr + 3 : joint.qposadr + 7])
                self._call(pb.resetBasePositionAndOrientation, joint.body, *_split(world_from_body @ joint.base_from_body))
                self._call(pb.resetBaseVelocity, joint.body, [0.0] * 3, [0.0] * 3)
            else:
                self._call(pb.resetJointState, joint.body, joint.link, float(data.qpos[joint.qposadr]), 0.0)
        for mj_body, body in self._mocap:
            mocap = self.model.body_mocapid[mj_body]
            self._call(pb.resetBasePositionAndOrientation, body, *_split(_pose(data.mocap_pos[mocap], data.mocap_quat[mocap])))

    def pull(self, data: mujoco.MjData) -> None:
        """The MuJoCo state `data` from pybullet's: every joint's position, then MuJoCo's kinematics (the
        mocap bodies stay where `push` put them)."""
        adrs = list(self._robot_qpos)
        states = self._call(pb.getJointStates, self.robot_body, list(self._robot_qpos.values()))
        data.qpos[adrs] = [s[0] for s in states]
        for joint in self._joints:
            if joint.link < 0:
                position, orientation = self._call(pb.getBasePositionAndOrientation, joint.body)
                T = _pose(position, np.roll(orientation, 1)) @ np.linalg.inv(joint.base_from_body)
                x, y, z, w = matrix_to_quat(T[:3, :3])
                data.qpos[joint.qposadr : joint.qposadr + 7] = [*T[:3, 3], w, x, y, z]
            else:
                data.qpos[joint.qposadr] = self._call(pb.getJointState, joint.body, joint.link)[0]
        mujoco.mj_kinematics(self.model, data)


def _joint_names(model: mujoco.MjModel) -> set[str]:
    return {model.joint(j).name for j in range(model.njnt)}
