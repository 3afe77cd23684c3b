"""A one-layer SNN classifier trained from target spike times (no gradients through time).

Network: Input (n pixels) -> Dense -> IF population `out` (one neuron per class), float LIF with
tau_syn = 0 and tau_mem = inf, i.e. u = this step's drive and v integrates without leak:
exactly the integer IF neuron of `discrete` once the weights are integers.

Targets: the neuron of the sample's class fires at steps 1 + P, 1 + 2P, ... (the first input
arrives at step 2, through the projection's one-step delay); every other neuron stays silent.
With the target spikes as the resets, each step of each (sample, neuron) is one linear
inequality on that neuron's weights and bias (`discrete.membrane_rows`, teacher forcing):
v_pre <= theta - margin where no spike is wanted, v_pre >= theta + margin where one is. Data are
not separable in general, so the solver minimises the squared violations (a squared hinge) plus
a small L2 term, for all neurons at once, with L-BFGS-B from zero (deterministic). Rows of the
target pattern and of the silent pattern are shared by all neurons, so the whole system is two
(samples, steps, inputs) arrays.

Export: the weights are scaled so that the largest is 254 (or less, if the training set's
potentials would otherwise pass half of Lava's v range) and rounded to even integers, the
threshold and bias to integers (`integer_weights`). With integer values the float model and the
fixed-point program (QDense weight_exp 0, 8-bit mixed; QLIF du = 4095, dv = 0, vth = theta,
bias_mant = bias, bias_exp = 6) compute the same spikes, v_fixed = 64 v_float, as long as |v|
stays below 2^17 (Lava's 24-bit v saturates at 2^23 - 1); `integer_program` builds that program and
`max_potential` measures the headroom.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ir.errors import InputError
from ir.graph import Graph
from ir.nodes import LIF, QLIF, Dense, Input, QDense
from ir.progress import status
from trainers.datasets import Dataset
from trainers.encoders import encode
from trainers.tem.discrete import linear_neuron, membrane_rows

__all__ = [
    "TemClassifierConfig",
    "TrainResult",
    "build_graph",
    "encode_samples",
    "evaluate",
    "integer_program",
    "least_squares_accuracy",
    "max_potential",
    "target_pattern",
    "train_classifier",
]

INPUT, OUTPUT, PROJECTION = "in", "out", "in_to_out"
MAX_WEIGHT = 254  # Lava 8-bit mixed-sign synapses hold even values in [-256, 254]
BIAS_EXP = 6  # bias_mant << 6 has the units of the input (Lava shifts the drive by 6, not the bias)
BIAS_MANT_MAX = (1 << 12) - 1  # signed 13-bit bias mantissa
VTH_MAX = (1 << 17) - 1  # unsigned 17-bit threshold mantissa
V_LIMIT = (1 << 17) - 1  # |v| in input units before Lava's 24-bit v saturates (2^23 - 1 >> 6)
# Keep the training set's potentials within half of that: test inputs may reach further.
V_HEADROOM = 0.5


@dataclass(frozen=True)
class TemClassifierConfig:
    """Hyper-parameters.

    Defaults chosen on the digits validation split (135 samples), varying one at a time around
    these values: steps 16, steps 32 with period 4, period 2/4, margin 0.1/0.5, l2 1e-5/1e-3.
    Validation accuracy was 0.948 for the defaults and every variant except steps 16 (0.933) and
    period 2 (0.956, one sample more); the defaults sit in the middle of that flat region.
    """

    steps: int = 24  # simulation steps per sample
    period: int = 3  # target inter-spike interval of the correct class's neuron, in steps
    margin: float = 0.25  # required distance from the threshold, in units of the threshold
    l2: float = 1e-4  # weight decay, relative to the data term
    max_rate: float = 1.0  # rate encoder: spike probability per step = max_rate * pixel
    seed: int = 0  # input-spike seed (the only random thing)
    max_iter: int = 400  # L-BFGS-B iterations

    def check(self) -> None:
        if self.steps < 2 or self.period < 1 or self.period >= self.steps:
            raise InputError(
                f"need steps >= 2 and 1 <= period < steps, got steps={self.steps}, "
                f"period={self.period}"
            )
        if not 0 <= self.margin < 1:
            raise InputError(f"margin must be in [0, 1), got {self.margin}")
        if not math.isfinite(self.l2) or self.l2 < 0 or not 0 < self.max_rate <= 1:
            raise InputError(
                f"need a finite l2 >= 0 and 0 < max_rate <= 1, got {self.l2}, {self.max_rate}"
            )
        if self.max_iter < 1:
            raise InputError(f"--max-iter must be at least 1 solver iteration, got {self.max_iter}")

    def encoding(self) -> dict[str, Any]:
        return {"kind": "rate", "max_rate": self.max_rate, "steps": self.steps, "seed": self.seed}


def target_pattern(steps: int, period: int) -> np.ndarray:
    """(steps,) bool: the correct neuron fires at steps 1 + period, 1 + 2 period, ... (1-based)."""
    t = np.arange(1, steps + 1)
    return (t > 1) & ((t - 1) % period == 0)


def encode_samples(spec: Mapping[str, Any], x: np.ndarray, first_index: int = 0) -> np.ndarray:
    """Input spikes for samples x of one split, x[0] being sample `first_index` of it."""
    return encode(spec, x, int(spec["steps"]), int(spec["seed"]), first_index=first_index)


def _drive(spikes: np.ndarray) -> np.ndarray:
    """What the Dense projection delivers at each step: the input spikes of the step before."""
    x = np.zeros(spikes.shape, dtype=np.float64)
    x[:, 1:] = spikes[:, :-1]
    return x


@dataclass
class TrainResult:
    graph: Graph  # the exported float model (integer-valued)
    weights: np.ndarray  # (n_classes, n_inputs) integers
    threshold: int
    bias: np.ndarray  # (n_classes,) integers
    train_violation: float  # mean squared hinge at the optimum (threshold units)
    iterations: int


def _objective(
    w_flat: np.ndarray, feats: dict[str, np.ndarray], cfg: TemClassifierConfig
) -> tuple[float, np.ndarray]:
    coef_t, coef_s, bias_t, bias_s = (
        feats["coef_t"],
        feats["coef_s"],
        feats["bias_t"],
        feats["bias_s"],
    )
    is_target, fired, weight = feats["is_target"], feats["fired"], feats["weight"]
    n_cls, n_in = feats["shape"]
    w = w_flat[: n_cls * n_in].reshape(n_cls, n_in)
    b = w_flat[n_cls * n_in :]
    lin_t = coef_t @ w.T + bias_t[..., None] * b  # (B, T, C)
    lin_s = coef_s @ w.T + bias_s[..., None] * b
    lin = np.where(is_target[:, None, :], lin_t, lin_s)
    # Threshold normalised to 1: want lin <= 1 - margin (silent) and lin >= 1 + margin (spike).
    viol = np.where(fired, (1.0 + cfg.margin) - lin, lin - (1.0 - cfg.margin))
    pos = np.maximum(viol, 0.0) * weight
    n_rows = float(is_target.shape[0] * fired.shape[1])
    loss = float((pos * np.maximum(viol, 0.0)).sum()) / n_rows + cfg.l2 * float((w * w).sum())
    dlin = 2.0 * pos * np.where(fired, -1.0, 1.0) / n_rows
    d_t = np.where(is_target[:, None, :], dlin, 0.0)
    d_s = dlin - d_t
    b_rows = coef_t.shape[0] * coef_t.shape[1]
    gw = d_t.reshape(b_rows, n_cls).T @ coef_t.reshape(b_rows, n_in)
    gw += d_s.reshape(b_rows, n_cls).T @ coef_s.reshape(b_rows, n_in)
    gw += 2.0 * cfg.l2 * w
    gb = (d_t * bias_t[..., None]).sum(axis=(0, 1)) + (d_s * bias_s[..., None]).sum(axis=(0, 1))
    return loss, np.concatenate([gw.ravel(), gb])


def _features(
    spikes: np.ndarray, labels: np.ndarray, n_classes: int, cfg: TemClassifierConfig
) -> dict[str, np.ndarray]:
    drive = _drive(spikes)
    model = linear_neuron(LIF((1,), tau_syn=0.0, tau_mem=math.inf), 1.0)
    pattern = np.broadcast_to(target_pattern(cfg.steps, cfg.period), spikes.shape[:2])
    rows_t = membrane_rows(drive, pattern, model)
    rows_s = membrane_rows(drive, np.zeros(spikes.shape[:2], dtype=bool), model)
    is_target = labels[:, None] == np.arange(n_classes)[None, :]
    fired = is_target[:, None, :] & pattern[:, :, None]
    # Each (sample, neuron) pair counts as much as any other: a sample's own neuron and its nine
    # silent ones share the loss, and classes are balanced by their frequencies.
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    per_sample = (len(labels) / (n_classes * np.maximum(counts, 1.0)))[labels]
    weight = np.broadcast_to(per_sample[:, None, None], fired.shape)
    return {
        "coef_t": rows_t.coef,
        "coef_s": rows_s.coef,
        "bias_t": rows_t.bias_coef,
        "bias_s": rows_s.bias_coef,
        "is_target": is_target,
        "fired": fired,
        "weight": weight,
        "shape": np.array([n_classes, spikes.shape[2]]),
    }


def integer_weights(
    w: np.ndarray, b: np.ndarray, spikes: np.ndarray
) -> tuple[np.ndarray, int, np.ndarray]:
    """Even integer weights, integer threshold and bias for weights `w`, bias `b` (threshold 1).

    The scale makes the largest |weight| MAX_WEIGHT, unless the potentials this layer reaches on
    `spikes` (the training inputs) would then pass V_HEADROOM of Lava's v range; then it is as
    large as that allows (fewer weight levels, but no saturation).
    """
    peak = float(np.abs(w).max())
    if peak == 0:
        raise InputError("training produced all-zero weights (no input spikes?)")
    reach = max_potential(w, b, 1.0, spikes)
    scale = MAX_WEIGHT / peak
    if reach * scale > V_HEADROOM * V_LIMIT:
        scale = V_HEADROOM * V_LIMIT / reach
    threshold = max(round(scale), 1)
    if threshold > VTH_MAX:
        raise InputError(
            f"the trained threshold {threshold} does not fit Lava's 17-bit vth (max {VTH_MAX})"
        )
    w_int = 2 * np.rint(w * scale / 2.0).astype(np.int64)
    b_int = np.clip(np.rint(b * scale).astype(np.int64), -BIAS_MANT_MAX - 1, BIAS_MANT_MAX)
    return w_int, threshold, b_int


def build_graph(
    weights: np.ndarray, threshold: int, bias: np.ndarray, metadata: Mapping[str, Any]
) -> Graph:
    """The float model: Input -> Dense -> IF (tau_syn = 0, tau_mem = inf), integer-valued."""
    n_cls, n_in = weights.shape
    return Graph(
        populations={
            INPUT: Input((n_in,)),
            OUTPUT: LIF(
                (n_cls,),
                tau_syn=0.0,
                tau_mem=math.inf,
                v_th=float(threshold),
                bias=bias.astype(np.float64),
            ),
        },
        projections={PROJECTION: Dense(INPUT, OUTPUT, weight=weights.astype(np.float64))},
        dt=1e-3,
        outputs=(OUTPUT,),
        metadata=dict(metadata),
    )


def integer_program(model: Graph) -> Graph:
    """The fixed-point program that computes exactly what the integer-valued float model does.

    QDense weight = W (weight_exp 0, 8-bit mixed: even values in [-256, 254] pass Lava's
    truncation unchanged); QLIF du = 4095 (u = 64 a), dv = 0 (no leak), vth = v_th,
    bias_mant = bias, bias_exp = 6 (so the bias enters v as 64 bias, like the drive).
    """
    out = model.populations[OUTPUT]
    proj = model.projections[PROJECTION]
    if not isinstance(out, LIF) or not isinstance(proj, Dense):
        raise InputError(
            f"integer_program expects a TEM classifier model ({INPUT} -> {OUTPUT}), got "
            f"{type(out).__name__}"
        )
    w = proj.weight
    if np.any(w != np.round(w)) or np.any(w % 2) or np.abs(w).max(initial=0) > MAX_WEIGHT:
        raise InputError(
            f"{PROJECTION}: weights must be even integers within +-{MAX_WEIGHT} for an exact "
            "program"
        )
    v_th = float(out.v_th)
    bias = out.per_neuron("bias")
    if v_th != round(v_th) or np.any(bias != np.round(bias)):
        raise InputError(f"{OUTPUT}: v_th and bias must be integers for an exact program")
    return Graph(
        populations={
            INPUT: model.populations[INPUT],
            OUTPUT: QLIF(
                out.shape,
                du=4095,
                dv=0,
                vth=int(v_th),
                bias_mant=bias.astype(np.int64),
                bias_exp=BIAS_EXP,
            ),
        },
        projections={
            PROJECTION: QDense(
                INPUT,
                OUTPUT,
                weight=w.astype(np.int64),
                weight_exp=0,
                num_weight_bits=8,
                sign_mode="mixed",
            )
        },
        dt=model.dt,
        outputs=model.outputs,
        metadata=dict(model.metadata),
    )


def max_potential(
    weights: np.ndarray, bias: np.ndarray, threshold: float, spikes: np.ndarray
) -> float:
    """The largest |v| (input units, before the spike test) the IF layer reaches on these inputs.

    Lava clips v to 24 bits before it compares with the threshold, so this is what must stay
    below V_LIMIT for the fixed-point program to match the float model.
    """
    drive = _drive(spikes) @ weights.T.astype(np.float64) + bias[None, None, :]
    v = np.zeros((drive.shape[0], drive.shape[2]))
    peak = 0.0
    for t in range(drive.shape[1]):
        v += drive[:, t]
        peak = max(peak, float(np.abs(v).max(initial=0.0)))
        v[v > threshold] = 0.0
    return peak


def train_classifier(data: Dataset, cfg: TemClassifierConfig | None = None) -> TrainResult:
    """Train on `data`'s train split (module docstring); returns the exported model."""
    from scipy.optimize import minimize

    cfg = cfg or TemClassifierConfig()
    cfg.check()
    spec = cfg.encoding()
    x_train, y_train = data.split("train")
    status(f"tem: encoding {len(x_train)} training samples ({cfg.steps} steps, rate code)")
    spikes = encode_samples(spec, x_train)
    n_cls, n_in = data.n_classes, spikes.shape[2]
    feats = _features(spikes, y_train, n_cls, cfg)
    status(
        f"tem: solving {len(x_train) * cfg.steps * n_cls} spike-time constraints for {n_cls} x "
        f"{n_in + 1} unknowns"
    )
    res = minimize(
        _objective,
        np.zeros(n_cls * (n_in + 1)),
        args=(feats, cfg),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": cfg.max_iter},
    )
    w = res.x[: n_cls * n_in].reshape(n_cls, n_in)
    b = res.x[n_cls * n_in :]
    w_int, threshold, b_int = integer_weights(w, b, spikes)
    metadata = {
        "task": {"kind": "classification", "dataset": data.name, "n_classes": n_cls},
        "encoding": spec,
        "readout": {"kind": "spike_count", "population": OUTPUT, "tie_break": "first_spike"},
        "trainer": {
            "name": "tem",
            **asdict(cfg),
            "target": f"class neuron fires every {cfg.period} steps from step {1 + cfg.period}; "
            "others silent",
            "solver": "squared hinge on spike-time inequalities, L-BFGS-B from zero",
            "v_max_train": max_potential(w_int, b_int, threshold, spikes),
            "v_limit": V_LIMIT,
        },
    }
    graph = build_graph(w_int, threshold, b_int, metadata)
    return TrainResult(
        graph=graph,
        weights=w_int,
        threshold=threshold,
        bias=b_int,
        train_violation=float(res.fun),
        iterations=int(res.nit),
    )


