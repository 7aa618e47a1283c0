"""Depth images to point clouds, and rigid transforms of points (numpy only)."""

from __future__ import annotations

import numpy as np


def depth_to_points(depth_m: np.ndarray, K: np.ndarray, stride: int = 1) -> np.ndarray:
    """Points (N x 3, m) in the camera's optical frame of every pixel with a return (depth > 0),
    taking every `stride`-th pixel in each direction."""
    depth = np.asarray(depth_m, dtype=np.float32)[::stride, ::stride]
    v, u = np.nonzero(depth > 0.0)
    z = depth[v, u]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    x = (u * stride - cx) * z / fx
    y = (v * stride - cy) * z / fy
    return np.column_stack([x, y, z])


class DepthProjector:
    """Depth images of one camera to points in another frame (base_link), cropped to a box there.

    Each pixel's ray is rotated into the frame once; a frame then costs a multiply-add per pixel and
    coordinate, on contiguous columns (five times faster here than on an (N, 3) array)."""

    def __init__(self, K: np.ndarray, shape: tuple[int, int], frame_from_camera: np.ndarray):
        self.K, self.shape, self.T = np.asarray(K, dtype=float), tuple(shape), np.asarray(frame_from_camera, dtype=float)
        v, u = np.mgrid[: shape[0], : shape[1]]
        rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones(shape)], axis=-1)
        rays = rays.reshape(-1, 3) @ self.T[:3, :3].T
        self._rays = [np.ascontiguousarray(rays[:, i], dtype=np.float32) for i in range(3)]

    def matches(self, K: np.ndarray, shape, frame_from_camera: np.ndarray) -> bool:
        return tuple(shape) == self.shape and np.array_equal(K, self.K) and np.array_equal(frame_from_camera, self.T)

    def points(self, depth_m: np.ndarray, low, high) -> np.ndarray:
        """Points (N x 3) of the pixels with a return whose point lies inside the box [low, high]."""
        z = np.asarray(depth_m, dtype=np.float32).ravel()
        inside = z > 0.0
        columns = []
        for axis in range(3):
            column = self._rays[axis] * z
            column += self.T[axis, 3]
            inside &= (column >= low[axis]) & (column <= high[axis])
            columns.append(column)
        keep = np.flatnonzero(inside)
        return np.column_stack([column[keep] for column in columns]).astype(np.float64)


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N x 3) mapped by the 4 x 4 transform T."""
    return points @ T[:3, :3].T + T[:3, 3]


def yaw_matrix(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
