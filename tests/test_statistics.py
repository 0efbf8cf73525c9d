"""The per-pixel statistics equal the numpy and astropy definitions jwst uses, bit for bit."""

import warnings

import numpy as np
import pytest
from astropy.stats import sigma_clip
from astropy.utils.exceptions import AstropyUserWarning
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_array_equal

from conftest import examples
from jumpdet._stats.medians import (
    NETWORK_LIMIT,
    clipped_median_of_sorted,
    copy_usable,
    insertion_sort,
    median,
    median_network,
    median_of_sorted,
    order_columns_for_medians,
    sort_columns,
    sort_usable_columns,
    sorting_network,
)
from jumpdet._stats.sigma_clip import MAXITERS, clip_bounds

float32_or_nan = st.one_of(st.just(np.nan), st.floats(-1e6, 1e6, width=32))
# few distinct values make ties (and equal maxima) common
tie_prone = st.one_of(st.just(np.nan), st.sampled_from([0.0, 1.0, 2.5, 7.0, -3.0]))


def jwst_clipped_median(values: np.ndarray) -> float:
    """stcal's definition, written with numpy: drop every copy of the maximum if 4+ usable values."""
    usable = values[~np.isnan(values)].astype(np.float64)
    if usable.size < 2:
        return np.nan
    if usable.size == 2:
        return usable.min()
    if usable.size >= 4:
        usable = usable[usable != usable.max()]
    return np.median(usable) if usable.size else np.nan


@settings(max_examples=examples(300))
@given(arrays(np.float32, st.integers(1, 80), elements=float32_or_nan))
def test_median_equals_numpy_nanmedian(values):
    expected = np.nanmedian(values.astype(np.float64)) if np.isfinite(values).any() else np.nan
    scratch = np.empty_like(values)
    assert_array_equal(median(scratch, copy_usable(values, scratch)), expected)


@settings(max_examples=examples(300))
@given(arrays(np.float32, st.integers(1, 40), elements=st.one_of(float32_or_nan, tie_prone)))
def test_clipped_median_equals_jwst_definition(values):
    scratch = np.empty_like(values)
    n = copy_usable(values, scratch)
    insertion_sort(scratch, n)
    assert np.all(np.diff(scratch[:n]) >= 0)
    assert_array_equal(clipped_median_of_sorted(scratch, n), jwst_clipped_median(values))


def astropy_bounds(values: np.ndarray, sigma: float):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        _, lower, upper = sigma_clip(values[None, :], sigma=sigma, axis=1, masked=True, return_bounds=True)
    return lower[0], upper[0]


@settings(max_examples=examples(400))
@given(
    arrays(np.float64, st.integers(1, 150), elements=st.one_of(float32_or_nan, tie_prone)),
    st.sampled_from([1.0, 2.0, 3.0, 4.0]),
)
def test_clip_bounds_equal_astropy(values, sigma):
    """Same bounds to the last bit, so the same values are clipped."""
    finite = values[np.isfinite(values)].copy()
    lower, upper = clip_bounds(finite, finite.size, sigma, MAXITERS)
    assert_array_equal((lower, upper), astropy_bounds(values, sigma))


def test_clip_bounds_on_an_outlier():
    values = np.array([10.0, 11.0, 9.0, 10.0, 500.0, 10.5, 9.5, 10.0])
    lower, upper = clip_bounds(values.copy(), values.size, 2.0, MAXITERS)
    assert lower < 9.0 and 11.0 < upper < 500.0


def test_clip_bounds_of_nothing_are_nan():
    assert np.isnan(clip_bounds(np.empty(3), 0, 3.0, MAXITERS)).all()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 9, 16, 17, 39, 59, 64, 100, NETWORK_LIMIT, NETWORK_LIMIT + 1, 400])
def test_sort_usable_columns_sorts_with_nans_last_and_counts_them(n):
    rng = np.random.default_rng(n)
    values = rng.normal(size=(n, 300)).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = np.nan
    values[:, :5] = np.nan  # columns with nothing usable
    values[:, 5:10] = 1.0  # all equal
    out, count = np.empty_like(values), np.empty(300, dtype=np.int64)
    sort_usable_columns(values, out, count, sorting_network(n))
    assert_array_equal(count, np.count_nonzero(~np.isnan(values), axis=0))
    assert_array_equal(out, np.where(np.isnan(np.sort(values, axis=0)), np.inf, np.sort(values, axis=0)))


def test_sorting_network_sorts_every_zero_one_input_of_small_sizes():
    """The 0-1 principle: a network that sorts every 0/1 input sorts every input."""
    for n in range(1, 13):
        inputs = ((np.arange(2**n)[None, :] >> np.arange(n)[:, None]) & 1).astype(np.float32)
        out, count = np.empty_like(inputs), np.empty(inputs.shape[1], dtype=np.int64)
        sort_usable_columns(inputs, out, count, sorting_network(n))
        assert_array_equal(out, np.sort(inputs, axis=0))


long_values = st.one_of(
    arrays(np.float32, st.integers(200, 1500), elements=st.one_of(float32_or_nan, tie_prone)),
    # sorted or reversed input, where a sample misplaces the bracket most easily
    arrays(np.float32, st.integers(200, 1500), elements=st.floats(-1e3, 1e3, width=32)).map(np.sort),
    arrays(np.float32, st.integers(200, 1500), elements=st.floats(-1e3, 1e3, width=32)).map(
        lambda a: np.sort(a)[::-1].copy()
    ),
)


