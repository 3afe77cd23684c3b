"""What a neuron model is to snnc: the interface every row of the table (`neurons.MODELS`)
implements, and the defaults most models share.

A model owns its IR nodes (a float node with physical parameters and a fixed-point node with
Lava's register names), its state variables, its quantization rule, its cpu kernels (the
reference step in numpy; optionally a faster layer kernel), its Lava lowering and its NIR
mapping. Passes, backends, probes, `snnc hil` and recorded traces ask the table, never a model
class by name.

Layering: this package imports `ir` and numpy at module level only; numba, lava and nir are
imported inside the functions that need them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ir.errors import QuantizationError
from ir.hardware import HardwareSpec
from ir.nodes import Population, parameter_groups

__all__ = [
    "LavaNeurons",
    "NeuronModel",
    "QuantContext",
    "QuantRule",
    "QuantizationError",  # defined in ir.errors; importable here as before
    "flat",
    "run_layer_by_steps",
    "trunc_shift",
    "wrap32",
    "zero_reset_neurons",
]

_TWO32 = 1 << 32
_HALF32 = 1 << 31


def wrap32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to int32 (what storing into an int32 array does)."""
    return ((np.asarray(x, dtype=np.int64) + _HALF32) & (_TWO32 - 1)) - _HALF32


def trunc_shift(x: np.ndarray, shift: int | np.ndarray) -> np.ndarray:
    """sign(x) * (|x| >> shift): division by 2^shift truncating toward zero (Lava's decays)."""
    return np.sign(x) * (np.abs(x) >> shift)


def flat(pop: Population, field_name: str, dtype: Any) -> np.ndarray:
    """A field as one contiguous value per neuron (scalars broadcast)."""
    return np.ascontiguousarray(pop.per_neuron(field_name), dtype=dtype)


@dataclass
class LavaNeurons:
    """One Lava process standing for (some neurons of) a population.

    `input_port` receives the projections' output (into the node's first input port),
    `extra_inputs` the Lava ports of its further input ports (`Population.input_ports[1:]`),
    `output_port` sends the spikes (or graded payloads); `variables[name]` is the Lava Var
    holding snnc variable `name`; `reset` lists (Var, value) pairs that put the process back
    in its initial state between samples."""

    process: Any
    input_port: Any
    output_port: Any
    variables: dict[str, Any]
    reset: list[tuple[Any, np.ndarray]] = field(default_factory=list)
    extra_inputs: tuple[Any, ...] = ()

    def input(self, index: int) -> Any:
        """The Lava port of the node's input port `index` (0: the first)."""
        return self.input_port if index == 0 else self.extra_inputs[index - 1]


def zero_reset_neurons(process: Any, size: int, variables: Sequence[str]) -> LavaNeurons:
    """`LavaNeurons` for a process with ports `a_in`/`s_out` whose Vars are named as the
    model's `variables` and all start from zero."""
    zeros = np.zeros((size,), dtype=np.int64)
    return LavaNeurons(
        process, process.a_in, process.s_out,
        {v: getattr(process, v) for v in variables},
        [(getattr(process, v), zeros) for v in variables],
    )


@dataclass
class QuantContext:
    """What a quantization rule gets from the quantize pass for one population."""

    name: str
    pop: Population
    dt: float
    hw: HardwareSpec
    v_range: float
    decay_levels: int | None
    warnings: list[str]
    notes: list[str]

    @property
    def prof(self):
        return self.hw.profile


