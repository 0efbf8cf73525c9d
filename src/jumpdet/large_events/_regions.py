"""Connected regions of binary planes, labelled and measured as skimage would.

jwst labels a binary plane with ``skimage.measure.label`` (8-connected),
builds ``regionprops`` and keeps regions whose hole-filled area reaches a
threshold.  :func:`find_regions` gives the same regions, numbered the same
way (by first pixel in raster order), with their areas, bounding boxes and
coordinate sums, in compiled passes over the set pixels only: no label image
is built unless asked for, and a region's image is cut from its own pixels
(:meth:`RegionTable.crop`).  The hole-filled area is computed only for
regions whose bounding box could make the difference
(:func:`filled_area_passes`).
"""

from __future__ import annotations

import numpy as np

from ..compilation import kernel

__all__ = ["RegionTable", "filled_area_passes", "find_regions", "flagged_pixels", "regions_of_pixels"]


class RegionTable:
    """The 8-connected regions of a set of pixels, and per-region statistics.

    Per-region arrays are indexed by label (1..n; index 0 unused).
    ``pixels`` holds the flat indices of all set pixels (ascending) and
    ``pixel_labels`` their labels.  Bounding boxes (``row0``, ``row1``,
    ``col0``, ``col1``) are inclusive.  ``sum_row``/``sum_col`` are exact
    (sums of integers); ``var_row``, ``var_col`` and ``cov`` (central second
    moments per pixel) are accurate to rounding and serve as pre-filters.
    """

    def __init__(self, shape, pixels, pixel_labels, n, stats):
        self.shape, self.pixels, self.pixel_labels, self.n = tuple(shape), pixels, pixel_labels, n
        (
            self.area,
            self.row0,
            self.row1,
            self.col0,
            self.col1,
            self.sum_row,
            self.sum_col,
            self.var_row,
            self.var_col,
            self.cov,
        ) = stats
        self._by_label = None

    @property
    def centroid_x(self) -> np.ndarray:
        """Exact column centroids, equal to skimage's ``centroid[1]``."""
        return self.sum_col / np.maximum(self.area, 1)

    @property
    def centroid_y(self) -> np.ndarray:
        """Exact row centroids, equal to skimage's ``centroid[0]``."""
        return self.sum_row / np.maximum(self.area, 1)

    @property
    def labels(self) -> np.ndarray:
        """The (nrows, ncols) int32 label image, as ``skimage.measure.label`` returns it."""
        labels = np.zeros(self.shape, dtype=np.int32)
        labels.ravel()[self.pixels] = self.pixel_labels
        return labels

    def crop(self, label: int) -> np.ndarray:
        """The region's boolean image over its bounding box, as ``regionprops`` builds it."""
        if self._by_label is None:  # pixels grouped by label, in raster order within each
            order = np.argsort(self.pixel_labels, kind="stable")
            self._by_label = (self.pixels[order], np.concatenate(([0], np.cumsum(self.area[1:]))))
        pixels, starts = self._by_label
        rows, cols = np.divmod(pixels[starts[label - 1] : starts[label]], self.shape[1])
        row0, col0 = self.row0[label], self.col0[label]
        image = np.zeros((self.row1[label] - row0 + 1, self.col1[label] - col0 + 1), dtype=bool)
        image[rows - row0, cols - col0] = True
        return image


