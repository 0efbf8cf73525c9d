"""Per-pixel medians of group differences, computed by one sort per pixel.

Values arrive as ``(nvalues, npixels)`` arrays: every usable difference of a
pixel (pooled over integrations) in one column, NaN where unusable. Sorting
along axis 0 puts the NaNs last, so the ``n`` usable values of a column are
its first ``n`` entries and any order statistic is a gather.

Results are float64 and equal, bit for bit, to what ``np.nanmedian`` returns on
the same values promoted to float64 (the mean of the two middle values is
``(low + high) / 2`` in float64 in both), which is what jwst compares against.
"""

import numpy as np

__all__ = ["clipped_median", "median", "sort_values"]


def sort_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each column and count its usable (non-NaN) values.

    Parameters
    ----------
    values : (nvalues, npixels) float ndarray
        NaN marks an unusable value.

    Returns
    -------
    sorted_values : (nvalues, npixels) ndarray
        Each column ascending, NaNs last.
    n_usable : (npixels,) int ndarray
    """
    sorted_values = np.sort(values, axis=0)
    n_usable = values.shape[0] - np.count_nonzero(np.isnan(sorted_values), axis=0)
    return sorted_values, n_usable


def median_of_first(sorted_values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Median of the first ``count`` entries of each sorted column; NaN where ``count`` is 0."""
    columns = np.arange(sorted_values.shape[1])
    low = sorted_values[np.maximum((count - 1) // 2, 0), columns].astype(np.float64)
    high = sorted_values[np.minimum(count // 2, sorted_values.shape[0] - 1), columns].astype(np.float64)
    result = (low + high) / 2.0
    result[count == 0] = np.nan
    return result


def median(values: np.ndarray) -> np.ndarray:
    """NaN-ignoring median of each column, in float64.

    >>> median(np.array([[1.0, 4.0], [3.0, np.nan], [2.0, 6.0]], dtype=np.float32))
    array([2., 5.])
    """
    sorted_values, n_usable = sort_values(values)
    return median_of_first(sorted_values, n_usable)


def clipped_median(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust per-pixel median used by the iterative search, as jwst defines it.

    With 4 or more usable values, every value equal to the largest is dropped
    before the median is taken (all of them when they tie); with exactly 3 the
    plain median; with exactly 2 the smaller; with fewer, NaN.

    Parameters
    ----------
    values : (nvalues, npixels) float ndarray
        Absolute differences, NaN where unusable.

    Returns
    -------
    clipped : (npixels,) float64 ndarray
    n_usable : (npixels,) int ndarray

    Examples
    --------
    >>> v = np.array([[1.0, 5.0, 1.0], [2.0, 5.0, 9.0], [3.0, 5.0, np.nan], [50.0, 5.0, np.nan]])
    >>> clipped_median(v)[0]
    array([ 2., nan,  1.])
    """
    sorted_values, n_usable = sort_values(values)
    columns = np.arange(values.shape[1])
    largest = sorted_values[np.maximum(n_usable - 1, 0), columns]
    n_ties = np.count_nonzero(sorted_values == largest, axis=0)
    kept = np.where(n_usable >= 4, n_usable - n_ties, n_usable)
    clipped = median_of_first(sorted_values, kept)
    two = n_usable == 2
    clipped[two] = sorted_values[0, two]
    clipped[n_usable < 2] = np.nan
    return clipped, n_usable
