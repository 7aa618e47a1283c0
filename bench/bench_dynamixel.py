"""The WidowX 250 over its Dynamixel bus: bus transactions, the driver's read rate, and a step response
through the driver and the simulated bus beside the same controller on the MuJoCo sim, in one run.

    .venv/bin/python bench/bench_dynamixel.py [--robot wx250s]

Bus: the group sync read of the driver's state block (10 bytes from address 126, every servo) and the
group sync write of Goal Position, through the unmodified dynamixel-sdk against polyarm_fakes.dynamixel_bus
on a pseudo-terminal. A pty has no baud rate, so the time at 1 Mbaud is computed from the bytes on the
wire (10 bits a byte; the servos' return delay set to 0, as Interbotix does) and shown beside the
measured pty round trip (the SDK's and the fake's Python). Step: 5 cm forward, the controller
(ControlLoop) ticked at 100 Hz of the wall clock over the driver (the fake runs in real time), against
ControlledSim (the same controller over the MuJoCo sim, in simulated time).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

import numpy as np
from polyarm_description import get_robot
from polyarm_fakes.dynamixel_bus import DynamixelBus, PtyBus
from servo_step import print_step_table, step_over_driver, step_over_sim


def bus_figures(driver, repeats: int = 500) -> dict:
    n = len(driver.ids)
    read_request, read_reply = 14 + n, n * (11 + 10)  # SYNC READ: header..CRC + IDs; each status: 11 + data
    write_packet = 14 + n * 5  # SYNC WRITE: header..CRC + (ID + 4 bytes) per servo, no reply
    times = {"read": [], "write": []}
    goal = driver.read().position[:driver.robot.dof]
    for _ in range(repeats):
        t0 = time.perf_counter()
        driver.read()
        times["read"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        driver.write(driver.robot.arm_joints, goal)
        times["write"].append(time.perf_counter() - t0)
    wire = {"read": (read_request + read_reply) * 10 / 1e6, "write": write_packet * 10 / 1e6}
    return {"servos": n, "read_bytes": read_request + read_reply, "write_bytes": write_packet,
            "read_ms": 1e3 * np.median(times["read"]), "read_p99_ms": 1e3 * np.percentile(times["read"], 99),
            "write_ms": 1e3 * np.median(times["write"]), "wire_read_ms": 1e3 * wire["read"],
            "wire_write_ms": 1e3 * wire["write"], "read_hz": 1.0 / np.median(times["read"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", default="wx250s", choices=["wx250s", "wx250"])
    args = parser.parse_args()
    from polyarm_drivers.dynamixel_driver import DynamixelDriver

    robot = get_robot(args.robot)
    bus = DynamixelBus(get_robot(args.robot))
    bus.start()
    pty = PtyBus(bus)
    threading.Thread(target=pty.serve, daemon=True).start()
    driver = DynamixelDriver.create(robot, port=pty.path)
    driver.connect()
    try:
        figures = bus_figures(driver)
        over_driver = step_over_driver(driver)
    finally:
        driver.close()
        pty.stop()
        bus.close()
    over_sim = step_over_sim(robot)
    f = figures
    print(f"\n{args.robot}: {f['servos']} servos on the bus")
    print(f"{'transaction':<34} {'bytes':>6} {'at 1 Mbaud':>11} {'pty, measured p50':>18} {'ratio':>6}")
    print(f"{'sync read (state, every servo)':<34} {f['read_bytes']:>6} {f['wire_read_ms']:>8.3f} ms "
          f"{f['read_ms']:>15.3f} ms {f['read_ms'] / f['wire_read_ms']:>6.2f}")
    print(f"{'sync write (goal positions)':<34} {f['write_bytes']:>6} {f['wire_write_ms']:>8.3f} ms "
          f"{f['write_ms']:>15.3f} ms {f['write_ms'] / f['wire_write_ms']:>6.2f}")
    print(f"driver reads per second (one sync read each): {f['read_hz']:.0f} (p99 read {f['read_p99_ms']:.2f} ms); "
          f"joint_states are asked at 200 Hz")
    print_step_table("Dynamixel driver + fake bus", over_driver, over_sim)
    return 0


if __name__ == "__main__":
    sys.exit(main())
