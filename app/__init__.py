"""The application layer: what a CLI command does beyond parsing and printing (evaluation,
compiling from command options, training from command options, sweeps, executors).

It may import backends and trainers (lazily, inside functions); `ir`, the compiler core and
`backends` never import it. CLI command modules (`compiler/commands/*.py`) parse arguments, call
these functions and print."""
