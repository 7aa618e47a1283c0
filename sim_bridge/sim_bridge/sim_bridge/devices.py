"""The sim behind the interfaces every real device implements: SimulatedArmDriver (a RobotDriver) and
SceneCamera (a Camera). The driver bridge and the camera stream serve them exactly as they serve a
real arm and a RealSense; the sim node adds only the sim's clock, reset and ground truth.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

from polyarm_core.camera import Camera, CameraFrame, CameraIntrinsics
from polyarm_core.driver import JointReading, RobotDriver
from polyarm_core.options import option

from sim_bridge.camera import CameraConfig
from sim_bridge.mujoco_sim import MujocoSim
from sim_bridge.pacing import RealTimePacer
from sim_bridge.rendering import install_hint
from sim_bridge.simulated_arm import SimulatedArm


class SimulatedArmDriver(RobotDriver):
    """A simulated arm (MujocoSim, PybulletSim: sim_bridge.simulated_arm) as a robot. Someone else steps the physics (the sim node's physics thread, or the
    standalone driver's own); reads and commands take `lock`, which the stepping thread holds too.
    `clock_ns` stamps each reading (the sim node's clock: simulated or wall time)."""

    def __init__(self, sim: SimulatedArm, clock_ns: Callable[[], int] = time.time_ns):
        self.sim = sim  # replaced by the sim node on a reset that changes the task
        self.robot = sim.robot
        self.lock = threading.RLock()
        self._clock_ns = clock_ns

    def connect(self) -> None:
        pass  # the simulated arm is there from the start, holding its home pose

    def read(self) -> JointReading:
        with self.lock:
            state, opening, stamp = self.sim.joint_state(), self.sim.gripper_opening, self._clock_ns()
        return JointReading(tuple(state.names), state.position, state.velocity, state.effort, opening, stamp)

    def write(self, names, values) -> None:
        with self.lock:
            self.sim.command(names, values)

    def command_gripper(self, opening: float) -> None:
        with self.lock:
            self.sim.command_gripper(opening)

    def stop(self) -> None:
        with self.lock:
            self.sim.stop()

    def close(self) -> None:
        self.stop()


@dataclass(frozen=True)
class StandaloneMujocoConfig:
    physics_rate: float = option(1000.0, "physics steps per second of the simulated arm")
    effort_timeout: float = option(0.1, "s without a torque command after which the simulated arm holds (effort arms)")
    realtime: bool = True  # False: as fast as the host can (tests of the physics alone)


class StandaloneMujocoDriver(SimulatedArmDriver):
    """The simulated arm as a robot on its own: its physics runs in real time in a thread of its own from
    connect() to close(), as a real arm moves whether or not anyone reads it (`polyarm driver --backend mujoco`)."""

    # A robot does not stop when its host does: after a stall of the host (up to this long) the physics
    # runs the lost time at once, so the arm is where a real one would be. The sim node's pacer instead
    # re-anchors after 0.1 s, because its graph can follow its clock; a fake robot's drivers cannot.
    CATCH_UP_S = 1.0

    config_class = StandaloneMujocoConfig

    def __init__(self, robot, config: StandaloneMujocoConfig = StandaloneMujocoConfig()):
        sim = MujocoSim(robot, None, config.physics_rate, config.effort_timeout)
        super().__init__(sim)
        self._pacer = RealTimePacer(sim.timestep, realtime=config.realtime, max_lag=self.CATCH_UP_S)
        self._running = False
        self._thread: threading.Thread | None = None

    def connect(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._physics, name="physics", daemon=True)
        self._thread.start()

    def _physics(self) -> None:
        while self._running:
            with self.lock:
                self.sim.step()
            self._pacer.wait()

    def close(self) -> None:
        self.stop()
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def diagnostics(self) -> dict:
        return {"physics_overruns": self._pacer.overruns}


class SceneCamera(Camera):
    """The sim's scene camera, rendered by the sim's engine. The physics thread offers the state to show (`offer`); `read()`
    renders the newest offered state in the calling thread, which owns the GL context, so rendering
    never stalls physics. A frame is stamped with the time of the state it shows, as a camera stamps
    its exposure."""

    def __init__(self, config: CameraConfig):
        self.config = config
        self._intrinsics = CameraIntrinsics(config.width, config.height, config.K, frame_id=config.frame_id)
        self._due = threading.Condition()
        self._state = None
        self._renderer = None  # the sim's renderer (MuJoCo's SceneRenderer, or PybulletRenderer)
        self.render_times: list[float] = []

    @property
    def intrinsics(self) -> CameraIntrinsics:
        return self._intrinsics

    def offer(self, stamp_ns: int, sim: SimulatedArm) -> None:
        d = sim.data
        with self._due:
            self._state = (stamp_ns, sim, d.qpos.copy(), d.mocap_pos.copy(), d.mocap_quat.copy())
            self._due.notify()

    def read(self, timeout: float = 0.5) -> CameraFrame | None:
        with self._due:
            self._due.wait_for(lambda: self._state is not None, timeout=timeout)
            state, self._state = self._state, None
        if state is None:
            return None
        stamp_ns, sim, qpos, mocap_pos, mocap_quat = state
        if self._renderer is None or sim.model is not self._renderer.model:  # a reset changed the task: a new scene
            self.close()
            try:
                self._renderer = sim.renderer(self.config, beside_physics=True)
            except Exception as err:  # noqa: BLE001 - any GL failure ends the node with a clear reason
                raise RuntimeError(f"cannot render the camera ({err}); install a headless GL library — {install_hint()}") from err
        t0 = time.perf_counter()
        rgb, depth = self._renderer.render(qpos, mocap_pos, mocap_quat)
        self.render_times.append(time.perf_counter() - t0)
        return CameraFrame(rgb, depth, stamp_ns)

    def close(self) -> None:
        """Call from the thread that reads: the GL context is that thread's."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
