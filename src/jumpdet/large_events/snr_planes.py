"""Signal-to-noise planes of group differences, as jwst's MIRI shower search forms them.

jwst multiplies the DN ramp by the gain in float32.  Two-point detection has
set it to NaN where the input GROUPDQ was SATURATED or DO_NOT_USE, and the
shower search (``nan_invalid_data``) blanks groups whose GROUPDQ *equals*
DO_NOT_USE, SATURATED, JUMP_DET, or either of the first two with
DO_NOT_USE: the values 1 to 5.  Each first difference is then compared with
either the pixel's median difference over all integrations and groups (noise
``sqrt(|median| + read_noise_e**2 / nframes)``), or, with many integrations,
sigma-clipped statistics of the same group across integrations:
``ratio = |difference - median| / sigma``, all in float32.

Everything here works a row block or a plane at a time and never copies the
cube.  The compiled kernels repeat numpy's float32 arithmetic operation for
operation, so the planes are bit-identical to jwst's.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._stats.medians import ROW_NETWORK_LIMIT, sort_usable_columns, sorting_network
from .._stats.sigma_clip import MAXITERS, clip_bounds_of_columns, column_workspace
from ..compilation import kernel
from ..exposure import packed_bit, packed_shape, unpack
from ..flags import DO_NOT_USE, JUMP_DET, SATURATED

__all__ = ["SnrSource", "clipped_stats", "median_and_sigma", "nanmedian_last_axis"]

MASK_BITS = DO_NOT_USE | SATURATED | JUMP_DET
_BLOCK_BYTES = 32 * 2**20


class SnrSource:
    """The ramp in electrons as jwst's shower search sees it.

    Parameters
    ----------
    data : (nints, ngroups, nrows, ncols) float32 ndarray, DN
    gdq : same shape, uint8
        GROUPDQ as the shower search reads it.
    gain : (nrows, ncols) float32 ndarray, e/DN
    input_unusable : uint8 ndarray or None
        ``np.packbits((input_gdq & (SATURATED | DO_NOT_USE)) != 0, axis=-1)``,
        or None when jwst's electrons were not blanked there.
    ignore : (nrows, ncols) bool ndarray
        Pixels whose ratio is always NaN (flagged or reference pixels).
    """

    def __init__(self, data, gdq, gain, input_unusable, ignore):
        self.data, self.gdq, self.gain, self.ignore = data, gdq, gain, ignore
        if input_unusable is None:  # nothing blanked: one zero plane, broadcast
            packed = packed_shape(data.shape)
            input_unusable = np.broadcast_to(np.zeros((1, 1, *packed[2:]), np.uint8), packed)
        self.unusable = input_unusable

    def ratio(self, intg, group, median, sigma) -> np.ndarray:
        """``|difference - median| / sigma`` of one group (float32), NaN where ignored or blank."""
        # FITS data may be big-endian: native float32 copies of one plane at a time
        return _ratio_plane(
            self.data[intg, group].astype(np.float32, copy=False),
            self.data[intg, group - 1].astype(np.float32, copy=False),
            self.gdq[intg, group],
            self.gdq[intg, group - 1],
            self.unusable[intg, group],
            self.unusable[intg, group - 1],
            self.gain,
            median,
            sigma,
            self.ignore,
        )

    def block_differences(self, rows: slice, groups: slice = slice(None)) -> np.ndarray:
        """First differences (nints, n, nrows_block, ncols) of the given rows, NaN where blank."""
        values = self.data[:, groups, rows] * self.gain[rows]
        for intg in range(values.shape[0]):
            for k, group in enumerate(range(self.data.shape[1])[groups]):
                values[intg, k][self._blank(intg, group, rows)] = np.nan
        return np.diff(values, axis=1)

    def _blank(self, intg, group, rows) -> np.ndarray:
        # all of 1 (DNU), 2 (SAT), 3, 4 (JUMP), 5 are blanked: one wrapped uint8 comparison
        blank = (self.gdq[intg, group, rows] - np.uint8(1)) < 5
        packed = self.unusable[intg, group, rows]
        if packed.any():
            blank |= unpack(packed, self.data.shape[3])
        return blank

    def row_blocks(self, values_per_pixel: int) -> list[slice]:
        """Row slices holding about 32 MiB of float32 values."""
        nrows, ncols = self.data.shape[2:]
        step = max(1, _BLOCK_BYTES // (4 * ncols * max(values_per_pixel, 1)))
        return [slice(r, min(r + step, nrows)) for r in range(0, nrows, step)]


@kernel(numpy_division=True)
def _blank_row(dq, packed, out):
    """OR jwst's NaN test for one row of electrons into ``out``: GROUPDQ in 1..5, or input SAT/DNU."""
    for c in range(out.size):
        out[c] |= (dq[c] >= 1) & (dq[c] <= 5)
    if packed.any():  # rarely: the input's unusable groups
        for c in range(out.size):
            out[c] |= packed_bit(packed, c)


