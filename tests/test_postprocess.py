"""Post-processing decides with median brackets exactly as with exact medians."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from conftest import examples
from jumpdet.params import JumpParams
from jumpdet.postprocess import (
    _INSIDE,
    _OUTSIDE,
    FrameInputs,
    RowBlock,
    _ratio_verdict,
    postprocess_rows,
)
from jumpdet.twopoint import find_jumps_in_tile, sigma_from_median

finite = st.floats(-1e5, 1e5, allow_nan=False, width=32).map(float)


@settings(max_examples=examples(500))
@given(
    d=finite,
    ends=st.lists(finite, min_size=2, max_size=2).map(sorted),
    where=st.floats(0, 1),
    variance=st.one_of(st.just(0.0), st.floats(0, 1e4)),
    low=st.floats(0, 50),
    span=st.floats(0, 1000),
)
def test_a_decided_verdict_is_the_exact_decision_for_any_median_in_the_bracket(
    d, ends, where, variance, low, span
):
    lower, upper = ends
    high = low + span
    verdict = _ratio_verdict(d, lower, upper, variance, low, high)
    for median in (lower, upper, min(max(lower + where * (upper - lower), lower), upper)):
        ratio = abs(d - median) / sigma_from_median(median, variance)
        if verdict == _INSIDE:
            assert low < ratio < high
        elif verdict == _OUTSIDE:
            assert not low < ratio < high


def test_a_bracket_of_one_value_decides_like_the_exact_ratio():
    assert _ratio_verdict(50.0, 10.0, 10.0, 4.0, 10.0, 1000.0) == _INSIDE  # 40 / sqrt(14) = 10.7
    assert _ratio_verdict(40.0, 10.0, 10.0, 4.0, 10.0, 1000.0) == _OUTSIDE  # 30 / sqrt(14) = 8.0


def postprocessed(data, gdq, gain, read_noise, params, with_brackets):
    """Search a long sigma-clip ramp, then post-process it with or without the search's brackets."""
    gdq = gdq.copy()
    brackets = np.empty((2, *data.shape[2:]), np.float32) if with_brackets else None
    find_jumps_in_tile(data, gdq, gain, read_noise, params, "sigma_clip", median_brackets=brackets)
    frame = FrameInputs(data, gdq, gain, read_noise, 1, None, brackets)
    postprocess_rows(frame, RowBlock(0, data.shape[2], None, None), params)
    return gdq


@settings(max_examples=examples(20))
@given(seed=st.integers(0, 2**16), low=st.sampled_from([2.0, 3.0, 5.0, 10.0]))
def test_brackets_change_no_flag(seed, low):
    rng = np.random.default_rng(seed)
    nints, ngroups, nrows, ncols = 101, 4, 3, 9
    data = rng.normal(30, 8, (nints, ngroups, nrows, ncols)).astype(np.float32).cumsum(axis=1)
    hits = rng.random(data.shape) < 0.01
    data += np.cumsum(hits * rng.uniform(20, 3000, data.shape), axis=1).astype(np.float32)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[rng.random(data.shape) < 0.01] = 1  # DO_NOT_USE
    gain = np.full((nrows, ncols), 2.0, np.float32)
    read_noise = rng.uniform(0, 10, (nrows, ncols)).astype(np.float32)
    params = JumpParams(
        min_jump_to_flag_neighbors=low, after_jump_flag_e1=100.0, after_jump_flag_groups1=int(seed % 2)
    )
    exact = postprocessed(data, gdq, gain, read_noise, params, with_brackets=False)
    bracketed = postprocessed(data, gdq, gain, read_noise, params, with_brackets=True)
    assert_array_equal(bracketed, exact)
    assert (exact & 4).any()
