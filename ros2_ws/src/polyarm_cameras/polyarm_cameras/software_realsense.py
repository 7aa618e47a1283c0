"""SoftwareRealSense: a RealSense made of librealsense's own `rs.software_device`, fed frame by frame.

It has a depth sensor (z16, 1 mm units) and a color sensor (rgb8), each with the intrinsics given and the
extrinsics between them registered, so `rs.align` and `rs.pointcloud` treat its frames as a camera's.
Frames rendered by the sim go in with `inject`; RealSenseCamera(device=...) reads them out through the
same syncer and align as a camera on USB. `record_to` wraps it in `rs.recorder`, which writes the stream
to a .db3 file that RealSenseConfig(playback=...) plays back.
"""

from __future__ import annotations

import numpy as np
from polyarm_core.camera import CameraIntrinsics, depth_to_millimetres

from polyarm_cameras.native import import_with_libusb

SERIAL = "000000000000"


class SoftwareRealSense:
    def __init__(self, intrinsics: CameraIntrinsics, fps: int = 30, serial: str = SERIAL,
                 depth_intrinsics: CameraIntrinsics | None = None, depth_to_color_m=(0.0, 0.0, 0.0)):
        rs = self.rs = import_with_libusb("pyrealsense2")
        self.device = rs.software_device()
        self.device.register_info(rs.camera_info.name, "polyarm SoftwareRealSense")
        self.device.register_info(rs.camera_info.serial_number, serial)
        self._depth_sensor = self.device.add_sensor("Stereo Module")
        self._color_sensor = self.device.add_sensor("RGB Camera")
        depth_intrinsics = depth_intrinsics or intrinsics
        self._depth = self._depth_sensor.add_video_stream(self._stream(rs.stream.depth, 0, rs.format.z16, 2, depth_intrinsics, fps))
        self._color = self._color_sensor.add_video_stream(self._stream(rs.stream.color, 1, rs.format.rgb8, 3, intrinsics, fps))
        self._depth_sensor.add_read_only_option(rs.option.depth_units, 0.001)
        extrinsics = rs.extrinsics()
        extrinsics.rotation, extrinsics.translation = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], list(map(float, depth_to_color_m))
        self._depth.register_extrinsics_to(self._color, extrinsics)
        self.device.create_matcher(rs.matchers.default)
        self.frame_number = 0

    def _stream(self, kind, uid: int, fmt, bpp: int, k: CameraIntrinsics, fps: int):
        rs = self.rs
        intrinsics = rs.intrinsics()
        intrinsics.width, intrinsics.height = k.width, k.height
        intrinsics.fx, intrinsics.fy, intrinsics.ppx, intrinsics.ppy = k.K[0, 0], k.K[1, 1], k.K[0, 2], k.K[1, 2]
        intrinsics.model, intrinsics.coeffs = rs.distortion.brown_conrady, [float(v) for v in k.distortion]
        stream = rs.video_stream()
        stream.type, stream.index, stream.uid, stream.fmt, stream.bpp = kind, 0, uid, fmt, bpp
        stream.width, stream.height, stream.fps, stream.intrinsics = k.width, k.height, fps, intrinsics
        return stream

    def inject(self, color: np.ndarray, depth_m: np.ndarray, timestamp_ms: float, frame_number: int | None = None) -> None:
        """One exposure: color (uint8 H x W x 3) and depth (m, 0: no return), on the device's clock."""
        self.frame_number = self.frame_number + 1 if frame_number is None else frame_number
        depth = depth_to_millimetres(depth_m)
        for sensor, profile, pixels in ((self._depth_sensor, self._depth, depth), (self._color_sensor, self._color, color)):
            frame = self.rs.software_video_frame()
            frame.pixels = np.ascontiguousarray(pixels)
            frame.bpp = pixels.itemsize * (pixels.shape[2] if pixels.ndim == 3 else 1)
            frame.stride = pixels.shape[1] * frame.bpp
            frame.timestamp, frame.domain = timestamp_ms, self.rs.timestamp_domain.hardware_clock
            frame.frame_number, frame.profile = self.frame_number, profile.as_video_stream_profile()
            if pixels is depth:
                frame.depth_units = 0.001
            sensor.on_video_frame(frame)

    def record_to(self, path) -> object:
        """The device wrapped in rs.recorder: what streams through it is written to `path` (.db3)."""
        return self.rs.recorder(str(path), self.device)
