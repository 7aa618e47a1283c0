"""ros2 launch polyarm_bringup polyarm.launch.py robot:=panda [sim:=mujoco|pybullet|none] [camera:=true] [checkpoint:=F]
                                                  [task:=press_button] [seed:=0] [namespace:=arm] [record:=BAG_DIR]
                                                  [perception:=true] [camera_backend:=realsense] [camera_pose:=FILE]

The polyarm graph on a machine with ROS 2 Jazzy sourced and the workspace built with colcon: the same
nodes and parameter files as `polyarm up`, both read from polyarm_bringup.bringup. With sim:=none the
arm's driver (and camera) run outside this file. A node that exits shuts the whole launch down.

On Ctrl-C, ros2 launch signals every node at once; each one's own shutdown is safe whatever the order:
the policy stops and asks the controller to hold, and the controller holds and keeps answering until
the policy has gone (polyarm_control.node.ControllerNode.close); the recorder closes its bag.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from polyarm_bringup.bringup import (
    CAMERA_BACKENDS,
    CONTROLLERS,
    DRIVERS,
    ROBOTS,
    SIMS,
    Bringup,
    describe,
    launch_arguments,
)

from launch import LaunchDescription


def nodes(context):
    def value(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    # a bad argument (seed:=x) raises a ValueError naming it, which launch prints as the reason it stopped
    bringup = Bringup.from_strings(**{name: value(name) for name in ARGUMENTS})
    return [Node(**launch_arguments(node, bringup.namespace), on_exit=Shutdown(reason=f"{node.name} exited"))
            for node in describe(bringup)]


ARGUMENTS = ("robot", "sim", "camera", "checkpoint", "task", "seed", "namespace", "record", "driver", "robot_ip", "realtime",
             "controller", "port", "perception", "camera_pose", "camera_backend", "camera_info")


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="panda", choices=list(ROBOTS)),
        DeclareLaunchArgument("sim", default_value="mujoco", choices=list(SIMS)),
        DeclareLaunchArgument("camera", default_value="true", choices=["true", "false"]),
        DeclareLaunchArgument("checkpoint", default_value="", description="policy checkpoint (empty: no policy node)"),
        DeclareLaunchArgument("task", default_value=""),
        DeclareLaunchArgument("seed", default_value="0", description="seed of the task's object placement (integer)"),
        DeclareLaunchArgument("namespace", default_value=""),
        DeclareLaunchArgument("record", default_value="", description="MCAP bag directory (empty: no recorder)"),
        DeclareLaunchArgument("driver", default_value="", choices=list(DRIVERS), description="with sim:=none: the arm's driver"),
        DeclareLaunchArgument("robot_ip", default_value="", description="franky, xarm: the robot's address"),
        DeclareLaunchArgument("port", default_value="", description="dynamixel: the bus's serial device"),
        DeclareLaunchArgument("realtime", default_value="enforce", choices=["enforce", "ignore"],
                              description="franky: require a real-time kernel (ignore for franky-sim)"),
        DeclareLaunchArgument("controller", default_value="", choices=list(CONTROLLERS),
                              description="where the OSC law runs: node or in-driver (default: in-driver for franky)"),
        DeclareLaunchArgument("perception", default_value="false", choices=["true", "false"],
                              description="the perception node: the policy reads the object pose from the depth camera"),
        DeclareLaunchArgument("camera_pose", default_value="", description="with sim:=none: the camera's hand-eye YAML"),
        DeclareLaunchArgument("camera_backend", default_value="", choices=list(CAMERA_BACKENDS),
                              description="with sim:=none: the camera node's backend"),
        DeclareLaunchArgument("camera_info", default_value="", description="the opencv camera's intrinsics YAML"),
        OpaqueFunction(function=nodes),
    ])
