"""Scoring a VIB model as deployed: input spikes -> encoder on a backend -> readout spikes ->
host decoder -> task metric. numpy only (no torch), so it runs wherever snnc runs.

The encoder is whatever graph is given: the float model (`float` backend: the deterministic
readout in float arithmetic), or a compiled program (`cpu`: bit-accurate; `lava`: Lava's
fixed-point models). The decoder is the model's host decoder file (`metadata["decoder"]`).
The metric is the pattern accuracy (predictive coding) or the accuracy of the stored
classifier on the reconstructed images (reconstruction); `snnc eval` prints it as `accuracy`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ir.errors import InputError, ModelFormatError
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import LIF, Dense
from ir.progress import progress
from trainers.vib import tasks
from trainers.vib.decoder import (
    DecoderSpec,
    decode,
    decoder_features,
    read_decoder_file,
    resolve_decoder_file,
)

__all__ = [
    "VIBModelInfo",
    "evaluate_vib",
    "is_vib_model",
    "model_info",
    "sampled_readout_run",
    "split_inputs",
]

PC_DEFAULT_SAMPLES = 256


def is_vib_model(graph: Graph) -> bool:
    """True when the graph's metadata says a VIB trainer wrote it (it then needs a decoder)."""
    trainer = graph.metadata.get("trainer")
    return isinstance(trainer, Mapping) and trainer.get("name") == "vib"


@dataclass(frozen=True)
class VIBModelInfo:
    """What evaluation needs from a VIB model's metadata, checked."""

    task: Mapping[str, Any]
    encoding: Mapping[str, Any]
    decoder: Mapping[str, Any]
    spec: DecoderSpec
    population: str
    latency: int

    @property
    def is_pc(self) -> bool:
        return self.task.get("kind") == "predictive_coding"

    @property
    def steps(self) -> int:
        return int(self.encoding["steps"])

    @property
    def seed(self) -> int:
        return int(self.encoding["seed"])

    @property
    def dataset(self) -> str:
        """The name `snnc eval --dataset` takes for this model."""
        return "predictive-coding" if self.is_pc else str(self.task.get("dataset"))


