"""How many steps a program's outputs lag its inputs.

Every projection delivers at step t what its source emitted at t - 1 - delay (`ir.nodes`,
Dense/Sparse/Conv2d docstrings; Lava's synapse processes likewise deliver a spike one time step
after it is sent). A population's latency is therefore the largest sum of (1 + max delay) over
the projections of a feed-forward path from an input population to it:

    L(input) = 0;   L(p) = max over projections q -> p of L(q) + 1 + max(delay of q -> p)

Recurrent projections (those pointing back in `Graph.topological_order`, self-loops included)
add no latency: they feed back what the population already produced. The program's latency L is
the largest over its output populations. Frameworks without this lag (snnTorch, Norse, a
PyTorch loop) produce at step t what snnc's output produces at step t + L: running L more steps
and dropping the first L of an output's recording aligns it with the input (`align`).

During those first L steps (the pipeline fill) no input has reached a population of latency
d > 0 for its first d steps, but its bias acts from step 0: after alignment such a population
has integrated d more steps of bias than the framework's neuron had at the same step (an exact
match needs bias 0, or a framework run that starts d steps earlier on silent input).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ir.graph import Graph

__all__ = ["align", "latency", "latency_line", "population_latency"]


def _extra_delay(proj: object) -> int:
    delay = getattr(proj, "delay", None)
    if delay is None or np.size(delay) == 0:
        return 0
    return int(np.max(delay))


def population_latency(graph: Graph) -> dict[str, int]:
    """Steps from the inputs to each population reachable from them (longest feed-forward path)."""
    order = graph.topological_order()
    position = {name: i for i, name in enumerate(order)}
    lat: dict[str, int] = {name: 0 for name in graph.inputs}
    for name in order:
        for _, proj in graph.incoming(name):
            src = proj.src
            if position[src] >= position[name] or src not in lat:
                continue  # recurrent, or not reached from an input
            lat[name] = max(lat.get(name, 0), lat[src] + 1 + _extra_delay(proj))
    return lat


def latency(graph: Graph) -> int:
    """The program's latency L: the largest over its output populations (0 without any)."""
    lat = population_latency(graph)
    return max((lat.get(name, 0) for name in graph.output_names), default=0)


def latency_line(
    lag: int, aligned: bool | None = None, steps: int | None = None, cut: bool = True
) -> str:
    """What the CLI prints about the latency (import, compile, run, hil); `cut`: --align
    shifts the recordings (run), or only runs longer (hil compares the whole run)."""
    plural = "s" if lag != 1 else ""
    text = f"latency {lag} step{plural}: the output at step t + {lag} answers the input at step t"
    if aligned:
        done = (
            f"outputs cut to the {steps} aligned steps" if cut
            else "every input step reaches the outputs"
        )
        return text + f" (--align: ran {steps} + {lag} steps, {done})"
    if aligned is not None and lag:
        return text + f" (--align runs {lag} more steps and aligns outputs with the input)"
    return text


def align(
    recordings: Mapping[str, np.ndarray], lat: Mapping[str, int], steps: int
) -> dict[str, np.ndarray]:
    """Recordings (batch, T + L, ...) keyed by "pop" or "pop:var", each cut to (batch, steps, ...)
    starting at its population's latency: step t of the result answers input step t."""
    out = {}
    for key, arr in recordings.items():
        d = lat.get(key.split(":", 1)[0], 0)
        out[key] = arr[:, d : d + steps]
    return out
