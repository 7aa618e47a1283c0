"""The guided session over the running graph: move, wait until still, take a frame and the TCP pose,
save the sample, next. It talks to the graph's own interfaces only (controller/target_pose,
controller/ee_pose, camera/color/image_raw and its camera_info), so it is the same on the sim and on
a robot."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from geometry_msgs.msg import PoseStamped
from polyarm_cameras.charuco import detect
from polyarm_common import conversions as conv
from polyarm_common.graph import spin_for, spin_until
from polyarm_common.qos import COMMAND, SENSOR, STATE
from polyarm_core.camera import CameraIntrinsics
from polyarm_core.rotations import (
    angle_between,
    from_rotation_vector,
    matrix_to_quat,
    orientation_error,
    pose_matrix,
    quat_to_matrix,
)
from sensor_msgs.msg import CameraInfo, Image

from polyarm_calibration.samples import Sample, Session, write_sample

STEP_HZ = 10.0  # targets per second on the way to a pose
STILL_MM, STILL_DEG, STILL_S, SETTLE_TIMEOUT_S = 0.5, 0.1, 0.5, 8.0  # "still": over 0.5 s, within these


class CalibrationSession:
    def __init__(self, node, session: Session, out: Path, speed: float = 0.1, log=print):
        """`speed`: m/s along the way (and speed * 5 rad/s of turn); slow, a person may be near the arm."""
        self.node, self.session, self.out, self.log = node, session, out, log
        self.speed, self.turn_speed = speed, 5.0 * speed
        self._poses: list[tuple[float, np.ndarray, int]] = []  # (receive time, base_from_tcp, stamp ns)
        self._image: Image | None = None
        self._info: CameraInfo | None = None
        node.create_subscription(PoseStamped, "controller/ee_pose", self._on_pose, STATE)
        node.create_subscription(Image, "camera/color/image_raw", self._on_image, SENSOR)
        node.create_subscription(CameraInfo, "camera/color/camera_info", self._on_info, SENSOR)
        self._targets = node.create_publisher(PoseStamped, "controller/target_pose", COMMAND)

    def _on_pose(self, msg: PoseStamped) -> None:
        position, quaternion = conv.pose_arrays(msg)
        now = time.monotonic()
        pose = (now, pose_matrix(quat_to_matrix(quaternion), position), _nanoseconds(msg.header.stamp))
        self._poses = [p for p in self._poses if now - p[0] < 2.0] + [pose]

    def _on_image(self, msg: Image) -> None:
        self._image = msg

    def _on_info(self, msg: CameraInfo) -> None:
        self._info = msg

    def wait_for_graph(self, timeout: float = 30.0) -> None:
        spin_until(self.node, lambda: self._poses and self._image is not None, timeout,
                   "controller/ee_pose and camera/color/image_raw (are the controller and the camera running?)")
        spin_until(self.node, lambda: self._targets.get_subscription_count() > 0, timeout,
                   "the controller to subscribe to controller/target_pose")

    def collect(self, targets: list[np.ndarray]) -> list[Sample]:
        """Visit every target; a view without the board is skipped with a message. Ctrl-C stops the
        visits and keeps what was collected."""
        samples = []
        try:
            for i, target in enumerate(targets):
                self.move_to(target)
                unsettled = self.wait_still()
                if unsettled:
                    self.log(f"pose {i + 1}/{len(targets)}: the arm did not settle within {SETTLE_TIMEOUT_S:g} s "
                             f"({unsettled}); skipped")
                    continue
                sample = self.capture(i)
                if detect(self.session.board, sample.image) is None:
                    self.log(f"pose {i + 1}/{len(targets)}: board not seen; skipped")
                    continue
                write_sample(self.out, sample)
                samples.append(sample)
                self.log(f"pose {i + 1}/{len(targets)}: sample {len(samples)} saved")
        except KeyboardInterrupt:
            self.log(f"interrupted: {len(samples)} samples kept in {self.out / 'samples'}")
        return samples

    def move_to(self, target: np.ndarray) -> None:
        """Towards `target` in straight steps at the session's speed, published at STEP_HZ."""
        start = self._poses[-1][1]
        distance = np.linalg.norm(target[:3, 3] - start[:3, 3])
        turn = orientation_error(target[:3, :3], start[:3, :3])
        steps = max(1, int(np.ceil(max(distance / self.speed, np.linalg.norm(turn) / self.turn_speed) * STEP_HZ)))
        for k in range(1, steps + 1):
            s = k / steps
            position = start[:3, 3] + s * (target[:3, 3] - start[:3, 3])
            rotation = from_rotation_vector(s * turn) @ start[:3, :3]
            stamp = self.node.get_clock().now().to_msg()
            self._targets.publish(conv.pose_stamped(position, matrix_to_quat(rotation), "base_link", stamp))
            spin_for(self.node, 1.0 / STEP_HZ)

    def wait_still(self) -> str:
        """Until the TCP stays within STILL_MM and STILL_DEG for STILL_S: "" once still, else how much it
        still moves."""
        deadline, moving = time.monotonic() + SETTLE_TIMEOUT_S, "no ee_pose"
        while time.monotonic() < deadline:
            spin_for(self.node, 0.1)
            recent = [T for t, T, _ in self._poses if time.monotonic() - t <= STILL_S]
            if len(recent) < 5:
                continue
            last = recent[-1]
            moved = max(np.linalg.norm(T[:3, 3] - last[:3, 3]) for T in recent) * 1000.0
            turned = max(np.degrees(angle_between(T[:3, :3], last[:3, :3])) for T in recent)
            if moved <= STILL_MM and turned <= STILL_DEG:
                return ""
            moving = f"{moved:.1f} mm and {turned:.2f} deg within {STILL_S:g} s"
        return moving

    def capture(self, index: int) -> Sample:
        """The first camera frame exposed after now, and the TCP pose stamped nearest to its exposure: the arm
        still creeps within the stillness bounds, and a frame shows the arm as it was when exposed, which
        can be a rendering or a transfer earlier than the newest pose."""
        since = self._poses[-1][2]
        self._image = None
        spin_until(self.node, lambda: self._image is not None and _nanoseconds(self._image.header.stamp) >= since,
                   5.0, "a camera frame")
        exposed = _nanoseconds(self._image.header.stamp)
        spin_until(self.node, lambda: self._poses[-1][2] >= exposed, 1.0, "controller/ee_pose past the frame")
        pose = min(self._poses, key=lambda p: abs(p[2] - exposed))[1]
        image = conv.image_to_array(self._image)
        info = self._info
        intrinsics = None if info is None else CameraIntrinsics(info.width, info.height, np.reshape(info.k, (3, 3)),
                                                                tuple(info.d) or (0.0,) * 5)
        return Sample(index, np.ascontiguousarray(image), pose, intrinsics)


def _nanoseconds(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec
