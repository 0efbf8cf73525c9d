"""What follows the search: neighbour flags, after-jump flags and clean-up.

These act only around jumps. A block of rows is scanned for JUMP_DET flags;
only pixels that have one get their median difference and sigma computed
(once per pixel, cached for the block), and flags are set around them. Cost
grows with the number of jumps, not with the exposure, and the kernel is
compiled (numba) and releases the GIL so blocks run on threads.

A row block is processed with the block's rows of the live GROUPDQ plus one
row above and below taken from a snapshot made after the search, so that a
jump on a block's edge flags its neighbour in the next block exactly as if
the frame were processed whole, whatever the block layout or thread order.
The order is jwst's: neighbours of the search's jumps first, then groups
after every jump (neighbour flags included), then JUMP_DET is removed where
SATURATED or DO_NOT_USE is set.
"""

from collections import namedtuple
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._stats.medians import (
    median_of_sorted,
    sort_usable_columns,
    sorting_network,
    usable_median,
)
from .compilation import kernel
from .flags import JUMP_DET, UNUSABLE
from .params import JumpParams
from .twopoint import electrons, read_variance, sigma_from_median

__all__ = [
    "FrameInputs",
    "RowBlock",
    "after_jump_rules",
    "postprocess_rows",
    "remove_jump_from_unusable_inplace",
]

NOT_JUMP = np.uint8(~JUMP_DET & 0xFF)


@dataclass(frozen=True)
class FrameInputs:
    """Read-only arrays of the whole exposure, shared by every row block.

    Attributes
    ----------
    data : (nints, ngroups, nrows, ncols) ndarray, DN
    gdq : (nints, ngroups, nrows, ncols) uint8 ndarray, live (being updated)
    gain : (nrows, ncols) float32 ndarray, e/DN
    read_noise : (nrows, ncols) float32 ndarray, DN, CDS (see :func:`jumpdet.detect_jumps`)
    nframes : int
    medians : (nrows, ncols) float64 ndarray or None
        Each pixel's median difference (electrons per group) when the search
        found them (single pass).
    median_brackets : (2, nrows, ncols) float32 ndarray or None
        Else, in long ramps, a proven (lower, upper) bracket of each median
        from the search, (-inf, inf) where it has none; the exact median is
        then found here only when a decision needs it. With neither, the
        medians are computed here.
    """

    data: np.ndarray
    gdq: np.ndarray
    gain: np.ndarray
    read_noise: np.ndarray
    nframes: int
    medians: np.ndarray | None = None
    median_brackets: np.ndarray | None = None


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


def postprocess_rows(frame: FrameInputs, block: RowBlock, params: JumpParams) -> int:
    """Finish the flags of one row block in place; return its primary jump count.

    The count is taken before neighbours and after-jump groups are flagged
    and includes jump flags present on input, as jwst counts it.
    """
    nints, ngroups, nrows, ncols = frame.gdq.shape
    first, last = max(block.start - 1, 0), min(block.stop + 1, nrows)
    rows = slice(first, last)
    no_row = np.empty((nints, ngroups, 1, 0), dtype=np.uint8)
    # the whole exposure when native float32 (not a view of its rows: the kernels then
    # take one array layout, and compile once); else the block's rows, converted (FITS)
    native = frame.data.dtype == np.float32 and frame.data.dtype.isnative
    window = _Window(
        data=frame.data if native else frame.data[:, :, rows].astype(np.float32),
        data_row0=first if native else 0,
        gdq=frame.gdq[:, :, rows],
        above=no_row if block.above is None else block.above[:, :, None],
        below=no_row if block.below is None else block.below[:, :, None],
        gain=frame.gain[rows],
        read_noise=frame.read_noise[rows],
        start=block.start - first,
        stop=block.stop - first,
    )
    rules = _Rules(nframes=frame.nframes, pairs=sorting_network(nints * (ngroups - 1)))
    neighbours = (
        (params.min_jump_to_flag_neighbors, params.max_jump_to_flag_neighbors)
        if params.flag_4_neighbors
        else None
    )
    after = (
        after_jump_rules(params)
        if max(params.after_jump_flag_groups1, params.after_jump_flag_groups2) > 0
        else None
    )
    medians = None if frame.medians is None else frame.medians[rows]
    brackets = None if frame.median_brackets is None else frame.median_brackets[:, rows]
    return _finish_block(window, rules, neighbours, after, medians, brackets)


