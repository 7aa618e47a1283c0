"""PolicyNode: runs a checkpoint closed-loop at 2 Hz over the controller.

Each tick takes the newest camera frame, `controller/ee_pose` and the gripper opening from
`joint_states` (and, for a state-based checkpoint, the object pose from perception instead of the
frame) and hands them to PolicyCore.step (polyarm_core.policy_core), the same step the Gymnasium env
and in-process evaluation run: an input older than `max_observation_age` skips the step (nothing
moves, the reason is logged); a NaN or inf action is never published (the node asks `controller/hold`
and reports the error; so does shutting the node down). Inference runs in a worker thread, so a slow
model never blocks the node's callbacks; a tick whose previous inference is still running is skipped.
This node reads parameters and wires topics; the step itself is the core's.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from polyarm_common import conversions as conv
from polyarm_common.graph import call_service
from polyarm_common.parameters import declare_parameters
from polyarm_common.qos import COMMAND, SENSOR, STATE
from polyarm_common.rate import RateMeter
from polyarm_core.policy_core import PolicyCore, RobotReading
from polyarm_core.policy_io import ObservationError
from polyarm_core.rotations import matrix_to_quat
from polyarm_description import get_robot
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64
from std_srvs.srv import Trigger

from policy_server.checkpoint import CheckpointError
from policy_server.runtime import Policy

PARAMETERS = {  # name: (default, description)
    "robot": ("panda", "which arm: its workspace box, gripper range and neutral pose"),
    "checkpoint": ("", "policy checkpoint file; setting it at run time reloads (validated, the old model kept on error)"),
    "task": ("", "task of a multi-task checkpoint; may change at run time"),
    "backend": ("torch", "torch or onnx"),
    "rate_hz": (2.0, "policy rate"),
    "max_observation_age": (0.3, "s; an older camera frame or ee_pose skips the step"),
    "autostart": (False, "start acting without a policy/start call"),
    "object_pose_topic": ("perception/object_pose", "state-based checkpoints: the object pose (sim/object_pose in sim)"),
}


@dataclass(frozen=True)
class Runtime:
    """A model with the policy step its checkpoint asks for: swapped as one on a reload, so an inference
    in flight never mixes the old model with the new adapters."""

    policy: Policy
    core: PolicyCore


class PolicyNode(Node):
    def __init__(self, overrides=()):
        super().__init__("policy", parameter_overrides=list(overrides))
        p = declare_parameters(self, PARAMETERS)
        if not p["checkpoint"]:
            raise ValueError("no checkpoint given (--checkpoint FILE)")
        self.robot = get_robot(p["robot"])  # its workspace box clips targets, its home TCP pose is the neutral pose
        self.max_age = float(p["max_observation_age"])
        self.runtime = self._runtime(self._load(p["checkpoint"], p["backend"], p["task"]))
        self.active = bool(p["autostart"])
        self._lock = threading.Lock()
        self._image = self._pose = self._object = None
        self._gripper_opening = 1.0
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._pending = None
        self._rate = RateMeter(window=60)
        self._stats = {"steps": 0, "skipped_steps": 0, "holds": 0, "errors": 0}
        self._latency_ms: list[float] = []
        self._obs_age_ms: list[float] = []
        self._obs_to_command_ms: list[float] = []
        self._last_skip = ""
        self.create_subscription(Image, "camera/color/image_raw", self._on_image, SENSOR)
        self.create_subscription(PoseStamped, "controller/ee_pose", self._on_pose, STATE)
        self.create_subscription(PoseStamped, p["object_pose_topic"], self._on_object_pose, SENSOR)
        self.create_subscription(JointState, "joint_states", self._on_joint_states, STATE)
        self._pub_target = self.create_publisher(PoseStamped, "controller/target_pose", COMMAND)
        self._pub_gripper = self.create_publisher(Float64, "gripper/command", COMMAND)
        self._pub_diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        self._hold_client = self.create_client(Trigger, "controller/hold")
        self.create_service(Trigger, "policy/start", self._on_start)
        self.create_service(Trigger, "policy/stop", self._on_stop)
        self.create_service(Trigger, "policy/reset", self._on_reset)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(1.0 / float(p["rate_hz"]), self._on_tick)
        self.create_timer(1.0, self._publish_diagnostics)
        policy = self.runtime.policy
        reads_object = "object_position" in policy.checkpoint["observation"]["state_keys"]
        self.get_logger().info(
            f"{policy.checkpoint['algorithm']} policy from {p['checkpoint']} ({p['backend']}), task "
            f"{policy.task_names[policy.task]!r}, {p['rate_hz']:g} Hz on the {self.robot.name}"
            f"{', object pose from ' + p['object_pose_topic'] if reads_object else ''}; "
            f"{'acting' if self.active else 'waiting for policy/start'}")

    # ------------------------------------------------------------ set-up
    def _load(self, path: str, backend: str, task: str) -> Policy:
        return Policy.load(path, backend, task or None)  # CheckpointError is a ValueError: exit 2 at start

    def _runtime(self, policy: Policy) -> Runtime:
        return Runtime(policy, PolicyCore.for_checkpoint(policy.checkpoint, self.robot, self.max_age))

    # ------------------------------------------------------------ inputs
    def _on_image(self, msg: Image) -> None:
        with self._lock:
            self._image = msg

    def _on_pose(self, msg: PoseStamped) -> None:
        with self._lock:
            self._pose = msg

    def _on_object_pose(self, msg: PoseStamped) -> None:
        with self._lock:
            self._object = msg

    def _on_joint_states(self, msg: JointState) -> None:
        opening = conv.gripper_opening(self.robot, msg)
        if opening is not None:
            self._gripper_opening = opening

    # ------------------------------------------------------------- ticks
    def _on_tick(self) -> None:
        tick_stamp = self.get_clock().now()
        now_s = tick_stamp.nanoseconds * 1e-9
        self._rate.tick(now_s)  # the node's clock, as the controller's meter
        if not self.active:
            return
        if self._pending is not None and not self._pending.done():
            return self._skip("the previous inference is still running")
        runtime = self.runtime
        with self._lock:
            inputs = {"ee_pose": self._pose, "camera image": self._image if runtime.policy.needs_image else False,
                      "object pose": self._object if "object_position" in runtime.policy.state_keys else False}
            gripper = self._gripper_opening
        missing = [name for name, msg in inputs.items() if msg is None]
        if missing:
            return self._skip(f"no {' or '.join(missing)} received yet")
        self._pending = self._worker.submit(self._act, runtime, inputs, gripper, now_s, tick_stamp.to_msg())

    @staticmethod
    def _reading(inputs: dict, gripper: float) -> RobotReading:
        position, quaternion = conv.pose_arrays(inputs["ee_pose"])
        image, obj = inputs["camera image"], inputs["object pose"]
        return RobotReading(
            tcp_position=position, tcp_quaternion=quaternion, gripper_opening=gripper,
            image=None if image is False else conv.image_to_array(image),
            object_position=None if obj is False else conv.pose_arrays(obj)[0],
            stamps={name: conv.seconds(msg.header.stamp) for name, msg in inputs.items() if msg is not False})

    def _skip(self, reason: str) -> None:
        self._stats["skipped_steps"] += 1
        self._last_skip = reason
        self.get_logger().warn(f"policy step skipped: {reason}", throttle_duration_sec=2.0)

    def _act(self, runtime: Runtime, inputs: dict, gripper: float, now_s: float, stamp) -> None:
        def model(observation):
            t0 = time.perf_counter()
            action = runtime.policy.act(observation)
            self._latency_ms.append(1e3 * (time.perf_counter() - t0))
            return action

        try:
            reading = self._reading(inputs, gripper)
            step = runtime.core.step(model, reading, now_s)
        except (ObservationError, ValueError) as err:
            self._stats["errors"] += 1
            self.get_logger().error(f"policy step failed: {err}", throttle_duration_sec=1.0)
            return
        if step.skipped:
            return self._skip(step.skipped)
        self._obs_age_ms.append(1e3 * step.observation_age)
        if step.hold:
            return self._hold(step.hold)
        command = step.command
        self._pub_target.publish(conv.pose_stamped(command.position, matrix_to_quat(command.rotation), "base_link", stamp))
        if command.gripper is not None:
            self._pub_gripper.publish(Float64(data=command.gripper))
        self._stats["steps"] += 1
        oldest = min(reading.stamps.values())
        self._obs_to_command_ms.append(1e3 * (self.get_clock().now().nanoseconds * 1e-9 - oldest))

    def _hold(self, reason: str) -> None:
        self._stats["holds"] += 1
        self.get_logger().error(f"{reason}: nothing published, asking the controller to hold")
        if self._hold_client.service_is_ready():
            self._hold_client.call_async(Trigger.Request())
        else:
            self.get_logger().error("controller/hold is not available: the controller keeps its last target")

    # ---------------------------------------------------------- services
    def _on_start(self, request, response):
        self.active = True
        response.success, response.message = True, "policy acting"
        self.get_logger().info(response.message)
        return response

    def _on_stop(self, request, response):
        self.active = False
        response.success, response.message = True, "policy stopped: no more targets (the controller holds the last one)"
        self.get_logger().info(response.message)
        return response

    def _on_reset(self, request, response):
        with self._lock:
            self._image = self._pose = self._object = None  # only observations newer than the reset are used
        for key in self._stats:
            self._stats[key] = 0
        response.success, response.message = True, "policy reset: waiting for fresh observations"
        return response

    def _on_set_parameters(self, params) -> SetParametersResult:
        changes = {p.name: p.value for p in params}
        fixed = set(changes) - {"task", "checkpoint", "backend"}
        if fixed:
            return SetParametersResult(successful=False, reason=f"{sorted(fixed)} are read at start; restart the node")
        try:
            if "checkpoint" in changes or "backend" in changes:
                path = changes.get("checkpoint", self.get_parameter("checkpoint").value)
                backend = changes.get("backend", self.get_parameter("backend").value)
                task = changes.get("task", self.get_parameter("task").value)
                self.runtime = self._runtime(self._load(path, backend, task))
                self.get_logger().info(f"reloaded {self.runtime.policy.checkpoint['algorithm']} policy from {path} ({backend})")
            elif "task" in changes:
                self.runtime.policy.set_task(changes["task"])
                self.get_logger().info(f"task now {changes['task']!r}")
        except CheckpointError as err:
            self.get_logger().error(f"kept the current policy: {err}")
            return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    def _publish_diagnostics(self) -> None:
        latency, self._latency_ms = self._latency_ms, []
        ages, self._obs_age_ms = self._obs_age_ms, []
        o2c, self._obs_to_command_ms = self._obs_to_command_ms, []
        values = {
            "active": self.active,
            "rate_hz": self._rate.stats()["rate_hz"],
            "inference_ms": float(np.mean(latency)) if latency else 0.0,
            "observation_age_ms": float(np.mean(ages)) if ages else 0.0,
            "observation_to_command_ms": float(np.mean(o2c)) if o2c else 0.0,
            "observation_to_command_ms_max": float(np.max(o2c)) if o2c else 0.0,
            "last_skip_reason": self._last_skip,
            **self._stats,
        }
        level = DiagnosticStatus.ERROR if self._stats["holds"] else DiagnosticStatus.OK
        status = conv.diagnostic("policy", self.robot.name, level, "acting" if self.active else "stopped", values)
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._pub_diagnostics.publish(array)

    def close(self) -> None:
        """On shutdown: no more targets, then ask the controller to hold where the arm is."""
        self.active = False
        self._worker.shutdown(wait=True, cancel_futures=True)
        if not self._hold_client.wait_for_service(timeout_sec=2.0):  # discovery can lag on a loaded machine
            self.get_logger().warn("shutting down; controller/hold is not available: the controller keeps its last target")
            return
        response = call_service(self, self._hold_client, Trigger.Request(), timeout=2.0, attempt_s=0.5)
        held = response is not None and response.success
        self.get_logger().info("shutting down; the controller holds" if held else "shutting down; controller/hold did not answer")
