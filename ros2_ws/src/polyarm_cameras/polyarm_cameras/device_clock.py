"""Device time to the host's clock: the stamp of a frame's exposure, not of its arrival.

A camera stamps frames with its own clock (RealSense: hardware_clock, in ms since it powered up).
The offset to the host clock is estimated as the smallest (arrival - device time) over a window of
recent frames: the frame that arrived fastest carries the least transport delay. Clocks drift slowly,
so the window (the last 300 frames) follows them. Stamps already on the host's clock (RealSense's
system_time and global_time domains) pass through.
"""

from __future__ import annotations

from collections import deque


class DeviceClock:
    def __init__(self, window: int = 300):
        self._offsets: deque[int] = deque(maxlen=window)

    def to_host_ns(self, device_ns: int, arrival_ns: int) -> int:
        self._offsets.append(arrival_ns - device_ns)
        return device_ns + min(self._offsets)

    def reset(self) -> None:
        """The device's clock jumped (a reconnect, a recording starting over)."""
        self._offsets.clear()
