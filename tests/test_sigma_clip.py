"""Sigma clipping of whole rows of pixels clips exactly what astropy and ``clip_bounds`` clip.

:func:`jumpdet._stats.sigma_clip.clip_bounds_of_columns` sums in another order than
astropy and falls back to the exact emulation :func:`clip_bounds` where
rounding could matter, so the property checked is the one that counts: the
same values found outside the bounds, on random sets of every kind (ties,
integers, values exactly at a bound, NaN and infinities, one or two values,
sets longer than the usual sorting networks).
"""

import warnings

import numpy as np
import pytest
from astropy.stats import sigma_clip
from astropy.utils.exceptions import AstropyUserWarning
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

from conftest import examples
from jumpdet._stats.medians import ROW_NETWORK_LIMIT, sorting_network
from jumpdet._stats.sigma_clip import (
    MAXITERS,
    clip_bounds,
    clip_bounds_of_columns,
    column_workspace,
)
from jumpdet.flags import JUMP_DET
from jumpdet.twopoint import Listing, _sigma_clip_row

SIGMAS = [0.5, 1.0, 1.5, 2.0, 3.0, 4.0]


def reference_found(values, start, stride, sigma):
    """Column by column: :func:`clip_bounds` of the finite values in row order; finite values outside."""
    subset = values[start::stride].astype(np.float64)
    found = np.zeros(subset.shape, dtype=bool)
    for c in range(subset.shape[1]):
        column = subset[:, c]
        finite = column[np.isfinite(column)]
        lower, upper = clip_bounds(finite.copy(), finite.size, sigma, MAXITERS)
        found[:, c] = np.isfinite(column) & ((column < lower) | (column > upper))
    return found


def columns_clip(values, start, stride, sigma, *, network=True):
    """Found values, number of exactly computed columns and bounds from :func:`clip_bounds_of_columns`."""
    n = len(range(start, values.shape[0], stride))
    pairs = sorting_network(n, ROW_NETWORK_LIMIT) if network else None
    lower, upper = np.empty(values.shape[1]), np.empty(values.shape[1])
    workspace = column_workspace(np.empty((n, values.shape[1]), dtype=np.float32))
    exact = clip_bounds_of_columns(values, start, stride, sigma, MAXITERS, pairs, lower, upper, workspace)
    subset = values[start::stride].astype(np.float64)
    found = np.isfinite(subset) & ((subset < lower) | (subset > upper))
    return found, exact, lower, upper


def assert_same_found(values, sigma, stride=1):
    for start in range(min(stride, values.shape[0])):
        found, *_ = columns_clip(values, start, stride, sigma)
        assert_array_equal(found, reference_found(values, start, stride, sigma))


special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0])
small_integers = st.integers(-3, 3).map(float)
any_float32 = st.floats(-1e6, 1e6, width=32)
elements = st.one_of(any_float32, small_integers, special)


@settings(max_examples=examples(400))
@given(
    arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 6)), elements=elements),
    st.sampled_from(SIGMAS),
    st.integers(1, 4),
)
def test_same_values_found_as_clip_bounds_on_adversarial_sets(values, sigma, stride):
    assert_same_found(values, sigma, stride)


def random_sets(seed, n, kind, ncols=40):
    """(n, ncols) float32 sets of one kind, from a seed."""
    rng = np.random.default_rng(seed)
    values = rng.normal(100.0, 10.0, (n, ncols))
    if kind == "integers":  # ties everywhere, and bounds that land on values
        values = np.round(rng.normal(0.0, 2.0, (n, ncols)))
    elif kind == "two_values":
        values = rng.choice([-1.0, 1.0], (n, ncols))
    elif kind == "outliers":  # jumps: several iterations
        outliers = rng.random((n, ncols)) < 0.05
        values[outliers] += rng.choice([-1.0, 1.0], outliers.sum()) * rng.uniform(
            30.0, 3000.0, outliers.sum()
        )
    elif kind == "offset":  # a large level and a small spread: rounding matters most
        values = 1e5 + rng.normal(0.0, 0.01, (n, ncols))
    elif kind == "non_finite":
        values[rng.random((n, ncols)) < 0.1] = np.nan
        values[rng.random((n, ncols)) < 0.03] = np.inf
        values[rng.random((n, ncols)) < 0.03] = -np.inf
        values[:, 0] = np.nan  # nothing finite
        values[1:, 1] = np.inf  # a single finite value
        values[2:, 2] = np.nan  # two
    values[:, -1] = values[0, -1]  # all equal
    return values.astype(np.float32)


