"""The 5 cm step of a position-commanded arm, through a real driver (the controller ticked at 100 Hz of the
wall clock over it, as the controller node does; the protocol fakes run in real time) and through the
MuJoCo sim (ControlledSim, the same controller in simulated time): bench_dynamixel.py and bench_xarm.py."""

from __future__ import annotations

import time

import numpy as np
from polyarm_control.config import default_config
from polyarm_control.core import ControllerCore
from polyarm_control.loop import ControlLoop

STEP = np.array([0.05, 0.0, 0.0])


def step_over_driver(driver) -> dict:
    robot = driver.robot
    core = ControllerCore(robot, default_config(robot.name))
    loop = ControlLoop(driver, core)
    log, t0 = [], time.monotonic()
    next_tick = t0
    goal = None
    while time.monotonic() - t0 < 3.0:
        now = time.monotonic()
        out = loop.update(now)
        if goal is None and now - t0 > 0.5 and out.measured is not None:
            goal = out.measured.tcp_position + STEP
            loop.set_target(goal, out.measured.tcp_rotation, now)
            t_step = now
        if goal is not None and out.measured is not None:
            log.append((now - t_step, out.measured.tcp_position.copy()))
        next_tick += 0.01
        time.sleep(max(0.0, next_tick - time.monotonic()))
    return step_figures(log, goal)


def step_over_sim(robot) -> dict:
    from sim_bridge.controlled import ControlledSim

    sim = ControlledSim(robot)
    sim.run(0.5)
    goal = sim.last.measured.tcp_position + STEP
    sim.set_target(goal, sim.last.measured.tcp_rotation)
    t0, log = sim.time, []
    sim.run(2.5, lambda s, out: log.append((s.time - t0, out.measured.tcp_position.copy())))
    return step_figures(log, goal)


def step_figures(log, goal) -> dict:
    at = lambda t: next(p for s, p in log if s >= t)  # noqa: E731
    along = max(float((p - goal) @ STEP / np.linalg.norm(STEP)) for _, p in log)
    rise = next(s for s, p in log if np.linalg.norm(p - goal) < 0.1 * np.linalg.norm(STEP))
    return {"error_0.5": 1e3 * np.linalg.norm(at(0.5) - goal), "error_1.5": 1e3 * np.linalg.norm(at(1.5) - goal),
            "overshoot": 1e3 * max(0.0, along), "rise_90": rise}


def print_step_table(driver_name: str, over_driver: dict, over_sim: dict) -> None:
    print(f"\n{'5 cm step':<34} {'0.5 s':>8} {'1.5 s':>8} {'overshoot':>10} {'to 90%':>8}")
    for name, r in ((driver_name, over_driver), ("MuJoCo sim (ControlledSim), peer", over_sim)):
        print(f"{name:<34} {r['error_0.5']:>5.2f} mm {r['error_1.5']:>5.2f} mm {r['overshoot']:>7.2f} mm {r['rise_90']:>6.2f} s")
    print(f"ratio of the rise times (driver / sim): {over_driver['rise_90'] / over_sim['rise_90']:.2f}")
