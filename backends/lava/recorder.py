"""A Lava process that records spikes and states of many processes and writes them to files.

Why not Lava's Monitor: its process model declares one RefPort and one InPort
(`lava/proc/monitor/models.py`), so every probed variable needs its own Monitor process (an OS
process each), and reading a Monitor's data goes through `Var.get`, which transfers one value
per message (`lava/magma/core/model/py/model.py` `_get_var`). One Recorder takes every probe
of a run: an InPort per probed spike output (received in the spike phase of the same step,
as Monitor does) and a RefPort per probed u or v (read in the post-management phase, after
the step's update, as Monitor does). At the last step it writes each recording to
`<folder>/<index>.npy`, which the host reads with `allow_pickle=False`.

Because one Recorder is connected to every probed process, it also joins independent
networks into one Lava run (Lava compiles the processes connected to the one it runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RecorderSpec", "build_recorder"]


class RecorderSpec:
    """What to record: (kind, target) pairs, kind "port" (an OutPort) or "var" (a Var)."""

    def __init__(self) -> None:
        self.targets: list[tuple[str, Any]] = []

    def add(self, kind: str, target: Any) -> int:
        self.targets.append((kind, target))
        return len(self.targets) - 1


def build_recorder(spec: RecorderSpec, num_steps: int, folder: Path):
    """A Recorder process connected to every target, and the process model to run it with
    (for `exception_proc_model_map`)."""
    from lava.magma.core.decorator import implements, requires
    from lava.magma.core.model.py.model import PyLoihiProcessModel
    from lava.magma.core.model.py.ports import PyInPort, PyRefPort
    from lava.magma.core.model.py.type import LavaPyType
    from lava.magma.core.process.ports.ports import InPort, RefPort
    from lava.magma.core.process.process import AbstractProcess
    from lava.magma.core.resources import CPU
    from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

    ports = [i for i, (kind, _) in enumerate(spec.targets) if kind == "port"]
    refs = [i for i, (kind, _) in enumerate(spec.targets) if kind == "var"]

    class Recorder(AbstractProcess):
        def __init__(self) -> None:
            super().__init__(
                num_steps=num_steps,
                folder=str(folder),
                ports=ports,
                refs=refs,
                shapes=[tuple(t.shape) for _, t in spec.targets],
            )
            for i in ports:
                setattr(self, f"in{i}", InPort(shape=spec.targets[i][1].shape))
            for i in refs:
                setattr(self, f"ref{i}", RefPort(shape=spec.targets[i][1].shape))

    class RecorderModelBase(PyLoihiProcessModel):
        def __init__(self, proc_params) -> None:
            super().__init__(proc_params)
            steps = proc_params["num_steps"]
            shapes = proc_params["shapes"]
            self._data = {
                i: np.zeros((steps, *shapes[i]), dtype=np.int64)
                for i in (*proc_params["ports"], *proc_params["refs"])
            }

        def run_spk(self) -> None:
            t = self.time_step
            for i in self.proc_params["ports"]:
                self._data[i][t - 1] = getattr(self, f"in{i}").recv()
            if not self.proc_params["refs"]:
                self._dump_if_done()

        def post_guard(self) -> bool:
            return bool(self.proc_params["refs"])

        def run_post_mgmt(self) -> None:
            t = self.time_step
            for i in self.proc_params["refs"]:
                self._data[i][t - 1] = getattr(self, f"ref{i}").read()
            self._dump_if_done()

        def _dump_if_done(self) -> None:
            if self.time_step != self.proc_params["num_steps"]:
                return
            out = Path(self.proc_params["folder"])
            for i, arr in self._data.items():
                tmp = out / f".{i}.npy.part"
                with open(tmp, "wb") as fh:
                    np.save(fh, arr, allow_pickle=False)
                tmp.rename(out / f"{i}.npy")

    attrs: dict[str, Any] = {}
    for i in ports:
        attrs[f"in{i}"] = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    for i in refs:
        attrs[f"ref{i}"] = LavaPyType(PyRefPort.VEC_DENSE, np.int32)
    model = type("PyRecorderModel", (RecorderModelBase,), attrs)
    model = implements(proc=Recorder, protocol=LoihiProtocol)(requires(CPU)(model))
    recorder = Recorder()
    for i in ports:
        spec.targets[i][1].connect(getattr(recorder, f"in{i}"))
    for i in refs:
        getattr(recorder, f"ref{i}").connect_var(spec.targets[i][1])
    return recorder, model


def read_recordings(folder: Path, count: int) -> list[np.ndarray]:
    """The recordings a Recorder wrote, in target order."""
    out = []
    for i in range(count):
        path = folder / f"{i}.npy"
        if not path.is_file():
            raise RuntimeError(f"the Lava recorder did not write {path.name}; the run ended early")
        out.append(np.load(path, allow_pickle=False))
    return out
