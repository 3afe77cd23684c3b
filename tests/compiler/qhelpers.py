"""Reading a quantized program back, independently of the quantizer: what each integer means in
the float model's units, computed from the IR fields, Lava's weight rules (ir.fixed) and the
population scales in the quantize report."""

from __future__ import annotations

import numpy as np

from ir import LIF, QLIF, Conv2d, Dense, Graph, Input, QConv2d, QDense, QSparse, Sparse
from ir.fixed import effective_weights, weight_lsb_shift


def parts_of(program: Graph, name: str) -> list[str]:
    """Names the compiler gave projection `name`: itself, or its parts (NAME.g0, NAME.g1, ... per
    channel group; NAME.pos, NAME.neg from split-signs, and their groups), in program order."""
    return [n for n in program.projections if n == name or n.startswith(name + ".")]


def unfold_factors(model: Graph, dst: str, report: dict) -> np.ndarray:
    """Per destination neuron: float units per folded unit (its v_th if thresholds were folded)."""
    pop = model.populations[dst]
    if report["populations"][dst]["thresholds_folded"]:
        return pop.per_neuron("v_th").astype(float)
    return np.ones(pop.size)


def dense_effective(
    model: Graph, program: Graph, report: dict, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(w, w_hat, lsb) as dense (n_dst, n_src) matrices in the model's units, for a Dense or Sparse
    projection: w the float weights, w_hat what the program computes, lsb one mantissa step."""
    proj = model.projections[name]
    n_dst, n_src = model.populations[proj.dst].size, model.populations[proj.src].size
    scale = report["populations"][proj.dst]["scale"]
    unfold = unfold_factors(model, proj.dst, report)[:, None]
    w = np.zeros((n_dst, n_src))
    if isinstance(proj, Dense):
        w[:] = proj.weight
    else:
        w[proj.rows, proj.cols] = proj.values
    w_hat = np.zeros_like(w)
    lsb = np.full_like(w, np.nan)
    for part in parts_of(program, name):
        q = program.projections[part]
        factor = 2.0**q.weight_exp * 64.0 / scale
        step = (
            2.0 ** (weight_lsb_shift(q.num_weight_bits, q.sign_mode) + q.weight_exp) * 64.0 / scale
        )
        if isinstance(q, QDense):
            w_hat += effective_weights(q.weight, q.num_weight_bits, q.sign_mode) * factor
            lsb[:] = step
        else:
            assert isinstance(q, QSparse)
            w_hat[q.rows, q.cols] += (
                effective_weights(q.values, q.num_weight_bits, q.sign_mode) * factor
            )
            lsb[q.rows, q.cols] = step
    return w, w_hat * unfold, lsb * unfold


def conv_effective(
    model: Graph, program: Graph, report: dict, name: str
) -> tuple[np.ndarray, np.ndarray]:
    proj = model.projections[name]
    q = program.projections[name]
    assert isinstance(proj, Conv2d) and isinstance(q, QConv2d)
    scale = report["populations"][proj.dst]["scale"]
    unfold = unfold_factors(model, proj.dst, report).reshape(proj.weight.shape[0], -1)[:, 0]
    return proj.weight, q.weight * 64.0 / scale * unfold[:, None, None, None]


def integer_float_model(program: Graph) -> Graph:
    """The program as a float graph in units of 1/64 of Lava's u and v: weights V << weight_exp
    (exact integers), thresholds vth, biases (bias_mant << bias_exp) / 64. For integrate-and-fire
    populations (du = 4095, dv = 0) and non-negative weight exponents, float64 computes this
    exactly, so its spikes must equal the fixed-point program's."""
    pops = {}
    for n, p in program.populations.items():
        if isinstance(p, Input):
            pops[n] = p
            continue
        assert isinstance(p, QLIF) and p.du == 4095 and p.dv == 0
        bias = np.left_shift(p.bias_mant, p.bias_exp) / 64.0
        pops[n] = LIF(
            p.shape,
            tau_syn=0.0,
            tau_mem=np.inf,
            v_th=float(p.vth),
            bias=bias,
            reset_interval=p.reset_interval,
            reset_offset=p.reset_offset,
        )
    projs = {}
    for n, q in program.projections.items():
        if isinstance(q, QDense):
            assert q.weight_exp >= 0
            w = effective_weights(q.weight, q.num_weight_bits, q.sign_mode) * 2.0**q.weight_exp
            projs[n] = Dense(q.src, q.dst, weight=w, delay=q.delay)
        elif isinstance(q, QSparse):
            assert q.weight_exp >= 0
            v = effective_weights(q.values, q.num_weight_bits, q.sign_mode) * 2.0**q.weight_exp
            projs[n] = Sparse(q.src, q.dst, rows=q.rows, cols=q.cols, values=v, delay=q.delay)
        else:
            projs[n] = Conv2d(
                q.src,
                q.dst,
                weight=q.weight.astype(float),
                stride=q.stride,
                padding=q.padding,
                dilation=q.dilation,
                groups=q.groups,
            )
    return Graph(populations=pops, projections=projs, dt=program.dt, outputs=program.outputs)
