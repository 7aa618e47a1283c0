"""What the xArm controller plans: its kinematics (the TCP as the flange plus the TCP offset, in mm and
roll-pitch-yaw) and the motions of position mode, each a function of time to joint targets.

Plain numpy and MuJoCo (the arm's own model for forward kinematics and Jacobians); the firmware
(polyarm_fakes.xarm_firmware) runs them against the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
from polyarm_core.rotations import from_rotation_vector, matrix_to_rpy, orientation_error, rpy_to_matrix
from polyarm_description import RobotProfile, joint_limits, load_model

IK_POSITION_TOLERANCE_MM = 0.05
IK_ORIENTATION_TOLERANCE_RAD = 1e-4
ROTATION_RADIUS_MM = 100.0  # a linear move's duration counts a turn of the TCP as this lever arm sweeping


class ArmKinematics:
    """Forward and inverse kinematics of the TCP: the flange body's frame, then the TCP offset in it."""

    def __init__(self, robot: RobotProfile):
        self.model = load_model(robot)
        self.data = mujoco.MjData(self.model)
        self.limits = joint_limits(self.model, robot)
        self._flange = self.model.body(robot.xarm_controller["flange_body"]).id
        self._dofs = np.array([self.model.joint(j).dofadr[0] for j in robot.arm_joints])
        self._qadr = np.array([self.model.joint(j).qposadr[0] for j in robot.arm_joints])
        self.tcp_offset = np.zeros(6)  # x, y, z (mm), roll, pitch, yaw (rad) of the TCP in the flange frame

    def frame(self, q) -> tuple[np.ndarray, np.ndarray]:
        """The TCP's position (mm) and rotation matrix in the base frame."""
        self.data.qpos[self._qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        R_flange = self.data.xmat[self._flange].reshape(3, 3)
        position = 1000.0 * self.data.xpos[self._flange] + R_flange @ self.tcp_offset[:3]
        return position, R_flange @ rpy_to_matrix(self.tcp_offset[3:])

    def pose(self, q) -> np.ndarray:
        """x, y, z (mm), roll, pitch, yaw (rad): what the controller reports."""
        position, R = self.frame(q)
        return np.concatenate([position, matrix_to_rpy(R)])

    def jacobian(self, q) -> np.ndarray:
        """6 x n: TCP linear velocity (mm/s) and angular velocity (rad/s) per joint velocity (rad/s)."""
        return self._jacobian_at(self.frame(q)[0])

    def _jacobian_at(self, position) -> np.ndarray:
        """The Jacobian at the configuration `frame` last computed, whose TCP is at `position` (mm)."""
        mujoco.mj_comPos(self.model, self.data)
        jacp, jacr = np.zeros((3, self.model.nv)), np.zeros((3, self.model.nv))
        mujoco.mj_jac(self.model, self.data, jacp, jacr, position / 1000.0, self._flange)
        return np.vstack([1000.0 * jacp[:, self._dofs], jacr[:, self._dofs]])

    def inverse(self, q_start, position, R, iterations: int = 100) -> np.ndarray | None:
        """Joint angles within the limits that put the TCP at (position mm, R), from q_start by damped
        least squares; None where none is found (out of reach, or beyond a joint's limit)."""
        q = np.array(q_start, dtype=float)
        for _ in range(iterations):
            current, R_now = self.frame(q)
            error = np.concatenate([position - current, orientation_error(R, R_now)])
            if np.linalg.norm(error[:3]) < IK_POSITION_TOLERANCE_MM and np.linalg.norm(error[3:]) < IK_ORIENTATION_TOLERANCE_RAD:
                return q
            J = self._jacobian_at(current)
            W = np.diag([1.0, 1.0, 1.0, 300.0, 300.0, 300.0])  # a radian weighs as 300 mm
            A = J.T @ W @ J + 1e-4 * np.eye(len(q))
            step = np.linalg.solve(A, J.T @ W @ error)
            q = np.clip(q + np.clip(step, -0.2, 0.2), self.limits.lower, self.limits.upper)
        return None


def trapezoid(distance: float, v: float, a: float, t: float) -> tuple[float, bool]:
    """The fraction of a move of `distance` done at time t, at top speed v and acceleration a; and whether done."""
    if distance < 1e-9:
        return 1.0, True
    t_acc = min(v / a, np.sqrt(distance / a))
    v_peak = a * t_acc
    t_cruise = max(0.0, (distance - a * t_acc ** 2) / v_peak)
    total = 2 * t_acc + t_cruise
    if t >= total:
        return 1.0, True
    if t < t_acc:
        s = 0.5 * a * t ** 2
    elif t < t_acc + t_cruise:
        s = 0.5 * a * t_acc ** 2 + v_peak * (t - t_acc)
    else:
        s = distance - 0.5 * a * (total - t) ** 2
    return s / distance, False


@dataclass
class JointMove:
    """set_servo_angle and move_gohome: every joint leaves and arrives together, the farthest at `speed`."""
    start: np.ndarray
    goal: np.ndarray
    speed: float  # rad/s
    acceleration: float  # rad/s^2

    def at(self, t: float) -> tuple[np.ndarray, bool]:
        s, done = trapezoid(float(np.max(np.abs(self.goal - self.start))), self.speed, self.acceleration, t)
        return self.start + s * (self.goal - self.start), done


@dataclass
class LinearMove:
    """set_position: the TCP on a straight line at `speed` (mm/s), its orientation turning along with it;
    the joints are solved at every step from the last."""
    kinematics: ArmKinematics
    q_start: np.ndarray
    start: tuple[np.ndarray, np.ndarray]  # position (mm), rotation
    goal: tuple[np.ndarray, np.ndarray]
    speed: float
    acceleration: float

    def __post_init__(self):
        self._turn = orientation_error(self.goal[1], self.start[1])
        self._length = max(float(np.linalg.norm(self.goal[0] - self.start[0])),
                           float(np.linalg.norm(self._turn)) * ROTATION_RADIUS_MM)
        self._q = self.q_start.copy()

    def point(self, s: float) -> tuple[np.ndarray, np.ndarray]:
        return self.start[0] + s * (self.goal[0] - self.start[0]), from_rotation_vector(s * self._turn) @ self.start[1]

    def plan(self, samples: int = 20) -> np.ndarray | None:
        """The joints at the goal, solved along the line; None if any point of it is out of reach."""
        q = self.q_start.copy()
        for s in np.linspace(0.0, 1.0, samples + 1)[1:]:
            q = self.kinematics.inverse(q, *self.point(s))
            if q is None:
                return None
        return q

    def at(self, t: float) -> tuple[np.ndarray, bool]:
        s, done = trapezoid(self._length, self.speed, self.acceleration, t)
        q = self.kinematics.inverse(self._q, *self.point(s), iterations=20)
        if q is not None:
            self._q = q
        return self._q.copy(), done