@settings(max_examples=examples(150))
@given(
    st.integers(0, 2**32 - 1),
    st.one_of(st.integers(1, 300), st.integers(1000, 1100)),
    st.sampled_from(["normal", "integers", "two_values", "outliers", "offset", "non_finite"]),
    st.sampled_from(SIGMAS),
)
def test_same_values_found_as_clip_bounds_on_random_sets(seed, n, kind, sigma):
    """Long sets too (a sorting network of more than 256 values)."""
    assert_same_found(random_sets(seed, n, kind), sigma)


def sigma_putting_a_value_on_a_bound(column, upper_side):
    """A sigma for which astropy's first upper (or lower) bound is exactly the largest (smallest) value.

    Found by bisection, as the bound grows with sigma; None if no sigma hits the value exactly.
    """
    target = float(column.max() if upper_side else column.min())

    def distance(sigma):  # grows with sigma
        lower, upper = clip_bounds(column.astype(np.float64), column.size, sigma, 1)
        return upper - target if upper_side else target - lower

    low, high = 0.0, 1e3
    while low < 0.5 * (low + high) < high:
        middle = 0.5 * (low + high)
        low, high = (low, middle) if distance(middle) >= 0 else (middle, high)
    return high if distance(high) == 0 else None


@settings(max_examples=examples(200))
@given(st.integers(0, 2**32 - 1), st.integers(3, 300), st.booleans(), st.sampled_from([1, 40]))
def test_same_values_found_where_rounding_decides(seed, n, upper_side, ncols):
    """With a value exactly on astropy's bound, summing in another order moves the bound across it
    (for about one set in eight): such sets must be recomputed exactly.

    Beside constant columns, which finish at once, the column is summed alone, not across columns.
    """
    rng = np.random.default_rng(seed)
    column = rng.normal(rng.uniform(-1e4, 1e4), rng.uniform(0.1, 10.0), n).astype(np.float32)
    sigma = sigma_putting_a_value_on_a_bound(column, upper_side)
    if sigma is not None:
        values = np.ones((n, ncols), dtype=np.float32)
        values[:, 0] = column
        found, exact, *_ = columns_clip(values, 0, 1, sigma)
        assert exact == 1
        assert_array_equal(found, reference_found(values, 0, 1, sigma))


def test_a_value_exactly_at_a_bound_is_decided_exactly():
    # median 0, mean 0, std 1: with sigma 1 both bounds are values of the set
    values = np.array([[-1.0, 1.0] * 3, [-1.0, 1.0] * 2 + [np.nan] * 2]).T.astype(np.float32)
    found, exact, lower, upper = columns_clip(values, 0, 1, 1.0)
    assert exact == 2
    assert_array_equal(found, reference_found(values, 0, 1, 1.0))


def test_columns_are_clipped_one_by_one_without_a_network():
    values = random_sets(7, 300, "outliers")
    found, exact, *_ = columns_clip(values, 0, 1, 3.0, network=False)
    assert exact == values.shape[1]
    assert_array_equal(found, reference_found(values, 0, 1, 3.0))


def test_tiny_and_degenerate_sets():
    values = np.full((3, 5), np.nan, dtype=np.float32)
    values[0, 1] = 5.0  # one value
    values[:2, 2] = [1.0, 2.0]  # two values
    values[:, 3] = 7.0  # all equal
    values[:, 4] = [np.inf, -np.inf, 3.0]
    found, exact, lower, upper = columns_clip(values, 0, 1, 3.0)
    assert np.isnan([lower[0], upper[0]]).all()
    assert (lower[1], upper[1]) == (5.0, 5.0) and (lower[3], upper[3]) == (7.0, 7.0)
    assert lower[2] < 1.0 and upper[2] > 2.0
    assert not found.any() and exact == 0


