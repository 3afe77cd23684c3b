"""The sweep SPEC file and the options of each step, taken from the commands' own parsers.

    model: digits.snnc            # a model file (relative to this file), or
    train:                        # a model trained per point: `snnc train TRAINER` options
      trainer: conversion
      dataset: digits
    target: loihi2                # a built-in target or a hardware YAML file
    compile: {split-signs: true}  # `snnc compile` options for every point (optional)
    eval: {dataset: digits, samples: 450, backend: cpu}   # `snnc eval` options
    grid:                         # STEP.OPTION: [values]; every point of the product runs
      compile.weight-bits: [2, 4, 6, 8]
      eval.steps: [16, 32, 64]

The keys of `train:`, `compile:`, `eval:` and the grid are the long options of `snnc train
TRAINER`, `snnc compile` and `snnc eval` without their dashes, read from those commands' parsers
(`register` in compiler/commands/*.py and trainers/*/cli.py), so a new option is a sweep key at
once. A value is checked as argparse checks it (the option's type and choices); a flag takes
true or false. Each step's options become that command's argument list, parsed by its parser:
a point runs what the command would run with those options.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ir.errors import SnncError, SpecError

__all__ = [
    "STEPS",
    "Point",
    "SpecError",
    "SweepSpec",
    "load_spec",
    "option_text",
    "parse_step",
    "step_options",
]

STEPS = ("train", "compile", "eval")
TOP_KEYS = ("model", "train", "target", "dt", "compile", "eval", "grid")
MAX_SPEC_BYTES = 1 << 20
MAX_POINTS = 100_000

# Options a point does not take from the spec, and why (by argparse dest).
_NOT_KEYS: dict[str, dict[str, str]] = {
    "train": {
        "output": "the sweep keeps trained models in its folder",
        "json": "the sweep writes results.json",
    },
    "compile": {
        "output": "the sweep keeps no BUILD folders",
        "target": "set the target with the spec's top-level 'target:'",
        "hw": "set the target with the spec's top-level 'target:' (a name or a YAML file)",
        "dt": "set dt with the spec's top-level 'dt:'",
        "print_ir_after": "a sweep prints no IR",
    },
    "eval": {
        "json": "the sweep writes results.json",
        "dt": "set dt with the spec's top-level 'dt:'",
        "executor": "the sweep runs each point in one task (`snnc sweep --executor`)",
        "shards": "the sweep runs each point in one task (`snnc sweep --executor`)",
        "address": "give `snnc sweep --address`",
        "workers": "give `snnc sweep --workers`",
    },
}
# What stands for the positional arguments and required outputs when a step's options are parsed.
_PLACEHOLDERS: dict[str, list[str]] = {
    "train": ["-o", "<sweep>"],
    "compile": ["<model>", "-o", "<sweep>"],
    "eval": ["<model>"],
}


class _ParseError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """A command's parser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _ParseError(message)

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise _ParseError(message or f"exit {status}")


@functools.lru_cache(maxsize=8)
def _parser(step: str, trainer: str | None = None) -> _Parser:
    """The parser of `snnc compile`, `snnc eval` or `snnc train TRAINER`, from their
    `register` functions."""
    root = _Parser(prog="snnc", add_help=False)
    sub = root.add_subparsers(dest="verb")
    if step == "train":
        from trainers import TRAINERS

        importlib.import_module(TRAINERS[trainer]).register(sub)  # type: ignore[index]
        return sub.choices[trainer]  # type: ignore[index]
    importlib.import_module(f"compiler.commands.{step}").register(sub)
    return sub.choices[step]


def _key_name(action: argparse.Action) -> str | None:
    longs = [o for o in action.option_strings if o.startswith("--")]
    return longs[0][2:] if longs else None


@functools.lru_cache(maxsize=8)
def step_options(step: str, trainer: str | None = None) -> dict[str, argparse.Action]:
    """key (a long option without dashes) -> its argparse action, for one step."""
    out: dict[str, argparse.Action] = {}
    for action in _parser(step, trainer)._actions:
        key = _key_name(action)
        if key is None or action.dest == "help" or action.dest in _NOT_KEYS[step]:
            continue
        out[key] = action
    return out


def _excluded(step: str, trainer: str | None, key: str) -> str | None:
    """Why `key` is an option of the command but not of a sweep (None if it is not one)."""
    for action in _parser(step, trainer)._actions:
        if _key_name(action) == key and action.dest in _NOT_KEYS[step]:
            return _NOT_KEYS[step][action.dest]
    return None


