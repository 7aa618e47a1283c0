"""MujocoSim: one robot on the table, stepped by MuJoCo, commanded the way the real robot is.

Effort robots (Panda) take joint torques, held until a newer command arrives. When torques stop
arriving (effort_timeout), the arm stops where it is and holds, as libfranka's communication
reflex stops the real robot; a fresh torque command releases it.
Position robots (xArm, WidowX) take servo targets that the simulated servo approaches no faster
than the joint velocity limit. A rejected command changes nothing: the last good one stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
from polyarm_core.driver import CommandRefused, validate_command
from polyarm_description import RobotProfile, home_joints, joint_limits, load_model

from sim_bridge.camera import CameraConfig
from sim_bridge.scene import build_scene


@dataclass
class JointStateSample:
    names: list[str]
    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray


class MujocoSim:
    def __init__(
        self,
        robot: RobotProfile,
        camera: CameraConfig | None = None,
        physics_rate: float = 1000.0,
        effort_timeout: float = 0.1,
        task=None,
        board=None,
    ):
        self.robot = robot
        self.camera = camera
        self.task = task
        self.spec = build_scene(robot, camera, physics_rate, task, board)
        self.model = self.spec.compile()
        self.data = mujoco.MjData(self.model)
        self.limits = joint_limits(self.model, robot)
        self.gripper_open = robot.gripper_range[1]
        self.effort_timeout = effort_timeout

        m = self.model
        self._arm_qpos = np.array([m.joint(n).qposadr[0] for n in robot.arm_joints])
        self._arm_dof = np.array([m.joint(n).dofadr[0] for n in robot.arm_joints])
        self._finger_qpos = np.array([m.joint(n).qposadr[0] for n in robot.finger_joints])
        self._finger_dof = np.array([m.joint(n).dofadr[0] for n in robot.finger_joints])
        self._arm_act = np.array([m.actuator(n).id for n in robot.arm_joints])
        self._gripper_act = m.actuator(robot.gripper_actuator).id
        self._index = {name: i for i, name in enumerate(robot.arm_joints)}
        self.joint_names = list(robot.arm_joints) + list(robot.finger_joints)
        self._home = home_joints(load_model(robot), robot)
        self._tcp_wrench: np.ndarray | None = None  # external push at the TCP (tests, demos)
        self.reset()

    # ---------------------------------------------------------------- state
    @property
    def time(self) -> float:
        return float(self.data.time)

    @property
    def timestep(self) -> float:
        return float(self.model.opt.timestep)

    def reset(self, arm_qpos: np.ndarray | None = None, rng: np.random.Generator | None = None, hold: float = 0.0) -> None:
        """Back to the home pose (or arm_qpos), at rest, holding it, gripper open; the task's
        objects placed afresh from `rng` (seeded: the same placement for the same seed).

        For `hold` s of sim time the arm keeps that pose and arm commands are ignored: a controller
        still tracking the pose from before the reset (the sim teleports the arm; a real one never
        jumps) cannot drag it back before it is told to resume from the measured pose."""
        mujoco.mj_resetData(self.model, self.data)
        q = self._home if arm_qpos is None else np.asarray(arm_qpos, dtype=float)
        self.data.qpos[self._arm_qpos] = q
        self.data.qpos[self._finger_qpos] = self.gripper_open
        self._position_target = q.copy()
        self._effort = np.zeros(self.robot.dof)
        self._effort_time = -np.inf
        self._hold_q: np.ndarray | None = None  # where the arm is held (set at the first hold tick)
        self._hold_until = hold
        self.data.ctrl[self._gripper_act] = self.gripper_open
        if self.robot.command_interface == "position":
            self.data.ctrl[self._arm_act] = q
        self._tcp_wrench = None
        if self.task is not None:
            self.task.reset(self.model, self.data, rng if rng is not None else np.random.default_rng())
        mujoco.mj_forward(self.model, self.data)

    def success(self) -> bool:
        """The task's success detector on the current state (False without a task)."""
        return self.task is not None and self.task.success(self.model, self.data, self.tcp_pose()[0])

    def joint_state(self) -> JointStateSample:
        idx_q = np.concatenate([self._arm_qpos, self._finger_qpos])
        idx_v = np.concatenate([self._arm_dof, self._finger_dof])
        return JointStateSample(
            names=self.joint_names,
            position=self.data.qpos[idx_q].copy(),
            velocity=self.data.qvel[idx_v].copy(),
            effort=self.data.qfrc_actuator[idx_v].copy(),
        )

    @property
    def arm_qpos(self) -> np.ndarray:
        return self.data.qpos[self._arm_qpos].copy()

    @property
    def gripper_opening(self) -> float:
        """Measured opening, 0 closed .. 1 open."""
        return float(self.robot.gripper_opening(self.data.qpos[self._finger_qpos[0]]))

    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """TCP position and rotation matrix in base_link (the world frame of the scene)."""
        site = self.data.site(self.robot.tcp_site)
        return site.xpos.copy(), site.xmat.reshape(3, 3).copy()

    # ------------------------------------------------------------- commands
    def command(self, names, values) -> None:
        """Apply a joint command in the robot's own interface (positions in rad or torques in N·m)."""
        values = self._validate(names, values)
        if self.time < self._hold_until:
            return  # just reset: holding the home pose
        if self.robot.command_interface == "position":
            self._position_target = values
        else:
            self._effort = values
            self._effort_time = self.time

    def effort_age(self) -> float:
        """Sim seconds since the newest torque command (inf when none is in force: at start, after a reset or stop)."""
        return self.time - self._effort_time

    def stop(self) -> None:
        """Stop and hold still where the arm is, until the next command: servo targets become the measured
        joints; an effort robot's torque lapses at once, so its stop-and-hold reflex takes over."""
        if self.robot.command_interface == "position":
            self._position_target = self.arm_qpos
            self.data.ctrl[self._arm_act] = self._position_target
        else:
            self._effort_time = -np.inf

    def command_gripper(self, opening: float) -> None:
        """0 closes, 1 opens; values slightly outside are clipped, NaN/inf rejected."""
        if not np.isfinite(opening):
            raise CommandRefused(f"gripper command {opening} is not finite")
        self.data.ctrl[self._gripper_act] = self.robot.finger_position(opening)

    def _validate(self, names, values) -> np.ndarray:
        lim = self.limits
        low, high = (lim.lower, lim.upper) if self.robot.command_interface == "position" else (-lim.effort, lim.effort)
        return validate_command(self.robot, names, values, low, high)

    def apply_tcp_wrench(self, force, torque=(0.0, 0.0, 0.0)) -> None:
        """An external force (N) and torque (N m), in base_link, acting at the TCP until changed.
        The sim's stand-in for a person pushing the arm; zero removes it."""
        wrench = np.concatenate([np.asarray(force, float), np.asarray(torque, float)])
        if wrench.shape != (6,) or not np.all(np.isfinite(wrench)):
            raise CommandRefused(f"TCP wrench must be 6 finite values, got {wrench}")
        self._tcp_wrench = None if not np.any(wrench) else wrench
        self.data.qfrc_applied[:] = 0.0

    # --------------------------------------------------------------- physics
    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self._apply_arm_command()
            self._apply_tcp_wrench()
            mujoco.mj_step(self.model, self.data)

    def _apply_tcp_wrench(self) -> None:
        if self._tcp_wrench is None:
            return
        site = self.model.site(self.robot.tcp_site)
        self.data.qfrc_applied[:] = 0.0
        mujoco.mj_applyFT(self.model, self.data, self._tcp_wrench[:3], self._tcp_wrench[3:],
                          self.data.site_xpos[site.id], site.bodyid[0], self.data.qfrc_applied)

    def _apply_arm_command(self) -> None:
        ctrl = self.data.ctrl
        if self.robot.command_interface == "position":
            # The servo's profile velocity: approach the target no faster than the joint may move.
            current = ctrl[self._arm_act]
            max_step = self.limits.velocity * self.timestep
            ctrl[self._arm_act] = current + np.clip(self._position_target - current, -max_step, max_step)
        elif self.time < self._hold_until:
            ctrl[self._arm_act] = self._stop_and_hold_torque()
        elif self.time - self._effort_time <= self.effort_timeout:
            ctrl[self._arm_act] = self._effort
            self._hold_q = None
        else:
            ctrl[self._arm_act] = self._stop_and_hold_torque()

    # Gains of the stop-and-hold reflex: stiff enough to stop a moving arm in ~0.1 s, and stable
    # at 1 kHz for the lightest wrist joint (D dt / I < 2 with I ~ 0.1 kg m^2 incl. armature).
    HOLD_STIFFNESS, HOLD_DAMPING = 600.0, 40.0

    def _stop_and_hold_torque(self) -> np.ndarray:
        q, qd = self.data.qpos[self._arm_qpos], self.data.qvel[self._arm_dof]
        if self._hold_q is None:
            self._hold_q = q.copy()
        tau = self.HOLD_STIFFNESS * (self._hold_q - q) - self.HOLD_DAMPING * qd
        return np.clip(tau, -self.limits.effort, self.limits.effort)



