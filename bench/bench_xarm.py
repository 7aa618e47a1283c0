"""The xArm 7 over UFACTORY's protocol: the SDK's round trips, the real-time report's rate and jitter, and a
step response through the driver and the simulated controller beside the same controller on the MuJoCo sim,
in one run.

    .venv/bin/python bench/bench_xarm.py      (as root: the SDK dials TCP 502)

Round trips, through the unmodified xarm-python-sdk against sim_bridge.xarm_controller on a loopback
address: a query (get_err_warn_code: request, reply) and a servo target (set_servo_angle_j), and command
to report: a 2 mrad servo target on the last joint until the real-time report shows the joint 10% of the
way there (0.2 mrad: the report period and the MuJoCo joint's own response included). Reports: the intervals between real-time reports (TCP 30003,
sent at 100 Hz) as the driver receives them. Step: bench/servo_step.py, 5 cm forward.
"""

from __future__ import annotations

import random
import sys
import time

import numpy as np
from polyarm_description import get_robot
from servo_step import step_over_driver, step_over_sim
from sim_bridge.xarm_controller import XArmControllerServer


def round_trips(driver, repeats: int = 300) -> dict:
    arm, here = driver.arm, driver.read().position[:driver.robot.dof]
    query, servo, reflect = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        arm.get_err_warn_code()
        query.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        arm.set_servo_angle_j([float(q) for q in here], is_radian=True)
        servo.append(time.perf_counter() - t0)
    for sign in (1, -1) * 10:
        before = driver.read().position[6]
        target = here.copy()
        target[6] += sign * 0.002
        t0 = time.perf_counter()
        arm.set_servo_angle_j([float(q) for q in target], is_radian=True)
        while abs(driver.read().position[6] - before) < 0.0002 and time.perf_counter() - t0 < 1.0:
            time.sleep(0.0005)
        reflect.append(time.perf_counter() - t0)
        here = target
        time.sleep(0.1)
    ms = lambda xs, q: 1e3 * np.percentile(xs, q)  # noqa: E731
    return {"query": (ms(query, 50), ms(query, 99)), "servo": (ms(servo, 50), ms(servo, 99)),
            "reflect": (ms(reflect, 50), ms(reflect, 99))}


def report_intervals(driver, seconds: float = 5.0) -> dict:
    stamps = []
    original = driver._on_report

    def on_report(item):
        stamps.append(time.perf_counter())
        original(item)

    driver._on_report = on_report
    driver.arm.release_report_location_callback(original)
    driver.arm.register_report_location_callback(on_report, report_cartesian=False, report_joints=True)
    time.sleep(seconds)
    driver.arm.release_report_location_callback(on_report)
    driver.arm.register_report_location_callback(original, report_cartesian=False, report_joints=True)
    driver._on_report = original
    dt = 1e3 * np.diff(stamps)
    return {"hz": len(stamps) / seconds, "p50": np.percentile(dt, 50), "p99": np.percentile(dt, 99), "max": dt.max()}


def main() -> int:
    from polyarm_drivers.xarm_driver import XArmDriver

    robot = get_robot("xarm7")
    host = f"127.0.{random.randint(1, 250)}.{random.randint(2, 250)}"
    server = XArmControllerServer("xarm7", host)
    try:
        server.start()
    except PermissionError:
        print("bench_xarm: the SDK dials TCP 502, which needs root", file=sys.stderr)
        return 2
    driver = XArmDriver(robot, host=host)
    driver.connect()
    try:
        trips = round_trips(driver)
        reports = report_intervals(driver)
        over_driver = step_over_driver(driver)
    finally:
        driver.close()
        server.close()
    over_sim = step_over_sim(robot)
    print(f"\n{'xArm SDK against the fake controller':<42} {'p50':>9} {'p99':>9}")
    for name, key in (("query round trip (get_err_warn_code)", "query"), ("servo target (set_servo_angle_j)", "servo"),
                      ("command to report showing it (10%)", "reflect")):
        print(f"{name:<42} {trips[key][0]:>6.2f} ms {trips[key][1]:>6.2f} ms")
    print(f"real-time reports: {reports['hz']:.1f} Hz, interval p50 {reports['p50']:.2f} ms, p99 {reports['p99']:.2f} ms, "
          f"max {reports['max']:.2f} ms (joint_states at 200 Hz repeat the newest)")
    print(f"\n{'5 cm step':<34} {'0.5 s':>8} {'1.5 s':>8} {'overshoot':>10} {'to 90%':>8}")
    for name, r in (("xArm driver + fake controller", over_driver), ("MuJoCo sim (ControlledSim), peer", over_sim)):
        print(f"{name:<34} {r['error_0.5']:>5.2f} mm {r['error_1.5']:>5.2f} mm {r['overshoot']:>7.2f} mm {r['rise_90']:>6.2f} s")
    print(f"ratio of the rise times (driver / sim): {over_driver['rise_90'] / over_sim['rise_90']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
