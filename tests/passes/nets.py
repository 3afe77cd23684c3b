"""Hand-built fixed-point networks for the partition and place tests (the quantizer's output
has this form: QLIF populations, QDense/QSparse/QConv2d projections)."""

from __future__ import annotations

import numpy as np

from ir import QLIF, Graph, Input, QConv2d, QDense, QSparse


def mlp(sizes: list[int], seed: int = 0, density: float = 1.0, vth: int = 40) -> Graph:
    """Input of sizes[0], then one QLIF layer per further size; dense or random-sparse weights."""
    rng = np.random.default_rng(seed)
    pops = {"in": Input((sizes[0],))}
    projs = {}
    prev = "in"
    for k, n in enumerate(sizes[1:]):
        name = f"h{k}"
        pops[name] = QLIF((n,), du=1024, dv=512, vth=vth)
        n_src = pops[prev].size
        weight = rng.integers(-120, 121, size=(n, n_src)) * 2
        if density < 1.0:
            rows, cols = np.nonzero(rng.random((n, n_src)) < density)
            projs[f"p{k}"] = QSparse(
                prev, name, rows=rows, cols=cols, values=weight[rows, cols] | 2
            )
        else:
            projs[f"p{k}"] = QDense(prev, name, weight=weight | 2)
        prev = name
    return Graph(pops, projs, metadata={"seed": seed})


def conv_net(channels: int, size: int, layers: int, seed: int = 0, skip: bool = False) -> Graph:
    """`layers` 3x3 same-padded convolutions of `channels` x size x size; with `skip`, a 3x3
    projection from layer k - 2 to layer k as well (from the input for layers 0 and 1: a
    residual net in which every layer has two incoming projections)."""
    rng = np.random.default_rng(seed)
    shape = (channels, size, size)
    pops = {"in": Input(shape)}
    projs = {}
    prev = "in"
    names = []
    for k in range(layers):
        name = f"c{k}"
        pops[name] = QLIF(shape, du=2048, dv=1024, vth=300)
        projs[f"p{k}"] = QConv2d(prev, name, weight=_conv_weight(rng, channels), padding=(1, 1))
        if skip:
            source = names[k - 2] if k >= 2 else "in"
            projs[f"s{k}"] = QConv2d(
                source, name, weight=_conv_weight(rng, channels), padding=(1, 1)
            )
        names.append(name)
        prev = name
    return Graph(pops, projs, metadata={"seed": seed})


def _conv_weight(rng: np.random.Generator, channels: int) -> np.ndarray:
    return rng.integers(1, 120, size=(channels, channels, 3, 3)) * rng.choice(
        [-1, 1], size=(channels, channels, 3, 3)
    )


def clustered(
    n_clusters: int, per_cluster: int, layers: int, seed: int = 0, fan_in: int = 12
) -> Graph:
    """A pruned-looking sparse net: neurons form clusters that connect (almost) only within their
    cluster from layer to layer, but neuron indices are shuffled, so index ranges cut every
    cluster (what a naive sequential split sees)."""
    rng = np.random.default_rng(seed)
    n = n_clusters * per_cluster
    pops = {"in": Input((n,))}
    projs = {}
    prev, prev_label = "in", rng.permutation(n) % n_clusters
    for k in range(layers):
        name = f"h{k}"
        label = rng.permutation(n) % n_clusters
        pops[name] = QLIF((n,), du=1024, dv=512, vth=60)
        rows, cols = [], []
        members = [np.flatnonzero(prev_label == c) for c in range(n_clusters)]
        for i in range(n):
            src = rng.choice(members[label[i]], size=min(fan_in, per_cluster), replace=False)
            if rng.random() < 0.05:  # a few synapses leave the cluster
                src[0] = rng.integers(0, n)
            rows.append(np.full(src.size, i))
            cols.append(np.unique(src))
            rows[-1] = rows[-1][: cols[-1].size]
        r, c = np.concatenate(rows), np.concatenate(cols)
        projs[f"p{k}"] = QSparse(
            prev, name, rows=r, cols=c, values=rng.integers(-120, 121, size=r.size) * 2 | 2
        )
        prev, prev_label = name, label
    return Graph(pops, projs, metadata={"seed": seed})
