"""The robot profiles: one entry per arm holding everything polyarm knows about it.

The MJCF file is the one source of kinematics, inertia, joint limits and the home joint configuration
(keyframe "home"); the profile names the joints the drivers publish, the command interface, and every
other fact the stack needs about the arm: the gripper's finger range, the home TCP pose, the workspace
box, the controller's default gains, the default camera view and where tasks place their objects.
This module imports numpy only: the policy process reads profiles without loading MuJoCo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # mujoco is imported where it is used: a headless GL backend must be chosen first
    import mujoco

MJCF_DIR = Path(__file__).resolve().parent / "mjcf"


@dataclass(frozen=True)
class RobotProfile:
    name: str
    summary: str
    mjcf_file: str
    arm_joints: tuple[str, ...]
    finger_joints: tuple[str, ...]
    command_interface: str  # "effort" (joint torque) or "position" (servo targets)
    # The robot cancels its own gravity (libfranka does); a controller must then leave it out.
    gravity_compensated: bool
    gripper_range: tuple[float, float]  # finger joint position of a closed and of an open gripper (m)
    # The TCP at the MJCF's home keyframe (base_link; quaternion x y z w): the neutral pose of COG's 8th
    # action. Forward kinematics gives it; it is written here so the policy process needs no MuJoCo
    # (tests/test_descriptions.py checks the two agree).
    home_tcp_position: tuple[float, float, float]
    home_tcp_quaternion: tuple[float, float, float, float]
    workspace_low: tuple[float, float, float]  # the box targets are clipped to (base_link, m)
    workspace_high: tuple[float, float, float]
    controller_gains: dict  # polyarm_control.osc.OSCGains fields that differ from its defaults
    camera_view: tuple[tuple[float, float, float], tuple[float, float, float]]  # sim camera: position, look_at
    # Where tasks put things on the table (base_link x, y in m): "objects" (the object space's centre, the
    # middle of the arm's reach), "tray" and "tray_objects" (place_in_tray), "cabinet" (drawer tasks; an
    # arm without it cannot reach a drawer).
    task_layout: dict = field(default_factory=dict)
    # The sim camera for perception (position, look_at): a depth camera at a RealSense's working distance
    # (0.6-0.9 m) from the object space, where a 3.5 cm block covers ~250 points at 320x240. camera_view
    # stays the view image policies were trained on; state-based policies on perception use this one.
    perception_camera_view: tuple = ()
    tcp_site: str = "tcp"
    gripper_actuator: str = "gripper"
    # The law's gains where it runs inside the robot's own 1 kHz torque loop (the Panda's driver, in-driver):
    # a fresh state every millisecond holds a stiffer law stable than 100 Hz over topics does, and the
    # stiffness is what overcomes joint stiction (see docs/architecture.md, "The torque path").
    torque_loop_gains: dict = field(default_factory=dict)
    # Set on the real arm by its driver at connect: the payload beyond what the robot's own configuration
    # holds (the Panda's Desk holds the Franka Hand), and the TCP in the robot's configured end-effector frame.
    payload_mass: float = 0.0  # kg
    payload_com: tuple[float, float, float] = (0.0, 0.0, 0.0)  # m, flange frame
    tcp_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)  # m
    # A servo arm's bus (the WidowX's Dynamixel chain, Interbotix's layout): "servos" (name, ID, model) in ID
    # order, where a name is an arm joint, "<joint>_shadow" (a second servo on the joint, mounted reversed,
    # commanded as its master) or "gripper"; "gripper_angles" (servo rad of a closed and an open gripper);
    # "profile_velocity" (rad/s) and "profile_acceleration" (rad/s^2) of the servos' own trajectory.
    servo_bus: dict = field(default_factory=dict)
    # A UFACTORY arm's controller, as the SDK sees it: "version" (the controller's version string: axes, arm
    # type, arm and control box serial numbers, firmware), "serial_number", "max_joint_acceleration" (rad/s^2)
    # of the firmware's joint moves (the speed limits are the MJCF's), "gripper_pulses" (the xArm
    # Gripper's open position; 0 is closed).
    xarm_controller: dict = field(default_factory=dict)

    @property
    def mjcf_path(self) -> Path:
        return MJCF_DIR / self.mjcf_file

    @property
    def dof(self) -> int:
        return len(self.arm_joints)

    def gripper_opening(self, finger_position: float) -> float:
        """Finger joint position (m) to the gripper's opening, 0 closed .. 1 open."""
        closed, opened = self.gripper_range
        return (finger_position - closed) / (opened - closed)

    def finger_position(self, opening: float) -> float:
        """The gripper's opening (0 closed .. 1 open) to the finger joint position (m)."""
        closed, opened = self.gripper_range
        return closed + float(np.clip(opening, 0.0, 1.0)) * (opened - closed)


