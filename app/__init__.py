"""The application layer: what a CLI command does beyond parsing and printing (calibration,
float-vs-deployed comparison, evaluation, cost measurement, compiling and training from command
options, sweeps, executors).

It may import backends and trainers (lazily, inside functions); `ir`, `neurons`, the compiler
core and `backends` never import it. CLI command modules (`compiler/commands/*.py`) parse
arguments, call these functions and print."""
