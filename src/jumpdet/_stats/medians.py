"""Order statistics of group differences, compiled with numba.

Most functions work on a small 1-D buffer holding the usable differences of
one pixel (pooled over integrations). The exception is the sort of a whole
row of pixels at once (:func:`sort_usable_columns`): a sorting network, a
fixed sequence of compare-exchanges applied to every column alike, has no
data-dependent branches, so it runs in SIMD lanes across pixels, where a
per-pixel sort or selection of a handful of values is dominated by branch
mispredictions (measured: 9 values, 3.4 ns per pixel against 80-100 ns for
insertion sort or selection). All functions release the GIL, which is what
lets :mod:`jumpdet.detect` run tiles on threads.

Results are float64 and equal, bit for bit, to what ``np.nanmedian`` returns on
the same values promoted to float64 (the mean of the two middle values is
``(low + high) / 2`` in float64 in both), which is what jwst compares against.
Order statistics do not depend on how they are found, so selection (for long
ramps) and insertion sort (for short ones) give identical medians.
"""

from functools import lru_cache

import numpy as np

from ..compilation import kernel

__all__ = [
    "MEDIAN_SAMPLE",
    "NETWORK_LIMIT",
    "ROW_NETWORK_LIMIT",
    "clipped_median_of_sorted",
    "clipped_median_of_usable",
    "column_median_brackets",
    "copy_usable",
    "insertion_sort",
    "kth_smallest",
    "median",
    "median_network",
    "median_of_sorted",
    "order_columns_for_medians",
    "sort_columns",
    "sort_usable_columns",
    "sorting_network",
    "usable_median",
]

# The default limit of sorting_network: above it, sorting the few pixels of a row that
# have a jump (post-processing) costs more than one selection per pixel.
NETWORK_LIMIT = 256
# The search sorts every pixel of a row: there a network beats sorting column by column
# up to at least this many values (256 columns: 0.8 ms against 16 ms a row at 1080
# values, a third of the time at 8192, where the pairs take 5 MB).
ROW_NETWORK_LIMIT = 8192


@kernel
def copy_usable(values, out):
    """Copy the non-NaN entries of ``values`` to the front of ``out``; return their count."""
    n = 0
    for v in values:
        if not np.isnan(v):
            out[n] = v
            n += 1
    return n


@kernel
def kth_smallest(a, n, k):
    """The ``k``-th smallest (0-based) of ``a[:n]``; partially reorders ``a``.

    N. Wirth's selection (partition around ``a[k]`` until it is in place).
    astropy's fast sigma clipping uses this very algorithm, and its later
    sums run over the buffer in the order this leaves it, so
    :mod:`jumpdet._stats.sigma_clip` depends on the exact element moves.
    """
    lo, hi = 0, n - 1
    while lo < hi:
        pivot = a[k]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while pivot < a[j]:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if j < k:
            lo = i
        if k < i:
            hi = j
    return a[k]


