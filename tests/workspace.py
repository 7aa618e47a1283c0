"""Where the ROS packages are: the folders ros2_ws/colcon_defaults.yaml gives colcon, read from that file so
the tests, colcon and the Makefile cannot disagree about the tree."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKSPACE = REPO / "ros2_ws"


def base_paths() -> list[Path]:
    defaults = yaml.safe_load((WORKSPACE / "colcon_defaults.yaml").read_text())
    return [(WORKSPACE / p).resolve() for p in defaults["build"]["base-paths"]]


def package_dirs() -> dict[str, Path]:
    """Every package (a folder with a package.xml) under the base paths: its name and folder."""
    found = {}
    for base in base_paths():
        for manifest in sorted(base.rglob("package.xml")):
            if not {"build", "install", "log"} & set(manifest.relative_to(base).parts):
                found[manifest.parent.name] = manifest.parent
    return found
