"""The two-point-difference search for jumps, on one tile of pixels.

Every function here is a pure function of numpy arrays covering a tile: all
groups and integrations of a rectangle of pixels. Pixels are independent at
this stage, so the caller (:mod:`jumpdet.detect`) may cut the exposure into
tiles of any size and run them in any order, and the flags come out the same.

Units: the tile's data arrive in DN and are turned into electrons here, one
tile at a time (``data * gain``, float32, as jwst does on the whole cube);
read noise arrives as the variance of a group difference in electrons squared.
Differences are per group (jwst normalises by a group-time step of 1).

The three paths, chosen per exposure by :mod:`jumpdet.plan`:

``iterative``
    fewer than ``min_diffs_single_pass`` usable differences per integration:
    find the single most significant difference of each pixel (pooled over
    integrations, against a clipped median of absolute differences), flag it
    if above the threshold for its number of usable differences, drop it and
    search the pixel again.
``single_pass``
    enough differences: flag every difference more than
    ``rejection_threshold`` sigma from the pixel's median difference.
``sigma_clip``
    enough integrations (or groups): astropy's iterative sigma clipping of
    each difference against the same difference in the other integrations
    (``only_use_ints``) or against all differences of the pixel.
"""

import warnings

import numpy as np
from astropy.stats import sigma_clip
from astropy.utils.exceptions import AstropyUserWarning

from .flags import DO_NOT_USE, SATURATED
from .medians import clipped_median, median
from .params import JumpParams

__all__ = [
    "electron_differences",
    "find_jumps_in_tile",
    "iterative_search",
    "sigma_clip_search",
    "sigma_from_median",
    "single_pass_search",
]

UNUSABLE = SATURATED | DO_NOT_USE


