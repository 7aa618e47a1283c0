"""ControllerNode: the 100 Hz timer around ControllerCore, and the topics, services and diagnostics.

Subscribes joint_states and controller/target_pose; publishes joint_commands, controller/ee_pose
and /diagnostics; serves controller/hold, controller/stop (e-stop) and controller/resume. Gains
(gains.*) can be changed at run time; every other parameter is read at start.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from polyarm_common import conversions as conv
from polyarm_common.qos import COMMAND, STATE
from polyarm_common.rate import RateMeter
from polyarm_core.rotations import matrix_to_quat
from polyarm_description import get_robot
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

from polyarm_control.config import default_config, flatten, unflatten
from polyarm_control.core import RUNNING, ControllerCore
from polyarm_control.osc import OSCGains
from polyarm_control.reference import TargetError

# s the controller keeps answering on shutdown; at most SHUTDOWN_MAX_S while a target publisher is still there
SHUTDOWN_GRACE_S, SHUTDOWN_MAX_S = 1.0, 4.0

class ControllerNode(Node):
    def __init__(self, overrides=(), sched_fifo: str = "not requested"):
        super().__init__("controller", parameter_overrides=list(overrides))
        robot = get_robot(self.declare_parameter("robot", "panda").value)
        defaults = flatten(default_config(robot.name))
        for name, value in defaults.items():
            self.declare_parameter(name, value)
        config = unflatten({n: self.get_parameter(n).value for n in defaults}, default_config(robot.name))
        self.core = ControllerCore(robot, config)
        self.robot, self.config, self.sched_fifo = robot, config, sched_fifo
        self._field = "position" if robot.command_interface == "position" else "effort"
        self._period_meter = RateMeter(window=int(config.rate_hz) + 1)  # the second each diagnostics message covers
        self._compute_s: list[float] = []
        self._last_status = ""
        self._last_output = None
        self._rejected_targets = 0

        self._pub_command = self.create_publisher(JointState, "joint_commands", COMMAND)
        self._pub_ee_pose = self.create_publisher(PoseStamped, "controller/ee_pose", STATE)
        self._pub_diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        self.create_subscription(JointState, "joint_states", self._on_joint_state, STATE)
        self.create_subscription(PoseStamped, "controller/target_pose", self._on_target, COMMAND)
        self.create_service(Trigger, "controller/hold", self._service(self.core.hold, "holding the current reference pose"))
        self.create_service(Trigger, "controller/stop", self._service(self.core.stop, "E-STOP: stopped, holding in joint space"))
        self.create_service(Trigger, "controller/resume", self._service(self.core.resume, "resumed from the measured pose"))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(1.0 / config.rate_hz, self._on_tick)
        self.create_timer(1.0, self._publish_diagnostics)
        g = config.gains
        units = "1/s^2" if g.mode == "osc" else "N/m, N m/rad"
        self.get_logger().info(
            f"{robot.summary}: {g.mode} at {config.rate_hz:.0f} Hz, {robot.command_interface} commands, stiffness "
            f"{g.stiffness_position:g} / {g.stiffness_orientation:g} ({units}), damping ratio {g.damping_ratio:g}; "
            f"SCHED_FIFO {sched_fifo}; holding until the first target"
        )

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # -------------------------------------------------------------- callbacks
    def _on_joint_state(self, msg: JointState) -> None:
        if self._now() == 0.0:
            return  # on use_sim_time before the first /clock: no time to measure the state's age against
        try:
            self.core.joint_state(msg.name, msg.position, msg.velocity, self._now())
        except ValueError as err:
            self.get_logger().error(f"joint_states ignored: {err}", throttle_duration_sec=1.0)

    def _on_target(self, msg: PoseStamped) -> None:
        p, o = msg.pose.position, msg.pose.orientation
        try:
            note = self.core.target([p.x, p.y, p.z], [o.x, o.y, o.z, o.w], msg.header.frame_id, self._now())
        except TargetError as err:
            self._rejected_targets += 1
            self.get_logger().warn(f"target rejected, keeping the pose: {err}", throttle_duration_sec=1.0)
            return
        if note:
            self.get_logger().info(note, throttle_duration_sec=1.0)

    def _on_tick(self) -> None:
        t0 = time.perf_counter()
        now = self._now()  # the node's clock: the sim's in sim (use_sim_time), so a slow host does not read as jitter
        self._period_meter.tick(now)
        out = self.core.tick(now)
        stamp = self.get_clock().now().to_msg()
        if out.command is not None:
            msg = JointState(name=list(self.robot.arm_joints))
            msg.header.stamp = stamp
            setattr(msg, self._field, out.command.tolist())
            self._pub_command.publish(msg)
        if out.measured is not None:
            quaternion = matrix_to_quat(out.measured.tcp_rotation)
            self._pub_ee_pose.publish(conv.pose_stamped(out.measured.tcp_position, quaternion, self.config.frame_id, stamp))
        self._compute_s.append(time.perf_counter() - t0)
        self._last_output = out
        if out.status != self._last_status:  # rclpy wants one severity per call site
            if out.status == RUNNING:
                self.get_logger().info("controller: running")
            else:
                self.get_logger().warn(f"controller: {out.status}")
            self._last_status = out.status

    def close(self) -> None:
        """On shutdown: hold the current reference, and keep the tick and the services running for
        SHUTDOWN_GRACE_S, longer while a policy or teleop (a controller/target_pose publisher) is still
        there, up to SHUTDOWN_MAX_S. ros2 launch signals every node at once, and the policy's last act is
        to ask controller/hold: it is answered whatever the order the processes stop in. (The grace covers
        a publisher that discovery has not reported yet.)"""
        self.core.hold(self._now())
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < SHUTDOWN_MAX_S:
            if elapsed > SHUTDOWN_GRACE_S and self.count_publishers("controller/target_pose") == 0:
                break
            rclpy.spin_once(self, timeout_sec=0.05)

    def _service(self, action, message: str):
        def handle(request, response):
            action(self._now())
            response.success, response.message = True, message
            self.get_logger().warn(message)  # every mode change is worth seeing in the log
            return response

        return handle

    def _on_set_parameters(self, params) -> SetParametersResult:
        changes = {p.name[6:]: p.value for p in params if p.name.startswith("gains.")}
        others = [p.name for p in params if not p.name.startswith("gains.")]
        if others:
            return SetParametersResult(successful=False, reason=f"only gains.* change at run time, not {others}")
        if not changes:
            return SetParametersResult(successful=True)
        try:
            gains = replace(self.core.config.gains, **changes)
        except (ValueError, TypeError) as err:
            return SetParametersResult(successful=False, reason=str(err))
        self._set_gains(gains)
        return SetParametersResult(successful=True)

    def _set_gains(self, gains: OSCGains) -> None:
        self.core.config = replace(self.core.config, gains=gains)
        self.get_logger().info(f"gains now {gains}")

    def _publish_diagnostics(self) -> None:
        stats = self._period_meter.stats()
        compute, self._compute_s = np.array(self._compute_s or [0.0]), []
        out = self._last_output
        values = {
            "rate_hz": stats["rate_hz"],
            "period_p50_ms": 1e3 * stats["period_p50"],
            "period_std_ms": 1e3 * stats["period_std"],
            "period_p99_ms": 1e3 * stats["period_p99"],
            "period_max_ms": 1e3 * stats["period_max"],
            "compute_us_mean": 1e6 * float(compute.mean()),
            "compute_us_max": 1e6 * float(compute.max()),
            "tracking_error_mm": 1e3 * out.position_error if out else 0.0,
            "tracking_error_deg": float(np.degrees(out.orientation_error)) if out else 0.0,
            "status": out.status if out else "starting",
            "mode": self.core.mode,
            "sched_fifo": self.sched_fifo,
            "rejected_targets": self._rejected_targets,
            "command_corrections": self.core.guard.corrections,
        }
        tracking = out is not None and out.status == RUNNING
        level = DiagnosticStatus.OK if tracking else DiagnosticStatus.WARN
        if self.core.mode == "stopped":
            level = DiagnosticStatus.ERROR
        status = conv.diagnostic("controller: osc", self.robot.name, level, values["status"], values)
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._pub_diagnostics.publish(array)