def after_jump_rules(params: JumpParams) -> np.ndarray:
    """The two after-jump rules as rows of (electrons, groups), the layout the kernels take."""
    return np.array(
        [
            (params.after_jump_flag_e1, params.after_jump_flag_groups1),
            (params.after_jump_flag_e2, params.after_jump_flag_groups2),
        ]
    )


class _Window(NamedTuple):
    """A row block's arrays, over its rows ``start:stop`` and one more on each side (within the frame).

    ``above``/``below`` replace the live halo rows when they have any
    columns. Window row ``r`` is row ``data_row0 + r`` of ``data``.
    """

    data: np.ndarray
    data_row0: int
    gdq: np.ndarray
    above: np.ndarray
    below: np.ndarray
    gain: np.ndarray
    read_noise: np.ndarray
    start: int
    stop: int


class _Rules(NamedTuple):
    """Frames per group (for the read noise) and the sorting network of one pixel's differences."""

    nframes: int
    pairs: np.ndarray


@kernel
def remove_jump_from_unusable_inplace(gdq):
    """Clear JUMP_DET where SATURATED or DO_NOT_USE is also set (jwst's final clean-up).

    ``gdq`` is a 4-D uint8 array (or a view of some rows); no temporaries.
    """
    nints, ngroups, nrows, ncols = gdq.shape
    for i in range(nints):
        for g in range(ngroups):
            for r in range(nrows):
                for c in range(ncols):
                    if gdq[i, g, r, c] & UNUSABLE:
                        gdq[i, g, r, c] &= NOT_JUMP


@kernel
def _count_jumps(gdq, start, stop):
    """JUMP_DET flags in rows ``start:stop`` of ``gdq``."""
    nints, ngroups, _, ncols = gdq.shape
    n = 0
    for i in range(nints):
        for g in range(ngroups):
            for r in range(start, stop):
                flags = gdq[i, g, r]
                in_row = 0  # a row's count, then the total: the compiler vectorises this
                for c in range(ncols):
                    in_row += (flags[c] & JUMP_DET) != 0
                n += in_row
    return n


@kernel
def _finish_block(window, rules, neighbours, after, medians, brackets):
    """Neighbours, after-jump groups and clean-up for rows ``window.start:window.stop``.

    ``neighbours`` is the (low, high) significance range of jumps that flag
    their neighbours, ``after`` the (electrons, groups) of the two after-jump
    rules; ``medians`` (nrows, ncols) and ``brackets`` (2, nrows, ncols) hold
    what the search found of the median differences. Each is None when not
    used: numba then compiles none of its code (it prunes ``is None``
    branches on the argument types).
    """
    gdq, start, stop = window.gdq, window.start, window.stop
    nints, ngroups, nrows, ncols = gdq.shape
    n_primary = _count_jumps(gdq, start, stop)
    measures_jumps = neighbours is not None or after is not None
    whole_rows = medians is None and brackets is None
    stats = _row_statistics_buffers(
        nints * (ngroups - 1) if measures_jumps else np.int64(0), ncols, whole_rows
    )
    if neighbours is not None:
        # sources of this row and of the row above: a row's sources flag the row
        # below only once that row has been read, so that no flag set here is
        # ever taken for a source
        sources, sources_above = (
            np.empty(nints * ngroups * ncols, np.int64),
            np.empty(nints * ngroups * ncols, np.int64),
        )
        n_above = 0
        for r in range(max(start - 1, 0), min(stop + 1, nrows)):
            seen = _rows_seen(window, r)
            m = _row_statistics(window, rules, medians, brackets, seen, r, stats)
            n = _collect_neighbour_sources(window, seen, r, m, stats, neighbours, brackets, sources)
            _flag_around_sources(gdq, sources[:n], r, r - 1, start, stop)
            _flag_around_sources(gdq, sources[:n], r, r, start, stop)
            _flag_around_sources(gdq, sources_above[:n_above], r - 1, r, start, stop)
            sources, sources_above, n_above = sources_above, sources, n
    if after is not None:
        for r in range(start, stop):
            m = _row_statistics(window, rules, medians, brackets, gdq[:, :, r, :], r, stats)
            _flag_after_jumps(window, r, m, stats, after, brackets)
    remove_jump_from_unusable_inplace(gdq[:, :, start:stop])
    return n_primary


