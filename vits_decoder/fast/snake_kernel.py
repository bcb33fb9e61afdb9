"""The numba kernel of fused.py: anti-aliased Snake-beta over rows of float32 samples.

Imported only when the fast path first runs (numba costs ~0.2 s to import); compiled once and
cached on disk by numba (`cache=True`), so later processes load it in a fraction of a second.
See fused.py for the formulas.

sin^2 is a polynomial after Cody-Waite reduction by pi, written out because numba only
vectorises its own math.sin with Intel's SVML library present. Only floating-point contraction
(fused multiply-add) is allowed: reassociation would undo the three-part reduction.
"""
import math

import numpy as np
from numba import njit

PAD = 3  # samples of context each phase's 6-tap filters read beyond a row's ends

_F = np.float32
_INV_PI = _F(1.0 / math.pi)
# pi = _PI_A + _PI_B + _PI_C, the first two short enough that k * part is exact in float32
_PI_A, _PI_B, _PI_C = _F(3.140625), _F(9.67502593994140625e-4), _F(1.509957990978376432e-7)
# Taylor coefficients of sin(r) for |r| <= pi / 2 (next term < 6e-8)
_S3, _S5, _S7, _S9, _S11 = _F(-1 / 6), _F(1 / 120), _F(-1 / 5040), _F(1 / 362880), _F(-1 / 39916800)
# Taylor coefficients of cos(r) for |r| <= pi / 2 (next term < 1e-8)
_C2, _C4, _C6, _C8 = _F(-1 / 2), _F(1 / 24), _F(-1 / 720), _F(1 / 40320)
_C10, _C12 = _F(-1 / 3628800), _F(1 / 479001600)
_HALF = _F(0.5)
_FASTMATH = {"contract"}


@njit(inline="always", fastmath=_FASTMATH)
def sin_squared(u):
    """sin(u)^2 of float32 u, |error| < 4e-7 for |u| < 2e4 (sin^2 has period pi)."""
    k = np.floor(u * _INV_PI + _HALF)
    r = ((u - k * _PI_A) - k * _PI_B) - k * _PI_C           # u - k pi, |r| <= pi / 2
    r2 = r * r
    s = r + r * r2 * (_S3 + r2 * (_S5 + r2 * (_S7 + r2 * (_S9 + r2 * _S11))))
    return s * s


@njit(inline="always")
def twelve(taps):
    """The 12 taps of a filter as scalars (kept in registers across a row)."""
    return (taps[0], taps[1], taps[2], taps[3], taps[4], taps[5], taps[6], taps[7], taps[8], taps[9],
            taps[10], taps[11])


@njit(inline="always")
def edge_padded(row, padded):
    """padded[PAD:PAD + t] = row [t], the PAD samples on each side copies of the end samples; returns padded."""
    t = row.shape[0]
    for j in range(t):
        padded[j + PAD] = row[j]
    for j in range(PAD):
        padded[j] = row[0]
        padded[t + PAD + j] = row[t - 1]
    return padded


@njit(inline="always", fastmath=_FASTMATH)
def upsampled(p, j, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11):
    """The x2 up-sampler's even and odd outputs z at j (6 taps each) from the edge-padded row p."""
    ze = h0 * p[j] + h2 * p[j + 1] + h4 * p[j + 2] + h6 * p[j + 3] + h8 * p[j + 4] + h10 * p[j + 5]
    zo = h1 * p[j + 1] + h3 * p[j + 2] + h5 * p[j + 3] + h7 * p[j + 4] + h9 * p[j + 5] + h11 * p[j + 6]
    return ze, zo


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def snake_alias_rows(x, scale, inv_b, up, down, out):
    """x, out [N, T] float32 rows (row n is channel n % C); scale, inv_b [C]; up, down [12] taps."""
    rows, t = x.shape
    channels = scale.shape[0]
    padded = np.empty(t + 2 * PAD, np.float32)
    even = np.empty(t + 2 * PAD, np.float32)
    odd = np.empty(t + 2 * PAD, np.float32)
    h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11 = twelve(up)
    g0, g1, g2, g3, g4, g5, g6, g7, g8, g9, g10, g11 = twelve(down)
    for n in range(rows):
        a = scale[n % channels]
        ib = inv_b[n % channels]
        p = edge_padded(x[n], padded)
        for j in range(t):
            ze, zo = upsampled(p, j, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11)
            even[j + PAD] = ze + sin_squared(a * ze) * ib
            odd[j + PAD] = zo + sin_squared(a * zo) * ib
        first, last = even[PAD], odd[t + PAD - 1]
        for j in range(PAD):
            even[j] = first
            odd[j] = first
            even[t + PAD + j] = last
            odd[t + PAD + j] = last
        o, e, d = out[n], even, odd
        # out[j] = sum_i g[i] w[2j + i - 5]: odd i read even[j + (i - 5) / 2], even i odd[j + (i - 6) / 2]
        for j in range(t):
            o[j] = (g1 * e[j + 1] + g3 * e[j + 2] + g5 * e[j + 3] + g7 * e[j + 4] + g9 * e[j + 5]
                    + g11 * e[j + 6] + g0 * d[j] + g2 * d[j + 1] + g4 * d[j + 2] + g6 * d[j + 3]
                    + g8 * d[j + 4] + g10 * d[j + 5])



