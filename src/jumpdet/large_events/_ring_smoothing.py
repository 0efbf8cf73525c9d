"""jwst's NaN-ignoring ring smoothing and threshold, evaluated only where a shower could be.

jwst's ``convolve_fast`` zeroes non-finite pixels, convolves the plane with
``scipy.signal.oaconvolve(mode="same")``, divides by the convolution of the
finite-pixel mask padded with ones (``mode="valid"``) and keeps pixels whose
own value and normalisation are valid; the shower search thresholds the
result.  Two pieces reproduce that bit for bit at a fraction of the cost:

:class:`RingSmoother` first sums the ring directly and bounds the FFT's
rounding error block by block, so it knows which pixels *could* pass the
threshold; only regions of those large enough to matter get the exact
numerator (:class:`jumpdet.large_events._overlap_add.OverlapAddConvolution`, ``oaconvolve``
at chosen pixels, bit for bit), and only values within rounding of the
threshold get jwst's exact normalisation.
"""

from __future__ import annotations

import numpy as np

from ..compilation import kernel
from ._overlap_add import U32, OverlapAddConvolution
from ._regions import filled_area_passes, find_regions

__all__ = ["RingSmoother"]


class RingSmoother:
    """jwst's ring smoothing and threshold (``convolve_fast(ratio, kernel) > threshold``), done lazily.

    Parameters
    ----------
    kernel : (k, k) float ndarray, k odd
        The smoothing kernel (an astropy ``Ring2DKernel`` array in jwst).
    """

    def __init__(self, kernel: np.ndarray):
        kernel = np.asarray(kernel, dtype=np.float64)
        if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 != 1:
            raise ValueError(f"kernel must be square with an odd size, got shape {kernel.shape}")
        self.kernel = kernel
        self.cutoff = 1e-3 * np.mean(kernel)
        self.nnz = int(np.count_nonzero(kernel))
        weights = np.unique(kernel[kernel != 0])
        # the bound needs one positive weight, and a cut-off that only an empty ring fails
        simple = weights.size == 1 and 0 < self.cutoff < 0.5 * weights[0] and self.nnz < 255
        self.weight = float(weights[0]) if simple else None
        # convolution = correlation with the flipped kernel: horizontal runs of its footprint
        self.runs, self.run_lengths = _horizontal_runs(kernel[::-1, ::-1] != 0)
        self._plans: dict[tuple, tuple[OverlapAddConvolution, OverlapAddConvolution]] = {}

    def emission(self, ratio: np.ndarray, threshold: float, min_area: float) -> np.ndarray | None:
        """Pixels whose smoothed ``ratio`` exceeds ``threshold``, as jwst's ``convolve_fast`` finds them.

        Exact in every region whose hole-filled area could reach ``min_area``;
        pixels of smaller regions may be left out.  None when no region can
        reach ``min_area``.  ``ratio`` ((nrows, ncols) float32; non-finite =
        ignore) is overwritten with zeros where not finite.
        """
        if ratio.dtype != np.float32 or ratio.ndim != 2:
            raise ValueError(f"ratio must be a 2-D float32 plane, got {ratio.dtype} of shape {ratio.shape}")
        if self.kernel.shape[0] > min(ratio.shape):  # a ring wider than the frame: jwst's own way
            return self._convolve_fast(ratio) > threshold
        numerator, norm = self._plan(ratio.shape)
        ax_r, ax_c = numerator.axes
        margin = self.kernel.shape[0] // 2
        padded, bad, block_sq, negative = _clean(
            ratio, margin, ax_r.step, ax_c.step, ax_r.nsteps, ax_c.nsteps
        )
        good = bad[margin : margin + ratio.shape[0], margin : margin + ratio.shape[1]] == 0
        if self.weight is None or negative:  # the bound below needs equal weights and values >= 0
            return self._exact_plane(ratio, good, threshold)
        candidates, count = self._candidates(padded, bad, block_sq, threshold, min_area, numerator)
        if candidates is None:
            return self._exact_plane(ratio, good, threshold)
        if not candidates.size:
            return None
        conv = numerator.at(ratio, candidates)
        # jwst's normalisation is the FFT of the valid mask: above its cut-off exactly where
        # a ring pixel is valid, and very close to weight * count.  Only a value this close
        # to the threshold could compare differently; those get jwst's own normalisation.
        count = count.ravel()[candidates].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            smoothed = conv / (self.weight * count)
        valid = good.ravel()[candidates] & (count > 0)
        passing = valid & (smoothed > threshold)
        tolerance = 100 * (norm.relative_error_bound(self.nnz) + 2.0**-50) * (abs(threshold) + 1)
        near = np.flatnonzero(valid & (np.abs(smoothed - threshold) <= tolerance))
        if near.size:
            passing[near] = self._exact_at(good, conv[near], candidates[near], threshold, norm)
        emission = np.zeros(ratio.shape, dtype=bool)
        emission.ravel()[candidates[passing]] = True
        return emission

    def _convolve_fast(self, ratio: np.ndarray) -> np.ndarray:
        """Apply jwst's ``convolve_fast`` to the whole plane (NaN where not valid).

        For planes smaller than the kernel, which :class:`OverlapAddConvolution`
        does not lay out.
        """
        from scipy.signal import oaconvolve  # rarely needed, and slow to import

        good = np.isfinite(ratio)
        ratio[~good] = 0
        numerator = oaconvolve(ratio, self.kernel, mode="same")
        norm = oaconvolve(self._padded_good(good), self.kernel, mode="valid")
        good &= norm > self.cutoff
        with np.errstate(divide="ignore", invalid="ignore"):
            smoothed = numerator / norm
        smoothed[~good] = np.nan
        return smoothed

    def _plan(self, shape):
        """The numerator's and normalisation's convolutions for planes of this shape."""
        if shape not in self._plans:
            n = self.kernel.shape[0] // 2
            padded = (shape[0] + 2 * n, shape[1] + 2 * n)
            self._plans[shape] = (
                OverlapAddConvolution(shape, self.kernel, "same"),
                OverlapAddConvolution(padded, self.kernel, "valid"),
            )
        return self._plans[shape]

    def _padded_good(self, good: np.ndarray) -> np.ndarray:
        """jwst's normalisation input: the finite mask in a frame of ones, float64."""
        n = self.kernel.shape[0] // 2
        padded = np.ones((good.shape[0] + 2 * n, good.shape[1] + 2 * n))
        padded[n : n + good.shape[0], n : n + good.shape[1]] = good
        return padded

    def _exact_at(self, good, conv, pixels, threshold, norm_plan) -> np.ndarray:
        """jwst's test at ``pixels`` (flat indices) given their exact numerators ``conv``."""
        norm = norm_plan.at(self._padded_good(good), pixels)
        with np.errstate(divide="ignore", invalid="ignore"):
            return good.ravel()[pixels] & (norm > self.cutoff) & (conv / norm > threshold)

    def _exact_plane(self, values, good, threshold) -> np.ndarray:
        """jwst's test on the whole plane."""
        numerator, norm = self._plan(values.shape)
        pixels = np.arange(values.size)
        passing = self._exact_at(good, numerator.at(values, pixels), pixels, threshold, norm)
        return passing.reshape(values.shape)

    def _candidates(self, padded, bad, block_sq, threshold, min_area, numerator):
        """Flat indices of pixels in regions that could be emission of ``min_area``, and ring counts.

        With ``S`` the direct float32 sum of ``values`` (all >= 0) over the ring
        and ``c`` the number of valid ring pixels (out-of-image ones count, as
        in jwst), jwst's smoothed value is ``(w S + e) / (w c + e')``.  The
        numerator's FFT error ``e`` is bounded per overlap-add block
        (:meth:`OverlapAddConvolution.error_bounds`), the direct sum's by
        ``(nnz - 1) u S``; ``e'`` is negligible.  So a pixel can pass only if
        ``S + slack > threshold * c``: every region of true emission lies
        inside a region of these pixels, and only those with a filled area of
        ``min_area`` can hold a passing one.  The indices are None when the
        bound is hopeless (huge outliers); ``c`` is a float32 plane.
        """
        nnz = self.nnz
        block_err, row_block, col_block = numerator.error_bounds(block_sq, padded.dtype, nnz)
        compare_err = 4 * U32 * (abs(threshold) + 1) * nnz  # float32 products and comparison
        sums_shape = (self.run_lengths.size, self.kernel.shape[0], padded.shape[1])
        work = (
            np.empty(sums_shape, np.float32),
            np.empty(sums_shape, np.uint8),  # counts up to nnz < 255
            np.empty(col_block.size, np.float32),
            np.empty(col_block.size, np.uint8),
            np.empty(col_block.size, np.float32),
        )
        possible, count = _possible(
            padded,
            bad,
            self.runs,
            self.run_lengths,
            np.array([nnz, threshold, 1 + 1.01 * nnz * U32, compare_err + 1e-6], dtype=np.float32),
            block_err,
            row_block,
            col_block,
            work,
        )
        if np.count_nonzero(possible) > possible.size // 20:
            return None, count
        table = find_regions(possible)
        keep = np.zeros(table.n + 1, dtype=bool)
        keep[filled_area_passes(table, min_area)] = True
        return table.pixels[keep[table.pixel_labels]], count


