"""SimNode: publishes what the real drivers publish, from a simulated arm (MujocoSim, or PybulletSim with
`backend:=pybullet`); takes what they take.

It is the driver node's and the camera node's parts around the sim's own devices: a DriverBridge
(polyarm_drivers) over SimulatedArmDriver and a CameraStream (polyarm_cameras) over SceneCamera
(sim_bridge.devices), plus what only a sim has: the clock, sim/reset and the ground truth.

Threads: the executor serves commands and services; a physics thread steps the sim and
publishes joint_states, paced to wall time; the camera stream's thread renders the newest state at
the camera rate (of sim time), so rendering never stalls physics.

Clock: with use_sim_time (the bringup sets it on every node in sim) or --fast, stamps and /clock
are simulated time, so a host that cannot keep the sim at real time slows the whole graph evenly
instead of starving the controller and the policy of fresh data. Otherwise stamps are the wall
clock of the physics tick, as a real driver stamps.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped, WrenchStamped
from polyarm_cameras.charuco import CharucoBoardSpec
from polyarm_cameras.stream import CameraStream
from polyarm_common import conversions as conv
from polyarm_common.parameters import declare_parameters
from polyarm_common.qos import COMMAND, STATE
from polyarm_core.driver import CommandRefused
from polyarm_description import get_robot
from polyarm_drivers.bridge import DriverBridge
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from sim_bridge.calibration_board import BoardMount
from sim_bridge.camera import WRIST_CAMERA, CameraConfig
from sim_bridge.devices import SceneCamera, SimulatedArmDriver
from sim_bridge.mujoco_sim import MujocoSim
from sim_bridge.pacing import RealTimeFactor, RealTimePacer
from sim_bridge.simulated_arm import SimulatedArm
from sim_bridge.tasks import TaskError, make_task


class SimNode(Node):
    def __init__(self, parameters: dict, overrides=()):
        super().__init__("sim", parameter_overrides=list(overrides))
        p = declare_parameters(self, parameters)
        robot = get_robot(p["robot"])  # UnknownRobotError (a ValueError) lists the valid robots
        self.camera = _camera_config(robot, p) if p["camera.enabled"] else None
        self.board = _board_mount(robot, p)
        self._sim_args = (robot, self.camera, p["physics_rate"], p["effort_timeout"])
        if p["backend"] not in ("mujoco", "pybullet"):
            raise ValueError(f"backend must be mujoco or pybullet, got {p['backend']!r}")
        self.backend = p["backend"]
        self.fast = bool(p["fast"])
        self.sim_clock = self.fast or bool(self.get_parameter("use_sim_time").value)
        # only on sim time: on the wall clock, real time is the contract, and a late torque is the controller's fault
        self._command_lag = p["command_lag"] if self.sim_clock and robot.command_interface == "effort" else 0.0
        self._wall_epoch_ns = time.time_ns()  # sim-clock stamps are this + simulated time
        self._elapsed = 0.0  # simulated seconds since start, across resets: stamps never go back
        self._tick_wall_ns = self._wall_epoch_ns  # wall time of the physics tick being published
        # TaskError (a ValueError) lists the valid tasks
        self.driver = SimulatedArmDriver(self._build_sim(p["task"], p["seed"]), lambda: self._stamp_ns(self._elapsed, self._tick_wall_ns))
        self._substeps = max(1, round(p["physics_rate"] / p["joint_state_rate"]))
        # every Nth joint_states tick also goes out on /clock: each /clock message wakes every node on
        # use_sim_time twice (its time source, its timers), so 200 Hz cost each node ~6% of a core
        self._clock_every = max(1, round(p["physics_rate"] / self._substeps / p["clock_rate"]))
        self._running = True
        self._physics_overruns = 0
        self._rtf = RealTimeFactor()

        self.bridge = DriverBridge(self, self.driver)
        self._pub_clock = self.create_publisher(Clock, "/clock", STATE)
        self._pub_diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", STATE)
        self._pub_object_pose = self.create_publisher(PoseStamped, "sim/object_pose", STATE)
        self._pub_success = self.create_publisher(Bool, "sim/success", STATE)
        self.create_subscription(WrenchStamped, "sim/tcp_wrench", self._on_tcp_wrench, COMMAND)
        self.create_service(Trigger, "sim/reset", self._on_reset)
        self.create_timer(1.0, self._publish_diagnostics)

        self.scene_camera = SceneCamera(self.camera) if self.camera is not None else None
        self.camera_stream = CameraStream(self, self.scene_camera) if self.camera is not None else None
        self._physics_thread = threading.Thread(target=self._physics_loop, name="physics", daemon=True)
        self._physics_thread.start()
        cam = f"camera {self.camera.width}x{self.camera.height} @ {self.camera.rate_hz} Hz" if self.camera else "no camera"
        cam += f", task {p['task']} (seed {p['seed']})" if p["task"] else ", no task"
        self.get_logger().info(
            f"simulating {robot.summary} in {self.backend}: {robot.command_interface} commands, physics "
            f"{p['physics_rate']:.0f} Hz, joint_states {p['physics_rate'] / self._substeps:.0f} Hz, "
            f"/clock {p['physics_rate'] / self._substeps / self._clock_every:.0f} Hz, "
            f"{cam}, {'as fast as possible' if self.fast else 'real time'}, "
            f"{'stamps and /clock in sim time' if self.sim_clock else 'wall-clock stamps'}"
        )

    @property
    def sim(self) -> SimulatedArm:
        return self.driver.sim

    @property
    def failure(self) -> str | None:
        """Why the node cannot go on (the camera cannot render), or None."""
        return self.camera_stream.failure if self.camera_stream else None

    # ------------------------------------------------------------------ loops
    def _physics_loop(self) -> None:
        period = self._substeps * self.sim.timestep
        pacer = RealTimePacer(period, realtime=not self.fast)
        next_frame = 0.0
        ticks = 0
        while self._running:
            self._await_fresh_torque()
            with self.driver.lock:
                self.sim.step(self._substeps)
                self._elapsed += period
                self._tick_wall_ns = time.time_ns()
                reading = self.driver.read()
                ground_truth = self._ground_truth()
                if self.camera is not None and self._elapsed >= next_frame - 1e-9:
                    next_frame = max(next_frame + 1.0 / self.camera.rate_hz, self._elapsed)
                    self.scene_camera.offer(reading.stamp_ns, self.sim)
            self.bridge.publish(reading, time.monotonic())
            stamp = conv.stamp(reading.stamp_ns)
            if ticks % self._clock_every == 0:
                self._pub_clock.publish(Clock(clock=stamp))
            ticks += 1
            if ground_truth is not None:
                position, quaternion, success = ground_truth
                self._pub_object_pose.publish(conv.pose_stamped(position, quaternion, "base_link", stamp))
                self._pub_success.publish(Bool(data=success))
            self._physics_overruns = pacer.overruns
            pacer.wait()

    COMMAND_WAIT_S = 0.05  # wall time one tick waits for a torque: a controller that died lapses soon enough

    def _await_fresh_torque(self) -> None:
        """While the newest torque is older than command_lag (and has not lapsed), wait a little for the next:
        on a starved host the controller then stays within command_lag of the physics in sim time, as it
        does on an idle one, and the sim runs slower than real time instead (its real_time_factor says so)."""
        if self._command_lag <= 0.0:
            return
        deadline = time.monotonic() + self.COMMAND_WAIT_S
        while self._command_lag < self.sim.effort_age() <= self.sim.effort_timeout and time.monotonic() < deadline:
            time.sleep(2e-4)

    def _ground_truth(self):
        task = self.sim.task
        if task is None:
            return None
        position, quaternion = self.sim.object_pose()
        return position, quaternion, self.sim.success()

    # -------------------------------------------------------------- callbacks
    def _on_tcp_wrench(self, msg: WrenchStamped) -> None:
        f, t = msg.wrench.force, msg.wrench.torque
        try:
            if msg.header.frame_id not in ("", "base_link"):
                raise CommandRefused(f"sim/tcp_wrench must be in base_link, got {msg.header.frame_id!r}")
            with self.driver.lock:
                self.sim.apply_tcp_wrench([f.x, f.y, f.z], [t.x, t.y, t.z])
        except CommandRefused as err:
            self.bridge.reject(f"sim/tcp_wrench rejected: {err}")
            return
        self.get_logger().info(f"external wrench at the TCP: force ({f.x:.1f}, {f.y:.1f}, {f.z:.1f}) N")

    def _on_reset(self, request, response):
        """Home pose; the task and seed are this node's `task` and `seed` parameters as they are now."""
        task, seed = self.get_parameter("task").value, self.get_parameter("seed").value
        hold = self.get_parameter("reset_hold").value
        try:
            with self.driver.lock:
                if task != (self.sim.task.name if self.sim.task else ""):
                    previous, self.driver.sim = self.sim, self._build_sim(task, seed, hold)
                    previous.close()
                else:
                    self.sim.reset(rng=np.random.default_rng(seed), hold=hold)
        except TaskError as err:
            response.success, response.message = False, f"reset refused, the sim is unchanged: {err}"
            self.get_logger().error(response.message)
            return response
        what = f"task {task}, seed {seed}" if task else "no task"
        response.success, response.message = True, f"{self.sim.robot.name} reset to its home pose ({what})"
        self.get_logger().info(response.message)
        return response

    def _build_sim(self, task: str, seed: int, hold: float = 0.0) -> SimulatedArm:
        robot, camera, physics_rate, effort_timeout = self._sim_args
        area, density = self.get_parameter("task.area_cm2").value, self.get_parameter("task.density").value
        task_object = make_task(task, robot, area, density) if task else None
        if self.backend == "pybullet":
            from sim_bridge.pybullet_sim import PybulletSim  # pybullet loads only when asked for

            sim = PybulletSim(robot, camera, physics_rate, effort_timeout, task=task_object, board=self.board)
        else:
            sim = MujocoSim(robot, camera, physics_rate, effort_timeout, task=task_object, board=self.board)
        sim.reset(rng=np.random.default_rng(seed), hold=hold)  # a hold only after sim/reset: nothing to fight at start
        return sim

    def _publish_diagnostics(self) -> None:
        rtf = self._rtf.read(self._elapsed)
        render = []
        if self.scene_camera is not None:
            render, self.scene_camera.render_times = self.scene_camera.render_times, []
        bridge = self.bridge.diagnostic_values()
        values = {
            "real_time_factor": rtf,
            "joint_state_rate_hz": bridge["joint_state_rate_hz"],
            "render_ms_mean": 1e3 * float(np.mean(render)) if render else 0.0,
            "camera_frames_last_s": len(render),
            "sim_time_s": self._elapsed,
            "rejected_commands": bridge["rejected_commands"],
            "rendered_frames": self.camera_stream.frames if self.camera_stream else 0,
            "physics_overruns": self._physics_overruns,
        }
        slow = not self.fast and rtf < 0.9
        level = DiagnosticStatus.WARN if slow else DiagnosticStatus.OK
        message = f"real-time factor {rtf:.2f}" + (" (falling behind)" if slow else "")
        array = DiagnosticArray(status=[conv.diagnostic(f"sim: {self.backend}", self.sim.robot.name, level, message, values)])
        array.header.stamp = self.get_clock().now().to_msg()
        self._pub_diagnostics.publish(array)

    def _stamp_ns(self, sim_time: float, wall_ns: int) -> int:
        """The sim clock: start's wall time plus simulated time (then /clock is the clock to use);
        else the wall clock of the physics tick."""
        return self._wall_epoch_ns + int(sim_time * 1e9) if self.sim_clock else wall_ns

    def close(self) -> None:
        self._running = False
        self._physics_thread.join(timeout=2.0)
        if self.camera_stream is not None:
            self.camera_stream.stop()
        self.sim.close()


