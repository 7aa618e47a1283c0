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


def run_node(prog: str, ros_args: list[str], make_node: Callable, spin: Callable | None = None) -> int:
    """Start rclpy, build the node, spin it, and shut down in order on SIGINT or SIGTERM.

    `spin(node)` may return an exit code. A ValueError while building the node (a bad parameter,
    named in its message) exits 2. The node's close() (if any) runs before rclpy shuts down, so its
    threads never publish into a dead context.
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
        return (spin or rclpy.spin)(node) or 0
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    except RuntimeError:
        if _interrupted:  # the interrupt landed inside an rclpy call, which reports it as a RuntimeError
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


_interrupted = False


def _interrupt(signum, frame):
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt
