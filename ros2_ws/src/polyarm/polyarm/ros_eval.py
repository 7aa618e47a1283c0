"""`polyarm eval --robot R --task T --checkpoint F --episodes N`: sim-in-the-loop evaluation through ROS.

It starts the bringup graph (sim, controller, policy server, recorder: one process each, exactly
as `polyarm up` does) and runs seeded episodes through the graph's own interfaces:

    policy/stop -> controller/hold -> sim seed := SEED + i -> sim/reset -> 0.1 s -> controller/resume
    -> policy/reset -> 0.3 s -> policy/start -> sim/success, or the episode's time is up -> policy/stop

(The sim holds the arm at home for 0.3 s after a reset; the controller resumes from the measured
home pose within that time, once it has seen the post-reset joint_states.)

An episode has the Gymnasium env's budget: `episode_length` policy commands, each given one policy
period to act. Every node, this client included, runs on the sim's /clock (use_sim_time), so waits,
budgets and episode times are simulated seconds and a slow host changes only how long it takes.
Episode i uses seed SEED + i, the same placement `polyarm evaluate --seed SEED` uses, so the two
success rates can be compared episode by episode.

It prints the success rate with a 95% Wilson interval, the episode times, the achieved policy rate,
the controller's period jitter, the observation-to-command latency and the sim's real-time factor,
and writes DIR/bag (MCAP, readable with rosbags and Foxglove), DIR/summary.json and DIR/logs/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

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
    from policy_server.evaluate import wilson_interval

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


def main(argv: list[str] | None = None) -> int:
    from polyarm.supervisor import Graph, NodeExited, add_bringup_arguments, bringup_from

    parser = argparse.ArgumentParser(prog="polyarm eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bringup_arguments(parser, checkpoint_required=True)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--out", help="run directory (default runs/eval/<robot>-<task>-<time>)")
    parser.add_argument("--no-record", action="store_true", help="no MCAP recording")
    parser.add_argument("--startup-timeout", type=float, default=60.0, help="s to wait for the graph to come up")
    args = parser.parse_args(argv)
    if not args.task:
        parser.error("--task is required")
    if args.episodes < 1:
        parser.error("--episodes must be at least 1")
    from polyarm_common.ros_env import configure_ros_environment

    from polyarm.bringup import describe

    configure_ros_environment()
    out = Path(args.out or f"runs/eval/{args.robot}-{args.task}-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        length = episode_length(args.task)
        if out.exists() and any(out.iterdir()):
            raise ValueError(f"{out} exists and is not empty; choose another --out")
        bringup = bringup_from(args, "" if args.no_record else str(out / "bag"))
        graph = Graph(describe(bringup), bringup.namespace, out / "logs")
    except ValueError as err:
        print(f"polyarm eval: {err}", file=sys.stderr)
        return 2
    print(f"polyarm eval: starting {', '.join(n.name for n in graph.nodes)} for the {args.robot} ({args.task}); "
          f"node logs in {out / 'logs'}", flush=True)
    from polyarm.eval_client import run_episodes

    episodes, figures, failure = [], GraphFigures(), None
    try:
        graph.start()
        run_episodes(graph, args, length, figures, episodes)
    except (NodeExited, TimeoutError, RuntimeError) as err:
        failure = str(err)
    except KeyboardInterrupt:
        failure = "interrupted"
    finally:
        graph.stop()
    if failure:
        print(f"polyarm eval: {failure}; the graph was stopped", file=sys.stderr)
    if not episodes:
        return 1
    summary = summarize(episodes, figures)
    summary.update({"robot": args.robot, "task": args.task, "checkpoint": str(args.checkpoint), "seed": args.seed,
                    "bag": None if args.no_record else str(out / "bag"), "complete": failure is None})
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    title = (f"polyarm eval: {Path(args.checkpoint).name} on the {args.robot} {args.task} through ROS, "
             f"seeds {args.seed}-{args.seed + len(episodes) - 1}")
    print(report(summary, title))
    print(f"  wrote            {out / 'summary.json'}" + ("" if args.no_record else f", {out / 'bag'} (MCAP)"))
    return 0 if failure is None else 1


if __name__ == "__main__":
    sys.exit(main())
