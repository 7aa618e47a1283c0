"""MujocoSim: one robot on the table, stepped by MuJoCo, commanded the way the real robot is
(sim_bridge.simulated_arm: torques with a stop-and-hold reflex, or velocity-limited servo targets)."""

from __future__ import annotations

import mujoco
import numpy as np
from polyarm_description import RobotProfile, home_joints, joint_limits, load_model

from sim_bridge.camera import CameraConfig
from sim_bridge.scene import build_scene
from sim_bridge.simulated_arm import JointStateSample, SimulatedArm


class MujocoSim(SimulatedArm):
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
        self._reset_commands(q, hold)
        self.data.ctrl[self._gripper_act] = self.gripper_open
        if self.robot.command_interface == "position":
            self.data.ctrl[self._arm_act] = q
        self._tcp_wrench = None
        if self.task is not None:
            self.task.reset(self.model, self.data, rng if rng is not None else np.random.default_rng())
        mujoco.mj_forward(self.model, self.data)

    def renderer(self, camera: CameraConfig, beside_physics: bool = False) -> "SceneRenderer":
        """A renderer of this scene for `camera` (a camera of the scene); create it in the thread that renders.
        It may run beside the physics thread as it is: MuJoCo lets go of the GIL while it renders."""
        return SceneRenderer(self.model, camera)

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
    def _set_servo_targets(self, q: np.ndarray) -> None:
        self.data.ctrl[self._arm_act] = q

    def _set_finger_target(self, finger_position: float) -> None:
        self.data.ctrl[self._gripper_act] = finger_position

    def apply_tcp_wrench(self, force, torque=(0.0, 0.0, 0.0)) -> None:
        super().apply_tcp_wrench(force, torque)
        self.data.qfrc_applied[:] = 0.0  # the old wrench's joint forces, which a removed one would leave

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
        act = self._arm_act
        self.data.ctrl[act] = self.arm_output(self.data.ctrl[act], self.data.qpos[self._arm_qpos], self.data.qvel[self._arm_dof])


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

