"""Robot descriptions for polyarm: MJCF models and what the rest of the stack needs to know about them."""

from polyarm_description.robots import (
    ROBOTS,
    JointLimits,
    RobotSpec,
    UnknownRobotError,
    get_robot,
    gripper_range,
    joint_limits,
    load_model,
)

__all__ = [
    "ROBOTS",
    "JointLimits",
    "RobotSpec",
    "UnknownRobotError",
    "get_robot",
    "gripper_range",
    "joint_limits",
    "load_model",
]
