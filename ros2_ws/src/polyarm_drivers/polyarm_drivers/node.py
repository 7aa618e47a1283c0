"""DriverNode: any RobotDriver as a ROS 2 node (ros2_control's read loop, DriverBridge's topics).

A thread reads the driver at `joint_state_rate` and publishes each reading; the executor serves the
commands. If the driver fails (a lost connection), the node says why and exits, and the arm is left
to the robot's own stop. On shutdown it closes the driver, which leaves the arm holding still.

With `controller: in-driver` (drivers that own a real-time loop: franky's 1 kHz), the controller core
runs inside that loop through ControlLoop, and this node carries the controller's whole ROS face
(ControllerInterface: controller/target_pose, controller/ee_pose, hold/stop/resume, gains.*), so the
graph is the same as with a controller node. Its parameters are the controller's, with the robot's
torque-loop gains and the driver's loop rate as defaults.

Services, where the driver has them: driver/recover (the robot's error recovery, only when the operator
asks; the controller then resumes from the arm's pose), driver/reboot and driver/torque (a servo bus:
reboot the faulted servos; torque on or off, std_srvs/SetBool) and driver/home (a slow joint-space move
to the profile's home pose, gripper open, refused while targets arrive on controller/target_pose: a
policy or teleop is running).
"""

from __future__ import annotations

import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from polyarm_common import conversions as conv
from polyarm_common.parameters import declare_options, declare_parameters
from polyarm_common.qos import COMMAND, STATE
from polyarm_core.driver import CommandRefused, DriverError, RobotDriver
from polyarm_core.registry import factory
from polyarm_description import get_robot, home_joints, load_model
from rclpy.node import Node
from std_srvs.srv import SetBool, Trigger

from polyarm_drivers.bridge import DriverBridge

PARAMETERS = {  # name: (default, description)
    "robot": ("panda", "which arm (its profile: joints, limits, command interface)"),
    "backend": ("mujoco", "the driver's registry name (an entry point of polyarm.drivers)"),
    "joint_state_rate": (200.0, "joint_states publish rate, Hz"),
    "controller": ("external", "external: a controller node sends joint_commands; in-driver: the OSC law runs "
                               "in this driver's own real-time loop (drivers that have one: franky)"),
}
CONTROLLERS = ("external", "in-driver")
TARGETS_ACTIVE_S = 1.0  # driver/home is refused while targets arrived more recently than this
GRIPPER_OPEN_S = 10.0  # s driver/home waits for the gripper to open (franky-sim's runs slower than real time)


