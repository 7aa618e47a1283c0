"""Training speed: gradient steps per second of each algorithm on the same synthetic transitions, the
same networks and the same batch size, for state-based (MLP 256x256) and 48x48 image (COG's network)
policies. The peer, d3rlpy 2.8.1, needs its own environment (it pins gymnasium 1.0); give its
Python with --peer-python and the state-based CQL and PLAS rows get its speed on the same shapes,
networks and batch size (bench/d3rlpy_peer.py), measured in the same run: the peer runs beside this
process and the two take turns, a block of --block-steps steps each, for --blocks blocks (the order
swapped every block), because the machine's load moves both by 20% and more from minute to minute.
The table gives the median rates and the median of the per-block ratios, with their interquartile
range. The image options with features projected to 50 (each network with its own encoder, or the
faster one encoder shared by critics and actor) are timed against COG's network:

    python3 -m venv /tmp/d3venv && /tmp/d3venv/bin/pip install d3rlpy==2.8.1 torch==2.13.0
    .venv/bin/python bench/bench_training.py --peer-python /tmp/d3venv/bin/python [--steps 100] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import torch
from policy_server.models import Architecture
from polyarm_learning.allocator import keep_freed_memory
from polyarm_learning.data import TransitionData
from polyarm_learning.recipes import ALGORITHMS, CONFIGS

FAST_FEATURES = 50  # DrQ's feature width
PEER_ALGORITHMS = ("cql", "plas")  # what bench/d3rlpy_peer.py times


def synthetic(image_size: int, n: int = 4000, state_dim: int = 8) -> TransitionData:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n + 1, 3, image_size, image_size), dtype=torch.uint8, generator=g) if image_size else None
    return TransitionData(images, torch.randn(n + 1, state_dim, generator=g), torch.rand(n, 8, generator=g) * 2 - 1,
                          (torch.rand(n, generator=g) > 0.7).float(), torch.zeros(n), torch.arange(n), torch.arange(1, n + 1),
                          torch.zeros(n, dtype=torch.int64), {})


def build(algo: str, arch: Architecture):
    config = CONFIGS[algo]()
    if hasattr(config, "bc_steps"):
        config.bc_steps = 0  # time the RL update, not the warm start
    if hasattr(config, "vae_steps"):
        config.vae_steps = 0
    return ALGORITHMS[algo](arch, config)


def timed_steps(algorithm, data: TransitionData, batch_size: int, steps: int, first_step: int = 1) -> float:
    """Steps per second over `steps` updates, each sampling its batch as the trainer does."""
    augment = data.images is not None
    t0 = time.perf_counter()
    for i in range(steps):
        algorithm.update(data.sample(batch_size, augment), first_step + i)
    return steps / (time.perf_counter() - t0)


def steps_per_second(algo: str, arch: Architecture, data: TransitionData, batch_size: int, steps: int) -> float:
    algorithm = build(algo, arch)
    timed_steps(algorithm, data, batch_size, 3)
    return timed_steps(algorithm, data, batch_size, steps, first_step=4)


class Peer:
    """bench/d3rlpy_peer.py in d3rlpy's environment, asked for one block of steps at a time."""

    def __init__(self, python: str, batch_size: int):
        script = Path(__file__).resolve().parent / "d3rlpy_peer.py"
        self.process = subprocess.Popen([python, str(script), "--batch-size", str(batch_size)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = self._reply("d3rlpy")

    def steps_per_second(self, algo: str, steps: int) -> float:
        self.process.stdin.write(f"{algo} {steps}\n")
        self.process.stdin.flush()
        return self._reply("steps_per_second")["steps_per_second"]

    def _reply(self, key: str) -> dict:
        for line in self.process.stdout:  # d3rlpy logs to standard output too: skip to the peer's JSON
            if line.startswith("{") and key in (reply := json.loads(line)):
                return reply
        raise RuntimeError(f"the d3rlpy peer ended (exit {self.process.wait()}) before it answered")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def versus_peer(peer: Peer, algo: str, arch: Architecture, data: TransitionData, batch_size: int,
                block_steps: int, blocks: int) -> tuple[list[float], list[float]]:
    """polyarm's and the peer's rates, block by block, taking turns (ours first in even blocks)."""
    algorithm = build(algo, arch)
    timed_steps(algorithm, data, batch_size, 3)
    ours, theirs, step = [], [], 4
    for block in range(blocks):
        if block % 2:
            theirs.append(peer.steps_per_second(algo, block_steps))
        ours.append(timed_steps(algorithm, data, batch_size, block_steps, step))
        if not block % 2:
            theirs.append(peer.steps_per_second(algo, block_steps))
        step += block_steps
    return ours, theirs


def ratio_summary(ours: list[float], theirs: list[float]) -> str:
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    low, median, high = statistics.quantiles(ratios, n=4)
    return f"{median:.2f} ({low:.2f}-{high:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--peer-python", help="Python of an environment with d3rlpy 2.8.1")
    parser.add_argument("--blocks", type=int, default=20, help="rows with a peer: turns each (median and quartiles reported)")
    parser.add_argument("--block-steps", type=int, default=20, help="rows with a peer: steps in one turn")
    args = parser.parse_args()
    keep_freed_memory()  # as `polyarm train` does
    state = Architecture(image_size=0, state_dim=11, hidden=(256, 256))
    state_data = synthetic(0, state_dim=state.state_dim)
    versus = {}
    if args.peer_python:
        peer = Peer(args.peer_python, args.batch_size)
        versus = {algo: versus_peer(peer, algo, state, state_data, args.batch_size, args.block_steps, args.blocks)
                  for algo in PEER_ALGORITHMS}
        peer.close()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}, {args.steps} timed steps"
          + (f"; peer d3rlpy {peer.info['d3rlpy']} (torch {peer.info['torch']}, {peer.info['threads']} threads), "
             f"{args.blocks} turns of {args.block_steps} steps each: medians, per-turn ratio's median (quartiles)" if versus else ""))
    print("| observation | algorithm | polyarm steps/s | ms/step | peer | peer steps/s | ratio |\n|---|---|---:|---:|---|---:|---:|")
    image = Architecture(image_size=48, state_dim=8, hidden=(256, 256))
    rows = [("state (MLP 256x256)", state, ("bc", "cql", "plas")),
            ("48x48 image", image, ("bc", "cql", "plas")),
            (f"48x48 image, own encoders, {FAST_FEATURES}-d features", replace(image, feature_dim=FAST_FEATURES), ("cql",)),
            (f"48x48 image, shared encoder, {FAST_FEATURES}-d features",
             replace(image, feature_dim=FAST_FEATURES, shared_encoder=True), ("cql",))]
    image_rates = {}
    for label, arch, algos in rows:
        data = state_data if arch == state else synthetic(arch.image_size, state_dim=arch.state_dim)
        for algo in algos:
            if arch == state and algo in versus:  # measured above, in turns with the peer
                ours, theirs = versus[algo]
                rate = statistics.median(ours)
                compared = f"d3rlpy | {statistics.median(theirs):.1f} | {ratio_summary(ours, theirs)}"
            else:
                rate = steps_per_second(algo, arch, data, args.batch_size, args.steps)
                compared = "- | - | -"
            if arch == image:
                image_rates[algo] = rate
            if arch.feature_dim:  # the 50-d options against COG's network in the same run
                compared = f"COG's network | {image_rates[algo]:.1f} | {rate / image_rates[algo]:.2f}"
            print(f"| {label} | {algo} | {rate:.1f} | {1e3 / rate:.1f} | {compared} |")


if __name__ == "__main__":
    main()
