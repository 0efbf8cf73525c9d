"""What the search compared with its threshold, for the jumps it flagged (the jump catalogue's values).

The search keeps nothing of the differences it did not flag, and the pixels
with a jump are few, so their measurements are taken again afterwards, by
the search's own compiled functions on the same float32 electrons: the
values are those the search computed, bit for bit
(``tests/test_catalog.py`` checks them against an independent computation).

By path (:mod:`jumpdet.twopoint`):

``single_pass``
    ``|d - median| / sigma(median)``, the ratio compared with
    ``rejection_threshold``.
``iterative``
    the search replayed on the pixel (:func:`jumpdet.twopoint._iterative_pixel`):
    ``| |d| - clipped median | / sigma`` at the pass that flagged ``d``,
    compared with the threshold for the usable differences left then.
``sigma_clip``
    the clipping bounds of the difference's set, by the search's own
    :func:`jumpdet._stats.sigma_clip.clip_bounds_of_columns`; the flag means
    ``d`` lies outside them. Reported as ``|d - centre| / std``
    with the centre and standard deviation of the last iteration taken from
    the bounds (``(lower + upper) / 2`` and ``(upper - lower) / (2 *
    rejection_threshold)``): more than ``rejection_threshold`` to rounding.
"""

import numpy as np

from ._stats.medians import ROW_NETWORK_LIMIT, sorting_network, usable_median
from ._stats.sigma_clip import MAXITERS, clip_bounds_of_columns, column_workspace
from .compilation import kernel
from .params import JumpParams
from .twopoint import _iterative_pixel, electrons, read_variance, sigma_from_median

__all__ = ["measure_primary_jumps"]

# bytes of ramps (and their differences) gathered at once
_CHUNK_BYTES = 1 << 24


