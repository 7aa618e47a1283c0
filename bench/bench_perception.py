"""Perception per frame, its pose error against the sim's ground truth, and the RealSense camera's
throughput and latency.

- Per frame at 320x240 and 640x480 over seeded pick placements (the Panda's perception camera): the
  cloud (depth to base_link, cropped), the table plane, clusters (with the self filter), registration
  and the z-buffer gate; a first frame (the ring of guesses) and a tracked frame (from the last pose).
- The anchor, measured in the same run on the same clouds: Open3D's bare point-to-plane ICP (30
  iterations) of 5000 of the frame's scene points onto themselves moved by 1 cm and 3 degrees.
- The RealSense camera over librealsense's software device: frames fed at 30 fps, read through the
  syncer and rs.align; frames per second, and the exposure-stamp-to-frame latency.

    .venv/bin/python bench/bench_perception.py [--placements 20]
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np
from sim_bridge.rendering import configure_gl_backend

configure_gl_backend()

from polyarm_cameras.realsense import RealSenseCamera, RealSenseConfig  # noqa: E402
from polyarm_cameras.software_realsense import SoftwareRealSense  # noqa: E402
from polyarm_core.camera import CameraIntrinsics  # noqa: E402
from polyarm_core.rotations import from_rotation_vector, pose_matrix  # noqa: E402
from polyarm_description import get_robot  # noqa: E402
from polyarm_learning.sim_view import SimDepthCamera  # noqa: E402
from polyarm_perception import segmentation  # noqa: E402
from polyarm_perception.estimator import ObjectPoseEstimator, PerceptionConfig  # noqa: E402
from polyarm_perception.self_filter import RobotSelfFilter  # noqa: E402
from sim_bridge.mujoco_sim import MujocoSim  # noqa: E402
from sim_bridge.tasks import make_task  # noqa: E402

o3d = segmentation.o3d


def timed(fn, repeats: int):
    fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        result = fn()
    return (time.perf_counter() - t0) / repeats * 1000.0, result


def scenes(robot, task, width: int, height: int, placements: int):
    """(depth, sim joint state, ground-truth position) of seeded placements."""
    sim = MujocoSim(robot, None, task=task)
    camera = SimDepthCamera(robot, width, height)
    for seed in range(placements):
        sim.reset(rng=np.random.default_rng(seed))
        yield camera, camera.depth(sim), sim.joint_state(), task.object_pose(sim.model, sim.data)[0]
    camera.close()


def bare_icp_ms(scene: np.ndarray, repeats: int) -> float:
    rng = np.random.default_rng(0)
    points = scene[rng.choice(len(scene), min(5000, len(scene)), replace=False)]
    target = segmentation.point_cloud(points)
    target.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=0.01, max_nn=20))
    moved = pose_matrix(from_rotation_vector([0.0, 0.0, np.radians(3.0)]), [0.01, 0.0, 0.0])
    source = segmentation.point_cloud(points @ moved[:3, :3].T + moved[:3, 3])
    estimation = o3d.pipelines.registration.TransformationEstimationPointToPlane()
    criteria = o3d.pipelines.registration.ICPConvergenceCriteria(max_iteration=30)
    ms, _ = timed(lambda: o3d.pipelines.registration.registration_icp(source, target, 0.02, np.eye(4), estimation, criteria), repeats)
    return ms


def perception_rows(robot, task, width: int, height: int, placements: int) -> dict:
    estimator = ObjectPoseEstimator(task.object_shape, PerceptionConfig.for_robot(robot), RobotSelfFilter(robot))
    first, tracked, errors, stages, anchor = [], [], [], {"cloud": [], "plane + clusters": []}, []
    for camera, depth, state, truth in scenes(robot, task, width, height, placements):
        estimator.self_filter.update(state.names, state.position)
        args = (depth, camera.K, camera.base_from_camera)

        def cold():
            estimator.previous = None
            return estimator.estimate(*args)

        ms, estimate = timed(cold, 5)
        first.append(ms)
        tracked.append(timed(lambda: estimator.estimate(*args), 5)[0])
        if estimate.pose is not None:
            errors.append(np.linalg.norm(estimate.pose[:3, 3] - truth) * 1000.0)
        ms, scene = timed(lambda: estimator.scene(*args), 5)
        stages["cloud"].append(ms)
        stages["plane + clusters"].append(timed(lambda: estimator.candidates(scene), 5)[0])
        anchor.append(bare_icp_ms(scene, 5))
    return {"first frame": np.median(first), "tracked frame": np.median(tracked), **{k: np.median(v) for k, v in stages.items()},
            "anchor": np.median(anchor), "found": len(errors), "error mean": np.mean(errors), "error max": np.max(errors)}


def realsense_rows(width: int, height: int, seconds: float = 4.0) -> dict:
    K = np.array([[0.96 * width, 0.0, width / 2], [0.0, 0.96 * width, height / 2], [0.0, 0.0, 1.0]])
    software = SoftwareRealSense(CameraIntrinsics(width, height, K), fps=30)
    camera = RealSenseCamera(RealSenseConfig(width, height, 30), device=software.device)
    camera.connect()
    color = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    depth = np.full((height, width), 0.8, np.float32)
    stop = threading.Event()

    def feed():
        n = 0
        while not stop.is_set():
            n += 1
            software.inject(color, depth, timestamp_ms=time.time() * 1000.0, frame_number=n)
            time.sleep(1.0 / 30)

    feeder = threading.Thread(target=feed)
    feeder.start()
    latencies, t0 = [], time.monotonic()
    while time.monotonic() - t0 < seconds:
        frame = camera.read(timeout=0.5)
        if frame is not None:
            latencies.append((time.time_ns() - frame.stamp_ns) * 1e-6)
    stop.set()
    feeder.join()
    camera.close()
    return {"fps": len(latencies) / seconds, "latency p50": np.percentile(latencies, 50), "latency p99": np.percentile(latencies, 99),
            "dropped": camera.dropped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--placements", type=int, default=20)
    args = parser.parse_args()
    robot = get_robot("panda")
    task = make_task("pick", robot)
    print(f"perception per frame, Panda pick, median over {args.placements} seeded placements (ms)")
    print(f"{'size':<9} {'first frame':>11} {'tracked':>8} {'cloud':>6} {'plane+clusters':>14} {'bare ICP 5k':>11} "
          f"{'tracked/ICP':>11} {'found':>6} {'error mean/max mm':>18}")
    for width, height in ((320, 240), (640, 480)):
        r = perception_rows(robot, task, width, height, args.placements)
        print(f"{width}x{height:<5} {r['first frame']:>11.1f} {r['tracked frame']:>8.1f} {r['cloud']:>6.1f} "
              f"{r['plane + clusters']:>14.1f} {r['anchor']:>11.1f} {r['tracked frame'] / r['anchor']:>11.2f} "
              f"{r['found']:>3}/{args.placements:<2} {r['error mean']:>8.2f} / {r['error max']:.2f}")
    print("\nRealSense camera (software device fed at 30 fps, read through syncer + rs.align)")
    print(f"{'size':<9} {'fps':>5} {'stamp->frame p50 ms':>20} {'p99 ms':>7} {'dropped':>8}")
    for width, height in ((320, 240), (640, 480)):
        r = realsense_rows(width, height)
        print(f"{width}x{height:<5} {r['fps']:>5.1f} {r['latency p50']:>20.2f} {r['latency p99']:>7.2f} {r['dropped']:>8}")


if __name__ == "__main__":
    main()
