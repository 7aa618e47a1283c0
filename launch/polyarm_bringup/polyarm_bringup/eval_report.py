"""What an evaluation through ROS measured: its episodes, the graph's figures from /diagnostics, and the
report `polyarm eval` prints. Shared by the eval client (which fills them) and `polyarm eval` (which reports)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Episode:
    seed: int
    success: bool
    seconds: float  # of sim time, from policy/start to success or to the end of the budget
    commands: int
    reason: str = ""


DIAGNOSTIC_KEYS = {  # status name prefix: the diagnostic values kept from it
    "controller": ("period_p50_ms", "period_p99_ms", "period_max_ms", "rate_hz"),
    "policy": ("rate_hz", "observation_to_command_ms", "observation_to_command_ms_max", "inference_ms"),
    "sim": ("real_time_factor",),
}


@dataclass
class GraphFigures:
    """What the nodes' 1 Hz /diagnostics said during the episodes; each message covers its last second."""

    samples: dict = field(default_factory=lambda: defaultdict(list))  # (source, key) -> one value a second

    def add(self, status_name: str, values: dict[str, str]) -> None:
        source = status_name.split(":")[0]
        if source == "policy" and (values.get("active") != "True" or float(values.get("steps", 0)) == 0):
            return  # a stopped policy's rate says nothing about the achieved rate
        for key in DIAGNOSTIC_KEYS.get(source, ()):
            if key in values:
                self.samples[source, key].append(float(values[key]))

    def summary(self) -> dict:
        def stats(source, key, how):
            values = self.samples.get((source, key))
            return float(how(values)) if values else None

        return {
            "controller_period_ms": {"p50": stats("controller", "period_p50_ms", np.median),
                                     "p99": stats("controller", "period_p99_ms", np.mean),
                                     "max": stats("controller", "period_max_ms", np.max)},
            "controller_rate_hz": stats("controller", "rate_hz", np.mean),
            "policy_rate_hz": stats("policy", "rate_hz", np.median),
            "observation_to_command_ms": {"mean": stats("policy", "observation_to_command_ms", np.mean),
                                          "max": stats("policy", "observation_to_command_ms_max", np.max)},
            "inference_ms": stats("policy", "inference_ms", np.mean),
            "real_time_factor": {"mean": stats("sim", "real_time_factor", np.mean), "min": stats("sim", "real_time_factor", np.min)},
            "seconds_of_diagnostics": len(self.samples.get(("controller", "rate_hz"), [])),
        }


def summarize(episodes: list[Episode], figures: GraphFigures) -> dict:
    from polyarm_learning.evaluate import wilson_interval

    successes = sum(e.success for e in episodes)
    low, high = wilson_interval(successes, len(episodes))
    seconds = [e.seconds for e in episodes]
    return {
        "episodes": len(episodes), "successes": successes, "success_rate": successes / max(len(episodes), 1),
        "wilson_95": [low, high],
        "episode_seconds": {"mean": float(np.mean(seconds)), "min": float(np.min(seconds)), "max": float(np.max(seconds))},
        **figures.summary(),
        "per_episode": [asdict(e) for e in episodes],
    }


def report(summary: dict, title: str) -> str:
    f = summary
    period, o2c, rtf = f["controller_period_ms"], f["observation_to_command_ms"], f["real_time_factor"]
    low, high = f["wilson_95"]

    def ms(v):
        return "-" if v is None else f"{v:.2f} ms"

    lines = [
        title,
        f"  success          {f['successes']}/{f['episodes']} = {100 * f['success_rate']:.1f}%  (95% Wilson interval {100 * low:.1f}-{100 * high:.1f}%)",
        f"  episode time     mean {f['episode_seconds']['mean']:.1f} s of sim time  (min {f['episode_seconds']['min']:.1f}, max {f['episode_seconds']['max']:.1f})",
        f"  policy rate      {_num(f['policy_rate_hz'], 'Hz')}  (inference {_num(f['inference_ms'], 'ms')})",
        f"  controller       {_num(f['controller_rate_hz'], 'Hz')}; period p50 {ms(period['p50'])}, p99 {ms(period['p99'])}, max {ms(period['max'])}",
        f"  obs -> command   mean {ms(o2c['mean'])}, max {ms(o2c['max'])}",
        f"  sim              real-time factor mean {_num(rtf['mean'], '')}, min {_num(rtf['min'], '')}",
    ]
    if rtf["mean"] is not None and rtf["mean"] < 0.9:
        lines.append("                   (the graph runs on the sim's clock: the figures above are in simulated seconds)")
    return "\n".join(lines)


def _num(value, unit: str) -> str:
    return "-" if value is None else f"{value:.3g} {unit}".rstrip()


def episode_length(task: str) -> int:
    from sim_bridge.tasks import TASKS

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; one of {', '.join(TASKS)}")
    return TASKS[task].default_episode_length
