"""The robots polyarm knows, where their MJCF lives, and how each one takes commands.

The MJCF files are the single source of kinematics, inertia and limits; this module only names
the joints the drivers publish and reads the limits back out of the compiled model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # mujoco is imported where it is used: a headless GL backend must be chosen first
    import mujoco

MJCF_DIR = Path(__file__).resolve().parent / "mjcf"


@dataclass(frozen=True)
class RobotSpec:
    name: str
    summary: str
    mjcf_file: str
    arm_joints: tuple[str, ...]
    finger_joints: tuple[str, ...]
    command_interface: str  # "effort" (joint torque) or "position" (servo targets)
    # The robot cancels its own gravity (libfranka does); a controller must then leave it out.
    gravity_compensated: bool
    tcp_site: str = "tcp"
    gripper_actuator: str = "gripper"

    @property
    def mjcf_path(self) -> Path:
        return MJCF_DIR / self.mjcf_file

    @property
    def dof(self) -> int:
        return len(self.arm_joints)


ROBOTS: dict[str, RobotSpec] = {
    "panda": RobotSpec(
        name="panda",
        summary="Franka Emika Panda + Franka Hand (libfranka torque interface)",
        mjcf_file="panda.xml",
        arm_joints=tuple(f"panda_joint{i}" for i in range(1, 8)),
        finger_joints=("panda_finger_joint1", "panda_finger_joint2"),
        command_interface="effort",
        gravity_compensated=True,
    ),
    "xarm7": RobotSpec(
        name="xarm7",
        summary="UFACTORY xArm 7 + xArm Gripper (servo mode 1)",
        mjcf_file="xarm7.xml",
        arm_joints=tuple(f"joint{i}" for i in range(1, 8)),
        finger_joints=("left_finger_joint", "right_finger_joint"),
        command_interface="position",
        gravity_compensated=False,
    ),
    "wx250s": RobotSpec(
        name="wx250s",
        summary="Interbotix WidowX 250 6DOF + gripper (Dynamixel position mode)",
        mjcf_file="wx250s.xml",
        arm_joints=("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate"),
        finger_joints=("left_finger", "right_finger"),
        command_interface="position",
        gravity_compensated=False,
    ),
    "wx250": RobotSpec(
        name="wx250",
        summary="Interbotix WidowX 250 5DOF + gripper (Dynamixel position mode)",
        mjcf_file="wx250.xml",
        arm_joints=("waist", "shoulder", "elbow", "wrist_angle", "wrist_rotate"),
        finger_joints=("left_finger", "right_finger"),
        command_interface="position",
        gravity_compensated=False,
    ),
}


class UnknownRobotError(ValueError):
    pass


def get_robot(name: str) -> RobotSpec:
    try:
        return ROBOTS[name]
    except KeyError:
        raise UnknownRobotError(
            f"unknown robot {name!r}; valid robots: {', '.join(sorted(ROBOTS))}"
        ) from None


def load_model(spec: RobotSpec) -> mujoco.MjModel:
    """The robot alone, fixed at the world origin (its base_link)."""
    import mujoco

    return mujoco.MjModel.from_xml_path(str(spec.mjcf_path))


@dataclass(frozen=True)
class JointLimits:
    """Per arm joint, in the order of RobotSpec.arm_joints (rad, rad/s, N·m)."""

    lower: np.ndarray
    upper: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray


def joint_limits(model: mujoco.MjModel, spec: RobotSpec) -> JointLimits:
    joint_ids = [model.joint(n).id for n in spec.arm_joints]
    actuator_ids = [_actuator_for_joint(model, j) for j in joint_ids]
    effort = np.array(
        [
            model.actuator_ctrlrange[a, 1]
            if spec.command_interface == "effort"
            else model.actuator_forcerange[a, 1]
            for a in actuator_ids
        ]
    )
    return JointLimits(
        lower=model.jnt_range[joint_ids, 0].copy(),
        upper=model.jnt_range[joint_ids, 1].copy(),
        velocity=_numeric(model, "max_velocity", spec.dof),
        effort=effort,
    )


def gripper_range(model: mujoco.MjModel) -> tuple[float, float]:
    """Finger joint position of a closed and of an open gripper."""
    closed, opened = _numeric(model, "gripper_range", 2)
    return float(closed), float(opened)


def _numeric(model: mujoco.MjModel, name: str, size: int) -> np.ndarray:
    value = np.asarray(model.numeric(name).data, dtype=float)
    if value.shape != (size,):
        raise ValueError(f"MJCF numeric {name!r} has {value.size} values, expected {size}")
    return value.copy()


def _actuator_for_joint(model: mujoco.MjModel, joint_id: int) -> int:
    import mujoco

    for a in range(model.nu):
        if model.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT and model.actuator_trnid[a, 0] == joint_id:
            return a
    raise ValueError(f"joint {model.joint(joint_id).name!r} has no actuator")
