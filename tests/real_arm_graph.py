"""Helpers for tests that drive a real arm's graph (a driver against a protocol-level simulator) through its
topics and services, as a lab would: call a service, keep a target fresh, run a reach policy to goals."""

from __future__ import annotations

import time

import numpy as np


def trigger(node, service: str, timeout: float = 30.0, attempt_s: float = 2.0):
    """Call a Trigger service, asked again every `attempt_s` (a response can be lost while discovery matches a
    new client: polyarm_common.graph.call_service). driver/home takes seconds: give it a longer attempt."""
    from polyarm_common.graph import call_service
    from std_srvs.srv import Trigger

    clients = node.__dict__.setdefault("_trigger_clients", {})  # one client per service: discovery once, not per call
    if service not in clients:
        clients[service] = node.create_client(Trigger, service)
    client = clients[service]
    assert client.wait_for_service(timeout_sec=20), f"{service} is not served"
    response = call_service(node, client, Trigger.Request(), timeout, attempt_s=attempt_s)
    assert response is not None, f"{service} did not answer"
    return response


def hold_target(node, publisher, position, quaternion, seconds: float) -> None:
    """Keep the target fresh at 10 Hz for `seconds` of wall time."""
    from polyarm_common import conversions as conv
    from polyarm_common.graph import spin_for

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        publisher.publish(conv.pose_stamped(position, quaternion, "base_link", node.get_clock().now().to_msg()))
        spin_for(node, 0.1)


def home(node) -> None:
    """driver/home, asked again while the last episode's targets are within the driver's one-second window."""
    from polyarm_common.graph import spin_for

    deadline = time.monotonic() + 10
    while not (homed := trigger(node, "driver/home", 60, attempt_s=20)).success and "refused" in homed.message:
        assert time.monotonic() < deadline, homed.message
        spin_for(node, 0.5)
    assert homed.success, homed.message


def reach_goals(node, robot: str, goals: int, episode_s: float) -> list[float | None]:
    """The running policy node (a reach checkpoint) on `goals` goals of the reach task's own object space
    (seeds 0..goals-1), each from driver/home, the goal on perception/object_pose as perception would
    give it. The wall time each took to bring the TCP within the task's radius; None where it did not."""
    from geometry_msgs.msg import PoseStamped
    from polyarm_common import conversions as conv
    from polyarm_common.graph import Collector, spin_for, spin_until
    from polyarm_common.qos import SENSOR, STATE
    from polyarm_description import get_robot
    from sim_bridge.tasks.reach import GOAL_HEIGHT_M, GOAL_RADIUS_M, Reach

    task = Reach(get_robot(robot))
    poses = Collector(node, PoseStamped, "controller/ee_pose", STATE)
    goal_pub = node.create_publisher(PoseStamped, "perception/object_pose", SENSOR)
    spin_until(node, lambda: len(poses.messages) > 50, 90, f"ee_pose from the {robot}'s graph")
    trigger(node, "policy/stop")
    times = []
    for seed in range(goals):
        rng = np.random.default_rng(seed)
        goal = np.array([*task.object_space.sample(rng), rng.uniform(*GOAL_HEIGHT_M)])
        home(node)

        def publish_goal():
            goal_pub.publish(conv.pose_stamped(goal, [0.0, 0.0, 0.0, 1.0], "base_link", node.get_clock().now().to_msg()))

        publish_goal()
        trigger(node, "policy/reset")
        trigger(node, "policy/start")
        start, reached = time.monotonic(), False
        while time.monotonic() - start < episode_s and not reached:
            publish_goal()
            spin_for(node, 0.1)
            reached = np.linalg.norm(conv.pose_arrays(poses.last)[0] - goal) < GOAL_RADIUS_M
        trigger(node, "policy/stop")
        times.append(time.monotonic() - start if reached else None)
        print(f"goal {seed}: {'reached' if reached else 'missed'} after {time.monotonic() - start:.1f} s, TCP "
              f"{1e3 * np.linalg.norm(conv.pose_arrays(poses.last)[0] - goal):.0f} mm from it", flush=True)
    return times
