"""Trainers that produce ir.Graph models: tem/ (time encoding), conversion/ (ANN-to-SNN with the
L4-norm adjustment), vib/ (SNN encoder + ANN decoder, information bottleneck); plus the datasets
and spike encoders they share. Torch is imported lazily, inside the trainers that need it."""
