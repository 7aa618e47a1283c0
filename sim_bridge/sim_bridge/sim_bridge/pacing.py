"""Pacing a simulation loop to wall-clock time, and measuring how well it keeps up."""

from __future__ import annotations

import time


class RealTimePacer:
    """Sleeps so that each loop iteration lasts `period` of wall time (or not at all when fast).

    When the loop falls more than `max_lag` behind it re-anchors instead of sprinting to catch up,
    and counts the overrun.
    """

    def __init__(self, period: float, realtime: bool = True, max_lag: float = 0.1, clock=time.monotonic):
        self.period, self.realtime, self.max_lag, self._clock = period, realtime, max_lag, clock
        self._deadline = clock() + period
        self.overruns = 0

    def wait(self) -> None:
        if not self.realtime:
            return
        now = self._clock()
        if now - self._deadline > self.max_lag:
            self.overruns += 1
            self._deadline = now
        elif self._deadline > now:
            time.sleep(self._deadline - now)
        self._deadline += self.period


class RealTimeFactor:
    """Simulated seconds per wall second since the last reading."""

    def __init__(self, sim_time: float = 0.0, clock=time.monotonic):
        self._clock = clock
        self._last = (sim_time, clock())

    def read(self, sim_time: float) -> float:
        now = self._clock()
        last_sim, last_wall = self._last
        self._last = (sim_time, now)
        return (sim_time - last_sim) / max(now - last_wall, 1e-9)
