"""What the search compared with its threshold, for the jumps it flagged (the jump catalogue's values).

The two-point search lists each flag it sets with the value it compared
with its threshold, as it sets it (:func:`jumpdet.twopoint.find_jumps_in_tile`
with ``list_flags=True``): nothing is searched twice. Here the flags that
turned out new are looked up in those lists, and their group differences
are read from the ramp at just those samples, in DN and in electrons as the
search formed them (float32 ``data * gain``, then the float32 difference).

By path (:mod:`jumpdet.twopoint`):

``single_pass``
    ``|d - median| / sigma(median)``, the ratio compared with
    ``rejection_threshold``.
``iterative``
    ``| |d| - clipped median | / sigma`` at the pass that flagged ``d``,
    compared with the threshold for the usable differences left then.
``sigma_clip``
    ``|d - centre| / std`` with the centre and standard deviation of
    astropy's last iteration, taken from its clipping bounds (``(lower +
    upper) / 2`` and ``(upper - lower) / (2 * rejection_threshold)``); the
    flag means ``d`` lies outside the bounds: more than
    ``rejection_threshold`` to rounding.

``tests/test_catalog.py`` checks the values against an independent computation.
"""

import numpy as np

__all__ = ["group_differences", "measure_primary_jumps"]


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


def group_differences(data, gain, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group ``g`` minus group ``g - 1`` at flat GROUPDQ indices ``flat`` (all with ``g >= 1``).

    Returns the difference in DN and in electrons as the search forms it
    (each group converted to float32 electrons, then subtracted in float32),
    both float32; only the ``2 n`` samples are read.
    """
    i, g, y, x = np.unravel_index(flat, data.shape)
    later = data[i, g, y, x].astype(np.float32)
    earlier = data[i, g - 1, y, x].astype(np.float32)
    gains = gain[y, x].astype(np.float32)
    return later - earlier, later * gains - earlier * gains