def option_text(value: Any) -> str:
    """A YAML scalar as the command line would spell it (and as results.csv shows it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _convert(action: argparse.Action, text: str) -> Any:
    """What argparse makes of `text` for `action` (its type, then its choices), or _ParseError
    with argparse's own wording."""
    convert = action.type if callable(action.type) else str
    try:
        value = convert(text)
    except argparse.ArgumentTypeError as e:
        raise _ParseError(str(e)) from None
    except (TypeError, ValueError):
        name = getattr(convert, "__name__", repr(convert))
        raise _ParseError(f"invalid {name} value: {text!r}") from None
    if action.choices is not None and value not in action.choices:
        raise _ParseError(
            f"invalid choice: {value!r} (choose from {', '.join(map(str, action.choices))})"
        )
    return value


def option_tokens(
    file: str, where: str, step: str, trainer: str | None, key: str, value: Any
) -> list[str]:
    """The command-line tokens for one option value, checked; SpecError naming `where`."""
    options = step_options(step, trainer)
    action = options.get(key)
    if action is None:
        why = _excluded(step, trainer, key)
        if why is not None:
            raise SpecError(file, where, f"not a sweep option ({why})")
        command = f"snnc train {trainer}" if step == "train" else f"snnc {step}"
        raise SpecError(
            file, where, f"unknown option of `{command}`; known: {', '.join(sorted(options))}"
        )
    flag = f"--{key}"
    if action.nargs == 0:
        if not isinstance(value, bool):
            raise SpecError(file, where, f"{flag} is a flag: give true or false, got {value!r}")
        return [flag] if value else []
    if action.nargs is not None or isinstance(action, argparse._AppendAction):
        raise SpecError(file, where, f"{flag} takes several values; not a sweep option")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SpecError(file, where, f"expected one {_type_name(action)} value, got {value!r}")
    text = option_text(value)
    try:
        _convert(action, text)
    except _ParseError as e:
        raise SpecError(file, where, f"{flag}: {e}") from None
    return [flag, text]


def _type_name(action: argparse.Action) -> str:
    if action.choices is not None:
        return "of " + ", ".join(map(str, action.choices))
    return getattr(action.type, "__name__", "str") if callable(action.type) else "str"


def parse_step(step: str, trainer: str | None, argv: Sequence[str]) -> argparse.Namespace:
    """The step's options as its command parses them (placeholders for its positionals)."""
    try:
        return _parser(step, trainer).parse_args([*_PLACEHOLDERS[step], *argv])
    except _ParseError as e:
        raise SnncError(str(e)) from None


def step_params(step: str, trainer: str | None, argv: Sequence[str]) -> dict[str, Any]:
    """The parsed options as plain data (defaults included): what a point's key records."""
    ns = vars(parse_step(step, trainer, argv))
    skip = {a.dest for a in _parser(step, trainer)._actions if not a.option_strings}
    skip |= set(_NOT_KEYS[step])
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in sorted(ns.items())
        if k not in skip and (v is None or isinstance(v, (bool, int, float, str, tuple)))
    }


@dataclass(frozen=True)
class Point:
    """One point of the grid: its values (in the grid's key order) and each step's argv."""

    index: int
    values: tuple[Any, ...]
    argv: Mapping[str, tuple[str, ...]]

    def label(self, keys: Sequence[str]) -> str:
        return " ".join(f"{k}={option_text(v)}" for k, v in zip(keys, self.values, strict=True))


@dataclass(frozen=True)
class SweepSpec:
    file: str
    model: Path | None
    trainer: str | None
    target: str
    dt: float | None
    fixed: Mapping[str, tuple[str, ...]]
    """step -> argv of the options every point shares (the spec's train:, compile:, eval:)"""
    grid: Mapping[str, tuple[Any, ...]]
    """"STEP.OPTION" -> values, in the spec's order"""

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.grid)

    @property
    def steps(self) -> tuple[str, ...]:
        return STEPS if self.trainer is not None else STEPS[1:]

    def points(self) -> list[Point]:
        """The grid's product, in order (the last key varies fastest)."""
        out = []
        for i, values in enumerate(itertools.product(*self.grid.values())):
            argv = {step: list(self.fixed.get(step, ())) for step in self.steps}
            for key, value in zip(self.grid, values, strict=True):
                step, option = key.split(".", 1)
                argv[step] += option_tokens(self.file, f"grid.{key}", step, self.trainer, option,
                                            value)
            out.append(Point(i, tuple(values), {s: tuple(a) for s, a in argv.items()}))
        return out


