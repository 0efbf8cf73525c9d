"""What the search compared with its threshold, for the jumps it flagged (the jump catalogue's values).

Nothing is searched twice. The iterative, sigma-clip and likelihood searches
list each flag with the value they compared with their threshold as they set
it (:func:`jumpdet.twopoint.find_jumps_in_tile`,
:func:`jumpdet.likelihood.find_jumps_in_tile`, with ``list_flags=True``); the
flags that turned out new are looked up in those lists. The single pass
keeps each pixel's median difference (its ``medians`` plane), from which its
ratio follows by the search's own arithmetic, for the few flags only (listing
in its kernel would test every difference a second time: measured +0.024 s
on 0.065 s for miri_1x40). The group differences are read from the ramp at
just the flagged samples, in DN and in electrons as the search formed them
(float32 ``data * gain``, then the float32 difference).

By path (:mod:`jumpdet.twopoint`):

``single_pass``
    ``|d - median| / sigma(median)``, the ratio compared with
    ``rejection_threshold`` (:func:`measure_single_pass_jumps`).
``iterative``
    ``| |d| - clipped median | / sigma`` at the pass that flagged ``d``,
    compared with the threshold for the usable differences left then.
``sigma_clip``
    ``|d - centre| / std`` with the centre and standard deviation of
    astropy's last iteration, taken from its clipping bounds (``(lower +
    upper) / 2`` and ``(upper - lower) / (2 * rejection_threshold)``); the
    flag means ``d`` lies outside the bounds: more than
    ``rejection_threshold`` to rounding.
``likelihood``
    The Gaussian sigma of the statistic of the test that found the jump
    (:func:`jumpdet.likelihood.sigma_equivalent`); both flags of a jump
    inside a group carry it.

``tests/test_catalog.py`` checks the values against an independent computation.
"""

import numpy as np

from .compilation import kernel
from .twopoint import group_differences, read_variance, sigma_from_median

__all__ = ["measure_primary_jumps", "measure_single_pass_jumps"]


def measure_primary_jumps(data, gain, listed: tuple[np.ndarray, np.ndarray], flat: np.ndarray):
    """Differences and significance of the search's flags at flat GROUPDQ indices ``flat``.

    Parameters
    ----------
    data : (nints, ngroups, nrows, ncols) ndarray, DN (any float dtype or byte order)
    gain : (nrows, ncols) ndarray, e/DN
    listed : (flat, significance) of (m,) ndarrays
        What the search listed, ``flat`` ascending (the tiles' lists merged).
    flat : (n,) int64 ndarray
        Flat indices of flags the search set (groups >= 1), each among ``listed``.

    Returns
    -------
    difference_dn : (n,) float32 ndarray
    difference_e : (n,) float32 ndarray
        The electron difference the search used.
    significance_sigma : (n,) float64 ndarray
        NaN for a flag the search did not list (none is expected).
    """
    listed_flat, listed_significance = listed
    at = np.minimum(np.searchsorted(listed_flat, flat), max(listed_flat.size - 1, 0))
    significance = np.full(flat.size, np.nan)
    if listed_flat.size:
        known = listed_flat[at] == flat
        significance[known] = listed_significance[at[known]]
    return (*group_differences(data, gain, flat), significance)


def measure_single_pass_jumps(data, gain, read_noise, nframes: int, medians, flat: np.ndarray):
    """:func:`measure_primary_jumps` for the single pass, from the median difference it kept per pixel.

    The ratio is computed by the search's own functions
    (:func:`jumpdet.twopoint.read_variance`,
    :func:`jumpdet.twopoint.sigma_from_median`), on the same types:
    ``|float64(d) - median| / sigma(median)``.

    Parameters
    ----------
    data : (nints, ngroups, nrows, ncols) ndarray, DN
    gain, read_noise : (nrows, ncols) float32 ndarray
        e/DN; DN (CDS).
    nframes : int
    medians : (nrows, ncols) float64 ndarray
        The single pass's median difference of each pixel, electrons.
    flat : (n,) int64 ndarray
        Flat GROUPDQ indices of flags the single pass set.

    Returns
    -------
    difference_dn, difference_e : (n,) float32 ndarray
    significance_sigma : (n,) float64 ndarray
    """
    difference_dn, difference_e = group_differences(data, gain, flat)
    _, _, y, x = np.unravel_index(flat, data.shape)
    gains, noises = gain[y, x].astype(np.float32), read_noise[y, x].astype(np.float32)
    significance = _single_pass_ratios(difference_e, medians[y, x], noises, gains, nframes)
    return difference_dn, difference_e, significance


@kernel
def _single_pass_ratios(differences, centres, read_noises, gains, nframes):
    """``|d - median| / sigma`` of each flag, as :func:`jumpdet.twopoint._single_pass_row` computes it."""
    out = np.empty(differences.size)
    for j in range(out.size):
        sigma = sigma_from_median(centres[j], read_variance(read_noises[j], gains[j], nframes))
        out[j] = abs(np.float64(differences[j]) - centres[j]) / sigma
    return out
