"""SimulatedArm: how a simulated robot takes its commands, whatever engine moves it (MujocoSim, PybulletSim).

Effort robots (Panda) take joint torques, held until a newer command arrives. When torques stop
arriving (effort_timeout), the arm stops where it is and holds, as libfranka's communication
reflex stops the real robot; a fresh torque command releases it.
Position robots (xArm, WidowX) take servo targets that the simulated servo approaches no faster
than the joint velocity limit. A rejected command changes nothing: the last good one stays.
After a reset the arm keeps its pose for `hold` s and ignores arm commands.

An engine subclass provides `time`, `timestep` and `arm_qpos`, and applies `arm_output()` every
physics step: servo targets (position robots) or joint torques (effort robots). It also holds the
scene's MuJoCo `model` and a `data` of its current state (MuJoCo's own, or pybullet's mirrored into it),
on which the task (sim_bridge.tasks), written once for both engines, reads success and the object's pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from polyarm_core.driver import CommandRefused, validate_command
from polyarm_description import JointLimits, RobotProfile


@dataclass
class JointStateSample:
    names: list[str]
    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray


class SimulatedArm:
    # Gains of the stop-and-hold reflex: stiff enough to stop a moving arm in ~0.1 s, and stable
    # at 1 kHz for the lightest wrist joint (D dt / I < 2 with I ~ 0.1 kg m^2 incl. armature).
    HOLD_STIFFNESS, HOLD_DAMPING = 600.0, 40.0

    robot: RobotProfile
    limits: JointLimits
    effort_timeout: float

    time: float
    timestep: float
    arm_qpos: np.ndarray
    task: object  # a sim_bridge.tasks.Task, or None
    model: object  # mujoco.MjModel of the scene
    data: object  # mujoco.MjData of its current state

    def _reset_commands(self, q: np.ndarray, hold: float) -> None:
        """At rest at `q`, no torque in force, holding for `hold` s of sim time from now."""
        self._position_target = np.asarray(q, dtype=float).copy()
        self._effort = np.zeros(self.robot.dof)
        self._effort_time = -np.inf
        self._hold_q: np.ndarray | None = None  # where the arm is held (set at the first hold tick)
        self._hold_until = self.time + hold

    def success(self) -> bool:
        """The task's success detector on the current state (False without a task)."""
        return self.task is not None and self.task.success(self.model, self.data, self.tcp_pose()[0])

    def object_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """The task object's position and (x, y, z, w) quaternion in base_link (sim/object_pose)."""
        return self.task.object_pose(self.model, self.data)

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
            self._set_servo_targets(self._position_target)
        else:
            self._effort_time = -np.inf

    def command_gripper(self, opening: float) -> None:
        """0 closes, 1 opens; values slightly outside are clipped, NaN/inf rejected."""
        if not np.isfinite(opening):
            raise CommandRefused(f"gripper command {opening} is not finite")
        self._set_finger_target(self.robot.finger_position(opening))

    def apply_tcp_wrench(self, force, torque=(0.0, 0.0, 0.0)) -> None:
        """An external force (N) and torque (N m), in base_link, acting at the TCP until changed: the sim's
        stand-in for a person pushing the arm; zero removes it. The engine applies `_tcp_wrench` each step."""
        wrench = np.concatenate([np.asarray(force, float), np.asarray(torque, float)])
        if wrench.shape != (6,) or not np.all(np.isfinite(wrench)):
            raise CommandRefused(f"TCP wrench must be 6 finite values, got {wrench}")
        self._tcp_wrench = None if not np.any(wrench) else wrench

    def _validate(self, names, values) -> np.ndarray:
        lim = self.limits
        low, high = (lim.lower, lim.upper) if self.robot.command_interface == "position" else (-lim.effort, lim.effort)
        return validate_command(self.robot, names, values, low, high)

    def arm_output(self, servo_now: np.ndarray, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        """This physics step's servo targets (position robots: from `servo_now`, the servo's current
        target) or joint torques (effort robots), from the measured joints q, qd."""
        if self.robot.command_interface == "position":
            # The servo's profile velocity: approach the target no faster than the joint may move.
            max_step = self.limits.velocity * self.timestep
            return servo_now + np.clip(self._position_target - servo_now, -max_step, max_step)
        if self.holding:
            return self._stop_and_hold_torque(q, qd)
        self._hold_q = None
        return self._effort

    @property
    def holding(self) -> bool:
        """Whether an effort robot's stop-and-hold reflex is in charge (just reset, or no fresh torque)."""
        return self.time < self._hold_until or self.time - self._effort_time > self.effort_timeout

    def _stop_and_hold_torque(self, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        if self._hold_q is None:
            self._hold_q = q.copy()
        tau = self.HOLD_STIFFNESS * (self._hold_q - q) - self.HOLD_DAMPING * qd
        return np.clip(tau, -self.limits.effort, self.limits.effort)

    def close(self) -> None:
        """Let go of the engine (a pybullet client); MuJoCo's model and data need nothing."""

    # ------------------------------------------------------------ the engine's
    def _set_servo_targets(self, q: np.ndarray) -> None:
        raise NotImplementedError

    def _set_finger_target(self, finger_position: float) -> None:
        raise NotImplementedError
