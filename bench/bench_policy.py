"""Policy-server benchmark: inference latency per model family and backend (batch 1, CPU), and the
observation-to-command latency through ROS (camera frame stamp to target publish, in the node).

    .venv/bin/python bench/bench_policy.py [--runs 300] [--ros-seconds 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from policy_server.checkpoint import new_checkpoint, save
from policy_server.models import Architecture
from policy_server.runtime import Policy, network_inputs
from polyarm_common.processes import start_polyarm, stop

FAMILIES = {
    "sac / cql (tanh-Gaussian actor)": ("sac", Architecture(), ["pick"]),
    "cql-si (3-head actor)": ("cql", Architecture(num_tasks=3, conditioning="multihead"), ["a", "b", "c"]),
    "plas (latent actor + decoder + perturbation)": ("plas", Architecture(perturbation=0.05), ["pick"]),
    "polytask (embedding)": ("polytask", Architecture(num_tasks=4, conditioning="embedding"), ["a", "b", "c", "d"]),
    "bc": ("bc", Architecture(), ["pick"]),
}


def percentiles(fn, runs: int) -> tuple[float, float]:
    for _ in range(20):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    t = 1e3 * np.array(times)
    return float(np.percentile(t, 50)), float(np.percentile(t, 99))


def inference_latency(runs: int) -> None:
    torch.set_num_threads(1)  # as the node runs: one inference thread beside the robot's processes
    print(f"Inference latency, ms at batch 1 on CPU (one thread), p50 / p99 over {runs} calls; ratio: eager / ONNX p50")
    print(f"{'family':<46} {'torch eager':>14} {'TorchScript':>14} {'ONNX Runtime':>14} {'ratio':>6}")
    rng = np.random.default_rng(0)
    for name, (algorithm, arch, tasks) in FAMILIES.items():
        checkpoint = new_checkpoint(algorithm, arch, tasks)
        eager = Policy(checkpoint, "torch", tasks[0])
        onnx = Policy(checkpoint, "onnx", tasks[0])
        image = rng.integers(0, 256, (arch.image_size, arch.image_size, 3), dtype=np.uint8)
        state = rng.normal(size=8).astype(np.float32)
        inputs = [torch.from_numpy(a) for a in network_inputs(image, state, 0)]
        scripted = torch.jit.trace(eager.network, tuple(inputs), check_trace=False)

        def run_scripted():
            with torch.inference_mode():
                scripted(*inputs)

        e = percentiles(lambda: eager(image, state), runs)
        s = percentiles(run_scripted, runs)
        o = percentiles(lambda: onnx(image, state), runs)
        print(f"{name:<46} {e[0]:>6.2f} / {e[1]:>5.2f} {s[0]:>6.2f} / {s[1]:>5.2f} {o[0]:>6.2f} / {o[1]:>5.2f} {e[0] / o[0]:>6.1f}")


def observation_to_command(seconds: float) -> None:
    """sim (camera 320x240 at 15 Hz) + controller + policy (sac, torch and onnx): the node's own
    figures from /diagnostics: frame age when used, inference, frame stamp to target publish."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from polyarm_common.graph import Collector, spin_for, spin_until
    from polyarm_common.qos import STATE
    from polyarm_common.ros_env import configure_ros_environment

    configure_ros_environment()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    folder = Path(tempfile.mkdtemp())
    save(new_checkpoint("sac", Architecture(), ["pick"], neutral_quaternion=(1.0, 0.0, 0.0, 0.0)), folder / "sac.pt")
    rclpy.init()
    print(f"\nObservation to command through ROS (Panda sim, camera 320x240 at 15 Hz, controller, policy at 2 Hz; {seconds:.0f} s)")
    print(f"{'backend':<8} {'steps':>6} {'frame age ms':>13} {'inference ms':>13} {'frame to target ms':>19}")
    for backend in ("torch", "onnx"):
        procs = [start_polyarm(*args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for args in (["sim", "--robot", "panda", "--task", "pick"], ["controller", "--robot", "panda"],
                              ["policy", "--checkpoint", str(folder / "sac.pt"), "--start", "--backend", backend])]
        node = rclpy.create_node(f"bench_policy_{backend}")
        try:
            diagnostics = Collector(node, DiagnosticArray, "/diagnostics", STATE)
            policy_values = lambda: [{kv.key: kv.value for kv in s.values} for a in diagnostics.messages  # noqa: E731
                                     for s in a.status if s.name == "policy"]
            spin_until(node, lambda: any(float(v["steps"]) > 2 for v in policy_values()), 90, "the policy to act")
            diagnostics.clear()
            spin_for(node, seconds)
            values = [v for v in policy_values() if float(v["inference_ms"]) > 0]
            mean = lambda key: np.mean([float(v[key]) for v in values])  # noqa: E731
            print(f"{backend:<8} {int(float(values[-1]['steps'])):>6} {mean('observation_age_ms'):>13.1f} "
                  f"{mean('inference_ms'):>13.2f} {mean('observation_to_command_ms'):>19.1f}")
        finally:
            node.destroy_node()
            for p in procs:
                stop(p, timeout=15)
    rclpy.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--ros-seconds", type=float, default=20.0)
    args = parser.parse_args()
    inference_latency(args.runs)
    if args.ros_seconds > 0:
        observation_to_command(args.ros_seconds)


if __name__ == "__main__":
    main()
