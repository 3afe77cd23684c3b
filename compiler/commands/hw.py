"""`snnc hw list` and `snnc hw show NAME|FILE.yaml`."""

from __future__ import annotations

import argparse

from ir.errors import InputError
from ir.hardware import builtin_targets, load_hw, profile_fixed


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hw", help="list hardware targets, show a target's limits and their sources")
    hw_sub = p.add_subparsers(dest="hw_verb", metavar="{list,show}")
    hw_sub.required = True
    ls = hw_sub.add_parser("list", help="built-in targets")
    ls.set_defaults(func=run_list)
    show = hw_sub.add_parser(
        "show", help="every limit and cost-model number of a target, with its source"
    )
    show.add_argument("target", metavar="NAME|FILE.yaml")
    show.add_argument(
        "--yaml",
        action="store_true",
        help="print the target as a commented YAML template to start a new target from",
    )
    show.add_argument(
        "-o",
        "--output",
        metavar="FILE.yaml",
        help="with --yaml: write the template to this new file",
    )
    show.set_defaults(func=run_show)


def run_list(args: argparse.Namespace) -> int:
    for name in builtin_targets():
        spec = load_hw(name)
        print(f"{name:10s} {spec.description}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    spec = load_hw(args.target)
    if args.output and not args.yaml:
        raise InputError("-o FILE.yaml goes with --yaml")
    if args.yaml:
        return _write_template(spec, args.output)
    fixed = profile_fixed(spec)
    print(f"target      {spec.name}")
    print(f"description {spec.description}")
    print(f"semantics   {spec.semantics}")
    print(f"file        {spec.source_file}")
    print()
    width = max(len(lim.key) for lim in spec.limits())
    print(f"{'limit':{width}s}  {'value':>10s}  {'':8s}  {'':5s}  source")
    for lim in spec.limits():
        mark = "estimate" if lim.estimate else ""
        fix = "fixed" if lim.key in fixed else ""
        print(f"{lim.key:{width}s}  {lim.value:>10d}  {mark:8s}  {fix:5s}  {lim.source}")
    n_est = sum(lim.estimate for lim in spec.limits())
    if n_est:
        print(
            f"\n{n_est} limits are estimates; edit the YAML with measured numbers "
            "when you have them."
        )
    print(
        f"fixed: set by the semantics profile {spec.semantics} (the arithmetic the simulator and "
        "Lava implement; synapse.max_weight_bits: at most the profile's); a config may not change "
        "them. Start a new target from `snnc hw show NAME --yaml -o FILE.yaml`."
    )
    print()
    if spec.cost is None:
        print("cost model: none (no `cost` section): snnc reports operation counts, not energy "
              "or time")
        return 0
    values = list(spec.cost.values())
    width = max(len(v.key) for v in values)
    print(f"{'cost model':{width}s}  {'value':>10s}  {'unit':4s}  {'':8s}  source")
    for v in values:
        mark = "estimate" if v.estimate else ""
        print(f"{v.key:{width}s}  {v.value:>10g}  {v.unit:4s}  {mark:8s}  {v.source}")
    n_est = sum(v.estimate for v in values)
    print(f"\n{n_est} of {len(values)} cost-model numbers are estimates (the source says why).")
    return 0


def _write_template(spec, output: str | None) -> int:
    from pathlib import Path

    from ir.atomic import atomic_write_text
    from ir.hw_template import yaml_template

    text = yaml_template(spec)
    if output is None:
        print(text, end="")
        return 0
    if Path(output).exists():
        raise InputError(
            f"-o {output}: exists; give a new file name (snnc never overwrites a config)"
        )
    atomic_write_text(output, text)
    print(f"wrote {output} (template of {spec.name}; edit it, then `snnc hw show {output}`)")
    return 0
