"""`polyarm <command> ...`: one entry point; each command lives in the package that owns it."""

from __future__ import annotations

import importlib
import sys

# command: (module:function taking argv, one-line help)
COMMANDS = {
    "sim": ("sim_bridge.main:main", "run the MuJoCo sim bridge for one arm (joint_states, camera, commands)"),
    "driver": ("polyarm_drivers.main:main", "run the driver node for one arm over a backend ('polyarm driver --help' lists them)"),
    "fake-robot": ("polyarm_fakes.main:main", "a simulator of the robot's controller at its network protocol (panda: franky-sim)"),
    "camera": ("polyarm_cameras.main:main", "run a real camera's node (realsense, opencv): color, aligned depth, camera_info"),
    "perception": ("polyarm_perception.main:main", "the object's pose from the depth camera by template ICP, on perception/object_pose"),
    "calibrate": ("polyarm_calibration.main:main", "calibrate a camera: intrinsics, or hand-eye (eye-to-hand, eye-in-hand), moving the arm"),
    "controller": ("polyarm_control.main:main", "run the 100 Hz operational-space controller for one arm"),
    "collect": ("sim_bridge.collect:main", "record scripted episodes of a sim task into a Minari-layout dataset"),
    "dataset": ("sim_bridge.collect:dataset_main", "inspect a dataset ('polyarm dataset info PATH')"),
    "policy": ("policy_server.main:main", "run a policy checkpoint at 2 Hz over the controller"),
    "train": ("polyarm_learning.train:main", "train a policy offline from datasets (bc, sac, cql, cql-si, plas, polytask, cog)"),
    "compare": ("polyarm_learning.plots:compare_main", "plot several training runs' success curves on one figure"),
    "evaluate": ("polyarm_learning.evaluate:main", "success rate of a checkpoint on a sim task, with a confidence interval"),
    "export": ("policy_server.runtime:export_main", "export a policy checkpoint to ONNX ('polyarm export CKPT --onnx')"),
    "up": ("polyarm_bringup.supervisor:main", "start the whole graph (sim, controller, policy, recorder), one process per node"),
    "eval": ("polyarm_bringup.ros_eval:main", "success rate of a checkpoint through ROS, against the sim, with timing figures"),
    "record": ("polyarm_data.recorder:main", "record the graph's topics to an MCAP bag"),
    "teleop": ("polyarm_teleop.main:main", "drive the arm from a keyboard, gamepad or SpaceMouse; record labelled episodes"),
    "convert": ("polyarm_teleop.convert:main", "recorded episodes (MCAP) into a dataset `polyarm train` reads"),
    "replay": ("polyarm_teleop.replay:main", "play a dataset episode's actions through the running graph"),
    "monitor": ("polyarm_bringup.monitor:main", "list the topics in the graph with their message rates"),
    "demo": ("polyarm_bringup.demo:main", "run the shipped demo checkpoint on the simulated Panda through ROS and report"),
}

# Commands whose process never loads MuJoCo: the policy runs on the robot with its runtime alone.
WITHOUT_SIMULATOR = {"policy", "export", "record", "monitor", "dataset", "compare", "camera", "calibrate", "teleop", "replay"}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    return "usage: polyarm <command> [options]\n\ncommands:\n" + "\n".join(lines) + "\n\n'polyarm <command> --help' for a command's options."


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"polyarm: unknown command {name!r}; valid commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    if name not in WITHOUT_SIMULATOR:
        _choose_gl_backend()
    module, function = COMMANDS[name][0].split(":")
    return getattr(importlib.import_module(module), function)(rest) or 0


def _choose_gl_backend() -> None:
    """Pick MuJoCo's headless GL backend before any command imports mujoco (it reads MUJOCO_GL once).
    Where none is installed, the command that renders says what to install."""
    from sim_bridge.rendering import RenderBackendError, configure_gl_backend

    try:
        configure_gl_backend()
    except RenderBackendError:
        pass


if __name__ == "__main__":
    sys.exit(main())
