"""VIB: a hybrid SNN encoder + ANN decoder trained with the (directed) information bottleneck
(Skatchkovsky, Simeone, Jang, arXiv 2106.01177; see docs/trainers.md, "VIB trainer").

Modules: `tasks` (predictive coding, digits/Fashion-MNIST reconstruction: data, spikes,
metrics), `config` (hyper-parameters, per-task defaults, the trained result), `decoder` (the
host decoder in numpy and its file), `network` and `train` (torch; imported only to train),
`export` (encoder -> snnc graph, decoder file, metadata), `evaluate` (the deployed pipeline:
backend spikes -> host decoder -> task metric), `cli` (`snnc train vib`, the VIB branch of
`snnc eval`).
"""
