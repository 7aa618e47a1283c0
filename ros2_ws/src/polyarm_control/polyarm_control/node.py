"""ControllerNode: the 100 Hz timer around ControllerCore, over topics.

Subscribes joint_states; publishes joint_commands; the rest of its face (controller/target_pose,
controller/ee_pose, /diagnostics, the hold/stop/resume services, gains.* at run time) is
ControllerInterface, shared with drivers that run the law in the robot's own loop.
"""

from __future__ import annotations

import time

from polyarm_common.qos import COMMAND, STATE
from polyarm_description import get_robot
from rclpy.node import Node
from sensor_msgs.msg import JointState

from polyarm_control.config import default_config
from polyarm_control.core import ControllerCore
from polyarm_control.interface import ControllerInterface, declare_controller_parameters


class ControllerNode(Node):
    def __init__(self, overrides=(), sched_fifo: str = "not requested"):
        super().__init__("controller", parameter_overrides=list(overrides))
        robot = get_robot(self.declare_parameter("robot", "panda").value)
        config = declare_controller_parameters(self, default_config(robot.name))
        self.core = ControllerCore(robot, config)
        self.robot, self.config = robot, config
        self.interface = ControllerInterface(self, self.core, self._now, sched_fifo=sched_fifo)
        self._field = "position" if robot.command_interface == "position" else "effort"
        self._pub_command = self.create_publisher(JointState, "joint_commands", COMMAND)
        self.create_subscription(JointState, "joint_states", self._on_joint_state, STATE)
        self.create_timer(1.0 / config.rate_hz, self._on_tick)
        self.get_logger().info(f"{robot.summary}: {self.interface.describe()}; SCHED_FIFO {sched_fifo}; "
                               "holding until the first target")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_joint_state(self, msg: JointState) -> None:
        if self._now() == 0.0:
            return  # on use_sim_time before the first /clock: no time to measure the state's age against
        try:
            self.core.joint_state(msg.name, msg.position, msg.velocity, self._now())
        except ValueError as err:
            self.get_logger().error(f"joint_states ignored: {err}", throttle_duration_sec=1.0)

    def _on_tick(self) -> None:
        t0 = time.perf_counter()
        now = self._now()  # the node's clock: the sim's in sim (use_sim_time), so a slow host does not read as jitter
        out = self.core.tick(now)
        stamp = self.get_clock().now().to_msg()
        if out.command is not None:
            msg = JointState(name=list(self.robot.arm_joints))
            msg.header.stamp = stamp
            setattr(msg, self._field, out.command.tolist())
            self._pub_command.publish(msg)
        self.interface.record(out, now, time.perf_counter() - t0)
        self.interface.publish_ee_pose(stamp)

    def close(self) -> None:
        self.interface.hold_and_linger()
