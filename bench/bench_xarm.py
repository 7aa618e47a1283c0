"""The xArm 7 over UFACTORY's protocol: the SDK's round trips, the real-time report's rate and jitter, and a step
response through the driver and the simulated controller beside the same controller on the MuJoCo sim, in one
run.

    .venv/bin/python bench/bench_xarm.py      (as root: the SDK dials TCP 502)

Round trips, through the unmodified xarm-python-sdk against polyarm_fakes.xarm_controller on a loopback address:
a query (get_err_warn_code: request, reply) and a servo target (set_servo_angle_j), and command to report: a 2
mrad servo target on the last joint until the real-time report shows the joint 10% of the way there (0.2 mrad:
the report period and the MuJoCo joint's own response included). Reports: the intervals between real-time
reports (TCP 30003, sent at 100 Hz) as the driver receives them, and `joint_states` from the driver node
through ROS (each message stamped with the report it carries, so the distinct stamps are the new readings).
Step: bench/servo_step.py, 5 cm forward.
"""

from __future__ import annotations

import random
import sys
import time

import numpy as np
from polyarm_description import get_robot
from polyarm_fakes.xarm_controller import XArmControllerServer
from servo_step import print_step_table, step_over_driver, step_over_sim


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


def joint_states_through_ros(host: str, seconds: float = 5.0) -> dict:
    """`polyarm driver --backend xarm` in its own process; joint_states as a node in this one receives them."""
    import subprocess

    import rclpy
    from polyarm_common.graph import Collector, spin_for, spin_until
    from polyarm_common.processes import start_polyarm, stop
    from polyarm_common.qos import STATE
    from polyarm_common.ros_env import configure_ros_environment
    from sensor_msgs.msg import JointState

    configure_ros_environment()
    rclpy.init()
    node = rclpy.create_node("bench_xarm")
    driver = start_polyarm("driver", "--robot", "xarm7", "--backend", "xarm", "--host", host,
                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        states = Collector(node, JointState, "joint_states", STATE)
        spin_until(node, lambda: len(states.messages) > 50, 60, "joint_states from the xArm driver node")
        states.clear()
        spin_for(node, seconds)
    finally:
        stop(driver)
        node.destroy_node()
        rclpy.shutdown()
    dt = 1e3 * np.diff(states.times)
    fresh = len({(m.header.stamp.sec, m.header.stamp.nanosec) for m in states.messages})
    return {"hz": states.rate_hz(), "p50": np.percentile(dt, 50), "p99": np.percentile(dt, 99), "max": dt.max(),
            "fresh_hz": fresh / seconds}


def main() -> int:
    from polyarm_drivers.xarm_driver import XArmDriver

    robot = get_robot("xarm7")
    host = f"127.0.{random.randint(1, 250)}.{random.randint(2, 250)}"
    server = XArmControllerServer(get_robot("xarm7"), host)
    try:
        server.start()
    except PermissionError:
        print("bench_xarm: the SDK dials TCP 502, which needs root", file=sys.stderr)
        return 2
    driver = XArmDriver.create(robot, host=host)
    driver.connect()
    try:
        trips = round_trips(driver)
        reports = report_intervals(driver)
        over_driver = step_over_driver(driver)
    finally:
        driver.close()
    try:
        ros = joint_states_through_ros(host)
    finally:
        server.close()
    over_sim = step_over_sim(robot)
    print(f"\n{'xArm SDK against the fake controller':<42} {'p50':>9} {'p99':>9}")
    for name, key in (("query round trip (get_err_warn_code)", "query"), ("servo target (set_servo_angle_j)", "servo"),
                      ("command to report showing it (10%)", "reflect")):
        print(f"{name:<42} {trips[key][0]:>6.2f} ms {trips[key][1]:>6.2f} ms")
    print(f"real-time reports: {reports['hz']:.1f} Hz, interval p50 {reports['p50']:.2f} ms, "
          f"p99 {reports['p99']:.2f} ms, max {reports['max']:.2f} ms")
    print(f"joint_states through ROS (the driver node, asked for 200 Hz): {ros['hz']:.1f} Hz, interval p50 "
          f"{ros['p50']:.2f} ms, p99 {ros['p99']:.2f} ms, max {ros['max']:.2f} ms; "
          f"new readings {ros['fresh_hz']:.1f} Hz")
    print_step_table("xArm driver + fake controller", over_driver, over_sim)
    return 0


if __name__ == "__main__":
    sys.exit(main())
