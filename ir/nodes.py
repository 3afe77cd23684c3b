"""IR node types: populations (graph nodes) and projections (graph edges).

Two domains share the graph structure:
- **float** nodes (`LIF`, `Dense`, `Sparse`, `Conv2d`) are what trainers and importers produce;
  time constants are in seconds and the graph carries the step `dt`;
- **fixed** nodes (`QLIF`, `QDense`, `QSparse`, `QConv2d`) are what the quantizer produces; their
  fields are the Loihi/Lava register names and hold integers.
`Input` belongs to both. Shapes are (C, H, W) for spatial populations (PyTorch/NIR order) and
(n,) otherwise; neuron index `i` of a population means its C-order flat index.

Every node is a small frozen dataclass whose array fields are read-only numpy arrays; equality is
identity (arrays make value equality ambiguous). Field checks here are the ones a constructor can
make alone (types, finiteness, shapes of its own arrays); relations between nodes are checked by
`ir.verify`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from ir.errors import IRVerifyError

__all__ = [
    "NODE_TYPES",
    "Conv2d",
    "Dense",
    "Input",
    "LIF",
    "Node",
    "Population",
    "Projection",
    "QConv2d",
    "QDense",
    "QLIF",
    "QSparse",
    "SignMode",
    "Sparse",
    "conv2d_output_hw",
    "param_field",
    "parameter_groups",
    "register_node_type",
]

# 16 Loihi 2 chips of 2^20 neurons each; a float64 per neuron is then 128 MiB.
MAX_POPULATION_NEURONS = 1 << 24
# Sanity bounds on exponents when no hardware config is given (Lava accepts these; hardware
# may not).
FREE_EXP_RANGE = (-24, 24)

SignMode = Literal["mixed", "excitatory", "inhibitory"]
SIGN_MODES: tuple[str, ...] = ("mixed", "excitatory", "inhibitory")


def param_field(dtype: str, *, default: Any = dataclasses.MISSING) -> Any:
    """A neuron parameter: one number for the whole population (held as a Python int or float,
    saved as a JSON number) or one per neuron (a read-only array of the population's shape).

    Models declare register fields this way so that a population whose neurons share a value
    is stored exactly as before per-neuron parameters existed."""
    meta = {"param": dtype}
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


def array_field(dtype: str, *, scalar_ok: bool = False, default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field holding a read-only numpy array of `dtype` ("float" or "int").

    `scalar_ok`: a 0-d array stands for one value shared by every neuron.
    """
    meta = {"array": dtype, "scalar_ok": scalar_ok}
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


class Node:
    """Common behaviour of populations and projections: array freezing and field access."""

    domain: ClassVar[str]  # "float", "fixed" or "any"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            kind = f.metadata.get("array") or f.metadata.get("param")
            if kind is None:
                continue
            value = getattr(self, f.name)
            where = f"{type(self).__name__}.{f.name}"
            if "param" in f.metadata and isinstance(value, bool):
                raise IRVerifyError(where, f"expected a number, got {value!r}")
            arr = _as_array(value, kind, where)
            if "param" in f.metadata and arr.ndim == 0:
                object.__setattr__(self, f.name, int(arr) if kind == "int" else float(arr))
                continue
            arr.setflags(write=False)
            object.__setattr__(self, f.name, arr)

    def replace(self, **changes: Any) -> Node:
        """A copy with `changes` applied (arrays are shared, not copied)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    @classmethod
    def array_fields(cls) -> tuple[str, ...]:
        """Fields that may hold one value per neuron or synapse (array and parameter fields)."""
        return tuple(
            f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if "array" in f.metadata or "param" in f.metadata
        )


def _as_array(value: Any, kind: str, where: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object:
        raise IRVerifyError(where, "expected a numeric array, got objects")
    if kind == "float":
        if arr.dtype.kind not in "fiub":
            raise IRVerifyError(where, f"expected real numbers, got dtype {arr.dtype}")
        return np.array(arr, dtype=np.float64, copy=True)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise IRVerifyError(where, "expected integers, got non-integral values")
    elif arr.dtype.kind not in "iub":
        raise IRVerifyError(where, f"expected integers, got dtype {arr.dtype}")
    if arr.size and (arr.max() > np.iinfo(np.int64).max or arr.min() < np.iinfo(np.int64).min):
        raise IRVerifyError(where, "integer out of int64 range")
    return np.array(arr, dtype=np.int64, copy=True)


def _shape_tuple(shape: Any, where: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    except (TypeError, ValueError):
        raise IRVerifyError(
            where, f"shape must be a tuple of positive integers, got {shape!r}"
        ) from None
    if not dims or len(dims) > 3 or any(d <= 0 for d in dims):
        raise IRVerifyError(where, f"shape must be 1 to 3 positive integers, got {dims}")
    return dims


def _pair(value: Any, where: str, minimum: int) -> tuple[int, int]:
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    try:
        pair = (int(vals[0]), int(vals[1]))
    except (TypeError, ValueError, IndexError):
        raise IRVerifyError(where, f"expected two integers, got {value!r}") from None
    if len(vals) != 2 or min(pair) < minimum:
        raise IRVerifyError(where, f"expected two integers >= {minimum}, got {value!r}")
    return pair


# --------------------------------------------------------------------------- populations


@dataclass(frozen=True, eq=False)
class Population(Node):
    """A group of neurons with a shape; base of every graph node.

    At most MAX_POPULATION_NEURONS neurons: simulators, passes and backends keep arrays per neuron,
    so a file declaring an absurd size must fail here, before anything allocates them.
    """

    shape: tuple[int, ...]
    input_ports: ClassVar[tuple[str, ...]] = ("in",)
    """The inputs a projection may target (`Projection.port`), first the default one. Each port
    sums what its projections deliver on its own (Lava: one InPort each); the neuron model's
    step receives the ports side by side (see `neurons.base.NeuronModel.step`)."""
    per_process: ClassVar[tuple[str, ...]] = ()
    """Fields Lava's process for this node holds as one value per process (not per neuron):
    neurons that differ in any of them need processes of their own (`parameter_groups`)."""

    def __post_init__(self) -> None:
        where = type(self).__name__ + ".shape"
        object.__setattr__(self, "shape", _shape_tuple(self.shape, where))
        if math.prod(self.shape) > MAX_POPULATION_NEURONS:
            raise IRVerifyError(
                where,
                f"{self.shape} is {math.prod(self.shape)} neurons, more than the "
                f"{MAX_POPULATION_NEURONS} a population may have (ir.nodes.MAX_POPULATION_NEURONS)",
            )
        super().__post_init__()

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def per_neuron(self, field_name: str) -> np.ndarray:
        """Array or parameter field `field_name` as one value per neuron, flat (size,)
        (read-only view)."""
        arr = np.asarray(getattr(self, field_name))
        return np.broadcast_to(arr.reshape(-1) if arr.ndim else arr, (self.size,))

    def value_ranges(self, hw: Any) -> list[tuple[str, Any, int, int, str]]:
        """(field, values, lo, hi, source) for every register whose range the verifier checks;
        `hw` is the target's HardwareSpec or None (the semantics profile's ranges)."""
        return []


def parameter_groups(pop: Population) -> tuple[np.ndarray, ...]:
    """The neurons of `pop` grouped by equal values of its `per_process` fields: sorted flat
    index arrays, groups ordered by their values (lexicographically, in field order). One group
    (every neuron) when the population shares all of them."""
    per_neuron = [np.asarray(getattr(pop, f)) for f in pop.per_process]
    varying = [
        pop.per_neuron(f) for f, a in zip(pop.per_process, per_neuron, strict=True) if a.ndim
    ]
    if not varying:
        return (np.arange(pop.size, dtype=np.int64),)
    keys = np.stack(varying, axis=1)
    _, label = np.unique(keys, axis=0, return_inverse=True)
    label = label.reshape(-1)
    order = np.argsort(label, kind="stable")
    bounds = np.flatnonzero(np.diff(label[order])) + 1
    return tuple(np.split(order.astype(np.int64), bounds))


@dataclass(frozen=True, eq=False)
class Input(Population):
    """Spikes injected from the host, one per neuron per step.

    s[t] in {0, 1} when `message_bits == 0`; otherwise a graded spike whose integer payload is a
    signed `message_bits`-bit number, multiplied into the weights of every outgoing projection.
    """

    domain: ClassVar[str] = "any"
    message_bits: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.message_bits, (int, np.integer)) or not 0 <= self.message_bits <= 32:
            raise IRVerifyError("Input.message_bits", f"expected 0..32, got {self.message_bits!r}")
        object.__setattr__(self, "message_bits", int(self.message_bits))


@dataclass(frozen=True, eq=False)
class LIF(Population):
    r"""Float leaky integrate-and-fire neuron, discrete time with step `dt` (the graph's).

    .. math::
        \alpha_{syn} = e^{-dt/\tau_{syn}},\quad \alpha_{mem} = e^{-dt/\tau_{mem}}
        u[t] = \alpha_{syn} u[t-1] + a[t]
        v[t] = \alpha_{mem} v[t-1] + u[t] + b
        s[t] = v[t] > v_{th};\quad v[t] \leftarrow 0 \text{ where } s[t]

    `a[t]` is the sum over incoming projections of their output at `t` (each projection delivers
    what its source emitted at `t - 1 - delay`). `tau_syn = 0` gives alpha_syn = 0 (the current is
    this step's input only); `tau_mem = inf` gives alpha_mem = 1 (integrate-and-fire). Reset sets
    v to 0 and leaves u alone, as Lava's LIF does. With `reset_interval = R > 0`, u and v are set
    to 0 before the update at every step t with `t % R == reset_offset` (Lava's LIFReset).
    Parameters are one value for the population (0-d) or one per neuron (shape of the population).
    `v_th = +inf` makes a non-spiking leaky integrator (NIR's LI, CubaLI and I read out through v).
    """

    domain: ClassVar[str] = "float"
    tau_syn: np.ndarray = array_field("float", scalar_ok=True, default=0.0)
    tau_mem: np.ndarray = array_field("float", scalar_ok=True, default=math.inf)
    v_th: np.ndarray = array_field("float", scalar_ok=True, default=1.0)
    bias: np.ndarray = array_field("float", scalar_ok=True, default=0.0)
    reset_interval: int | np.ndarray = param_field("int", default=0)
    reset_offset: int | np.ndarray = param_field("int", default=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        for fname in ("tau_syn", "tau_mem"):
            arr = getattr(self, fname)
            if np.any(np.isnan(arr)) or np.any(arr < 0):
                raise IRVerifyError(f"{name}.{fname}", "time constants must be >= 0 (inf allowed)")
        if np.any(np.isnan(self.v_th)) or np.any(self.v_th == -math.inf):
            raise IRVerifyError(
                f"{name}.v_th",
                "must be finite, or +inf for a non-spiking neuron (found NaN or -inf)",
            )
        if not np.all(np.isfinite(self.bias)):
            raise IRVerifyError(f"{name}.bias", "must be finite (found NaN or inf)")
        _check_reset(self, name)

    def decays(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """(alpha_syn, alpha_mem): the per-step retention factors for step `dt`."""
        # tau = 0 -> exp(-inf) = 0; tau = inf -> exp(-0) = 1.
        with np.errstate(divide="ignore"):
            return np.exp(-dt / self.tau_syn), np.exp(-dt / self.tau_mem)


@dataclass(frozen=True, eq=False)
class QLIF(Population):
    r"""Fixed-point LIF with Lava's register names (bit-accurate `PyLifModelBitAcc`).

    Per step, all integers (see the reference profile in docs/semantics.md):

    .. math::
        u[t] = \mathrm{wrap}_{24}\big(\mathrm{trunc}(u[t-1] (4096 - du - 1) / 4096)
               + (a[t] \ll 6)\big)
        v[t] = \mathrm{sat}_{24}\big(\mathrm{trunc}(v[t-1] (4096 - dv) / 4096) + u[t]
               + \mathrm{bias\_mant} \cdot 2^{\mathrm{bias\_exp}}\big)
        s[t] = v[t] > (vth \ll 6);\quad v[t] \leftarrow 0 \text{ where } s[t]

    As Lava computes it: wrap_24 subtracts or adds 2^24 once (values at or beyond 3 * 2^23 stay
    outside 24 bits), sat_24 clips to +-(2^23 - 1), and `a << 6` and the sums are int32
    operations that wrap at 32 bits (backends/cpu/kernels.py has every step).

    Precision (Loihi 2 / Lava 0.10): du, dv unsigned 12-bit (0..4095); vth unsigned 17-bit
    mantissa; bias_mant signed 13-bit; bias_exp 3-bit. Every register is one value for the
    population or one per neuron. Lava's LIF holds du, dv and vth (and LIFReset its interval
    and offset) as one value per process, so the Lava lowering runs neurons that differ in them
    as separate processes (`per_process`); bias_mant and bias_exp are per neuron in Lava too.
    `reset_interval`/`reset_offset` as in `LIF` (Lava's LIFReset), per neuron or shared.
    """

    domain: ClassVar[str] = "fixed"
    per_process: ClassVar[tuple[str, ...]] = ("du", "dv", "vth", "reset_interval", "reset_offset")
    du: int | np.ndarray = param_field("int", default=0)
    dv: int | np.ndarray = param_field("int", default=0)
    vth: int | np.ndarray = param_field("int", default=1)
    bias_mant: np.ndarray = array_field("int", scalar_ok=True, default=0)
    bias_exp: np.ndarray = array_field("int", scalar_ok=True, default=0)
    reset_interval: int | np.ndarray = param_field("int", default=0)
    reset_offset: int | np.ndarray = param_field("int", default=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_reset(self, type(self).__name__)

    def value_ranges(self, hw: Any) -> list[tuple[str, Any, int, int, str]]:
        from ir.fixed import LAVA_FIXED_PT

        prof = hw.profile if hw else LAVA_FIXED_PT
        src = f"{hw.source_file}" if hw else prof.name
        decay_max = prof.decay_unity - 1
        half = 1 << (prof.bias_mant_bits - 1)
        if hw:
            lo, hi = hw.neuron.bias_exp_min.value, hw.neuron.bias_exp_max.value
            exp_src = f"{hw.source_file}: neuron.bias_exp_min/max"
        else:
            (lo, hi), exp_src = FREE_EXP_RANGE, prof.name
        # Lava's LIF also computes du = -1 (no current decay), dv = 4096 (v keeps only this
        # step's input) and vth >= 2^vth_bits (v saturates below vth << vth_shift: never spikes):
        # netx writes du = iDecay - 1 and dv = vDecay with SLAYER's decays in 0..4096, and
        # 2^18 - 1 for non-spiking layers (lava-dl netx/hdf5.py get_neuron_params, slayer
        # neuron/cuba.py clamp, block/base.py AbstractAffine.export_hdf5).
        return [
            ("du", self.du, -1, decay_max, f"{src}: {prof.decay_bits}-bit decay, or -1"),
            (
                "dv",
                self.dv,
                0,
                prof.decay_unity,
                f"{src}: {prof.decay_bits}-bit decay, or {prof.decay_unity}",
            ),
            (
                "vth",
                self.vth,
                0,
                (1 << (prof.vth_bits + 1)) - 1,
                f"{src}: {prof.vth_bits}-bit threshold mantissa, or up to 2^{prof.vth_bits + 1} - "
                "1 to never spike",
            ),
            (
                "bias_mant",
                self.bias_mant,
                -half,
                half - 1,
                f"{src}: signed {prof.bias_mant_bits}-bit bias mantissa",
            ),
            ("bias_exp", self.bias_exp, lo, hi, exp_src),
        ]


def _check_reset(node: Any, name: str) -> None:
    interval, offset = np.asarray(node.reset_interval), np.asarray(node.reset_offset)
    for fname, arr in (("reset_interval", interval), ("reset_offset", offset)):
        if arr.size and arr.min() < 0:
            raise IRVerifyError(f"{name}.{fname}", f"expected integers >= 0, got {int(arr.min())}")
    bad = (interval > 0) & (offset >= interval)
    if np.any(bad):
        i = int(np.argmax(np.broadcast_to(bad, np.broadcast(interval, offset).shape)))
        iv, of = (int(np.reshape(a, -1)[i] if a.ndim else a) for a in (interval, offset))
        raise IRVerifyError(
            f"{name}.reset_offset", f"must be below reset_interval ({iv}), got {of}"
        )


# --------------------------------------------------------------------------- projections


@dataclass(frozen=True, eq=False)
class Projection(Node):
    """A directed connection from population `src` to population `dst`.

    Every projection adds one step of latency (Lava's connection processes send the value they
    computed at the previous step), plus `delay` extra steps.

    `port` names the destination's input it feeds (one of `type(dst).input_ports`; None, the
    default, is the first): a resonate-and-fire neuron has a real and an imaginary input
    (Lava's `a_real_in`, `a_imag_in`), and a complex synapse is two projections, one per port.
    """

    src: str
    dst: str
    port: str | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if self.port is not None and (not isinstance(self.port, str) or not self.port):
            raise IRVerifyError(
                f"{type(self).__name__}.port", f"expected an input port name, got {self.port!r}"
            )
        super().__post_init__()


@dataclass(frozen=True, eq=False)
class _DenseLike(Projection):
    weight: np.ndarray = array_field("float")
    delay: np.ndarray = array_field("int", scalar_ok=True, default=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        if self.weight.ndim != 2:
            raise IRVerifyError(
                f"{name}.weight",
                f"expected a 2-D (n_dst, n_src) array, got shape {self.weight.shape}",
            )
        if self.domain == "float" and not np.all(np.isfinite(self.weight)):
            raise IRVerifyError(f"{name}.weight", "must be finite (found NaN or inf)")
        _check_delay(self.delay, self.weight.shape, name)


def _check_delay(delay: np.ndarray, shape: tuple[int, ...], name: str) -> None:
    if delay.ndim and delay.shape != shape:
        raise IRVerifyError(
            f"{name}.delay", f"expected a scalar or shape {shape}, got {delay.shape}"
        )
    if delay.size and delay.min() < 0:
        raise IRVerifyError(f"{name}.delay", "delays must be >= 0")


@dataclass(frozen=True, eq=False)
class Dense(_DenseLike):
    r"""Float all-to-all projection: :math:`a_{dst}[t] = W \cdot s_{src}[t - 1 - delay]`.

    `weight` has shape (n_dst, n_src); `delay` is 0-d or per synapse, in extra steps.
    """

    domain: ClassVar[str] = "float"


@dataclass(frozen=True, eq=False)
class QDense(_DenseLike):
    r"""Fixed-point Dense (Lava `Dense`, bit-accurate model; `DelayDense` when `delay` is a
    per-synapse array or a non-zero scalar).

    .. math::
        a_{dst}[t] = \mathrm{wrap}_{32}\Big(\sum_k \mathrm{floor}\big(
                     (W_{eff,k} \cdot s_{src}[t-1-k]) \cdot 2^{weight\_exp}\big)\Big)

    where `W_eff,k` holds the synapses whose delay is k. `W_eff` is `weight` after Lava's clip
    and truncation (see `ir.fixed.effective_weights`): clipped to [-256, 255] (mixed) or
    [0, 255] (excitatory/inhibitory, sign restored), then the low `8 - num_weight_bits +
    is_mixed` bits cleared. The exponent shifts each delay group's **sum**. Graded spikes
    (source `Input.message_bits > 0`) multiply their payload into W; Lava's graded Dense sums
    in int32 before the shift (see backends/cpu/kernels.py for every wrap).
    """

    domain: ClassVar[str] = "fixed"
    weight: np.ndarray = array_field("int")
    weight_exp: int = 0
    num_weight_bits: int = 8
    sign_mode: str = "mixed"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_synapse_format(self)


def _check_synapse_format(node: Any) -> None:
    name = type(node).__name__
    for fname in ("weight_exp", "num_weight_bits"):
        value = getattr(node, fname)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise IRVerifyError(f"{name}.{fname}", f"expected an integer, got {value!r}")
        object.__setattr__(node, fname, int(value))
    if node.sign_mode not in SIGN_MODES:
        raise IRVerifyError(
            f"{name}.sign_mode", f"expected one of {', '.join(SIGN_MODES)}, got {node.sign_mode!r}"
        )


@dataclass(frozen=True, eq=False)
class _SparseLike(Projection):
    """COO connectivity: synapse k connects src neuron `cols[k]` to dst neuron `rows[k]`.

    Synapses are kept sorted by (row, col) without duplicates, so equal graphs save equal bytes.
    """

    rows: np.ndarray = array_field("int")
    cols: np.ndarray = array_field("int")
    values: np.ndarray = array_field("float")
    delay: np.ndarray = array_field("int", scalar_ok=True, default=0)

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        n = self.values.shape
        if self.rows.ndim != 1 or self.rows.shape != n or self.cols.shape != n:
            raise IRVerifyError(
                name,
                f"rows, cols and values must be 1-D of equal length, got {self.rows.shape}, "
                f"{self.cols.shape}, {n}",
            )
        if self.domain == "float" and not np.all(np.isfinite(self.values)):
            raise IRVerifyError(f"{name}.values", "must be finite (found NaN or inf)")
        if n[0] and (self.rows.min() < 0 or self.cols.min() < 0):
            raise IRVerifyError(name, "negative neuron index")
        _check_delay(self.delay, n, name)
        order = np.lexsort((self.cols, self.rows))
        if np.any(order != np.arange(n[0])):
            for fname in ("rows", "cols", "values") + (("delay",) if self.delay.ndim else ()):
                arr = getattr(self, fname)[order]
                arr.setflags(write=False)
                object.__setattr__(self, fname, arr)
        if n[0] > 1:
            dup = (np.diff(self.rows) == 0) & (np.diff(self.cols) == 0)
            if np.any(dup):
                k = int(np.argmax(dup))
                raise IRVerifyError(
                    name, f"duplicate synapse ({int(self.rows[k])}, {int(self.cols[k])})"
                )

    @property
    def nnz(self) -> int:
        return int(self.values.shape[0])


@dataclass(frozen=True, eq=False)
class Sparse(_SparseLike):
    r"""Float sparse projection:
    :math:`a_{dst}[t]_r = \sum_k [rows_k = r]\, values_k\, s_{src}[t-1-delay_k]_{cols_k}`.

    Also how one-to-one connections are written (rows = cols = arange(n)).
    """

    domain: ClassVar[str] = "float"


@dataclass(frozen=True, eq=False)
class QSparse(_SparseLike):
    """Fixed-point sparse projection (Lava `Sparse`, bit-accurate model): as `QDense` with the
    weight matrix given by (rows, cols, values)."""

    domain: ClassVar[str] = "fixed"
    values: np.ndarray = array_field("int")
    weight_exp: int = 0
    num_weight_bits: int = 8
    sign_mode: str = "mixed"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_synapse_format(self)


@dataclass(frozen=True, eq=False)
class _ConvLike(Projection):
    """2-D convolution between (C, H, W) populations, PyTorch conventions.

    `weight` has shape (C_out, C_in / groups, kH, kW); stride, padding and dilation are (H, W)
    pairs. Output size per axis: floor((n + 2 p - d (k - 1) - 1) / s) + 1. Pooling is a grouped
    convolution (groups = C, one weight per kernel tap).
    """

    weight: np.ndarray = array_field("float")
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        if self.weight.ndim != 4:
            raise IRVerifyError(
                f"{name}.weight",
                f"expected (C_out, C_in/groups, kH, kW), got shape {self.weight.shape}",
            )
        if self.domain == "float" and not np.all(np.isfinite(self.weight)):
            raise IRVerifyError(f"{name}.weight", "must be finite (found NaN or inf)")
        object.__setattr__(self, "stride", _pair(self.stride, f"{name}.stride", 1))
        object.__setattr__(self, "padding", _pair(self.padding, f"{name}.padding", 0))
        object.__setattr__(self, "dilation", _pair(self.dilation, f"{name}.dilation", 1))
        if (
            isinstance(self.groups, bool)
            or not isinstance(self.groups, (int, np.integer))
            or self.groups < 1
        ):
            raise IRVerifyError(f"{name}.groups", f"expected an integer >= 1, got {self.groups!r}")
        object.__setattr__(self, "groups", int(self.groups))
        if self.weight.shape[0] % self.groups:
            raise IRVerifyError(
                f"{name}.groups",
                f"C_out = {self.weight.shape[0]} is not divisible by groups = {self.groups}",
            )


@dataclass(frozen=True, eq=False)
class Conv2d(_ConvLike):
    r"""Float 2-D convolution: :math:`a_{dst}[t] = W \star s_{src}[t-1]` (cross-correlation, as
    PyTorch)."""

    domain: ClassVar[str] = "float"


@dataclass(frozen=True, eq=False)
class QConv2d(_ConvLike):
    r"""Fixed-point convolution as Lava's `PyConvModelFixed` computes it.

    .. math:: a_{dst}[t] = \mathrm{wrap}_{24}(\mathrm{int32}(W \star s_{src}[t-1]))

    (a float64 sum cast to int32, then wrapped to 24 bits). Lava's Python model ignores
    `weight_exp` and `num_weight_bits`, so this node has neither: the quantizer folds the weight
    scale into the threshold and keeps W within the synapse format. Lava convolves (it flips
    the kernel) over (W, H, C) data; the Lava lowering converts this cross-correlation.
    """

    domain: ClassVar[str] = "fixed"
    weight: np.ndarray = array_field("int")


def conv2d_output_hw(
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> tuple[int, int]:
    """Output (H, W) of a convolution (PyTorch's formula)."""
    return tuple(  # type: ignore[return-value]
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip(in_hw, kernel, stride, padding, dilation)
    )


NODE_TYPES: dict[str, type[Node]] = {
    cls.__name__: cls for cls in (Input, LIF, QLIF, Dense, QDense, Sparse, QSparse, Conv2d, QConv2d)
}
"""Every node type by class name: what files and NIR metadata may name. Neuron models other
than LIF define their nodes in their `neurons` module and add them with `register_node_type`
when that module is imported (`import neurons` imports them all)."""


def register_node_type(cls: type[Node]) -> type[Node]:
    """Add a node class to NODE_TYPES (a class decorator); its name must be new."""
    known = NODE_TYPES.get(cls.__name__)
    if known is not None and known is not cls:
        raise ValueError(f"node type {cls.__name__!r} is already registered")
    NODE_TYPES[cls.__name__] = cls
    return cls
