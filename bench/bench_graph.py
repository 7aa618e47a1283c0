"""The running demo graph, measured: `polyarm eval` on the demo checkpoint for --minutes of episodes.

Prints the controller's period jitter (p50/p99/max), the achieved policy rate, the observation-to-
command latency, the sim's real-time factor and each node's CPU use (from /proc, user + system time
over the run, in % of one core), and the success rate over those episodes.

    .venv/bin/python bench/bench_graph.py --minutes 10
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class CpuSampler(threading.Thread):
    """CPU seconds of each node process, sampled until stopped (a dead process keeps its last sample)."""

    def __init__(self, pids: dict[str, int]):
        super().__init__(daemon=True)
        self.pids, self.samples, self.stop_event = pids, {}, threading.Event()
        self.start_time, self.start_cpu = time.monotonic(), {n: cpu_seconds(p) for n, p in pids.items()}

    def run(self) -> None:
        while not self.stop_event.wait(1.0):
            for name, pid in self.pids.items():
                try:
                    self.samples[name] = (time.monotonic(), cpu_seconds(pid))
                except (FileNotFoundError, ProcessLookupError):
                    pass

    def percent(self) -> dict[str, float]:
        return {n: 100 * (cpu - self.start_cpu[n]) / (t - self.start_time) for n, (t, cpu) in self.samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--checkpoint", default=str(REPO / "demo" / "panda_press_button.pt"))
    parser.add_argument("--robot", default="panda")
    parser.add_argument("--task", default="press_button")
    parser.add_argument("--out", default=f"runs/bench_graph-{time.strftime('%Y%m%d-%H%M%S')}")
    args = parser.parse_args()
    from polyarm_bringup.bringup import Bringup, describe
    from polyarm_bringup.eval_client import run_episodes
    from polyarm_bringup.eval_report import GraphFigures, episode_length, report, summarize
    from polyarm_common.ros_env import configure_ros_environment

    configure_ros_environment()
    out = Path(args.out)
    chunk = 10  # episodes between checks of the clock: the run lasts at least --minutes
    from polyarm_bringup.supervisor import Graph

    graph = Graph(describe(Bringup(robot=args.robot, checkpoint=args.checkpoint, task=args.task, record=str(out / "bag"))),
                  log_dir=out / "logs")
    graph.start()
    sampler = CpuSampler({r.node.name: r.process.pid for r in graph.running})
    sampler.start()
    episodes, figures = [], GraphFigures()
    started = time.monotonic()
    try:
        while time.monotonic() - started < args.minutes * 60:
            chunk_args = SimpleNamespace(namespace="", startup_timeout=60.0, seed=2000 + len(episodes), episodes=chunk)
            run_episodes(graph, chunk_args, episode_length(args.task), figures, episodes)
    finally:
        sampler.stop_event.set()
        cpu = sampler.percent()
        graph.stop()
    minutes = (time.monotonic() - started) / 60
    summary = summarize(episodes, figures)
    summary["cpu_percent_of_one_core"] = cpu
    summary["minutes"] = minutes
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(report(summary, f"\n{args.robot} {args.task} demo graph, {minutes:.1f} min, {len(episodes)} episodes"))
    print("\n| process | CPU, % of one core |\n|---|---:|")
    for name, value in cpu.items():
        print(f"| {name} | {value:.1f} |")
    bag = sum(f.stat().st_size for f in (out / "bag").glob("*")) / 1e6
    print(f"\nMCAP bag: {bag:.0f} MB ({bag / minutes:.0f} MB per minute)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
