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


def spin_for_clock(node, seconds: float) -> None:
    """Spin for `seconds` of the node's own clock: simulated seconds on use_sim_time, else wall seconds."""
    clock = node.get_clock()
    end = clock.now().nanoseconds + int(seconds * 1e9)
    while clock.now().nanoseconds < end:
        rclpy.spin_once(node, timeout_sec=0.01)


def follow_sim_clock(node, timeout: float = 5.0) -> bool:
    """Put `node` on the sim's /clock when the graph has one (a robot's graph has none); whether it did.

    Pacing on /clock keeps a client in step with a sim that runs slower than real time on a busy host.
    """
    if node.count_publishers("/clock") == 0:
        return False
    from rclpy.parameter import Parameter

    node.set_parameters([Parameter("use_sim_time", Parameter.Type.BOOL, True)])
    spin_until(node, lambda: node.get_clock().now().nanoseconds > 0, timeout, "the first /clock message")
    return True


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


class RetryingCall:
    """call_service for a node that must not block (its callbacks run in its executor): the request is
    asked again every `attempt_s` of wall time until answered; then on_done(response), or after `timeout`
    on_fail(reason). Only for idempotent services, as call_service."""

    def __init__(self, node, client, request, on_done, on_fail, timeout: float = 10.0, attempt_s: float = ATTEMPT_S):
        from rclpy.clock import Clock, ClockType

        self.node, self.client, self.request = node, client, request
        self.on_done, self.on_fail = on_done, on_fail
        self.deadline, self.finished, self.future = time.monotonic() + timeout, False, None
        self.timer = node.create_timer(attempt_s, self._again, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._ask()

    def _ask(self) -> None:
        self.future = self.client.call_async(self.request)
        self.future.add_done_callback(self._answered)

    def _answered(self, future) -> None:
        if self.finished or future is not self.future:
            return
        self._finish()
        self.on_done(future.result())

    def _again(self) -> None:
        if self.finished:
            return
        self.client.remove_pending_request(self.future)
        if time.monotonic() >= self.deadline:
            self._finish()
            self.on_fail(f"{self.client.srv_name} did not answer")
            return
        self._ask()

    def _finish(self) -> None:
        self.finished = True
        self.node.destroy_timer(self.timer)


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


# Resetting a sim episode under a running controller: seed, sim/reset, then controller/resume. The sim holds
# the arm at home for its reset_hold (0.3 s) after sim/reset. Within it, the controller must see the
# post-reset joint_states before it resumes (else it re-anchors on the old pose and pulls the arm back
# there), and motion starts once the hold is over. Seconds of the sim's clock.
RESUME_AFTER_RESET_S = 0.1
SETTLE_AFTER_RESET_S = 0.3


def reset_sim_episode(node, seed: int, timeout: float = 15.0) -> None:
    """The sequence above, from a plain (not yet spinning) node; RuntimeError naming the step that failed."""
    from rclpy.parameter import Parameter
    from std_srvs.srv import Trigger

    results = set_parameters(node, node.create_client(SetParameters, "sim/set_parameters"),
                             [Parameter("seed", Parameter.Type.INTEGER, seed)], timeout)
    if not results or not results[0].successful:
        raise RuntimeError(f"the sim did not take seed {seed} (is `polyarm sim` running?)")
    for service, wait in (("sim/reset", RESUME_AFTER_RESET_S), ("controller/resume", SETTLE_AFTER_RESET_S)):
        response = call_service(node, node.create_client(Trigger, service), Trigger.Request(), timeout)
        if response is None or not response.success:
            raise RuntimeError(f"{service} " + ("did not answer" if response is None else f"refused: {response.message}"))
        spin_for_clock(node, wait)
