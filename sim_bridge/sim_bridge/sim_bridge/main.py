"""`polyarm sim`: command line and parameters of the sim node.

Environment (Fast DDS profile, headless GL backend) is set here, before rclpy or mujoco load.
"""

from __future__ import annotations

import argparse
import sys

from polyarm_description import ROBOTS

PARAMETERS = {  # name: (default, description)
    "robot": ("panda", f"one of {sorted(ROBOTS)}"),
    "backend": ("mujoco", ("physics engine: mujoco, or pybullet (the same scene and tasks, the robot from the URDF "
                           "generated from its MJCF, the camera in TinyRenderer; no calibration board)")),
    "fast": (False, "run physics as fast as possible instead of in real time"),
    "physics_rate": (1000.0, "physics steps per simulated second (>= 500)"),
    "joint_state_rate": (200.0, "joint_states publish rate, Hz of sim time"),
    "clock_rate": (100.0, ("/clock publish rate, Hz of sim time, at most joint_state_rate; nodes on use_sim_time "
                           "see time advance in these steps, so keep it at least the controller's rate")),
    "effort_timeout": (0.1, "s of sim time after which an effort command lapses to zero torque"),
    "command_lag": (0.015, ("on sim time, s of sim time the physics may run past the newest torque command before "
                            "it waits for the next (at most 50 ms of wall time): a host too busy to run the "
                            "controller on time then slows the sim instead of delaying its torques (0: never wait)")),
    "reset_hold": (0.3, ("s of sim time after sim/reset during which the arm holds its home pose and ignores "
                         "arm commands; call controller/resume within it")),
    "task": ("", "task to set up (empty: none); takes effect at start and at each sim/reset"),
    "seed": (0, "seed of the task's object placement; takes effect at start and at each sim/reset"),
    "task.area_cm2": (360.0, "object space area, cm²"),
    "task.density": (10.0, "object configurations per cm² of the object space"),
    "camera.enabled": (True, "render and publish the scene camera"),
    "camera.width": (320, "image width, px"),
    "camera.height": (240, "image height, px"),
    "camera.fx": (0.0, "focal length x, px (0: 0.96 * width)"),
    "camera.fy": (0.0, "focal length y, px (0: fx)"),
    "camera.cx": (-1.0, "principal point x, px (-1: centre)"),
    "camera.cy": (-1.0, "principal point y, px (-1: centre)"),
    "camera.rate": (15.0, "frames per simulated second"),
    "camera.position": ([0.0, 0.0, 0.0], "camera position in base_link, m (all zero: the robot's default view)"),
    "camera.look_at": ([0.0, 0.0, 0.0], "point the optical axis passes through, m (all zero: default)"),
    "camera.mount": ("world", "world: fixed in the scene; wrist: on the TCP (position and look_at in the TCP frame)"),
    "calibration.board": ("", "a ChArUco board in the scene: gripper (held at the TCP), table (face up), or none"),
    "calibration.squares": ([6, 5], "the board's squares, across and down"),
    "calibration.square_m": (0.03, "side of a square, m"),
    "calibration.marker_m": (0.022, "side of a marker, m"),
    "calibration.dictionary": ("DICT_4X4_50", "the markers' ArUco dictionary"),
    "calibration.table_xy": ([0.0, 0.0], "the table board's centre in base_link, m (zero: the object space's centre)"),
}


def main(argv: list[str] | None = None) -> int:
    args, ros_args = parse_args(argv)
    from polyarm_common.entry import run_node
    from polyarm_common.ros_env import configure_ros_environment

    from sim_bridge.rendering import RenderBackendError, configure_gl_backend

    configure_ros_environment()
    gl_error = None
    try:
        configure_gl_backend()
    except RenderBackendError as err:  # only fatal if the camera is on (parameters decide that)
        gl_error = err

    def check(node) -> int | None:
        """Exit 1 with the reason if the camera cannot render or the physics failed."""
        failure = gl_error if node.camera is not None and gl_error is not None else node.failure
        if failure is not None:
            print(f"polyarm sim: {failure}", file=sys.stderr)
            return 1
        return None

    return run_node("sim", ros_args, lambda: _make_node(args), check)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="polyarm sim", description="Sim bridge: a simulated arm (MuJoCo or pybullet) on the real drivers' topics.")
    parser.add_argument("--robot", choices=sorted(ROBOTS), help="which arm (default panda)")
    parser.add_argument("--backend", choices=["mujoco", "pybullet"], help="physics engine (default mujoco)")
    parser.add_argument("--task", help="a task of sim_bridge.tasks (reach, press_button, pick, ...)")
    parser.add_argument("--seed", type=int, help="seed of the task's object placement")
    parser.add_argument("--fast", action="store_true", default=None, help="run as fast as possible (tests)")
    parser.add_argument("--no-camera", action="store_true", help="do not render or publish the camera")
    parser.add_argument("--width", type=int, help="camera width, px")
    parser.add_argument("--height", type=int, help="camera height, px")
    parser.add_argument("--camera-rate", type=float, help="camera frames per second")
    parser.add_argument("--physics-rate", type=float, help="physics steps per second")
    from polyarm_common.entry import split_ros_args

    own, ros_args = split_ros_args(argv)
    return parser.parse_args(own), ros_args


def _make_node(args):
    from polyarm_common.entry import parameter_overrides

    from sim_bridge.node import SimNode

    given = {
        "robot": args.robot,
        "backend": args.backend,
        "task": args.task,
        "seed": args.seed,
        "fast": args.fast,
        "camera.enabled": False if args.no_camera else None,
        "camera.width": args.width,
        "camera.height": args.height,
        "camera.rate": args.camera_rate,
        "physics_rate": args.physics_rate,
    }
    return SimNode(PARAMETERS, parameter_overrides(given))


if __name__ == "__main__":
    sys.exit(main())