class SceneRenderer:
    """Renders the scene camera from a copy of the state, so it can run beside the physics thread.

    Create it in the thread that renders: the GL context belongs to that thread.
    """

    def __init__(self, model: mujoco.MjModel, camera: CameraConfig):
        self.model, self.camera = model, camera
        self._data = mujoco.MjData(model)
        self._rgb = mujoco.Renderer(model, camera.height, camera.width)
        self._depth = mujoco.Renderer(model, camera.height, camera.width)
        self._depth.enable_depth_rendering()

    def render(self, qpos: np.ndarray, mocap_pos=None, mocap_quat=None) -> tuple[np.ndarray, np.ndarray]:
        """RGB uint8 (H, W, 3) and depth in metres along the optical axis (H, W), 0 where no return."""
        self._data.qpos[:] = qpos
        if mocap_pos is not None:
            self._data.mocap_pos[:], self._data.mocap_quat[:] = mocap_pos, mocap_quat
        mujoco.mj_kinematics(self.model, self._data)
        mujoco.mj_camlight(self.model, self._data)
        self._rgb.update_scene(self._data, camera=self.camera.name)
        rgb = self._rgb.render()
        self._depth.update_scene(self._data, camera=self.camera.name)
        depth = self._depth.render()
        depth[depth > self.camera.max_depth_m] = 0.0
        return rgb, depth

    def close(self) -> None:
        self._rgb.close()
        self._depth.close()

