"""NIR (the Neuromorphic Intermediate Representation, PyPI `nir`) import and export.

- `reader`: the HDF5 file as a tree of `RawNode`s, every problem reported with the file and the
  node's path (h5py errors never escape);
- `discretize`: NIR's continuous-time parameters and a step `dt` -> snnc's discrete LIF, and back;
- `importer`: `load(path, dt)` (registered in `compiler.model_io.IMPORTERS` for ".nir") and
  `import_nir`, which folds NIR's weight nodes and neuron nodes into projections and populations;
- `exporter`: `export_nir(graph, path)`, which writes a file `nir.read` accepts and that imports
  back to the same graph.

h5py is imported inside the functions that touch files.
"""