def electron_differences(data: np.ndarray, gdq: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Group-to-group differences in electrons, NaN where either group is unusable.

    Parameters
    ----------
    data : (nints, ngroups, ...) ndarray, DN
    gdq : (nints, ngroups, ...) uint8 ndarray
        SATURATED or DO_NOT_USE groups, and NaN data, are unusable.
    gain : (...) ndarray, e/DN

    Returns
    -------
    (nints, ngroups - 1, ...) float32 ndarray, electrons
    """
    electrons = data.astype(np.float32, copy=False) * gain.astype(np.float32, copy=False)
    electrons[(gdq & UNUSABLE) != 0] = np.nan
    return np.subtract(electrons[:, 1:], electrons[:, :-1])


def sigma_from_median(median_diff: np.ndarray, read_variance: np.ndarray) -> np.ndarray:
    """Noise of one group difference (electrons), NaN where it would be zero.

    Poisson variance is estimated by the absolute median difference; a zero
    sigma (no signal, no read noise) would make every ratio infinite, so it
    is NaN and such a pixel is never flagged (as in jwst).
    """
    sigma = np.sqrt(np.abs(median_diff) + read_variance)
    sigma[sigma == 0.0] = np.nan
    return sigma


def single_pass_search(diffs: np.ndarray, read_variance: np.ndarray, threshold: float) -> np.ndarray:
    """Flag every difference more than ``threshold`` sigma from the pixel's median.

    Parameters
    ----------
    diffs : (nints, ndiffs, npix) float32 ndarray, electrons, NaN unusable
    read_variance : (npix,) float64 ndarray, electrons**2
    threshold : float, sigma

    Returns
    -------
    (nints, ndiffs, npix) bool ndarray
    """
    nints, ndiffs, npix = diffs.shape
    med = median(diffs.reshape(nints * ndiffs, npix))
    sigma = sigma_from_median(med, read_variance)
    with np.errstate(invalid="ignore"):
        ratio = np.abs(diffs - med) / sigma
    return (ratio > threshold) & np.isfinite(diffs)


def iterative_search(abs_diffs: np.ndarray, read_variance: np.ndarray, params: JumpParams) -> np.ndarray:
    """Flag outliers one at a time per pixel, re-estimating the median after each.

    Parameters
    ----------
    abs_diffs : (nints, ndiffs, npix) float32 ndarray
        Absolute differences in electrons, NaN unusable. Overwritten: each
        flagged difference becomes NaN.
    read_variance : (npix,) float64 ndarray, electrons**2
    params : JumpParams
        Supplies the three thresholds.

    Returns
    -------
    (nints, ndiffs, npix) bool ndarray
    """
    nints, ndiffs, npix = abs_diffs.shape
    values = abs_diffs.reshape(nints * ndiffs, npix)
    flags = np.zeros(values.shape, dtype=bool)
    active = np.arange(npix)
    subset = values
    first_pass = True
    while active.size:
        new = _most_significant_outliers(subset, read_variance[active], nints, params, first_pass)
        hit = new.any(axis=0)
        active, new, subset = active[hit], new[:, hit], subset[:, hit]
        flags[:, active] |= new
        subset[new] = np.nan
        values[:, active] = subset
        first_pass = False
    return flags.reshape(abs_diffs.shape)


def _most_significant_outliers(values, read_variance, nints, params, first_pass):
    """One pass of the iterative search over the pixels (columns) of ``values``.

    jwst keeps the re-estimated median in a float32 array after the first
    pass and the residual ``|d| - median`` in float32 always; the roundings
    are reproduced because ratios are compared for equality with their maximum.
    """
    clipped, n_usable = clipped_median(values)
    if not first_pass:
        clipped = clipped.astype(np.float32).astype(np.float64)
    sigma = sigma_from_median(clipped, read_variance)
    residual = (values - clipped).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.abs(residual) / sigma
    per_int_max = np.fmax.reduce(ratio.reshape(nints, -1, ratio.shape[-1]), axis=1)
    threshold = np.select(
        [n_usable >= 4, n_usable == 3, n_usable == 2],
        [
            params.rejection_threshold,
            params.four_group_rejection_threshold,
            params.three_group_rejection_threshold,
        ],
        default=np.inf,
    )
    int_has_jump = per_int_max > threshold
    largest = np.fmax.reduce(per_int_max, axis=0)
    return (ratio == largest) & np.repeat(int_has_jump, ratio.shape[0] // nints, axis=0)


def sigma_clip_search(diffs: np.ndarray, gdq: np.ndarray, params: JumpParams) -> np.ndarray:
    """Flag differences rejected by astropy's sigma clipping across integrations.

    Parameters
    ----------
    diffs : (nints, ndiffs, ...) float32 ndarray, electrons, NaN unusable
    gdq : (nints, ngroups, ...) uint8 ndarray
    params : JumpParams
        ``rejection_threshold`` is the clipping sigma; ``only_use_ints``
        chooses the axis.

    Returns
    -------
    (nints, ndiffs, ...) bool ndarray
    """
    axis = 0 if params.only_use_ints else (0, 1)
    with warnings.catch_warnings():
        # fully unusable pixels legitimately give empty slices
        for message in ("All-NaN slice", "Mean of empty slice", "Degrees of freedom <= 0"):
            warnings.filterwarnings("ignore", message=f".*{message}.*", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*invalid values.*", category=AstropyUserWarning)
        clipped, _, _ = sigma_clip(
            diffs.astype(np.float64),
            sigma=params.rejection_threshold,
            axis=axis,
            masked=True,
            return_bounds=True,
        )
    return np.ma.getmaskarray(clipped) & np.isfinite(diffs) & ((gdq[:, 1:] & UNUSABLE) == 0)


def find_jumps_in_tile(data, gdq, gain, read_noise, params: JumpParams, path: str) -> np.ndarray:
    """Jump flags for one tile, by the exposure's detection path.

    Parameters
    ----------
    data : (nints, ngroups, nrows, ncols) ndarray, DN
    gdq : (nints, ngroups, nrows, ncols) uint8 ndarray
    gain : (nrows, ncols) float32 ndarray, e/DN
    read_noise : (nrows, ncols) float32 ndarray, DN
    params : JumpParams
    path : {"iterative", "single_pass", "sigma_clip"}

    Returns
    -------
    (nints, ngroups - 1, nrows, ncols) bool ndarray
        True where group ``g + 1`` holds a jump.
    """
    diffs = electron_differences(data, gdq, gain)
    if path == "sigma_clip":
        return sigma_clip_search(diffs, gdq, params)
    nints, ndiffs = diffs.shape[:2]
    flat = diffs.reshape(nints, ndiffs, -1)
    variance = read_variance(read_noise, gain, params.nframes).ravel()
    if path == "single_pass":
        found = single_pass_search(flat, variance, params.rejection_threshold)
    else:
        found = iterative_search(np.abs(flat, out=flat), variance, params)
    return found.reshape(diffs.shape)


def read_variance(read_noise: np.ndarray, gain: np.ndarray, nframes: int) -> np.ndarray:
    """Read-noise variance of a group difference, electrons squared, float64.

    jwst squares the float32 read noise in electrons and divides by half the
    number of reads in the two groups, ``0.5 * 2 * nframes``.
    """
    read_noise_e = read_noise.astype(np.float32, copy=False) * gain.astype(np.float32, copy=False)
    return np.square(read_noise_e).astype(np.float64) / (0.5 * (2.0 * nframes))
