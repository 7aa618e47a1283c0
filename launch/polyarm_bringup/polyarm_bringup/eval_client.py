"""EvalClient: the ROS side of `polyarm eval`; episodes driven through the graph's services and topics.

Its clock is the sim's /clock, as every node's in the sim graph is: waits and episode budgets are
simulated seconds, so a slow host gives the same episodes, only slower.
"""

from __future__ import annotations

import time

import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from polyarm_common.graph import RESUME_AFTER_RESET_S, SETTLE_AFTER_RESET_S, call_service, set_parameters
from polyarm_common.qos import COMMAND, STATE
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from polyarm_bringup.eval_report import Episode, GraphFigures

SERVICES = ("policy/start", "policy/stop", "policy/reset", "controller/hold", "controller/resume", "sim/reset")
# each call is asked again every 2 s (a response can be lost to service discovery: polyarm_common.graph)
CALL_TIMEOUT_S = 15.0
CLOCK_STALL_S = 10.0  # wall seconds without /clock advancing: the sim has stopped


class SimClockStalled(RuntimeError):
    """/clock stopped advancing while the sim process still runs (a hung sim)."""


class EvalClient(Node):
    def __init__(self, namespace: str, figures: GraphFigures):
        super().__init__("eval", namespace=namespace, parameter_overrides=[Parameter("use_sim_time", value=True)])
        self.figures = figures
        self.triggers = {name: self.create_client(Trigger, name) for name in SERVICES}
        self.sim_parameters = self.create_client(SetParameters, "sim/set_parameters")
        self.recording_figures = False
        self.success_seen = self.pose_seen = False
        self.listening = False  # only a success reported after policy/start counts
        self.succeeded = False
        self.command_times: list[float] = []  # sim time of each command
        self._clock_last, self._clock_seen = 0.0, time.monotonic()  # the sim clock, and the wall time it last moved
        self.create_subscription(Bool, "sim/success", self._on_success, STATE)
        self.create_subscription(PoseStamped, "controller/ee_pose", self._on_pose, STATE)
        self.create_subscription(PoseStamped, "controller/target_pose", self._on_target, COMMAND)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, STATE)

    def _on_success(self, msg: Bool) -> None:
        self.success_seen = True
        if self.listening and msg.data:
            self.succeeded = True

    def _on_pose(self, msg: PoseStamped) -> None:
        self.pose_seen = True

    def _on_target(self, msg: PoseStamped) -> None:
        if self.listening:
            self.command_times.append(self.now())

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        if not self.recording_figures:
            return
        for status in msg.status:
            self.figures.add(status.name, {kv.key: kv.value for kv in status.values})

    # ------------------------------------------------------------ calls
    def call(self, name: str, timeout: float = CALL_TIMEOUT_S) -> str:
        response = call_service(self, self.triggers[name], Trigger.Request(), timeout)
        if response is None:
            raise TimeoutError(f"{name} did not answer within {timeout:g} s")
        if not response.success:
            raise RuntimeError(f"{name} refused: {response.message}")
        return response.message

    def set_seed(self, seed: int, timeout: float = CALL_TIMEOUT_S) -> None:
        results = set_parameters(self, self.sim_parameters, [Parameter("seed", value=seed)], timeout)
        if results is None or not results[0].successful:
            raise RuntimeError(f"the sim refused seed {seed}")

    def wait_ready(self, graph, timeout: float) -> None:
        """Until every service answers and the sim and controller stream; NodeExited if a node dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            graph.check()
            missing = [n for n, c in self.triggers.items() if not c.service_is_ready()]
            if not missing and self.sim_parameters.service_is_ready() and self.success_seen and self.pose_seen:
                return
            rclpy.spin_once(self, timeout_sec=0.1)
        raise TimeoutError(f"the graph did not come up within {timeout:g} s (waiting for {missing or 'sim/success and ee_pose'}); see the node logs")

    def now(self) -> float:
        """Seconds of the sim clock."""
        return self.get_clock().now().nanoseconds * 1e-9

    def spin_once(self, graph, timeout: float) -> None:
        """One spin; NodeExited if a node died, SimClockStalled if /clock stood still CLOCK_STALL_S."""
        graph.check()
        rclpy.spin_once(self, timeout_sec=timeout)
        now, wall = self.now(), time.monotonic()
        if now != self._clock_last:
            self._clock_last, self._clock_seen = now, wall
        elif wall - self._clock_seen > CLOCK_STALL_S:
            raise SimClockStalled(f"/clock did not advance for {CLOCK_STALL_S:g} s: the sim has stopped (see its log)")

    def spin_for(self, seconds: float, graph) -> None:
        """Spin for `seconds` of sim time."""
        end = self.now() + seconds
        while self.now() < end:
            self.spin_once(graph, 0.01)

    # ---------------------------------------------------------- episodes
    def episode(self, graph, seed: int, length: int, period: float) -> Episode:
        self.call("policy/stop")
        self.call("controller/hold")
        self.set_seed(seed)
        self.call("sim/reset")
        self.spin_for(RESUME_AFTER_RESET_S, graph)  # polyarm_common.graph says why
        self.call("controller/resume")
        self.call("policy/reset")
        self.spin_for(SETTLE_AFTER_RESET_S, graph)
        self.command_times, self.succeeded, self.listening = [], False, True
        self.recording_figures = True
        start = self.now()
        self.call("policy/start")
        reason = ""
        while not self.succeeded:
            self.spin_once(graph, 0.01)
            now, sent = self.now(), self.command_times
            if len(sent) >= length and now - sent[length - 1] >= period:  # the last command had its period to act
                reason = f"not done after {length} commands"
                break
            if now - start > (length + 4) * period:
                reason = f"only {len(sent)} of {length} commands in {now - start:.1f} s (see the policy log)"
                break
        seconds = self.now() - start
        self.listening = False
        self.call("policy/stop")
        self.recording_figures = False
        return Episode(seed, self.succeeded, seconds, min(len(self.command_times), length), reason)


def policy_period(graph) -> float:
    policy = next(n for n in graph.nodes if n.name == "policy")
    rate = yaml.safe_load(policy.params_file.read_text())["/**"]["ros__parameters"].get("rate_hz", 2.0)
    return 1.0 / float(rate)


def run_episodes(graph, args, length: int, figures: GraphFigures, episodes: list[Episode]) -> None:
    """Run args.episodes episodes into `episodes` (kept if a node dies part-way); print a line for each."""
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)  # Ctrl-C: KeyboardInterrupt, then the ordered stop
    client = EvalClient(args.namespace, figures)
    try:
        client.wait_ready(graph, args.startup_timeout)
        period = policy_period(graph)
        for i in range(args.episodes):
            e = client.episode(graph, args.seed + i, length, period)
            episodes.append(e)
            done = sum(x.success for x in episodes)
            print(f"  episode {i + 1:>3}/{args.episodes}  seed {e.seed:<7} {'success' if e.success else 'failure'} "
                  f"in {e.seconds:4.1f} s, {e.commands} commands  [{done}/{len(episodes)}]" + (f"  ({e.reason})" if e.reason else ""), flush=True)
        client.call("policy/stop")
        client.call("controller/hold")
    finally:
        client.destroy_node()
        rclpy.try_shutdown()
