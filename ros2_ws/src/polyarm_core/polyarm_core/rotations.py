"""Rotations as 3x3 matrices and unit quaternions in ROS order (x, y, z, w), in numpy.

Internally quaternions are scalar first (w, x, y, z), as in MuJoCo's mju_* functions, whose results
these match to rounding (tests/test_core.py checks them against MuJoCo).
"""

from __future__ import annotations

import numpy as np


def _wxyz(R) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of rotation matrix R, by the largest-diagonal branch (Shepperd)."""
    R = np.asarray(R, dtype=float).reshape(3, 3)
    trace = R[0, 0] + R[1, 1] + R[2, 2]
    if trace > 0:
        s = 2.0 * np.sqrt(1.0 + trace)
        q = [0.25 * s, (R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s]
    elif R[0, 0] > R[1, 1] and R[0, 0] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[0, 0] - R[1, 1] - R[2, 2])
        q = [(R[2, 1] - R[1, 2]) / s, 0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s]
    elif R[1, 1] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[1, 1] - R[0, 0] - R[2, 2])
        q = [(R[0, 2] - R[2, 0]) / s, (R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + R[2, 2] - R[0, 0] - R[1, 1])
        q = [(R[1, 0] - R[0, 1]) / s, (R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s]
    q = np.array(q)
    return q / np.linalg.norm(q)


def _matrix_wxyz(q) -> np.ndarray:
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _log(q) -> np.ndarray:
    """Rotation vector (axis times angle) of unit quaternion q (w, x, y, z), taken the short way round."""
    if q[0] < 0:
        q = -q
    sin_half = np.linalg.norm(q[1:])
    if sin_half < 1e-15:
        return np.zeros(3)
    return 2.0 * np.arctan2(sin_half, q[0]) * q[1:] / sin_half


def quat_to_matrix(q_xyzw) -> np.ndarray:
    x, y, z, w = np.asarray(q_xyzw, dtype=float) / np.linalg.norm(q_xyzw)
    return _matrix_wxyz((w, x, y, z))


def matrix_to_quat(R) -> np.ndarray:
    """Unit quaternion (x, y, z, w) with w >= 0."""
    w, x, y, z = _wxyz(R)
    q = np.array([x, y, z, w])
    return q if w >= 0 else -q


def from_rotation_vector(v) -> np.ndarray:
    """Rotation matrix of axis times angle v (rad)."""
    v = np.asarray(v, dtype=float)
    angle = np.linalg.norm(v)
    if angle < 1e-12:
        return np.eye(3)
    return _matrix_wxyz(np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * v / angle]))


def orientation_error(R_desired, R_current) -> np.ndarray:
    """The rotation vector (base frame) that turns the current orientation into the desired one,
    by the shortest path: log(q_d q_c^-1), from the two quaternions."""
    qd, qc = _wxyz(R_desired), _wxyz(R_current)
    return _log(_multiply(qd, qc * np.array([1.0, -1.0, -1.0, -1.0])))


def _multiply(a, b) -> np.ndarray:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ])


def angle_between(R_a, R_b) -> float:
    return float(np.linalg.norm(orientation_error(R_a, R_b)))
