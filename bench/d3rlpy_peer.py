"""The peer of bench_training.py: d3rlpy 2.8.1 CQL and PLAS updates on the same shapes, a block at a time.

Runs in d3rlpy's own environment (it pins gymnasium 1.0), e.g.
    python3 -m venv /tmp/d3venv && /tmp/d3venv/bin/pip install d3rlpy==2.8.1 torch==2.13.0
bench_training.py starts it and asks for blocks of steps in turn with its own, so that both meet the
same machine load. Protocol, one JSON line each way: it prints {"d3rlpy", "torch", "threads"} when
both algorithms are built and warmed up, then answers each line "ALGO STEPS" on standard input with
{"algo": ALGO, "steps_per_second": rate}; it ends at end of input.

Matched to polyarm's bench: 11-d observations, 8-d actions, 4000 transitions, MLP 256x256 actor and
twin critics, batch 256; CQL with one sampled action per source (COG's setting) and a fixed α
(no Lagrangian); PLAS with the 750x750 CVAE, timed after its warm-up (the CVAE pre-training).
Each step is what d3rlpy's fit() does per step: sample a batch from the buffer, then update().
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import d3rlpy
import numpy as np
import torch


def dataset(n: int = 4000, obs_dim: int = 11, action_dim: int = 8):
    rng = np.random.default_rng(0)
    observations = rng.standard_normal((n, obs_dim)).astype(np.float32)
    actions = rng.uniform(-1, 1, (n, action_dim)).astype(np.float32)
    rewards = (rng.random(n) > 0.7).astype(np.float32)
    terminals = np.zeros(n, np.float32)
    timeouts = np.zeros(n, np.float32)
    timeouts[19::20] = 1.0  # 20-step episodes, as the press-button data
    return d3rlpy.dataset.MDPDataset(observations, actions, rewards, terminals, timeouts)


def algorithms(batch_size: int) -> dict:
    mlp = d3rlpy.models.VectorEncoderFactory([256, 256])
    cql = d3rlpy.algos.CQLConfig(actor_encoder_factory=mlp, critic_encoder_factory=mlp, batch_size=batch_size,
                                 n_action_samples=1, conservative_weight=1.0, alpha_learning_rate=0.0).create(device="cpu:0")
    plas = d3rlpy.algos.PLASConfig(actor_encoder_factory=mlp, critic_encoder_factory=mlp,
                                   imitator_encoder_factory=d3rlpy.models.VectorEncoderFactory([750, 750]),
                                   batch_size=batch_size, warmup_steps=0).create(device="cpu:0")
    return {"cql": cql, "plas": plas}


def steps_per_second(algo, data, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        algo.update(data.sample_transition_batch(algo.config.batch_size))
    return steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    data = dataset()
    algos = algorithms(args.batch_size)
    for algo in algos.values():
        algo.build_with_dataset(data)
        steps_per_second(algo, data, 3)
    print(json.dumps({"d3rlpy": d3rlpy.__version__, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        name, steps = line.split()
        rate = steps_per_second(algos[name], data, int(steps))
        print(json.dumps({"algo": name, "steps_per_second": rate}), flush=True)


if __name__ == "__main__":
    main()
