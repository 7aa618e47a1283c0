"""TeleopNode: a teleop device on controller/target_pose and gripper/command, and with `record` set,
the recording session over the graph's topics (one MCAP bag per episode, polyarm_teleop.session).

Every tick (`rate`, 10-30 Hz) it reads the device, acts on its episode keys, and publishes the target:
the last one plus the device's scaled motion, clipped to the workspace and to within a few centimetres
of the measured TCP (TargetIntegrator). `reset` sets the sim's seed to the next episode's number and
resets it, or homes a real arm (driver/home), then resumes the controller; the target restarts from
the measured pose.
"""

from __future__ import annotations

import sys

from geometry_msgs.msg import PoseStamped
from polyarm_common import conversions as conv
from polyarm_common.graph import RESUME_AFTER_RESET_S, SETTLE_AFTER_RESET_S, RetryingCall
from polyarm_common.parameters import declare_parameters
from polyarm_common.qos import COMMAND, STATE
from polyarm_core.rotations import matrix_to_quat, quat_to_matrix
from polyarm_data.recorder import RAW_QOS, get_message
from polyarm_description import get_robot
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Float64
from std_srvs.srv import Trigger

from polyarm_teleop.mapping import TargetIntegrator, TeleopConfig
from polyarm_teleop.session import RecordingSession

PARAMETERS = {  # name: (default, description)
    "robot": ("panda", "which arm"),
    "rate": (20.0, "Hz at which the device is read and the target published (10-30)"),
    "record": ("", "folder to record episodes into (empty: no recording)"),
    "task": ("", "the task being demonstrated (stored with each episode)"),
    "frame": ("base", "rotations about the base axes (base) or the TCP's own (tool)"),
    "linear_speed": (0.10, "m/s at full deflection and speed scale 1"),
    "angular_speed": (0.6, "rad/s at full deflection and speed scale 1"),
    "deadband": (0.1, "fraction of full deflection read as zero"),
    "camera_rate": (15.0, "the camera's frame rate, Hz, to count dropped frames against"),
    "reset": ("sim", "what the reset key does: sim (sim/reset with the next episode's seed) or home (driver/home)"),
}
RECORDED = {"camera/color/image_raw": "sensor_msgs/msg/Image", "joint_states": "sensor_msgs/msg/JointState",
            "controller/ee_pose": "geometry_msgs/msg/PoseStamped", "controller/target_pose": "geometry_msgs/msg/PoseStamped",
            "gripper/command": "std_msgs/msg/Float64", "sim/object_pose": "geometry_msgs/msg/PoseStamped",
            "perception/object_pose": "geometry_msgs/msg/PoseStamped", "sim/success": "std_msgs/msg/Bool"}


