"""Rate and period-jitter statistics over a sliding window of event times (seconds)."""

from __future__ import annotations

from collections import deque

import numpy as np


class RateMeter:
    def __init__(self, window: int = 1000):
        self._times: deque[float] = deque(maxlen=window)

    def tick(self, t: float) -> None:
        self._times.append(t)

    @property
    def count(self) -> int:
        return len(self._times)

    def stats(self) -> dict:
        """rate (Hz) and period mean/std/p50/p99/max (s); zeros until two ticks are seen."""
        if len(self._times) < 2:
            return dict.fromkeys(["rate_hz", "period_mean", "period_std", "period_p50", "period_p99", "period_max"], 0.0)
        periods = np.diff(np.asarray(self._times))
        mean = float(periods.mean())
        return {
            "rate_hz": 1.0 / mean if mean > 0 else 0.0,
            "period_mean": mean,
            "period_std": float(periods.std()),
            "period_p50": float(np.median(periods)),
            "period_p99": float(np.percentile(periods, 99)),
            "period_max": float(periods.max()),
        }
