"""One incoming projection of a population being quantized (`compiler.passes.quantize`): its
weights in folded float units per scale row (one for the whole projection, or one per
destination neuron), their row statistics, the weight exponent each row's range allows, the
rounding of a row block to mantissas, and the fixed-point node built from them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from compiler.quantization import formats
from ir.errors import QuantizationError
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import SIGN_MODES, Conv2d, Dense, Input, Projection, QConv2d, QDense, QSparse, Sparse
from neurons import model_of

if TYPE_CHECKING:
    from compiler.passes.quantize import QuantizePass

__all__ = [
    "LOG2_TOL",
    "SAMPLE",
    "SIGN_CODE",
    "IncomingProjection",
    "build_projection",
    "incoming_projection",
    "per_neuron_sums",
    "quantize_rows",
    "row_extremes",
    "row_percentile",
]

# Sign modes as small integers per scale row; parts are emitted in this order.
SIGN_CODE = {s: i for i, s in enumerate(SIGN_MODES)}
# Weights sampled per projection when comparing candidate scales (the final quantization always
# uses every weight); a deterministic stride, so the choice is reproducible.
SAMPLE = 1 << 16
# Slack for floating-point noise in log2 arithmetic: a ratio that is an exact power of two in
# real numbers must not round to the next exponent.
LOG2_TOL = 1e-9


@dataclass
class IncomingProjection:
    """One incoming projection of the population being planned, in folded float units.

    Scales are chosen per "scale row": one for the whole projection (per-layer, and always for
    convolutions), or one per destination neuron (per-channel). Arrays named *_row have one
    entry per scale row; they are derived from the weights and the target in __post_init__."""

    name: str
    proj: Projection
    kind: str  # "dense", "sparse", "conv"
    w: np.ndarray  # folded float weights: (n_dst, n_src), (nnz,) or (C_out, C_in/g, kH, kW)
    unfold_row: (
        np.ndarray
    )  # per destination neuron (per output channel for conv): back to model units
    payload: float  # largest |spike payload| of the source (1 for binary spikes)
    n_dst: int
    per_row: bool
    hw: InitVar[HardwareSpec]
    bits: InitVar[int]
    clip_percentile: InitVar[float]
    split_exact: bool = False  # E >= 0: whole activation units per synapse (split_exact.py)
    sign_row: np.ndarray = field(init=False)  # index into SIGN_MODES
    lo_row: np.ndarray = field(init=False)  # mantissa range
    hi_row: np.ndarray = field(init=False)
    k_row: np.ndarray = field(init=False)  # lsb_shift
    l_row: np.ndarray = field(init=False)  # log2 of the largest factor at which nothing clips
    e_lo: int = field(init=False)  # weight_exp range
    e_hi: int = field(init=False)
    exp_lo_row: np.ndarray = field(init=False)  # smallest E = lsb_shift + weight_exp per row

    def __post_init__(self, hw: HardwareSpec, bits: int, clip_percentile: float) -> None:
        pos, neg = row_extremes(self)
        # Lava's determine_sign_mode per scale row: all >= 0 excitatory, all <= 0 inhibitory,
        # else mixed.
        self.sign_row = np.where(
            neg <= 0,
            SIGN_CODE["excitatory"],
            np.where(pos <= 0, SIGN_CODE["inhibitory"], SIGN_CODE["mixed"]),
        )
        table = [formats.WeightFormat(sign, bits, 0, 0) for sign in SIGN_MODES]
        self.lo_row = np.array([f.mant_min for f in table], dtype=np.int64)[self.sign_row]
        self.hi_row = np.array([f.mant_max for f in table], dtype=np.int64)[self.sign_row]
        self.k_row = np.array([f.lsb_shift for f in table], dtype=np.int64)[self.sign_row]
        if self.kind == "conv":
            self.e_lo = self.e_hi = 0  # Lava's PyConvModelFixed applies no weight exponent
        else:
            self.e_lo, self.e_hi = hw.synapse.weight_exp_min.value, hw.synapse.weight_exp_max.value
        self.exp_lo_row = self.e_lo + self.k_row
        if self.split_exact:
            self.exp_lo_row = np.maximum(self.exp_lo_row, 0)
        if clip_percentile < 100.0:
            cap = row_percentile(self, np.abs(self.w), clip_percentile)
            pos, neg = np.minimum(pos, cap), np.minimum(neg, cap)
        with np.errstate(divide="ignore"):
            self.l_row = np.log2(formats.full_scale(pos, neg, self.hi_row, self.lo_row))

    @property
    def rows(self) -> np.ndarray:
        return self.proj.rows  # type: ignore[attr-defined]

    def expand(self, per_row: np.ndarray) -> np.ndarray:
        """A per-scale-row array broadcast to the weights' shape."""
        return self.by_row(per_row) if self.per_row else per_row[0]

    def by_row(self, x: np.ndarray) -> np.ndarray:
        """A per-row array (destination neuron; conv: output channel) broadcast to the weights."""
        if self.kind == "dense":
            return x[:, None]
        if self.kind == "sparse":
            return x[self.rows]
        return x[:, None, None, None]

    def row_sums(self, x: np.ndarray) -> np.ndarray:
        """Sums of `x` (weights' shape) per row (destination neuron; output channel for conv)."""
        if self.kind == "dense":
            return x.sum(axis=1)
        if self.kind == "sparse":
            return np.bincount(self.rows, weights=x, minlength=self.n_dst)
        return x.reshape(len(x), -1).sum(axis=1)

    def row_sq_sums(self, x: np.ndarray) -> np.ndarray:
        """Sums of x**2 per row, without a temporary of the weights' size where possible."""
        if self.kind == "sparse":
            return np.bincount(self.rows, weights=x * x, minlength=self.n_dst)
        flat = x.reshape(len(x), -1)
        return np.einsum("ij,ij->i", flat, flat)

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """(weights, their scale-row index): every weight, or an evenly strided subset."""
        flat = self.w.reshape(-1)
        idx = (
            np.arange(flat.size)
            if flat.size <= SAMPLE
            else np.linspace(0, flat.size - 1, SAMPLE).astype(np.int64)
        )
        if not self.per_row:
            row = np.zeros(idx.size, dtype=np.int64)
        elif self.kind == "dense":
            row = idx // self.w.shape[1]
        else:
            row = self.rows[idx]
        return flat[idx], row

    def exponents(self, level: float) -> np.ndarray:
        """E per scale row at population level L: the smallest E at which the row does not clip,
        within the format's exponent range (E = lsb_shift + weight_exp)."""
        with np.errstate(invalid="ignore"):
            e = np.ceil(level - self.l_row - LOG2_TOL)
        e = np.where(np.isfinite(e), e, -np.inf)
        return np.clip(e, self.exp_lo_row, self.e_hi + self.k_row).astype(np.int64)

    def level_limit(self) -> float:
        """Largest L at which no row needs an exponent above the format's range."""
        finite = self.l_row[np.isfinite(self.l_row)]
        return (
            float(np.min(self.e_hi + self.k_row[np.isfinite(self.l_row)] + finite))
            if finite.size
            else math.inf
        )


