"""SAC-CQL-SI's report on a sequential run: accuracy after each task, forgetting and forward transfer."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from polyarm_learning.trainer import Trainer


def sequential_report(request, trainer: Trainer) -> dict:
    """Accuracy after each task (p_i(j·Δ)), forgetting F_i = p_i(i·Δ) - p_i(T), and, with reference
    single-task runs, forward transfer FT_i = (AUC_i - AUC_i^b) / (1 - AUC_i^b) (the SAC-CQL-SI paper, eq. 9)."""
    tasks = trainer.spec.task_names
    n = len(tasks)
    accuracy = [[None] * n for _ in range(n)]
    for record in trainer.boundaries:
        stage = next(i for i, s in enumerate(trainer.stages) if s.name == record["stage"])
        accuracy[stage][tasks.index(record["task"])] = record["success"]
    forgetting = {tasks[i]: accuracy[i][i] - accuracy[n - 1][i] for i in range(n - 1)}
    steps = [s.steps for s in trainer.stages]
    auc = {}
    for i, name in enumerate(tasks):
        start = sum(steps[:i])
        curve = [(r["step"] - start, r["success"]) for r in trainer.history if r["task"] == name and start < r["step"] <= start + steps[i]]
        auc[name] = area_under_curve(curve, steps[i])
    report = {"tasks": tasks, "accuracy_after_task": accuracy, "forgetting": forgetting, "auc": auc,
              "si_strength": trainer.algorithm.config.si_strength}
    if request.reference_run:
        baseline = {}
        for run in request.reference_run:
            rows = list(csv.DictReader((Path(run) / "eval.csv").open()))
            for name in {r["task"] for r in rows}:
                points = [(int(r["step"]), float(r["success"])) for r in rows if r["task"] == name]
                baseline[name] = area_under_curve(points, max(s for s, _ in points))
        report["auc_reference"] = baseline
        report["forward_transfer"] = {t: forward_transfer(auc[t], baseline[t]) for t in tasks if t in baseline}
    (trainer.out / "sequential.json").write_text(json.dumps(report, indent=2))
    return report


def area_under_curve(points: list[tuple[int, float]], duration: int) -> float:
    """(1/Δ) ∫ p(t) dt over a task's Δ steps, from evaluations at (t, p), starting from p(0) = 0's
    first measured value held back to t = 0."""
    if not points:
        return 0.0
    t = np.array([0] + [p[0] for p in points], float)
    p = np.array([points[0][1]] + [q[1] for q in points], float)
    return float(np.trapezoid(p, t) / duration)


def forward_transfer(auc: float, auc_reference: float) -> float:
    return (auc - auc_reference) / (1.0 - auc_reference) if auc_reference < 1.0 else 0.0
