"""ros2 launch launch/controller.launch.py robot:=panda [mode:=impedance] [namespace:=arm]

The 100 Hz operational-space controller for one arm, in its own process, on a machine with ROS 2
Jazzy sourced and the workspace built with colcon. Start the sim (sim.launch.py) or a driver beside it.
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

ROBOTS = ["panda", "xarm7", "wx250s", "wx250"]


def generate_launch_description():
    arg = LaunchConfiguration
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="panda", choices=ROBOTS),
        DeclareLaunchArgument("namespace", default_value=""),
        DeclareLaunchArgument("mode", default_value="impedance", choices=["osc", "impedance"]),
        Node(
            package="polyarm_control",
            executable="controller",
            name="controller",
            namespace=arg("namespace"),
            output="screen",
            parameters=[{"robot": arg("robot"), "gains.mode": arg("mode")}],
        ),
    ])
