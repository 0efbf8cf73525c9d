"""What follows the search: neighbour flags, after-jump flags and clean-up.

These act only around jumps, so they work on the list of flagged
(integration, group, row, column) positions rather than on the cube: the
ramps of the few pixels involved are gathered, their median difference and
sigma recomputed, and flags scattered back. Cost grows with the number of
jumps, not with the exposure.

A row block is processed with the block's rows of the live GROUPDQ plus one
row above and below taken from a snapshot made after the search, so that a
jump on a block's edge flags its neighbour in the next block exactly as if
the frame were processed whole, whatever the block layout or thread order.
"""

from dataclasses import dataclass

import numpy as np

from .flags import JUMP_DET
from .medians import median
from .params import JumpParams
from .twopoint import UNUSABLE, electron_differences, sigma_from_median

__all__ = ["FrameInputs", "RowBlock", "postprocess_rows"]

# (row, column) steps to a pixel and its four edge neighbours
_FOUR_NEIGHBOURS = np.array([(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)])


@dataclass(frozen=True)
class FrameInputs:
    """Read-only arrays of the whole exposure, shared by every row block.

    Attributes
    ----------
    data : (nints, ngroups, nrows, ncols) ndarray, DN
    gdq : (nints, ngroups, nrows, ncols) uint8 ndarray, live (being updated)
    gain : (nrows, ncols) float32 ndarray, e/DN
    read_variance : (nrows, ncols) float64 ndarray, electrons**2
    """

    data: np.ndarray
    gdq: np.ndarray
    gain: np.ndarray
    read_variance: np.ndarray


@dataclass(frozen=True)
class RowBlock:
    """Rows ``start:stop`` plus snapshots of the rows just outside them.

    ``above``/``below`` are (nints, ngroups, ncols) copies of GROUPDQ rows
    ``start - 1`` and ``stop`` taken after the search, or None at the frame edge.
    """

    start: int
    stop: int
    above: np.ndarray | None
    below: np.ndarray | None


def postprocess_rows(frame: FrameInputs, block: RowBlock, params: JumpParams, max_pixels: int) -> int:
    """Finish the flags of one row block in place; return its primary jump count.

    The count is taken before neighbours and after-jump groups are flagged
    and includes jump flags present on input, as jwst counts it.

    Parameters
    ----------
    frame : FrameInputs
    block : RowBlock
    params : JumpParams
    max_pixels : int
        Most pixels whose ramps are gathered at once (bounds memory).
    """
    core = frame.gdq[:, :, block.start : block.stop]
    n_primary = int(np.count_nonzero(core & JUMP_DET))
    if params.flag_4_neighbors:
        _flag_neighbours(frame, block, params, max_pixels)
    if params.after_jump_flag_groups1 > 0 or params.after_jump_flag_groups2 > 0:
        _flag_after_jumps(frame, block, params, max_pixels)
    remove_jump_from_unusable_inplace(core)
    return n_primary


def remove_jump_from_unusable_inplace(gdq: np.ndarray) -> None:
    """Clear JUMP_DET where SATURATED or DO_NOT_USE is also set (jwst's final clean-up)."""
    redundant = ((gdq & JUMP_DET) != 0) & ((gdq & UNUSABLE) != 0)
    gdq[redundant] &= np.uint8(~JUMP_DET & 0xFF)


def _jump_positions(rows: np.ndarray, row_offset: int) -> tuple[np.ndarray, ...]:
    """(int, group, row, col) of JUMP_DET flags in groups >= 1 of some GROUPDQ rows."""
    i, g, y, x = np.nonzero(rows[:, 1:] & JUMP_DET)
    return i, g + 1, y + row_offset, x


def _block_jump_positions(frame: FrameInputs, block: RowBlock) -> tuple[np.ndarray, ...]:
    """Jump positions in the block and in its halo rows (from the snapshots)."""
    parts = [_jump_positions(frame.gdq[:, :, block.start : block.stop], block.start)]
    if block.above is not None:
        parts.append(_jump_positions(block.above[:, :, None], block.start - 1))
    if block.below is not None:
        parts.append(_jump_positions(block.below[:, :, None], block.stop))
    return tuple(np.concatenate(axis_parts) for axis_parts in zip(*parts, strict=True))


