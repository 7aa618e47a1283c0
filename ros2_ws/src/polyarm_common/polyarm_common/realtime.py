"""Real-time scheduling for the processes that keep a robot's time: the controller, the drivers, and the
simulators that stand in for a robot's own computer."""

from __future__ import annotations

import os


def request_sched_fifo(priority: int) -> str:
    """Ask the kernel for SCHED_FIFO for this process; say what came of it.

    Call it before rclpy starts, so the DDS threads the executor waits on inherit the policy: with only
    the executor real-time, a DDS thread preempted by a CPU-bound neighbour stalled it (priority
    inversion, 60 ms periods measured). The threads sleep between events, so they do not starve others.
    Children forked later start as ordinary processes (SCHED_RESET_ON_FORK); an exec keeps the policy."""
    if priority <= 0:
        return "not requested"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
        return f"granted (priority {priority})"
    except (PermissionError, OSError, AttributeError) as err:
        return f"refused ({err.__class__.__name__}: {err}); running SCHED_OTHER"