def incoming_projection(
    graph: Graph,
    name: str,
    proj: Projection,
    fold: np.ndarray,
    hw: HardwareSpec,
    bits: int,
    opts: QuantizePass,
    graded: Mapping[str, tuple[float, float]],
) -> IncomingProjection:
    src = graph.populations[proj.src]
    payload = (
        float(1 << (src.message_bits - 1)) if isinstance(src, Input) and src.message_bits else 1.0
    )
    if not isinstance(src, Input) and model_of(src).graded:
        if proj.src not in graded:
            raise QuantizationError(
                f"projection {name!r} ({proj.src} -> {proj.dst}): its source sends graded payloads "
                "whose scale is set when the source is quantized, after its destination here "
                "(a loop through graded neurons); snnc cannot quantize it"
            )
        # The source's fixed payloads are its scale times the float ones: weights per payload step.
        unit, payload = graded[proj.src]
        fold = fold * unit
    per_channel = opts.granularity == "per-channel"
    n_dst = graph.populations[proj.dst].size
    target = (hw, bits, float(opts.clip_percentile), proj.src in opts.exact_sources)
    folded = bool(np.any(fold != 1.0))
    if isinstance(proj, Dense):
        w = proj.weight * fold[:, None] if folded else proj.weight
        return IncomingProjection(
            name, proj, "dense", w, 1.0 / fold, payload, n_dst, per_channel, *target
        )
    if isinstance(proj, Sparse):
        w = proj.values * fold[proj.rows] if folded else proj.values
        return IncomingProjection(
            name, proj, "sparse", w, 1.0 / fold, payload, n_dst, per_channel, *target
        )
    if isinstance(proj, Conv2d):
        # Folding into a shared kernel needs one threshold per output channel (caller checks).
        chan = fold.reshape(proj.weight.shape[0], -1)[:, 0]
        w = proj.weight * chan[:, None, None, None] if folded else proj.weight
        return IncomingProjection(name, proj, "conv", w, 1.0 / chan, payload, n_dst, False, *target)
    raise QuantizationError(f"projection {name!r}: cannot quantize a {type(proj).__name__}")


def row_extremes(inc: IncomingProjection) -> tuple[np.ndarray, np.ndarray]:
    """Per scale row: (largest positive weight, largest |negative weight|), 0 where none."""
    w = inc.w
    if not inc.per_row:
        return np.array([max(float(w.max(initial=0.0)), 0.0)]), np.array(
            [max(-float(w.min(initial=0.0)), 0.0)]
        )
    if inc.kind == "dense":
        return w.max(axis=1, initial=0.0), -w.min(axis=1, initial=0.0)
    pos, neg = np.zeros(inc.n_dst), np.zeros(inc.n_dst)
    if w.size:
        starts = np.flatnonzero(np.r_[True, np.diff(inc.rows) != 0])
        rows = inc.rows[starts]
        pos[rows] = np.maximum(np.maximum.reduceat(w, starts), 0.0)
        neg[rows] = np.maximum(-np.minimum.reduceat(w, starts), 0.0)
    return pos, neg