def _pixel_statistics(frame: FrameInputs, rows: np.ndarray, cols: np.ndarray):
    """Differences, median difference and sigma of the ramps of some pixels.

    Returns
    -------
    diffs : (nints, ndiffs, npix) float32, median_diff : (npix,) float64, sigma : (npix,) float64
    """
    data = frame.data[:, :, rows, cols]
    gdq = frame.gdq[:, :, rows, cols]
    diffs = electron_differences(data, gdq, frame.gain[rows, cols])
    median_diff = median(diffs.reshape(-1, diffs.shape[-1]))
    return diffs, median_diff, sigma_from_median(median_diff, frame.read_variance[rows, cols])


def _per_position(frame: FrameInputs, positions, max_pixels: int, measure) -> np.ndarray:
    """Evaluate ``measure(diff, median, sigma)`` (float64) at each jump position, a pixel chunk at a time."""
    i, g, y, x = positions
    pixels, pixel_of_position = np.unique(np.stack([y, x]), axis=1, return_inverse=True)
    result = np.empty(i.size, dtype=np.float64)
    for first in range(0, pixels.shape[1], max_pixels):
        chunk = slice(first, first + max_pixels)
        diffs, median_diff, sigma = _pixel_statistics(frame, pixels[0, chunk], pixels[1, chunk])
        in_chunk = (pixel_of_position >= first) & (pixel_of_position < first + max_pixels)
        p = pixel_of_position[in_chunk] - first
        with np.errstate(invalid="ignore"):
            result[in_chunk] = measure(diffs[i[in_chunk], g[in_chunk] - 1, p], median_diff[p], sigma[p])
    return result


def _flag_neighbours(frame: FrameInputs, block: RowBlock, params: JumpParams, max_pixels: int) -> None:
    """Flag the four neighbours of jumps of moderate significance (not onto unusable groups)."""
    positions = _block_jump_positions(frame, block)
    if positions[0].size == 0:
        return

    ratio = _per_position(frame, positions, max_pixels, lambda d, m, s: np.abs(d - m) / s)
    sources = (ratio < params.max_jump_to_flag_neighbors) & (ratio > params.min_jump_to_flag_neighbors)
    i, g, y, x = (axis[sources] for axis in positions)
    nrows, ncols = frame.gdq.shape[2:]
    for dy, dx in _FOUR_NEIGHBOURS:
        ty, tx = y + dy, x + dx
        inside = (ty >= block.start) & (ty < block.stop) & (tx >= 0) & (tx < ncols)
        _set_jump_where_usable(frame.gdq, i[inside], g[inside], ty[inside], tx[inside])


def _set_jump_where_usable(gdq, i, g, y, x) -> None:
    usable = (gdq[i, g, y, x] & UNUSABLE) == 0
    gdq[i[usable], g[usable], y[usable], x[usable]] |= JUMP_DET


def _flag_after_jumps(frame: FrameInputs, block: RowBlock, params: JumpParams, max_pixels: int) -> None:
    """Flag groups after large jumps: ``groups1`` after those >= ``e1``, ``groups2`` after >= ``e2``."""
    positions = _jump_positions(frame.gdq[:, :, block.start : block.stop], block.start)
    if positions[0].size == 0:
        return
    ngroups = frame.gdq.shape[1]
    i, g, y, x = positions
    amplitude = _per_position(frame, positions, max_pixels, lambda d, m, s: d - m)
    reach = np.full(i.shape, -1)
    for electrons, groups in (
        (params.after_jump_flag_e1, params.after_jump_flag_groups1),
        (params.after_jump_flag_e2, params.after_jump_flag_groups2),
    ):
        reach = np.where(amplitude >= electrons, np.maximum(reach, g + groups), reach)
    for step in range(1, ngroups):
        later = (reach >= g + step) & (g + step < ngroups)
        if not later.any():
            break
        _set_jump_where_usable(frame.gdq, i[later], g[later] + step, y[later], x[later])
