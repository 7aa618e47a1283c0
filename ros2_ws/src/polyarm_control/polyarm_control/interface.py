"""ControllerInterface: the controller's ROS face, wherever its law runs.

In the controller node its 100 Hz timer ticks the core. In a driver that runs the law inside the
robot's own loop (the Panda's 1 kHz torque loop, `polyarm driver --controller in-driver`), that loop
ticks it. Either way the same topics and services reach the same ControllerCore:
controller/target_pose in; controller/ee_pose and /diagnostics out; controller/hold, controller/stop
(e-stop) and controller/resume; the gains.* parameters, changeable at run time.

`now` is the clock the core runs on (the node's, or the robot's own); `lock` guards the core when
another thread ticks it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import replace

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from polyarm_common import conversions as conv
from polyarm_common.qos import COMMAND, STATE
from polyarm_common.rate import RateMeter
from polyarm_core.rotations import matrix_to_quat
from rcl_interfaces.msg import SetParametersResult
from std_srvs.srv import Trigger

from polyarm_control.config import ControllerConfig, flatten, unflatten
from polyarm_control.core import RUNNING, ControllerCore, TickOutput
from polyarm_control.reference import TargetError

# s the controller keeps answering on shutdown; at most SHUTDOWN_MAX_S while a target publisher is still there
SHUTDOWN_GRACE_S, SHUTDOWN_MAX_S = 1.0, 4.0


def declare_controller_parameters(node, base: ControllerConfig) -> ControllerConfig:
    """Declare every controller parameter on `node` with `base`'s values as defaults; the config they give."""
    defaults = flatten(base)
    for name, value in defaults.items():
        node.declare_parameter(name, value)
    return unflatten({n: node.get_parameter(n).value for n in defaults}, base)


