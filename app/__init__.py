"""The application layer: what CLI commands do beyond parsing and printing (evaluation, cost
measurement, sweeps), as importable functions. The only layer, with the CLI, that imports
backends and trainers."""