_SERVO_ARM_GAINS = dict(mode="osc", stiffness_position=150.0, stiffness_orientation=150.0)


def _widowx_bus(wrist: tuple[str, ...]) -> dict:
    """Interbotix's WidowX 250 motor layout: waist 1, shoulder 2 + shadow 3, elbow 4 + shadow 5, then the
    wrist joints and the gripper (XM540-W270 on the loaded joints, XM430-W350 and XL430-W250 beyond)."""
    servos = [("waist", "XM430-W350"), ("shoulder", "XM540-W270"), ("shoulder_shadow", "XM540-W270"),
              ("elbow", "XM540-W270"), ("elbow_shadow", "XM540-W270")]
    models = {"forearm_roll": "XM540-W270", "wrist_angle": "XM430-W350", "wrist_rotate": "XL430-W250"}
    servos += [(joint, models[joint]) for joint in wrist] + [("gripper", "XL430-W250")]
    return {"servos": tuple((name, i + 1, model) for i, (name, model) in enumerate(servos)),
            "gripper_angles": (-0.9, 0.6), "profile_velocity": 3.0, "profile_acceleration": 20.0}
_WIDOWX = dict(
    gripper_range=(0.015, 0.037),
    home_tcp_position=(0.299749, 0.0, 0.202075),
    home_tcp_quaternion=(0.0, 0.707108, 0.0, 0.707105),
    workspace_low=(0.1, -0.35, 0.02),
    workspace_high=(0.45, 0.35, 0.4),
    camera_view=((0.95, 0.4, 0.95), (0.2, 0.0, 0.07)),
    perception_camera_view=((0.7, 0.3, 0.5), (0.3, 0.0, 0.02)),
    task_layout={"objects": (0.3, 0.0), "tray": (0.28, 0.16), "tray_objects": (0.3, -0.06)},
    command_interface="position",
    gravity_compensated=False,
    finger_joints=("left_finger", "right_finger"),
)

