"""OpenCVCamera: color from anything `cv2.VideoCapture` opens (a V4L2 device, a video file, a stream URL).

Color only (depth is None). Its intrinsics come from a camera_info YAML (the calibration file `polyarm
calibrate intrinsics` writes); without one it has none, and the node says so rather than inventing a
matrix. A device's frames are stamped when grabbed (V4L2 gives no exposure time through OpenCV), a file's
with its own timeline (CAP_PROP_POS_MSEC) on the host clock from the first frame; a file is paced at its
frame rate, as a camera would deliver it. A frame index that skips counts as dropped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
from polyarm_core.camera import Camera, CameraFrame, CameraIntrinsics
from polyarm_core.options import option

from polyarm_cameras.calibration_files import read_camera_info

log = logging.getLogger("polyarm.opencv_camera")


@dataclass(frozen=True)
class OpenCVCameraConfig:
    device: str = option("0", "a /dev/video index, a video file or a stream URL")
    camera_info_file: str = option("", "intrinsics, camera_info YAML (polyarm calibrate intrinsics); empty: no camera_info",
                                   aliases=("--camera-info",))
    width: int = option(0, "requested width, px (0: the device's own)")
    height: int = option(0, "requested height, px (0: the device's own)")
    fps: float = option(0.0, "requested frame rate (0: the device's or the file's own)")
    frame_id: str = "camera_color_optical_frame"


class OpenCVCamera(Camera):
    config_class = OpenCVCameraConfig

    def __init__(self, config: OpenCVCameraConfig = OpenCVCameraConfig()):
        self.config = config
        self._capture = None
        self._intrinsics: CameraIntrinsics | None = None
        self._is_file = Path(config.device).is_file()
        self._start_ns = 0
        self._period_s = 0.0
        self._next_due = 0.0
        self._last_index = -1
        self.frames = self.dropped = 0

    @property
    def intrinsics(self) -> CameraIntrinsics | None:
        return self._intrinsics  # None without a calibration file: images go out without camera_info

    @property
    def frame_id(self) -> str:
        return self.config.frame_id

    def connect(self) -> None:
        c = self.config
        source = int(c.device) if c.device.isdigit() else c.device
        self._capture = cv2.VideoCapture(source)
        if not self._capture.isOpened():
            hint = "" if self._is_file or not str(source).isdigit() else f" (is /dev/video{source} there, and in group video?)"
            raise RuntimeError(f"OpenCV cannot open camera {c.device!r}{hint}")
        if c.width and c.height:
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, c.width)
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, c.height)
        if c.fps and not self._is_file:
            self._capture.set(cv2.CAP_PROP_FPS, c.fps)
        fps = c.fps or self._capture.get(cv2.CAP_PROP_FPS) or 30.0
        self._period_s = 1.0 / fps
        width, height = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if c.camera_info_file:
            k = read_camera_info(c.camera_info_file, c.frame_id)
            if (k.width, k.height) != (width, height):
                raise RuntimeError(f"{c.camera_info_file} calibrates {k.width}x{k.height} images, camera {c.device!r} "
                                   f"gives {width}x{height}")
            self._intrinsics = k
        log.info("OpenCV camera %s: %dx%d at %.1f fps%s", c.device, width, height, fps,
                 "" if c.camera_info_file else " (no calibration file: no camera_info)")

    def read(self, timeout: float = 1.0) -> CameraFrame | None:
        if self._capture is None:
            self.connect()
        if self._is_file:
            self._pace()
        ok, bgr = self._capture.read()
        grabbed_ns = time.time_ns()
        if not ok:
            if self._is_file:
                self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)  # a file loops, as a recording stands in for a camera
                self._last_index, self._start_ns = -1, 0
                return None
            raise RuntimeError(f"camera {self.config.device!r} stopped delivering frames (unplugged?)")
        self._count(int(self._capture.get(cv2.CAP_PROP_POS_FRAMES)) - 1)
        self.frames += 1
        return CameraFrame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), None, self._stamp(grabbed_ns))

    def _pace(self) -> None:
        now = time.monotonic()
        if self._next_due > now:
            time.sleep(self._next_due - now)
        self._next_due = max(self._next_due + self._period_s, time.monotonic() - self._period_s)

    def _stamp(self, grabbed_ns: int) -> int:
        if not self._is_file:
            return grabbed_ns
        position_ns = int(self._capture.get(cv2.CAP_PROP_POS_MSEC) * 1e6)
        if not self._start_ns:
            self._start_ns = grabbed_ns - position_ns
        return self._start_ns + position_ns

    def _count(self, index: int) -> None:
        if self._last_index >= 0 and index > self._last_index + 1:
            self.dropped += index - self._last_index - 1
        self._last_index = index

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def diagnostics(self) -> dict:
        return {"frames": self.frames, "dropped_frames": self.dropped}
