"""A backend's options as one dataclass (LeRobot's config dataclasses): its fields give the constructor's
defaults, the node's ROS parameters and the command line's flags, so an option is written once.

A field with `option(default, help)` is a user's option: the driver or camera node declares it as a ROS
parameter and `polyarm driver --backend B` offers it as `--name`. A field without a help text is internal
(set by code, not by a user).
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, field, fields


def option(default, help: str, choices: tuple = (), aliases: tuple = ()):  # noqa: A002 - argparse's word for it
    """A user-facing field: its default, what it does, the values it may take (empty: any), and other flags
    that mean it on the command line."""
    return field(default=default, metadata={"help": help, "choices": tuple(choices), "aliases": tuple(aliases)})


def _user_fields(config_class):
    """(field, default) of each user-facing field, in declaration order."""
    for f in fields(config_class):
        if "help" in f.metadata:
            yield f, (f.default if f.default is not MISSING else f.default_factory())


def described(config_class) -> dict[str, tuple]:
    """name: (default, description) of the user-facing fields, in declaration order."""
    return {f.name: (default, f.metadata["help"]) for f, default in _user_fields(config_class)}


def make_config(config_class, **options):
    """config_class(**options), checked: an unknown option or a value outside its choices raises ValueError
    naming the valid ones."""
    known = {f.name: f for f in fields(config_class)}
    if unknown := sorted(set(options) - set(known)):
        raise ValueError(f"{config_class.__name__} has no option {', '.join(unknown)}; valid: {', '.join(known)}")
    for name, value in options.items():
        choices = known[name].metadata.get("choices")
        if choices and value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return config_class(**options)


def add_arguments(parser: argparse.ArgumentParser, config_class, title: str) -> None:
    """One `--name` flag per user-facing field (default None: a flag not given leaves the parameter's default)."""
    group = parser.add_argument_group(title)
    for f, default in _user_fields(config_class):
        flag = "--" + f.name.replace("_", "-")
        text = f"{f.metadata['help']} (default {default!r})"
        flags = (flag, *f.metadata.get("aliases", ()))
        if isinstance(default, bool):
            group.add_argument(*flags, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            group.add_argument(*flags, dest=f.name, type=type(default), default=None, help=text,
                               choices=f.metadata["choices"] or None)
