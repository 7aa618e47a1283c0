"""DriverBridge: a RobotDriver on the ROS graph, attached to a node.

Out: `joint_states` (arm joints then fingers; position, velocity, effort), stamped with the reading's
own time. In: `joint_commands` (JointState with the field of the robot's command interface filled) and
`gripper/command` (Float64, 0 closed .. 1 open). Where the driver runs the law itself (`external_commands`
false), joint_commands from anywhere else are refused: two controllers must never share an arm. A refused command is logged with its reason (at most
once a second), counted, and changes nothing: the last good command stays in force. Whoever owns the
timing (the driver node's read loop, the sim node's physics loop) calls `publish()` with each reading.
"""

from __future__ import annotations

from polyarm_common import conversions as conv
from polyarm_common.qos import COMMAND, STATE
from polyarm_common.rate import RateMeter
from polyarm_core.driver import CommandRefused, JointReading, RobotDriver
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64


class DriverBridge:
    def __init__(self, node, driver: RobotDriver, external_commands: bool = True):
        self.node, self.driver, self.external_commands = node, driver, external_commands
        self.rejected_commands = 0
        self.state_rate = RateMeter(window=400)
        self._field = "position" if driver.command_interface == "position" else "effort"
        self._pub = node.create_publisher(JointState, "joint_states", STATE)
        node.create_subscription(JointState, "joint_commands", self._on_joint_command, COMMAND)
        node.create_subscription(Float64, "gripper/command", self._on_gripper_command, COMMAND)

    def publish(self, reading: JointReading, monotonic_s: float) -> None:
        self._pub.publish(conv.joint_state(reading.names, reading.position, reading.velocity, reading.effort,
                                           conv.stamp(reading.stamp_ns)))
        self.state_rate.tick(monotonic_s)

    def _on_joint_command(self, msg: JointState) -> None:
        field = self._field
        other = "effort" if field == "position" else "position"
        try:
            if not self.external_commands:
                raise CommandRefused("the controller runs inside this driver; stop the other controller")
            if len(getattr(msg, other)) and not len(getattr(msg, field)):
                raise CommandRefused(f"{self.driver.robot.name} takes {field} commands, the message fills only {other}")
            self.driver.write(msg.name, getattr(msg, field))
        except CommandRefused as err:
            self.reject(f"joint_commands rejected, holding the last command: {err}")

    def _on_gripper_command(self, msg: Float64) -> None:
        try:
            self.driver.command_gripper(msg.data)
        except CommandRefused as err:
            self.reject(f"gripper/command rejected: {err}")

    def reject(self, message: str) -> None:
        self.rejected_commands += 1
        self.node.get_logger().error(message, throttle_duration_sec=1.0)

    def diagnostic_values(self) -> dict:
        return {"joint_state_rate_hz": self.state_rate.stats()["rate_hz"], "rejected_commands": self.rejected_commands,
                **self.driver.diagnostics()}
