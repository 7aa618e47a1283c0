"""Waiting on the ROS graph instead of sleeping: spin until a condition holds, call a service, collect a topic."""

from __future__ import annotations

import time

import rclpy
from rcl_interfaces.srv import SetParameters


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


# A service answers on a topic of its own. If the server has not yet discovered the client's response
# reader when it answers (the client saw the server first, which `service_is_ready` reports), the
# response is dropped: rmw_fastrtps waits 100 ms, logs "failed to send response (timeout)" and gives up,
# and the client would wait forever (ros2/ros2#1253). On a loaded machine this hits the first call after
# start-up. polyarm's Trigger services are idempotent, so the fix is to ask again.
ATTEMPT_S = 2.0


def call_service(node, client, request, timeout: float, attempt_s: float = ATTEMPT_S):
    """The response to `request`, asked again every `attempt_s`; None if none came within `timeout`.

    Only for idempotent services: a slow server may run the request more than once.
    """
    deadline = time.monotonic() + timeout
    while True:
        future = client.call_async(request)
        remaining = deadline - time.monotonic()
        rclpy.spin_until_future_complete(node, future, timeout_sec=max(min(attempt_s, remaining), 0.0))
        if future.done():
            return future.result()
        client.remove_pending_request(future)
        if time.monotonic() >= deadline:
            return None


def set_parameters(node, client, parameters, timeout: float):
    """Set rclpy Parameters through a `<node>/set_parameters` client: one result each; None if no answer."""
    request = SetParameters.Request(parameters=[p.to_parameter_msg() for p in parameters])
    response = call_service(node, client, request, timeout)
    return None if response is None else response.results


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
