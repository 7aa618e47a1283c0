"""PerceptionNode: the object's pose from the depth camera, on `perception/object_pose`.

It reads the aligned depth image and its camera_info (realsense-ros names) and joint_states (to take
the arm's own points out, RobotSelfFilter), runs ObjectPoseEstimator on the newest frame, and publishes
the pose in base_link, stamped with the frame's stamp, only when it passes the gate. When it does not
(the object gone, or hidden by the gripper), it publishes nothing and says why in the log (once per
change) and in /diagnostics, with fitness, RMSE, coverage, points and time per frame. The camera's pose in base_link comes from the hand-eye file (`camera_pose_file`) on a robot,
or from the sim camera's parameters (`camera.position`, `camera.look_at`) in sim.
"""

from __future__ import annotations

import threading

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from polyarm_cameras.calibration_files import read_camera_pose
from polyarm_common import conversions as conv
from polyarm_common.parameters import declare_parameters
from polyarm_common.qos import SENSOR, STATE
from polyarm_core.rotations import look_at_optical, matrix_to_quat, pose_matrix
from polyarm_description import get_robot
from polyarm_description.objects import object_shape
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState

from polyarm_perception.estimator import ObjectPoseEstimator, PerceptionConfig
from polyarm_perception.self_filter import RobotSelfFilter

PARAMETERS = {  # name: (default, description)
    "robot": ("panda", "which arm (its workspace box is the crop)"),
    "task": ("pick", "the task whose object to find (its shape is the template)"),
    "camera_pose_file": ("", "hand-eye YAML of the camera in base_link (polyarm calibrate); empty: camera.*"),
    "camera.position": ([0.0, 0.0, 0.0], "sim camera position in base_link, m (all zero: the robot's perception view)"),
    "camera.look_at": ([0.0, 0.0, 0.0], "point the sim camera's optical axis passes through (all zero: default)"),
    "depth_topic": ("camera/aligned_depth_to_color/image_raw", "16UC1 depth aligned to color, mm"),
    "gate.min_fitness": (0.85, "share of the cluster's points the template must explain"),
    "gate.max_rmse": (0.0025, "m, RMS distance of those points to the template"),
    "gate.min_coverage": (0.8, "share of the template's visible surface the depth image must confirm"),
    "gate.min_visible": (0.45, "share of the template's camera-facing surface nothing nearer may hide"),
}


class PerceptionNode(Node):
    def __init__(self, overrides=()):
        super().__init__("perception", parameter_overrides=list(overrides))
        p = declare_parameters(self, PARAMETERS)
        robot = get_robot(p["robot"])
        gate = {name.split(".")[1]: p[name] for name in PARAMETERS if name.startswith("gate.")}
        self.self_filter = RobotSelfFilter(robot)
        self.estimator = ObjectPoseEstimator(object_shape(p["task"]), PerceptionConfig.for_robot(robot, **gate), self.self_filter)
        self.base_from_camera, source = camera_pose(robot, p)
        self.get_logger().info(f"finding the {p['task']} object for the {robot.name}; camera pose from {source}")
        self._info: CameraInfo | None = None
        self._lock = threading.Lock()
        self.frames = self.poses = 0
        self._last = None  # the newest Estimate
        self._reason = ""
        self._pub_pose = self.create_publisher(PoseStamped, "perception/object_pose", STATE)
        self._pub_diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        info_topic = p["depth_topic"].rsplit("/", 1)[0] + "/camera_info"
        self.create_subscription(CameraInfo, info_topic, self._on_info, SENSOR)
        self.create_subscription(JointState, "joint_states", self._on_joint_states, STATE)
        self.create_subscription(Image, p["depth_topic"], self._on_depth, SENSOR)
        self.create_timer(1.0, self._publish_diagnostics)

    def _on_info(self, msg: CameraInfo) -> None:
        self._info = msg

    def _on_joint_states(self, msg: JointState) -> None:
        self.self_filter.update(msg.name, msg.position)

    def _on_depth(self, msg: Image) -> None:
        info = self._info
        if info is None:
            return
        if (info.width, info.height) != (msg.width, msg.height):
            self._say(f"depth is {msg.width}x{msg.height} but its camera_info says {info.width}x{info.height}; skipped")
            return
        depth = conv.image_to_array(msg).astype(np.float32) * 0.001
        estimate = self.estimator.estimate(depth, np.asarray(info.k, dtype=float).reshape(3, 3), self.base_from_camera)
        with self._lock:
            self.frames += 1
            self._last = estimate
        if estimate.pose is None:
            self._say(f"no object pose: {estimate.reason}")
            return
        self.poses += 1
        self._say("object found")
        pose = estimate.pose
        self._pub_pose.publish(conv.pose_stamped(pose[:3, 3], matrix_to_quat(pose[:3, :3]), "base_link", msg.header.stamp))

    def _say(self, reason: str) -> None:
        if reason != self._reason:  # once per change, not every frame
            self.get_logger().info(reason)
            self._reason = reason

    def _publish_diagnostics(self) -> None:
        with self._lock:
            last, frames, poses = self._last, self.frames, self.poses
        values = {"frames": frames, "poses": poses, "camera_info": self._info is not None}
        if last is not None:
            r = last.registration or max(last.rejected, key=lambda r: r.fitness * r.coverage, default=None)
            values.update({"ms_per_frame": last.seconds * 1000.0, "scene_points": last.scene_points,
                           "clusters": last.clusters, "status": last.reason})
            if r is not None:
                values.update({"fitness": r.fitness, "rmse_mm": r.rmse * 1000.0, "coverage": r.coverage,
                               "visible": r.visible, "points": r.points})
        level = DiagnosticStatus.OK if last is not None and last.pose is not None else DiagnosticStatus.WARN
        message = "no depth frame yet" if last is None else last.reason
        array = DiagnosticArray(status=[conv.diagnostic("perception: object pose", "perception", level, message, values)])
        array.header.stamp = self.get_clock().now().to_msg()
        self._pub_diagnostics.publish(array)


def camera_pose(robot, p: dict) -> tuple[np.ndarray, str]:
    """The camera's optical frame in base_link, and where it came from."""
    if p["camera_pose_file"]:
        pose = read_camera_pose(p["camera_pose_file"])
        if pose.parent_frame != "base_link":
            raise ValueError(f"{p['camera_pose_file']} places the camera in {pose.parent_frame!r}; perception needs "
                             "a fixed camera in base_link (eye-to-hand)")
        return pose.matrix, p["camera_pose_file"]
    position, look_at = robot.perception_camera_view
    if any(p["camera.position"]):
        position = tuple(p["camera.position"])
    if any(p["camera.look_at"]):
        look_at = tuple(p["camera.look_at"])
    return pose_matrix(look_at_optical(position, look_at), position), f"the sim camera at {position} looking at {look_at}"
