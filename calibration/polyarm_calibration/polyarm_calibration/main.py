"""`polyarm calibrate intrinsics|hand-eye`: a guided calibration over the running graph.

    polyarm calibrate intrinsics --robot panda --camera-at 0.95 0.35 0.6 --poses 20 --out calibration/d435
    polyarm calibrate hand-eye --robot panda --mode eye-to-hand --camera-at 0.95 0.35 0.6 --poses 15 --out DIR
    polyarm calibrate hand-eye --robot panda --mode eye-in-hand --board-at 0.5 0 0 --poses 15 --out DIR
    polyarm calibrate hand-eye --from DIR [--intrinsics FILE]        (solve again from the saved samples)

It moves the arm slowly through generated poses with the controller (controller/target_pose), waits
until it is still, takes the TCP pose (controller/ee_pose) and a camera frame, and saves each sample as
it goes; Ctrl-C keeps what was collected. Then it solves, prints every method's result and residual,
and writes DIR/intrinsics.yaml (a camera_info file: the camera node's --camera-info) or
DIR/camera_pose.yaml (the camera in base_link, or in the TCP frame for a wrist camera: the perception
node's --camera-pose). A failed solve names the problem and writes nothing.

The board is held in the gripper for a fixed camera (intrinsics, eye-to-hand: give the camera's rough
position, --camera-at, within 10 cm) and lies on the table for a wrist camera (eye-in-hand: --board-at,
its centre). Poses are spread in position and rotated about many axes, as hand-eye needs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

WRIST_CAMERA_OFFSET = (0.06, 0.0, -0.08)  # a wrist camera's rough position in the TCP frame, m


def parse(argv):
    from polyarm_description import ROBOTS

    parser = argparse.ArgumentParser(prog="polyarm calibrate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["intrinsics", "hand-eye"])
    parser.add_argument("--robot", choices=sorted(ROBOTS), default="panda")
    parser.add_argument("--mode", choices=["eye-to-hand", "eye-in-hand"], default="eye-to-hand")
    parser.add_argument("--poses", type=int, default=15)
    parser.add_argument("--out", help="session directory (samples and results)")
    parser.add_argument("--from", dest="source", help="solve again from this session's saved samples")
    parser.add_argument("--camera-at", type=float, nargs=3, help="a fixed camera's rough position in base_link, m")
    parser.add_argument("--look-at", type=float, nargs=3, help="where it looks (default: the object space's centre)")
    parser.add_argument("--board-at", type=float, nargs=3, help="eye-in-hand: the table board's centre (default: the object space's)")
    parser.add_argument("--camera-offset", type=float, nargs=3, default=WRIST_CAMERA_OFFSET,
                        help="eye-in-hand: the wrist camera's rough position in the TCP frame, m")
    parser.add_argument("--intrinsics", default="", help="hand-eye: a camera_info YAML instead of the camera's camera_info")
    parser.add_argument("--squares", type=int, nargs=2, default=[6, 5])
    parser.add_argument("--square", type=float, default=0.03, help="square side, m")
    parser.add_argument("--marker", type=float, default=0.022, help="marker side, m")
    parser.add_argument("--dictionary", default="DICT_4X4_50")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated poses")
    parser.add_argument("--speed", type=float, default=0.1, help="m/s between poses (at most 0.3, the controller's)")
    args = parser.parse_args(argv)
    if not args.source and not args.out:
        parser.error("give --out DIR (a new session) or --from DIR (solve a saved one)")
    if args.source is None and args.poses < 1:
        parser.error("--poses must be at least 1")
    if not 0.0 < args.speed <= 0.3:
        parser.error("--speed must be in (0, 0.3] m/s")
    return args


def targets(args, robot) -> list[np.ndarray]:
    from polyarm_core.rotations import pose_matrix

    from polyarm_calibration.poses import eye_in_hand_targets, eye_to_hand_targets

    rng = np.random.default_rng(args.seed)
    centre_xy = robot.task_layout.get("objects", (0.4, 0.0))
    if args.what == "hand-eye" and args.mode == "eye-in-hand":
        board = np.array(args.board_at or (*centre_xy, 0.0))
        return eye_in_hand_targets(args.poses, board, pose_matrix(np.eye(3), args.camera_offset), rng)
    if args.camera_at is None:
        raise ValueError("a fixed camera needs its rough position: --camera-at X Y Z")
    camera = np.array(args.camera_at)
    look = np.array(args.look_at or (*centre_xy, 0.0))
    centre = camera + 0.45 * (look - camera) / np.linalg.norm(look - camera)  # the board ~0.45 m from the camera
    if args.what == "intrinsics":  # more tilt and depth: the focal length needs foreshortening
        return eye_to_hand_targets(args.poses, camera, centre, rng, spread=(0.1, 0.12, 0.1), tilt_deg=35.0)
    return eye_to_hand_targets(args.poses, camera, centre, rng)


def collect(args, session, out: Path):
    import rclpy
    from polyarm_common.ros_env import configure_ros_environment
    from polyarm_description import get_robot

    from polyarm_calibration.samples import write_session
    from polyarm_calibration.workflow import CalibrationSession

    configure_ros_environment()
    poses = targets(args, get_robot(args.robot))
    write_session(out, session)
    rclpy.init()
    node = rclpy.create_node("calibrate")
    try:
        run = CalibrationSession(node, session, out, args.speed)
        run.wait_for_graph()
        print(f"polyarm calibrate: {len(poses)} poses; samples go to {out / 'samples'}", flush=True)
        return run.collect(poses)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def main(argv: list[str] | None = None) -> int:
    from polyarm_cameras.charuco import CharucoBoardSpec

    from polyarm_calibration.intrinsics import CalibrationError
    from polyarm_calibration.samples import Session, read_samples, read_session
    from polyarm_calibration.solve import solve_hand_eye_session, solve_intrinsics

    args = parse(argv)
    try:
        if args.source:
            out = Path(args.out or args.source)
            session = read_session(Path(args.source))
            if args.what == "hand-eye" and session.mode == "intrinsics":
                raise CalibrationError(f"{args.source} is an intrinsics session")
            samples = read_samples(Path(args.source))
        else:
            out = Path(args.out)
            mode = "intrinsics" if args.what == "intrinsics" else args.mode
            session = Session(args.robot, mode, CharucoBoardSpec(*args.squares, args.square, args.marker, args.dictionary))
            samples = collect(args, session, out)
        out.mkdir(parents=True, exist_ok=True)
        if args.what == "intrinsics":
            report_intrinsics(solve_intrinsics(session, samples, out), out)
        else:
            report_hand_eye(*solve_hand_eye_session(session, samples, out, args.intrinsics), out)
    except (CalibrationError, ValueError, TimeoutError) as err:
        print(f"polyarm calibrate: {err}; nothing written", file=sys.stderr)
        return 2
    return 0


def report_intrinsics(result, out: Path) -> None:
    from polyarm_calibration.solve import INTRINSICS_FILE, intrinsics_of

    for index, why in result.dropped.items():
        print(f"  view {index}: dropped ({why})")
    print(f"intrinsics from {len(result.view_errors_px)} views, RMS reprojection {result.rms_px:.3f} px: "
          f"{intrinsics_of(result.intrinsics)}\nwrote {out / INTRINSICS_FILE}")


def report_hand_eye(result, dropped: dict, out: Path) -> None:
    from polyarm_core.rotations import matrix_to_quat

    from polyarm_calibration.solve import POSE_FILE

    for index, why in dropped.items():
        print(f"  view {index}: dropped ({why})")
    where = "base_link" if result.mode == "eye-to-hand" else "the TCP frame"
    print(f"{result.mode}: the camera in {where}, by method (best first):")
    for s in result.solutions:
        print(f"  {s.method:<10} translation {np.round(s.matrix[:3, 3], 4).tolist()} m, rotation_xyzw "
              f"{np.round(matrix_to_quat(s.matrix[:3, :3]), 5).tolist()}; residual {s.residual_mm:.2f} mm, {s.residual_deg:.3f} deg")
    print(f"wrote {out / POSE_FILE} ({result.best.method})")


if __name__ == "__main__":
    sys.exit(main())
