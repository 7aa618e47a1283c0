"""curves.png of a run: each loss term against steps, and each task's success rate with its
confidence band, stage boundaries marked. `polyarm compare`: several runs' success curves on one
figure.

    polyarm compare --run BC=runs/press_bc --run CQL=runs/press_cql --out docs/img/press48.png
"""

from __future__ import annotations

import argparse
import csv
import sys
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


def compare_runs(runs: list[tuple[str, Path]], out: Path, task: str = "", title: str = "") -> Path:
    """One panel per task: each run's success rate against gradient steps, with its 95% band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = defaultdict(list)  # task -> [(label, rows)]
    for label, run in runs:
        rows = read_rows(Path(run) / "eval.csv")
        if not rows:
            raise FileNotFoundError(f"{run} has no eval.csv (was it evaluated during training?)")
        by_task = defaultdict(list)
        for row in rows:
            by_task[row["task"]].append(row)
        for name, points in by_task.items():
            if not task or name == task:
                curves[name].append((label, points))
    if not curves:
        raise ValueError(f"no run was evaluated on task {task!r}")
    colors = {label: f"C{i}" for i, (label, _) in enumerate(runs)}  # a run keeps its colour in every panel
    fig, axes = plt.subplots(1, len(curves), figsize=(5.0 * len(curves), 3.4), squeeze=False)
    for ax, (name, series) in zip(axes.flat, curves.items(), strict=True):
        for label, points in series:
            steps = [int(p["step"]) for p in points]
            ax.plot(steps, [float(p["success"]) for p in points], marker="o", ms=3, label=label, color=colors[label])
            ax.fill_between(steps, [float(p["ci_low"]) for p in points], [float(p["ci_high"]) for p in points],
                            alpha=0.12, color=colors[label])
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{name}: success rate (95% CI)")
        ax.set_xlabel("gradient step")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def compare_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="polyarm compare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="append", required=True, metavar="LABEL=DIR", help="a training run; repeat")
    p.add_argument("--out", type=Path, required=True, help="PNG to write")
    p.add_argument("--task", default="", help="only this task's curves")
    p.add_argument("--title", default="")
    args = p.parse_args(argv)
    runs = []
    for item in args.run:
        label, sep, run = item.rpartition("=")  # labels may hold "=" (alpha=5)
        if not sep:
            p.error(f"--run takes LABEL=DIR, not {item!r}")
        runs.append((label, Path(run)))
    try:
        print(compare_runs(runs, args.out, args.task, args.title))
    except (FileNotFoundError, ValueError) as err:
        print(f"polyarm compare: {err}", file=sys.stderr)
        return 2
    return 0
