"""Sigma-clipping bounds of one set of values, as astropy's ``sigma_clip`` computes them.

jwst's sigma-clip path calls ``astropy.stats.sigma_clip(diffs, sigma=..., axis=...,
masked=True)`` with the default median centre, standard deviation and five
iterations, which astropy runs through its fast C routine. A value is then
clipped when it is non-finite or outside the bounds of the *last* iteration.

The bounds are reproduced bit for bit, which takes more than the same formula:
the median is found by Wirth's selection, which reorders the buffer, and the
mean and standard deviation are then summed in that order; values kept after
an iteration are packed in order. So this module follows the same sequence of
operations on a float64 buffer (see :func:`jumpdet.medians.kth_smallest`).
"""

import numpy as np
from numba import njit

from .medians import kth_smallest

__all__ = ["MAXITERS", "clip_bounds"]

MAXITERS = 5  # astropy's default, which jwst uses


@njit(nogil=True, cache=True)
def _wirth_median(a, n):
    # astropy takes the upper middle value first; the order of the two
    # selections decides the buffer's order, hence the sums below
    if n % 2 == 0:
        return 0.5 * (kth_smallest(a, n, n // 2) + kth_smallest(a, n, n // 2 - 1))
    return kth_smallest(a, n, (n - 1) // 2)


@njit(nogil=True, cache=True)
def clip_bounds(buffer, count, sigma, maxiters):
    """Lower and upper clipping bounds of ``buffer[:count]`` (float64, finite values).

    The buffer is reordered and overwritten. With ``count`` 0 the bounds are
    NaN (nothing but non-finite values is clipped then).

    Parameters
    ----------
    buffer : (n,) float64 ndarray
    count : int
    sigma : float
        Clipping threshold, in standard deviations, both sides.
    maxiters : int

    Returns
    -------
    lower, upper : float
    """
    if count == 0:
        return np.nan, np.nan
    lower = upper = np.nan
    for _ in range(maxiters):
        centre = _wirth_median(buffer, count)
        mean = 0.0
        for i in range(count):
            mean += buffer[i]
        mean /= count
        spread = 0.0
        for i in range(count):
            spread += (buffer[i] - mean) * (buffer[i] - mean)
        std = np.sqrt(spread / count)
        lower = centre - sigma * std
        upper = centre + sigma * std
        kept = 0
        for i in range(count):
            if buffer[i] >= lower and buffer[i] <= upper:
                buffer[kept] = buffer[i]
                kept += 1
        if kept == count or kept == 0:
            break
        count = kept
    return lower, upper
