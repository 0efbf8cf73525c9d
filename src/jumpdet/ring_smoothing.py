"""jwst's NaN-ignoring ring smoothing and threshold, evaluated only where a shower could be.

jwst's ``convolve_fast`` zeroes non-finite pixels, convolves the plane with
``scipy.signal.oaconvolve(mode="same")``, divides by the convolution of the
finite-pixel mask padded with ones (``mode="valid"``) and keeps pixels whose
own value and normalisation are valid; the shower search thresholds the
result.  Two pieces reproduce that bit for bit at a fraction of the cost:

* :class:`OverlapAddConvolution` is ``oaconvolve`` for one input shape and
  kernel, evaluated at chosen pixels: it transforms only the overlap-add
  blocks those pixels draw on, with the same block layout, the same
  ``scipy.fft`` calls and the same order of the overlap additions, so every
  value has the very bits ``oaconvolve`` gives it (a test checks this);
* :class:`RingSmoother` first sums the ring directly and bounds the FFT's
  rounding error block by block, so it knows which pixels *could* pass the
  threshold; only regions of those large enough to matter get the exact
  numerator, and only values within rounding of the threshold get jwst's
  exact normalisation.

``scipy.signal`` is never imported (it costs half a second).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
from numba import njit

from .regions import filled_area_passes, find_regions

__all__ = ["OverlapAddConvolution", "RingSmoother"]

# Relative accuracy of one forward FFT per log2 of its length (Higham 2002, eq. 24.2:
# eta = mu + gamma_4 (sqrt 2 + mu) with twiddle error mu ~ u), doubled for safety.
_FFT_ETA_PER_LOG2 = 2 * 6.7
_U32, _U64 = 2.0**-24, 2.0**-53


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
        numerator, norm = self._plan(ratio.shape)
        ax_r, ax_c = numerator.axes
        margin = self.kernel.shape[0] // 2
        padded, bad, block_sq = _clean(ratio, margin, ax_r.step, ax_c.step, ax_r.nsteps, ax_c.nsteps)
        good = bad[margin : margin + ratio.shape[0], margin : margin + ratio.shape[1]] == 0
        if self.weight is None:
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
        compare_err = 4 * _U32 * (abs(threshold) + 1) * nnz  # float32 products and comparison
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
            np.array([nnz, threshold, 1 + 1.01 * nnz * _U32, compare_err + 1e-6], dtype=np.float32),
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


@njit(cache=True, nogil=True, error_model="numpy")
def _clean(values, margin, step_r, step_c, nsteps_r, nsteps_c):
    """Zero the non-finite values in place; return padded copies and float64 sums of squares per block.

    The copies have ``margin`` extra pixels on every side: ``padded`` holds
    the values (0 outside), ``bad`` (uint8) 1 on non-finite in-image pixels
    (0 elsewhere, so pixels outside the image count as valid, as in jwst).
    """
    nrows, ncols = values.shape
    padded = np.zeros((nrows + 2 * margin, ncols + 2 * margin), dtype=np.float32)
    bad = np.zeros((nrows + 2 * margin, ncols + 2 * margin), dtype=np.uint8)
    block_sq = np.zeros((nsteps_r, nsteps_c))
    squares = np.zeros(ncols)
    zero = np.float32(0)
    for r in range(nrows):
        row, out, flags = values[r], padded[r + margin, margin:], bad[r + margin, margin:]
        for c in range(ncols):
            finite = np.isfinite(row[c])
            out[c] = row[c] if finite else zero
            flags[c] = not finite
            row[c] = out[c]
            squares[c] += np.float64(out[c]) * np.float64(out[c])
        if r == nrows - 1 or (r + 1) % step_r == 0:  # end of a block row: reduce per block
            br = min(r // step_r, nsteps_r - 1)
            for c in range(ncols):
                block_sq[br, min(c // step_c, nsteps_c - 1)] += squares[c]
            squares[:] = 0
    return padded, bad, block_sq


@njit(cache=True, nogil=True, error_model="numpy")
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


@njit(cache=True, nogil=True, error_model="numpy")
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


class _Axis:
    """The overlap-add layout of one axis: block (FFT) length, overlap, step and number of steps."""

    def __init__(self, s1: int, s2: int):
        block, overlap, step = _oa_lengths(s1, s2)
        full = s1 + s2 - 1
        if overlap is not None and s1 > step:
            nsteps = math.ceil((s1 + 1) / step)
            if (block - overlap) * nsteps < full:
                nsteps += 1
        else:
            nsteps = 1
        self.block, self.overlap, self.step, self.nsteps, self.full = block, overlap, step, nsteps, full

    def locate(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Block, offset in it, and whether the previous block's tail adds in, for full-output indices."""
        if self.overlap is None:
            return np.zeros_like(index), index, np.zeros(index.shape, dtype=bool)
        block = index // self.step
        offset = index - block * self.step
        return block, offset, (offset < self.overlap) & (block > 0)


