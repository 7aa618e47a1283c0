"""PybulletSim: the same robot as MujocoSim, stepped by pybullet, commanded the same way (SimulatedArm).

pybullet loads the URDF that polyarm_description generates from the MJCF, so both engines move one
description. Where Bullet differs, and what this module does about it:
- Gravity compensation: every body the MJCF marks `gravcomp` gets, every step, the upward force at its
  centre of mass that cancels that fraction of its weight: what MuJoCo's gravcomp does (libfranka's
  compensation on the Panda, the servo loops' integral action on the servo arms).
- Torque control needs Bullet's default joint motors off first (VELOCITY_CONTROL with zero force). The
  stop-and-hold reflex and the servos use Bullet's position motors, capped at the joint's velocity limit.
- Bullet has no armature (the motors' reflected rotor inertia, 0.1 kg m^2 per Panda joint). A torque
  command is therefore turned into the torque that gives the arm the acceleration it would have with
  the armature: tau' = M (M + A)^-1 (tau - c) + c, with M and c (Coriolis) from pybullet each step. Without
  it the controller's 100 Hz law, tuned on the real inertia, shakes the Panda's wrist. The servo arms'
  motors are implicit and need no such care.
- Joint damping is applied as a torque, -d qd, with the MJCF's damping. Friction loss is left out.
- The fingers: MuJoCo's gripper actuator drives one finger and a joint equality makes the other follow. Here
  a position motor (the actuator's force limit) drives the same finger and a gear constraint couples the other.
  Without it both fingers had motors of their own, and a held block drifted until one finger closed fully.
- The table and the task's objects are built from the same MuJoCo scene (sim_bridge.pybullet_scene); the
  task's placement, success detector and object pose run on a MuJoCo mirror of pybullet's state.
- The camera is pybullet's TinyRenderer (sim_bridge.pybullet_render), with the MuJoCo camera's pose and intrinsics.
"""

from __future__ import annotations

import mujoco
import numpy as np
import pybullet as pb
from polyarm_description import RobotProfile, home_joints, joint_limits, load_model

from sim_bridge.camera import CameraConfig
from sim_bridge.pybullet_scene import BulletScene
from sim_bridge.scene import build_scene
from sim_bridge.simulated_arm import JointStateSample, SimulatedArm
from sim_bridge.tasks import TaskError


