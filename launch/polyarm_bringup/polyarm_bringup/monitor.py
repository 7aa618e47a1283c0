"""`polyarm monitor`: which topics the graph carries and how fast, like `ros2 topic hz` for all of them."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from polyarm_common.rate import RateMeter


def measure(node, duration: float, wait_for: list[str], discovery_timeout: float = 20.0) -> dict[str, dict]:
    """Subscribe to every topic (except the monitor's own) and measure rates for `duration` s."""
    import rclpy
    from polyarm_common.qos import SENSOR

    deadline = time.monotonic() + discovery_timeout
    while time.monotonic() < deadline:
        topics = dict(node.get_topic_names_and_types())
        if all(t in topics for t in wait_for):
            break
        rclpy.spin_once(node, timeout_sec=0.1)
    else:
        missing = [t for t in wait_for if t not in dict(node.get_topic_names_and_types())]
        raise TimeoutError(f"topics never appeared: {missing}")
    time.sleep(0.5)  # topics published by the same node appear together; give stragglers a moment
    meters: dict[str, tuple[str, RateMeter, list]] = {}
    for name, types in node.get_topic_names_and_types():
        if name in ("/rosout", "/parameter_events"):
            continue
        meter, sizes = RateMeter(window=100_000), []
        msg_type = _message_class(types[0])
        node.create_subscription(msg_type, name, _recorder(meter, sizes), SENSOR, raw=True)
        meters[name] = (types[0], meter, sizes)
    end = time.monotonic() + duration
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    return {
        name: {"type": t, "count": meter.count, "rate_hz": meter.stats()["rate_hz"],
               "kib": (sum(sizes) / len(sizes) / 1024) if sizes else 0.0}
        for name, (t, meter, sizes) in sorted(meters.items())
    }


def format_table(results: dict[str, dict], duration: float) -> str:
    width = max((len(n) for n in results), default=5)
    lines = [f"{'topic':<{width}}  {'type':<34} {'msgs':>6} {'rate Hz':>8} {'KiB/msg':>8}"]
    for name, r in results.items():
        lines.append(f"{name:<{width}}  {r['type']:<34} {r['count']:>6} {r['rate_hz']:>8.1f} {r['kib']:>8.1f}")
    lines.append(f"({duration:.0f} s window)")
    return "\n".join(lines)


def _recorder(meter: RateMeter, sizes: list):
    def record(raw: bytes) -> None:
        meter.tick(time.monotonic())
        sizes.append(len(raw))
    return record


def _message_class(type_name: str):
    package, _, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm monitor", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to measure")
    parser.add_argument("--wait-for", nargs="*", default=["/joint_states"], help="topics to wait for first")
    args = parser.parse_args(argv)
    from polyarm_common.ros_env import configure_ros_environment

    configure_ros_environment()
    import rclpy

    rclpy.init()
    node = rclpy.create_node("polyarm_monitor")
    try:
        results = measure(node, args.duration, args.wait_for)
    except TimeoutError as err:
        print(f"polyarm monitor: {err}", file=sys.stderr)
        return 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    print(format_table(results, args.duration))
    return 0
