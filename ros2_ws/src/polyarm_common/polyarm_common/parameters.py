"""One way for a node to declare its ROS parameters: a table of `name: (default, description)`, or a
backend's options dataclass (polyarm_core.options), declared with their descriptions and read back."""

from __future__ import annotations

from polyarm_core.options import described
from rcl_interfaces.msg import ParameterDescriptor


def declare_parameters(node, table: dict[str, tuple]) -> dict:
    """Declares each `name: (default, description)` of `table` on `node`; the values it took (its overrides
    or the defaults), by name."""
    return {name: node.declare_parameter(name, default, ParameterDescriptor(description=description)).value
            for name, (default, description) in table.items()}


def declare_options(node, config_class) -> dict:
    """The user-facing fields of a backend's options dataclass, declared as parameters; their values by name."""
    return declare_parameters(node, described(config_class))
