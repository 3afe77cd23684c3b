"""Small float models with full metadata, built inside the tests (no trainer needed): a ReLU MLP
fitted with scikit-learn on the 8x8 digits and converted to integrate-and-fire neurons by
per-layer max normalisation (threshold 1, weights rescaled by the layers' activation maxima)."""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from ir import LIF, Dense, Graph, Input


@functools.lru_cache(maxsize=4)
def digits_mlp(hidden: int = 32, seed: int = 0, steps: int = 32) -> Graph:
    from sklearn.neural_network import MLPClassifier

    from trainers.datasets import load_dataset

    data = load_dataset("digits")
    x = data.x_train.reshape(len(data.x_train), -1)
    clf = MLPClassifier(hidden_layer_sizes=(hidden,), max_iter=100, random_state=seed, tol=1e-5)
    with (
        warnings.catch_warnings()
    ):  # 100 iterations (a fraction of a second) reach ~95% test accuracy
        warnings.simplefilter("ignore")
        clf.fit(x, data.y_train)
    (w1, w2), (b1, b2) = clf.coefs_, clf.intercepts_
    a1 = np.maximum(x @ w1 + b1, 0)
    lam1 = float(np.percentile(a1, 99.9))
    a2 = np.maximum((a1 @ w2 + b2), 0)
    lam2 = float(np.percentile(a2, 99.9))
    pops = {
        "in": Input((x.shape[1],)),
        "h": LIF((hidden,), tau_syn=0.0, tau_mem=math.inf, v_th=1.0, bias=b1 / lam1),
        "out": LIF((10,), tau_syn=0.0, tau_mem=math.inf, v_th=1.0, bias=b2 / lam2),
    }
    projs = {
        "fc1": Dense("in", "h", weight=(w1 / lam1).T),
        "fc2": Dense("h", "out", weight=(w2 * lam1 / lam2).T),
    }
    meta = {
        "task": {"kind": "classification", "dataset": "digits", "n_classes": 10},
        "encoding": {"kind": "rate", "max_rate": 1.0, "steps": steps, "seed": 0},
        "readout": {"kind": "spike_count", "population": "out", "tie_break": "v_sum"},
        "trainer": {"name": "tests.tiny_models.digits_mlp", "hidden": hidden, "seed": seed},
    }
    return Graph(populations=pops, projections=projs, dt=1e-3, metadata=meta)