class PybulletSim(SimulatedArm):
    def __init__(self, robot: RobotProfile, camera: CameraConfig | None = None, physics_rate: float = 1000.0,
                 effort_timeout: float = 0.1, task=None, board=None):
        if board is not None:
            raise TaskError("the pybullet backend shows no calibration board; calibrate in the MuJoCo sim")
        model = load_model(robot)
        self.robot, self.camera, self.task, self.effort_timeout = robot, camera, task, effort_timeout
        self.limits = joint_limits(model, robot)
        self.gripper_open = robot.gripper_range[1]
        self._home = home_joints(model, robot)
        self._damping = np.array([model.dof_damping[model.joint(n).dofadr[0]] for n in robot.arm_joints])
        self._armature = np.array([model.dof_armature[model.joint(n).dofadr[0]] for n in robot.arm_joints])
        gripper = model.actuator(robot.gripper_actuator)
        self._finger_force = float(np.max(np.abs(gripper.forcerange))) if gripper.forcelimited[0] else 100.0
        self._dt = 1.0 / physics_rate
        # the scene's MuJoCo model: what pybullet builds, and the mirror the task reads (module doc)
        self.model = build_scene(robot, None, physics_rate, task).compile()
        self._mirror, self._mirror_stale = mujoco.MjData(self.model), True
        self.client = pb.connect(pb.DIRECT)
        self._call(pb.setTimeStep, self._dt)
        self.scene = BulletScene(self.client, robot, self.model)
        self.body = self.scene.robot_body
        index, links = self.scene.robot_joints, self.scene.robot_links
        self._tcp = links["tcp"]
        self._movable = self.scene.robot_movable  # the dofs pybullet's dynamics take
        self._arm = [index[n] for n in robot.arm_joints]
        self._fingers = [index[n] for n in robot.finger_joints]
        self._arm_in_movable = [self._movable.index(j) for j in self._arm]
        self._arm_block = np.ix_(self._arm_in_movable, self._arm_in_movable)
        self._armature_matrix = np.diag(self._armature)
        # (link, force) cancelling each gravcomp body's weight
        self._gravcomp = [(links[model.body(b).name], (-model.body_gravcomp[b] * model.body_mass[b] * model.opt.gravity).tolist())
                          for b in range(model.nbody) if model.body_gravcomp[b] > 0 and model.body(b).name in links]
        self._gravcomp_links = [link for link, _ in self._gravcomp]
        self._torque_mode = False
        self.joint_names = list(robot.arm_joints) + list(robot.finger_joints)
        self._finger_motor = index[model.joint(gripper.trnid[0]).name]
        self._couple_fingers(model, index)
        self.reset()

    def _couple_fingers(self, model, index: dict) -> None:
        """MuJoCo's finger equalities (q1 = q2, polycoef 0 1) as gear constraints; the follower's motor off."""
        for e in range(model.neq):
            if model.eq_type[e] != mujoco.mjtEq.mjEQ_JOINT:
                continue
            if not np.allclose(model.eq_data[e][:5], [0, 1, 0, 0, 0]):
                raise ValueError(f"equality {e}: only q1 = q2 couplings have a pybullet form here")
            a, b = (index[model.joint(model.eq_obj1id[e] if k == 0 else model.eq_obj2id[e]).name] for k in (0, 1))
            follower = b if a == self._finger_motor else a
            self._call(pb.setJointMotorControl2, self.body, follower, pb.VELOCITY_CONTROL, force=0.0)
            gear = self._call(pb.createConstraint, self.body, a, self.body, b, pb.JOINT_GEAR, [1, 0, 0], [0, 0, 0], [0, 0, 0])
            # Bullet's gear holds ratio * qd_a + qd_b = 0 (and, with erp, the positions): -1 makes them equal
            self._call(pb.changeConstraint, gear, gearRatio=-1, erp=0.2, maxForce=10 * self._finger_force)

    def _call(self, function, *args, **kwargs):
        return function(*args, **kwargs, physicsClientId=self.client)

    def close(self) -> None:
        if pb.isConnected(self.client):
            pb.disconnect(self.client)

    # ---------------------------------------------------------------- state
    @property
    def time(self) -> float:
        return self._time

    @property
    def timestep(self) -> float:
        return self._dt

    def reset(self, arm_qpos: np.ndarray | None = None, rng: np.random.Generator | None = None, hold: float = 0.0) -> None:
        """Back to the home pose (or arm_qpos), at rest, holding it, gripper open, the task's objects placed
        afresh from `rng` (MujocoSim.reset): the task places them in the mirror, and pybullet follows."""
        q = self._home if arm_qpos is None else np.asarray(arm_qpos, dtype=float)
        m, d = self.model, self._mirror
        mujoco.mj_resetData(m, d)
        d.qpos[[m.joint(n).qposadr[0] for n in self.robot.arm_joints]] = q
        d.qpos[[m.joint(n).qposadr[0] for n in self.robot.finger_joints]] = self.gripper_open
        if self.task is not None:
            self.task.reset(m, d, rng if rng is not None else np.random.default_rng())
        self.scene.push(d)
        mujoco.mj_kinematics(m, d)
        self._mirror_stale = False
        self._time = 0.0
        self._tcp_wrench = None
        self._servo = q.copy()
        self._finger_target = self.gripper_open
        self._reset_commands(q, hold)

    @property
    def data(self) -> mujoco.MjData:
        """The MuJoCo mirror of pybullet's state (module doc): what the task's detectors and the camera read."""
        if self._mirror_stale:
            self.scene.pull(self._mirror)
            self._mirror_stale = False
        return self._mirror

    def renderer(self, camera: CameraConfig, beside_physics: bool = False):
        """A renderer of this scene for `camera`; `beside_physics`: for a thread running beside the physics
        thread, so in a process of its own (sim_bridge.pybullet_render)."""
        from sim_bridge.pybullet_render import PybulletRenderer, RenderProcess

        return (RenderProcess if beside_physics else PybulletRenderer)(self.robot, self.model, camera)

    def _states(self, joints) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        states = self._call(pb.getJointStates, self.body, joints)
        return tuple(np.array([s[k] for s in states]) for k in (0, 1, 3))

    def joint_state(self) -> JointStateSample:
        position, velocity, effort = self._states(self._arm + self._fingers)
        return JointStateSample(self.joint_names, position, velocity, effort)

    @property
    def arm_qpos(self) -> np.ndarray:
        return self._states(self._arm)[0]

    @property
    def gripper_opening(self) -> float:
        return float(self.robot.gripper_opening(self._states(self._fingers[:1])[0][0]))

    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """TCP position and rotation matrix in base_link (the URDF's root, at the world origin)."""
        state = self._call(pb.getLinkState, self.body, self._tcp, computeForwardKinematics=True)
        return np.array(state[4]), np.array(pb.getMatrixFromQuaternion(state[5])).reshape(3, 3)

    # ------------------------------------------------------------- commands
    def _set_servo_targets(self, q: np.ndarray) -> None:
        self._servo = np.asarray(q, dtype=float).copy()

    def _set_finger_target(self, finger_position: float) -> None:
        self._finger_target = finger_position

    # --------------------------------------------------------------- physics
    def step(self, n: int = 1) -> None:
        for _ in range(n):
            q_all, qd_all, _ = self._states(self._movable)  # one read serves the law and the armature
            q, qd = q_all[self._arm_in_movable], qd_all[self._arm_in_movable]
            out = self.arm_output(self._servo, q, qd)
            if self.robot.command_interface == "position":
                self._servo = out
                self._motors(out, self.limits.velocity)
            elif self.holding:
                self._motors(self._hold_q, np.full(self.robot.dof, 0.5))  # see _motors
            else:
                self._torques(self._through_armature(out - self._damping * qd, q_all, qd_all))
            self._compensate_gravity()
            if self._tcp_wrench is not None:  # external forces last one step in Bullet: applied every step
                self._call(pb.applyExternalForce, self.body, self._tcp, self._tcp_wrench[:3].tolist(),
                           self.tcp_pose()[0].tolist(), pb.WORLD_FRAME)
                self._call(pb.applyExternalTorque, self.body, self._tcp, self._tcp_wrench[3:].tolist(), pb.WORLD_FRAME)
            self._call(pb.setJointMotorControl2, self.body, self._finger_motor, pb.POSITION_CONTROL,
                       targetPosition=self._finger_target, force=self._finger_force)
            self.scene.apply_joint_forces()
            self._call(pb.stepSimulation)
            self._time += self._dt
        self._mirror_stale = True

    def _motors(self, targets: np.ndarray, max_velocity: np.ndarray) -> None:
        """Bullet's position motors, solved with the contacts (implicitly): a servo's targets, or the
        stop-and-hold reflex. The reflex's explicit PD (SimulatedArm) needs MuJoCo's armature to be stable
        at 1 kHz on the wrist joints; Bullet has none, so the motors hold instead, with the same torque limits."""
        for joint, target, force, velocity in zip(self._arm, targets, self.limits.effort, max_velocity):
            self._call(pb.setJointMotorControl2, self.body, joint, pb.POSITION_CONTROL, targetPosition=float(target),
                       force=float(force), maxVelocity=float(velocity))
        self._torque_mode = False

    def _torques(self, tau: np.ndarray) -> None:
        if not self._torque_mode:  # the motors off first, or they fight the torques
            self._call(pb.setJointMotorControlArray, self.body, self._arm, pb.VELOCITY_CONTROL, forces=[0.0] * self.robot.dof)
            self._torque_mode = True
        self._call(pb.setJointMotorControlArray, self.body, self._arm, pb.TORQUE_CONTROL, forces=tau.tolist())

    def _through_armature(self, tau: np.ndarray, q_all: np.ndarray, qd_all: np.ndarray) -> np.ndarray:
        """The torque that accelerates Bullet's arm (no armature) as `tau` accelerates the MJCF's (module doc);
        q_all, qd_all: every movable joint, as pybullet's dynamics take them."""
        q, qd, zeros = q_all.tolist(), qd_all.tolist(), [0.0] * len(q_all)
        arm = self._arm_in_movable
        M = np.array(self._call(pb.calculateMassMatrix, self.body, q))[self._arm_block]
        moving = np.array(self._call(pb.calculateInverseDynamics, self.body, q, qd, zeros))[arm]
        still = np.array(self._call(pb.calculateInverseDynamics, self.body, q, zeros, zeros))[arm]
        coriolis = moving - still
        return M @ np.linalg.solve(M + self._armature_matrix, tau - coriolis) + coriolis

    def _compensate_gravity(self) -> None:
        states = self._call(pb.getLinkStates, self.body, self._gravcomp_links)
        for (link, force), state in zip(self._gravcomp, states):
            self._call(pb.applyExternalForce, self.body, link, force, state[0], pb.WORLD_FRAME)  # at the centre of mass
