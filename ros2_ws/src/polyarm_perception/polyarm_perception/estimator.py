"""ObjectPoseEstimator: a depth frame in, the object's pose in base_link out, or no pose and why.

    depth + intrinsics -> cloud (camera frame) -> base_link (the camera's pose) -> crop to the workspace
    -> table plane (RANSAC) removed -> the arm's own points removed (RobotSelfFilter, from joint_states)
    -> clusters (DBSCAN) -> clusters of the object's size -> template registration of each
    -> the best that passes the gate, or nothing

A pose is published only if it passes the gate: ICP's fitness and RMSE, and a z-buffer check of the
template at that pose against the depth image: enough of its camera-facing surface is not hidden by
something nearer (visible), and of that the image shows a surface where the template puts one
(coverage: a finger-sized patch fits one face of the template, but cannot cover it). When the object
is gone or hidden the estimator says so instead. No temporal filter: the previous pose is
only where ICP starts (and, if that fit fails the gate, the ring of guesses runs as on a first frame),
so a pose never lags the frame it came from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from polyarm_perception import segmentation
from polyarm_perception.cloud import DepthProjector
from polyarm_perception.registration import Registration, TemplateMatcher
from polyarm_perception.template import sample_shape


@dataclass(frozen=True)
class PerceptionConfig:
    workspace_low: tuple[float, float, float]  # the crop box in base_link, m (the table's top is in it)
    workspace_high: tuple[float, float, float]
    voxel: float = 0.003  # m: what stands on the table is thinned to this before clustering
    plane_distance: float = 0.004  # m: RANSAC inlier band of the table
    table_clearance: float = 0.006  # m: points this close to the table belong to it
    cluster_eps: float = 0.008  # m: DBSCAN neighbourhood
    min_points: int = 30  # a cluster smaller than this is noise
    min_fitness: float = 0.85
    max_rmse: float = 0.0025  # m
    min_coverage: float = 0.8
    # Share of the template's camera-facing surface that nothing nearer (the fingers) may hide: with most
    # of the block hidden, a fit slides along what is left (1 cm off, found in the xArm's grasp).
    min_visible: float = 0.45
    depth_tolerance: float = 0.006  # m: a template point and the depth image agree within this

    @classmethod
    def for_robot(cls, robot, **overrides) -> "PerceptionConfig":
        """The robot profile's workspace box, reaching down below the table so the crop holds it."""
        low = (robot.workspace_low[0] - 0.05, robot.workspace_low[1] - 0.05, -0.05)
        high = (robot.workspace_high[0] + 0.05, robot.workspace_high[1] + 0.05, robot.workspace_high[2])
        return cls(workspace_low=low, workspace_high=high, **overrides)


@dataclass
class Estimate:
    registration: Registration | None  # the accepted one; None: no pose this frame
    reason: str  # why there is no pose, or "ok"
    scene_points: int = 0
    clusters: int = 0
    seconds: float = 0.0
    rejected: list = field(default_factory=list)  # the registrations that failed the gate

    @property
    def pose(self) -> np.ndarray | None:
        return None if self.registration is None else self.registration.pose


