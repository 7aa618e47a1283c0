"""CameraNode: a real camera on the ROS graph, `polyarm camera --backend realsense|opencv`.

The backend (polyarm_core.registry: the polyarm.cameras entry points) is read by a CameraStream under realsense-ros names (color,
aligned depth, both camera_info); /diagnostics carries the frames, dropped frames, reconnects and the
stamp-to-publish latency each second. If the camera fails for good, the node says why and exits 1.
"""

from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from polyarm_common import conversions as conv
from polyarm_common.parameters import declare_options, declare_parameters
from polyarm_common.qos import STATE
from polyarm_core.registry import factory
from rclpy.node import Node

from polyarm_cameras.stream import CameraStream

PARAMETERS = {  # name: (default, description)
    "backend": ("realsense", "the camera's registry name (an entry point of polyarm.cameras)"),
}


class CameraNode(Node):
    def __init__(self, overrides=()):
        super().__init__("camera", parameter_overrides=list(overrides))
        self.backend = declare_parameters(self, PARAMETERS)["backend"]
        camera_class = factory("camera", self.backend)  # UnknownBackendError (a ValueError) names the valid ones
        self.camera = camera_class.create(**declare_options(self, camera_class.config_class))
        self.failure: str | None = None
        try:
            self.camera.connect()
        except RuntimeError as err:  # no device, no permission, a mode it lacks: named, and the node exits 1
            self.failure = f"cannot start the {self.backend} camera: {err}"
            self.stream = None
            return
        self.stream = CameraStream(self, self.camera)
        self._frames = 0
        self._pub_diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        self.create_timer(1.0, self._publish_diagnostics)
        k = self.camera.intrinsics
        size = f"{k.width}x{k.height}" if k is not None else "uncalibrated (no camera_info)"
        self.get_logger().info(f"{self.backend} camera streaming, {size}, on camera/...")

    def check(self) -> str | None:
        return self.failure or (self.stream.failure if self.stream else None)

    def _publish_diagnostics(self) -> None:
        latencies = np.array(self.stream.latencies_ms) if self.stream.latencies_ms else np.zeros(1)
        values = {"published_frames": self.stream.frames, "fps": float(self.stream.frames - self._frames),
                  "latency_ms_p50": float(np.percentile(latencies, 50)), "latency_ms_max": float(latencies.max()),
                  **self.camera.diagnostics()}
        self._frames = self.stream.frames
        dropped = values.get("dropped_frames", 0)
        level = DiagnosticStatus.WARN if dropped else DiagnosticStatus.OK
        message = f"{dropped} frames dropped" if dropped else "streaming"
        array = DiagnosticArray(status=[conv.diagnostic(f"camera: {self.backend}", self.backend, level, message, values)])
        array.header.stamp = self.get_clock().now().to_msg()
        self._pub_diagnostics.publish(array)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.stop()  # the stream's thread closes the camera
