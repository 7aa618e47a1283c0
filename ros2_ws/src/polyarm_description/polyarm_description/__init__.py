"""Robot descriptions: the MJCF models and one profile per arm (everything the stack knows about it)."""

from polyarm_description.robots import (
    ROBOTS,
    JointLimits,
    RobotProfile,
    UnknownRobotError,
    get_robot,
    home_joints,
    joint_limits,
    load_model,
)

__all__ = [
    "ROBOTS",
    "JointLimits",
    "RobotProfile",
    "UnknownRobotError",
    "get_robot",
    "home_joints",
    "joint_limits",
    "load_model",
]
