"""ros2 launch launch/sim.launch.py robot:=panda [fast:=false] [camera_width:=320] [namespace:=arm]

The MuJoCo sim bridge for one arm, on a machine with ROS 2 Jazzy sourced and the workspace built
with colcon. The node sets polyarm's Fast DDS shared-memory profile itself unless
FASTRTPS_DEFAULT_PROFILES_FILE is already set.
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchDescription

ROBOTS = ["panda", "xarm7", "wx250s", "wx250"]


def generate_launch_description():
    arg = LaunchConfiguration
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="panda", choices=ROBOTS),
        DeclareLaunchArgument("namespace", default_value=""),
        DeclareLaunchArgument("fast", default_value="false", choices=["true", "false"]),
        DeclareLaunchArgument("camera_width", default_value="320"),
        DeclareLaunchArgument("camera_height", default_value="240"),
        DeclareLaunchArgument("camera_rate", default_value="15.0"),
        Node(
            package="sim_bridge",
            executable="sim",
            name="sim",
            namespace=arg("namespace"),
            output="screen",
            parameters=[{
                "robot": arg("robot"),
                "fast": ParameterValue(arg("fast"), value_type=bool),
                "camera.width": ParameterValue(arg("camera_width"), value_type=int),
                "camera.height": ParameterValue(arg("camera_height"), value_type=int),
                "camera.rate": ParameterValue(arg("camera_rate"), value_type=float),
            }],
        ),
    ])