def evaluate(
    graph: Graph,
    data: Dataset,
    split: str = "test",
    backend: str = "float",
    samples: int | None = None,
    batch: int = 512,
) -> float:
    """Accuracy of `graph` on a split, with the encoding and readout in its metadata."""
    from backends import get_backend
    from trainers.readout import classify, readout_probes

    spec = graph.metadata.get("encoding")
    readout = graph.metadata.get("readout")
    if not isinstance(spec, Mapping) or not isinstance(readout, Mapping):
        raise InputError(
            "the model's metadata has no 'encoding' or 'readout' (see DEVELOPERS.md, Model "
            "metadata)"
        )
    x, y = data.split(split)
    if samples is not None:
        x, y = x[:samples], y[:samples]
    run = get_backend(backend)
    probes = readout_probes(readout)
    correct = 0
    for start in range(0, len(x), batch):
        spikes = encode_samples(spec, x[start : start + batch], first_index=start)
        trace = run(graph, spikes, steps=int(spec["steps"]), probes=probes)
        correct += int((classify(readout, trace) == y[start : start + batch]).sum())
    return correct / max(len(x), 1)


def least_squares_accuracy(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, n_classes: int
) -> float:
    """A least-squares linear classifier (one-hot targets, with an intercept) on the same
    features."""

    def design(x: np.ndarray) -> np.ndarray:
        flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        return np.concatenate([flat, np.ones((len(flat), 1))], axis=1)

    targets = np.eye(n_classes)[y_train]
    coef = np.linalg.lstsq(design(x_train), targets, rcond=None)[0]
    return float((np.argmax(design(x_test) @ coef, axis=1) == y_test).mean())
