"""Perception on the sim without ROS: the sim's depth camera at the robot's perception view, and an
env's object position measured by it (what the perception node does over topics, in one process, for
tests, benchmarks and `polyarm evaluate --perception`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from polyarm_core.camera import depth_to_millimetres
from polyarm_core.rotations import pose_matrix
from polyarm_perception.estimator import Estimate, ObjectPoseEstimator, PerceptionConfig
from polyarm_perception.self_filter import RobotSelfFilter
from sim_bridge.camera import CameraConfig


class SimDepthCamera:
    """Renders a simulated arm's scene (MujocoSim, PybulletSim) to depth as the camera topic carries it
    (16UC1: whole millimetres), from the scene's perception camera, in the sim's own engine."""

    def __init__(self, robot, width: int = 320, height: int = 240):
        self.config = CameraConfig.perception_view(robot, width=width, height=height)
        self.base_from_camera = pose_matrix(self.config.optical_rotation(), self.config.position)
        self._renderer = None

    @property
    def K(self) -> np.ndarray:
        return self.config.K

    def depth(self, sim) -> np.ndarray:
        if self._renderer is None or self._renderer.model is not sim.model:
            self.close()
            self._renderer = sim.renderer(self.config)
        _, depth = self._renderer.render(sim.data.qpos, sim.data.mocap_pos, sim.data.mocap_quat)
        return depth_to_millimetres(depth).astype(np.float32) * np.float32(0.001)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


class PerceivedObject:
    """The object position of an env's observations, measured by perception instead of read from the sim.
    Where perception has no pose, the last one stands, as the policy node keeps the last message."""

    def __init__(self, env, width: int = 320, height: int = 240):
        self.env = env
        self.camera = SimDepthCamera(env.robot, width, height)
        self.self_filter = RobotSelfFilter(env.robot)
        self.estimator = ObjectPoseEstimator(env.task.object_shape, PerceptionConfig.for_robot(env.robot), self.self_filter)
        self.frames = self.poses = 0
        self.errors_m: list[float] = []  # against the sim's ground truth, per pose
        self._last: np.ndarray | None = None

    def reset(self) -> None:
        self._last, self.estimator.previous = None, None

    def estimate(self) -> Estimate:
        sim = self.env.loop.sim
        reading = sim.joint_state()
        self.self_filter.update(reading.names, reading.position)
        return self.estimator.estimate(self.camera.depth(sim), self.camera.K, self.camera.base_from_camera)

    def measure(self, reading):
        """`reading` with its object position replaced by perception's."""
        estimate = self.estimate()
        self.frames += 1
        if estimate.pose is not None:
            self.poses += 1
            self._last = estimate.pose[:3, 3].copy()
            self.errors_m.append(float(np.linalg.norm(self._last - reading.object_position)))
        if self._last is None:
            raise ValueError(f"perception found no object in the first frame: {estimate.reason}")
        return replace(reading, object_position=self._last)

    def close(self) -> None:
        self.camera.close()
