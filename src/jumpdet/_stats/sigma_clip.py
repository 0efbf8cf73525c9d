"""Sigma-clipping bounds of one set of values, as astropy's ``sigma_clip`` computes them.

jwst's sigma-clip path calls ``astropy.stats.sigma_clip(diffs, sigma=..., axis=...,
masked=True)`` with the default median centre, standard deviation and five
iterations, which astropy runs through its fast C routine. A value is then
clipped when it is non-finite or outside the bounds of the *last* iteration.

The bounds are reproduced bit for bit, which takes more than the same formula:
the median is found by Wirth's selection, which reorders the buffer, and the
mean and standard deviation are then summed in that order; values kept after
an iteration are packed in order. So :func:`clip_bounds` follows the same
sequence of operations on a float64 buffer (see
:func:`jumpdet._stats.medians.kth_smallest`).

That is slow, one pixel after another, so :func:`clip_bounds_of_columns`
clips a whole row of pixels at once from sorted values, in SIMD lanes across
pixels. Its kept values and medians are astropy's; only its standard
deviations round differently, and wherever that could change what is
clipped (a value within a proven bound on the rounding difference of a
bound), it falls back to :func:`clip_bounds` for that pixel.
"""

from collections import namedtuple

import numpy as np

from ..compilation import kernel
from .medians import kth_smallest, sort_columns

__all__ = [
    "MAXITERS",
    "ColumnWorkspace",
    "clip_bounds",
    "clip_bounds_of_columns",
    "column_workspace",
    "exact_column_bounds",
]

MAXITERS = 5  # astropy's default, which jwst uses


