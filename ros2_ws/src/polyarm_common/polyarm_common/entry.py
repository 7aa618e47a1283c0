"""The life of a polyarm node process: arguments, signals, rclpy start-up and an orderly shutdown."""

from __future__ import annotations

import signal
import sys
from typing import Callable


def split_ros_args(argv: list[str] | None) -> tuple[list[str], list[str]]:
    """(the command's own arguments, what follows --ros-args)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--ros-args" not in argv:
        return argv, []
    i = argv.index("--ros-args")
    return argv[:i], argv[i + 1 :]


def parameter_overrides(given: dict) -> list:
    """ROS parameters for the options the user actually gave (None: not given)."""
    from rclpy.parameter import Parameter

    return [Parameter(name, value=value) for name, value in given.items() if value is not None]


def run_node(prog: str, ros_args: list[str], make_node: Callable, check: Callable | None = None) -> int:
    """Start rclpy, build the node, spin it, and shut down in order on SIGINT or SIGTERM.

    `check(node)` runs between callbacks; an exit code it returns ends the node. A ValueError while
    building the node (a bad parameter, named in its message) exits 2. The node's close() (if any)
    runs before rclpy shuts down, so its threads never publish into a dead context and its last
    service calls (the policy's controller/hold) still get their answers.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.signals import SignalHandlerOptions

    for sig in (signal.SIGINT, signal.SIGTERM):  # explicit: a shell's background job starts with SIGINT ignored
        signal.signal(sig, _interrupt)
    rclpy.init(args=[prog, "--ros-args", *ros_args], signal_handler_options=SignalHandlerOptions.NO)
    node = None
    try:
        node = make_node()
        return _spin(node, check or (lambda node: None))
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    except RuntimeError:
        if _interrupted:  # an interrupt while building the node, inside an rclpy call, reads as a RuntimeError
            return 0
        raise
    except ValueError as err:
        print(f"polyarm {prog}: {err}", file=sys.stderr)
        return 2
    finally:
        if node is not None:
            getattr(node, "close", lambda: None)()
            node.destroy_node()
        rclpy.try_shutdown()
        # Shut down: what is left is the interpreter's own exit, which resets Python's handlers to the
        # default one, so a late signal (ros2 launch signals every node again when one exits) would kill
        # the process mid-exit and launch would report it died (-2). Ignored, the exit code stands.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)


# rcl_wait is not woken by signals: a no-op timer wakes the spin loop this often, so it sees one.
# (spin_once(timeout_sec=...) would do the same, but builds a new rcl timer for every callback: some
# 300 a second in the controller, whose 100 Hz tick runs in this executor.) The timer runs on the
# steady clock, not the node's: under use_sim_time the node's clock stops with /clock (the sim has
# exited), and a node must still be able to stop.
SIGNAL_POLL_S = 0.1
_interrupted = False
_spinning = False


def _spin(node, check: Callable) -> int:
    """rclpy.spin until interrupted, asking check(node) between callbacks."""
    import rclpy
    from rclpy.clock import Clock, ClockType

    global _spinning
    executor = rclpy.get_global_executor()
    executor.add_node(node)
    wake = node.create_timer(SIGNAL_POLL_S, lambda: None, clock=Clock(clock_type=ClockType.STEADY_TIME))
    _spinning = True
    try:
        while rclpy.ok() and not _interrupted:
            code = check(node)
            if code is not None:
                return code
            executor.spin_once()
        return 0
    finally:
        _spinning = False
        node.destroy_timer(wake)
        executor.remove_node(node)


def _interrupt(signum, frame):
    """While spinning, a flag the spin loop reads; else a KeyboardInterrupt.

    Raised inside rclpy's executor, an exception can land between a callback group's beginning and
    ending of execution and leave it marked busy: the node's later callbacks, close()'s service
    responses among them, would then never run.
    """
    global _interrupted
    first = not _interrupted
    _interrupted = True
    if first and not _spinning:
        raise KeyboardInterrupt
    # A second signal while shutting down changes nothing: a terminal's Ctrl-C reaches every node and
    # ros2 launch then signals each one again; raised in close(), it would cut the policy's last
    # controller/hold short. A hung shutdown still ends with launch's SIGKILL.