# The statistics of the pixels of one row that have a jump, and their scratch
# buffers (a namedtuple numba can pass): their columns; differences and their
# sorted copy (flat, so that the (nvalues, m) views of the m pixels with a jump
# are contiguous, which lets the compiler vectorise the sort); usable counts; each pixel's median difference,
# either settled (exact, with its sigma) or, in long ramps until a decision
# needs it, only bracketed by lower and upper; read variance; one pixel's usable
# differences for selection; whether each pixel of the row has a jump; and the differences at the row's jumps.
RowStatistics = namedtuple(
    "RowStatistics",
    [
        "cols",
        "diffs",
        "sorted_diffs",
        "count",
        "centre",
        "sigma",
        "settled",
        "lower",
        "upper",
        "variance",
        "one_pixel",
        "jumped",
        "jump_differences",
    ],
)


@kernel
def _row_statistics_buffers(nvalues, ncols, whole_rows):
    """A :data:`RowStatistics` for rows of ``ncols`` pixels of ``nvalues`` differences.

    Room for the differences of a whole row only when the medians are
    computed here (``whole_rows``); else of one pixel, and no sorted copy.
    """
    return RowStatistics(
        np.empty(ncols, dtype=np.int64),
        np.empty(nvalues * ncols if whole_rows else nvalues, dtype=np.float32),
        np.empty(nvalues * ncols if whole_rows else 0, dtype=np.float32),
        np.empty(ncols, dtype=np.int64),
        np.empty(ncols),
        np.empty(ncols),
        np.empty(ncols, dtype=np.bool_),
        np.empty(ncols),
        np.empty(ncols),
        np.empty(ncols),
        np.empty(nvalues, dtype=np.float32),
        np.empty(ncols, dtype=np.uint8),
        np.empty(nvalues * ncols, dtype=np.float32),
    )


@kernel
def _row_statistics(window, rules, medians, brackets, seen, r, stats):
    """Median difference (settled or bracketed) of each pixel of row ``r`` with a jump; returns their number.

    ``seen`` is the row's GROUPDQ (nints, ngroups, ncols). The medians are
    the search's when it found them (``medians`` not None), or bracketed by
    the search's ``brackets`` (not None), else computed here
    (:func:`_jumped_medians`).
    """
    gain = window.gain
    cols, centre, settled, jumped = stats.cols, stats.centre, stats.settled, stats.jumped
    nints, ngroups, ncols = seen.shape
    jumped[:] = 0  # any JUMP_DET after the first group
    for i in range(nints):
        for g in range(1, ngroups):
            flags = seen[i, g]
            for c in range(ncols):  # along the row: a pixel's groups lie a frame apart
                jumped[c] |= flags[c] & JUMP_DET
    m = np.int64(0)  # not the literal 0: see jumpdet.compilation
    for c in range(ncols):
        if jumped[c]:
            cols[m] = c
            stats.variance[m] = read_variance(window.read_noise[r, c], gain[r, c], rules.nframes)
            m += 1
    if medians is not None:  # the same median of the same differences
        for j in range(m):
            centre[j] = medians[r, cols[j]]
            settled[j] = True
    elif brackets is not None:
        for j in range(m):
            stats.lower[j], stats.upper[j] = brackets[0, r, cols[j]], brackets[1, r, cols[j]]
            # a bracket of one value is the median (the mean of two equal middle values)
            centre[j] = stats.lower[j]
            settled[j] = stats.lower[j] == stats.upper[j]
    else:
        _jumped_medians(window, seen, r, m, rules.pairs, stats)
    for j in range(m):
        if settled[j]:
            stats.sigma[j] = sigma_from_median(centre[j], stats.variance[j])
    return m


@kernel
def _jumped_medians(window, seen, r, m, pairs, stats):
    """Median differences of the ``m`` pixels ``stats.cols[:m]`` of row ``r``, settled.

    The differences are gathered group by group, so each read runs along the
    row (a pixel's groups lie a frame apart; the group before is still in
    cache), and the pixels are sorted together by the sorting network, as in
    the search.
    """
    cols, count, centre, settled = stats.cols, stats.count, stats.centre, stats.settled
    nints, ngroups = seen.shape[:2]
    nvalues = nints * (ngroups - 1)
    diffs = stats.diffs[: nvalues * m].reshape((nvalues, m))
    sorted_diffs = stats.sorted_diffs[: nvalues * m].reshape((nvalues, m))
    for i in range(nints):
        for g in range(1, ngroups):
            for j in range(m):
                diffs[i * (ngroups - 1) + g - 1, j] = _difference(window, seen, i, g, r, cols[j])
    sort_usable_columns(diffs, sorted_diffs, count[:m], pairs)
    for j in range(m):
        centre[j] = median_of_sorted(sorted_diffs[:, j], count[j])
        settled[j] = True