@kernel(numpy_division=True)
def _ratio_plane(now, before, dq_now, dq_before, un_now, un_before, gain, median, sigma, ignore):
    nrows, ncols = now.shape
    out = np.empty((nrows, ncols), dtype=np.float32)
    blank = np.empty(ncols, dtype=np.bool_)
    nan = np.float32(np.nan)
    for r in range(nrows):
        row, a, b, g, m, s = out[r], now[r], before[r], gain[r], median[r], sigma[r]
        for c in range(ncols):  # numpy's float32 operations, in its order
            row[c] = abs(a[c] * g[c] - b[c] * g[c] - m[c]) / s[c]
        flags, skip = dq_now[r], ignore[r]
        for c in range(ncols):
            blank[c] = skip[c] | ((flags[c] & MASK_BITS) != 0)
        _blank_row(flags, un_now[r], blank)
        _blank_row(dq_before[r], un_before[r], blank)
        for c in range(ncols):
            row[c] = nan if blank[c] else row[c]
    return out


@kernel(numpy_division=True)
def _median_rows(data, gdq, unusable, gain, row0, row1, pairs, long):
    """``nanmedian_last_axis`` of every pixel's first differences (all integrations), rows ``row0:row1``.

    Each image row's differences, (nints * (ngroups - 1), ncols), are sorted
    column-wise with a sorting network (:func:`jumpdet._stats.medians.sort_usable_columns`,
    NaNs last) and the median of the usable values taken in float32 as numpy does.
    """
    nints, ngroups, _, ncols = data.shape
    ndiffs = nints * (ngroups - 1)
    out = np.empty((row1 - row0, ncols), dtype=np.float32)
    diffs = np.empty((ndiffs, ncols), dtype=np.float32)
    ordered = np.empty((ndiffs, ncols), dtype=np.float32)
    count = np.empty(ncols, dtype=np.int64)
    previous = np.empty(ncols, dtype=np.float32)
    current = np.empty(ncols, dtype=np.float32)
    blank = np.empty(ncols, dtype=np.bool_)
    nan = np.float32(np.nan)
    for r in range(row0, row1):
        g_row = gain[r]
        for i in range(nints):
            for g in range(ngroups):
                values = data[i, g, r]
                blank[:] = False
                _blank_row(gdq[i, g, r], unusable[i, g, r], blank)
                for c in range(ncols):
                    current[c] = nan if blank[c] else values[c] * g_row[c]
                if g > 0:
                    target = diffs[i * (ngroups - 1) + g - 1]
                    for c in range(ncols):
                        target[c] = current[c] - previous[c]
                previous, current = current, previous
        sort_usable_columns(diffs, ordered, count, pairs)
        medians = out[r - row0]
        for c in range(ncols):
            medians[c] = _median_of_run(ordered[:, c], np.int64(0), count[c], long)
    return out


@kernel(numpy_division=True)
def _median_of_run(ordered, first, count, long):
    """numpy's float32 ``nanmedian`` of the ``count`` sorted values ``ordered[first:first + count]``.

    ``long`` tells numpy's way for 600 values or more (see :func:`nanmedian_last_axis`).
    """
    if count <= 0:
        return np.float32(np.nan)
    high = first + count // 2
    odd = count % 2 == 1
    low = ordered[high] if odd else ordered[high - 1]
    return low if (long and odd) else (low + ordered[high]) / np.float32(2)


@kernel(numpy_division=True)
def _median_of_sorted(ordered, long):
    """``nanmedian_last_axis`` of rows already sorted (NaNs last)."""
    npix, n = ordered.shape
    out = np.empty(npix, dtype=np.float32)
    for p in range(npix):
        count = n
        while count > 0 and np.isnan(ordered[p, count - 1]):
            count -= 1
        out[p] = _median_of_run(ordered[p], np.int64(0), count, long)
    return out


def nanmedian_last_axis(values: np.ndarray) -> np.ndarray:
    """``np.nanmedian`` of float32 values along the last axis, bit for bit, via one sort.

    NaNs sort last.  For fewer than 600 values numpy takes a masked median,
    ``(low + high) / 2`` in float32 even when ``low`` is ``high``; otherwise
    the middle value itself, or the float32 mean of the two middle values.

    >>> nanmedian_last_axis(np.array([[3, 1, np.nan, 2], [4, 1, 2, 3]], np.float32))
    array([2. , 2.5], dtype=float32)
    """
    shape = values.shape
    ordered = np.sort(np.asarray(values, np.float32).reshape(-1, shape[-1]), axis=-1)
    return _median_of_sorted(ordered, shape[-1] >= 600).reshape(shape[:-1])


