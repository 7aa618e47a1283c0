"""Training speed: gradient steps per second of each algorithm on the same synthetic transitions, the
same networks and the same batch size, for state-based (MLP 256x256) and 48x48 image (COG's network)
policies. The peer, d3rlpy 2.8.1, needs its own environment (it pins gymnasium 1.0); give its
Python with --peer-python and the state-based CQL and PLAS rows get its speed on the same shapes,
networks and batch size (bench/d3rlpy_peer.py), measured in the same run: the two alternate for
--rounds rounds, because the machine's load moves both by 20% and more from minute to minute, and the
table gives medians with the range of the per-round ratios. The image options with features
projected to 50 (each network with its own encoder, or the faster one encoder shared by critics and
actor) are timed against COG's network:

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
from policy_server.training.data import TransitionData
from policy_server.training.recipes import ALGORITHMS, CONFIGS

FAST_FEATURES = 50  # DrQ's feature width
PEER_ALGORITHMS = ("cql", "plas")  # what bench/d3rlpy_peer.py times


def synthetic(image_size: int, n: int = 4000, state_dim: int = 8) -> TransitionData:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n + 1, 3, image_size, image_size), dtype=torch.uint8, generator=g) if image_size else None
    return TransitionData(images, torch.randn(n + 1, state_dim, generator=g), torch.rand(n, 8, generator=g) * 2 - 1,
                          (torch.rand(n, generator=g) > 0.7).float(), torch.zeros(n), torch.arange(n), torch.arange(1, n + 1),
                          torch.zeros(n, dtype=torch.int64), {})


def steps_per_second(algo: str, arch: Architecture, data: TransitionData, batch_size: int, steps: int) -> float:
    config = CONFIGS[algo]()
    if hasattr(config, "bc_steps"):
        config.bc_steps = 0  # time the RL update, not the warm start
    if hasattr(config, "vae_steps"):
        config.vae_steps = 0
    algorithm = ALGORITHMS[algo](arch, config)
    augment = data.images is not None
    for i in range(3):
        algorithm.update(data.sample(batch_size, augment), i + 1)
    t0 = time.perf_counter()
    for i in range(steps):
        algorithm.update(data.sample(batch_size, augment), i + 4)
    return steps / (time.perf_counter() - t0)


def peer_speeds(python: str, steps: int, batch_size: int) -> dict:
    script = Path(__file__).resolve().parent / "d3rlpy_peer.py"
    done = subprocess.run([python, str(script), "--steps", str(steps), "--batch-size", str(batch_size)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--peer-python", help="Python of an environment with d3rlpy 2.8.1")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rows with a peer: the peer and polyarm alternate this many times (medians reported)")
    args = parser.parse_args()
    state = Architecture(image_size=0, state_dim=11, hidden=(256, 256))
    state_data = synthetic(0, state_dim=state.state_dim)
    peer, rounds = {}, {}
    if args.peer_python:  # interleaved, so that a change in the machine's load hits both libraries alike
        peer_runs, ours = [], {algo: [] for algo in PEER_ALGORITHMS}
        for _ in range(args.rounds):
            peer_runs.append(peer_speeds(args.peer_python, args.steps, args.batch_size))
            for algo in PEER_ALGORITHMS:
                ours[algo].append(steps_per_second(algo, state, state_data, args.batch_size, args.steps))
        peer = {**peer_runs[0], **{algo: statistics.median(r[algo] for r in peer_runs) for algo in PEER_ALGORITHMS}}
        rounds = {algo: (ours[algo], [o / r[algo] for o, r in zip(ours[algo], peer_runs, strict=True)]) for algo in PEER_ALGORITHMS}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}, {args.steps} timed steps"
          + (f"; peer d3rlpy {peer['d3rlpy']} (torch {peer['torch']}, {peer['threads']} threads), "
             f"{args.rounds} interleaved rounds: medians, ratio range in brackets" if peer else ""))
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
            if arch == state and algo in rounds:  # measured above, against the peer
                rates, ratios = rounds[algo]
                rate = statistics.median(rates)
                versus = f"d3rlpy | {peer[algo]:.1f} | {statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
            else:
                rate = steps_per_second(algo, arch, data, args.batch_size, args.steps)
                versus = "- | - | -"
            if arch == image:
                image_rates[algo] = rate
            if arch.feature_dim:  # the 50-d options against COG's network in the same run
                versus = f"COG's network | {image_rates[algo]:.1f} | {rate / image_rates[algo]:.2f}"
            print(f"| {label} | {algo} | {rate:.1f} | {1e3 / rate:.1f} | {versus} |")


if __name__ == "__main__":
    main()