class DriverNode(Node):
    def __init__(self, overrides=()):
        super().__init__("driver", parameter_overrides=list(overrides))
        p = declare_parameters(self, PARAMETERS)
        if p["joint_state_rate"] <= 0:
            raise ValueError(f"joint_state_rate must be positive, got {p['joint_state_rate']}")
        if p["controller"] not in CONTROLLERS:
            raise ValueError(f"controller must be one of {', '.join(CONTROLLERS)}, got {p['controller']!r}")
        self.backend = p["backend"]
        driver_class = factory("driver", self.backend)  # UnknownBackendError (a ValueError) names the valid ones
        options = declare_options(self, driver_class.config_class)  # the backend's own
        self.driver: RobotDriver = driver_class.create(get_robot(p["robot"]), **options)
        self.in_driver = p["controller"] == "in-driver"
        if self.in_driver and not self.driver.can("realtime_loop"):
            raise ValueError(f"the {self.backend} driver has no real-time loop of its own: use controller external")
        self.controller = None
        self.failure: str | None = None
        self._last_error = ""
        self._running = False
        self._thread = None
        try:
            self.driver.connect()
        except DriverError as err:  # unreachable, FCI off, no real-time kernel: named, and the node exits 1
            self.failure = f"cannot start the {self.backend} driver: {err}"
            return
        self.bridge = DriverBridge(self, self.driver, external_commands=not self.in_driver)
        self._period = 1.0 / p["joint_state_rate"]
        self._pub_diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        self.create_timer(1.0, self._publish_diagnostics)
        if self.driver.can("recover"):  # libfranka's error recovery, only when the operator asks
            self.create_service(Trigger, "driver/recover", self._on_recover)
        if self.driver.can("servo_bus"):  # a servo bus: reboot the faulted servos, torque on or off
            self.create_service(Trigger, "driver/reboot", self._on_reboot)
            self.create_service(SetBool, "driver/torque", self._on_torque)
        if self.driver.can("home"):
            self.create_service(Trigger, "driver/home", self._on_home)
            self._last_target = -float("inf")  # when a target last arrived: a policy or teleop is running
            self.create_subscription(PoseStamped, "controller/target_pose", self._on_target, COMMAND)
        self._resume_client = None if self.in_driver else self.create_client(Trigger, "controller/resume")
        if self.in_driver:
            self._start_controller()
        self._running = True
        self._thread = threading.Thread(target=self._read_loop, name="read", daemon=True)
        self._thread.start()
        robot = self.driver.robot
        law = f"; controller in the driver's loop: {self.controller.describe()}" if self.in_driver else ""
        self.get_logger().info(f"{robot.summary} over {self.backend}: {robot.command_interface} commands, "
                               f"joint_states at {p['joint_state_rate']:g} Hz{law}")

    # ------------------------------------------------------------ in-driver controller
    def _start_controller(self) -> None:
        from polyarm_control.interface import ControllerInterface, declare_controller_parameters
        from polyarm_control.loop import InDriverController, torque_loop_config

        robot = self.driver.robot
        config = declare_controller_parameters(self, torque_loop_config(robot, self.driver.loop_rate_hz))
        self._law = InDriverController(self.driver, config)
        self.controller = ControllerInterface(self, self._law.core, lambda: self._law.now, self._law.lock,
                                              on_resume=self._restart_loop)
        self._law.on_tick = self.controller.record
        self.create_timer(0.01, lambda: self.controller.publish_ee_pose(self.get_clock().now().to_msg()))
        self._law.start()

    def _restart_loop(self) -> None:
        """controller/resume: the loop runs again if it had ended (a reflex, the watchdog, homing)."""
        try:
            self._law.start()
        except CommandRefused as err:
            self.get_logger().error(f"the controller cannot restart the arm: {err}")

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
        if response.success and not self.in_driver:
            self._resume_controller()  # its targets ran on while the arm stood: start again from where it is
        return response

    def _on_reboot(self, request, response):
        response.message = self.driver.reboot()
        response.success = response.message.startswith("rebooted")
        self.get_logger().warn(f"driver/reboot: {response.message}")
        return response

    def _on_torque(self, request, response):
        try:
            response.message, response.success = self.driver.set_torque(bool(request.data)), True
        except DriverError as err:
            response.message, response.success = str(err), False
        self.get_logger().warn(f"driver/torque: {response.message}")
        return response

    def _on_target(self, msg) -> None:
        self._last_target = time.monotonic()

    def _on_home(self, request, response):
        age = time.monotonic() - self._last_target
        if age < TARGETS_ACTIVE_S:
            response.success = False
            response.message = (f"refused: a target arrived on controller/target_pose {age:.1f} s ago (a policy or "
                                "teleop is running); stop it first")
            self.get_logger().warn(f"driver/home {response.message}")
            return response
        self.get_logger().warn("driver/home: moving slowly to the home pose")
        if self.in_driver:
            self.driver.stop_loop()
        try:
            self.driver.home(home_joints(load_model(self.driver.robot), self.driver.robot))
            opened = self._open_gripper()
            response.success = opened
            response.message = "at the home pose, gripper open" if opened else (
                f"at the home pose, but the gripper did not open within {GRIPPER_OPEN_S:.0f} s "
                f"({self.driver.diagnostics().get('last_error') or 'no error reported'})")
        except CommandRefused as err:
            response.success, response.message = False, str(err)
        self._resume_controller()
        self.get_logger().warn(f"driver/home: {response.message}")
        return response

    def _open_gripper(self) -> bool:
        """Home is where the sim's episodes start: the gripper open too (a policy reads its opening; a home
        with it half closed is no home, and is reported as failed)."""
        deadline = time.monotonic() + GRIPPER_OPEN_S
        while time.monotonic() < deadline:
            self.driver.command_gripper(1.0)  # again while not open: a failed move is tried again
            if self.driver.read().gripper_opening > 0.95:
                return True
            time.sleep(0.1)
        return False

    def _resume_controller(self) -> None:
        """After homing or a recovery: the controller continues from the pose the arm is in now, not the one
        it held before."""
        if self.in_driver:
            try:
                self._law.resume()
            except CommandRefused as err:
                self.get_logger().error(f"the controller cannot restart the arm: {err}")
            return
        if self._resume_client.service_is_ready():
            self._resume_client.call_async(Trigger.Request())
        else:
            self.get_logger().warn("no controller/resume to call: resume the controller before sending targets")

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
        if self.controller is not None:
            self.controller.hold_and_linger()
        self._running = False
        self._thread.join(timeout=2.0)
        self.driver.close()
