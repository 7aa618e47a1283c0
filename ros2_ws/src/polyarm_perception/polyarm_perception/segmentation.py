"""From a scene cloud (cropped to the workspace) to object candidates: remove the table plane (RANSAC),
and split what is left into Euclidean clusters (DBSCAN), all with Open3D's legacy pipeline."""

from __future__ import annotations

import numpy as np
from polyarm_cameras.native import import_with_libusb

o3d = import_with_libusb("open3d")


def point_cloud(points: np.ndarray):
    return o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64)))


def table_plane(points: np.ndarray, distance: float = 0.004, iterations: int = 60, sample: int = 3000,
                rng: np.random.Generator | None = None) -> np.ndarray | None:
    """The dominant plane (a, b, c, d), a x + b y + c z + d = 0, its normal pointing up (c > 0), or None
    if there are too few points to fit one. The table is most of a cropped workspace, so a few dozen
    RANSAC iterations on a few thousand of its points find it."""
    if len(points) < 50:
        return None
    if len(points) > sample:
        rng = rng or np.random.default_rng(0)
        points = points[rng.choice(len(points), sample, replace=False)]
    plane, _ = point_cloud(points).segment_plane(distance, ransac_n=3, num_iterations=iterations)
    plane = np.asarray(plane, dtype=float)
    return -plane if plane[2] < 0 else plane


def above_plane(points: np.ndarray, plane: np.ndarray, clearance: float) -> np.ndarray:
    """Points more than `clearance` above the plane."""
    return points[points @ plane[:3] + plane[3] > clearance]


def clusters(points: np.ndarray, eps: float = 0.008, min_size: int = 30, density: int = 5) -> list[np.ndarray]:
    """Euclidean clusters of at least `min_size` points, largest first (DBSCAN: a core point has
    `density` neighbours within `eps`; noise points are dropped)."""
    if len(points) == 0:
        return []
    labels = np.asarray(point_cloud(points).cluster_dbscan(eps, density, print_progress=False))
    found = [points[labels == k] for k in range(labels.max() + 1)]
    return sorted((k for k in found if len(k) >= min_size), key=len, reverse=True)
