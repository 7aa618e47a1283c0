"""Implementations by name: `polyarm driver --backend B`, a camera backend, `polyarm teleop --device D`.

Each entry is "module:factory", imported only when asked for, so listing the names loads nothing and the
ground floor imports no package above it. A factory takes keyword options and returns a RobotDriver,
a Camera or a TeleopDevice. The driver, camera and teleop issues add their entries here.
"""

from __future__ import annotations

import importlib

DRIVERS = {
    # the MuJoCo arm behind the RobotDriver interface, with its own real-time physics (no camera, no task)
    "mujoco": "sim_bridge.devices:standalone_driver",
    # the Franka Panda over franky-control (libfranka); franky-sim speaks the same protocol
    "franky": "polyarm_drivers.franky_driver:franky_driver",
    # a WidowX 250 on its Dynamixel bus over dynamixel-sdk; `polyarm fake-robot --robot wx250s` is a bus to try it on
    "dynamixel": "polyarm_drivers.dynamixel_driver:dynamixel_driver",
    # a UFACTORY xArm 7 over xarm-python-sdk; `polyarm fake-robot --robot xarm7` is a controller to try it on
    "xarm": "polyarm_drivers.xarm_driver:xarm_driver",
}
CAMERAS = {  # `polyarm camera --backend B`; the sim's scene camera (sim_bridge.devices.SceneCamera) runs inside `polyarm sim`
    # an Intel RealSense (or a .db3 recording of one) over pyrealsense2: color and aligned depth
    "realsense": "polyarm_cameras.realsense:realsense_camera",
    # anything cv2.VideoCapture opens: color only, intrinsics from a calibration file
    "opencv": "polyarm_cameras.opencv_camera:opencv_camera",
}
TELEOP_DEVICES = {  # `polyarm teleop --device D`
    # the terminal it runs in (over SSH too): keys for the axes, the gripper, the speed and the episode
    "keyboard": "polyarm_teleop.keyboard:keyboard",
    # a gamepad through evdev (/dev/input/event*), with a deadman button
    "gamepad": "polyarm_teleop.gamepad:gamepad",
    # a 3Dconnexion SpaceMouse through pyspacemouse (hidapi)
    "spacemouse": "polyarm_teleop.spacemouse:spacemouse",
}

_KINDS = {"driver": DRIVERS, "camera": CAMERAS, "teleop device": TELEOP_DEVICES}


class UnknownBackendError(ValueError):
    pass


def factory(kind: str, name: str):
    """The factory registered under `name` (raises UnknownBackendError listing the valid names)."""
    table = _KINDS[kind]
    if name not in table:
        valid = ", ".join(sorted(table)) or "none yet"
        raise UnknownBackendError(f"unknown {kind} {name!r}; valid: {valid}")
    module, attribute = table[name].split(":")
    return getattr(importlib.import_module(module), attribute)