ROBOTS: dict[str, RobotProfile] = {
    "panda": RobotProfile(
        name="panda",
        summary="Franka Emika Panda + Franka Hand (libfranka torque interface)",
        mjcf_file="panda.xml",
        arm_joints=tuple(f"panda_joint{i}" for i in range(1, 8)),
        finger_joints=("panda_finger_joint1", "panda_finger_joint2"),
        command_interface="effort",
        gravity_compensated=True,
        gripper_range=(0.0, 0.04),
        home_tcp_position=(0.306891, 0.0, 0.486882),
        home_tcp_quaternion=(-1.0, 0.0, 0.0, 0.0),
        workspace_low=(0.2, -0.45, 0.02),
        workspace_high=(0.8, 0.45, 0.75),
        # Physical Cartesian impedance: what users tune on the real arm.
        controller_gains=dict(mode="impedance", stiffness_position=600.0, stiffness_orientation=40.0),
        torque_loop_gains=dict(mode="impedance", stiffness_position=3000.0, stiffness_orientation=300.0),
        camera_view=((1.5, 0.6, 1.5), (0.3, 0.0, 0.1)),
        perception_camera_view=((0.95, 0.35, 0.6), (0.5, 0.0, 0.02)),
        task_layout={"objects": (0.5, 0.0), "tray": (0.5, 0.2), "tray_objects": (0.5, -0.08), "cabinet": (0.64, 0.0)},
    ),
    "xarm7": RobotProfile(
        name="xarm7",
        summary="UFACTORY xArm 7 + xArm Gripper (servo mode 1)",
        mjcf_file="xarm7.xml",
        arm_joints=tuple(f"joint{i}" for i in range(1, 8)),
        finger_joints=("left_finger_joint", "right_finger_joint"),
        command_interface="position",
        gravity_compensated=False,
        gripper_range=(0.0, 0.0425),
        home_tcp_position=(0.399522, 0.0, 0.30202),
        home_tcp_quaternion=(1.0, 0.0, 0.0, 0.0),
        workspace_low=(0.2, -0.45, 0.02),
        workspace_high=(0.7, 0.45, 0.6),
        controller_gains=_SERVO_ARM_GAINS,
        camera_view=((1.5, 0.6, 1.5), (0.3, 0.0, 0.1)),
        perception_camera_view=((0.9, 0.35, 0.6), (0.45, 0.0, 0.02)),
        task_layout={"objects": (0.45, 0.0), "tray": (0.45, 0.2), "tray_objects": (0.45, -0.08), "cabinet": (0.6, 0.0)},
        xarm_controller={"version": "7,7,XI1304000000,AC1300000000,v2.5.0", "serial_number": "XI1304000000",
                         "max_joint_acceleration": 20.0, "gripper_pulses": 850,
                         # UFACTORY's frames and factory limits: the flange is link7's frame (joint 7's DH frame);
                         # the TCP is the flange plus the TCP offset, zero until a lab sets one
                         "flange_body": "link7", "max_tcp_speed": 1000.0, "max_tcp_acceleration": 50000.0,
                         "tcp_jerk": 10000.0, "joint_jerk": 500.0},
    ),
    "wx250s": RobotProfile(
        name="wx250s",
        summary="Interbotix WidowX 250 6DOF + gripper (Dynamixel position mode)",
        mjcf_file="wx250s.xml",
        arm_joints=("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate"),
        controller_gains=_SERVO_ARM_GAINS,
        servo_bus=_widowx_bus(("forearm_roll", "wrist_angle", "wrist_rotate")),
        **_WIDOWX,
    ),
    "wx250": RobotProfile(
        name="wx250",
        summary="Interbotix WidowX 250 5DOF + gripper (Dynamixel position mode)",
        mjcf_file="wx250.xml",
        arm_joints=("waist", "shoulder", "elbow", "wrist_angle", "wrist_rotate"),
        # 5 DoF: position first, orientation weighted down (weighted damped least squares).
        controller_gains={**_SERVO_ARM_GAINS, "orientation_weight": 0.3},
        servo_bus=_widowx_bus(("wrist_angle", "wrist_rotate")),
        **_WIDOWX,
    ),
}


class UnknownRobotError(ValueError):
    pass


def get_robot(name: str) -> RobotProfile:
    try:
        return ROBOTS[name]
    except KeyError:
        raise UnknownRobotError(
            f"unknown robot {name!r}; valid robots: {', '.join(sorted(ROBOTS))}"
        ) from None


def load_model(spec: RobotProfile) -> mujoco.MjModel:
    """The robot alone, fixed at the world origin (its base_link)."""
    import mujoco

    return mujoco.MjModel.from_xml_path(str(spec.mjcf_path))


def home_joints(model: mujoco.MjModel, robot: RobotProfile) -> np.ndarray:
    """The arm's joint positions at the MJCF's home keyframe, in the profile's joint order (`model`: the
    robot alone, as load_model compiles it)."""
    key = model.key("home")
    return np.array([key.qpos[model.joint(n).qposadr[0]] for n in robot.arm_joints])


@dataclass(frozen=True)
class JointLimits:
    """Per arm joint, in the order of RobotProfile.arm_joints (rad, rad/s, N·m)."""

    lower: np.ndarray
    upper: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray


def joint_limits(model: mujoco.MjModel, spec: RobotProfile) -> JointLimits:
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