class OverlapAddConvolution:
    """``scipy.signal.oaconvolve(values, kernel, mode)`` for one input shape, at chosen pixels.

    Follows the layout of scipy 1.17's ``oaconvolve``: per axis, the block
    (FFT) length from ``_calc_oa_lens`` (or a single block if that falls
    back), the input cut into steps of ``block - overlap`` and zero padded,
    each block transformed with ``scipy.fft.rfftn`` over axes (1, 3) of a
    (blocks, rows, 1, cols) array, multiplied by the kernel's transform,
    transformed back, and overlapping tails added rows first, then columns;
    when both axes fall back, ``fftconvolve``'s single padded transform.

    Parameters
    ----------
    shape : (int, int)
        Shape of the input planes.
    kernel : 2-D float64 ndarray
        No larger than the input in either axis; both axes longer than 1.
    mode : {"same", "valid"}
    """

    def __init__(self, shape, kernel: np.ndarray, mode: str):
        if mode not in ("same", "valid"):
            raise ValueError(f"mode must be 'same' or 'valid', got {mode!r}")
        if any(k < 2 or k > s for s, k in zip(shape, kernel.shape, strict=True)):
            raise ValueError(f"kernel shape {kernel.shape} must be within input shape {shape}, axes > 1")
        self.shape = tuple(shape)
        self.axes = [_Axis(s, k) for s, k in zip(shape, kernel.shape, strict=True)]
        valid = tuple(s - k + 1 for s, k in zip(shape, kernel.shape, strict=True))
        out = self.out_shape = self.shape if mode == "same" else valid
        self.offset = [(axis.full - n) // 2 for axis, n in zip(self.axes, out, strict=True)]
        self.single = all(axis.nsteps == 1 and axis.overlap is None for axis in self.axes)
        self._own_block = [
            np.minimum((np.arange(n) + off) // axis.step, axis.nsteps - 1)
            for axis, n, off in zip(self.axes, out, self.offset, strict=True)
        ]
        if self.single:  # fftconvolve: one transform of a fast length
            self.fshape = tuple(scipy.fft.next_fast_len(axis.full, True) for axis in self.axes)
            self.kernel_ft = scipy.fft.rfftn(kernel, self.fshape, axes=(0, 1))
        else:
            self.fshape = tuple(axis.block for axis in self.axes)
            kr, kc = kernel.shape
            self.kernel_ft = scipy.fft.rfftn(kernel.reshape(1, kr, 1, kc), self.fshape, axes=(1, 3))

    def at(self, values: np.ndarray, pixels: np.ndarray) -> np.ndarray:
        """The convolution at flat indices ``pixels`` of the output, float64, bit for bit."""
        if values.shape != self.shape:
            raise ValueError(f"values shape {values.shape} != planned shape {self.shape}")
        rows, cols = np.divmod(np.asarray(pixels, dtype=np.intp), self.out_shape[1])
        rows, cols = rows + self.offset[0], cols + self.offset[1]
        if self.single:
            full = scipy.fft.irfftn(
                scipy.fft.rfftn(values, self.fshape, axes=(0, 1)) * self.kernel_ft, self.fshape, axes=(0, 1)
            )
            return full[rows, cols]
        ax_r, ax_c = self.axes
        bi, lr, add_r = ax_r.locate(rows)
        bj, lc, add_c = ax_c.locate(cols)
        # every block a pixel draws on: its own, and the previous ones whose tails overlap it
        wanted = np.zeros((ax_r.nsteps, ax_c.nsteps), dtype=bool)
        wanted[bi, bj] = True
        wanted[bi[add_r] - 1, bj[add_r]] = True
        wanted[bi[add_c], bj[add_c] - 1] = True
        both = add_r & add_c
        wanted[bi[both] - 1, bj[both] - 1] = True
        blocks = self._blocks(values, wanted)
        slot = np.cumsum(wanted.ravel()).reshape(wanted.shape) - 1
        sr, sc = ax_r.step, ax_c.step
        # the overlap-add of oaconvolve, pixel by pixel and in its order: rows, then columns
        result = blocks[slot[bi, bj], lr, lc]
        k = np.flatnonzero(add_r)
        result[k] = result[k] + blocks[slot[bi[k] - 1, bj[k]], lr[k] + sr, lc[k]]
        k = np.flatnonzero(add_c)
        tail = blocks[slot[bi[k], bj[k] - 1], lr[k], lc[k] + sc]
        kk = np.flatnonzero(add_r[k])
        tail[kk] = tail[kk] + blocks[slot[bi[k[kk]] - 1, bj[k[kk]] - 1], lr[k[kk]] + sr, lc[k[kk]] + sc]
        result[k] = result[k] + tail
        return result

    def _blocks(self, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        """The back-transformed (nwanted, block rows, block cols) products of the wanted blocks."""
        ax_r, ax_c = self.axes
        sr, sc = ax_r.step, ax_c.step
        bi, bj = np.nonzero(wanted)
        stack = np.zeros((bi.size, sr, 1, sc), dtype=values.dtype)
        for k, (i, j) in enumerate(zip(bi.tolist(), bj.tolist(), strict=True)):
            part = values[i * sr : (i + 1) * sr, j * sc : (j + 1) * sc]
            stack[k, : part.shape[0], 0, : part.shape[1]] = part
        spectrum = scipy.fft.rfftn(stack, self.fshape, axes=(1, 3))
        return scipy.fft.irfftn(spectrum * self.kernel_ft, self.fshape, axes=(1, 3))[:, :, 0, :]

    def error_bounds(self, block_sq: np.ndarray, dtype, nnz: int):
        """Bounds on the FFT error of the convolution, in units of the kernel weight, per block.

        For a kernel of ``nnz`` equal weights ``w``: each block's transform errs
        by at most ``eta log2(n) u w nnz ||block||_2`` per pixel (``u`` of the
        input's precision; the product and inverse are float64), and a pixel
        sums its own block and up to three earlier ones.

        Parameters
        ----------
        block_sq : (nsteps_rows, nsteps_cols) float64 ndarray
            Sums of squares of the input over each block's step.
        dtype : numpy dtype
            Of the input.

        Returns
        -------
        bounds : (nsteps_rows, nsteps_cols) float32 ndarray
            The bound for output pixels whose own block is (i, j), rounded up.
        row_block, col_block : intp ndarray
            Own block of each output row and column.
        """
        ax_r, ax_c = self.axes
        u = _U32 if np.dtype(dtype) == np.float32 else _U64
        log2n = math.log2(self.fshape[0] * self.fshape[1])
        bound = (1.01 * _FFT_ETA_PER_LOG2 * log2n * u * nnz) * np.sqrt(block_sq * 1.001)
        grid = np.zeros((ax_r.nsteps + 1, ax_c.nsteps + 1))
        grid[1:, 1:] = bound
        own_and_previous = grid[1:, 1:] + grid[:-1, 1:] + grid[1:, :-1] + grid[:-1, :-1]
        bounds = (own_and_previous * (1 + 2**-20)).astype(np.float32)
        return bounds, self._own_block[0], self._own_block[1]

    def relative_error_bound(self, nnz: int) -> float:
        """A bound on the relative FFT error of a float64 convolution of a 0/1 mask (ring count >= 1)."""
        ax_r, ax_c = self.axes
        log2n = math.log2(self.fshape[0] * self.fshape[1])
        block_pixels = ax_r.block * ax_c.block if not self.single else self.shape[0] * self.shape[1]
        return 4 * _FFT_ETA_PER_LOG2 * log2n * _U64 * nnz * math.sqrt(block_pixels)


def _oa_lengths(s1: int, s2: int) -> tuple[int, int | None, int]:
    """(block length, overlap or None, step of the input) of one axis, as scipy's ``_calc_oa_lens``."""
    fallback = (s1 + s2 - 1, None, s1)
    if s1 == s2 or s1 == 1 or s2 == 1 or s2 >= s1 / 2:
        return fallback
    overlap = s2 - 1
    block = scipy.fft.next_fast_len(math.ceil(_optimal_block(overlap)))
    if block >= s1:
        return fallback
    return block, overlap, block - s2 + 1


def _optimal_block(overlap: int) -> float:
    """``-K W_{-1}(-1 / (2 e K))``: the block length minimising overlap-add work for overlap ``K``.

    Newton's method on ``N = K (ln(2N) + 1)`` from above converges to the
    root on the W_{-1} branch; when the result is within reach of an
    integer (where ``ceil`` could differ from scipy's), scipy's own
    ``lambertw`` decides.
    """
    k = float(overlap)
    n = 2 * k * (math.log(2 * k) + 2) + 8  # above the root, where Newton descends monotonically
    for _ in range(100):
        f = n - k * (math.log(2 * n) + 1)
        step = f / (1 - k / n)
        n -= step
        if abs(step) < 1e-13 * n:
            break
    if abs(n - round(n)) < 1e-6:
        from scipy.special import lambertw

        return float(-k * lambertw(-1 / (2 * math.e * k), k=-1).real)
    return n