@kernel
def _settle(window, seen, r, stats, j):
    """Find the exact median difference of jumped pixel ``j`` of row ``r`` (one selection), and its sigma."""
    c = stats.cols[j]
    nints, ngroups = seen.shape[:2]
    values = stats.diffs[: nints * (ngroups - 1)]
    for i in range(nints):
        for g in range(1, ngroups):
            values[i * (ngroups - 1) + g - 1] = _difference(window, seen, i, g, r, c)
    stats.centre[j] = usable_median(values, stats.one_pixel)
    stats.sigma[j] = sigma_from_median(stats.centre[j], stats.variance[j])
    stats.settled[j] = True


_INSIDE, _OUTSIDE, _UNDECIDED = 1, 0, -1


@kernel
def _ratio_verdict(d, lower, upper, variance, low, high):
    """Whether ``low < |d - c| / sqrt(|c| + variance) < high`` for all ``c`` in the bracket.

    Returns ``_INSIDE`` if so for every ``c``, ``_OUTSIDE`` if for none, else
    ``_UNDECIDED``. The bounds are the same floating-point operations as the
    exact ratio applied to the bracket's ends; every one of them (subtract,
    abs, add, sqrt, divide) is correctly rounded and so monotonic, which
    makes the exact ratio's computed value lie between the computed bounds.
    Anything not finite is left undecided.
    """
    if not (np.isfinite(d) and np.isfinite(lower) and np.isfinite(upper) and np.isfinite(variance)):
        return _UNDECIDED
    to_lower, to_upper = abs(d - lower), abs(d - upper)
    farthest = max(to_lower, to_upper)
    nearest = 0.0 if lower <= d <= upper else min(to_lower, to_upper)
    smallest_signal = 0.0 if lower <= 0.0 <= upper else min(abs(lower), abs(upper))
    largest_signal = max(abs(lower), abs(upper))
    smallest_sigma = np.sqrt(smallest_signal + variance)
    if not smallest_sigma > 0.0:
        return _UNDECIDED  # a zero sigma makes the ratio NaN: settle it
    least = nearest / np.sqrt(largest_signal + variance)
    most = farthest / smallest_sigma
    if least > low and most < high:
        return _INSIDE
    if most <= low or least >= high:
        return _OUTSIDE
    return _UNDECIDED


@kernel
def _set_jump_if_usable(gdq, i, g, r, c):
    if not gdq[i, g, r, c] & UNUSABLE:
        gdq[i, g, r, c] |= JUMP_DET


@kernel
def _difference(window, seen, i, g, r, c):
    """Electron difference ending at group ``g`` (float32), NaN if either group is unusable."""
    data, gain, row = window.data, window.gain[r, c], window.data_row0 + r
    now = electrons(data[i, g, row, c], seen[i, g, c], gain)
    return now - electrons(data[i, g - 1, row, c], seen[i, g - 1, c], gain)


@kernel
def _rows_seen(window, r):
    """GROUPDQ of window row ``r`` as the search left it: halo rows from their snapshots."""
    if r < window.start and window.above.shape[3]:
        return window.above[:, :, 0, :]
    if r >= window.stop and window.below.shape[3]:
        return window.below[:, :, 0, :]
    return window.gdq[:, :, r, :]