class ObjectPoseEstimator:
    def __init__(self, shape, config: PerceptionConfig, self_filter=None, template_spacing: float = 0.003):
        """`self_filter`: a RobotSelfFilter kept posed by the caller (None: the arm is not taken out)."""
        self.config, self.self_filter = config, self_filter
        points, normals = sample_shape(shape, template_spacing)
        self.matcher = TemplateMatcher(points, normals)
        self.size = 2.0 * self.matcher.radius  # the object's largest extent
        self.previous: np.ndarray | None = None
        self._projector: DepthProjector | None = None
        self._rng = np.random.default_rng(0)  # RANSAC's sample: the same frame gives the same pose

    def estimate(self, depth_m: np.ndarray, K: np.ndarray, base_from_camera: np.ndarray) -> Estimate:
        t0 = time.perf_counter()
        estimate = self._estimate(depth_m, K, base_from_camera)
        estimate.seconds = time.perf_counter() - t0
        self.previous = estimate.pose
        return estimate

    def scene(self, depth_m: np.ndarray, K: np.ndarray, base_from_camera: np.ndarray) -> np.ndarray:
        """The scene cloud in base_link, cropped to the workspace."""
        c = self.config
        if self._projector is None or not self._projector.matches(K, depth_m.shape, base_from_camera):
            self._projector = DepthProjector(K, depth_m.shape, base_from_camera)
        return self._projector.points(depth_m, c.workspace_low, c.workspace_high)

    def candidates(self, scene: np.ndarray) -> list[np.ndarray]:
        """Clusters above the table no larger than the object (with a margin for depth noise)."""
        c = self.config
        plane = segmentation.table_plane(scene, c.plane_distance, rng=self._rng)
        if plane is None:
            return []
        above = segmentation.above_plane(scene, plane, c.table_clearance)
        if self.self_filter is not None:
            above = self.self_filter.keep(above)
        above = np.asarray(segmentation.point_cloud(above).voxel_down_sample(c.voxel).points)
        found = segmentation.clusters(above, c.cluster_eps, c.min_points)
        return [k for k in found if np.linalg.norm(np.ptp(k, axis=0)) <= 1.3 * self.size]

    def _estimate(self, depth_m, K, base_from_camera) -> Estimate:
        scene = self.scene(depth_m, K, base_from_camera)
        found = self.candidates(scene)
        if not found:
            return Estimate(None, "no object-sized cluster above the table", len(scene))
        camera = base_from_camera[:3, 3]
        view = (depth_m, K, np.linalg.inv(base_from_camera))
        results = [self.register(k, camera, view) for k in found]
        passed = [r for r in results if self.passes(r)]
        if not passed:
            best = max(results, key=lambda r: r.fitness * r.coverage)
            return Estimate(None, f"no cluster matches the object (best: fitness {best.fitness:.2f}, rmse "
                            f"{best.rmse * 1000:.1f} mm, coverage {best.coverage:.2f}, visible {best.visible:.2f})",
                            len(scene), len(found), rejected=results)
        best = max(passed, key=lambda r: r.fitness * r.coverage)
        return Estimate(best, "ok", len(scene), len(found), rejected=[r for r in results if r is not best])

    def register(self, cluster: np.ndarray, camera: np.ndarray, view: tuple) -> Registration:
        """From the last pose if there is one and that passes the gate, else from the ring of guesses."""
        if self.previous is not None:
            tracked = self.matcher.refine(cluster, self.previous)
            tracked = self._judged(tracked, view)
            if self.passes(tracked):
                return tracked
        return self._judged(self.matcher.register(cluster, camera), view)

    def _judged(self, r: Registration, view: tuple) -> Registration:
        coverage, visible = self.coverage(r.pose, *view)
        return replace(r, coverage=coverage, visible=visible)

    def coverage(self, pose: np.ndarray, depth_m: np.ndarray, K: np.ndarray,
                 camera_from_base: np.ndarray) -> tuple[float, float]:
        """(coverage, visible): of the template's camera-facing points at `pose`, the share that nothing
        nearer hides (visible), and of those the share where the depth image sees a surface within
        depth_tolerance (coverage). Hidden: the image has a return nearer than the point; a return
        farther than the point, or none, counts against the pose."""
        m = self.matcher
        to_camera = camera_from_base @ pose
        points = m.points @ to_camera[:3, :3].T + to_camera[:3, 3]
        facing = np.einsum("ij,ij->i", m.normals @ to_camera[:3, :3].T, points) < 0.0
        points = points[facing & (points[:, 2] > 0.0)]
        u = np.rint(K[0, 0] * points[:, 0] / points[:, 2] + K[0, 2]).astype(int)
        v = np.rint(K[1, 1] * points[:, 1] / points[:, 2] + K[1, 2]).astype(int)
        in_image = (u >= 0) & (u < depth_m.shape[1]) & (v >= 0) & (v < depth_m.shape[0])
        observed, expected = depth_m[v[in_image], u[in_image]], points[in_image, 2]
        tol = self.config.depth_tolerance
        hidden = (observed > 0.0) & (observed < expected - tol)
        seen = np.abs(observed - expected) <= tol
        visible = np.count_nonzero(~hidden)
        return (float(np.count_nonzero(seen) / visible) if visible else 0.0), visible / max(1, len(observed))

    def passes(self, r: Registration) -> bool:
        c = self.config
        return (r.fitness >= c.min_fitness and r.rmse <= c.max_rmse and r.coverage >= c.min_coverage
                and r.visible >= c.min_visible)
