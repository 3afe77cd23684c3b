"""Operation counts of a placed program, from the spikes of one of its runs.

A pure function of (program, placement, hardware spec, recorded spikes): nothing here runs a
backend. `CostCounter(program, hw)` is built once per program and fed the spikes of every
population (inputs included), `(batch, T, n)` per population, batch after batch; `result()`
returns the totals. Definitions (one *event* is a nonzero entry of a population's spike array,
a spike or a graded payload):

- **spikes**: events of a population; `spikes` totals count non-input populations only.
- **synaptic ops**: for every event of neuron i, the nonzero effective synapses it reaches
  (`ir.connectivity.fanin`: weights after Lava's clip and truncation), over every projection from
  its population and every core its destinations occupy: events x fan-out. Counted where the
  synapses sit: on the core of the destination neuron. An event at the last step counts too
  (on Loihi the synaptic op happens when the spike arrives, within the step it was sent).
- **neuron updates**: `neuron_updates_per_step(pop)` per step of the run (host inputs: none).
- **messages**: every event travels once to every core that holds a neuron it has a synapse
  onto (the routes of `ir.resources.account`: one message per (neuron, destination core),
  however many projections lead there). `intra_core`: to its own core; `inter_core`: to
  another core (`inter_chip` counts those on another chip); `host_input`: from an input
  population (the host) to a core. `chip_hops`: mesh hops between chips (`system.mesh_columns`,
  row-major), summed over messages. With a cost model, `tile_hops_east_west/north_south`: hops
  between tiles of one chip (`cost.layout`; messages between chips count chip hops only).

Per-step critical path and message energy need the target's cost model (`ir.cost_model`); the
counter records them when `hw.cost` is present (see `compiler.cost.estimate` for the formulas).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ir.connectivity import fanin
from ir.graph import Graph
from ir.hardware import HardwareSpec
from ir.nodes import Input, Population
from ir.resources import account
from ir.traffic import chip_hops
from neurons import model_of

__all__ = [
    "HOP_KINDS",
    "MESSAGE_KINDS",
    "ChipLayout",
    "CostCounter",
    "CostCounts",
    "barrier_ns",
    "neuron_updates_per_step",
]

MESSAGE_KINDS: tuple[str, ...] = ("intra_core", "inter_core", "inter_chip", "host_input")
HOP_KINDS: tuple[str, ...] = ("chip_hops", "tile_hops_east_west", "tile_hops_north_south")
# Rows (sample, step) of spikes converted to float at once: bounds temporary memory.
_CHUNK_ELEMENTS = 1 << 24


def _int(x: np.ndarray) -> np.ndarray:
    """Float sums of integer counts (sparse products, weighted bincounts) back to int64."""
    return np.rint(x).astype(np.int64)


def _exact_dtype(table) -> type:
    """float32 when every per-core sum of the table (the most synapses one row's events can
    reach on a core) is below 2^24, where float32 holds integers exactly; else float64."""
    most = float(table.sum(axis=1).max()) if table.shape[0] and table.shape[1] else 0.0
    return np.float32 if most < 2**24 else np.float64


def _per_core_per_row(table, dense: np.ndarray | None, events: np.ndarray) -> np.ndarray:
    """(n_cores, rows): synapses reached on each core by each row's events: a dense product
    (BLAS) when the table is small enough to be held dense (`dense`, (n, n_cores)), else sparse
    events times the sparse table; in a float type that holds the sums exactly."""
    if dense is not None:
        return (events.astype(dense.dtype) @ dense).T
    import scipy.sparse as sp

    dtype = _exact_dtype(table)
    return (sp.csr_matrix(events, dtype=dtype) @ table.T.astype(dtype)).T.toarray()


def neuron_updates_per_step(pop: Population) -> int:
    """Updates one neuron of `pop` costs per step: one, spiking or not (the neuron-update phase
    of a Loihi core visits every compartment it holds each step); none for host inputs. The one
    place a neuron model with more work per step (several compartments) would say so."""
    return 0 if isinstance(pop, Input) else 1


@dataclass(frozen=True, eq=False)
class ChipLayout:
    """Where each core sits: chip, tile on its chip, and the tile's mesh row and column."""

    chip: np.ndarray
    tile: np.ndarray | None
    tile_row: np.ndarray | None
    tile_col: np.ndarray | None
    tiles_per_chip: int | None

    @classmethod
    def of(cls, core_chip: np.ndarray, hw: HardwareSpec) -> ChipLayout:
        chip = np.asarray(core_chip, dtype=np.int64)
        if hw.cost is None:
            return cls(chip, None, None, None, None)
        per_tile = int(hw.cost.layout.cores_per_tile.value)
        columns = int(hw.cost.layout.tile_mesh_columns.value)
        # Cores of a chip, in ascending number, fill its tiles in order.
        local = np.zeros(chip.size, dtype=np.int64)
        for c in np.unique(chip):
            members = np.flatnonzero(chip == c)
            local[members] = np.arange(members.size)
        tile = local // per_tile
        row, col = np.divmod(tile, columns)
        tiles_per_chip = -(-hw.chip.cores_per_chip.value // per_tile)
        return cls(chip, tile, row, col, tiles_per_chip)


@dataclass(frozen=True, eq=False)
class _Source:
    """What one event of each neuron of a source population costs."""

    name: str
    size: int
    graded: bool
    home: np.ndarray | None  # core of each neuron (placed populations)
    fanout: np.ndarray  # (size,) synapses reached per event
    messages: np.ndarray  # (size,) messages per event
    synapses_to_core: Any  # scipy CSR (n_cores, size): synapses of neuron i on core c
    dense_to_core: np.ndarray | None  # its transpose as a dense array, when small
    messages_to_core: Any  # scipy CSR (n_cores, size): 1 where neuron i sends a message to c
    per_neuron: dict[str, np.ndarray]  # MESSAGE_KINDS and HOP_KINDS per event of neuron i
    latency_levels: tuple[tuple[float, np.ndarray], ...]  # (ns, neurons), longest first


@dataclass
class CostCounts:
    """Totals over `samples` samples of `steps` steps (see the module docstring). All counts
    are integers, so the totals do not depend on how the run was split into batches.

    `per_population[pop]` holds spikes, synaptic_ops (reached by its events), neuron_updates and
    the message kinds and hops of its events; `per_core[key][c]`: neurons (placed there),
    spikes (sent by its neurons),
    synaptic_ops (on its synapses), neuron_updates, messages_in, and messages_out with the hops
    of the messages it sends (`<hop kind>_out`). NeuroBench inputs: `effective_acs` (synaptic
    ops of binary events: payload +-1) and `effective_macs` (of graded payloads other than
    +-1). `timing` (cost model only), over every (sample, step): `busy_updates` and
    `busy_synaptic_ops`, the neuron updates and synaptic ops of the step's busiest core;
    `latency_rows[ns]`, how many steps had `ns` as their slowest message; `max_step_ns`.
    """

    samples: int = 0
    steps: int = 0
    per_population: dict[str, dict[str, int]] = field(default_factory=dict)
    per_core: dict[str, np.ndarray] = field(default_factory=dict)
    effective_acs: int = 0
    effective_macs: int = 0
    timing: dict[str, Any] | None = None

    def merged(self, other: CostCounts) -> CostCounts:
        """The counts of two runs of the same program together (e.g. the shards of one
        evaluation): integer sums, so the result does not depend on how the samples were cut;
        `neurons` (placement, not activity) is kept, the slowest step is the larger one."""
        if self.samples and other.samples and self.steps != other.steps:
            raise ValueError(f"counts of {self.steps} and {other.steps} steps cannot be merged")
        static = {"neurons"}
        per_population = {
            name: {k: v if k in static else v + other.per_population[name][k]
                   for k, v in counts.items()}
            for name, counts in self.per_population.items()
        }
        per_core = {k: v.copy() if k in static else v + other.per_core[k]
                    for k, v in self.per_core.items()}
        timing = None
        if self.timing is not None and other.timing is not None:
            rows = dict(self.timing["latency_rows"])
            for ns, n in other.timing["latency_rows"].items():
                rows[ns] = rows.get(ns, 0) + n
            timing = {
                "busy_updates": self.timing["busy_updates"] + other.timing["busy_updates"],
                "busy_synaptic_ops": (self.timing["busy_synaptic_ops"]
                                      + other.timing["busy_synaptic_ops"]),
                "latency_rows": dict(sorted(rows.items())),
                "max_step_ns": max(self.timing["max_step_ns"], other.timing["max_step_ns"]),
            }
        return CostCounts(
            samples=self.samples + other.samples,
            steps=self.steps or other.steps,
            per_population=per_population,
            per_core=per_core,
            effective_acs=self.effective_acs + other.effective_acs,
            effective_macs=self.effective_macs + other.effective_macs,
            timing=timing,
        )

    def total(self, key: str, graph: Graph) -> int:
        """A count summed over populations; `spikes` over neuron populations only (the events
        of host inputs are their own key, `input_events`)."""
        skip = set(graph.inputs) if key == "spikes" else set()
        return int(sum(v.get(key, 0) for n, v in self.per_population.items() if n not in skip))


class CostCounter:
    """Accumulates `CostCounts` of a placed program over batches of recorded spikes."""

    def __init__(self, program: Graph, hw: HardwareSpec) -> None:
        placement = program.placement
        if placement is None:
            raise ValueError("CostCounter needs a placed program")
        self.program, self.hw = program, hw
        self.n_cores = placement.n_cores
        self.layout = ChipLayout.of(placement.core_chip, hw)
        acc = account(program, hw)
        self._sources = _source_tables(program, hw, acc, self.layout)
        self.updates_per_core = np.zeros(self.n_cores, dtype=np.int64)
        self.neurons_per_core = np.zeros(self.n_cores, dtype=np.int64)
        for pop, cores in acc.core_of.items():
            per_core = np.bincount(cores[cores >= 0], minlength=self.n_cores)
            self.neurons_per_core += per_core
            self.updates_per_core += per_core * neuron_updates_per_step(program.populations[pop])
        self.barrier_ns = barrier_ns(hw, self.layout)
        hops = HOP_KINDS if hw.cost is not None else HOP_KINDS[:1]
        self.counts = CostCounts(
            per_population={
                name: {
                    "neurons": pop.size,
                    "spikes": 0,
                    "synaptic_ops": 0,
                    "neuron_updates": 0,
                    **dict.fromkeys(MESSAGE_KINDS, 0),
                    **dict.fromkeys(hops, 0),
                }
                for name, pop in program.populations.items()
            },
            per_core={
                k: np.zeros(self.n_cores, dtype=np.int64)
                for k in ("spikes", "synaptic_ops", "neuron_updates", "messages_out",
                          "messages_in", *(f"{h}_out" for h in hops))
            },
        )
        self.counts.per_core["neurons"] = self.neurons_per_core.copy()
        if hw.cost is not None:
            self.counts.timing = {
                "busy_updates": 0,
                "busy_synaptic_ops": 0,
                "latency_rows": {},
                "max_step_ns": 0.0,
            }

    # ------------------------------------------------------------------ accumulation

    def add(self, spikes: Mapping[str, np.ndarray]) -> None:
        """Count one batch: `spikes[pop]` is (batch, T, n) for every population."""
        missing = [n for n in self.program.populations if n not in spikes]
        if missing:
            raise ValueError(f"no spikes for population {missing[0]!r} (every population counts)")
        shapes = {name: np.shape(spikes[name]) for name in self.program.populations}
        batch, steps = next(iter(shapes.values()))[:2]
        for name, shape in shapes.items():
            want = (batch, steps, self.program.populations[name].size)
            if tuple(shape) != want:
                raise ValueError(f"spikes of {name!r}: shape {tuple(shape)}, expected {want}")
        if self.counts.steps not in (0, steps):
            raise ValueError(f"batches of {self.counts.steps} and {steps} steps in one count")
        c = self.counts
        c.samples += batch
        c.steps = steps
        c.per_core["neuron_updates"] += self.updates_per_core * batch * steps
        for name, pop in self.program.populations.items():
            c.per_population[name]["neuron_updates"] += (
                neuron_updates_per_step(pop) * pop.size * batch * steps
            )
        rows = batch * steps
        width = max(1, sum(s.size for s in self._sources))
        chunk = max(1, _CHUNK_ELEMENTS // width)
        for lo in range(0, rows, chunk):
            hi = min(rows, lo + chunk)
            flat = {
                n: np.asarray(spikes[n]).reshape(rows, -1)[lo:hi] for n in self.program.populations
            }
            self._add_rows(flat, hi - lo)

    def _add_rows(self, flat: Mapping[str, np.ndarray], rows: int) -> None:
        c = self.counts
        # With a cost model: synaptic ops per (core, row) and each row's slowest message.
        per_core_syn = np.zeros((self.n_cores, rows)) if c.timing is not None else None
        latency = np.zeros(rows)
        for src in self._sources:
            values = flat[src.name]
            events = values != 0
            per_neuron = events.sum(axis=0, dtype=np.int64)
            pop_counts = c.per_population[src.name]
            pop_counts["spikes"] += int(per_neuron.sum())
            synops = int(per_neuron @ src.fanout)
            pop_counts["synaptic_ops"] += synops
            macs = 0
            if src.graded:
                macs = int((np.abs(values) > 1).sum(axis=0, dtype=np.int64) @ src.fanout)
            c.effective_macs += macs
            c.effective_acs += synops - macs
            for key, vec in src.per_neuron.items():
                pop_counts[key] += int(per_neuron @ vec)
            c.per_core["synaptic_ops"] += _int(src.synapses_to_core @ per_neuron)
            c.per_core["messages_in"] += _int(src.messages_to_core @ per_neuron)
            if src.home is not None:
                c.per_core["spikes"] += _int(np.bincount(src.home, per_neuron, self.n_cores))
                c.per_core["messages_out"] += _int(
                    np.bincount(src.home, per_neuron * src.messages, self.n_cores)
                )
                for k in HOP_KINDS:
                    if k in src.per_neuron:
                        c.per_core[f"{k}_out"] += _int(
                            np.bincount(src.home, per_neuron * src.per_neuron[k], self.n_cores)
                        )
            if per_core_syn is not None and src.synapses_to_core.nnz:
                per_core_syn += _per_core_per_row(src.synapses_to_core, src.dense_to_core, events)
                for ns, neurons in src.latency_levels:
                    hit = events[:, neurons].any(axis=1)
                    np.maximum(latency, np.where(hit, ns, 0.0), out=latency)
        if per_core_syn is not None:
            self._add_timing(per_core_syn, latency)

    def _add_timing(self, per_core_syn: np.ndarray, latency: np.ndarray) -> None:
        """The step-time terms of each row (compiler.cost.estimate), as integer counts."""
        c, cost = self.counts, self.hw.cost
        assert c.timing is not None and cost is not None
        t = cost.time_ns
        rows = latency.size
        # The busiest core: its neuron updates plus the synaptic ops of the spikes it receives.
        work = (self.updates_per_core[:, None] * t.neuron_update.value
                + per_core_syn * t.synaptic_op.value)
        if self.n_cores:
            busiest = np.argmax(work, axis=0)
            busy = work[busiest, np.arange(rows)]
            c.timing["busy_updates"] += int(self.updates_per_core[busiest].sum())
            c.timing["busy_synaptic_ops"] += int(_int(per_core_syn[busiest, np.arange(rows)]).sum())
        else:
            busy = np.zeros(rows)
        values, counts = np.unique(latency, return_counts=True)
        for v, n in zip(values.tolist(), counts.tolist(), strict=True):
            c.timing["latency_rows"][v] = c.timing["latency_rows"].get(v, 0) + n
        step = self.barrier_ns + busy + latency
        c.timing["max_step_ns"] = max(c.timing["max_step_ns"], float(step.max(initial=0.0)))

    def result(self) -> CostCounts:
        return self.counts


# --------------------------------------------------------------------------- tables


def _source_tables(graph: Graph, hw: HardwareSpec, acc, layout: ChipLayout) -> list[_Source]:
    """Per population: fan-out per event, synapses per destination core, message routes."""
    import scipy.sparse as sp

    n_cores = acc.n_cores
    fanout = {n: np.zeros(p.size, dtype=np.int64) for n, p in graph.populations.items()}
    syn_rows: dict[str, list[np.ndarray]] = {n: [] for n in graph.populations}
    syn_cols: dict[str, list[np.ndarray]] = {n: [] for n in graph.populations}
    syn_vals: dict[str, list[np.ndarray]] = {n: [] for n in graph.populations}
    for name, proj in graph.projections.items():
        fan = fanin(graph, name, hw)
        cores = acc.core_of.get(proj.dst)
        if cores is None:
            continue
        for core in np.unique(cores[cores >= 0]):
            ids, counts = fan.source_counts(np.flatnonzero(cores == core))
            fanout[proj.src][ids] += counts
            syn_rows[proj.src].append(np.full(ids.size, core, dtype=np.int64))
            syn_cols[proj.src].append(ids)
            syn_vals[proj.src].append(counts)
    out = []
    for name, pop in graph.populations.items():
        size = pop.size
        if syn_rows[name]:
            to_core = sp.csr_matrix(
                (np.concatenate(syn_vals[name]).astype(np.float64),
                 (np.concatenate(syn_rows[name]), np.concatenate(syn_cols[name]))),
                shape=(n_cores, size),
            )
        else:
            to_core = sp.csr_matrix((n_cores, size))
        neurons, cores = acc.routes.get(name, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
        home = acc.core_of.get(name)
        msgs = sp.csr_matrix(
            (np.ones(neurons.size), (cores, neurons)), shape=(n_cores, size)
        )
        per_neuron, levels = _route_costs(neurons, cores, home, size, hw, layout)
        messages = np.bincount(neurons, minlength=size).astype(np.int64)
        out.append(
            _Source(
                name=name,
                size=size,
                graded=(pop.message_bits > 0) if isinstance(pop, Input) else model_of(pop).graded,
                home=home,
                fanout=fanout[name],
                messages=messages,
                synapses_to_core=to_core,
                dense_to_core=(
                    to_core.T.toarray().astype(_exact_dtype(to_core))
                    if n_cores * size <= _CHUNK_ELEMENTS and hw.cost is not None
                    else None
                ),
                messages_to_core=msgs,
                per_neuron=per_neuron,
                latency_levels=levels,
            )
        )
    return out


def _route_costs(
    neurons: np.ndarray,
    cores: np.ndarray,
    home: np.ndarray | None,
    size: int,
    hw: HardwareSpec,
    layout: ChipLayout,
) -> tuple[dict[str, np.ndarray], tuple[tuple[float, np.ndarray], ...]]:
    """Per neuron: messages of one event by kind and hop, and the neurons grouped by the latency
    of their slowest message (() without a cost model; host inputs: only `host_input`)."""

    def per(weights: np.ndarray) -> np.ndarray:
        return np.bincount(neurons, weights=weights, minlength=size)

    out: dict[str, np.ndarray] = {}
    if home is None:
        out["host_input"] = per(np.ones(neurons.size)).astype(np.int64)
        return out, ()
    src_core = home[neurons]
    same_core = src_core == cores
    other_chip = layout.chip[src_core] != layout.chip[cores]
    mesh = hw.system.mesh_columns.value
    hops = chip_hops(layout.chip[src_core], layout.chip[cores], mesh)
    out["intra_core"] = per(same_core.astype(np.float64)).astype(np.int64)
    out["inter_core"] = per((~same_core).astype(np.float64)).astype(np.int64)
    out["inter_chip"] = per(other_chip.astype(np.float64)).astype(np.int64)
    out["chip_hops"] = per(hops.astype(np.float64)).astype(np.int64)
    if hw.cost is None:
        return out, ()
    assert layout.tile_row is not None and layout.tile_col is not None
    on_chip = ~other_chip
    ew = np.where(on_chip, np.abs(layout.tile_col[src_core] - layout.tile_col[cores]), 0)
    ns = np.where(on_chip, np.abs(layout.tile_row[src_core] - layout.tile_row[cores]), 0)
    out["tile_hops_east_west"] = per(ew.astype(np.float64)).astype(np.int64)
    out["tile_hops_north_south"] = per(ns.astype(np.float64)).astype(np.int64)
    t = hw.cost.time_ns
    route_ns = (
        t.spike_within_tile.value + ew * t.tile_hop_east_west.value
        + ns * t.tile_hop_north_south.value + hops * t.chip_hop.value
    )
    slowest = np.zeros(size)
    np.maximum.at(slowest, neurons, route_ns)
    levels = tuple(
        (float(v), np.flatnonzero(slowest == v)) for v in np.unique(slowest[slowest > 0])[::-1]
    )
    return out, levels


def barrier_ns(hw: HardwareSpec, layout: ChipLayout) -> float:
    """Barrier time of one step: the multi-chip figure when the program spans chips, else
    interpolated linearly in the tiles it spans between the one-tile and full-chip figures."""
    if hw.cost is None:
        return 0.0
    t = hw.cost.time_ns
    if np.unique(layout.chip).size > 1:
        return t.barrier_multi_chip.value
    assert layout.tile is not None and layout.tiles_per_chip is not None
    used = np.unique(layout.tile).size
    if layout.tiles_per_chip <= 1 or used <= 1:
        return t.barrier_one_tile.value
    frac = (used - 1) / (layout.tiles_per_chip - 1)
    return t.barrier_one_tile.value + frac * (t.barrier_full_chip.value - t.barrier_one_tile.value)
