"""Finding, measuring and drawing the elliptical regions of large events.

jwst labels a binary plane, keeps regions whose hole-filled area reaches a
threshold, describes each by the ellipse of its second moments and draws
expanded ellipses back into DQ planes.  This module does the same with the
same libraries, so the pixels match, but computes each expensive thing only
where it can matter (see each function).  Ellipses follow jwst's convention:
centre ``x`` (column) and ``y`` (row), ``axis1`` = minor axis length - 1,
``axis2`` = major axis length - 1 (full axes, pixels), ``angle`` in degrees.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import skimage.draw
import skimage.measure
from scipy import ndimage, signal, sparse
from scipy.sparse import csgraph

__all__ = [
    "Ellipses",
    "RegionTable",
    "RingSmoother",
    "draw_window",
    "expanded_axes",
    "filled_area_passes",
    "find_regions",
    "region_ellipses",
]

_FILL_STRUCTURE = np.ones((3, 3), dtype=bool)


class Ellipses(NamedTuple):
    """Moment ellipses of labelled regions, one entry per region (float64 arrays)."""

    x: np.ndarray
    y: np.ndarray
    axis1: np.ndarray
    axis2: np.ndarray
    angle: np.ndarray

    def take(self, index) -> Ellipses:
        """The ellipses at ``index`` (a boolean mask or integer array)."""
        return Ellipses(*(field[index] for field in self))


class RegionTable(NamedTuple):
    """Per-region statistics of a label image; arrays are indexed by label (0 unused).

    ``pixels`` holds the flat indices of all labelled pixels (ascending) and
    ``pixel_labels`` their labels.
    """

    labels: np.ndarray
    n: int
    pixels: np.ndarray
    pixel_labels: np.ndarray
    area: np.ndarray
    row0: np.ndarray
    row1: np.ndarray
    col0: np.ndarray
    col1: np.ndarray
    sum_row: np.ndarray
    sum_col: np.ndarray
    var_row: np.ndarray
    var_col: np.ndarray
    cov: np.ndarray

    @property
    def centroid_x(self) -> np.ndarray:
        """Exact column centroids, equal to skimage's ``centroid[1]``."""
        return self.sum_col / np.maximum(self.area, 1)

    @property
    def centroid_y(self) -> np.ndarray:
        """Exact row centroids, equal to skimage's ``centroid[0]``."""
        return self.sum_row / np.maximum(self.area, 1)


def find_regions(mask: np.ndarray) -> RegionTable:
    """Label the 8-connected regions of a 2-D boolean mask and tabulate them.

    Dense masks are labelled with ``skimage.measure.label``; sparse ones
    (most DQ planes) by joining neighbouring set pixels into a graph and
    taking its connected components (``scipy.sparse.csgraph``), which gives
    the same regions numbered the same way (by first pixel in raster order)
    without scanning the whole plane.
    """
    idx = np.flatnonzero(mask)
    if idx.size * 32 <= mask.size:
        lab, n = _sparse_labels(idx, mask.shape)
        labels = np.zeros(mask.shape, dtype=np.int32)
        labels.ravel()[idx] = lab
    else:
        labels, n = skimage.measure.label(mask, connectivity=2, return_num=True)
        lab = labels.ravel()[idx]
    return _tabulate(labels, int(n), idx, lab)


# forward neighbours of a pixel in raster order; with their mirror images, all 8
_FORWARD = ((0, 1), (1, -1), (1, 0), (1, 1))


def _sparse_labels(idx: np.ndarray, shape) -> tuple[np.ndarray, int]:
    """Labels (1..n, by first pixel) of the set pixels ``idx`` (sorted flat indices)."""
    if idx.size == 0:
        return np.zeros(0, np.int32), 0
    nrows, ncols = shape
    rows, cols = np.divmod(idx, ncols)
    sources, targets = [], []
    for dr, dc in _FORWARD:
        inside = (rows + dr < nrows) & (cols + dc >= 0) & (cols + dc < ncols)
        wanted = idx + dr * ncols + dc
        found = np.minimum(np.searchsorted(idx, wanted), idx.size - 1)
        hit = np.flatnonzero(inside & (idx[found] == wanted))
        sources.append(hit)
        targets.append(found[hit])
    src, dst = np.concatenate(sources), np.concatenate(targets)
    graph = sparse.coo_matrix((np.ones(src.size, np.int8), (src, dst)), shape=(idx.size, idx.size))
    n, component = csgraph.connected_components(graph, directed=False)
    # number components by their first pixel, as raster-scan labelling does
    first = np.full(n, idx.size, dtype=np.intp)
    np.minimum.at(first, component, np.arange(idx.size))
    rank = np.empty(n, dtype=np.int32)
    rank[np.argsort(first)] = np.arange(1, n + 1, dtype=np.int32)
    return rank[component], n


