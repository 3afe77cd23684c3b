"""ANN-to-SNN conversion with the L4-norm adjustment (`snnc train conversion`).

ann.py      the bias-free ReLU MLP / CNN and their deterministic PyTorch training
chain.py    the trained network as a chain of linear maps (average pooling folded in)
convert.py  scales (data-based normalization, spike-based threshold balancing), the L4
            variants, and the snnc float graph with the deployed semantics
fastsim.py  a fast float simulation of that graph (equal to the float backend) for tuning
tune.py     threshold scales and L4 strength chosen on the validation split
premise.py  the paper's premise measured: pre-firing potential spread vs ||w||_4 and ||w||_2
trainer.py  the whole pipeline; cli.py registers the sub-verb
"""
