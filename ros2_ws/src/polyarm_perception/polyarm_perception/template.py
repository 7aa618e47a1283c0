"""The object's template cloud: points and outward normals on the surface of its shape (the boxes the
sim builds it from, sim_bridge.tasks), in the object's frame."""

from __future__ import annotations

import numpy as np

from polyarm_perception.cloud import yaw_matrix


def euler_xyz(euler) -> np.ndarray:
    """MuJoCo's default euler sequence: intrinsic rotations about x, then y, then z."""
    ax, ay, az = euler
    cx, sx, cy, sy = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay)
    Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return Rx @ Ry @ yaw_matrix(az)


def box_surface(half_size, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Points on a grid over the six faces of a box centred at the origin, with their normals."""
    half = np.asarray(half_size, dtype=float)
    points, normals = [], []
    for axis in range(3):
        a, b = [i for i in range(3) if i != axis]
        ga = np.linspace(-half[a], half[a], max(2, int(round(2 * half[a] / spacing)) + 1))
        gb = np.linspace(-half[b], half[b], max(2, int(round(2 * half[b] / spacing)) + 1))
        A, B = np.meshgrid(ga, gb, indexing="ij")
        for sign in (-1.0, 1.0):
            face = np.zeros((A.size, 3))
            face[:, a], face[:, b], face[:, axis] = A.ravel(), B.ravel(), sign * half[axis]
            normal = np.zeros(3)
            normal[axis] = sign
            points.append(face)
            normals.append(np.tile(normal, (A.size, 1)))
    return np.concatenate(points), np.concatenate(normals)


def _inside(points: np.ndarray, box, margin: float = 1e-4) -> np.ndarray:
    local = (points - np.asarray(box.pos)) @ euler_xyz(box.euler)
    return np.all(np.abs(local) < np.asarray(box.half_size) - margin, axis=1)


def sample_shape(boxes, spacing: float = 0.002) -> tuple[np.ndarray, np.ndarray]:
    """Surface points and normals of a union of boxes: each box's faces, less what lies inside another."""
    if not boxes:
        raise ValueError("the object has no shape to sample a template from")
    points, normals = [], []
    for i, box in enumerate(boxes):
        R = euler_xyz(box.euler)
        p, n = box_surface(box.half_size, spacing)
        p, n = p @ R.T + np.asarray(box.pos), n @ R.T
        keep = np.ones(len(p), dtype=bool)
        for j, other in enumerate(boxes):
            if j != i:
                keep &= ~_inside(p, other)
        points.append(p[keep])
        normals.append(n[keep])
    return np.concatenate(points), np.concatenate(normals)
