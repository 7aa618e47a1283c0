"""`polyarm up`: the bringup graph (polyarm_bringup.bringup) as one process per node, on machines without
`ros2 launch`.

SIGINT (Ctrl-C) or SIGTERM stops the graph in order: the policy first (it asks the controller to
hold as it exits), then the recorder (its MCAP file is closed and readable), the controller, the sim.
A node that exits on its own is reported, with the end of its log, and the rest of the graph is
stopped the same way.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from polyarm_common.processes import start_polyarm
from polyarm_common.processes import stop as stop_process

from polyarm_bringup.bringup import (
    CAMERA_BACKENDS,
    CONTROLLERS,
    DRIVERS,
    ROBOTS,
    SIMS,
    Bringup,
    NodeLaunch,
    describe,
    parameter_file_text,
)


class NodeExited(RuntimeError):
    """A node of the graph exited while the graph was meant to run."""


@dataclass
class Running:
    node: NodeLaunch
    process: subprocess.Popen
    log: Path | None


class Graph:
    """The graph's processes. `log_dir`: each node's output goes to <log_dir>/<name>.log instead of
    this terminal."""

    def __init__(self, nodes: list[NodeLaunch], namespace: str = "", log_dir: Path | None = None):
        self.nodes, self.namespace = nodes, namespace
        self.log_dir = Path(log_dir) if log_dir else None
        self.params_dir = Path(tempfile.mkdtemp(prefix="polyarm-params-"))
        self.running: list[Running] = []

    def arguments(self, node: NodeLaunch) -> list[str]:
        """`polyarm` arguments of a node: `<executable> --ros-args ...`, with its file's parameters, then the bringup's."""
        self.params_dir.mkdir(exist_ok=True)
        overrides = self.params_dir / f"{node.name}.yaml"
        overrides.write_text(parameter_file_text(node.parameters))
        ros_args = ["-r", f"__node:={node.name}", "--params-file", str(node.params_file), "--params-file", str(overrides)]
        if self.namespace:
            ros_args[2:2] = ["-r", f"__ns:=/{self.namespace.strip('/')}"]
        return [node.executable, "--ros-args", *ros_args]

    def start(self) -> None:
        for node in self.nodes:
            log = None
            if self.log_dir:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                log = self.log_dir / f"{node.name}.log"
            out = open(log, "w") if log else None  # noqa: SIM115 (closed here once the child has its copy)
            # a session of its own: a terminal's Ctrl-C reaches only this supervisor, which stops the nodes in order
            process = start_polyarm(*self.arguments(node), stdout=out, stderr=subprocess.STDOUT if out else None,
                                    start_new_session=True, preexec_fn=_stop_with_parent)
            if out:
                out.close()
            self.running.append(Running(node, process, log))

    def check(self) -> None:
        """Raise NodeExited naming the first node that is no longer running."""
        for r in self.running:
            code = r.process.poll()
            if code is not None:
                raise NodeExited(f"{r.node.name} (pid {r.process.pid}) exited with {_describe_exit(code)}{self._tail(r)}")

    def watch(self, poll_s: float = 0.2) -> None:
        """Block until a node exits (NodeExited) or a signal interrupts (KeyboardInterrupt)."""
        while True:
            self.check()
            time.sleep(poll_s)

    def stop(self, timeout: float = 10.0) -> dict[str, int]:
        """SIGINT each node in stop order, waiting for each before the next; SIGKILL after `timeout` s."""
        codes = {}
        for r in sorted(self.running, key=lambda r: r.node.stop_rank):
            running = r.process.poll() is None
            codes[r.node.name] = stop_process(r.process, timeout)
            if running and codes[r.node.name] == -signal.SIGKILL:
                print(f"polyarm up: {r.node.name} did not stop in {timeout:g} s and was killed", file=sys.stderr)
        shutil.rmtree(self.params_dir, ignore_errors=True)  # the nodes read their parameter overrides at start
        return codes

    def pid(self, name: str) -> int:
        return next(r.process.pid for r in self.running if r.node.name == name)

    @staticmethod
    def _tail(r: Running, lines: int = 15) -> str:
        if r.log is None or not r.log.exists():
            return ""
        tail = r.log.read_text(errors="replace").splitlines()[-lines:]
        return f"; the end of {r.log}:\n" + "\n".join("    " + line for line in tail)


def _stop_with_parent() -> None:
    """In the child: SIGTERM it (an orderly node shutdown) if the supervisor dies without stopping it."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


