"""The training loop every algorithm shares: minibatches, a progress bar, periodic evaluation in the
Gymnasium env, CSV + TensorBoard logs and a PNG of the curves, and checkpoints that resume exactly.

A run directory holds:
    config.json   what was asked (algorithm, datasets, hyperparameters)
    train.csv     step, stage, name, value: the loss terms, averaged over each logging window
    eval.csv      step, stage, task, success, ci_low, ci_high, episodes
    tensorboard/  the same figures for `tensorboard --logdir`
    curves.png    loss and success curves
    best.pt       the deployable policy with the best mean success so far (policy-server format)
    last.pt       everything: every network, optimizer states and RNG state, to resume from
A run is a sequence of stages (one per task for SAC-CQL-SI, one otherwise); each stage trains on its
own data only.
"""

from __future__ import annotations

import csv
import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from policy_server.checkpoint import load, make_checkpoint, save
from policy_server.models import DEPLOYED
from policy_server.runtime import Policy

from polyarm_learning.algorithm import OfflineAlgorithm
from polyarm_learning.data import TransitionData
from polyarm_learning.evaluate import checkpoint_env, evaluate


@dataclass
class Stage:
    name: str
    data: TransitionData
    steps: int
    task: int = 0  # the task index this stage learns


@dataclass
class RunConfig:
    batch_size: int = 256
    seed: int = 0
    augment: bool = True  # random crop (image policies only)
    eval_every: int = 5000
    eval_episodes: int = 10
    eval_seed: int = 100_000  # evaluation episode i uses seed eval_seed + i, away from the data's seeds
    log_every: int = 100
    save_every: int = 5000
    progress: bool = True


@dataclass
class Spec:
    """What the checkpoint says about observations, actions and tasks."""

    robot: str
    task_names: list
    position_scale: float
    rotation_scale: float
    neutral_quaternion: tuple
    training: dict  # algorithm, datasets, hyperparameters: recorded in every checkpoint