@njit(inline="always", fastmath=_FASTMATH)
def sin_cos_reduced(u):
    """(sin r, cos r) with r = u - k pi, |r| <= pi / 2: sin^2(u) = (sin r)^2, sin(2u) = 2 sin r cos r."""
    k = np.floor(u * _INV_PI + _HALF)
    r = ((u - k * _PI_A) - k * _PI_B) - k * _PI_C
    r2 = r * r
    s = r + r * r2 * (_S3 + r2 * (_S5 + r2 * (_S7 + r2 * (_S9 + r2 * _S11))))
    c = _F(1.0) + r2 * (_C2 + r2 * (_C4 + r2 * (_C6 + r2 * (_C8 + r2 * (_C10 + r2 * _C12)))))
    return s, c


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def snake_alias_rows_backward(x, grad, scale, inv_b, up, down, grad_x, sum_a, sum_b):
    """Gradients of snake_alias_rows: grad [N, T] of its output -> grad_x [N, T], and per row
    sum_a[n] = sum dL/dw * sin(2 a z) * z, sum_b[n] = sum dL/dw * sin^2(a z) over both phases (w the
    activated x2 signal, z before the activation); the caller scales them into dL/dalpha, dL/dbeta.

    Each sum of the forward pass read as a sum over its outputs: the down-sampler's gradient is
    gathered per phase sample from the outputs that read it, edge padding adds its copies' gradients
    to the end samples, the activation is recomputed from x (nothing of the forward is kept)."""
    rows, t = x.shape
    channels = scale.shape[0]
    p = np.empty(t + 2 * PAD, np.float32)
    gq = np.zeros(t + 4 * PAD, np.float32)      # output gradient with 2 PAD zeros on each side
    ge = np.empty(t + 2 * PAD, np.float32)      # gradient of the padded even / odd phases
    gd = np.empty(t + 2 * PAD, np.float32)
    gze = np.zeros(t + 4 * PAD, np.float32)     # gradient of z per phase, 2 PAD zeros on each side
    gzo = np.zeros(t + 4 * PAD, np.float32)
    q = 2 * PAD
    h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11 = twelve(up)
    g0, g1, g2, g3, g4, g5, g6, g7, g8, g9, g10, g11 = twelve(down)
    for n in range(rows):
        a = scale[n % channels]
        ib = inv_b[n % channels]
        edge_padded(x[n], p)
        for j in range(t):
            gq[j + q] = grad[n, j]
        # out[j] reads even[j + s] with g[2s - 1] (s = 1..6) and odd[j + s] with g[2s] (s = 0..5)
        for m in range(t + 2 * PAD):
            ge[m] = (g1 * gq[m - 1 + q] + g3 * gq[m - 2 + q] + g5 * gq[m - 3 + q] + g7 * gq[m - 4 + q]
                     + g9 * gq[m - 5 + q] + g11 * gq[m - 6 + q])
            gd[m] = (g0 * gq[m + q] + g2 * gq[m - 1 + q] + g4 * gq[m - 2 + q] + g6 * gq[m - 3 + q]
                     + g8 * gq[m - 4 + q] + g10 * gq[m - 5 + q])
        ge[PAD] += ge[0] + ge[1] + ge[2] + gd[0] + gd[1] + gd[2]  # the left padding copies even[PAD]
        gd[t + PAD - 1] += (ge[t + PAD] + ge[t + PAD + 1] + ge[t + PAD + 2]  # the right padding copies
                            + gd[t + PAD] + gd[t + PAD + 1] + gd[t + PAD + 2])  # odd[t + PAD - 1]
        acc_a = 0.0
        acc_b = 0.0
        for j in range(t):
            ze, zo = upsampled(p, j, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11)
            gwe = ge[j + PAD]
            gwo = gd[j + PAD]
            se, ce = sin_cos_reduced(a * ze)
            so, co = sin_cos_reduced(a * zo)
            sin2e = _F(2.0) * se * ce
            sin2o = _F(2.0) * so * co
            gze[j + q] = gwe * (_F(1.0) + a * ib * sin2e)
            gzo[j + q] = gwo * (_F(1.0) + a * ib * sin2o)
            acc_a += gwe * sin2e * ze + gwo * sin2o * zo
            acc_b += gwe * se * se + gwo * so * so
        sum_a[n] = acc_a
        sum_b[n] = acc_b
        # z_even[j] reads p[j + k] with h[2k], z_odd[j] reads p[j + k + 1] with h[2k + 1] (k = 0..5)
        gx = grad_x[n]
        for j in range(t):
            gx[j] = 0.0
        for m in range(t + 2 * PAD):
            gp = (h0 * gze[m + q] + h2 * gze[m - 1 + q] + h4 * gze[m - 2 + q] + h6 * gze[m - 3 + q]
                  + h8 * gze[m - 4 + q] + h10 * gze[m - 5 + q] + h1 * gzo[m - 1 + q] + h3 * gzo[m - 2 + q]
                  + h5 * gzo[m - 3 + q] + h7 * gzo[m - 4 + q] + h9 * gzo[m - 5 + q] + h11 * gzo[m - 6 + q])
            gx[min(max(m - PAD, 0), t - 1)] += gp  # padding samples are copies of the end samples