def _tabulate(labels: np.ndarray, n: int, idx: np.ndarray, lab: np.ndarray) -> RegionTable:
    """Area, bounding box (inclusive), exact centroid sums and second moments of all regions.

    Coordinate sums are sums of integers in float64, so exact; dividing by
    the area then gives the very centroid skimage computes (a mean of the
    same integers).  The central second moments are only approximate and
    serve as conservative pre-filters.
    """
    rows, cols = np.divmod(idx, labels.shape[1])
    area = np.bincount(lab, minlength=n + 1)
    row0, row1, col0, col1 = (np.zeros(n + 1, np.intp) for _ in range(4))
    if n:
        order = np.argsort(lab, kind="stable")
        starts = np.concatenate(([0], np.cumsum(area[1:])[:-1]))
        rs, cs = rows[order], cols[order]
        row0[1:], row1[1:] = np.minimum.reduceat(rs, starts), np.maximum.reduceat(rs, starts)
        col0[1:], col1[1:] = np.minimum.reduceat(cs, starts), np.maximum.reduceat(cs, starts)
    dr = (rows - row0[lab]).astype(np.float64)
    dc = (cols - col0[lab]).astype(np.float64)
    safe = np.maximum(area, 1)
    mean_r = np.bincount(lab, dr, n + 1) / safe
    mean_c = np.bincount(lab, dc, n + 1) / safe
    sums = np.bincount(lab, rows.astype(np.float64), n + 1), np.bincount(lab, cols.astype(np.float64), n + 1)
    var_row = np.bincount(lab, dr * dr, n + 1) / safe - mean_r**2
    var_col = np.bincount(lab, dc * dc, n + 1) / safe - mean_c**2
    cov = np.bincount(lab, dr * dc, n + 1) / safe - mean_r * mean_c
    return RegionTable(labels, n, idx, lab, area, row0, row1, col0, col1, *sums, var_row, var_col, cov)


def _crop(table: RegionTable, label: int) -> np.ndarray:
    """The region's boolean image over its bounding box, as ``regionprops`` builds it."""
    box = table.labels[table.row0[label] : table.row1[label] + 1, table.col0[label] : table.col1[label] + 1]
    return box == label


def filled_area_passes(table: RegionTable, threshold: float) -> np.ndarray:
    """Labels (ascending) whose hole-filled area is at least ``threshold``.

    Equivalent to keeping ``regionprops`` regions with ``area_filled >= threshold``.
    """
    labels = np.arange(1, table.n + 1)
    area = table.area[1:]
    height = table.row1[1:] - table.row0[1:] + 1
    width = table.col1[1:] - table.col0[1:] + 1
    passes = area >= threshold
    # a hole needs a bounding box with an interior, and filling cannot exceed the box
    maybe = ~passes & (height >= 3) & (width >= 3) & (height * width >= threshold)
    for label in labels[maybe]:
        filled = ndimage.binary_fill_holes(_crop(table, label), _FILL_STRUCTURE)
        passes[label - 1] = float(np.count_nonzero(filled)) >= threshold
    return labels[passes]


def region_ellipses(table: RegionTable, which: np.ndarray) -> Ellipses:
    """Exact moment ellipses of the regions labelled ``which`` (jwst's convention).

    Calls skimage's own moment functions on each region's crop, in the order
    ``regionprops`` does (central moments of order 3 about the local
    centroid, inertia tensor, its eigenvalues), so every bit matches
    ``axis_minor_length``, ``axis_major_length`` and ``orientation``.  The
    raw moments regionprops would compute first are sums of integers, hence
    exact; they come from the region table instead.
    """
    which = np.asarray(which, dtype=np.intp)
    axis1, axis2, angle = (np.empty(which.size) for _ in range(3))
    for k, label in enumerate(which):
        axis1[k], axis2[k], angle[k] = _moment_ellipse(table, label)
    return Ellipses(table.centroid_x[which], table.centroid_y[which], axis1, axis2, angle)


