"""The screen of the likelihood search: which pixels may hold a jump, from the forward pass alone.

Leaving differences out of a fit can only lower its chi-square, so no
improvement (:mod:`jumpdet._stats.ramp_likelihood`) exceeds the chi-square
of the whole straight-line fit; a pixel whose chi-square is within its
one-difference threshold has no jump. With ``C = L D L^T`` the chi-square is
``d^T C^-1 d - (dt^T C^-1 d)**2 / dt^T C^-1 dt``, sums over the forward
pass, ``y = L^-1 d`` and ``L^-1 dt`` with the pivots ``D``: one division per
difference and no array stored. In short ramps it clears most pixels (95 %
with 10 groups at 4 sigma); in long ones (the chi-square of many degrees of
freedom exceeds a threshold of 1) few.
"""

import numpy as np

from ..compilation import kernel
from .ramp_likelihood import DT, PHOTON_DIAG, PHOTON_OFF, READ_DIAG, READ_OFF

__all__ = ["SCREEN_BLOCK", "SCREEN_STATE_ROWS", "screen"]

SCREEN_BLOCK = 256
SCREEN_STATE_ROWS = 10


@kernel(numpy_division=True)
def _screen_block(diffs, i, centre, read_var, coef, c0, state):
    """Chi-square and usable count of pixels ``c0 : c0 + m`` (``m = centre.size``), in rows of ``state``.

    ``state`` is whole (C-contiguous rows, which the compiler vectorises along)
    and at least ``m`` wide.
    """
    n = coef.shape[1]
    m = centre.size
    rate, inv_pivot, y_data, y_time, usable_before = state[0], state[1], state[2], state[3], state[4]
    data_data, data_time, time_time, usable, chi2 = state[5], state[6], state[7], state[8], state[9]
    for c in range(m):
        rate[c] = max(centre[c], 0.0)
    for row in range(1, 9):
        state[row, :m] = 0.0
    for k in range(n):
        dt, read_diag, photon_diag = coef[DT, k], coef[READ_DIAG, k], coef[PHOTON_DIAG, k]
        read_off = coef[READ_OFF, k - 1] if k > 0 else 0.0
        photon_off = coef[PHOTON_OFF, k - 1] if k > 0 else 0.0
        values = diffs[i * n + k, c0 : c0 + m]
        for c in range(m):  # branch-free: SIMD lanes
            v = np.float64(values[c])
            ok = v == v
            u = 1.0 if ok else 0.0
            d = v - centre[c] * dt if ok else 0.0
            alpha = (read_var[c] * read_diag + rate[c] * photon_diag) * u + (1.0 - u)
            beta = (read_var[c] * read_off + rate[c] * photon_off) * u * usable_before[c]
            ratio = beta * inv_pivot[c]
            inv_pivot[c] = 1.0 / (alpha - beta * ratio)
            y_data[c] = d - ratio * y_data[c]
            y_time[c] = dt * u - ratio * y_time[c]
            data_data[c] += y_data[c] * y_data[c] * inv_pivot[c]
            data_time[c] += y_data[c] * y_time[c] * inv_pivot[c]
            time_time[c] += y_time[c] * y_time[c] * inv_pivot[c]
            usable_before[c] = u
            usable[c] += u
    for c in range(m):
        chi2[c] = data_data[c] - data_time[c] * data_time[c] / time_time[c]
    return chi2, usable


@kernel(numpy_division=True)
def screen(diffs, i, centre, read_var, coef, thresholds, keep, state):
    """The pixels of integration ``i`` that may have a jump: their indices in ``keep``; returns how many.

    No improvement can exceed the chi-square of the whole fit, ``d^T C^-1 d -
    (dt^T C^-1 d)**2 / dt^T C^-1 dt``, so a pixel whose chi-square is within
    its one-difference threshold has no jump (most pixels). The chi-square
    needs only the forward LDL^T pass (``C^-1 = L^-T D^-1 L^-1``), done here
    for all pixels at once without storing it: one division per difference.
    The test is widened by a relative 1e-9, so that rounding can only keep a
    pixel too many.

    Parameters
    ----------
    diffs : (nints * n, m) float32 ndarray
        Electron differences, NaN where unusable (integration-major).
    i : int
        The integration.
    centre, read_var : (m,) float64 ndarray
        Median rate (centres the differences; clipped at 0, the photon-noise
        rate) and read variance of one frame.
    coef, thresholds : ndarray
        As for :func:`jumpdet._stats.ramp_likelihood.best_candidates`.
    keep : (m,) int64 ndarray
        Receives the indices of the pixels kept.
    state : (SCREEN_STATE_ROWS, min(m, SCREEN_BLOCK)) float64 ndarray
        Scratch.
    """
    m = diffs.shape[1]
    kept = 0
    for c0 in range(0, m, SCREEN_BLOCK):  # pixels a block at a time: the state stays in L1
        c1 = min(c0 + SCREEN_BLOCK, m)
        chi2, usable = _screen_block(diffs, i, centre[c0:c1], read_var[c0:c1], coef, c0, state)
        for c in range(c1 - c0):
            if usable[c] >= 2 and chi2[c] * (1.0 + 1e-9) > thresholds[np.int64(usable[c]), 0]:
                keep[kept] = c0 + c
                kept += 1
    return kept
