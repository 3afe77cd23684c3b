"""Seeded random models for the CLI-path differential suite (issue 6): what `snnc compile` accepts.

`cli_case(seed)` gives one model file's graph, its input spikes and the target to compile for:
- two seeds in three: a fixed-point network of `tests.backends.random_nets` (dense, sparse, conv,
  graded, skip, recurrent, delays, reset intervals, "extreme" parameters that wrap u, saturate
  v and overflow the synaptic sums), with the fields the target's YAML bounds clamped into range
  (`neuron.bias_exp_min/max`, `synapse.weight_exp_min/max`) and weights into what their sign
  mode holds, since compile checks them (Lava's clipping itself is covered by the in-process
  differential tests, which run without a target);
- one seed in three: a float network (dense, sparse or conv layers, skip and recurrent
  projections, delays, per-neuron or shared parameters) that compile quantizes;
- one seed in four compiles for `SPLIT_TARGET` (the `tiny` target with cores of 4 neurons), so
  that layers are cut into blocks over several cores and chips and Lava runs one process per
  block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ir import LIF, Conv2d, Dense, Graph, Input, Sparse, load_hw
from ir.nodes import conv2d_output_hw
from tests.backends.random_nets import FAMILIES, clamp_to, random_network

SPLIT_TARGET = "tiny4"


@dataclass
class CliCase:
    graph: Graph
    inputs: np.ndarray  # (batch, T, n_inputs)
    target: str
    kind: str  # "fixed/<family>" or "float/<layers>"
    seed: int


def _clamp_to_target(graph: Graph, target: str) -> Graph:
    return clamp_to(graph, load_hw("tiny" if target == SPLIT_TARGET else target))


def _float_lif(rng: np.random.Generator, shape: tuple[int, ...], dt: float) -> LIF:
    # A convolution's threshold and bias fold into its kernel per output channel only (quantize),
    # so spatial populations share theirs.
    per_neuron = len(shape) == 1 and rng.random() < 0.5

    def param(lo: float, hi: float):
        return rng.uniform(lo, hi, size=shape) if per_neuron else float(rng.uniform(lo, hi))

    tau_syn = float(rng.choice([0.0, 2 * dt, 5 * dt, np.inf]))
    tau_mem = float(rng.choice([np.inf, 3 * dt, 10 * dt, 40 * dt]))
    interval = int(rng.choice([0, 0, 0, 5]))
    offset = int(rng.integers(0, interval)) if interval else 0
    return LIF(shape, tau_syn=tau_syn, tau_mem=tau_mem, v_th=param(0.3, 1.5),
               bias=param(-0.05, 0.1), reset_interval=interval, reset_offset=offset)


def _float_projection(rng, src: str, dst: str, n_src: int, n_dst: int):
    scale = float(rng.uniform(0.2, 1.2))
    delay = int(rng.integers(0, 3)) if rng.random() < 0.3 else 0
    if rng.random() < 0.6:
        return Dense(src, dst, weight=rng.normal(0.1, scale, size=(n_dst, n_src)), delay=delay)
    mask = rng.random((n_dst, n_src)) < rng.uniform(0.2, 0.8)
    rows, cols = np.nonzero(mask)
    return Sparse(src, dst, rows=rows, cols=cols, values=rng.normal(0.1, scale, size=rows.size),
                  delay=delay)


def float_network(seed: int, steps: int) -> tuple[Graph, np.ndarray, str]:
    rng = np.random.default_rng([20250412, seed])
    dt = 1e-3
    pops: dict = {}
    projs: dict = {}
    conv = rng.random() < 0.3
    if conv:
        c, h, w = int(rng.integers(1, 3)), int(rng.integers(3, 6)), int(rng.integers(3, 6))
        pops["in"] = Input((c, h, w))
        k = int(rng.integers(1, min(3, h, w) + 1))
        stride = int(rng.integers(1, 3))
        c_out = int(rng.integers(1, 3))
        shape = (c_out, *conv2d_output_hw((h, w), (k, k), (stride, stride), (0, 0), (1, 1)))
        pops["c0"] = _float_lif(rng, shape, dt)
        projs["conv0"] = Conv2d("in", "c0", weight=rng.normal(0.2, 0.8, size=(c_out, c, k, k)),
                                stride=(stride, stride))
        names = ["in", "c0"]
    else:
        pops["in"] = Input((int(rng.integers(3, 12)),))
        names = ["in"]
    for k in range(int(rng.integers(1, 3))):
        name = f"l{k}"
        pops[name] = _float_lif(rng, (int(rng.integers(2, 9)),), dt)
        prev = names[-1]
        projs[f"p{k}"] = _float_projection(rng, prev, name, pops[prev].size, pops[name].size)
        names.append(name)
    layers = "conv" if conv else "fc"
    if len(names) >= 3 and rng.random() < 0.5:
        src = names[int(rng.integers(0, len(names) - 2))]
        projs["skip"] = _float_projection(rng, src, names[-1], pops[src].size, pops[names[-1]].size)
        layers += "+skip"
    if rng.random() < 0.4:
        target = names[int(rng.integers(1, len(names)))]
        n = pops[target].size
        projs["rec"] = _float_projection(rng, target, target, n, n)
        layers += "+recurrent"
    graph = Graph(populations=pops, projections=projs, dt=dt,
                  metadata={"seed": seed, "generator": "tests/cli/cli_nets.py"})
    n_in = pops["in"].size
    inputs = (rng.random((int(rng.integers(1, 3)), steps, n_in)) < rng.uniform(0.2, 0.6)).astype(
        np.uint8
    )
    return graph, inputs, layers


def split_target_yaml() -> dict:
    """`tiny` with 4 neurons a core and 16 chips: what `--hw` gets for SPLIT_TARGET cases."""
    spec = load_hw("tiny").to_dict()
    spec["name"] = SPLIT_TARGET
    spec["description"] = "tiny with 4-neuron cores: every layer is cut into blocks"
    spec["core"]["max_neurons"]["value"] = 4
    spec["system"]["max_chips"]["value"] = 16
    spec["system"]["mesh_columns"]["value"] = 4
    return spec


def cli_case(seed: int, steps: int = 10) -> CliCase:
    target = SPLIT_TARGET if seed % 4 == 3 else "loihi2"
    if seed % 3 == 2:
        graph, inputs, layers = float_network(seed, steps)
        return CliCase(graph, inputs, target, f"float/{layers}", seed)
    family = FAMILIES[(seed // 3 * 2 + seed % 3) % len(FAMILIES)]
    net = random_network(seed, steps=steps, batch=1 + seed % 2, family=family)
    return CliCase(_clamp_to_target(net.graph, target), net.inputs, target, f"fixed/{family}", seed)


__all__ = ["SPLIT_TARGET", "CliCase", "cli_case", "float_network", "split_target_yaml"]
