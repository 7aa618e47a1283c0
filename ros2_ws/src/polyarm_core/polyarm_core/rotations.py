"""Rotations as 3x3 matrices and unit quaternions in ROS order (x, y, z, w), in numpy.

Internally quaternions are scalar first (w, x, y, z), as in MuJoCo's mju_* functions, whose results
these match to rounding (tests/test_core.py checks them against MuJoCo).
"""

from __future__ import annotations

import math

import numpy as np


def _wxyz(R) -> tuple[float, float, float, float]:
    """Unit quaternion (w, x, y, z) of rotation matrix R, by the largest-diagonal branch (Shepperd).
    Plain floats: on 3x3 data, numpy's per-call overhead costs more than the arithmetic."""
    (r00, r01, r02), (r10, r11, r12), (r20, r21, r22) = np.asarray(R, dtype=float).reshape(3, 3).tolist()
    trace = r00 + r11 + r22
    if trace > 0:
        s = 2.0 * math.sqrt(1.0 + trace)
        q = (0.25 * s, (r21 - r12) / s, (r02 - r20) / s, (r10 - r01) / s)
    elif r00 > r11 and r00 > r22:
        s = 2.0 * math.sqrt(1.0 + r00 - r11 - r22)
        q = ((r21 - r12) / s, 0.25 * s, (r01 + r10) / s, (r02 + r20) / s)
    elif r11 > r22:
        s = 2.0 * math.sqrt(1.0 + r11 - r00 - r22)
        q = ((r02 - r20) / s, (r01 + r10) / s, 0.25 * s, (r12 + r21) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + r22 - r00 - r11)
        q = ((r10 - r01) / s, (r02 + r20) / s, (r12 + r21) / s, 0.25 * s)
    norm = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    return q[0] / norm, q[1] / norm, q[2] / norm, q[3] / norm


def _matrix_wxyz(q) -> np.ndarray:
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _log(w, x, y, z) -> np.ndarray:
    """Rotation vector (axis times angle) of unit quaternion (w, x, y, z), taken the short way round."""
    if w < 0:
        w, x, y, z = -w, -x, -y, -z
    sin_half = math.sqrt(x * x + y * y + z * z)
    if sin_half < 1e-15:
        return np.zeros(3)
    scale = 2.0 * math.atan2(sin_half, w) / sin_half
    return np.array([scale * x, scale * y, scale * z])


def quat_to_matrix(q_xyzw) -> np.ndarray:
    x, y, z, w = np.asarray(q_xyzw, dtype=float).tolist()
    norm = math.sqrt(x * x + y * y + z * z + w * w)
    return _matrix_wxyz((w / norm, x / norm, y / norm, z / norm))


def matrix_to_quat(R) -> np.ndarray:
    """Unit quaternion (x, y, z, w) with w >= 0."""
    w, x, y, z = _wxyz(R)
    return np.array([x, y, z, w]) if w >= 0 else np.array([-x, -y, -z, -w])


def from_rotation_vector(v) -> np.ndarray:
    """Rotation matrix of axis times angle v (rad)."""
    x, y, z = np.asarray(v, dtype=float).tolist()
    angle = math.sqrt(x * x + y * y + z * z)
    if angle < 1e-12:
        return np.eye(3)
    s = math.sin(angle / 2) / angle
    return _matrix_wxyz((math.cos(angle / 2), s * x, s * y, s * z))


def orientation_error(R_desired, R_current) -> np.ndarray:
    """The rotation vector (base frame) that turns the current orientation into the desired one,
    by the shortest path: log(q_d q_c^-1), from the two quaternions."""
    aw, ax, ay, az = _wxyz(R_desired)
    bw, bx, by, bz = _wxyz(R_current)
    bx, by, bz = -bx, -by, -bz  # the conjugate: the inverse of a unit quaternion
    return _log(aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw)


def angle_between(R_a, R_b) -> float:
    return float(np.linalg.norm(orientation_error(R_a, R_b)))


def matrix_to_rpy(R) -> np.ndarray:
    """Roll, pitch, yaw (rad) with R = Rz(yaw) Ry(pitch) Rx(roll): the fixed-axis XYZ angles robot
    controllers report (UFACTORY's xArm among them)."""
    R = np.asarray(R, dtype=float)
    pitch = np.arcsin(np.clip(-R[2, 0], -1.0, 1.0))
    if abs(R[2, 0]) < 1.0 - 1e-9:
        return np.array([np.arctan2(R[2, 1], R[2, 2]), pitch, np.arctan2(R[1, 0], R[0, 0])])
    return np.array([0.0, pitch, np.arctan2(-R[0, 1], R[1, 1])])  # gimbal lock: yaw carries the rest


def rpy_to_matrix(rpy) -> np.ndarray:
    """R = Rz(yaw) Ry(pitch) Rx(roll), the inverse of matrix_to_rpy."""
    r, p, y = np.asarray(rpy, dtype=float).tolist()
    cr, sr, cp, sp, cy, sy = math.cos(r), math.sin(r), math.cos(p), math.sin(p), math.cos(y), math.sin(y)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def pose_matrix(rotation, translation) -> np.ndarray:
    """The 4 x 4 homogeneous transform of a rotation matrix and a translation."""
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = rotation, np.ravel(translation)
    return T


def look_at_optical(position, look_at, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World-from-camera rotation of a camera at `position` whose optical axis passes through `look_at`,
    in the ROS optical convention (x right, y down, z forward), with the image's x axis level (normal
    to `up`, which the image's up leans towards)."""
    forward = np.subtract(look_at, position).astype(float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, dtype=float))
    right /= np.linalg.norm(right)
    return np.column_stack([right, np.cross(forward, right), forward])