class QuantRule:
    """A model's part of quantizing one population (the generic scale search, projections and
    error report live in `compiler/passes/quantize.py`).

    The pass picks one scale S per population (fixed-point state units per float unit) with
    `a_fix << input_shift = S a` for the summed synaptic input a. The rule says what else
    limits S, how the threshold and decays become registers, and builds the fixed node."""

    input_shift: int = 0
    threshold_shift: int = 0
    """The threshold register counts units of 2^threshold_shift state units."""

    def __init__(self, ctx: QuantContext) -> None:
        self.ctx = ctx

    threshold_field: str = "vth"
    """The float threshold field that sets the scale (one value per population) for the
    default `threshold`."""

    def threshold(self, has_conv: bool) -> tuple[float, np.ndarray, bool]:
        """(theta, fold, folded): one threshold for the scale search and per-neuron factors
        that multiply each neuron's incoming weights and bias (1 when nothing is folded). By
        default the population's `threshold_field`, which must be one positive value."""
        ctx, f = self.ctx, self.threshold_field
        if np.ndim(getattr(ctx.pop, f)):
            raise QuantizationError(
                f"population {ctx.name!r}: {f} varies per neuron; snnc quantizes a "
                f"{type(ctx.pop).__name__} population with one threshold (split the population)"
            )
        theta = float(getattr(ctx.pop, f))
        if theta <= 0:
            raise QuantizationError(f"population {ctx.name!r}: {f} = {theta} must be > 0")
        return theta, np.ones(ctx.pop.size), False

    def decays(self) -> dict[str, Any]:
        """Compute the decay registers (kept on the rule); returns their report entries."""
        return {}

    def float_bias(self) -> np.ndarray:
        """The float bias per neuron (flat, model units, before folding)."""
        return np.zeros(self.ctx.pop.size)

    def current_gain(self) -> float:
        """Largest steady-state factor from a constant input to the state that must not wrap."""
        return 1.0

    def level_limits(
        self, theta: float, bias: np.ndarray, input_peak: Callable[[], float]
    ) -> list[tuple[float, str]]:
        """Model limits on L = log2(S / 2^input_shift), each with the reason shown in reports."""
        return []

    def headroom_floor(self, theta: float) -> float:
        """The level below which the worst-case input bound alone does not push the scale."""
        return -np.inf

    def exact_threshold(self, level: float, theta: float) -> tuple[float, int]:
        """(S, threshold register) at level L: S may be nudged so the threshold is exact."""
        return float((1 << self.input_shift) * 2.0**level), 0

    def payload(self, scale: float, input_peak: float, bias: np.ndarray) -> tuple[float, float]:
        """Graded models: (float value of one fixed-point payload step, largest |payload|), for
        quantizing the projections the population feeds."""
        raise NotImplementedError

    def build(
        self, scale: float, vth: int, bias: np.ndarray
    ) -> tuple[Population, dict[str, Any], float, int]:
        """(fixed node, report entries, largest bias error in thresholds, clipped biases) for
        bias `bias` (flat, folded float units)."""
        raise NotImplementedError


class NeuronModel:
    """One row of the neuron-model table (see the module docstring)."""

    name: ClassVar[str]
    label: ClassVar[str]
    """How reports and the CLI name the model ("LIF", ...)."""
    float_node: ClassVar[type[Population] | None]
    fixed_node: ClassVar[type[Population]]
    variables: ClassVar[tuple[str, ...]]
    """State variables, in the order the model updates them (probe and trace names)."""
    graded: ClassVar[bool] = False
    """True when the model sends integer payloads instead of binary spikes."""
    message_bits: ClassVar[int] = 0
    """Payload width of a graded model's fixed-point messages (checked against the target)."""
    wrapping_state: ClassVar[str | None] = None
    """The state variable that wraps on overflow (calibration watches its peak)."""
    saturating_state: ClassVar[str | None] = None
    """The state variable that saturates (calibration counts hits of its limits)."""
    equation: ClassVar[str] = ""
    """The float equation, one line, for the model list of docs/neuron-models.md."""
    nir_types: ClassVar[tuple[str, ...]] = ()
    nir_metadata_only: ClassVar[tuple[str, ...]] = ()
    """Parameters NIR has no form for (kept in snnc's metadata only; the exporter warns)."""
    """NIR neuron node types the importer maps to this model."""
    quant_rule: ClassVar[type[QuantRule] | None] = None
    lava_process_name: ClassVar[str | None] = None
    """The Lava process class `lava_process` builds ("LIF", ...), for models whose fixed node's
    fields are that process's keyword arguments (`from_lava`, `lava_params`); lava-dl's netx
    names the neurons of a file by the process it builds (`compiler/netx`). None otherwise."""
    silent: ClassVar[dict[str, Any]] = {}
    """Per-neuron fields and the value that keeps a neuron at rest with no input (used for
    the neurons of a Lava process that belong to another parameter group)."""

    # ------------------------------------------------------------------ cpu backend

    def prepare(self, node: Population, dt: float) -> Any:
        """Per-neuron parameters of `node` (float or fixed) for the kernels below."""
        raise NotImplementedError

    fixed_kernel: ClassVar[Callable[..., np.ndarray] | None] = None
    """`fixed_kernel(state, a, params)`: the fixed-point step `step` uses by default."""
    float_kernel: ClassVar[Callable[..., np.ndarray] | None] = None
    """`float_kernel(state, a, params)`: the float step `step` uses by default."""

    def initial_state(self, params: Any, batch: int) -> dict[str, np.ndarray]:
        """The state at the start of a run: one (batch, n) array per variable (zeros by
        default; int64 holding the fixed-point values, float64 for float runs)."""
        dtype = np.int64 if params.fixed else np.float64
        return {v: np.zeros((batch, params.size), dtype=dtype) for v in self.variables}

    def step(self, params: Any, state: dict[str, np.ndarray], a: np.ndarray, t: int) -> np.ndarray:
        """One update at step t (1-based) with received input `a` (batch, n), in place on
        `state`; returns what the neurons send: bool spikes, or int64 payloads when graded.
        A node with P input ports (`Population.input_ports`) receives them side by side,
        `a` (batch, P n): port p in columns p n .. (p + 1) n - 1, each port its own sum.
        By default the module's `fixed_kernel` / `float_kernel`."""
        if params.fixed:
            return type(self).fixed_kernel(state, np.asarray(a, dtype=np.int64), params)
        return type(self).float_kernel(state, a, params)

    def run_layer(
        self, params: Any, a_in: np.ndarray, out: np.ndarray, recs: dict[str, np.ndarray]
    ) -> None:
        """The fast engine's kernel: every step of a population fed by `a_in` (batch, T, P n),
        writing emissions into `out` and recorded variables into `recs[var]` (batch, T, n).
        By default the reference step, step after step (vectorized over batch and neurons)."""
        run_layer_by_steps(self, params, a_in, out, recs)

    def reset_period(self, node: Population) -> int:
        """Steps between the model's periodic state resets (0: none); Lava runs a batch with
        every sample starting on a multiple of it."""
        return 0

    def payload_bound(self, params: Any) -> int:
        """Largest |payload| the population can send in one step (1 for binary spikes)."""
        return (1 << 31) if self.graded else 1

    # ------------------------------------------------------------------ Lava

    def lava_process(self, node: Population, name: str) -> LavaNeurons:
        """The Lava process for `node` (whose per-process fields are uniform)."""
        raise NotImplementedError

    def lava_models(self) -> dict[Any, Any]:
        """{Lava process class: process model} to pin in the run configuration, where Lava's
        own selection by tag could pick another model than the one this model matches."""
        return {}

    def from_lava(self, shape: tuple[int, ...], params: dict[str, Any]) -> Population:
        """The fixed node for the Lava process of this model built with keyword arguments
        `params` (per-neuron values as arrays of `shape`): the fixed node's fields are the
        process's arguments."""
        return self.fixed_node(shape, **params)  # type: ignore[call-arg]

    def lava_params(self, node: Population) -> dict[str, Any]:
        """The keyword arguments of `node`'s Lava process (the inverse of `from_lava`)."""
        fields = dataclasses.fields(node)  # type: ignore[arg-type]
        return {f.name: getattr(node, f.name) for f in fields if f.name != "shape"}

    def parameter_groups(self, node: Population) -> tuple[np.ndarray, ...]:
        """Neurons that can share one Lava process (equal per-process registers)."""
        return parameter_groups(node)

    def group_node(self, node: Population, members: np.ndarray) -> Population:
        """`node` with its per-process fields set to the group's values and every other neuron
        silent (`silent`): one Lava process of the population's whole shape in which only
        `members` act. Non-members get no input (the lowering zeroes their synapses), so with
        their drive silenced they stay at rest and send nothing."""
        changes: dict[str, Any] = {f: int(node.per_neuron(f)[members[0]]) for f in node.per_process}
        mask = np.zeros(node.size, dtype=bool)
        mask[members] = True
        for fname, rest in self.silent.items():
            values = node.per_neuron(fname)
            changes[fname] = np.where(mask, values, rest).reshape(node.shape)
        return node.replace(**changes)  # type: ignore[return-value]

    # ------------------------------------------------------------------ NIR

    def to_cuba(self, pop: Population, dt: float) -> dict[str, np.ndarray] | None:
        """The float population as NIR's current-based form (per neuron: alpha_syn,
        alpha_mem, v_th, bias, tau_syn, tau_mem), or None when NIR cannot express it."""
        return None

    def from_cuba(
        self, shape: tuple[int, ...], coeffs: dict[str, np.ndarray], dt: float
    ) -> Population:
        """The float node for NIR's current-based coefficients (see `to_cuba`)."""
        raise NotImplementedError(f"{self.name} has no NIR form")


def run_layer_by_steps(
    model: NeuronModel, params: Any, a_in: np.ndarray, out: np.ndarray, recs: dict[str, np.ndarray]
) -> None:
    """`NeuronModel.run_layer` by the reference step (see there)."""
    batch, steps, _ = a_in.shape
    state = model.initial_state(params, batch)
    wide = np.int64 if a_in.dtype.kind in "iu" else np.float64
    for t in range(1, steps + 1):
        out[:, t - 1] = model.step(params, state, a_in[:, t - 1].astype(wide), t)
        for var, arr in recs.items():
            arr[:, t - 1] = state[var]


def describe(models: Sequence[NeuronModel]) -> str:
    return ", ".join(m.name for m in models)