def _moment_ellipse(table: RegionTable, label: int) -> tuple[float, float, float]:
    """(minor - 1, major - 1, orientation in degrees) of one region, as skimage computes them."""
    image = _crop(table, label)
    if image.size <= _CACHED_CROP_SIZE:  # small regions recur: remember their ellipses
        return _cached_crop_ellipse(image.shape, image.tobytes())
    return _crop_ellipse(image)


_CACHED_CROP_SIZE = 1024


@functools.lru_cache(maxsize=4096)
def _cached_crop_ellipse(shape: tuple[int, int], pixels: bytes) -> tuple[float, float, float]:
    return _crop_ellipse(np.frombuffer(pixels, dtype=bool).reshape(shape))


def _crop_ellipse(crop: np.ndarray) -> tuple[float, float, float]:
    """The moment ellipse of one region's boolean image, with skimage's arithmetic."""
    image = crop.astype(np.uint8)
    rows, cols = np.nonzero(image)
    # the local centroid as regionprops takes it from the raw moments: exact integer sums / area
    centre = np.array([rows.sum() / rows.size, cols.sum() / cols.size])
    mu = skimage.measure.moments_central(image, centre, order=3)
    tensor = skimage.measure.inertia_tensor(image, mu)
    major, minor = skimage.measure.inertia_tensor_eigvals(image, T=tensor)
    a, b, _, c = tensor.flat
    if a - c == 0:
        orientation = math.pi / 4.0 if b < 0 else -math.pi / 4.0
    else:
        orientation = 0.5 * math.atan2(-2 * b, c - a)
    return 4 * math.sqrt(minor) - 1, 4 * math.sqrt(major) - 1, float(np.degrees(orientation))


def draw_window(x, y, axis1, axis2, angle, shape) -> tuple[slice, slice, np.ndarray]:
    """Pixels of one ellipse, drawn in a small window of a plane of ``shape``.

    The window and the call to ``skimage.draw.ellipse`` are those of jwst's
    ``ellipse_subim``: the centre is rounded to whole pixels, the semi-axes are
    ``round(axis / 2)``, and the window extends two pixels beyond the larger
    one, clipped to the plane.  Nothing is drawn when a semi-axis rounds to 0.

    Returns
    -------
    rows, cols : slice
        Where the window sits in the plane.
    mask : 2-D bool ndarray
        The ellipse within the window.
    """
    col_c, row_c = round(x), round(y)
    semi1, semi2 = round(axis1 / 2), round(axis2 / 2)
    half = max(semi1, semi2) + 2
    r0, r1 = max(row_c - half, 0), min(row_c + half + 1, shape[0])
    c0, c1 = max(col_c - half, 0), min(col_c + half + 1, shape[1])
    mask = np.zeros((max(r1 - r0, 0), max(c1 - c0, 0)), dtype=bool)
    if semi1 != 0 and semi2 != 0:
        rr, cc = skimage.draw.ellipse(row_c - r0, col_c - c0, semi2, semi1, mask.shape, np.radians(angle))
        mask[rr, cc] = True
    return slice(r0, r1), slice(c0, c1), mask


def expanded_axes(axis1, axis2, expansion, max_width) -> tuple[int, int]:
    """jwst's ``compute_axes`` by ratio: both axes grow by ``(expansion - 1)`` times the minor one.

    Returns the rounded semi-axes of the expanded ellipse, each full axis
    first capped at ``max_width``.
    """
    if axis2 < axis1:
        full1, full2 = axis1 + (expansion - 1.0) * axis2, axis2 * expansion
    else:
        full1, full2 = axis1 * expansion, axis2 + (expansion - 1.0) * axis1
    return round(min(full1, max_width) / 2), round(min(full2, max_width) / 2)