def _board_mount(robot, p: dict) -> BoardMount | None:
    """The calibration board the sim shows (calibration.board: gripper, table or none)."""
    if not p["calibration.board"]:
        return None
    squares_x, squares_y = (int(v) for v in p["calibration.squares"])
    board = CharucoBoardSpec(squares_x, squares_y, float(p["calibration.square_m"]), float(p["calibration.marker_m"]),
                             p["calibration.dictionary"])
    table_xy = tuple(float(v) for v in p["calibration.table_xy"]) if any(p["calibration.table_xy"]) else robot.task_layout["objects"]
    return BoardMount(p["calibration.board"], board, table_xy)


def _camera_config(robot, p: dict) -> CameraConfig:
    overrides = dict(width=int(p["camera.width"]), height=int(p["camera.height"]), rate_hz=float(p["camera.rate"]),
                     mount=p["camera.mount"])
    for key in ("fx", "fy"):
        if p[f"camera.{key}"] > 0:
            overrides[key] = float(p[f"camera.{key}"])
    for key in ("cx", "cy"):
        if p[f"camera.{key}"] >= 0:
            overrides[key] = float(p[f"camera.{key}"])
    for key in ("position", "look_at"):
        value = [float(v) for v in p[f"camera.{key}"]]
        if len(value) != 3:
            raise ValueError(f"camera.{key} needs 3 values, got {value}")
        if any(value):
            overrides[key] = tuple(value)
    if p["camera.mount"] == "wrist" and not any(p["camera.position"]):  # a wrist camera's default: behind the fingers
        overrides.update(position=WRIST_CAMERA[0], look_at=WRIST_CAMERA[1])
    return CameraConfig.for_robot(robot, **overrides)