@kernel(numpy_division=True)
def _clean(values, margin, step_r, step_c, nsteps_r, nsteps_c):
    """Zero the non-finite values in place; return padded copies, block sums of squares, any negative.

    The copies have ``margin`` extra pixels on every side: ``padded`` holds
    the values (0 outside), ``bad`` (uint8) 1 on non-finite in-image pixels
    (0 elsewhere, so pixels outside the image count as valid, as in jwst).
    Sums of squares (float64) are per overlap-add block of the input.
    """
    nrows, ncols = values.shape
    padded = np.zeros((nrows + 2 * margin, ncols + 2 * margin), dtype=np.float32)
    bad = np.zeros((nrows + 2 * margin, ncols + 2 * margin), dtype=np.uint8)
    block_sq = np.zeros((nsteps_r, nsteps_c))
    squares = np.zeros(ncols)
    zero = np.float32(0)
    negative = False
    for r in range(nrows):
        row, out, flags = values[r], padded[r + margin, margin:], bad[r + margin, margin:]
        for c in range(ncols):
            finite = np.isfinite(row[c])
            out[c] = row[c] if finite else zero
            flags[c] = not finite
            row[c] = out[c]
            negative |= out[c] < zero
            squares[c] += np.float64(out[c]) * np.float64(out[c])
        if r == nrows - 1 or (r + 1) % step_r == 0:  # end of a block row: reduce per block
            br = min(r // step_r, nsteps_r - 1)
            for c in range(ncols):
                block_sq[br, min(c // step_c, nsteps_c - 1)] += squares[c]
            squares[:] = 0
    return padded, bad, block_sq, negative


@kernel(numpy_division=True)
def _box_row(plane, y, lengths, slot, sums):
    """``sums[k, slot, x] = plane[y, x : x + lengths[k]].sum()`` in ``sums``' dtype; ``lengths`` ascend."""
    width = plane.shape[1]
    done = 0
    for k in range(lengths.size):
        out = sums[k, slot]
        if k == 0:
            out[:] = 0
        else:
            out[:] = sums[k - 1, slot]
        for shift in range(done, lengths[k]):
            source = plane[y, shift:]
            for x in range(width - shift):  # contiguous slices from 0: vectorised
                out[x] += source[x]
        done = lengths[k]


@kernel(numpy_division=True)
def _possible(padded, bad, runs, lengths, limits, block_err, row_block, col_block, work):
    """Pixels where ``S * scale + block error + constant > threshold * count`` (all float32), and counts.

    ``limits`` holds (nnz, threshold, scale, constant) as float32.
    ``S`` is the sum of the values and ``count`` the number of valid ring
    pixels (in-image and finite, or outside the image) over the footprint,
    given as horizontal ``runs`` ((k, 3): row offset, first column offset,
    index into ``lengths``) within the margin of the padded planes from
    :func:`_clean`; only finite pixels with a non-empty ring can pass.
    ``work`` holds scratch buffers: (nlengths, 2 * margin + 1, padded width)
    rolling row-box sums of the values (float32) and of ``bad`` (uint8), and
    rows of value sums, missing counts and error bounds (float32, uint8,
    float32); being arguments lets the compiler vectorise the loops over them.
    """
    value_sums, bad_sums, total, missing, errors = work
    nnz, threshold, scale, constant = limits[0], limits[1], limits[2], limits[3]
    margin = (padded.shape[0] - row_block.size) // 2
    height = 2 * margin + 1
    nrows, ncols = row_block.size, col_block.size
    possible = np.zeros((nrows, ncols), dtype=np.bool_)
    count = np.empty((nrows, ncols), dtype=np.float32)
    for y in range(height - 1):
        _box_row(padded, y, lengths, y % height, value_sums)
        _box_row(bad, y, lengths, y % height, bad_sums)
    for r in range(nrows):
        y = r + height - 1
        _box_row(padded, y, lengths, y % height, value_sums)
        _box_row(bad, y, lengths, y % height, bad_sums)
        total[:] = 0
        missing[:] = 0
        for k in range(runs.shape[0]):
            slot, x, which = (r + margin + runs[k, 0]) % height, margin + runs[k, 1], runs[k, 2]
            source, flags = value_sums[which, slot, x:], bad_sums[which, slot, x:]
            for c in range(ncols):
                total[c] += source[c]
                missing[c] += flags[c]
        if r == 0 or row_block[r] != row_block[r - 1]:
            for c in range(ncols):
                errors[c] = block_err[row_block[r], col_block[c]] + constant
        own, counts, passing = bad[r + margin, margin:], count[r], possible[r]
        for c in range(ncols):
            n = nnz - missing[c]
            counts[c] = n
            passing[c] = (own[c] == 0) & (n > 0) & (total[c] * scale + errors[c] > threshold * n)
    return possible, count


def _horizontal_runs(footprint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of a centred footprint: ((k, 3) row offset, first column offset, length index), lengths."""
    n = footprint.shape[0] // 2
    runs = []
    for row in range(footprint.shape[0]):
        cols = np.flatnonzero(footprint[row])
        for run in np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1):
            if run.size:
                runs.append((row - n, int(run[0]) - n, run.size))
    lengths = np.array(sorted({length for *_, length in runs}), dtype=np.intp)
    table = np.array([(dr, dc, np.searchsorted(lengths, length)) for dr, dc, length in runs], dtype=np.intp)
    return table.reshape(-1, 3), lengths