def measure_primary_jumps(
    data, groupdq, gain, read_noise, params: JumpParams, path: str, flat: np.ndarray, *, medians=None
):
    """Difference and significance of flags found by the search, at flat GROUPDQ indices ``flat``.

    Parameters
    ----------
    data : (nints, ngroups, nrows, ncols) ndarray, DN (any float dtype or byte order)
    groupdq : (nints, ngroups, nrows, ncols) uint8 ndarray
        With the input's SATURATED and DO_NOT_USE flags (as the search saw them).
    gain, read_noise : (nrows, ncols) float32 ndarray
        e/DN; DN (difference of two reads).
    params : JumpParams
    path : {"iterative", "single_pass", "sigma_clip"}
    flat : (n,) int64 ndarray
        Flat indices of flags the search set (groups >= 1).
    medians : (nrows, ncols) float64 ndarray or None
        The single pass's median differences, when the search kept them
        (they are then not computed again).

    Returns
    -------
    difference_dn : (n,) float32 ndarray
    difference_e : (n,) float32 ndarray
        The electron difference the search used.
    significance_sigma : (n,) float64 ndarray
    """
    nints, ngroups, nrows, ncols = data.shape
    frame = nrows * ncols
    pixel = flat % frame
    k = (flat // frame // ngroups) * (ngroups - 1) + flat // frame % ngroups - 1  # pooled difference
    order = np.argsort(pixel, kind="stable")
    pixels, first = np.unique(pixel[order], return_index=True)
    bounds = np.append(first, flat.size)
    out = (np.empty(flat.size, np.float32), np.empty(flat.size, np.float32), np.empty(flat.size))
    thresholds = np.array(
        [
            params.rejection_threshold,
            params.four_group_rejection_threshold,
            params.three_group_rejection_threshold,
        ]
    )
    per_chunk = max(64, _CHUNK_BYTES // (nints * ngroups * 13))  # ramps, flags, two float32 differences
    for start in range(0, pixels.size, per_chunk):
        chunk = pixels[start : start + per_chunk]
        lo, hi = bounds[start], bounds[start + chunk.size]
        owner = np.repeat(np.arange(chunk.size), np.diff(bounds[start : start + chunk.size + 1]))
        ramps, dqs = _gathered(data, chunk), _gathered(groupdq, chunk)
        diffs, dn = _differences(ramps, dqs, gain.reshape(-1)[chunk].astype(np.float32))
        flags_k = k[order[lo:hi]]
        found = (diffs[flags_k, owner], dn[flags_k, owner])
        if path == "sigma_clip":
            sigma = _clipped_significance(diffs, owner, flags_k, nints, params)
        else:
            sigma = np.empty(hi - lo)
            noise = read_noise.reshape(-1)[chunk].astype(np.float32)
            gains = gain.reshape(-1)[chunk].astype(np.float32)
            known = medians.reshape(-1)[chunk] if medians is not None else np.empty(0)
            _median_significance(diffs, gains, noise, params.nframes, path == "iterative", thresholds,
                                 owner, flags_k, nints, known, sigma)  # fmt: skip
        for target, values in zip(out, (found[1], found[0], sigma), strict=True):
            target[order[lo:hi]] = values
    return out


def _gathered(cube, pixels):
    """(nints, ngroups, npixels) native copy of ``cube`` at flat frame indices ``pixels``; floats float32."""
    nints, ngroups, nrows, ncols = cube.shape
    dtype = np.dtype(np.float32) if cube.dtype.kind == "f" else cube.dtype.newbyteorder("=")
    out = np.empty((nints, ngroups, pixels.size), dtype)
    if cube.dtype == dtype and cube.flags.c_contiguous:
        _take_pixels(cube.reshape(nints, ngroups, nrows * ncols), pixels, out)
    else:  # FITS data are big-endian, which compiled code does not read: plane by plane
        for i in range(nints):
            for g in range(ngroups):
                out[i, g] = np.take(cube[i, g].reshape(-1), pixels)
    return out


@kernel
def _take_pixels(cube, pixels, out):
    nints, ngroups = cube.shape[:2]
    for i in range(nints):
        for g in range(ngroups):
            plane, target = cube[i, g], out[i, g]
            for p in range(pixels.size):
                target[p] = plane[pixels[p]]


@kernel
def _differences(ramps, dqs, gains):
    """Electron differences ``(nints * (ngroups - 1), npixels)`` as the search forms them, and in DN."""
    nints, ngroups, npix = ramps.shape
    diffs = np.empty((nints * (ngroups - 1), npix), np.float32)
    dn = np.empty((nints * (ngroups - 1), npix), np.float32)
    for i in range(nints):
        for g in range(1, ngroups):
            k = i * (ngroups - 1) + g - 1
            for p in range(npix):
                later = electrons(ramps[i, g, p], dqs[i, g, p], gains[p])
                diffs[k, p] = later - electrons(ramps[i, g - 1, p], dqs[i, g - 1, p], gains[p])
                dn[k, p] = ramps[i, g, p] - ramps[i, g - 1, p]
    return diffs, dn


@kernel
def _median_significance(diffs, gains, noises, nframes, iterative, thresholds, owner, k, nints, known, sig):
    """Single pass and iterative search: the ratio of each flag ``(owner, k)`` (by pixel) into ``sig``."""
    nvalues = diffs.shape[0]
    values, scratch = np.empty(nvalues, np.float32), np.empty(nvalues, np.float32)
    ratio, found, has_jump = np.empty(nvalues), np.empty(nvalues), np.empty(nints, np.bool_)
    j = 0
    while j < owner.size:
        p, end = owner[j], j
        while end < owner.size and owner[end] == p:
            end += 1
        variance = read_variance(noises[p], gains[p], nframes)
        if iterative:
            values[:] = np.abs(diffs[:, p])
            _iterative_pixel(values, scratch, ratio, has_jump, variance, thresholds, found)
            for f in range(j, end):
                sig[f] = found[k[f]]
        else:
            centre = known[p] if known.size else usable_median(diffs[:, p], scratch)
            sigma = sigma_from_median(centre, variance)
            for f in range(j, end):
                sig[f] = abs(np.float64(diffs[k[f], p]) - centre) / sigma
        j = end


def _clipped_significance(diffs, owner, k, nints, params):
    """Sigma clipping: ``|d - centre| / std`` of the last iteration, from the bounds of each flag's set."""
    nvalues = diffs.shape[0]
    ndiffs = nvalues // nints
    if params.only_use_ints:  # the same difference in every integration
        sets, which = np.unique(owner * ndiffs + k % ndiffs, return_inverse=True)
        rows = (sets % ndiffs)[None, :] + ndiffs * np.arange(nints)[:, None]
        values = diffs[rows, (sets // ndiffs)[None, :]]
    else:  # all differences of the pixel
        sets, which = np.unique(owner, return_inverse=True)
        values = diffs[:, sets]
    values = np.ascontiguousarray(values)
    lower, upper = np.empty(sets.size), np.empty(sets.size)
    pairs = sorting_network(values.shape[0], ROW_NETWORK_LIMIT)
    workspace = column_workspace(np.empty_like(values))
    threshold = params.rejection_threshold
    clip_bounds_of_columns(values, 0, 1, threshold, MAXITERS, pairs, lower, upper, workspace)
    d = diffs[k, owner].astype(np.float64)
    std = (upper - lower)[which] / (2.0 * threshold)
    return np.abs(d - 0.5 * (lower + upper)[which]) / std
