"""The object's pose from its cluster: the template registered to the observed points.

The observed points are the source and the template (with its exact normals) the target of Open3D's
point-to-plane ICP, so ICP's fitness is the share of observed points the template explains. The object
stands on the table, so the global initial guess (`register`) is a ring of yaws about the cluster's
centre; each is refined coarsely, and the best refined finely. `refine` starts from one given pose
instead (the previous frame's, when tracking). A result carries ICP's fitness and inlier RMSE; the estimator adds
coverage (how much of the object the camera should see at that pose it does see), which needs the
depth image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from polyarm_core.rotations import pose_matrix

from polyarm_perception.cloud import yaw_matrix
from polyarm_perception.segmentation import o3d, point_cloud


@dataclass(frozen=True)
class Registration:
    pose: np.ndarray  # 4 x 4, the object's frame in the cloud's frame
    fitness: float  # share of observed points within the fine correspondence distance of the template
    rmse: float  # m, of those correspondences
    points: int  # observed points used
    coverage: float = 0.0  # share of the template's visible surface the depth image confirms (the estimator's)
    visible: float = 0.0  # share of the template's camera-facing surface nothing nearer hides (the estimator's)


class TemplateMatcher:
    def __init__(self, points: np.ndarray, normals: np.ndarray, yaw_guesses: int = 4,
                 coarse_distance: float = 0.012, fine_distance: float = 0.004, iterations: int = 20):
        self.points, self.normals = points, normals
        self.target = point_cloud(points)
        self.target.normals = o3d.utility.Vector3dVector(normals)
        self.radius = float(np.max(np.linalg.norm(points, axis=1)))  # of the template about its origin
        self.yaws = np.arange(yaw_guesses) * 2.0 * np.pi / yaw_guesses
        self.coarse_distance, self.fine_distance = coarse_distance, fine_distance
        self._criteria = o3d.pipelines.registration.ICPConvergenceCriteria(1e-4, 1e-4, iterations)
        self._point_to_plane = o3d.pipelines.registration.TransformationEstimationPointToPlane()

    def guesses(self, observed: np.ndarray, camera_position: np.ndarray) -> list[np.ndarray]:
        """Initial object poses: upright at the cluster's centre pushed away from the camera (it sees
        the near faces only), at each yaw of the ring. A box's ICP basin is about +-45 degrees of yaw,
        so four guesses reach every yaw of a box; the best fit picks among its symmetric solutions."""
        centre = observed.mean(axis=0)
        ray = centre - camera_position
        centre = centre + 0.5 * self.radius * ray / np.linalg.norm(ray)
        return [pose_matrix(yaw_matrix(yaw), centre) for yaw in self.yaws]

    def register(self, observed: np.ndarray, camera_position) -> Registration:
        """The template's pose from no prior: the ring of guesses."""
        source = point_cloud(observed)
        coarse = [self._icp(source, np.linalg.inv(guess), self.coarse_distance)
                  for guess in self.guesses(observed, np.asarray(camera_position, dtype=float))]
        best = max(coarse, key=lambda r: (r.fitness, -r.inlier_rmse))
        return self._finish(source, best.transformation)

    def refine(self, observed: np.ndarray, pose: np.ndarray) -> Registration:
        """The template's pose from one initial pose (the last frame's)."""
        source = point_cloud(observed)
        return self._finish(source, self._icp(source, np.linalg.inv(pose), self.coarse_distance).transformation)

    def _finish(self, source, coarse_transformation: np.ndarray) -> Registration:
        fine = self._icp(source, coarse_transformation, self.fine_distance)
        return Registration(np.linalg.inv(fine.transformation), float(fine.fitness), float(fine.inlier_rmse),
                            len(source.points))

    def _icp(self, source, init: np.ndarray, distance: float):
        return o3d.pipelines.registration.registration_icp(source, self.target, distance, init,
                                                           self._point_to_plane, self._criteria)
