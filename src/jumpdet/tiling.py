"""How an exposure is cut into pieces so that temporaries stay bounded.

The search (stage 1) needs every group and integration of a pixel at once,
so its unit is a tile: all of the ramp for a rectangle of pixels. Tiles are
whole rows when a row is small, parts of a row when it is not (long TSO
exposures). The post-processing (stage 2) works on blocks of whole rows.

The kernels keep one row's differences at a time, so what a tile costs is a
float32 copy of its data when they are not native float32 (FITS data are
big-endian), plus those row buffers. Sizes follow a budget proportional to
the exposure: ``TEMPORARY_FRACTION`` of the input (data + GROUPDQ) shared
among the worker threads, divided by ``BYTES_PER_ELEMENT``.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["Tile", "Tiling", "plan_tiles", "tile_data"]

TEMPORARY_FRACTION = 0.10
# temporary bytes per (integration, group, pixel) element of a tile: a float32
# copy, with room for the row buffers (two float32 values per element of a row)
BYTES_PER_ELEMENT = 8
MIN_TILE_ELEMENTS = 1 << 15
MAX_TILE_ELEMENTS = 1 << 22
MIN_BLOCK_ROWS = 8


@dataclass(frozen=True)
class Tile:
    """A rectangle of pixels: ``rows`` and ``cols`` are slices."""

    rows: slice
    cols: slice


@dataclass(frozen=True)
class Tiling:
    """Tiles for the search and row blocks for post-processing."""

    search: list[Tile]
    row_blocks: list[tuple[int, int]]


def tile_elements(shape: tuple[int, int, int, int], workers: int) -> int:
    """Elements (integration x group x pixel) per tile for this exposure."""
    nints, ngroups, nrows, ncols = shape
    input_bytes = nints * ngroups * nrows * ncols * 5  # float32 data + uint8 GROUPDQ
    budget = TEMPORARY_FRACTION * input_bytes / max(workers, 1)
    elements = int(budget // BYTES_PER_ELEMENT)
    return min(max(elements, MIN_TILE_ELEMENTS), MAX_TILE_ELEMENTS)


def plan_tiles(shape: tuple[int, int, int, int], workers: int) -> Tiling:
    """Cut an exposure of ``shape`` (nints, ngroups, nrows, ncols) into tiles and row blocks."""
    nints, ngroups, nrows, ncols = shape
    elements = tile_elements(shape, workers)
    per_pixel = nints * ngroups
    pixels_per_tile = max(1, elements // per_pixel)
    if pixels_per_tile >= ncols:
        rows_per_tile = pixels_per_tile // ncols
        search = [
            Tile(slice(r, min(r + rows_per_tile, nrows)), slice(0, ncols))
            for r in range(0, nrows, rows_per_tile)
        ]
    else:
        search = [
            Tile(slice(r, r + 1), slice(c, min(c + pixels_per_tile, ncols)))
            for r in range(0, nrows)
            for c in range(0, ncols, pixels_per_tile)
        ]
    # Post-processing converts a block's data like a tile's and keeps two
    # snapshot rows per block: blocks of at least MIN_BLOCK_ROWS rows keep
    # those snapshots a small fraction of GROUPDQ.
    block_rows = max(MIN_BLOCK_ROWS, pixels_per_tile // ncols)
    row_blocks = [(r, min(r + block_rows, nrows)) for r in range(0, nrows, block_rows)]
    return Tiling(search, row_blocks)


def tile_data(data, rows: slice, cols: slice):
    """The data a kernel reads for a tile: ``(block, origin, bounds)``.

    Native float32 data are read in place (``block`` is ``data``, ``origin``
    (0, 0)); others (FITS data are big-endian) are converted for the tile
    alone, and ``origin`` is the tile's first row and column. ``bounds`` is
    (first row, end row, first column, end column) in the frame.
    """
    nrows, ncols = data.shape[2:]
    r0, r1, _ = rows.indices(nrows)
    c0, c1, _ = cols.indices(ncols)
    if data.dtype == np.float32 and data.dtype.isnative:
        return data, (0, 0), (r0, r1, c0, c1)
    return data[:, :, r0:r1, c0:c1].astype(np.float32), (r0, c0), (r0, r1, c0, c1)
