"""The camera backends: RealSense through librealsense itself (a software device fed with MuJoCo-rendered
frames, and its .db3 recording played back by the camera node in its own process), and OpenCV over a
video file, each seen through ROS 2 from this process."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest
from conftest import Collector, spin_until
from diagnostic_msgs.msg import DiagnosticArray
from polyarm_cameras.calibration_files import CalibrationFileError, read_camera_info, write_camera_info
from polyarm_cameras.realsense import RealSenseCamera, RealSenseConfig
from polyarm_cameras.software_realsense import SoftwareRealSense
from polyarm_common.conversions import image_to_array, seconds
from polyarm_common.qos import SENSOR, STATE
from polyarm_core.camera import CameraIntrinsics, depth_to_millimetres
from polyarm_description import get_robot
from polyarm_learning.sim_view import SimDepthCamera
from sensor_msgs.msg import CameraInfo, Image
from sim_bridge.mujoco_sim import MujocoSim, SceneRenderer
from sim_bridge.tasks import make_task

W, H, FPS = 320, 240, 30
DROPPED = (10, 11)  # frame numbers the feeder never sends: the camera must count them
# The device clock of the fed exposures: ms since the camera started (librealsense's syncer pairs no frames
# stamped in its first seconds, found here: a camera that has been up 11 days)
DEVICE_EPOCH_MS = 1e9


@pytest.fixture(scope="module")
def scene_frames():
    """Color and depth of the pick scene, rendered by MuJoCo from the Panda's perception camera, and its
    intrinsics with a principal point off centre and a distortion, as a real camera's would be."""
    robot = get_robot("panda")
    sim = MujocoSim(robot, None, task=make_task("pick", robot))
    sim.reset(rng=np.random.default_rng(4))
    config = SimDepthCamera(robot, W, H).config
    renderer = SceneRenderer(sim.model, config)
    color, depth = renderer.render(sim.data.qpos, sim.data.mocap_pos, sim.data.mocap_quat)
    renderer.close()
    intrinsics = CameraIntrinsics(W, H, config.K + np.array([[0, 0, 1.5], [0, 0, -2.0], [0, 0, 0]]), (0.01, -0.02, 0.0, 0.0, 0.001))
    return color, depth, intrinsics


def known_pixels(depth: np.ndarray) -> list[tuple[int, int]]:
    """Pixels with a return across the image, away from depth edges (align moves edges by a pixel)."""
    mm = depth_to_millimetres(depth).astype(int)
    flat = (np.abs(np.diff(mm, axis=0))[:, :-1] <= 2) & (np.abs(np.diff(mm, axis=1))[:-1, :] <= 2)  # (H-1, W-1)
    rows, cols = np.nonzero(flat[1:, 1:] & flat[:-1, :-1] & (mm[1:-1, 1:-1] > 0))  # pixel (row + 1, col + 1)
    pick = np.linspace(0, len(rows) - 1, 40).astype(int)
    return [(int(rows[i]) + 1, int(cols[i]) + 1) for i in pick]


def feed(device: SoftwareRealSense, color, depth, frames: int, stop: threading.Event) -> None:
    """The software camera's exposures at 30 fps on its own clock, frame numbers 1, 2, ... less DROPPED."""
    for n in range(1, frames + 1):
        if stop.is_set():
            return
        if n not in DROPPED:
            device.inject(color, depth, timestamp_ms=DEVICE_EPOCH_MS + n * 1000.0 / FPS, frame_number=n)
        time.sleep(1.0 / FPS)


def recording_camera(intrinsics: CameraIntrinsics, path):
    """A SoftwareRealSense, wrapped in rs.recorder writing to `path`, read by a connected RealSenseCamera.
    Release the recorder (del) to have the file written out."""
    software = SoftwareRealSense(intrinsics, fps=FPS)
    recorder = software.record_to(path)
    camera = RealSenseCamera(RealSenseConfig(W, H, FPS), device=recorder)
    camera.connect()
    return software, recorder, camera


def test_realsense_reads_injected_frames_through_align_and_records_them(scene_frames, tmp_path):
    color, depth, intrinsics = scene_frames
    software, recorder, camera = recording_camera(intrinsics, tmp_path / "scene.db3")
    stop = threading.Event()
    feeder = threading.Thread(target=feed, args=(software, color, depth, 45, stop))
    feeder.start()
    frames, arrivals = [], []
    try:
        while feeder.is_alive():
            frame = camera.read(timeout=0.5)
            if frame is None:
                continue
            frames.append(frame)
            arrivals.append(time.time_ns())
    finally:
        stop.set()
        feeder.join()
        camera.close()
        k, dropped = camera.intrinsics, camera.dropped
        del camera, recorder  # the recorder writes the file out when it is released
    assert len(frames) >= 30
    frame = frames[-1]
    assert frame.color.shape == (H, W, 3) and np.array_equal(frame.color, color)
    expected = depth_to_millimetres(depth) * 0.001
    for v, u in known_pixels(depth):
        assert frame.depth[v, u] == pytest.approx(expected[v, u], abs=1.5e-3), (v, u)
    assert np.allclose(k.K, intrinsics.K) and np.allclose(k.distortion, intrinsics.distortion)
    assert dropped == len(DROPPED)
    stamps = np.diff([f.stamp_ns for f in frames[-10:]]) * 1e-6
    assert np.allclose(stamps, 1000.0 / FPS, atol=0.01)  # the device's exposure times, not arrival times
    assert 0 <= arrivals[-1] - frames[-1].stamp_ns < 1e9  # on the host's clock (not the device's 11 days), at or before arrival
    assert (tmp_path / "scene.db3").stat().st_size > W * H * 5


