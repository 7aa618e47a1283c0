"""Implementations by name: `polyarm driver --backend B`, `polyarm camera --backend B`, `polyarm teleop --device D`.

Each implementation is a Python entry point, as pytest, Gymnasium and ROS 2's own tools find plugins: a
package declares it in its setup.py, under one of GROUPS, and `polyarm` finds it once installed, with no
edit to polyarm. polyarm's own drivers, cameras and devices register the same way (their packages' setup.py).
A lab's UR5 driver:

    # setup.py of the lab's package
    entry_points={"polyarm.drivers": ["ur5 = lab_ur5.driver:UR5Driver"]}

Listing the names reads the installed packages' metadata and imports nothing. A driver's entry point is its
RobotDriver class, a camera's its Camera class (each with `config_class` and `create`), a teleop device's a
factory taking keyword options.
"""

from __future__ import annotations

import argparse
from importlib.metadata import EntryPoint, entry_points

from polyarm_core.options import add_arguments

GROUPS = {"driver": "polyarm.drivers", "camera": "polyarm.cameras", "teleop device": "polyarm.teleop_devices"}


class UnknownBackendError(ValueError):
    pass


def _entry_points(kind: str) -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=GROUPS[kind]):
        found.setdefault(point.name, point)  # first on sys.path wins, as for imports (a sourced install space)
    return found


def names(kind: str) -> list[str]:
    """The registered names of a kind ("driver", "camera", "teleop device"), sorted; imports nothing."""
    return sorted(_entry_points(kind))


def factory(kind: str, name: str):
    """What is registered under `name` (raises UnknownBackendError listing the valid names)."""
    found = _entry_points(kind)
    if name not in found:
        valid = ", ".join(sorted(found)) or "none installed"
        raise UnknownBackendError(f"unknown {kind} {name!r}; valid: {valid}")
    return found[name].load()


def parse_with_backend_options(parser: argparse.ArgumentParser, argv: list[str], kind: str, default: str) -> dict:
    """`argv` parsed by `parser` (which has a --backend option) and the flags of the backend it names, one per
    field of its config dataclass; the values given, by name (None: not given). `--backend B --help` lists B's."""
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--backend", default=default)
    chosen = first.parse_known_args(argv)[0].backend
    if chosen in names(kind):  # an unknown name is refused by `parser`, with the valid ones
        add_arguments(parser, factory(kind, chosen).config_class, f"options of the {chosen} {kind}")
    return vars(parser.parse_args(argv))
