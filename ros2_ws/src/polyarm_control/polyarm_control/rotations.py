"""Rotations as 3x3 matrices and unit quaternions in ROS order (x, y, z, w).

The arithmetic is MuJoCo's (mju_* quaternion functions, scalar first); this module only converts
between its (w, x, y, z) and ROS's (x, y, z, w) orders.
"""

from __future__ import annotations

import mujoco
import numpy as np


def _wxyz(R) -> np.ndarray:
    q = np.empty(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(R, dtype=float).ravel())
    return q


def quat_to_matrix(q_xyzw) -> np.ndarray:
    x, y, z, w = np.asarray(q_xyzw, dtype=float) / np.linalg.norm(q_xyzw)
    R = np.empty(9)
    mujoco.mju_quat2Mat(R, np.array([w, x, y, z]))
    return R.reshape(3, 3)


def matrix_to_quat(R) -> np.ndarray:
    """Unit quaternion (x, y, z, w) with w >= 0."""
    w, x, y, z = _wxyz(R)
    q = np.array([x, y, z, w])
    return q if w >= 0 else -q


def rotation_vector(R) -> np.ndarray:
    """Axis times angle (rad) of rotation R, angle in [0, pi]."""
    q = _wxyz(R)
    if q[0] < 0:
        q = -q  # the short way round
    v = np.empty(3)
    mujoco.mju_quat2Vel(v, q, 1.0)
    return v


def from_rotation_vector(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    angle = np.linalg.norm(v)
    if angle < 1e-12:
        return np.eye(3)
    q, R = np.empty(4), np.empty(9)
    mujoco.mju_axisAngle2Quat(q, v / angle, angle)
    mujoco.mju_quat2Mat(R, q)
    return R.reshape(3, 3)


def orientation_error(R_desired, R_current) -> np.ndarray:
    """The rotation vector (base frame) that turns the current orientation into the desired one,
    by the shortest path: log(q_d q_c^-1), from the two quaternions."""
    qd, qc = _wxyz(R_desired), _wxyz(R_current)
    qc_inv, q = np.empty(4), np.empty(4)
    mujoco.mju_negQuat(qc_inv, qc)
    mujoco.mju_mulQuat(q, qd, qc_inv)
    if q[0] < 0:
        q = -q
    v = np.empty(3)
    mujoco.mju_quat2Vel(v, q, 1.0)
    return v


def angle_between(R_a, R_b) -> float:
    return float(np.linalg.norm(orientation_error(R_a, R_b)))