@settings(max_examples=examples(200))
@given(long_values)
def test_usable_median_of_long_ramps_equals_numpy_nanmedian_and_keeps_the_input(values):
    from jumpdet._stats.medians import usable_median

    original = values.copy()
    expected = np.nanmedian(values.astype(np.float64)) if not np.isnan(values).all() else np.nan
    assert_array_equal(usable_median(values, np.empty_like(values)), expected)
    assert_array_equal(values, original)


@settings(max_examples=examples(200))
@given(
    st.one_of(
        arrays(np.float32, st.integers(1, 40), elements=st.one_of(float32_or_nan, tie_prone)),
        arrays(np.float32, st.integers(33, 600), elements=st.one_of(float32_or_nan, tie_prone)),
        arrays(np.float32, st.integers(33, 600), elements=float32_or_nan),
    )
)
def test_clipped_median_of_unsorted_values_equals_jwst_definition(values):
    from jumpdet._stats.medians import clipped_median_of_usable

    original = values.copy()
    median, n_usable = clipped_median_of_usable(values, np.empty_like(values))
    assert_array_equal(median, jwst_clipped_median(values))
    assert n_usable == np.count_nonzero(~np.isnan(values))
    assert_array_equal(values, original)


long_columns = st.integers(1, 6).flatmap(
    lambda ncols: st.one_of(
        arrays(np.float32, st.tuples(st.integers(64, 700), st.just(ncols)), elements=float32_or_nan),
        arrays(np.float32, st.tuples(st.integers(64, 700), st.just(ncols)), elements=tie_prone),
        arrays(
            np.float32,
            st.tuples(st.integers(64, 700), st.just(ncols)),
            elements=st.one_of(st.floats(-1e3, 1e3, width=32), st.just(np.inf), st.just(-np.inf)),
        ).map(lambda a: np.sort(a, axis=0)),
    )
)


@settings(max_examples=examples(200))
@given(long_columns)
def test_a_proven_median_bracket_holds_the_nanmedian_and_a_bracket_of_one_value_is_it(values):
    from jumpdet._stats.medians import MEDIAN_SAMPLE, column_median_brackets

    ncols = values.shape[1]
    lower, upper = np.empty(ncols), np.empty(ncols)
    proven = column_median_brackets(values, sorting_network(MEDIAN_SAMPLE), lower, upper)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(values.astype(np.float64), axis=0)
    for c in np.flatnonzero(proven):
        assert lower[c] <= expected[c] <= upper[c]
        if lower[c] == upper[c]:
            assert lower[c] == expected[c]


def test_median_brackets_are_proven_and_narrow_on_noisy_ramps():
    from jumpdet._stats.medians import MEDIAN_SAMPLE, column_median_brackets

    values = np.random.default_rng(0).normal(100, 10, (1080, 256)).astype(np.float32)
    values[::97] = np.nan
    lower, upper = np.empty(256), np.empty(256)
    proven = column_median_brackets(values, sorting_network(MEDIAN_SAMPLE), lower, upper)
    assert proven.mean() > 0.9
    # about the middle third of the values: less than a standard deviation wide
    assert np.median(upper - lower) < 10


@settings(max_examples=examples(200))
@given(
    st.integers(1, 120).flatmap(
        lambda n: arrays(np.float32, (n, 5), elements=st.one_of(st.floats(-1e3, 1e3, width=32), tie_prone))
    )
)
def test_ordering_for_medians_gives_the_medians_of_a_full_sort(values):
    # with a NaN anywhere in the row the columns are sorted; else only the middle is placed
    n = values.shape[0]
    ordered, count = np.empty_like(values), np.empty(5, np.int64)
    order_columns_for_medians(values, ordered, count, sorting_network(n), median_network(n))
    assert_array_equal(count, (~np.isnan(values)).sum(axis=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        expected = np.nanmedian(values.astype(np.float64), axis=0)
    assert_array_equal([median_of_sorted(ordered[:, c], count[c]) for c in range(5)], expected)


def test_the_median_network_is_a_pruned_sorting_network():
    full, pruned = sorting_network(39), median_network(39)
    assert 0 < len(pruned) < 0.85 * len(full)
    assert {tuple(p) for p in pruned} <= {tuple(p) for p in full}
    assert median_network(300) is None  # above NETWORK_LIMIT: sort instead
    values = np.random.default_rng(3).normal(size=(39, 1032)).astype(np.float32)
    ordered = values.copy()
    sort_columns(ordered, pruned)
    assert_array_equal(ordered[19], np.sort(values, axis=0)[19])


def compare_exchanges(values, pairs):
    """The network applied pair by pair as numba's min and max define it (the first on a tie)."""
    out = values.copy()
    for a, b in pairs:
        lower, upper = out[a].copy(), out[b].copy()
        out[a] = np.where(upper < lower, upper, lower)
        out[b] = np.where(upper > lower, upper, lower)
    return out


signed_ties = st.sampled_from([0.0, -0.0, 1.0, -1.0, np.inf, 2.5])


@settings(max_examples=examples(100))
@given(st.integers(2, 45).flatmap(lambda n: arrays(np.float32, (n, 19), elements=signed_ties)))
def test_sort_columns_gives_the_compare_exchanges_bit_for_bit(values):
    # the kernel reads each lower row from a copy (fast on AMD processors); ties of 0.0 and -0.0 too
    for pairs in (sorting_network(len(values)), median_network(len(values))):
        ordered = values.copy()
        sort_columns(ordered, pairs)
        assert_array_equal(ordered.view(np.uint32), compare_exchanges(values, pairs).view(np.uint32))