def _read(path: Path) -> dict[str, Any]:
    file = str(path)
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(file, None, f"larger than {MAX_SPEC_BYTES} bytes; not a sweep spec")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(file, None, "no such file") from None
    except IsADirectoryError:
        raise SpecError(file, None, "is a folder, not a YAML file") from None
    except UnicodeDecodeError:
        raise SpecError(file, None, "not UTF-8 text") from None
    except OSError as e:
        raise SpecError(file, None, f"cannot read ({e.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError(file, None, f"not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise SpecError(file, None, "expected a mapping (model/train, target, eval, grid)")
    return data


def _section(file: str, data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise SpecError(file, name, "expected a mapping of option: value")
    return value


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and check a spec: every key and value, and each point's options as its command
    parses them. SpecError (one line, naming the key) on the first problem."""
    p = Path(path)
    file = str(path)
    data = _read(p)
    for key in data:
        if key not in TOP_KEYS:
            raise SpecError(file, str(key), f"unknown key; the keys are {', '.join(TOP_KEYS)}")
    trainer, model = _model(file, p.parent, data)
    target = data.get("target")
    if not isinstance(target, str) or not target:
        raise SpecError(file, "target", "give a built-in target (`snnc hw list`) or a YAML file")
    if (p.parent / target).suffix.lower() in (".yaml", ".yml"):
        target = str(p.parent / target)
    dt = data.get("dt")
    if dt is not None and (isinstance(dt, bool) or not isinstance(dt, (int, float)) or dt <= 0):
        raise SpecError(file, "dt", f"expected a positive time step in seconds, got {dt!r}")
    if "eval" not in data:
        raise SpecError(file, "eval", "missing; give at least eval.dataset")
    fixed: dict[str, tuple[str, ...]] = {}
    steps = STEPS if trainer is not None else STEPS[1:]
    for step in steps:
        section = _section(file, data, step)
        argv: list[str] = []
        for key, value in section.items():
            if step == "train" and key == "trainer":
                continue
            argv += option_tokens(file, f"{step}.{key}", step, trainer, key, value)
        fixed[step] = tuple(argv)
    grid = _grid(file, data, trainer)
    spec = SweepSpec(file, model, trainer, target, None if dt is None else float(dt), fixed, grid)
    points = spec.points()
    for step in steps:  # what only a whole argument list shows: a required option missing, ...
        for argv in sorted({pt.argv[step] for pt in points}):
            try:
                parse_step(step, trainer, argv)
            except SnncError as e:
                raise SpecError(file, step, f"{e} (give it in '{step}:' or the grid)") from None
    return spec


def _model(file: str, folder: Path, data: Mapping[str, Any]) -> tuple[str | None, Path | None]:
    from app.training import SWEEP_TRAINERS

    if ("model" in data) == ("train" in data):
        raise SpecError(file, "model", "give either 'model:' (a model file) or 'train:', not both")
    if "model" in data:
        model = data["model"]
        if not isinstance(model, str) or not model:
            raise SpecError(file, "model", "expected the path of a model file")
        return None, folder / model
    train = _section(file, data, "train")
    trainer = train.get("trainer")
    if trainer not in SWEEP_TRAINERS:
        raise SpecError(
            file, "train.trainer",
            f"expected one of {', '.join(SWEEP_TRAINERS)} (trainers of classifiers), "
            f"got {trainer!r}",
        )
    return trainer, None


def _grid(file: str, data: Mapping[str, Any], trainer: str | None) -> dict[str, tuple[Any, ...]]:
    grid = data.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise SpecError(
            file, "grid", "expected a mapping of STEP.OPTION: [values] (one key at least)"
        )
    out: dict[str, tuple[Any, ...]] = {}
    size = 1
    for key, values in grid.items():
        where = f"grid.{key}"
        step, _, option = str(key).partition(".")
        if step not in STEPS or not option:
            raise SpecError(
                file, where, f"expected STEP.OPTION with STEP one of {', '.join(STEPS)}"
            )
        if step == "train" and trainer is None:
            raise SpecError(file, where, "a train option, but the spec names a model, not 'train:'")
        if not isinstance(values, list) or not values:
            raise SpecError(file, where, f"expected a non-empty list of values, got {values!r}")
        seen: set[str] = set()
        for value in values:
            option_tokens(file, where, step, trainer, option, value)
            if option_text(value) in seen:
                raise SpecError(file, where, f"lists {option_text(value)} twice")
            seen.add(option_text(value))
        out[str(key)] = tuple(values)
        size *= len(values)
        if size > MAX_POINTS:
            raise SpecError(file, "grid", f"more than {MAX_POINTS} points")
    return out