@kernel
def median(a, n):
    """NaN-free median of ``a[:n]`` in float64 (NaN when ``n`` is 0); reorders ``a``."""
    if n == 0:
        return np.nan
    return _middle_by_selection(a, n, n // 2, n % 2 == 1)


@kernel
def _middle_by_selection(a, n, upper, odd):
    """The value of rank ``upper`` of ``a[:n]`` (``odd``), or the mean of ranks ``upper - 1`` and ``upper``.

    The mean is float64, taken as ``np.median`` takes it; ``a`` is reordered.

    Selection leaves every value below position ``upper`` no larger than the
    one there, so rank ``upper - 1`` is their maximum: a scan, not a second
    selection.
    """
    high = np.float64(kth_smallest(a, n, upper))
    if odd:
        return high
    low = a[0]
    for i in range(1, upper):
        low = max(low, a[i])
    return (np.float64(low) + high) / 2.0


# Long selections first narrow the search to a bracket of values around the
# median, estimated from a sample (Floyd and Rivest's idea): one branch-free
# pass then leaves about a quarter of the values to select from.
MEDIAN_SAMPLE = 64
_BRACKET = 10  # sample ranks either side of the sample's middle
_BRACKET_MIN_VALUES = 256


@kernel
def usable_median(values, scratch):
    """Median of the non-NaN entries of ``values`` in float64, NaN if there are none.

    Equal to ``np.nanmedian`` on the values promoted to float64 (order
    statistics do not depend on how they are found). ``values`` is left
    unchanged; ``scratch`` (float32, at least as long) is overwritten.
    """
    n = copy_usable(values, scratch)
    if n < _BRACKET_MIN_VALUES:
        return median(scratch, n)
    sample = np.empty(MEDIAN_SAMPLE, dtype=scratch.dtype)
    step = n // MEDIAN_SAMPLE
    for t in range(MEDIAN_SAMPLE):
        sample[t] = scratch[t * step]
    insertion_sort(sample, sample.size)
    low, high = sample[MEDIAN_SAMPLE // 2 - 1 - _BRACKET], sample[MEDIAN_SAMPLE // 2 + _BRACKET]
    below = 0
    kept = np.int64(0)  # not the literal 0: see jumpdet.compilation
    for i in range(n):  # branch-free: the write always happens, the index moves when kept
        v = scratch[i]
        below += v < low
        scratch[kept] = v
        kept += (v >= low) & (v <= high)
    upper_rank = n // 2 - below
    lower_rank = upper_rank - 1 + n % 2
    if lower_rank < 0 or upper_rank >= kept:  # the sample missed the median (rare): start over
        return median(scratch, copy_usable(values, scratch))
    return _middle_by_selection(scratch, kept, upper_rank, n % 2 == 1)


@kernel
def column_median_brackets(values, sample_pairs, lower, upper):
    """Brackets of the median of each column of ``values``, all columns at once.

    Each column's ``np.nanmedian`` (in float64) lies in ``[lower, upper]``
    where the returned flag is True: a sample of the column, sorted by a
    network across columns, proposes the bracket (as in
    :func:`usable_median`) and one branch-free pass counts the values on
    either side to prove it holds. Where the flag is False the sample missed
    (rare) or had too few usable values, and the bracket means nothing.
    When ``lower == upper``, that value is the median.

    Parameters
    ----------
    values : (nvalues, ncols) float32 ndarray
        NaN marks an unusable value; ``nvalues`` at least :data:`MEDIAN_SAMPLE`.
    sample_pairs : (npairs, 2) int ndarray
        ``sorting_network(MEDIAN_SAMPLE)``.
    lower, upper : (ncols,) float64 ndarray
        Receive the brackets.

    Returns
    -------
    (ncols,) bool ndarray
    """
    nvalues, ncols = values.shape
    step = nvalues // MEDIAN_SAMPLE
    sample = np.empty((MEDIAN_SAMPLE, ncols), dtype=values.dtype)
    for t in range(MEDIAN_SAMPLE):
        sample[t] = values[t * step]
    sorted_sample = np.empty_like(sample)
    sampled = np.empty(ncols, dtype=np.int64)
    sort_usable_columns(sample, sorted_sample, sampled, sample_pairs)
    for c in range(ncols):
        low_rank, high_rank = sampled[c] // 2 - 1 - _BRACKET, sampled[c] // 2 + _BRACKET
        lower[c] = sorted_sample[max(low_rank, 0), c]
        upper[c] = sorted_sample[min(high_rank, MEDIAN_SAMPLE - 1), c]
    below, above, usable = np.zeros(ncols, np.int64), np.zeros(ncols, np.int64), np.zeros(ncols, np.int64)
    for k in range(nvalues):
        row = values[k]
        for c in range(ncols):  # branch-free, in SIMD lanes
            v = np.float64(row[c])
            below[c] += v < lower[c]
            above[c] += v > upper[c]
            usable[c] += v == v
    proven = np.empty(ncols, dtype=np.bool_)
    for c in range(ncols):
        n = usable[c]
        # both middle values (ranks (n-1)//2 and n//2) lie within the bracket
        proven[c] = sampled[c] >= 2 * _BRACKET + 2 and below[c] <= (n - 1) // 2 and above[c] <= n - 1 - n // 2
    return proven


@kernel
def insertion_sort(a, n):
    """Sort ``a[:n]`` ascending in place (the fastest sort for a handful of values)."""
    for i in range(1, n):
        v = a[i]
        j = i - 1
        while j >= 0 and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v


@kernel
def clipped_median_of_sorted(s, n):
    """jwst's robust median of the iterative search, from ``n`` values sorted ascending.

    With 4 or more values, every value equal to the largest is dropped first
    (all of them when they tie, leaving none: NaN); with exactly 3 the plain
    median; with exactly 2 the smaller; with fewer, NaN.
    """
    if n < 2:
        return np.nan
    if n == 2:
        return np.float64(s[0])
    if n == 3:
        return np.float64(s[1])
    kept = n - 1
    while kept > 0 and s[kept - 1] == s[n - 1]:
        kept -= 1
    return median_of_sorted(s, kept)


# Up to this many values insertion sort beats selection for the clipped median.
_INSERTION_SORT_LIMIT = 32


@kernel
def clipped_median_of_usable(values, scratch):
    """:func:`clipped_median_of_sorted` of the non-NaN ``values``, unsorted; also their count.

    Long ramps use selection (linear) rather than a sort (quadratic here):
    the values dropped with the maximum are the largest, so the median of
    the rest is an order statistic of all of them. ``values`` is unchanged;
    ``scratch`` is overwritten.

    Returns
    -------
    median : float
    n_usable : int
    """
    n = copy_usable(values, scratch)
    if n <= _INSERTION_SORT_LIMIT:
        insertion_sort(scratch, n)
        # scratch[::1] has the layout of the search's columns ('A'): one compiled
        # variant of the median functions serves both (see jumpdet.compilation)
        return clipped_median_of_sorted(scratch[::1], n), n
    largest = scratch[0]
    for i in range(1, n):
        largest = max(largest, scratch[i])
    kept = 0
    for i in range(n):
        kept += scratch[i] != largest
    if kept == 0:
        return np.nan, n
    # the kept values are the smallest, so their middle ranks are those of all values
    return _middle_by_selection(scratch, n, kept // 2, kept % 2 == 1), n


@kernel
def median_of_sorted(s, n):
    """Median of the first ``n`` of ``s`` sorted ascending, float64 (NaN when ``n`` is 0)."""
    if n == 0:
        return np.nan
    high = np.float64(s[n // 2])
    if n % 2:
        return high
    return (np.float64(s[n // 2 - 1]) + high) / 2.0


@lru_cache(maxsize=64)
def sorting_network(n: int, limit: int = NETWORK_LIMIT) -> np.ndarray | None:
    """Compare-exchange pairs that sort ``n`` values: Batcher's odd-even merge sort.

    Built for the next power of two and pruned to pairs within ``n``: the
    padding positions hold +inf, which no compare-exchange would move.
    None above ``limit`` values: columns are sorted one by one then, by code
    that numba compiles only for kernels given None (it prunes ``is None``
    branches on argument types), which saves seconds of compilation.

    Returns
    -------
    (npairs, 2) int64 ndarray or None
        Apply in order: ``lo, hi = min, max`` of the entries at the two indices.
    """
    if n > limit:
        return None
    size = 1
    while size < n:
        size *= 2
    pairs = []
    merged = 1
    while merged < size:
        span = merged
        while span >= 1:
            for start in range(span % merged, size - span, 2 * span):
                for i in range(min(span, size - start - span)):
                    a, b = start + i, start + i + span
                    if a // (2 * merged) == b // (2 * merged) and b < n:
                        pairs.append((a, b))
            span //= 2
        merged *= 2
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


@lru_cache(maxsize=64)
def median_network(n: int) -> np.ndarray:
    """The pairs of :func:`sorting_network` that put the two middle values of ``n`` in place.

    A compare-exchange that cannot change what ends at positions
    ``(n - 1) // 2`` and ``n // 2`` is dropped (walking the network
    backwards): about a fifth of them. The other positions are left
    unsorted, so the result serves a median of all ``n`` values only.
    None above :data:`NETWORK_LIMIT` values.
    """
    network = sorting_network(n)
    if network is None:
        return None
    needed = {(n - 1) // 2, n // 2}
    kept = []
    for a, b in network[::-1]:
        if a in needed or b in needed:
            kept.append((a, b))
            needed.update((int(a), int(b)))
    return np.array(kept[::-1], dtype=np.int64).reshape(-1, 2)


@kernel
def sort_usable_columns(values, out, count, pairs):
    """Sort every column of ``values`` into ``out`` with NaNs last; count the usable ones.

    Parameters
    ----------
    values : (n, ncols) float ndarray
        NaN marks an unusable value.
    out : (n, ncols) ndarray
        Receives the sorted columns; NaN becomes +inf, so the ``count``
        usable values are the first entries of each column.
    count : (ncols,) int ndarray
        Receives the number of non-NaN values per column.
    pairs : (npairs, 2) int ndarray or None
        :func:`sorting_network` of ``n``; None to sort column by column.
    """
    _copy_usable_columns(values, out, count)
    _sort_copied_columns(out, pairs)


@kernel
def order_columns_for_medians(values, out, count, pairs, median_pairs):
    """:func:`sort_usable_columns`, or less where only the medians of full columns are needed.

    When every column of ``values`` is usable throughout, ``median_pairs``
    (:func:`median_network`, if not None) puts just the two middle values
    of each in place, which is all :func:`median_of_sorted` reads; else
    the columns are sorted with ``pairs``. A whole row decides, so that the
    network still runs across all its columns at once.
    """
    n = values.shape[0]
    _copy_usable_columns(values, out, count)
    full = True
    for c in range(count.size):
        full &= count[c] == n
    if median_pairs is not None and full:
        _sort_copied_columns(out, median_pairs)
    else:
        _sort_copied_columns(out, pairs)


@kernel
def _copy_usable_columns(values, out, count):
    n, ncols = values.shape
    count[:] = 0
    for k in range(n):
        for c in range(ncols):
            v = values[k, c]
            usable = not np.isnan(v)
            out[k, c] = v if usable else np.inf
            count[c] += usable


@kernel
def _sort_copied_columns(out, pairs):
    if pairs is None:  # no network for this many values: column by column
        column = np.empty(out.shape[0], out.dtype)
        for c in range(out.shape[1]):
            for k in range(out.shape[0]):
                column[k] = out[k, c]
            column.sort()
            for k in range(out.shape[0]):
                out[k, c] = column[k]
    else:
        sort_columns(out, pairs)


@kernel
def sort_columns(out, pairs):
    """Sort every column of ``out`` in place with the sorting network ``pairs`` (no NaN).

    Each compare-exchange reads its lower row from a copy. Read in place,
    ``lower[c] = min(lower[c], upper[c])`` is compiled as a masked store
    (``vmaskmovps``) of the values that move, which AMD Zen processors
    execute slowly: on a Zen 3 machine that store was most of the single
    pass's time, and with the copy miri_1x40's search ran 3 times faster
    (11 against 35 ms for 128 rows). The result is the same, bit for bit.
    """
    first = np.empty(out.shape[1], out.dtype)
    for m in range(pairs.shape[0]):
        lower, upper = out[pairs[m, 0]], out[pairs[m, 1]]
        for c in range(out.shape[1]):
            first[c] = lower[c]
        for c in range(out.shape[1]):
            a, b = first[c], upper[c]
            lower[c] = min(a, b)
            upper[c] = max(a, b)