@pytest.mark.ros
def test_the_camera_node_plays_a_recording_back_with_its_intrinsics(scene_frames, node, start_node, tmp_path):
    color, depth, intrinsics = scene_frames
    software, recorder, camera = recording_camera(intrinsics, tmp_path / "scene.db3")
    feed(software, color, depth, 20, threading.Event())
    camera.close()
    del camera, recorder
    depths = Collector(node, Image, "camera/aligned_depth_to_color/image_raw", SENSOR)
    colors = Collector(node, Image, "camera/color/image_raw", SENSOR)
    infos = Collector(node, CameraInfo, "camera/aligned_depth_to_color/camera_info", SENSOR)
    diagnostics = Collector(node, DiagnosticArray, "/diagnostics", STATE)
    cam = start_node("camera", "--backend", "realsense", "--playback", str(tmp_path / "scene.db3"),
                     "--width", str(W), "--height", str(H), "--fps", str(FPS))
    try:
        spin_until(node, lambda: len(depths.messages) >= 10 and infos.messages and diagnostics.messages, 30,
                   "depth frames played back by the camera node")
    except TimeoutError:
        raise AssertionError(cam.log()) from None
    msg = depths.last
    assert (msg.encoding, msg.width, msg.height, msg.header.frame_id) == ("16UC1", W, H, "camera_color_optical_frame")
    played = image_to_array(msg)
    expected = depth_to_millimetres(depth)
    for v, u in known_pixels(depth):
        assert abs(int(played[v, u]) - int(expected[v, u])) <= 1, (v, u)
    assert np.array_equal(image_to_array(colors.last), color)
    info = infos.last
    assert np.allclose(np.reshape(info.k, (3, 3)), intrinsics.K) and np.allclose(info.d, intrinsics.distortion)
    assert 20 <= depths.rate_hz() <= 40
    values = {kv.key: kv.value for kv in diagnostics.last.status[0].values}
    assert "dropped_frames" in values and int(values["published_frames"]) > 0


def write_video(path, frames: int, fps: float) -> None:
    """Frame i is grey level 8 * i (robust to the codec), 160x120."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (160, 120))
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    for i in range(frames):
        writer.write(np.full((120, 160, 3), 8 * i, np.uint8))
    writer.release()


@pytest.mark.ros
def test_the_opencv_camera_plays_a_video_in_order_at_its_rate_with_the_calibration(node, start_node, tmp_path):
    write_video(tmp_path / "clip.avi", frames=30, fps=20.0)
    K = np.array([[150.0, 0.0, 81.0], [0.0, 151.0, 59.0], [0.0, 0.0, 1.0]])
    write_camera_info(tmp_path / "cam.yaml", CameraIntrinsics(160, 120, K, (0.1, -0.05, 0.001, 0.0, 0.0)), "clip")
    colors = Collector(node, Image, "camera/color/image_raw", SENSOR)
    infos = Collector(node, CameraInfo, "camera/color/camera_info", SENSOR)
    cam = start_node("camera", "--backend", "opencv", "--device", str(tmp_path / "clip.avi"),
                     "--camera-info", str(tmp_path / "cam.yaml"))
    try:
        spin_until(node, lambda: len(colors.messages) >= 25, 30, "frames of the video")
    except TimeoutError:
        raise AssertionError(cam.log()) from None
    levels = [round(image_to_array(m).mean() / 8) for m in colors.messages[:25]]
    first = levels[0]
    assert levels == [(first + i) % 30 for i in range(25)], levels  # in order, none skipped (the file loops at 30)
    assert 16.0 <= colors.rate_hz() <= 24.0
    stamps = np.diff([seconds(m.header.stamp) for m in colors.messages[1:20]])
    assert np.allclose(stamps[stamps > 0], 1 / 20.0, atol=2e-3)  # the file's own timeline
    info = infos.last
    assert np.allclose(np.reshape(info.k, (3, 3)), K) and info.d[0] == pytest.approx(0.1)


def test_calibration_files_read_back_and_bad_ones_are_named(tmp_path):
    K = np.array([[300.0, 0.0, 160.0], [0.0, 301.0, 120.0], [0.0, 0.0, 1.0]])
    path = write_camera_info(tmp_path / "c.yaml", CameraIntrinsics(320, 240, K, (0.1, 0.0, 0.0, 0.0, 0.0)), "d435")
    back = read_camera_info(path)
    assert np.array_equal(back.K, K) and back.width == 320 and back.distortion[0] == 0.1
    (tmp_path / "bad.yaml").write_text("image_width: 320\nimage_height: 240\ncamera_matrix: {data: [1, 2]}\n")
    with pytest.raises(CalibrationFileError, match=r"missing key\(s\) \['distortion_coefficients'\]"):
        read_camera_info(tmp_path / "bad.yaml")
    with pytest.raises(CalibrationFileError, match="does not exist"):
        read_camera_info(tmp_path / "none.yaml")