@kernel
def _collect_neighbour_sources(window, seen, r, m, stats, neighbours, brackets, sources):
    """Store in ``sources`` the row's jumps whose significance is strictly inside ``neighbours`` (low, high).

    Each as its flat index ``(i * ngroups + g) * ncols + c`` in the row's
    GROUPDQ; returns their number.
    """
    cols, settled, lower, upper = stats.cols, stats.settled, stats.lower, stats.upper
    low, high = neighbours
    ngroups, ncols = seen.shape[1], seen.shape[2]
    # the jumps first, then all their differences, then the verdicts: the ramp's
    # values lie a frame apart and are mostly cache misses, which overlap in a
    # loop without branches (measured: MIRI post-processing 29 -> 23 ms against
    # one loop doing it all)
    n = _gather_row_jumps(seen, cols[:m], sources)
    differences = stats.jump_differences
    for k in range(n):
        plane, j = divmod(sources[k], m)
        i, g = divmod(plane, ngroups)
        differences[k] = _difference(window, seen, i, g, r, cols[j])
    kept = 0
    for k in range(n):  # kept <= k: the sources overwrite the jumps already judged
        plane, j = divmod(sources[k], m)
        d = np.float64(differences[k])
        # jwst's significance |d - median| / sigma(median); with only a bracket
        # of the median, its bounds over the bracket often decide
        verdict = _UNDECIDED
        if brackets is not None and not settled[j]:  # only bracketed medians are unsettled
            verdict = _ratio_verdict(d, lower[j], upper[j], stats.variance[j], low, high)
            if verdict == _UNDECIDED:
                _settle(window, seen, r, stats, j)
        if verdict == _UNDECIDED:
            inside = low < abs(d - stats.centre[j]) / stats.sigma[j] < high
            verdict = _INSIDE if inside else _OUTSIDE
        sources[kept] = plane * ncols + cols[j]
        kept += verdict == _INSIDE
    return kept


@kernel
def _gather_row_jumps(seen, cols, jumps):
    """Store in ``jumps`` the JUMP_DET flags after the first group among the pixels ``cols`` of a row.

    Each as ``(i * ngroups + g) * cols.size + j`` for pixel ``cols[j]``;
    returns their number.
    """
    nints, ngroups = seen.shape[:2]
    m = cols.size
    n = 0
    for i in range(nints):
        for g in range(1, ngroups):
            flags = seen[i, g]
            # along the row (a pixel's groups lie a frame apart), only the pixels
            # with a jump (jumps are rare: the branch is predicted)
            for j in range(m):
                if flags[cols[j]] & JUMP_DET:
                    jumps[n] = (i * ngroups + g) * m + j
                    n += 1
    return n


@kernel
def _flag_around_sources(gdq, sources, source_row, row, start, stop):
    """Flag, in ``row`` of the window if it is one of ``start:stop``, the neighbours of ``sources``.

    ``sources`` are flat indices into ``source_row`` (see
    :func:`_collect_neighbour_sources`); in its own row a source flags itself
    and the pixels left and right of it, in the rows above and below the
    pixel next to it. Only usable groups are flagged.
    """
    if not start <= row < stop:
        return
    ngroups, ncols = gdq.shape[1], gdq.shape[3]
    reach = 1 if row == source_row else 0
    for s in sources:
        plane, c = divmod(s, ncols)
        i, g = divmod(plane, ngroups)
        for cc in range(max(c - reach, 0), min(c + reach + 1, ncols)):
            _set_jump_if_usable(gdq, i, g, row, cc)


@kernel
def _flag_after_jumps(window, r, m, stats, after, brackets):
    """Flag the groups after each jump of row ``r`` that is large enough.

    A jump at least ``after[k, 0]`` electrons above the median difference
    flags the next ``after[k, 1]`` groups; the longer reach wins. All jumps
    are measured before any group is flagged.
    """
    gdq = window.gdq
    cols, centre = stats.cols, stats.centre
    nints, ngroups = gdq.shape[:2]
    seen = gdq[:, :, r, :]
    reach = np.zeros((nints, ngroups), dtype=np.int64)
    for j in range(m):
        c = cols[j]
        if brackets is not None and not stats.settled[j]:  # only bracketed medians are unsettled
            _settle(window, seen, r, stats, j)
        reach[:] = 0
        for i in range(nints):
            for g in range(1, ngroups):
                if seen[i, g, c] & JUMP_DET:
                    amplitude = np.float64(_difference(window, seen, i, g, r, c)) - centre[j]
                    for k in range(2):
                        if amplitude >= after[k, 0]:
                            reach[i, g] = max(reach[i, g], int(after[k, 1]))
        for i in range(nints):
            for g in range(1, ngroups):
                for later in range(g + 1, min(g + reach[i, g], ngroups - 1) + 1):
                    _set_jump_if_usable(gdq, i, later, r, c)