def find_regions(mask: np.ndarray) -> RegionTable:
    """Label the 8-connected regions of a 2-D boolean mask and tabulate them.

    Equivalent to ``skimage.measure.label(mask, connectivity=2)`` plus the
    region statistics of :class:`RegionTable`.

    >>> table = find_regions(np.array([[1, 1, 0, 0], [0, 0, 0, 1], [1, 0, 1, 0]], bool))
    >>> table.labels
    array([[1, 1, 0, 0],
           [0, 0, 0, 2],
           [3, 0, 2, 0]], dtype=int32)
    >>> table.area[1:], table.centroid_x[1:]
    (array([2, 2, 1]), array([0.5, 2.5, 0. ]))
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    return regions_of_pixels(np.flatnonzero(mask), mask.shape)


def regions_of_pixels(pixels: np.ndarray, shape) -> RegionTable:
    """:func:`find_regions` of the mask whose set pixels are ``pixels`` (ascending flat indices)."""
    labels, n = _sparse_labels(pixels, shape[0], shape[1])
    return RegionTable(shape, pixels, labels, n, _tabulate(pixels, labels, n, shape[1]))


def flagged_pixels(plane: np.ndarray, bit: int, before: np.ndarray | None = None) -> np.ndarray:
    """Ascending flat indices where ``plane`` has ``bit`` set (and ``before``, if given, has not).

    Equivalent to ``np.flatnonzero((plane & bit) != 0 & (before & bit) == 0)``
    for two uint8 DQ planes of one shape, without the full-size temporaries.
    """
    if before is None:
        return _flagged(plane.ravel(), np.uint8(bit), plane.ravel(), np.uint8(0))
    if before.shape != plane.shape:
        raise ValueError(f"before shape {before.shape} != plane shape {plane.shape}")
    return _flagged(plane.ravel(), np.uint8(bit), before.ravel(), np.uint8(bit))


@kernel
def _flagged(flat, bit, previous, previous_bit):
    count = 0
    for k in range(flat.size):
        count += ((flat[k] & bit) != 0) & ((previous[k] & previous_bit) == 0)
    out = np.empty(count, dtype=np.intp)
    count = 0
    for k in range(flat.size):
        if ((flat[k] & bit) != 0) & ((previous[k] & previous_bit) == 0):
            out[count] = k
            count += 1
    return out


@kernel
def _find(parent, k):
    root = k
    while parent[root] != root:
        root = parent[root]
    while parent[k] != root:  # path compression
        parent[k], k = root, parent[k]
    return root


@kernel
def _union(parent, a, b):
    ra, rb = _find(parent, a), _find(parent, b)
    if ra < rb:  # the root is always the first pixel in raster order
        parent[rb] = ra
    elif rb < ra:
        parent[ra] = rb


@kernel
def _sparse_labels(idx, nrows, ncols):
    """Labels (1..n, numbered by first pixel) of the set pixels ``idx`` (ascending flat indices)."""
    n = idx.size
    parent = np.arange(n, dtype=np.int32)
    up = 0  # first set pixel that could be an upper neighbour of pixel k
    for k in range(n):
        r, c = idx[k] // ncols, idx[k] % ncols
        if k > 0 and idx[k - 1] == idx[k] - 1 and c > 0:
            _union(parent, k, k - 1)
        if r == 0:
            continue
        first = (r - 1) * ncols + max(c - 1, 0)
        last = (r - 1) * ncols + min(c + 1, ncols - 1)
        while up < k and idx[up] < first:
            up += 1
        j = up
        while j < k and idx[j] <= last:
            _union(parent, k, j)
            j += 1
    labels = np.empty(n, dtype=np.int32)
    count = 0
    for k in range(n):
        root = _find(parent, k)
        if root == k:
            count += 1
            labels[k] = count
        else:
            labels[k] = labels[root]
    return labels, count


@kernel
def _tabulate(idx, lab, n, ncols):
    """Area, inclusive bounding box, exact coordinate sums and central second moments of every label."""
    area = np.zeros(n + 1, np.int64)
    row0 = np.full(n + 1, np.iinfo(np.int64).max)
    col0 = np.full(n + 1, np.iinfo(np.int64).max)
    row1 = np.full(n + 1, -1)
    col1 = np.full(n + 1, -1)
    sum_row = np.zeros(n + 1)
    sum_col = np.zeros(n + 1)
    for k in range(idx.size):
        label = lab[k]
        r, c = idx[k] // ncols, idx[k] % ncols
        area[label] += 1
        row0[label] = min(row0[label], r)
        row1[label] = max(row1[label], r)
        col0[label] = min(col0[label], c)
        col1[label] = max(col1[label], c)
        sum_row[label] += r
        sum_col[label] += c
    var_row = np.zeros(n + 1)
    var_col = np.zeros(n + 1)
    cov = np.zeros(n + 1)
    for k in range(idx.size):
        label = lab[k]
        dr = idx[k] // ncols - sum_row[label] / area[label]
        dc = idx[k] % ncols - sum_col[label] / area[label]
        var_row[label] += dr * dr
        var_col[label] += dc * dc
        cov[label] += dr * dc
    for label in range(1, n + 1):
        var_row[label] /= area[label]
        var_col[label] /= area[label]
        cov[label] /= area[label]
    row0[0] = row1[0] = col0[0] = col1[0] = 0
    return area, row0, row1, col0, col1, sum_row, sum_col, var_row, var_col, cov


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
    for label in labels[maybe].tolist():
        passes[label - 1] = float(_filled_area(table.crop(label))) >= threshold
    return labels[passes]


@kernel
def _filled_area(region):
    """Pixels of a 2-D boolean image after filling its holes.

    As ``scipy.ndimage.binary_fill_holes(region, np.ones((3, 3)))``: the
    background grows from the border through 8-connected neighbours, and
    every background pixel it cannot reach is a hole.
    """
    nrows, ncols = region.shape
    outside = np.zeros((nrows, ncols), dtype=np.bool_)
    stack = np.empty(nrows * ncols, dtype=np.intp)
    top = 0
    for r in range(nrows):
        for c in range(ncols):
            if (r == 0 or c == 0 or r == nrows - 1 or c == ncols - 1) and not region[r, c]:
                outside[r, c] = True
                stack[top] = r * ncols + c
                top += 1
    reached = top
    while top > 0:
        top -= 1
        r, c = stack[top] // ncols, stack[top] % ncols
        for rr in range(max(r - 1, 0), min(r + 2, nrows)):
            for cc in range(max(c - 1, 0), min(c + 2, ncols)):
                if not region[rr, cc] and not outside[rr, cc]:
                    outside[rr, cc] = True
                    stack[top] = rr * ncols + cc
                    top += 1
                    reached += 1
    return nrows * ncols - reached
