"""Placement: typed data on a graph saying where every neuron runs.

A population is split into **blocks** (a neuron range, or a spatial tile of a (C, H, W)
population: any sorted set of flat neuron indices); each block sits on one **core**; each core
sits on one **chip**. Several blocks, of one or several populations, may share a core. Input
populations are fed by the host and are not placed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ir.errors import IRVerifyError

__all__ = ["Block", "Placement"]


@dataclass(frozen=True, eq=False)
class Block:
    """Neurons `neurons` (sorted, unique flat indices) of population `population` on core `core`."""

    population: str
    neurons: np.ndarray
    core: int

    def __post_init__(self) -> None:
        arr = np.array(self.neurons, dtype=np.int64, copy=True).reshape(-1)
        if arr.size == 0:
            raise IRVerifyError(
                f"block of {self.population}", "a block must hold at least one neuron"
            )
        if arr.size > 1 and np.any(np.diff(arr) <= 0):
            raise IRVerifyError(
                f"block of {self.population}", "neuron indices must be sorted and unique"
            )
        arr.setflags(write=False)
        object.__setattr__(self, "neurons", arr)
        if (
            isinstance(self.core, bool)
            or not isinstance(self.core, (int, np.integer))
            or self.core < 0
        ):
            raise IRVerifyError(
                f"block of {self.population}", f"core must be an integer >= 0, got {self.core!r}"
            )
        object.__setattr__(self, "core", int(self.core))

    @classmethod
    def from_range(cls, population: str, start: int, stop: int, core: int) -> Block:
        return cls(population, np.arange(start, stop, dtype=np.int64), core)

    @property
    def size(self) -> int:
        return int(self.neurons.size)

    def range(self) -> tuple[int, int] | None:
        """(start, stop) when the block is a contiguous neuron range, else None."""
        lo, hi = int(self.neurons[0]), int(self.neurons[-1]) + 1
        return (lo, hi) if hi - lo == self.neurons.size else None


@dataclass(frozen=True, eq=False)
class Placement:
    """Blocks on cores, cores on chips, for hardware target `target`.

    `core_chip[c]` is the chip of core `c`; cores are numbered 0..n_cores-1 and every core holds
    at least one block.
    """

    blocks: tuple[Block, ...]
    core_chip: np.ndarray
    target: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))
        chips = np.array(self.core_chip, dtype=np.int64, copy=True).reshape(-1)
        chips.setflags(write=False)
        object.__setattr__(self, "core_chip", chips)

    @property
    def n_cores(self) -> int:
        return int(self.core_chip.size)

    @property
    def n_chips(self) -> int:
        return int(np.unique(self.core_chip).size) if self.core_chip.size else 0

    def blocks_of(self, population: str) -> tuple[Block, ...]:
        """The blocks of `population`, in placement order (block k of a population is the k-th)."""
        return tuple(b for b in self.blocks if b.population == population)

    def neuron_core(self, population: str, size: int) -> np.ndarray:
        """Core of every neuron of `population` (-1 where unplaced)."""
        out = np.full(size, -1, dtype=np.int64)
        for b in self.blocks_of(population):
            out[b.neurons] = b.core
        return out
