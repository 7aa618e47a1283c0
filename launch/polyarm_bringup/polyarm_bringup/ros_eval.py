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
from pathlib import Path

from polyarm_bringup.eval_report import GraphFigures, episode_length, report, summarize


def main(argv: list[str] | None = None) -> int:
    from polyarm_bringup.supervisor import Graph, NodeExited, add_bringup_arguments, bringup_from

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

    from polyarm_bringup.bringup import describe

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
    from polyarm_bringup.eval_client import run_episodes

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
