"""Shared by the netx tests and the fixture generator: the committed fixtures, and running
lava-dl's own netx loader on snnc-layout inputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "netx"
# Fixtures whose reference is netx's own output (the others netx refuses: SLAYER's forward).
NETX_RUNS = (
    "cuba_mlp",
    "cuba_conv",
    "cuba_rec",
    "cuba_delay",
    "cuba_hetero",
    "sdnn_pilot",
    "rf_complex",
)
REFUSED = ("cuba_pool", "cuba_convt", "cuba_concat")
# SLAYER's Average readout: the reference holds its float32 means, snnc's host readout the
# float64 means of the same spike counts.
MEAN_ATOL = 1e-6


def program_output(graph: Any, spikes: np.ndarray) -> np.ndarray:
    """What a fixture's reference holds for an imported graph's output spikes: the spikes, or
    for an `average` layer the group means (`app.readouts.group_means`)."""
    from app.readouts import group_means

    spec = graph.metadata.get("readout") or {}
    means = (
        group_means(graph, {spec.get("population"): spikes})
        if spec.get("kind") == "group_mean"
        else {}
    )
    return next(iter(means.values())) if means else spikes


def assert_matches(graph: Any, out: np.ndarray, reference: np.ndarray, msg: str = "") -> None:
    """Exactly equal spikes; group means within MEAN_ATOL (float32 rounding of SLAYER's)."""
    if (graph.metadata.get("readout") or {}).get("kind") == "group_mean":
        np.testing.assert_allclose(out, reference, rtol=0, atol=MEAN_ATOL, err_msg=msg)
    else:
        np.testing.assert_array_equal(out, reference, err_msg=msg)


@dataclass(frozen=True)
class Fixture:
    name: str
    path: Path
    info: dict[str, Any]
    inputs: np.ndarray  # (batch, T, n_in), snnc order
    slayer: np.ndarray  # SLAYER's forward output, (batch, T, n_out)
    netx: np.ndarray | None  # netx's output, or None where netx refuses the file

    @property
    def netx_kwargs(self) -> dict[str, Any]:
        """The `hdf5.Network` arguments the generator used (JSON lists back to tuples)."""
        return {
            k: tuple(v) if isinstance(v, list) else v for k, v in self.info["netx_kwargs"].items()
        }

    @property
    def reference(self) -> np.ndarray:
        """netx's output where netx runs the file, else SLAYER's."""
        return self.netx if self.netx is not None else self.slayer


def fixture(name: str) -> Fixture:
    netx = FIXTURES / f"{name}.netx.npy"
    return Fixture(
        name=name,
        path=FIXTURES / f"{name}.net",
        info=json.loads((FIXTURES / f"{name}.json").read_text()),
        inputs=np.load(FIXTURES / f"{name}.input.npy", allow_pickle=False),
        slayer=np.load(FIXTURES / f"{name}.slayer.npy", allow_pickle=False),
        netx=np.load(netx, allow_pickle=False) if netx.exists() else None,
    )


def _reverse_leading(a: np.ndarray) -> np.ndarray:
    """(C, H, W, T) <-> (W, H, C, T): netx holds spatial data in Lava's (X, Y, Z) order."""
    axes = range(a.ndim - 1)
    return np.ascontiguousarray(np.moveaxis(a, axes, axes[::-1]))


def run_netx(
    path: str | Path,
    inputs: np.ndarray,
    shape: tuple[int, ...],
    samples: int | None = None,
    **network_kwargs: Any,
) -> np.ndarray:
    """netx's output (batch, T, n_out) on snnc-layout `inputs` (batch, T, n_in) of a network whose
    input has shape `shape` (C, H, W) or (n,) (`network_kwargs` go to `hdf5.Network`): one run
    per sample on `Loihi2SimCfg(select_tag='fixed_pt')`, the input sent by a RingBuffer into
    `net.inp` (or, when the first layer is an input layer with neurons, into those neurons'
    `a_in`: netx's Input block never connects its `inp` port (blocks/process.py), and lava-dl's
    own tests do this)."""
    from backends.lava.compat import ensure_lava_dl

    ensure_lava_dl()
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc import io

    steps = inputs.shape[1]
    outs = []
    for sample in inputs[:samples]:
        net = netx.hdf5.Network(net_config=str(path), **network_kwargs)
        data = _reverse_leading(np.moveaxis(sample, 0, -1).reshape(*shape, steps))
        src = io.source.RingBuffer(data=data.astype(np.int32))
        sink = io.sink.RingBuffer(shape=net.out.shape, buffer=steps)
        if isinstance(net.in_layer, netx.blocks.process.Input):
            src.s_out.connect(net.in_layer.neuron.a_in)
        else:
            src.s_out.connect(net.inp)
        net.out.connect(sink.a_in)
        try:
            net.run(
                condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt")
            )
            out = sink.data.get()
        finally:
            net.stop()
        outs.append(np.moveaxis(_reverse_leading(out), -1, 0).reshape(steps, -1))
    return np.stack(outs).astype(np.int32)
