"""The Panda over franky: the two torque paths against franky-sim, side by side with the MuJoCo sim.

    .venv/bin/python bench/bench_franky.py

(b) in-driver: InDriverController in the driver's loop thread, on each new millisecond's state (what
    `polyarm up --driver franky` runs).
(a) held: ControlLoop ticked at 100 Hz by a thread of the same process, its torque held by franky's
    SimpleTorqueMotion between ticks. There is no DDS hop here, so this is path (a)'s best case: the
    graph adds the joint_states -> controller -> joint_commands latency on top.
Each path runs with the profile's 100 Hz gains and with its torque-loop gains. The peer is the MuJoCo
sim (ControlledSim: the same controller at 100 Hz on polyarm's own Panda model, in simulated time).

Every trial starts from the profile's home pose (driver.home, a slow joint move): a 5 cm + 15 degree
step (error 1.5 s after it, overshoot along it), then one loop of bench/figure_eight.py's figure-eight
streamed as targets at 10 Hz (error against where the trajectory is at each tick), and the largest
torque change the arm is asked for within one millisecond (libfranka's limit is 1 N m per ms). Times
are the robot's: franky-sim's clock runs at 60-90% of real time here. franky-sim offers no way to push
the arm from outside, so compliance under a push is measured on the MuJoCo sim only
(tests/test_controller_node.py). The tick's time is read + law + write: path (a)'s read asks the robot
for its state (about a millisecond on franky-sim); path (b)'s is the newest state franky holds.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from figure_eight import PERIOD_S, SIZE_M, figure_eight
from polyarm_control.config import default_config
from polyarm_control.core import ControllerCore
from polyarm_control.loop import ControlLoop, InDriverController, torque_loop_config
from polyarm_core.rotations import angle_between
from polyarm_description import get_robot, home_joints, load_model

ROBOT = get_robot("panda")
STEP = np.array([0.05, 0.0, 0.0])
STEP_DEG = 15.0


def rotation_z(degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])


class Log:
    """(robot time, TCP position, TCP rotation, command) per controller tick."""

    def __init__(self):
        self.rows = []
        self.wall = []
        self.compute = []

    def add(self, out, now, compute_s=None):
        if out.measured is None or out.command is None:
            return
        self.rows.append((now, out.measured.tcp_position, out.measured.tcp_rotation, np.array(out.command)))
        self.wall.append(time.perf_counter())
        if compute_s is not None:
            self.compute.append(compute_s)

    @property
    def now(self) -> float:
        return self.rows[-1][0] if self.rows else 0.0

    def since(self, t0):
        return [r for r in self.rows if r[0] >= t0]


class InDriverTrial:
    def __init__(self, driver, gains):
        config = replace(torque_loop_config(ROBOT, driver.loop_rate_hz), gains=gains)
        self.law, self.log = InDriverController(driver, config), Log()
        self.law.on_tick = self.log.add
        self.law.start()

    def set_target(self, p, R):
        self.law.set_target(p, R)

    def stop(self):
        self.law.driver.stop_loop()


class HeldTrial:
    """Path (a): ticks at 100 Hz of the wall clock, torque held by SimpleTorqueMotion in between."""

    def __init__(self, driver, gains):
        self.driver, self.log = driver, Log()
        self.core = ControllerCore(ROBOT, replace(default_config("panda"), gains=gains))
        self.loop = ControlLoop(driver, self.core)
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        period, deadline = 0.01, time.monotonic()
        while self.running:
            t0 = time.perf_counter()
            with self.lock:
                out = self.loop.update(time.monotonic())
            robot_now = self.driver.last_stamp_s
            self.log.add(out, robot_now, time.perf_counter() - t0)
            deadline += period
            time.sleep(max(0.0, deadline - time.monotonic()))

    def set_target(self, p, R):
        with self.lock:
            self.loop.set_target(p, R, time.monotonic())

    def stop(self):
        self.running = False
        self.thread.join()
        self.driver.stop()


def wait_robot(log: Log, t: float, wall_limit: float = 60.0):
    deadline = time.monotonic() + wall_limit
    while log.now < t:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the robot's clock stalled at {log.now:.2f} s")
        time.sleep(0.005)


def run_trial(trial) -> dict:
    log = trial.log
    wait_robot(log, 0.0)
    wait_robot(log, log.now + 0.5)
    _, p0, R0, _ = log.rows[-1]
    goal_p, goal_R = p0 + STEP, rotation_z(STEP_DEG) @ R0
    trial.set_target(goal_p, goal_R)
    t_step = log.now
    wait_robot(log, t_step + 1.5)
    after = [r for r in log.since(t_step) if r[0] <= t_step + 1.5]
    _, p, R, _ = after[-1]
    result = {"step_mm": 1e3 * np.linalg.norm(p - goal_p), "step_deg": np.degrees(angle_between(goal_R, R)),
              "overshoot_mm": 1e3 * max(0.0, max(float((r[1] - goal_p) @ STEP / np.linalg.norm(STEP)) for r in after))}
    # back to the start pose, then the figure-eight from there
    trial.set_target(p0, R0)
    wait_robot(log, log.now + 1.5)
    t_start = log.now
    while log.now < t_start + PERIOD_S + 1.0:
        trial.set_target(figure_eight(p0, log.now - t_start, SIZE_M["panda"]), R0)
        time.sleep(0.1)
    rows = [r for r in log.since(t_start + 1.0)]
    errors = np.array([np.linalg.norm(r[1] - figure_eight(p0, r[0] - t_start, SIZE_M["panda"])) for r in rows])
    commands = np.array([r[3] for r in log.rows])
    result.update(eight_rms_mm=1e3 * float(np.sqrt(np.mean(errors ** 2))), eight_max_mm=1e3 * float(errors.max()),
                  **torque_steps(commands))
    periods = np.diff(log.wall) * 1e3
    compute = np.array(log.compute) * 1e6
    result.update(period_p50=np.percentile(periods, 50), period_p99=np.percentile(periods, 99), period_max=periods.max(),
                  compute_p50=np.percentile(compute, 50), compute_p99=np.percentile(compute, 99),
                  ticks_per_robot_s=len(log.rows) / max(log.now - log.rows[0][0], 1e-9),
                  realtime_factor=(log.now - log.rows[0][0]) / max(log.wall[-1] - log.wall[0], 1e-9))
    return result


def torque_steps(commands: np.ndarray) -> dict:
    """The largest change of any joint's torque between consecutive commands (applied within one ms),
    over the whole trial and its 99th percentile, and the tick where the largest one happened."""
    steps = np.abs(np.diff(commands, axis=0)).max(axis=1)
    return {"torque_step": float(steps.max()), "torque_step_p99": float(np.percentile(steps, 99)),
            "torque_step_at": int(steps.argmax())}


def mujoco_trial(gains) -> dict:
    """The peer: the same step and figure-eight on the MuJoCo sim, the controller at 100 Hz in sim time."""
    from sim_bridge.controlled import ControlledSim

    sim = ControlledSim(ROBOT, replace(default_config("panda"), gains=gains))
    sim.run(0.5)
    p0, R0 = sim.last.measured.tcp_position, sim.last.measured.tcp_rotation
    goal_p, goal_R = p0 + STEP, rotation_z(STEP_DEG) @ R0
    sim.set_target(goal_p, goal_R)
    rows = []
    sim.run(1.5, lambda s, out: rows.append(out))
    p, R = rows[-1].measured.tcp_position, rows[-1].measured.tcp_rotation
    overshoot = max(0.0, max(float((o.measured.tcp_position - goal_p) @ STEP / 0.05) for o in rows))
    result = {"step_mm": 1e3 * np.linalg.norm(p - goal_p), "step_deg": np.degrees(angle_between(goal_R, R)),
              "overshoot_mm": 1e3 * overshoot}
    sim.set_target(p0, R0)
    sim.run(1.5)
    t0, errors, commands = sim.time, [], []
    while sim.time < t0 + PERIOD_S + 1.0:
        sim.set_target(figure_eight(p0, sim.time - t0, SIZE_M["panda"]), R0)
        for _ in range(10):
            out = sim.tick()
            commands.append(out.command)
            if sim.time > t0 + 1.0:
                errors.append(np.linalg.norm(out.measured.tcp_position - figure_eight(p0, sim.time - t0, SIZE_M["panda"])))
    errors = np.array(errors)
    result.update(eight_rms_mm=1e3 * float(np.sqrt(np.mean(errors ** 2))), eight_max_mm=1e3 * float(errors.max()),
                  **torque_steps(np.array(commands)))
    return result


class TimedDriver:
    """The franky driver, remembering the robot time of its last reading (path (a)'s robot clock)."""

    def __init__(self, driver):
        self.__dict__["_driver"] = driver
        self.__dict__["last_stamp_s"] = 0.0
        self.__dict__["_offset"] = None

    def read(self):
        reading = self._driver.read()
        if self._offset is None:
            self.__dict__["_offset"] = reading.stamp_ns
        self.__dict__["last_stamp_s"] = (reading.stamp_ns - self._offset) * 1e-9
        return reading

    def __getattr__(self, name):
        return getattr(self._driver, name)


def start_franky_sim(log: Path):
    program = Path(sys.executable).with_name("franky-sim")
    host = f"127.0.{random.randint(1, 250)}.{random.randint(2, 250)}"
    out = open(log, "w")
    proc = subprocess.Popen([str(program), "-s", "mujoco", "--hostname", host], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "Connect to the server" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(log.read_text())
        time.sleep(0.1)
    return proc, host


def main() -> int:
    from polyarm_control.osc import OSCGains
    from polyarm_drivers.franky_driver import FrankyDriver

    slow = OSCGains(**ROBOT.controller_gains)
    stiff = OSCGains(**{**ROBOT.controller_gains, **ROBOT.torque_loop_gains})
    home = home_joints(load_model(ROBOT), ROBOT)
    proc, host = start_franky_sim(Path("/tmp/bench_franky_sim.log"))
    results = {}
    try:
        driver = FrankyDriver.create(ROBOT, host=host, realtime="ignore")
        driver.connect()
        trials = [("(b) in-driver 1 kHz", InDriverTrial, stiff), ("(b) in-driver 1 kHz", InDriverTrial, slow),
                  ("(a) held 100 Hz", HeldTrial, slow), ("(a) held 100 Hz", HeldTrial, stiff)]
        for name, kind, gains in trials:
            label = f"{name}, K {gains.stiffness_position:g}/{gains.stiffness_orientation:g}"
            driver.home(home)
            trial = kind(TimedDriver(driver) if kind is HeldTrial else driver, gains)
            try:
                results[label] = run_trial(trial)
            except Exception as err:  # noqa: BLE001 - an unstable combination is a result too
                results[label] = {"failed": f"{type(err).__name__}: {err}"}
            finally:
                trial.stop()
                driver.recover()
            print(f"  {label}: {results[label]}", flush=True)
        driver.close()
    finally:
        proc.terminate()
        proc.wait(10)
    for gains in (slow, stiff):
        results[f"MuJoCo sim 100 Hz (peer), K {gains.stiffness_position:g}/{gains.stiffness_orientation:g}"] = mujoco_trial(gains)
    print_table(results)
    return 0


def print_table(results: dict) -> None:
    print(f"\n{'path, gains (N/m, N m/rad)':<42} {'step mm':>8} {'deg':>6} {'over mm':>8} {'8 rms mm':>9} "
          f"{'8 max mm':>9} {'dtau max/p99':>13}")
    for label, r in results.items():
        if "failed" in r:
            print(f"{label:<42} failed: {r['failed']}")
            continue
        print(f"{label:<42} {r['step_mm']:>8.2f} {r['step_deg']:>6.2f} {r['overshoot_mm']:>8.2f} {r['eight_rms_mm']:>9.2f} "
              f"{r['eight_max_mm']:>9.2f} {r['torque_step']:>6.2f}/{r['torque_step_p99']:>5.2f}")
    print(f"\n{'path':<42} {'period p50/p99/max ms':>24} {'tick us p50/p99':>16} {'ticks/robot s':>14} {'x real time':>12}")
    for label, r in results.items():
        if "period_p50" in r:
            print(f"{label:<42} {r['period_p50']:>8.2f}/{r['period_p99']:>6.2f}/{r['period_max']:>6.1f} "
                  f"{r['compute_p50']:>8.0f}/{r['compute_p99']:>6.0f} {r['ticks_per_robot_s']:>14.0f} {r['realtime_factor']:>12.2f}")


if __name__ == "__main__":
    sys.exit(main())
