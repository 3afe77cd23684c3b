"""snnc's error hierarchy.

Every error a user can cause derives from `SnncError`; the CLI prints its message on one line
and exits 1. Any other exception that reaches the CLI is a bug and keeps its traceback.
Messages say what failed, the value, the limit and where the limit comes from.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "CapacityError",
    "ConfigError",
    "DatasetMissingError",
    "ExportError",
    "IRVerifyError",
    "InputError",
    "LavaScaleError",
    "ModelFormatError",
    "OutputError",
    "PassError",
    "PathError",
    "QuantizationError",
    "SnncError",
    "SpecError",
    "UnsupportedNodeError",
]


# A message names values it was given; a value can be huge (a YAML tree, a long list), and a
# terminal line of megabytes helps nobody: messages are cut here, saying how much was cut.
MAX_MESSAGE_CHARS = 2000


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    if len(line) > MAX_MESSAGE_CHARS:
        line = f"{line[:MAX_MESSAGE_CHARS]}... ({len(line) - MAX_MESSAGE_CHARS} more characters)"
    return line


class SnncError(Exception):
    """A user-caused error: printed as one line by the CLI, exit status 1."""

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))


class ConfigError(SnncError):
    """A hardware YAML that cannot be used: names the file, the key, what was expected."""

    def __init__(self, file: str, key: str | None, message: str) -> None:
        self.file, self.key = file, key
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(where + message)


class ModelFormatError(SnncError):
    """A model, program, NIR or input file that cannot be read: names the file and the field."""

    def __init__(self, file: str, field: str | None, message: str) -> None:
        self.file, self.field = file, field
        where = f"{file}: {field}: " if field else f"{file}: "
        super().__init__(where + message)


class IRVerifyError(SnncError):
    """The graph breaks an IR invariant; `where` names the population or projection.

    `excerpt` holds the printed IR around the offending node (not part of the one-line message).
    """

    def __init__(self, where: str, message: str, excerpt: str = "") -> None:
        self.where, self.excerpt = where, excerpt
        super().__init__(f"{where}: {message}")


class CapacityError(SnncError):
    """A network that does not fit: resource, need, limit and the YAML key of the limit."""

    def __init__(
        self, node: str, resource: str, need: int | float, limit: int | float, key: str,
        hint: str = "",
    ) -> None:
        self.node, self.resource, self.need, self.limit, self.key = node, resource, need, limit, key
        msg = f"{node}: needs {need} {resource}, the limit is {limit} ({key})"
        super().__init__(msg + (f"; {hint}" if hint else ""))


class UnsupportedNodeError(SnncError):
    """A node type a backend or importer cannot handle, with the list of what it supports."""

    def __init__(self, node: str, node_type: str, supported: list[str], by: str) -> None:
        self.node, self.node_type, self.supported = node, node_type, supported
        super().__init__(
            f"{node}: {by} does not support node type {node_type}; supported: "
            f"{', '.join(supported)}"
        )


class PassError(SnncError):
    """A compiler pass failed; `__cause__` is the underlying error."""

    def __init__(self, pass_name: str, done: list[str], cause: SnncError) -> None:
        self.pass_name, self.done = pass_name, done
        after = f" (after {', '.join(done)})" if done else ""
        super().__init__(f"pass {pass_name}{after}: {cause}")


class InputError(SnncError):
    """Bad input data or options (an input spike array, a dataset name, a step count)."""


class OutputError(SnncError):
    """An output snnc cannot or may not write: names the path and why (one of the inputs, a
    user's file in the way, a full disk, a read-only folder)."""


class BackendUnavailableError(SnncError):
    """A backend or device that is not installed here, and what is missing."""


class DatasetMissingError(SnncError):
    """A dataset that is not on this machine, and how to install it."""


class QuantizationError(SnncError):
    """A float network the target's formats cannot express (names population and field)."""


class ExportError(SnncError):
    """A graph (or part of one) that NIR cannot express; names the node and why."""


class SpecError(SnncError):
    """A sweep spec that cannot run (`app.sweep.spec`): names the file and the key."""

    def __init__(self, file: str, key: str | None, message: str) -> None:
        self.file, self.key = file, key
        super().__init__(f"{file}: {key}: {message}" if key else f"{file}: {message}")


class LavaScaleError(SnncError):
    """Lava cannot build or start a lowering this large (`backends.lava.run`; names the
    process count)."""


class PathError(ValueError):
    """A NIR path that has no snnc projection (compiler.nir.ops); the importer catches it and
    raises a ModelFormatError naming the file and nodes, so it never reaches the user."""