# Relative accuracy of one forward FFT per log2 of its length (Higham 2002, eq. 24.2:
# eta = mu + gamma_4 (sqrt 2 + mu) with twiddle error mu ~ u), doubled for safety.
_FFT_ETA_PER_LOG2 = 2 * 6.7


class RingSmoother:
    """jwst's NaN-ignoring ring smoothing and threshold, doing the FFTs only where they matter.

    jwst's ``convolve_fast`` zeroes non-finite pixels, convolves with
    ``scipy.signal.oaconvolve`` (single-precision FFT for float32 input),
    divides by the convolved mask of finite pixels (padded with ones) and
    keeps pixels whose own value and normalisation are valid.  When every
    kernel weight is equal, this first sums the ring directly (a few shifted
    float32 additions) and bounds the FFT's rounding error: if no region of
    the pixels that *could* exceed the threshold is large enough, the plane
    holds no shower and no FFT is done; otherwise the same numerator FFT as
    jwst's is evaluated in those regions, divided by the exact count of valid
    ring pixels, and only a value within rounding of the threshold falls back
    to jwst's two calls.
    """

    def __init__(self, kernel: np.ndarray):
        self.kernel = kernel
        weights = np.unique(kernel[kernel != 0])
        self.cutoff = 1e-3 * np.mean(kernel)
        # the shortcut needs one weight, and a cut-off that only an empty ring fails
        simple = weights.size == 1 and 0 < self.cutoff < 0.5 * weights[0] and np.count_nonzero(kernel) < 255
        self.weight = float(weights[0]) if simple else None
        self.runs = _column_runs(kernel[::-1, ::-1] != 0)  # convolution = correlation, flipped

    def emission(self, ratio: np.ndarray, threshold: float, min_area: float) -> np.ndarray | None:
        """Pixels whose smoothed ``ratio`` exceeds ``threshold``, as jwst's ``convolve_fast`` finds them.

        Exact in every region whose hole-filled area could reach ``min_area``;
        pixels of smaller regions may be left out.  None when no region can
        reach ``min_area``.  ``ratio`` (float32; non-finite = ignore) is
        overwritten with zeros where not finite.
        """
        good = np.isfinite(ratio)
        ratio[~good] = 0
        if self.weight is None:
            return self._exact(ratio, good, threshold)
        nnz = int(np.count_nonzero(self.kernel))
        count = np.float32(nnz) - self._ring_sum((~good).view(np.uint8), np.uint8(0))
        candidates = self._candidates(ratio, good, count, threshold, min_area)
        if candidates is None:
            return self._exact(ratio, good, threshold)
        if not candidates.size:
            return None
        conv = signal.oaconvolve(ratio, self.kernel, mode="same").ravel()[candidates]
        # jwst's normalisation is the FFT of the valid mask: above its cut-off exactly where
        # a ring pixel is valid, and within ~1e-9 (relative) of weight * count (per-pixel
        # FFT error <= 4 eta log2(n) u ||kernel||_2 ||mask||_2).  Only a value this close to
        # the threshold could compare differently; then do exactly what jwst does.
        count = count.ravel()[candidates].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            smoothed = conv / (self.weight * count)
        valid = good.ravel()[candidates] & (count > 0)
        pad_size = (ratio.shape[0] + self.kernel.shape[0]) * (ratio.shape[1] + self.kernel.shape[1])
        rel = 4 * _FFT_ETA_PER_LOG2 * self._log2_fft_size(ratio.shape) * 2.0**-53 * math.sqrt(nnz * pad_size)
        if np.any(valid & (np.abs(smoothed - threshold) <= 100 * (rel + 2.0**-50) * (abs(threshold) + 1))):
            return self._exact(ratio, good, threshold)
        emission = np.zeros(ratio.shape, dtype=bool)
        emission.ravel()[candidates[valid & (smoothed > threshold)]] = True
        return emission

    def _exact(self, values, good, threshold) -> np.ndarray:
        """jwst's ``convolve_fast`` thresholded: the same two ``oaconvolve`` calls."""
        conv = signal.oaconvolve(values, self.kernel, mode="same")
        n = self.kernel.shape[0] // 2
        padded = np.ones((values.shape[0] + 2 * n, values.shape[1] + 2 * n))
        padded[n:-n, n:-n] = good
        norm = signal.oaconvolve(padded, self.kernel, mode="valid")
        with np.errstate(divide="ignore", invalid="ignore"):
            return good & (norm > self.cutoff) & (conv / norm > threshold)

    def _log2_fft_size(self, shape) -> float:
        return float(np.log2((shape[0] + self.kernel.shape[0]) * (shape[1] + self.kernel.shape[1])))

    def _candidates(self, values, good, count, threshold, min_area) -> np.ndarray | None:
        """Flat indices of pixels in regions that could be emission of ``min_area`` (None: unknown).

        With ``S`` the direct float32 sum of ``values`` over the ring and ``c``
        the number of valid ring pixels (out-of-image ones count, as in jwst),
        jwst's smoothed value is ``(w S + e) / (w c + e')``.  Per pixel, the FFT
        rounding ``e`` is at most ``4 eta log2(n) u ||kernel||_2 ||values||_2``
        (a pixel gets at most four overlap-add blocks; ``u`` = 2**-24 as the
        FFT of float32 input is single precision) and ``e'`` is negligible.
        So a pixel can pass only if ``S + slack > threshold * c``; every region
        of true emission lies inside a region of these pixels, and only those
        with a filled area of ``min_area`` can hold a passing one.
        """
        nnz = int(np.count_nonzero(self.kernel))
        # 2-norm from float32 squares summed in float64 (pairwise), inflated for their rounding
        norm2 = 1.01 * math.sqrt(np.sum(np.square(values), dtype=np.float64))
        fft_err = (
            4 * _FFT_ETA_PER_LOG2 * self._log2_fft_size(values.shape) * 2.0**-24 * math.sqrt(nnz) * norm2
        )
        sum_err = nnz**1.5 * 2.0**-24 * norm2  # the direct float32 sum's own rounding
        compare_err = 4 * 2.0**-24 * (abs(threshold) + 1) * nnz  # float32 product and comparison
        slack = np.float32(fft_err + sum_err + compare_err + 1e-6)
        possible = self._ring_sum(values, np.float32(0))
        possible += slack
        possible = possible > np.float32(threshold) * count
        possible &= good & (count > 0)
        area = np.count_nonzero(possible)
        if area > possible.size // 20:
            return None  # hopeless bound (huge outliers): not worth labelling
        table = find_regions(possible)
        keep = np.zeros(table.n + 1, dtype=bool)
        keep[filled_area_passes(table, min_area)] = True
        return table.pixels[keep[table.pixel_labels]]

    def _ring_sum(self, plane: np.ndarray, pad) -> np.ndarray:
        """Sum of ``plane`` over the kernel footprint at every pixel, in ``plane``'s dtype.

        Vertical box sums of each run length are built once over the padded
        plane; every run is then a shifted slice of one of them.
        """
        kr, kc = self.kernel.shape
        nrows, ncols = plane.shape
        padded = np.full((nrows + kr - 1, ncols + kc - 1), pad, dtype=plane.dtype)
        padded[kr // 2 : kr // 2 + nrows, kc // 2 : kc // 2 + ncols] = plane
        boxes = {1: padded}
        for length in sorted({bottom - top + 1 for _, top, bottom in self.runs}):
            shorter = max(k for k in boxes if k <= length)
            box = boxes[shorter][: padded.shape[0] - length + 1].copy()
            for shift in range(shorter, length):
                box += padded[shift : shift + box.shape[0]]
            boxes[length] = box
        out = None
        for col, top, bottom in self.runs:
            part = boxes[bottom - top + 1][top : top + nrows, col : col + ncols]
            out = part.copy() if out is None else out.__iadd__(part)
        return out


def _column_runs(footprint: np.ndarray) -> list[tuple[int, int, int]]:
    """(column, first row, last row) of every vertical run of the footprint, shortest first."""
    runs = []
    for col in range(footprint.shape[1]):
        rows = np.flatnonzero(footprint[:, col])
        for run in np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1):
            if run.size:
                runs.append((col, int(run[0]), int(run[-1])))
    return sorted(runs, key=lambda run: run[2] - run[1])