class ControllerInterface:
    def __init__(self, node, core: ControllerCore, now, lock=None, on_resume=None, sched_fifo: str = "not requested"):
        self.node, self.core, self.now = node, core, now
        self.lock = lock or contextlib.nullcontext()
        self.sched_fifo = sched_fifo
        self.last: TickOutput | None = None
        self.rejected_targets = 0
        self._period_meter = RateMeter(window=int(core.config.rate_hz) + 1)  # the second each diagnostics covers
        self._compute_s: list[float] = []
        self._compute_lock = threading.Lock()
        self._last_status = ""
        self._frame = core.config.frame_id
        self._pub_ee_pose = node.create_publisher(PoseStamped, "controller/ee_pose", STATE)
        self._pub_diagnostics = node.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        node.create_subscription(PoseStamped, "controller/target_pose", self._on_target, COMMAND)
        node.create_service(Trigger, "controller/hold", self._service(core.hold, "holding the current reference pose"))
        node.create_service(Trigger, "controller/stop", self._service(core.stop, "E-STOP: stopped, holding in joint space"))
        node.create_service(Trigger, "controller/resume", self._service(core.resume, "resumed from the measured pose",
                                                                          then=on_resume))
        node.add_on_set_parameters_callback(self._on_set_parameters)
        node.create_timer(1.0, self._publish_diagnostics)

    def describe(self) -> str:
        c, g = self.core.config, self.core.config.gains
        units = "1/s^2" if g.mode == "osc" else "N/m, N m/rad"
        return (f"{g.mode} at {c.rate_hz:.0f} Hz, {self.core.robot.command_interface} commands, stiffness "
                f"{g.stiffness_position:g} / {g.stiffness_orientation:g} ({units}), damping ratio {g.damping_ratio:g}")

    # ------------------------------------------------------------- the ticker's side
    def record(self, out: TickOutput, now: float, compute_s: float) -> None:
        """One tick's output, from whoever ticks: its period, compute time, and status changes (logged)."""
        self._period_meter.tick(now)
        with self._compute_lock:
            self._compute_s.append(compute_s)
        self.last = out
        if out.status != self._last_status:  # rclpy wants one severity per call site
            if out.status == RUNNING:
                self.node.get_logger().info("controller: running")
            else:
                self.node.get_logger().warn(f"controller: {out.status}")
            self._last_status = out.status

    def publish_ee_pose(self, stamp) -> None:
        out = self.last
        if out is not None and out.measured is not None:
            quaternion = matrix_to_quat(out.measured.tcp_rotation)
            self._pub_ee_pose.publish(conv.pose_stamped(out.measured.tcp_position, quaternion, self._frame, stamp))

    # ------------------------------------------------------------- the graph's side
    def _on_target(self, msg: PoseStamped) -> None:
        p, o = msg.pose.position, msg.pose.orientation
        try:
            with self.lock:
                note = self.core.target([p.x, p.y, p.z], [o.x, o.y, o.z, o.w], msg.header.frame_id, self.now())
        except TargetError as err:
            self.rejected_targets += 1
            self.node.get_logger().warn(f"target rejected, keeping the pose: {err}", throttle_duration_sec=1.0)
            return
        if note:
            self.node.get_logger().info(note, throttle_duration_sec=1.0)

    def hold(self) -> None:
        with self.lock:
            self.core.hold(self.now())

    def hold_and_linger(self) -> None:
        """On shutdown: hold the current reference, and keep the node's callbacks (the tick, the services)
        running for SHUTDOWN_GRACE_S, longer while a policy or teleop (a controller/target_pose publisher)
        is still there, up to SHUTDOWN_MAX_S. ros2 launch signals every node at once, and the policy's last
        act is to ask controller/hold: it is answered whatever the order the processes stop in. (The grace
        covers a publisher that discovery has not reported yet.)"""
        import rclpy

        self.hold()
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < SHUTDOWN_MAX_S:
            if elapsed > SHUTDOWN_GRACE_S and self.node.count_publishers("controller/target_pose") == 0:
                break
            rclpy.spin_once(self.node, timeout_sec=0.05)

    def _service(self, action, message: str, then=None):
        """`action(now)` under the lock; `then()` after it, outside the lock (a driver restarting its loop
        calls into the robot, whose thread may be waiting for the lock inside a tick)."""
        def handle(request, response):
            with self.lock:
                action(self.now())
            if then is not None:
                then()
            response.success, response.message = True, message
            self.node.get_logger().warn(message)  # every mode change is worth seeing in the log
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
        with self.lock:
            self.core.config = replace(self.core.config, gains=gains)
        self.node.get_logger().info(f"gains now {gains}")
        return SetParametersResult(successful=True)

    def _publish_diagnostics(self) -> None:
        stats = self._period_meter.stats()
        with self._compute_lock:
            compute, self._compute_s = np.array(self._compute_s or [0.0]), []
        out, core = self.last, self.core
        values = {
            "rate_hz": stats["rate_hz"],
            "period_p50_ms": 1e3 * stats["period_p50"],
            "period_std_ms": 1e3 * stats["period_std"],
            "period_p99_ms": 1e3 * stats["period_p99"],
            "period_max_ms": 1e3 * stats["period_max"],
            "compute_us_mean": 1e6 * float(compute.mean()),
            "compute_us_p99": 1e6 * float(np.percentile(compute, 99)),
            "compute_us_max": 1e6 * float(compute.max()),
            "tracking_error_mm": 1e3 * out.position_error if out else 0.0,
            "tracking_error_deg": float(np.degrees(out.orientation_error)) if out else 0.0,
            "status": out.status if out else "starting",
            "mode": core.mode,
            "sched_fifo": self.sched_fifo,
            "rejected_targets": self.rejected_targets,
            "command_corrections": core.guard.corrections,
        }
        level = DiagnosticStatus.OK if out is not None and out.status == RUNNING else DiagnosticStatus.WARN
        if core.mode == "stopped":
            level = DiagnosticStatus.ERROR
        status = conv.diagnostic("controller: osc", core.robot.name, level, values["status"], values)
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.node.get_clock().now().to_msg()
        self._pub_diagnostics.publish(array)