def _need(meta: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in meta:
        raise ModelFormatError(
            where, f"metadata.{key}", "missing (not a VIB model written by `snnc train vib`)"
        )
    return meta[key]


def model_info(graph: Graph, where: str) -> VIBModelInfo:
    meta = graph.metadata
    task, encoding, decoder = (_need(meta, k, where) for k in ("task", "encoding", "decoder"))
    for key, value in (("task", task), ("encoding", encoding), ("decoder", decoder)):
        if not isinstance(value, Mapping):
            raise ModelFormatError(where, f"metadata.{key}", "must be a JSON object")
    if task.get("kind") not in ("predictive_coding", "reconstruction"):
        raise ModelFormatError(
            where, "metadata.task.kind", f"unknown VIB task {task.get('kind')!r}"
        )
    for key in ("steps", "seed"):
        if not isinstance(encoding.get(key), int):
            raise ModelFormatError(where, f"metadata.encoding.{key}", "must be an integer")
    spec = DecoderSpec.from_json(decoder, where)
    population = str(decoder.get("population", "readout"))
    if population not in graph.populations:
        raise ModelFormatError(
            where, "metadata.decoder.population", f"{population!r} is not a population of the model"
        )
    if graph.populations[population].size != spec.n_readout:
        raise ModelFormatError(
            where,
            "metadata.decoder.n_readout",
            f"{spec.n_readout}, but population {population!r} has "
            f"{graph.populations[population].size} neurons",
        )
    # Latency: projections on the path from the input to the readout (a chain).
    latency, node, seen = 0, population, set()
    while node not in graph.inputs:
        incoming = graph.incoming(node)
        if len(incoming) != 1 or node in seen:
            raise ModelFormatError(
                where,
                f"population {node!r}",
                "a VIB encoder is a chain with one projection into each population",
            )
        seen.add(node)
        node = incoming[0][1].src
        latency += 1
    return VIBModelInfo(task, encoding, decoder, spec, population, latency)


def split_inputs(
    metadata: Mapping[str, Any],
    dataset: str,
    split: str = "test",
    samples: int | None = None,
    steps: int | None = None,
    start: int = 0,
    data: tasks.ReconstructionData | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`trainers.encoders.encode_split` for a VIB model: the input spikes of samples
    [start, start + samples) of `split` as `evaluate_vib` feeds them (reconstruction: the
    encoded images, then the silent steps that let the last input reach the readout), and
    their labels (digit classes; for predictive coding the pattern index of every input step).
    `data`: the reconstruction dataset, if already loaded.
    """
    task, encoding, decoder = (metadata.get(k) or {} for k in ("task", "encoding", "decoder"))
    is_pc = task.get("kind") == "predictive_coding"
    expected = "predictive-coding" if is_pc else task.get("dataset")
    if dataset not in (expected, *(("drifting-blobs",) if is_pc else ())):
        raise InputError(f"a VIB model trained on {expected}; use --dataset {expected}")
    if not isinstance(encoding.get("steps"), int) or not isinstance(encoding.get("seed"), int):
        raise InputError("the VIB model's metadata.encoding lacks integer 'steps' and 'seed'")
    t = encoding["steps"] if steps is None else int(steps)
    if t < 1 or start < 0 or (samples is not None and samples < 1):
        raise InputError(f"steps, samples must be >= 1 and start >= 0, got {t}, {samples}, {start}")
    if is_pc:
        count = PC_DEFAULT_SAMPLES if samples is None else int(samples)
        x = tasks.blob_sequences(count, t, encoding["seed"], split, start,
                                 n_inputs=int(task.get("n_inputs", tasks.PC_INPUTS)),
                                 n_blobs=int(task.get("n_blobs", 2)))
        return x, tasks.pattern_index(x)
    if data is None:
        data = tasks.load_reconstruction_data(str(expected))
    images = data.x[split][start : None if samples is None else start + int(samples)]
    latency = int(decoder.get("run_steps", encoding["steps"])) - encoding["steps"]
    enc = {k: v for k, v in encoding.items() if k not in ("steps", "seed")}
    spikes = tasks.reconstruction_inputs(enc, images, t, t + latency, encoding["seed"], start)
    return spikes, data.y[split][start : start + len(images)]


def sampled_readout_run(graph: Graph, info: VIBModelInfo, x: np.ndarray, steps: int, split: str,
                        first_index: int) -> np.ndarray:
    """Readout spikes (N, steps, n) of the float encoder with the readout *sampled* as trained:
    s ~ Bernoulli(sigmoid(v - v_th)), the hidden layers as the float backend runs them
    (`ir.nodes.LIF`). Sample i draws from `default_rng([seed, split id, first_index + i, 1])`.

    This is the training-time pipeline, for measuring what the deterministic deployment costs;
    it is not an snnc backend (the IR has no stochastic neuron).
    """
    from scipy.special import expit

    if graph.domain != "float":
        raise InputError(
            "the sampled readout runs the float model only (a compiled program is deterministic)"
        )
    order, node = [], info.population
    while node not in graph.inputs:
        name, proj = graph.incoming(node)[0]
        if (
            not isinstance(proj, Dense)
            or not isinstance(graph.populations[node], LIF)
            or proj.delay.any()
        ):
            raise InputError(
                f"sampled readout: expected Dense projections into LIF populations, got {name!r}"
            )
        order.append((node, proj))
        node = proj.src
    order.reverse()
    batch = len(x)
    draws = np.stack(
        [
            np.random.default_rng([info.seed, tasks.SPLIT_IDS[split], first_index + i, 1]).random(
                (steps, info.spec.n_readout)
            )
            for i in range(batch)
        ]
    )
    prev = {graph.inputs[0]: np.zeros((batch, x.shape[2]))}
    state = {}
    for name, _ in order:
        pop = graph.populations[name]
        a_syn, a_mem = (
            np.broadcast_to(a.reshape(-1) if a.ndim else a, (pop.size,))
            for a in pop.decays(graph.dt)
        )
        state[name] = [np.zeros((batch, pop.size)), np.zeros((batch, pop.size)), a_syn, a_mem,
                       pop.per_neuron("v_th"), pop.per_neuron("bias")]
        prev[name] = np.zeros((batch, pop.size))
    out = np.zeros((batch, steps, info.spec.n_readout), dtype=np.uint8)
    for k in range(steps):
        emit = {
            graph.inputs[0]: x[:, k].astype(np.float64)
            if k < x.shape[1]
            else np.zeros((batch, x.shape[2]))
        }
        for name, proj in order:
            u, v, a_syn, a_mem, v_th, bias = state[name]
            u *= a_syn
            u += prev[proj.src] @ proj.weight.T
            v *= a_mem
            v += u + bias
            if name == info.population:
                s = draws[:, k] < expit(v - v_th)
                out[:, k] = s
            else:
                s = v > v_th
            v[s] = 0.0
            emit[name] = s.astype(np.float64)
        prev = emit
    return out


def evaluate_vib(
    graph: Graph,
    model_path: str | os.PathLike,
    *,
    backend: str = "float",
    hw: HardwareSpec | None = None,
    split: str = "test",
    samples: int | None = None,
    steps: int | None = None,
    batch: int = 256,
    decoder_file: str | None = None,
    variant: str = "deployed",
    readout: str = "deterministic",
    seed: int | None = None,
    dataset: str | None = None,
    keep_spikes: bool = False,
) -> dict[str, Any]:
    """Run the deployed pipeline on `split`; returns a JSON-able result with `accuracy`.

    `steps` is the input duration: predictive coding may use any length (the decoder slides);
    reconstruction needs the trained one (the decoder reads the whole run). `readout`:
    "deterministic" (the graph on `backend`, as deployed) or "sampled" (the float model with
    the Bernoulli readout it was trained with; see `sampled_readout_run`). `variant`: which
    decoder of the file ("deployed": fitted to the deterministic readout; "sampled").
    """
    from backends import get_backend
    from backends.base import Probe

    where = str(model_path)
    if readout not in ("deterministic", "sampled"):
        raise InputError(f"readout must be deterministic or sampled, got {readout!r}")
    info = model_info(graph, where)
    if dataset is not None and dataset not in (
        info.dataset,
        *(("drifting-blobs",) if info.is_pc else ()),
    ):
        raise InputError(
            f"{where}: a VIB model trained on {info.dataset}; evaluate it with --dataset "
            f"{info.dataset}"
        )
    if seed is not None:
        info = dataclasses.replace(info, encoding={**info.encoding, "seed": int(seed)})
    meta = {**graph.metadata, "encoding": info.encoding}
    if split not in tasks.SPLIT_IDS:
        raise InputError(f"--split must be one of {', '.join(tasks.SPLIT_IDS)}, got {split!r}")
    steps = info.steps if steps is None else int(steps)
    if steps < 1:
        raise InputError(f"--steps must be >= 1, got {steps}")
    data = None
    if info.is_pc:
        total = PC_DEFAULT_SAMPLES if samples is None else int(samples)
        run_steps = steps
    else:
        if steps != info.steps:
            raise InputError(
                f"{where}: the decoder reads the whole {info.steps + info.latency}-step run of the "
                f"trained {info.steps} input steps; --steps {steps} does not fit it"
            )
        data = tasks.load_reconstruction_data(str(info.task.get("dataset")))
        if data.n_pixels != graph.n_inputs:
            raise ModelFormatError(
                where,
                "metadata.task.dataset",
                f"{data.name} has {data.n_pixels} pixels, the model {graph.n_inputs} inputs",
            )
        available = len(data.x[split])
        total = available if samples is None else min(int(samples), available)
        run_steps = steps + info.latency
    if total < 1:
        raise InputError(f"--samples must be >= 1, got {total}")
    path = resolve_decoder_file(str(info.decoder.get("file", "")), model_path, decoder_file)
    n_classes = int(info.decoder.get("classifier", {}).get("classes", 10)) if not info.is_pc else 0
    layers, classifier = read_decoder_file(
        path,
        info.spec,
        sha256=None if decoder_file else info.decoder.get("sha256"),
        variant=variant,
        classifier=None if info.is_pc else (n_classes, graph.n_inputs),
    )
    run = get_backend(backend)
    probes = (Probe(info.population),)
    correct, scored, spike_sum, spike_count = 0, 0, 0.0, 0
    all_spikes = []
    batches = range(0, total, batch)
    for start in progress(batches, f"vib eval ({backend})", total=len(batches)):
        count = min(batch, total - start)
        x, labels = split_inputs(meta, info.dataset, split, count, steps, start, data)
        if readout == "sampled":
            spikes = sampled_readout_run(graph, info, x, run_steps, split, start)
        else:
            spikes = run(graph, x, steps=run_steps, probes=probes, hw=hw).get(
                info.population, "spikes"
            )
        spike_sum += float(spikes.sum())
        spike_count += spikes.size
        if keep_spikes:
            all_spikes.append(spikes)
        if info.is_pc:
            ends, target = tasks.pc_targets(
                x, info.latency, int(info.task.get("delta", 0)), info.spec.window
            )
            out = decode(decoder_features(spikes, info.spec, ends), layers, info.spec)
            correct += int(np.sum(np.argmax(out, axis=-1) == target))
            scored += target.size
        else:
            out = decode(
                decoder_features(spikes, info.spec, np.array([run_steps - 1])), layers, info.spec
            )[:, 0]
            pred = np.argmax(out @ classifier[0].T + classifier[1], axis=1)
            correct += int(np.sum(pred == labels))
            scored += count
    result: dict[str, Any] = {
        "accuracy": correct / scored,
        "metric": "pattern_accuracy" if info.is_pc else "classifier_accuracy_on_reconstructions",
        "samples": total,
        "steps": steps,
        "run_steps": run_steps,
        "backend": "float (sampled readout)" if readout == "sampled" else backend,
        "split": split,
        "readout_rate": spike_sum / spike_count,
        "decoding": info.spec.decoding,
        "decoder_variant": variant,
        "task": dict(info.task),
        "dataset": info.dataset,
        "seed": info.seed,
    }
    if keep_spikes:
        result["spikes"] = np.concatenate(all_spikes)
    return result
