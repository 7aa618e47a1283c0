"""ros2 launch launch/polyarm.launch.py robot:=panda [sim:=mujoco|none] [camera:=true] [checkpoint:=F]
                                       [task:=press_button] [seed:=0] [namespace:=arm] [record:=BAG_DIR]

The polyarm graph on a machine with ROS 2 Jazzy sourced and the workspace built with colcon: the same
nodes and parameter files as `polyarm up`, both read from polyarm_bringup.bringup. With sim:=none the arm's
driver (and camera) run outside this file. A node that exits shuts the whole launch down.

On Ctrl-C, ros2 launch signals every node at once; each one's own shutdown is safe (the policy stops
and asks the controller to hold, the recorder closes its bag). `polyarm up` also orders them.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from polyarm_bringup.bringup import ROBOTS, SIMS, Bringup, describe, launch_arguments

from launch import LaunchDescription


def nodes(context):
    def value(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    bringup = Bringup(robot=value("robot"), sim=value("sim"), camera=value("camera") == "true",
                      checkpoint=value("checkpoint"), task=value("task"), seed=int(value("seed")),
                      namespace=value("namespace"), record=value("record"))
    return [Node(**launch_arguments(node, bringup.namespace), on_exit=Shutdown(reason=f"{node.name} exited"))
            for node in describe(bringup)]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="panda", choices=list(ROBOTS)),
        DeclareLaunchArgument("sim", default_value="mujoco", choices=list(SIMS)),
        DeclareLaunchArgument("camera", default_value="true", choices=["true", "false"]),
        DeclareLaunchArgument("checkpoint", default_value="", description="policy checkpoint (empty: no policy node)"),
        DeclareLaunchArgument("task", default_value=""),
        DeclareLaunchArgument("seed", default_value="0"),
        DeclareLaunchArgument("namespace", default_value=""),
        DeclareLaunchArgument("record", default_value="", description="MCAP bag directory (empty: no recorder)"),
        OpaqueFunction(function=nodes),
    ])
