"""snnc's compiler: passes over ir.Graph (quantize, partition, place), the compile pipeline,
importers/exporters and the `snnc` command line. Imports `ir` only (the CLI reaches backends and
trainers lazily, at call time, as the application layer)."""
