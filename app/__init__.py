"""The application layer: what snnc's commands do beyond parsing and printing (calibration,
float-vs-deployed comparison, evaluation, cost measurement, sweeps), as importable functions.
Only this layer and the CLI commands import backends and trainers."""
