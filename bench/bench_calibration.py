"""Hand-eye accuracy against the number of poses and the image noise, every OpenCV method side by side,
and the time per solve, on views the sim renders of the board in the Panda's gripper (eye-to-hand,
the Panda's perception camera at 640x480; the truth is the sim's camera pose).

    .venv/bin/python bench/bench_calibration.py [--poses 20] [--repeats 5]

Writes docs/img/calibration_error_vs_poses.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sim_bridge.rendering import configure_gl_backend

configure_gl_backend()

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from polyarm_calibration.board_pose import board_pose  # noqa: E402
from polyarm_calibration.hand_eye import solve_hand_eye  # noqa: E402
from polyarm_calibration.intrinsics import CalibrationError  # noqa: E402
from polyarm_calibration.poses import eye_to_hand_targets  # noqa: E402
from polyarm_cameras.charuco import BoardView, detect  # noqa: E402
from polyarm_core.rotations import angle_between, pose_matrix  # noqa: E402
from polyarm_description import get_robot  # noqa: E402
from sim_bridge.calibration_board import BoardMount  # noqa: E402
from sim_bridge.camera import CameraConfig  # noqa: E402
from sim_bridge.controlled import ControlledSim  # noqa: E402
from sim_bridge.mujoco_sim import SceneRenderer  # noqa: E402

POSE_COUNTS, NOISES_PX = (6, 12, 20), (0.0, 0.5, 1.0)
PLOT = Path(__file__).resolve().parents[1] / "docs" / "img" / "calibration_error_vs_poses.png"


def collect(n: int):
    """(TCP pose, board view) of n generated eye-to-hand poses the arm reached, and the true camera pose."""
    robot = get_robot("panda")
    camera = CameraConfig.perception_view(get_robot("panda"), width=640, height=480, name="scene_camera")
    mount = BoardMount("gripper")
    loop = ControlledSim(robot, camera=camera, board=mount)
    renderer = SceneRenderer(loop.sim.model, camera)
    centre = np.asarray(camera.position) + 0.45 * camera.optical_rotation()[:, 2]
    samples = []
    for target in eye_to_hand_targets(n + 6, camera.position, centre, np.random.default_rng(0)):
        loop.set_target(target[:3, 3], target[:3, :3])
        loop.run(2.5)
        position, rotation = loop.tcp()
        image, _ = renderer.render(loop.sim.data.qpos, loop.sim.data.mocap_pos, loop.sim.data.mocap_quat)
        view = detect(mount.board, image)
        if view is not None:
            samples.append((pose_matrix(rotation, position), view))
        if len(samples) == n:
            break
    renderer.close()
    return samples, camera.K, pose_matrix(camera.optical_rotation(), camera.position)


def solve(samples, K, noise_px: float, rng):
    tcps, boards = [], []
    for T, view in samples:
        noisy = BoardView(view.ids, view.pixels + rng.normal(0.0, noise_px, view.pixels.shape), view.board_points)
        found, _ = board_pose(noisy, K, np.zeros(5), max_error_px=3.0)
        if found is not None:
            tcps.append(T)
            boards.append(found.camera_from_board)
    t0 = time.perf_counter()
    result = solve_hand_eye(tcps, boards, "eye-to-hand")
    return result, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--poses", type=int, default=max(POSE_COUNTS))
    parser.add_argument("--repeats", type=int, default=5, help="random subsets and noise draws per cell")
    args = parser.parse_args()
    samples, K, truth = collect(args.poses)
    print(f"{len(samples)} eye-to-hand views with the board seen (640x480); error against the sim's camera, "
          f"mean over {args.repeats} draws (mm / deg); solve time for all seven methods")
    rng = np.random.default_rng(1)
    table: dict = {}
    for n in POSE_COUNTS:
        for noise in NOISES_PX:
            errors, seconds, refused = {}, [], 0
            for _ in range(args.repeats):
                subset = [samples[i] for i in rng.choice(len(samples), n, replace=False)]
                try:
                    result, elapsed = solve(subset, K, noise, rng)
                except CalibrationError:  # a view's flip filtered out left fewer than hand-eye needs
                    refused += 1
                    continue
                seconds.append(elapsed)
                for s in result.solutions:
                    errors.setdefault(s.method, []).append(
                        (np.linalg.norm(s.matrix[:3, 3] - truth[:3, 3]) * 1000.0, np.degrees(angle_between(s.matrix[:3, :3], truth[:3, :3]))))
            table[n, noise] = ({m: np.mean(v, axis=0) for m, v in errors.items()}, np.median(seconds), refused)
    methods = list(table[POSE_COUNTS[0], 0.0][0])
    print(f"{'poses':>5} {'noise px':>8} " + " ".join(f"{m:>13}" for m in methods) + f" {'solve ms':>9} {'refused':>7}")
    for (n, noise), (errors, seconds, refused) in table.items():
        print(f"{n:>5} {noise:>8.1f} " + " ".join(f"{errors[m][0]:6.2f}/{errors[m][1]:5.3f}" for m in methods)
              + f" {seconds * 1000:>9.1f} {refused:>7}")
    figure, axes = plt.subplots(1, len(NOISES_PX), figsize=(4 * len(NOISES_PX), 3.2), sharey=True)
    for axis, noise in zip(axes, NOISES_PX):
        for m in methods:
            axis.plot(POSE_COUNTS, [table[n, noise][0][m][0] for n in POSE_COUNTS], marker="o", label=m)
        axis.set(title=f"corner noise {noise} px", xlabel="poses", xticks=POSE_COUNTS)
    axes[0].set_ylabel("camera position error (mm)")
    axes[-1].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=120)
    print(f"wrote {PLOT}")


if __name__ == "__main__":
    main()
