"""snnc's compiler: passes over ir.Graph (quantize, partition, place), the compile pipeline,
importers/exporters and the `snnc` command line. Imports `ir` and `neurons` only (the CLI
reaches backends and trainers lazily, at call time, as the application layer)."""

# The neuron-model table registers its node types with `ir` (files naming them then load).
import neurons  # noqa: F401
