"""CameraStream: any Camera on the ROS graph, attached to a node, under realsense-ros topic names.

A thread reads the camera and publishes each frame: `camera/color/image_raw` (rgb8) and
`camera/color/camera_info` (none for a camera not calibrated yet); for depth cameras
`camera/aligned_depth_to_color/image_raw` (16UC1, mm, 0 = no return) and its `camera_info` (the color
intrinsics: depth is aligned to color). If the camera fails, `failure` says why and the stream stops;
the node owning it decides what that means. `latencies_ms` holds, for the last 300 frames, the time
from each frame's stamp (its exposure) to its publication.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from polyarm_common import conversions as conv
from polyarm_common.qos import SENSOR
from polyarm_core.camera import Camera, CameraFrame, depth_to_millimetres
from sensor_msgs.msg import CameraInfo, Image


class CameraStream:
    def __init__(self, node, camera: Camera):
        self.node, self.camera = node, camera
        self.frames = 0
        self.latencies_ms: deque[float] = deque(maxlen=300)
        self.failure: str | None = None
        self._pub_color = node.create_publisher(Image, "camera/color/image_raw", SENSOR)
        self._pub_color_info = node.create_publisher(CameraInfo, "camera/color/camera_info", SENSOR)
        self._pub_depth = node.create_publisher(Image, "camera/aligned_depth_to_color/image_raw", SENSOR)
        self._pub_depth_info = node.create_publisher(CameraInfo, "camera/aligned_depth_to_color/camera_info", SENSOR)
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="camera", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            while self._running:
                frame = self.camera.read(timeout=0.5)
                if frame is not None:
                    self.publish(frame)
        except Exception as err:  # noqa: BLE001 - any camera failure is reported by the owning node
            self.failure = str(err)
            self.node.get_logger().fatal(self.failure)
        finally:
            self.camera.close()  # in this thread: a renderer's GL context is the reading thread's

    def publish(self, frame: CameraFrame) -> None:
        k, frame_id = self.camera.intrinsics, self.camera.frame_id
        stamp = conv.stamp(frame.stamp_ns)
        info = conv.camera_info(k.K, k.width, k.height, frame_id, stamp, k.distortion) if k is not None else None
        self._pub_color.publish(conv.image(frame.color, "rgb8", frame_id, stamp))
        if info is not None:
            self._pub_color_info.publish(info)
        if frame.depth is not None:
            self._pub_depth.publish(conv.image(depth_to_millimetres(frame.depth), "16UC1", frame_id, stamp))
            if info is not None:
                self._pub_depth_info.publish(info)
        self.frames += 1
        self.latencies_ms.append((time.time_ns() - frame.stamp_ns) * 1e-6)

    def stop(self) -> None:
        self._running = False
        self._thread.join(timeout=2.0)
