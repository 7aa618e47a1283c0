"""RealSenseCamera: color and depth aligned to color from an Intel RealSense, through pyrealsense2.

The same code reads three kinds of device, each an `rs.device` whose depth and color sensors stream
into one `rs.syncer`: a camera on USB (by serial, or the first one found), a recording played back
(`playback`: the `.db3` files `rs.recorder` writes; looped), and an `rs.software_device` that a program
feeds (the tests feed it MuJoCo-rendered frames). Each frameset goes through `rs.align` to the color
stream, and the depth sensor's own depth scale turns z16 into metres. Intrinsics are the device's own
(its color stream's). Frames are stamped with the device's exposure time on the host clock, and gaps in
the color stream's frame numbers are counted as dropped frames. When the camera is unplugged, `read`
says so, and waits for it to come back (`reconnects` counts the times).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from polyarm_core.camera import Camera, CameraFrame, CameraIntrinsics
from polyarm_core.options import option

from polyarm_cameras.device_clock import DeviceClock
from polyarm_cameras.native import import_with_libusb

log = logging.getLogger("polyarm.realsense")
HOST_DOMAINS = ("system_time", "global_time")  # timestamp domains already on the host's clock


@dataclass(frozen=True)
class RealSenseConfig:
    width: int = option(640, "color and depth width, px")
    height: int = option(480, "color and depth height, px")
    fps: int = option(30, "frames per second")
    serial: str = option("", "the camera's serial number (empty: the first RealSense found)")
    playback: str = option("", "a .db3 recording (rs.recorder) to play, looped, instead of a camera")
    frame_id: str = "camera_color_optical_frame"


class RealSenseCamera(Camera):
    config_class = RealSenseConfig

    def __init__(self, config: RealSenseConfig = RealSenseConfig(), device=None):
        """`device`: an rs.device to read (a software_device) instead of finding one by the config."""
        self.rs = import_with_libusb("pyrealsense2")
        self.config, self._given_device = config, device
        self._context = self.rs.context()
        self._device = self._sensors = self._syncer = None
        self._intrinsics: CameraIntrinsics | None = None
        self._align = self.rs.align(self.rs.stream.color)
        self._clock = DeviceClock()
        self._last_number: int | None = None
        self.frames = self.dropped = self.reconnects = self.loops = 0
        self._lost = False  # the camera was unplugged: read() tries to reconnect
        self.depth_scale = 0.0

    # ------------------------------------------------------------ device
    @property
    def intrinsics(self) -> CameraIntrinsics:
        if self._intrinsics is None:
            raise RuntimeError("the RealSense is not connected yet")
        return self._intrinsics

    def connect(self) -> None:
        self._device = self._find_device()
        rs = self.rs
        depth_sensor, depth = self._profile(rs.stream.depth, rs.format.z16)
        color_sensor, color = self._profile(rs.stream.color, rs.format.rgb8)
        self.depth_scale = depth_sensor.get_option(rs.option.depth_units)
        self._intrinsics = self._color_intrinsics(color)
        self._syncer = rs.syncer()
        self._sensors = [(depth_sensor, depth), (color_sensor, color)]
        for sensor, profile in self._sensors:
            sensor.open(profile)
            sensor.start(self._syncer)
        self._clock.reset()
        self._last_number = None
        log.info("RealSense %s streaming %dx%d at %d fps (depth scale %.5f m)", self.describe(), self.config.width,
                 self.config.height, self.config.fps, self.depth_scale)

    def describe(self) -> str:
        rs, device = self.rs, self._device
        name = device.get_info(rs.camera_info.name) if device.supports(rs.camera_info.name) else "device"
        serial = device.get_info(rs.camera_info.serial_number) if device.supports(rs.camera_info.serial_number) else "?"
        return f"{name} {serial}" + (f" (playback of {self.config.playback})" if self.config.playback else "")

    def _find_device(self):
        if self._given_device is not None:
            return self._given_device
        if self.config.playback:
            if self._device is not None:  # starting the recording over: the same device, from its start
                return self._device
            playback = self._context.load_device(self.config.playback).as_playback()
            playback.set_real_time(True)
            return playback
        rs = self.rs
        devices = list(self._context.query_devices())
        serials = [d.get_info(rs.camera_info.serial_number) for d in devices]
        if not devices:
            raise RuntimeError("no RealSense found: is it plugged into a USB 3 port, and may this user open it "
                               "(librealsense's udev rules, 99-realsense-libusb.rules)?")
        if not self.config.serial:
            return devices[0]
        if self.config.serial not in serials:
            raise RuntimeError(f"no RealSense with serial {self.config.serial}; connected: {', '.join(serials)}")
        return devices[serials.index(self.config.serial)]

    def _profile(self, stream, fmt):
        """The (sensor, stream profile) of the device that streams `stream` in `fmt` at the configured mode."""
        c = self.config
        modes = []
        for sensor in self._device.query_sensors():
            for profile in sensor.get_stream_profiles():
                if profile.stream_type() != stream or profile.format() != fmt:
                    continue
                video = profile.as_video_stream_profile()
                if (video.width(), video.height(), profile.fps()) == (c.width, c.height, c.fps):
                    return sensor, profile
                modes.append(f"{video.width()}x{video.height()}@{profile.fps()}")
        raise RuntimeError(f"the RealSense's {stream} stream has no {fmt} {c.width}x{c.height}@{c.fps} mode; "
                           f"it has {', '.join(sorted(set(modes))) or 'none'}")

    def _color_intrinsics(self, profile) -> CameraIntrinsics:
        i = profile.as_video_stream_profile().get_intrinsics()
        K = np.array([[i.fx, 0.0, i.ppx], [0.0, i.fy, i.ppy], [0.0, 0.0, 1.0]])
        # librealsense's color streams use Brown-Conrady (k1 k2 p1 p2 k3): the plumb_bob of camera_info
        return CameraIntrinsics(i.width, i.height, K, tuple(float(v) for v in i.coeffs), self.config.frame_id)

    # ------------------------------------------------------------ frames
    def read(self, timeout: float = 1.0) -> CameraFrame | None:
        if self._lost:
            return self._reconnect(timeout)
        if self._syncer is None:
            self.connect()
        ok, frameset = self._wait(timeout)
        if not ok:
            if self._unplugged():
                log.warning("RealSense %s disconnected; waiting for it to come back", self.describe())
                self.close()
                self._lost = True
            return None
        aligned = self._align.process(frameset.as_frameset())
        depth, color = aligned.get_depth_frame(), aligned.get_color_frame()
        if not depth or not color:  # the syncer's first sets can lack one stream
            return None
        self._count(color.get_frame_number())
        self.frames += 1
        stamp_ns = self._stamp(color)
        depth_m = np.asanyarray(depth.get_data()).astype(np.float32) * np.float32(self.depth_scale)
        return CameraFrame(np.array(np.asanyarray(color.get_data()), copy=True), depth_m, stamp_ns)

    def _wait(self, timeout: float):
        """(True, frameset), or (False, None) after `timeout` s; a recording is watched for its end in
        0.1 s steps, so it starts over without a gap."""
        if not self.config.playback:
            return self._syncer.try_wait_for_frames(int(timeout * 1000))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._playback_ended():
                continue
            ok, frameset = self._syncer.try_wait_for_frames(100)
            if ok:
                return ok, frameset
        return False, None

    def _stamp(self, frame) -> int:
        device_ns = int(frame.get_timestamp() * 1e6)
        if frame.get_frame_timestamp_domain().name in HOST_DOMAINS:
            return device_ns
        return self._clock.to_host_ns(device_ns, time.time_ns())

    def _count(self, number: int) -> None:
        if self._last_number is not None and number > self._last_number + 1:
            self.dropped += number - self._last_number - 1
        self._last_number = number

    def _playback_ended(self) -> bool:
        """At the end of a recording, start it over (a recorded scene stands in for the camera); True if it did."""
        if self._device.as_playback().current_status() != self.rs.playback_status.stopped:
            return False
        self.close()
        self.loops += 1
        self.connect()
        return True

    def _unplugged(self) -> bool:
        if self._given_device is not None or self.config.playback:
            return False
        rs = self.rs
        serial = self._device.get_info(rs.camera_info.serial_number)
        return serial not in [d.get_info(rs.camera_info.serial_number) for d in self._context.query_devices()]

    def _reconnect(self, wait: float) -> None:
        time.sleep(wait)
        try:
            self.connect()
        except RuntimeError:
            return None  # not back yet
        self._lost = False
        self.reconnects += 1
        log.warning("RealSense %s reconnected", self.describe())
        return None

    def close(self) -> None:
        for sensor, _ in self._sensors or []:
            try:
                sensor.stop()
                sensor.close()
            except RuntimeError:  # already stopped, or the device is gone
                pass
        self._sensors = self._syncer = None

    def diagnostics(self) -> dict:
        return {"frames": self.frames, "dropped_frames": self.dropped, "reconnects": self.reconnects,
                "depth_scale": self.depth_scale, **({"playback_loops": self.loops} if self.config.playback else {})}
