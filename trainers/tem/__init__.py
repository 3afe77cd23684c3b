"""Time-encoding training (Adam, arXiv 2110.06735): spike times as linear constraints on weights.

Continuous time, the paper's setting: `signals` (periodic bandlimited inputs, closed-form
integrals), `machine` (the ideal integrate-and-fire TEM and its t-transform), `one_layer`
(weights by a minimum-norm solve, with identifiability reporting), `two_layer` (no backprop:
Fourier coefficients, annihilating filter, all-or-none amplitudes, clustering), and
`reproduction` (the paper's three experiments).

snnc's deployed neurons: `discrete` (a QLIF/LIF spike train as linear inequalities on the
weights), `classifier` (a digits classifier trained from target spike times, exported as an
snnc graph; `snnc train tem`) and `identify` (which weights a target implements, from its spikes;
`snnc identify`).
"""

from trainers.tem.identify import Identification, identify_weights
from trainers.tem.machine import IFTEM
from trainers.tem.one_layer import IdentifiabilityWarning, fit_one_layer
from trainers.tem.signals import PeriodicBandlimited
from trainers.tem.two_layer import fit_two_layer

__all__ = [
    "IFTEM",
    "IdentifiabilityWarning",
    "Identification",
    "PeriodicBandlimited",
    "fit_one_layer",
    "fit_two_layer",
    "identify_weights",
]
