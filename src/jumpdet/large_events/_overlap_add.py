"""``scipy.signal.oaconvolve`` evaluated at chosen pixels, bit for bit.

jwst's shower search convolves whole planes with ``oaconvolve`` (overlap-add:
the input is cut into blocks, each block is transformed, multiplied by the
kernel's transform and transformed back, and the overlapping tails are
added).  Each output pixel depends only on the (at most four) blocks it
overlaps, so :class:`OverlapAddConvolution` transforms only the blocks the
requested pixels draw on, with scipy 1.17's block layout, the same
``scipy.fft`` calls on arrays of the same layout, and the overlap additions
in the same order (rows first, then columns): every value has the very bits
``oaconvolve`` gives it (``tests/test_showers.py`` checks this against
scipy).  It also bounds the FFT's rounding error per block, for callers that
need to know how far a direct sum can be from it.

``scipy.signal`` itself is never imported (that costs half a second).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

__all__ = ["U32", "U64", "OverlapAddConvolution"]

# Relative accuracy of one forward FFT per log2 of its length (Higham 2002, eq. 24.2:
# eta = mu + gamma_4 (sqrt 2 + mu) with twiddle error mu ~ u), doubled for safety.
_FFT_ETA_PER_LOG2 = 2 * 6.7
# unit roundoffs of float32 and float64 (half their machine epsilon)
U32, U64 = 2.0**-24, 2.0**-53


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
        u = U32 if np.dtype(dtype) == np.float32 else U64
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
        return 4 * _FFT_ETA_PER_LOG2 * log2n * U64 * nnz * math.sqrt(block_pixels)


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
