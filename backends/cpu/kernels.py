"""Per-node kernels of the CPU simulator: the living definition of snnc's `lava_fixed_pt`
semantics (and of the float semantics with the same structure and timing).

Every kernel is vectorized over a batch. Fixed-point kernels use int64 state; products that
could pass 2^31 (u * (4096 - du - 1) reaches 2^35) are int64 in numpy. Synaptic sums use
float64 BLAS where that is exact (every partial sum below 2^53, checked per projection) and
int64 otherwise.
"""

from __future__ import annotations

import numpy as np

from ir.fixed import LAVA_FIXED_PT, Profile, effective_weights, wrap

__all__ = [
    "conv2d",
    "fixed_lif_step",
    "float_lif_step",
    "shift_sum",
    "trunc_shift",
]


def trunc_shift(x: np.ndarray, shift: int) -> np.ndarray:
    """sign(x) * (|x| >> shift): division by 2^shift truncating toward zero (Lava's decay)."""
    return np.sign(x) * (np.abs(x) >> shift)


def shift_sum(acc: np.ndarray, weight_exp: int) -> np.ndarray:
    """Lava Dense/Sparse: the summed input shifted by weight_exp (arithmetic, so floor for < 0)."""
    if weight_exp > 0:
        return acc << weight_exp
    if weight_exp < 0:
        return acc >> -weight_exp
    return acc


def fixed_lif_step(
    u: np.ndarray, v: np.ndarray, a: np.ndarray, *, du: int, dv: int, vth: int,
    bias: np.ndarray, prof: Profile = LAVA_FIXED_PT,
) -> np.ndarray:
    """One step of Lava's `PyLifModelBitAcc`, in place on u, v (int64); returns the spikes.

    `bias` is the effective bias bias_mant << bias_exp (or >> for negative exponents).
    """
    max_uv = 1 << (prof.state_bits - 1)
    unity, shift = prof.decay_unity, prof.decay_bits
    d = trunc_shift(u * (unity - (du + prof.current_decay_offset)), shift) + (a << prof.activation_shift)
    # Single wrap, as Lava applies it: the kept range is (-2^23, 2^23].
    d = np.where(d > max_uv, d - 2 * max_uv, np.where(d <= -max_uv, d + 2 * max_uv, d))
    u[...] = d
    e = trunc_shift(v * (unity - (dv + prof.voltage_decay_offset)), shift) + u + bias
    np.clip(e, -(max_uv - 1), max_uv - 1, out=v)
    spikes = v > (vth << prof.vth_shift)
    v[spikes] = 0
    return spikes


def effective_bias(bias_mant: np.ndarray, bias_exp: np.ndarray) -> np.ndarray:
    """bias_mant << bias_exp, arithmetic >> for negative exponents (Lava scale_bias)."""
    mant = np.asarray(bias_mant, dtype=np.int64)
    exp = np.asarray(bias_exp, dtype=np.int64)
    return np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0))


def float_lif_step(
    u: np.ndarray, v: np.ndarray, a: np.ndarray, *, alpha_syn: np.ndarray, alpha_mem: np.ndarray,
    v_th: np.ndarray, bias: np.ndarray,
) -> np.ndarray:
    """One step of the float LIF (ir.nodes.LIF docstring), in place on u, v; returns spikes."""
    u *= alpha_syn
    u += a
    v *= alpha_mem
    v += u + bias
    spikes = v > v_th
    v[spikes] = 0.0
    return spikes


def conv2d(
    x: np.ndarray, weight: np.ndarray, stride: tuple[int, int], padding: tuple[int, int],
    dilation: tuple[int, int], groups: int,
) -> np.ndarray:
    """Cross-correlation of x (B, C_in, H, W) with weight (C_out, C_in/groups, kH, kW), as PyTorch.

    Exact for integers while sums stay below 2^53 (float64 accumulation).
    """
    b, c_in, h, w = x.shape
    c_out, cg, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    xp = np.pad(x.astype(np.float64, copy=False), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    out = np.zeros((b, c_out, oh, ow), dtype=np.float64)
    og = c_out // groups
    wf = weight.astype(np.float64, copy=False)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw]
            for g in range(groups):
                src = patch[:, g * cg : (g + 1) * cg]  # (B, cg, oh, ow)
                tap = wf[g * og : (g + 1) * og, :, i, j]  # (og, cg)
                out[:, g * og : (g + 1) * og] += np.einsum("oc,bchw->bohw", tap, src, optimize=True)
    return out


def fixed_conv_output(x: np.ndarray, weight: np.ndarray, node, prof: Profile = LAVA_FIXED_PT) -> np.ndarray:
    """Lava `PyConvModelFixed`: the convolution, wrapped to signed 24 bits, as int64."""
    raw = conv2d(x, weight, node.stride, node.padding, node.dilation, node.groups)
    return wrap(np.rint(raw).astype(np.int64), prof.conv_wrap_bits)


def fixed_dense_weights(node) -> np.ndarray:
    """Effective integer weights of a QDense (Lava's clip and truncation applied)."""
    return effective_weights(node.weight, node.num_weight_bits, node.sign_mode)