def median_and_sigma(source: SnrSource, read_noise, nframes: int, run=map):
    """Per-pixel median difference over all integrations and its noise (float32 planes)."""
    nints, ngroups, nrows, ncols = source.data.shape
    blocks = [slice(r, min(r + 64, nrows)) for r in range(0, nrows, 64)]  # tasks for threads
    ndiffs = nints * (ngroups - 1)
    pairs = sorting_network(ndiffs)

    def block_median(rows):
        data, gdq, unusable, gain = source.data, source.gdq, source.unusable, source.gain
        if data.dtype != np.float32:  # e.g. big-endian FITS data: a native copy of these rows only
            data, gdq, unusable, gain = (a[..., rows, :] for a in (data, gdq, unusable, gain))
            data, rows = data.astype(np.float32), slice(0, rows.stop - rows.start)
        return _median_rows(data, gdq, unusable, gain, rows.start, rows.stop, pairs, ndiffs >= 600)

    median = np.empty((nrows, ncols), np.float32)
    for rows, values in zip(blocks, run(block_median, blocks), strict=True):
        median[rows] = values
    read_noise_e = read_noise * source.gain
    sigma = np.sqrt(np.abs(median) + read_noise_e**2 / nframes)
    return median, sigma


def clipped_stats(source: SnrSource, group: int):
    """Sigma-clipped (5 sigma) median and standard deviation of one difference across integrations.

    What ``astropy.stats.sigma_clipped_stats(diffs, sigma=5, axis=0)`` returns
    (jwst discards the mean): ``SigmaClip`` with its defaults, then NaN-ignoring
    median and standard deviation of the clipped values.  The clipping bounds
    are astropy's (:func:`jumpdet._stats.sigma_clip.clip_bounds_of_columns`, all pixels
    of a block at once), values outside them or not finite become NaN as in
    astropy, and the median is the ``np.nanmedian`` astropy takes of them
    (float32), read from the values the clipping sorted (or
    :func:`nanmedian_last_axis` when it sorted none).
    """
    nints, _, nrows, ncols = source.data.shape
    median = np.empty((nrows, ncols), np.float32)
    stddev = np.empty((nrows, ncols), np.float32)
    pairs = sorting_network(nints, ROW_NETWORK_LIMIT)
    for rows in source.row_blocks(6 * nints):
        diffs = source.block_differences(rows, slice(group - 1, group + 1))[:, 0]
        clipped, median[rows] = _clipped_and_medians(diffs, pairs)
        del diffs  # only the clipped copy is left for the standard deviations
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=RuntimeWarning)  # all-NaN pixels
            stddev[rows] = np.nanstd(clipped, axis=0)
    return median, stddev


def _clipped_and_medians(diffs: np.ndarray, pairs: np.ndarray):
    """``SigmaClip(sigma=5)(diffs, axis=0, masked=False)`` (NaN where clipped) and its nanmedian on axis 0."""
    nints = diffs.shape[0]
    values = np.ascontiguousarray(diffs.reshape(nints, -1), dtype=np.float32)
    lower, upper = np.empty(values.shape[1]), np.empty(values.shape[1])
    ordered = np.empty_like(values)
    clip_bounds_of_columns(values, 0, 1, 5.0, MAXITERS, pairs, lower, upper, column_workspace(ordered))
    clipped = _kept_or_nan(values, lower, upper)
    if pairs is None:  # too many values for a network: nothing was sorted
        median = nanmedian_last_axis(clipped.T)
    else:  # the clipping sorted every pixel's values: the kept ones are a run of them
        median = _medians_within(ordered, lower, upper, nints >= 600)
    return clipped.reshape(diffs.shape), median.reshape(diffs.shape[1:])


@kernel
def _kept_or_nan(values, lower, upper):
    """A copy of ``values`` with NaN outside each column's ``[lower, upper]`` (and for NaN and inf)."""
    nrows, ncols = values.shape
    out = np.empty_like(values)
    nan = np.float32(np.nan)
    for k in range(nrows):
        for c in range(ncols):  # branch-free, in SIMD lanes; NaN bounds keep nothing
            v = values[k, c]
            out[k, c] = v if (np.float64(v) >= lower[c]) & (np.float64(v) <= upper[c]) else nan
    return out


@kernel(numpy_division=True)
def _medians_within(ordered, lower, upper, long):
    """``nanmedian_last_axis`` of each column's values within ``[lower, upper]``.

    ``ordered`` holds each column's values sorted, non-finite ones last
    (as :func:`jumpdet._stats.sigma_clip.clip_bounds_of_columns` leaves them), so
    the values kept are a run of it, found by counting along rows (in SIMD
    lanes across columns); NaN bounds keep none.
    """
    n, ncols = ordered.shape
    first, stop = np.zeros(ncols, np.int64), np.zeros(ncols, np.int64)
    for k in range(n):
        row = ordered[k]
        for c in range(ncols):
            first[c] += np.float64(row[c]) < lower[c]
            stop[c] += np.float64(row[c]) <= upper[c]
    out = np.empty(ncols, dtype=np.float32)
    for c in range(ncols):
        out[c] = _median_of_run(ordered[:, c], first[c], stop[c] - first[c], long)
    return out
