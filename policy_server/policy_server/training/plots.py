"""curves.png of a run: each loss term against steps, and each task's success rate with its
confidence band, stage boundaries marked."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

SKIP = {"steps_per_second"}


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def plot_run(run: Path, title: str = "") -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = Path(run)
    train, evals = read_rows(run / "train.csv"), read_rows(run / "eval.csv")
    if not train and not evals:
        return None
    series = defaultdict(lambda: ([], []))
    boundaries, last_stage = [], None
    for row in train:
        if row["stage"] != last_stage and last_stage is not None:
            boundaries.append(int(row["step"]))
        last_stage = row["stage"]
        if row["name"] not in SKIP:
            series[row["name"]][0].append(int(row["step"]))
            series[row["name"]][1].append(float(row["value"]))
    panels = list(series) + ["success"]
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.flat, panels, strict=False):
        if name == "success":
            by_task = defaultdict(list)
            for row in evals:
                by_task[row["task"]].append(row)
            for task, points in by_task.items():
                steps = [int(p["step"]) for p in points]
                ax.plot(steps, [float(p["success"]) for p in points], marker="o", ms=3, label=task)
                ax.fill_between(steps, [float(p["ci_low"]) for p in points], [float(p["ci_high"]) for p in points], alpha=0.15)
            ax.set_ylim(-0.02, 1.02)
            ax.set_title("success rate (95% CI)")
            if by_task:
                ax.legend(fontsize=7)
        else:
            ax.plot(*series[name], lw=1)
            ax.set_title(name)
        for b in boundaries:
            ax.axvline(b, color="grey", ls=":", lw=0.8)
        ax.set_xlabel("gradient step")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    out = run / "curves.png"
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