def row_percentile(inc: IncomingProjection, magnitude: np.ndarray, q: float) -> np.ndarray:
    """Per-scale-row q-th percentile of |w| (linear interpolation, numpy's default)."""
    if not inc.per_row:
        return np.array([np.percentile(magnitude, q)]) if magnitude.size else np.zeros(1)
    if inc.kind == "dense":
        return np.percentile(magnitude, q, axis=1)
    out = np.zeros(inc.n_dst)
    order = np.lexsort((magnitude, inc.rows))
    srt, rows = magnitude[order], inc.rows[order]
    starts = (
        np.flatnonzero(np.r_[True, np.diff(rows) != 0])
        if rows.size
        else np.zeros(0, dtype=np.int64)
    )
    counts = np.diff(np.r_[starts, rows.size])
    pos = starts + (counts - 1) * q / 100.0
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, starts + counts - 1)
    frac = pos - lo
    if rows.size:
        out[rows[starts]] = srt[lo] * (1 - frac) + srt[hi] * frac
    return out


def quantize_rows(
    inc: IncomingProjection,
    level: float,
    w: np.ndarray | None = None,
    row: np.ndarray | None = None,
):
    """Mantissas at population level L: (M, c, E per row, clipped mask, error in mantissa steps),
    M as float64 holding integers.

    With `w`/`row` given, quantizes that sample instead of the whole projection."""
    e_row = inc.exponents(level)
    c_row = np.exp2(level - e_row)
    if w is None:
        w, c, lo, hi = inc.w, inc.expand(c_row), inc.expand(inc.lo_row), inc.expand(inc.hi_row)
    else:
        c, lo, hi = c_row[row], inc.lo_row[row], inc.hi_row[row]
    ideal = w * c
    m = np.rint(ideal)
    np.clip(m, lo, hi, out=m)
    clipped = (ideal < lo - 0.5) | (ideal > hi + 0.5)
    err = np.subtract(m, ideal, out=ideal)  # in mantissa steps
    return m, c, e_row, clipped, err  # m holds integers as float64 until the nodes are built


def per_neuron_sums(
    inc: IncomingProjection, values: np.ndarray, row_factor
) -> tuple[np.ndarray, np.ndarray]:
    """(sum of positive values, sum of |negative values|) per destination neuron (flat), each row's
    sums multiplied by `row_factor` (scalar, or per destination neuron). A convolution's are a
    bound per output channel (every tap inside the image), repeated over its positions."""
    total = inc.row_sums(values)
    pos = inc.row_sums(np.maximum(values, 0))
    neg = pos - total
    if inc.kind == "conv":
        per = inc.n_dst // len(pos)
        pos, neg = np.repeat(pos, per), np.repeat(neg, per)
    return pos * row_factor, neg * row_factor


def build_projection(
    inc: IncomingProjection,
    v: np.ndarray,
    m: np.ndarray,
    sel: np.ndarray,
    sign: str,
    exp: int,
    whole: bool,
    bits: int,
) -> tuple[Projection, np.ndarray]:
    """The fixed-point node for scale rows `sel` (all of them when `whole`), and its mantissas."""
    proj = inc.proj
    if inc.kind == "conv":
        conv: Conv2d = proj  # type: ignore[assignment]
        return QConv2d(
            proj.src,
            proj.dst,
            port=proj.port,
            weight=v,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
        ), m
    fmt = dict(weight_exp=exp, num_weight_bits=bits, sign_mode=sign)
    if inc.kind == "dense":
        dense: Dense = proj  # type: ignore[assignment]
        if whole:
            return QDense(proj.src, proj.dst, weight=v, delay=dense.delay, port=proj.port, **fmt), m
        n_src = v.shape[1]
        delay = dense.delay[sel].reshape(-1) if dense.delay.ndim else dense.delay
        return QSparse(
            proj.src,
            proj.dst,
            port=proj.port,
            rows=np.repeat(sel, n_src),
            cols=np.tile(np.arange(n_src), sel.size),
            values=v[sel].reshape(-1),
            delay=delay,
            **fmt,
        ), m[sel]
    sparse: Sparse = proj  # type: ignore[assignment]
    if whole:
        return QSparse(
            proj.src,
            proj.dst,
            port=proj.port,
            rows=sparse.rows,
            cols=sparse.cols,
            values=v,
            delay=sparse.delay,
            **fmt,
        ), m
    keep = np.isin(sparse.rows, sel)
    delay = sparse.delay[keep] if sparse.delay.ndim else sparse.delay
    return QSparse(
        proj.src,
        proj.dst,
        port=proj.port,
        rows=sparse.rows[keep],
        cols=sparse.cols[keep],
        values=v[keep],
        delay=delay,
        **fmt,
    ), m[keep]
