"""Spike traffic of a placed program: spikes per step on each kind of link (within a core,
between cores, between chips of the mesh, from the host), from the routes `ir.resources`
counts and per-neuron rates."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ir.graph import Graph
from ir.resources import Accounting

__all__ = ["chip_hops", "chip_position", "core_traffic_matrix", "traffic", "uniform_rates"]


def chip_position(chip: np.ndarray, mesh_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of chips laid out row-major on a mesh `mesh_columns` wide."""
    return np.divmod(np.asarray(chip, dtype=np.int64), mesh_columns)


def chip_hops(a: np.ndarray, b: np.ndarray, mesh_columns: int) -> np.ndarray:
    """Mesh hops (Manhattan distance) between chips `a` and `b`."""
    ra, ca = chip_position(a, mesh_columns)
    rb, cb = chip_position(b, mesh_columns)
    return np.abs(ra - rb) + np.abs(ca - cb)


def traffic(
    graph: Graph,
    acc: Accounting,
    rates: Mapping[str, np.ndarray],
    core_chip: np.ndarray | None = None,
    mesh_columns: int = 1,
) -> dict[str, float]:
    """Estimated spikes per step on each kind of link.

    Each route (source neuron, destination core) carries the source's rate (spikes per step).
    `intra_core`: routes to the source's own core; `inter_core`: to another core;
    `inter_chip`: routes whose destination core is on another chip, each weighted by the mesh
    hops between the two chips (spike-hops per step); `host_input`: routes from input
    populations (the host) to cores. With `core_chip` None, inter_chip is 0.
    """
    out = {"intra_core": 0.0, "inter_core": 0.0, "inter_chip": 0.0, "host_input": 0.0}
    for src_pop, (neurons, cores) in acc.routes.items():
        rate = np.asarray(rates[src_pop], dtype=np.float64)[neurons]
        if src_pop not in acc.core_of:
            out["host_input"] += float(rate.sum())
            continue
        home = acc.core_of[src_pop][neurons]
        same = home == cores
        out["intra_core"] += float(rate[same].sum())
        out["inter_core"] += float(rate[~same].sum())
        if core_chip is not None:
            # Sum rates per (chip, chip) pair first: a few thousand pairs instead of every route.
            chip_from, chip_to = core_chip[home], core_chip[cores]
            n_chips = int(core_chip.max(initial=0)) + 1
            per_pair = np.bincount(
                chip_from * n_chips + chip_to, weights=rate, minlength=n_chips * n_chips
            )
            pair = np.flatnonzero(per_pair)
            hops = chip_hops(pair // n_chips, pair % n_chips, mesh_columns)
            out["inter_chip"] += float((per_pair[pair] * hops).sum())
    return out


def core_traffic_matrix(
    acc: Accounting, rates: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Core-to-core spike rates as COO (src core, dst core, spikes per step), src != dst."""
    n = acc.n_cores
    keys, weights = [], []
    for src_pop, (neurons, cores) in acc.routes.items():
        if src_pop not in acc.core_of:
            continue
        home = acc.core_of[src_pop][neurons]
        other = home != cores
        keys.append(home[other] * n + cores[other])
        weights.append(np.asarray(rates[src_pop], dtype=np.float64)[neurons][other])
    if not keys:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    key = np.concatenate(keys)
    uniq, inverse = np.unique(key, return_inverse=True)
    w = np.bincount(inverse, weights=np.concatenate(weights), minlength=uniq.size)
    return uniq // n, uniq % n, w


def uniform_rates(graph: Graph) -> dict[str, np.ndarray]:
    """One spike per step for every neuron: traffic then counts routes (fan-out counts)."""
    return {n: np.ones(p.size) for n, p in graph.populations.items()}
