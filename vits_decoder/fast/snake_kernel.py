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


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def snake_alias_rows(x, scale, inv_b, up, down, out):
    """x, out [N, T] float32 rows (row n is channel n % C); scale, inv_b [C]; up, down [12] taps."""
    rows, t = x.shape
    channels = scale.shape[0]
    padded = np.empty(t + 2 * PAD, np.float32)
    even = np.empty(t + 2 * PAD, np.float32)
    odd = np.empty(t + 2 * PAD, np.float32)
    h0, h1, h2, h3, h4, h5, h6, h7, h8, h9, h10, h11 = (up[0], up[1], up[2], up[3], up[4], up[5],
                                                        up[6], up[7], up[8], up[9], up[10], up[11])
    g0, g1, g2, g3, g4, g5, g6, g7, g8, g9, g10, g11 = (down[0], down[1], down[2], down[3], down[4],
                                                        down[5], down[6], down[7], down[8], down[9],
                                                        down[10], down[11])
    for n in range(rows):
        a = scale[n % channels]
        ib = inv_b[n % channels]
        row = x[n]
        for j in range(t):
            padded[j + PAD] = row[j]
        for j in range(PAD):
            padded[j] = row[0]
            padded[t + PAD + j] = row[t - 1]
        p = padded
        for j in range(t):
            ze = (h0 * p[j] + h2 * p[j + 1] + h4 * p[j + 2] + h6 * p[j + 3] + h8 * p[j + 4]
                  + h10 * p[j + 5])
            zo = (h1 * p[j + 1] + h3 * p[j + 2] + h5 * p[j + 3] + h7 * p[j + 4] + h9 * p[j + 5]
                  + h11 * p[j + 6])
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

