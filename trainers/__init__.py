"""Trainers that produce ir.Graph models: tem/ (time encoding), conversion/ (ANN-to-SNN with the
L4-norm adjustment), vib/ (SNN encoder + ANN decoder, information bottleneck); plus the datasets
and spike encoders they share. Torch is imported lazily, inside the trainers that need it."""

__all__ = ["TRAINERS"]

# trainer name -> module providing `register(subparsers)` for `snnc train NAME`
# (compiler/commands/train.py); the sweep spec (app/sweep/spec.py) reads the same table.
TRAINERS: dict[str, str] = {
    "conversion": "trainers.conversion.cli",
    "tem": "trainers.tem.cli",
    "vib": "trainers.vib.cli",
}