def add_bringup_arguments(parser: argparse.ArgumentParser, checkpoint_required: bool = False) -> None:
    parser.add_argument("--robot", choices=ROBOTS, default="panda")
    parser.add_argument("--sim", choices=SIMS, default="mujoco", help="the sim's physics engine (mujoco, pybullet), or none: the arm's driver runs outside")
    parser.add_argument("--checkpoint", required=checkpoint_required, default="", help="policy checkpoint (none: no policy node)")
    parser.add_argument("--task", default="", help="sim task (and the policy's task of a multi-task checkpoint)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sim task's object placement")
    parser.add_argument("--no-camera", action="store_true", help="do not render or publish the sim camera")
    parser.add_argument("--namespace", default="")
    parser.add_argument("--driver", choices=[d for d in DRIVERS if d], default="", help="with --sim none: the arm's driver node")
    parser.add_argument("--robot-ip", default="", help="franky, xarm: the robot's address")
    parser.add_argument("--port", default="", help="dynamixel: the bus's serial device")
    parser.add_argument("--realtime", choices=["enforce", "ignore"], default="enforce",
                        help="franky: require a real-time kernel (ignore for franky-sim)")
    parser.add_argument("--controller", choices=[c for c in CONTROLLERS if c], default="",
                        help="where the OSC law runs: node (a controller process, 100 Hz over topics) or in-driver "
                             "(the driver's real-time loop); default in-driver for franky, node otherwise")
    parser.add_argument("--perception", action="store_true",
                        help="the perception node: the policy reads the object pose from the depth camera, not the sim")
    parser.add_argument("--camera-pose", default="", help="with --sim none and --perception: the camera's hand-eye YAML")
    parser.add_argument("--camera-backend", choices=[c for c in CAMERA_BACKENDS if c], default="",
                        help="with --sim none: start the camera node on this backend")
    parser.add_argument("--camera-info", default="", help="the opencv camera's intrinsics (camera_info YAML)")


def bringup_from(args, record: str = "") -> Bringup:
    return Bringup(robot=args.robot, sim=args.sim, camera=not args.no_camera, checkpoint=args.checkpoint,
                   task=args.task, seed=args.seed, namespace=args.namespace, record=record, driver=args.driver,
                   robot_ip=args.robot_ip, realtime=args.realtime, controller=args.controller,
                   port=args.port, perception=args.perception, camera_pose=args.camera_pose,
                   camera_backend=args.camera_backend, camera_info=args.camera_info)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm up", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bringup_arguments(parser)
    parser.add_argument("--record", default="", help="record every topic (but depth) to this MCAP bag directory")
    parser.add_argument("--log-dir", help="write each node's output to LOG_DIR/<node>.log")
    parser.add_argument("--print", action="store_true", help="print the nodes and their commands, start nothing")
    args = parser.parse_args(argv)
    from polyarm_common.ros_env import configure_ros_environment

    configure_ros_environment()  # the children inherit it
    bringup = bringup_from(args, args.record)
    graph = Graph(describe(bringup), bringup.namespace, args.log_dir)
    if args.print:
        for node in graph.nodes:
            print(f"{node.name}: polyarm {' '.join(graph.arguments(node))}")
        return 0
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt)
    print(f"polyarm up: starting {', '.join(n.name for n in graph.nodes)} ({args.robot}); Ctrl-C stops them in order", flush=True)
    code = 0
    try:
        graph.start()
        graph.watch()
    except KeyboardInterrupt:
        print("polyarm up: stopping the graph: policy, recorder, controller, sim", flush=True)
    except NodeExited as err:
        print(f"polyarm up: {err}\npolyarm up: stopping the rest of the graph", file=sys.stderr, flush=True)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the ordered stop short
        graph.stop()
    return code


def _interrupt(signum, frame):
    raise KeyboardInterrupt