def test_all_clipped_in_one_iteration_stops_with_those_bounds():
    # median 5, std 5, sigma 0.5: nothing within [2.5, 7.5], astropy stops there
    values = np.array([[0.0], [10.0]], dtype=np.float32)
    found, exact, lower, upper = columns_clip(values, 0, 1, 0.5)
    assert (lower[0], upper[0]) == (2.5, 7.5)
    assert found.all()


def test_a_workspace_too_small_is_refused():
    workspace = column_workspace(np.empty((3, 4), dtype=np.float32))
    lower, upper = np.empty(4), np.empty(4)
    with pytest.raises(ValueError):
        clip_bounds_of_columns(
            np.zeros((4, 4), np.float32), 0, 1, 3.0, MAXITERS, sorting_network(4), lower, upper, workspace
        )


def astropy_clip(diffs, sigma, only_use_ints):
    """What stcal does: astropy's sigma_clip of the differences, then the finite clipped ones are jumps."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        clipped, lower, upper = sigma_clip(
            diffs, sigma=sigma, axis=0 if only_use_ints else (0, 1), masked=True, return_bounds=True
        )
    return clipped.mask & np.isfinite(diffs), lower, upper


@pytest.mark.parametrize("only_use_ints", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_row_search_flags_what_astropy_clips(seed, only_use_ints):
    rng = np.random.default_rng(seed)
    nints, ngroups, nrows, ncols = 30 + 7 * seed, 5, 3, 11
    ndiffs = ngroups - 1
    diffs = rng.normal(50.0, 8.0, (nints, ndiffs, nrows, ncols))
    jumps = rng.random(diffs.shape) < 0.03
    diffs[jumps] += rng.uniform(40.0, 500.0, jumps.sum())
    if seed % 2:
        diffs = np.round(diffs / 8.0)  # integers: ties and values at bounds
    diffs[rng.random(diffs.shape) < 0.05] = np.nan
    diffs[rng.random(diffs.shape) < 0.01] = np.inf
    diffs[:, :, 0, 0] = np.nan  # a pixel with nothing to clip
    diffs[:, :, 0, 1] = -np.inf
    diffs[0, 0, 0, 1] = 3.0
    diffs = diffs.astype(np.float32)
    expected, lower, upper = astropy_clip(diffs, 3.0, only_use_ints)

    gdq = np.zeros((nints, ngroups, nrows, ncols), np.uint8)
    per_set = nints if only_use_ints else nints * ndiffs
    pairs = sorting_network(per_set, ROW_NETWORK_LIMIT)
    workspace = column_workspace(np.empty((nints * ndiffs, ncols), dtype=np.float32))
    listing = Listing.with_room(gdq.size)
    for row in range(nrows):
        row_diffs = np.ascontiguousarray(diffs[:, :, row].reshape(nints * ndiffs, ncols))
        _sigma_clip_row(row_diffs, gdq, row, 0, 3.0, only_use_ints, pairs, workspace, listing)
    assert_array_equal(gdq[:, 1:] == JUMP_DET, expected)
    assert not gdq[:, 0].any()
    # every flag is listed once, beyond the threshold to rounding
    listed = listing.flat[: listing.count[0]]
    assert_array_equal(np.sort(listed), np.flatnonzero(gdq))
    assert np.all(listing.significance[: listing.count[0]] > 3.0 * (1 - 1e-9))

    # the bounds themselves agree to rounding (exactly where decided exactly)
    for row in range(nrows):
        for s in range(ndiffs if only_use_ints else 1):
            row_diffs = np.ascontiguousarray(diffs[:, :, row].reshape(nints * ndiffs, ncols))
            stride = ndiffs if only_use_ints else 1
            _, _, ours_lower, ours_upper = columns_clip(row_diffs, s, stride, 3.0)
            index = (s, row) if only_use_ints else (row,)
            assert_allclose(ours_lower, lower[index], rtol=1e-12, atol=0, equal_nan=True)
            assert_allclose(ours_upper, upper[index], rtol=1e-12, atol=0, equal_nan=True)
