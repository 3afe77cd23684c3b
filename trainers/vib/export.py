"""A trained VIB model as snnc artifacts: the encoder as a float `ir.Graph`, the decoder file.

The graph is the chain `in` -> `hidden1` ... -> `readout` of `ir.nodes.LIF` populations joined
by `Dense` projections, with the graph's dt = 1 ms per step (time constants are steps x dt).
The readout is deployed as a deterministic LIF with `tau_mem = 0` (no membrane memory, so
v = u + b and the reset is moot) and threshold `v_th`: it fires exactly where the trained
Bernoulli readout's probability sigmoid(v - v_th) exceeds 1/2. The decoder lives on the host in
`<model stem>.decoder.npz` (`trainers.vib.decoder`), named with its sha256 in
`metadata["decoder"]`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ir.graph import Graph
from ir.nodes import LIF, Dense, Input
from ir.serialize import save_graph
from ir.verify import verify
from trainers.vib.decoder import DecoderSpec, write_decoder_file

__all__ = [
    "DT",
    "INPUT",
    "READOUT",
    "decoder_path_for",
    "encoder_graph",
    "hidden_name",
    "write_model",
]

DT = 1e-3  # seconds per step; equal to trainers.vib.network.DT (kept torch-free here)
INPUT = "in"
READOUT = "readout"
DEPLOYMENT_NOTE = (
    "readout deployed as a deterministic LIF (tau_mem = 0, spike where v > v_th, i.e. where "
    "the trained Bernoulli probability sigmoid(v - v_th) > 1/2)"
)


def hidden_name(i: int) -> str:
    return f"hidden{i + 1}"


def _tau_seconds(tau_steps: float) -> float:
    return float(tau_steps) * DT


def encoder_graph(
    weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], *, tau_syn_hidden: float,
    tau_mem_hidden: float, tau_syn_readout: float, v_th_hidden: float = 1.0,
    v_th_readout: float = 1.0, metadata: dict[str, Any] | None = None,
) -> Graph:
    """The float encoder graph for layer weights (n_out, n_in) and biases, input first."""
    n_layers = len(weights)
    names = [INPUT, *(hidden_name(i) for i in range(n_layers - 1)), READOUT]
    pops: dict[str, Any] = {INPUT: Input((int(weights[0].shape[1]),))}
    projs: dict[str, Any] = {}
    for layer, (w, b) in enumerate(zip(weights, biases, strict=True)):
        name = names[layer + 1]
        if layer < n_layers - 1:
            pops[name] = LIF(
                (int(w.shape[0]),),
                tau_syn=_tau_seconds(tau_syn_hidden),
                tau_mem=_tau_seconds(tau_mem_hidden),
                v_th=v_th_hidden,
                bias=np.asarray(b),
            )
        else:
            pops[name] = LIF((int(w.shape[0]),), tau_syn=_tau_seconds(tau_syn_readout), tau_mem=0.0,
                             v_th=v_th_readout, bias=np.asarray(b))
        projs[f"{names[layer]}_{name}"] = Dense(names[layer], name, weight=np.asarray(w))
    return verify(
        Graph(
            populations=pops, projections=projs, dt=DT, outputs=(READOUT,), metadata=metadata or {}
        )
    )


def decoder_path_for(model_path: str | os.PathLike) -> Path:
    """`dir/name.snnc` -> `dir/name.decoder.npz`."""
    p = Path(model_path)
    return p.with_name(f"{p.stem if p.suffix else p.name}.decoder.npz")


def _metadata(result, decoder_file: str, sha: str) -> dict[str, Any]:
    cfg = result.config
    spec: DecoderSpec = result.spec
    if cfg.is_pc:
        task = {"kind": "predictive_coding", "n_inputs": result.shape.n_inputs, "n_blobs": 2,
                "delta": cfg.delta, "metric": "pattern_accuracy"}
        encoding = {"kind": "drifting_blobs", "steps": cfg.steps, "seed": cfg.seed, "n_blobs": 2}
    else:
        task = {"kind": "reconstruction", "dataset": cfg.task, "metric": "classifier_accuracy",
                "n_pixels": result.shape.n_inputs, "n_classes": 10}
        encoding = (
            {"kind": "rate", "max_rate": cfg.max_rate}
            if cfg.encoding == "rate"
            else {"kind": "latency"}
        )
        encoding.update(steps=cfg.steps, seed=cfg.seed)
    decoder = {"file": decoder_file, "sha256": sha, **spec.to_json(), "run_steps": result.run_steps,
               "population": READOUT, "variants": ["deployed", "sampled"]}
    if result.classifier is not None:
        decoder["classifier"] = {
            "kind": "logistic_regression",
            "classes": int(result.classifier[0].shape[0]),
            "test_accuracy_on_real_images": result.val.get(
                "classifier_test_accuracy_on_real_images"
            ),
        }
    trainer = {
        "name": "vib",
        **cfg.to_json(),
        "deployment": DEPLOYMENT_NOTE,
        "val": {
            k: v for k, v in result.val.items() if k != "classifier_test_accuracy_on_real_images"
        },
        "history": result.history,
    }
    return {
        "task": task,
        "encoding": encoding,
        "readout": {"kind": "vib_decoder", "population": READOUT},
        "decoder": decoder,
        "trainer": trainer,
    }


def write_model(result, model_path: str | os.PathLike) -> tuple[Graph, Path]:
    """Write the decoder file, then the encoder model that names it; returns (graph, decoder
    path)."""
    dec_path = decoder_path_for(model_path)
    sha = write_decoder_file(
        dec_path,
        result.spec,
        {"deployed": result.decoder_deployed, "sampled": result.decoder_sampled},
        result.classifier,
    )
    shape = result.shape
    graph = encoder_graph(
        result.weights, result.biases, tau_syn_hidden=shape.tau_syn_hidden,
        tau_mem_hidden=shape.tau_mem_hidden, tau_syn_readout=shape.tau_syn_readout,
        v_th_hidden=shape.v_th_hidden, v_th_readout=shape.v_th_readout,
        metadata=_metadata(result, dec_path.name, sha),
    )
    save_graph(graph, model_path)
    return graph, dec_path
