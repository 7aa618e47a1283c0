"""CycleLoop: the in-loop runner of FrankyDriver (torque path b, docs/architecture.md "The torque path").

A thread of the driver's own runs `tick(robot_time)` once for each new millisecond of the robot's state,
on the newest one; the tick (polyarm_control's ControlLoop) reads and writes through the driver, and its
torque is applied on the next cycle. If the tick fails or stalls, no torque arrives and franky's watchdog
stops the arm.

Why not franky's per-cycle callback: franky 2.0 runs Python callbacks on one executor thread behind an
unbounded queue, not in the control loop; when Python falls behind (a loaded host, the GIL shared with the
ROS executor) the callbacks work on ever older states and a stiff law goes unstable. Taking the newest
state skips the milliseconds that went by instead (`missed`, in diagnostics).
"""

from __future__ import annotations

import sys
import threading
import time

STATE_POLL_S = 0.0002  # how often to look for the robot's next millisecond
SWITCH_INTERVAL_S = 0.0005  # how long another Python thread may keep the GIL from the loop thread


class CycleLoop:
    def __init__(self, driver):
        self.driver = driver  # FrankyDriver: its arm, its torque motion and the lock that guards it
        self.tick = None  # what runs every cycle (None: no loop)
        self.missed = 0  # robot milliseconds that went by without a tick
        self._thread = None  # the thread that runs it (None when none runs)
        self._cycle = threading.local()  # the state and motion of the millisecond being ticked, in the loop thread

    def cycle_state(self):
        """The state of the millisecond being ticked, inside the tick; None elsewhere."""
        return getattr(self._cycle, "state", None)

    def cycle_motion(self):
        """The torque motion of the millisecond being ticked, inside the tick; None elsewhere."""
        return getattr(self._cycle, "motion", None) if self.cycle_state() is not None else None

    def start(self) -> None:
        """Start the thread if none runs (the driver holds its lock and has set `tick`)."""
        if self._thread is None:
            # Python hands the GIL over every 5 ms by default: one busy thread (the ROS executor's) could
            # keep the loop from five torques in a row. Every 0.5 ms instead.
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
            self._thread = threading.Thread(target=self._run, name="in-loop", daemon=True)
            self._thread.start()

    def join(self) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)

    def _run(self) -> None:
        """The tick on the newest state, until the loop is stopped or the motion ends."""
        d = self.driver
        last_ms = None
        while True:
            tick, motion = self.tick, d._motion
            if tick is None or motion is None or not d._running or not d._arm.is_in_control:
                with d._lock:
                    d._check_motion()  # a motion that ended (the watchdog, a reflex) says why
                    if self.tick is None or d._motion is None or not d._running:
                        self._thread = None
                        return
                continue  # start_loop started a new motion meanwhile
            try:
                state = d._arm.state  # while a motion runs: the newest state franky has received
            except Exception as err:  # noqa: BLE001 - the read loop ends the driver with the same reason
                d.last_error = f"lost the connection to the robot at {d.host}: {err}"
                time.sleep(d.signal_timeout)
                continue
            ms = int(state.time.to_msec())
            if ms == last_ms:
                time.sleep(STATE_POLL_S)
                continue
            if last_ms is not None and ms > last_ms + 1:
                self.missed += ms - last_ms - 1
            last_ms = ms
            self._tick_once(tick, motion, state)

    def _tick_once(self, tick, motion, state) -> None:
        self.driver._cycles += 1
        self._cycle.state, self._cycle.motion = state, motion
        try:
            tick(state.time.to_msec() * 1e-3)
        except Exception as err:  # noqa: BLE001 - no torque this cycle: the watchdog stops the arm, and it is said
            self.driver.last_error = f"the in-loop controller failed: {type(err).__name__}: {err}"
        finally:
            self._cycle.state = self._cycle.motion = None
