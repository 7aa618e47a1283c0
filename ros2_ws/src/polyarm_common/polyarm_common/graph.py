"""Waiting on the ROS graph instead of sleeping: spin until a condition holds, collect a topic."""

from __future__ import annotations

import time

import rclpy


def spin_until(node, predicate, timeout: float, what: str) -> None:
    """Spin `node` until predicate() is true; raise TimeoutError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        rclpy.spin_once(node, timeout_sec=0.02)
    raise TimeoutError(f"timed out after {timeout:.1f} s waiting for {what}")


def spin_for(node, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.01)


class Collector:
    """Keeps every message of one topic with its receive time (time.monotonic)."""

    def __init__(self, node, msg_type, topic: str, qos):
        self.messages: list = []
        self.times: list[float] = []
        self.subscription = node.create_subscription(msg_type, topic, self._on, qos)

    def _on(self, msg) -> None:
        self.messages.append(msg)
        self.times.append(time.monotonic())

    @property
    def last(self):
        return self.messages[-1] if self.messages else None

    def rate_hz(self) -> float:
        if len(self.times) < 2:
            return 0.0
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])

    def clear(self) -> None:
        self.messages.clear()
        self.times.clear()