@kernel
def _wirth_median(a, n):
    # astropy takes the upper middle value first; the order of the two
    # selections decides the buffer's order, hence the sums below
    if n % 2 == 0:
        return 0.5 * (kth_smallest(a, n, n // 2) + kth_smallest(a, n, n // 2 - 1))
    return kth_smallest(a, n, (n - 1) // 2)


@kernel
def clip_bounds(buffer, count, sigma, maxiters):
    """Lower and upper clipping bounds of ``buffer[:count]`` (float64, finite values).

    The buffer is reordered and overwritten. With ``count`` 0 the bounds are
    NaN (nothing but non-finite values is clipped then).

    Parameters
    ----------
    buffer : (n,) float64 ndarray
    count : int
    sigma : float
        Clipping threshold, in standard deviations, both sides.
    maxiters : int

    Returns
    -------
    lower, upper : float
    """
    if count == 0:
        return np.nan, np.nan
    lower = upper = np.nan
    for _ in range(maxiters):
        centre = _wirth_median(buffer, count)
        mean = 0.0
        for i in range(count):
            mean += buffer[i]
        mean /= count
        spread = 0.0
        for i in range(count):
            spread += (buffer[i] - mean) * (buffer[i] - mean)
        std = np.sqrt(spread / count)
        lower = centre - sigma * std
        upper = centre + sigma * std
        kept = np.int64(0)  # not the literal 0: see jumpdet.compilation
        for i in range(count):
            if buffer[i] >= lower and buffer[i] <= upper:
                buffer[kept] = buffer[i]
                kept += 1
        if kept == count or kept == 0:
            break
        count = kept
    return lower, upper


@kernel
def exact_column_bounds(values, start, stride, column, sigma, maxiters, buffer):
    """:func:`clip_bounds` of the finite values of one column of rows ``start::stride``.

    The values are taken in row order, the order astropy receives them in,
    which decides how its selection reorders the buffer and so how its sums
    round. ``buffer`` (float64, as long as the set) is overwritten.
    """
    count = np.int64(0)  # not the literal 0: see jumpdet.compilation
    for j in range(start, values.shape[0], stride):
        v = values[j, column]
        if np.isfinite(v):
            buffer[count] = v
            count += 1
    return clip_bounds(buffer, count, sigma, maxiters)


# Scratch of clip_bounds_of_columns: ``ordered`` holds each column's values
# sorted, ``buffer`` one column's for exact_column_bounds, and the rest one
# entry per column: the ranks [lo, hi) kept, the state, and the iteration's
# median, moments about it, smallest and largest kept value, bounds and
# their tolerance. Separate arrays, not rows of one, so that the compiler
# sees they do not overlap and runs the loops over columns in SIMD lanes.
ColumnWorkspace = namedtuple(
    "ColumnWorkspace",
    [
        "ordered",
        "buffer",
        "lo",
        "hi",
        "state",
        "centre",
        "first_moment",
        "second_moment",
        "keep_low",
        "keep_high",
        "low",
        "high",
        "tolerance",
    ],
)


@kernel
def column_workspace(ordered):
    """A :class:`ColumnWorkspace` around ``ordered``, a float32 ``(n, ncols)`` buffer.

    It serves sets of up to ``n`` values in ``ncols`` columns.
    """
    n, ncols = ordered.shape
    return ColumnWorkspace(
        ordered,
        np.empty(n),
        np.empty(ncols, dtype=np.int64),
        np.empty(ncols, dtype=np.int64),
        np.empty(ncols, dtype=np.int8),
        np.zeros(ncols),
        np.empty(ncols),
        np.empty(ncols),
        np.empty(ncols),
        np.empty(ncols),
        np.empty(ncols),
        np.empty(ncols),
        np.empty(ncols),
    )


# states of a column in clip_bounds_of_columns
_ACTIVE, _DONE, _EXACT = 0, 1, 2

# With fewer than one column in this many still clipping, their sums run
# column by column (a chain of dependent additions over a strided column,
# about 3 ns a value) rather than in SIMD lanes across all columns and rows:
# measured break-even near one column in thirteen.
_SPARSE = 16


@kernel
def clip_bounds_of_columns(values, start, stride, sigma, maxiters, pairs, lower, upper, workspace):
    """:func:`clip_bounds` of the finite values of every column of rows ``start::stride``, at once.

    Each column's values are sorted first (a sorting network, in SIMD lanes
    across columns), after which every iteration's kept values are a range
    of ranks: the median is read in the middle of the range, with astropy's
    own expression, and the next range follows from where the bounds fall
    among the sorted values. The mean and standard deviation are summed
    over all columns together, lane by lane, in one pass (moments about the
    median).

    So the kept values and medians are astropy's, but the standard deviation
    is summed differently, and the bounds may differ from astropy's in the
    last bits (:func:`_tolerance` bounds by how much). Where no value of a
    column is that close to a bound, every comparison with the bound, in
    each iteration and in the last one that decides which values are
    clipped, comes out as astropy's; otherwise (a value exactly at a bound,
    say) the column is recomputed with :func:`exact_column_bounds`.

    Parameters
    ----------
    values : (nrows, ncols) float32 ndarray
        The set of each column is rows ``start``, ``start + stride``, ...;
        non-finite values are left out, as astropy does.
    start, stride : int
    sigma : float
    maxiters : int
    pairs : (npairs, 2) int ndarray or None
        :func:`jumpdet._stats.medians.sorting_network` of the set's size; if
        None, every column is computed with :func:`exact_column_bounds`.
    lower, upper : (ncols,) float64 ndarray
        Receive the bounds (NaN for a column without finite values).
    workspace : ColumnWorkspace
        :func:`column_workspace` of at least the set's size and of ``ncols``.

    Returns
    -------
    int
        How many columns were computed with :func:`exact_column_bounds`.
    """
    ws = workspace
    ncols = values.shape[1]
    n = len(range(start, values.shape[0], stride))
    if ws.ordered.shape[0] < n or ws.ordered.shape[1] != ncols:
        raise ValueError("the workspace does not fit the values")
    if pairs is None:
        for c in range(ncols):
            lower[c], upper[c] = exact_column_bounds(values, start, stride, c, sigma, maxiters, ws.buffer)
        return ncols
    ordered = ws.ordered[:n]
    lo, hi, state = ws.lo, ws.hi, ws.state
    centre, first_moment, second_moment = ws.centre, ws.first_moment, ws.second_moment
    keep_low, keep_high, low, high, tolerance = ws.keep_low, ws.keep_high, ws.low, ws.high, ws.tolerance
    # non-finite values become +inf, so they follow the finite ones once sorted
    hi[:] = 0
    for j in range(n):
        source, target = values[start + j * stride], ordered[j]
        for c in range(ncols):
            v = source[c]
            finite = abs(v) < np.inf
            target[c] = v if finite else np.inf
            hi[c] += finite
    sort_columns(ordered, pairs)
    lo[:] = 0
    state[:] = _ACTIVE
    lower[:] = np.nan
    upper[:] = np.nan
    for _ in range(maxiters):
        first, stop = n, 0  # the rows holding a kept value of some column
        active = 0
        for c in range(ncols):
            keep_low[c], keep_high[c] = np.inf, -np.inf  # keeps nothing
            if state[c] != _ACTIVE:
                continue
            m = hi[c] - lo[c]
            if m == 0:  # no finite value: NaN bounds
                state[c] = _DONE
                continue
            smallest, largest = ordered[lo[c], c], ordered[hi[c] - 1, c]
            if smallest == largest and m < 2**29:
                # astropy sums m copies of a float32 value exactly in float64,
                # so its mean is the value, its std 0 and both bounds the
                # value: it keeps everything and stops
                lower[c] = upper[c] = smallest
                state[c] = _DONE
                continue
            middle = lo[c] + m // 2
            if m % 2:
                centre[c] = ordered[middle, c]
            else:  # astropy's expression: upper middle value first
                centre[c] = 0.5 * (np.float64(ordered[middle, c]) + np.float64(ordered[middle - 1, c]))
            keep_low[c], keep_high[c] = smallest, largest
            first, stop = min(first, lo[c]), max(stop, hi[c])
            active += 1
        if active == 0:
            break
        first_moment[:] = 0.0
        second_moment[:] = 0.0
        if active * _SPARSE < ncols:
            # a few columns left (most finish in an iteration or two): one
            # by one over their ranks, not all columns over all ranks
            for c in range(ncols):
                if keep_low[c] <= keep_high[c]:
                    for k in range(lo[c], hi[c]):
                        d = np.float64(ordered[k, c]) - centre[c]
                        first_moment[c] += d
                        second_moment[c] += d * d
        else:
            for k in range(first, stop):
                row = ordered[k]
                for c in range(ncols):
                    v = np.float64(row[c])
                    d = v - centre[c]
                    # every copy of a value is kept or none, so the kept
                    # values are those between the smallest and largest kept
                    kept = (keep_low[c] <= v) & (v <= keep_high[c])
                    first_moment[c] += d if kept else 0.0
                    second_moment[c] += d * d if kept else 0.0
        for c in range(ncols):
            m = max(hi[c] - lo[c], 1)
            offset = first_moment[c] / m  # mean - median
            std = np.sqrt(max(second_moment[c] / m - offset * offset, 0.0))
            low[c], high[c] = centre[c] - sigma * std, centre[c] + sigma * std
            tolerance[c] = _tolerance(m, centre[c], sigma, std, keep_low[c], keep_high[c])
        for c in range(ncols):
            if state[c] != _ACTIVE:
                continue
            below = _rank(ordered, c, lo[c], low[c], False)
            not_above = _rank(ordered, c, hi[c], high[c], True)
            if _near(ordered, c, below, low[c], tolerance[c]) or _near(
                ordered, c, not_above, high[c], tolerance[c]
            ):
                state[c] = _EXACT
                continue
            lower[c], upper[c] = low[c], high[c]
            kept_lo, kept_hi = max(lo[c], below), min(hi[c], not_above)
            if kept_hi - kept_lo == hi[c] - lo[c] or kept_hi <= kept_lo:
                state[c] = _DONE
            lo[c], hi[c] = kept_lo, kept_hi
    exact = 0
    for c in range(ncols):
        if state[c] == _EXACT:
            lower[c], upper[c] = exact_column_bounds(values, start, stride, c, sigma, maxiters, ws.buffer)
            exact += 1
    return exact


@kernel
def _tolerance(m, centre, sigma, std, smallest, largest):
    """A bound, twice over, on how far our bounds of ``m`` values can be from astropy's.

    Both standard deviations are of the same values, rounded differently.
    astropy's is two-pass (mean, then squares about it), summed in any
    order: the mean is off by at most gamma * M (M the largest magnitude,
    gamma = (m + 8) * eps with eps the unit roundoff, after Higham's bounds
    on recursive sums), which moves the standard deviation by at most as
    much, and the sum of squares by a relative gamma, so its error is at most
    about 2 * gamma * M. Ours is from moments about the median c: with D the
    largest |v - c|, the variance ``mean((v - c)**2) - mean(v - c)**2`` is
    off by at most about 3.1 * gamma * D**2, so the standard deviation by at
    most that over the standard deviation, or its square root. The bounds
    ``c -/+ sigma * std`` add a few roundings of ``|c| + sigma * std``.
    """
    eps = 2.0**-53
    gamma = (m + 8) * eps
    spread = max(centre - smallest, largest - centre)
    variance_error = 4.0 * gamma * spread * spread
    ours = min(np.sqrt(variance_error), variance_error / max(std, 1e-300))
    theirs = 4.0 * gamma * max(abs(smallest), abs(largest))
    return 2.0 * (abs(sigma) * (ours + theirs + 5.0 * eps * std) + 2.0 * eps * abs(centre))


@kernel
def _rank(ordered, c, guess, bound, inclusive):
    """How many values of sorted column ``c`` are below ``bound`` (or equal, if ``inclusive``).

    Walks from ``guess``: the answer is rarely more than a step or two away.
    """
    rank = guess
    while rank > 0 and not _before(ordered[rank - 1, c], bound, inclusive):
        rank -= 1
    while rank < ordered.shape[0] and _before(ordered[rank, c], bound, inclusive):
        rank += 1
    return rank


@kernel
def _before(value, bound, inclusive):
    """``value <= bound`` if ``inclusive``, else ``value < bound``."""
    return value <= bound if inclusive else value < bound


@kernel
def _near(ordered, c, rank, bound, tolerance):
    """Whether a value of sorted column ``c`` either side of ``rank`` is ``tolerance`` close to ``bound``.

    ``rank`` is where ``bound`` falls among the values, so these two are the closest.
    """
    return (rank > 0 and bound - ordered[rank - 1, c] <= tolerance) or (
        rank < ordered.shape[0] and ordered[rank, c] - bound <= tolerance
    )