class Trainer:
    def __init__(self, out: Path, algorithm: OfflineAlgorithm, stages: list[Stage], spec: Spec, config: RunConfig):
        self.out, self.algorithm, self.stages, self.spec, self.config = Path(out), algorithm, stages, spec, config
        self.step, self.stage_index, self.best = 0, 0, -1.0
        self.history: list[dict] = []  # every evaluation: step, stage, task, success
        self.boundaries: list[dict] = []  # evaluations at the end of each stage (SAC-CQL-SI's accuracy matrix)
        self._envs: dict = {}
        self._tensorboard = None

    @property
    def total_steps(self) -> int:
        return sum(s.steps for s in self.stages)

    # ------------------------------------------------------------------ the loop
    def run(self, resume: bool = False) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        if resume:
            self._resume()
        else:
            torch.manual_seed(self.config.seed)
            self._write_header()
        from tqdm import tqdm

        bar = tqdm(total=self.total_steps, initial=self.step, desc=self.spec.training["algo"], unit="step",
                   disable=not self.config.progress, dynamic_ncols=True)
        window, window_start, t0 = defaultdict(list), self.step, time.perf_counter()
        stage_end = self._stage_end()
        while self.stage_index < len(self.stages):
            stage = self.stages[self.stage_index]
            if self.step == stage_end - stage.steps:
                self.algorithm.begin_task(stage.task, self.step)
            batch = stage.data.sample(self.config.batch_size, augment=self.config.augment and stage.data.images is not None)
            for name, value in self.algorithm.update(batch, self.step).items():
                window[name].append(value)
            self.step += 1
            bar.update(1)
            if self.step % self.config.log_every == 0 or self.step == stage_end:
                rate = (self.step - window_start) / (time.perf_counter() - t0)
                self._log_train(stage.name, {k: float(np.mean(v)) for k, v in window.items()} | {"steps_per_second": rate})
                bar.set_postfix({k: f"{np.mean(v):.3g}" for k, v in list(window.items())[:3]})
                window, window_start, t0 = defaultdict(list), self.step, time.perf_counter()
            finished_stage = self.step == stage_end
            if self.step % self.config.eval_every == 0 or finished_stage:
                self._evaluate(stage.name, boundary=finished_stage)
            if finished_stage:
                self.stage_index += 1
                stage_end = self._stage_end()
            if self.step % self.config.save_every == 0 or finished_stage:
                self._save_last()
        bar.close()
        self._plot()
        if self._tensorboard is not None:
            self._tensorboard.close()
        return self.summary()

    def _stage_end(self) -> int:
        return sum(s.steps for s in self.stages[: self.stage_index + 1])

    # ------------------------------------------------------------------ evaluation
    def deployable_checkpoint(self) -> dict:
        key = DEPLOYED[self.algorithm.deployed_as][1]
        return self._checkpoint({key: self.algorithm.deployed().state_dict()}, {})

    def _evaluate(self, stage: str, boundary: bool) -> None:
        if self.config.eval_episodes <= 0:
            return
        checkpoint = self.deployable_checkpoint()
        rates = {}
        for name in self.spec.task_names:
            policy = Policy(checkpoint, task=name)
            if name not in self._envs:
                self._envs[name] = checkpoint_env(checkpoint, self.spec.robot, name)
            result = evaluate(policy, self.spec.robot, name, self.config.eval_episodes, self.config.eval_seed, env=self._envs[name])
            rates[name] = result.rate
            low, high = result.interval
            record = {"step": self.step, "stage": stage, "task": name, "success": result.rate, "ci_low": low,
                      "ci_high": high, "episodes": result.episodes}
            self.history.append(record)
            if boundary:
                self.boundaries.append(record)
            self._append_csv("eval.csv", record)
            self._scalar(f"success/{name}", result.rate)
        trained = self.spec.task_names[: max(self.stages[self.stage_index].task + 1, 1)] if len(self.stages) > 1 else self.spec.task_names
        score = float(np.mean([rates[t] for t in trained]))
        if score > self.best:
            self.best = score
            best = self.deployable_checkpoint()  # built again: it carries the evaluation just recorded
            save(best | {"training": {**best["training"], "best_success": score}}, self.out / "best.pt")
        self._plot()

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint(self, state_dicts: dict, resume: dict) -> dict:
        s = self.spec
        training = {**s.training, "steps": self.step, "seed": self.config.seed, "run": asdict(self.config),
                    "evaluations": self.history[-len(s.task_names):] if self.history else []}
        if resume:
            training["resume"] = resume
        return make_checkpoint(self.algorithm.deployed_as, self.algorithm.arch, state_dicts, s.task_names,
                               s.position_scale, s.rotation_scale, training, s.neutral_quaternion)

    def _save_last(self) -> None:
        resume = {
            "step": self.step, "best": self.best,
            "optimizers": {k: o.state_dict() for k, o in self.algorithm.optimizers().items()},
            "extra": self.algorithm.extra_state(), "rng": torch.get_rng_state(),
            "history": self.history, "boundaries": self.boundaries,
        }
        save(self._checkpoint({k: n.state_dict() for k, n in self.algorithm.networks().items()}, resume), self.out / "last.pt")

    def _resume(self) -> None:
        last = self.out / "last.pt"
        if not last.is_file():
            raise FileNotFoundError(f"nothing to resume: {last} does not exist")
        checkpoint = load(last)
        self._check_same_run(checkpoint, last)
        state = checkpoint["training"]["resume"]
        for name, network in self.algorithm.networks().items():
            network.load_state_dict(checkpoint["state_dicts"][name])
        for name, optimizer in self.algorithm.optimizers().items():
            optimizer.load_state_dict(state["optimizers"][name])
        self.algorithm.load_extra_state(state["extra"])
        torch.set_rng_state(state["rng"])
        self.step, self.best = int(state["step"]), float(state["best"])
        # the stage from the step, so a resumed run may also be given more --steps than it started with
        ends = np.cumsum([s.steps for s in self.stages])
        self.stage_index = int(np.searchsorted(ends, self.step, side="right"))
        self.history, self.boundaries = list(state["history"]), list(state["boundaries"])
        for name in ("train.csv", "eval.csv"):  # drop what was logged after the checkpoint
            path = self.out / name
            if path.exists():
                with path.open() as f:
                    rows = list(csv.DictReader(f))
                keep = [r for r in rows if int(r["step"]) <= self.step]
                with path.open("w", newline="") as f:
                    writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["step"])
                    writer.writeheader()
                    writer.writerows(keep)
        print(f"resuming {self.out} at step {self.step} of {self.total_steps}")

    def _check_same_run(self, checkpoint: dict, last: Path) -> None:
        """A resumed run continues with the algorithm, hyperparameters and networks it started with: else the
        saved state would not fit (an optimiser the run never had) or the checkpoints would misreport the run."""
        saved, asked = checkpoint["training"], self.spec.training
        pairs = [("algo", saved.get("algo"), asked["algo"])]
        pairs += [(k, v, asked["hyperparameters"][k]) for k, v in saved.get("hyperparameters", {}).items() if k in asked["hyperparameters"]]
        arch = self.algorithm.arch.to_dict()
        pairs += [(k, v, arch.get(k)) for k, v in checkpoint["architecture"].items()]
        changed = [f"{name} {before!r} (now {after!r})" for name, before, after in pairs if before != after]
        if changed:
            raise ValueError(f"{last} was trained with {', '.join(changed)}; resume with the options it started with "
                             f"({self.out / 'config.json'}), or start a new run with --out elsewhere")

    # ------------------------------------------------------------------ logs
    def _write_header(self) -> None:
        (self.out / "config.json").write_text(json.dumps({**self.spec.training, "run": asdict(self.config)}, indent=2, default=str))
        for name in ("train.csv", "eval.csv"):
            (self.out / name).unlink(missing_ok=True)

    def _log_train(self, stage: str, metrics: dict) -> None:
        for name, value in metrics.items():
            self._append_csv("train.csv", {"step": self.step, "stage": stage, "name": name, "value": value})
            self._scalar(f"train/{name}", value)

    def _append_csv(self, name: str, row: dict) -> None:
        path = self.out / name
        new = not path.exists() or path.stat().st_size == 0
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def _scalar(self, tag: str, value: float) -> None:
        if self._tensorboard is None:
            from torch.utils.tensorboard import SummaryWriter

            self._tensorboard = SummaryWriter(str(self.out / "tensorboard"), purge_step=self.step)
        self._tensorboard.add_scalar(tag, value, self.step)

    def _plot(self) -> None:
        from polyarm_learning.plots import plot_run

        plot_run(self.out, title=f"{self.spec.training['algo']} on {self.spec.robot}")

    def summary(self) -> dict:
        return {"steps": self.step, "best_success": self.best, "evaluations": self.history, "boundaries": self.boundaries}

