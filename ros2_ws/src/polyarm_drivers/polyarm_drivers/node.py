"""DriverNode: any RobotDriver as a ROS 2 node (ros2_control's read loop, DriverBridge's topics).

A thread reads the driver at `joint_state_rate` and publishes each reading; the executor serves the
commands. If the driver fails (a lost connection), the node says why and exits, and the arm is left
to the robot's own stop. On shutdown it closes the driver, which leaves the arm holding still.
"""

from __future__ import annotations

import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from polyarm_common import conversions as conv
from polyarm_common.qos import STATE
from polyarm_core.driver import DriverError, RobotDriver
from polyarm_core.registry import factory
from polyarm_description import get_robot
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from std_srvs.srv import Trigger

from polyarm_drivers.bridge import DriverBridge

PARAMETERS = {  # name: (default, description)
    "robot": ("panda", "which arm (its profile: joints, limits, command interface)"),
    "backend": ("mujoco", "the driver's registry name (polyarm_core.registry.DRIVERS)"),
    "joint_state_rate": (200.0, "joint_states publish rate, Hz"),
}


class DriverNode(Node):
    def __init__(self, overrides=()):
        super().__init__("driver", parameter_overrides=list(overrides))
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        if p["joint_state_rate"] <= 0:
            raise ValueError(f"joint_state_rate must be positive, got {p['joint_state_rate']}")
        self.backend = p["backend"]
        make_driver = factory("driver", self.backend)  # UnknownBackendError (a ValueError) names the valid ones
        options = {}
        for name, (default, description) in getattr(make_driver, "parameters", {}).items():  # the backend's own
            options[name] = self.declare_parameter(name, default, ParameterDescriptor(description=description)).value
        self.driver: RobotDriver = make_driver(get_robot(p["robot"]), **options)
        self.failure: str | None = None
        self._last_error = ""
        self._running = False
        self._thread = None
        try:
            self.driver.connect()
        except DriverError as err:  # unreachable, FCI off, no real-time kernel: named, and the node exits 1
            self.failure = f"cannot start the {self.backend} driver: {err}"
            return
        self.bridge = DriverBridge(self, self.driver)
        self._period = 1.0 / p["joint_state_rate"]
        self._pub_diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        self.create_timer(1.0, self._publish_diagnostics)
        if hasattr(self.driver, "recover"):  # libfranka's error recovery, only when the operator asks
            self.create_service(Trigger, "driver/recover", self._on_recover)
        self._running = True
        self._thread = threading.Thread(target=self._read_loop, name="read", daemon=True)
        self._thread.start()
        robot = self.driver.robot
        self.get_logger().info(f"{robot.summary} over {self.backend}: {robot.command_interface} commands, "
                               f"joint_states at {p['joint_state_rate']:g} Hz")

    def _read_loop(self) -> None:
        deadline = time.monotonic()
        try:
            while self._running:
                self.bridge.publish(self.driver.read(), time.monotonic())
                deadline = max(deadline + self._period, time.monotonic() - self._period)
                time.sleep(max(0.0, deadline - time.monotonic()))
        except Exception as err:  # noqa: BLE001 - any driver failure ends the node with its reason
            self.failure = f"the {self.backend} driver failed: {err}"
            self.get_logger().fatal(self.failure)

    def _on_recover(self, request, response):
        response.message = self.driver.recover()
        response.success = response.message.startswith("recovered")
        self.get_logger().warn(f"driver/recover: {response.message}")
        return response

    def _publish_diagnostics(self) -> None:
        if self.failure:
            return  # the node is ending with its reason; the driver is gone
        values = self.bridge.diagnostic_values()
        error = values.get("last_error", "")
        if error and error != self._last_error:  # say what stopped the arm, once
            self.get_logger().error(f"the {self.backend} driver reports: {error}")
        self._last_error = error
        level = DiagnosticStatus.ERROR if self.failure else DiagnosticStatus.OK
        status = conv.diagnostic(f"driver: {self.backend}", self.driver.robot.name, level, self.failure or "running", values)
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._pub_diagnostics.publish(array)

    def close(self) -> None:
        """Leave the arm holding still (a driver that never connected has nothing to close)."""
        if self._thread is None:
            return
        self._running = False
        self._thread.join(timeout=2.0)
        self.driver.close()
