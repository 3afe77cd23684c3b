"""Building small NIR files with the `nir` package, running imported graphs, and reference
simulations of NIR's equations written out independently of the importer."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np

from backends import get_backend
from backends.base import Probe
from compiler.nir.importer import import_nir


def write_nir(path: Path, nodes: dict, edges: list, metadata: dict | None = None) -> Path:
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata or {}, type_check=False)
    nir.write(path, graph)
    return path


def inp(n) -> nir.Input:
    return nir.Input(input_type=np.atleast_1d(np.asarray(n)))


def out(n) -> nir.Output:
    return nir.Output(output_type=np.atleast_1d(np.asarray(n)))


def spikes(rng: np.random.Generator, batch: int, steps: int, n: int, p: float = 0.3) -> np.ndarray:
    return (rng.random((batch, steps, n)) < p).astype(np.int64)


def imported(path: Path, **kwargs):
    warnings: list[str] = []
    graph = import_nir(path, warn=warnings.append, **kwargs)
    return graph, warnings


def run_float(graph, x: np.ndarray, steps: int, variables=("spikes",)):
    probes = [Probe(name, tuple(variables)) for name in graph.output_names]
    return get_backend("float")(graph, x, steps=steps, probes=probes)


def shifted(arr: np.ndarray, latency: int, steps: int) -> np.ndarray:
    """snnc's trace from step latency on (its step t + latency is the framework's step t)."""
    return arr[:, latency:latency + steps]


def late(drive: np.ndarray, latency: int) -> np.ndarray:
    """`drive` arriving `latency` steps late: (batch, T + latency, n), zeros first.

    A single layer in snnc equals NIR's equations on its input delayed by one step, biases and
    leaks included (both act from the first step)."""
    b, t, n = drive.shape
    return np.concatenate([np.zeros((b, latency, n)), drive], axis=1)


def euler_lif(drive: np.ndarray, tau, r, v_leak, v_th, v_reset, dt, method="euler", spiking=True):
    """NIR LIF / LI: tau v' = (v_leak - v) + r I, stepped; starts at v_reset;
    returns (spikes, v)."""
    b, steps, n = drive.shape
    tau, r, v_leak = (np.broadcast_to(np.asarray(a, float), (n,)) for a in (tau, r, v_leak))
    v_reset = np.broadcast_to(np.asarray(v_reset, float), (n,))
    if method == "euler":
        k = dt / tau
        alpha = 1 - k
    else:
        alpha = np.exp(-dt / tau)
        k = 1 - alpha
    v = np.broadcast_to(v_reset, (b, n)).copy()
    s_out, v_out = np.zeros((b, steps, n), np.uint8), np.zeros((b, steps, n))
    for t in range(steps):
        v = alpha * v + k * (v_leak + r * drive[:, t])
        if spiking:
            s = v > v_th
            v = np.where(s, v_reset, v)
            s_out[:, t] = s
        v_out[:, t] = v
    return s_out, v_out


def conv2d_loops(x: np.ndarray, w: np.ndarray, stride, padding, groups=1) -> np.ndarray:
    """Cross-correlation by explicit loops (independent of the code under test)."""
    b, c_in, h, wd = x.shape
    c_out, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    oh = (h + 2 * padding[0] - kh) // stride[0] + 1
    ow = (wd + 2 * padding[1] - kw) // stride[1] + 1
    out = np.zeros((b, c_out, oh, ow))
    og = c_out // groups
    for o in range(c_out):
        g = o // og
        for i in range(oh):
            for j in range(ow):
                patch = xp[
                    :,
                    g * cg : (g + 1) * cg,
                    i * stride[0] : i * stride[0] + kh,
                    j * stride[1] : j * stride[1] + kw,
                ]
                out[:, o, i, j] = np.sum(patch * w[o], axis=(1, 2, 3))
    return out


def nir_lif_mlp(path: Path, sizes: list[int], seed: int = 0, tau: float = 0.02) -> Path:
    """A NIR MLP as a new user would export one: Linear layers with weights N(0, 2/sqrt(fan-in))
    (seeded), each followed by a LIF (tau, r = 1, v_leak = 0, v_threshold = 1)."""
    rng = np.random.default_rng(seed)
    nodes: dict = {"input": inp(sizes[0])}
    edges = []
    prev = "input"
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        nodes[f"fc{k}"] = nir.Linear(weight=rng.normal(0.0, 2.0 / np.sqrt(a), size=(b, a)))
        nodes[f"lif{k}"] = nir.LIF(
            tau=np.full(b, tau), r=np.ones(b), v_leak=np.zeros(b), v_threshold=np.ones(b)
        )
        edges += [(prev, f"fc{k}"), (f"fc{k}", f"lif{k}")]
        prev = f"lif{k}"
    nodes["output"] = out(sizes[-1])
    edges.append((prev, "output"))
    return write_nir(path, nodes, edges)