class TeleopNode(Node):
    def __init__(self, device, overrides=()):
        super().__init__("teleop", parameter_overrides=list(overrides))
        p = declare_parameters(self, PARAMETERS)
        if p["reset"] not in ("sim", "home"):
            raise ValueError(f"reset must be sim or home, got {p['reset']!r}")
        self.robot, self.device, self.period = get_robot(p["robot"]), device, 1.0 / p["rate"]
        config = TeleopConfig(p["linear_speed"], p["angular_speed"], p["deadband"], p["frame"])
        self.target = TargetIntegrator.for_robot(self.robot, config)
        self.reset_mode, self.quit, self._measured, self._restart, self._resetting = p["reset"], False, None, True, False
        self._pub_target = self.create_publisher(PoseStamped, "controller/target_pose", COMMAND)
        self._pub_gripper = self.create_publisher(Float64, "gripper/command", COMMAND)
        self.create_subscription(PoseStamped, "controller/ee_pose", self._on_ee_pose, STATE)
        self._service_clients = {name: self.create_client(Trigger, name) for name in ("sim/reset", "driver/home", "controller/resume")}
        self._service_clients["sim/set_parameters"] = self.create_client(SetParameters, "sim/set_parameters")
        self.session, self._scene_seed = None, None
        if p["record"]:
            self.session = RecordingSession(p["record"], self.robot.name, p["task"], RECORDED, p["camera_rate"],
                                            clock_ns=lambda: self.get_clock().now().nanoseconds)
            for topic, msgtype in RECORDED.items():
                self.create_subscription(get_message(msgtype), topic, lambda data, t=topic: self._on_recorded(t, data),
                                         RAW_QOS, raw=True)
        self.create_timer(self.period, self._on_tick)
        self.create_timer(0.5, self._show_status)
        where = f"recording into {p['record']}" if self.session else "not recording"
        self.get_logger().info(f"teleop of the {self.robot.name} at {p['rate']:g} Hz, {where}")

    # ------------------------------------------------------------- callbacks
    def _on_ee_pose(self, msg: PoseStamped) -> None:
        self._measured = conv.pose_arrays(msg)

    def _on_recorded(self, topic: str, data: bytes) -> None:
        self.session.write(topic, self.get_clock().now().nanoseconds, data)

    def _on_tick(self) -> None:
        command = self.device.read()
        for event in command.events:
            self._event(event)
        if self._measured is None or self._resetting:
            return  # no pose yet, or the scene is being reset: nothing to move from
        position, quaternion = self._measured
        if self._restart:
            self.target.reset(position, quat_to_matrix(quaternion))
            self._restart = False
        target_p, target_R = self.target.step(command, self.period, measured_position=position)
        stamp = self.get_clock().now().to_msg()
        self._pub_target.publish(conv.pose_stamped(target_p, matrix_to_quat(target_R), "base_link", stamp))
        if command.gripper is not None:
            self._pub_gripper.publish(Float64(data=float(command.gripper)))

    def _event(self, event: str) -> None:
        if self.session is not None:
            said = self.session.handle(event, seed=self._seed())
            if said:
                self._say(said)
        if event == "reset":
            self._reset()
        elif event == "quit":
            self.quit = True
        elif event in ("faster", "slower"):
            self._say(f"speed x{self.target.config.speed_scale:.2f}")

    def _seed(self) -> int | None:
        """The placement's seed: the one this node last reset the sim to (None before its first reset)."""
        return self._scene_seed

    def _reset(self) -> None:
        """Reset the scene (or home the arm), then resume the controller (the sequence and its waits are
        polyarm_common.graph's); no targets meanwhile, and then the target restarts where the arm is."""
        self._resetting = True
        if self.reset_mode == "home":
            self._call("driver/home", Trigger.Request(), self._resume)
            return
        self._scene_seed = self.session.next_index if self.session else 0
        seed = Parameter("seed", Parameter.Type.INTEGER, self._scene_seed)
        after_reset = lambda: self._after(RESUME_AFTER_RESET_S, self._resume)  # noqa: E731
        self._call("sim/set_parameters", SetParameters.Request(parameters=[seed.to_parameter_msg()]),
                   lambda: self._call("sim/reset", Trigger.Request(), after_reset))

    def _resume(self) -> None:
        def restart():
            self._restart, self._resetting = True, False

        self._call("controller/resume", Trigger.Request(), lambda: self._after(SETTLE_AFTER_RESET_S, restart))

    def _call(self, service: str, request, then) -> None:
        """Call `service` (asked again until it answers); then `then()`, or on no answer say so and go on
        from where the arm is."""
        def failed(reason: str) -> None:
            self._say(f"reset failed: {reason}; the target restarts where the arm is")
            self._restart, self._resetting = True, False

        RetryingCall(self, self._service_clients[service], request, lambda _response: then(), failed)

    def _after(self, seconds: float, action) -> None:
        """Run `action` once, `seconds` from now on this node's clock."""
        def fire():
            self.destroy_timer(timer)
            action()

        timer = self.create_timer(seconds, fire)

    def _show_status(self) -> None:
        line = self.session.status() if self.session is not None else "not recording"
        print(f"\r\x1b[K{line}", end="", file=sys.stderr, flush=True)

    def _say(self, message: str) -> None:
        print(f"\r\x1b[K{message}", file=sys.stderr, flush=True)
        self.get_logger().info(message)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        self.device.close()
