"""jumpdet.JumpStep against jwst.jump.JumpStep on the same randomized ramps: identical DQ.

Each case builds noisy ramps (Poisson + read noise, seeded) with random jumps of both
signs, saturation, NaNs, DO_NOT_USE groups and bad-gain pixels, then runs both steps
with the same in-memory references and parameters.
"""

import numpy as np
import pytest
from jwst.jump import JumpStep as JwstJumpStep
from numpy.testing import assert_array_equal

from conftest import make_ramp_model, make_references
from jumpdet import JumpStep

SAT, DNU = 2, 1


def random_ramp_model(
    seed,
    shape,
    *,
    nframes=1,
    nan_fraction=0.0,
    dnu_first_last=False,
    subarray=("FULL", 1, 1),
    saturate=True,
    jump_fraction=0.01,
):
    rng = np.random.default_rng(seed)
    nints, ngroups, nrows, ncols = shape
    name, xstart, ystart = subarray
    frame = (nrows, ncols) if name == "FULL" else (1024, 1032)  # subarrays are cut from full-frame refs
    gain_full = rng.uniform(1.5, 6.0, frame).astype(np.float32)
    read_noise_full = rng.uniform(5.0, 15.0, frame).astype(np.float32)
    cut = np.s_[ystart - 1 : ystart - 1 + nrows, xstart - 1 : xstart - 1 + ncols]
    gain, read_noise = gain_full[cut], read_noise_full[cut]
    rate_e = rng.uniform(0, 200, (nrows, ncols))
    electrons = np.cumsum(rng.poisson(rate_e, shape), axis=1).astype(np.float64)
    electrons += rng.normal(0, read_noise * gain / np.sqrt(2 * nframes), shape)
    jumps = (
        (rng.random(shape) < jump_fraction) * rng.choice([-1, 1, 1, 1], shape) * rng.uniform(30, 3000, shape)
    )
    data = (10_000 + (electrons + np.cumsum(jumps, axis=1)) / gain).astype(np.float32)
    gdq = np.zeros(shape, np.uint8)
    if saturate:
        gdq[data > 10_000 + 0.8 * (data.max() - 10_000)] = SAT
        gdq |= np.maximum.accumulate(gdq & SAT, axis=1)
    gdq[rng.random(shape) < 0.002] |= DNU
    data[rng.random(shape) < nan_fraction] = np.nan
    if dnu_first_last:
        gdq[:, 0] |= DNU
        gdq[:, -1] |= DNU
    model = make_ramp_model(data, groupdq=gdq, nframes=nframes, subarray=subarray)
    gain_full[rng.random(frame) < 0.01] = rng.choice([0.0, -1.0, np.nan])
    refs = make_references(frame)
    refs[0].data[...] = gain_full
    refs[1].data[...] = read_noise_full
    return model, refs


def run_both(model, refs, **params):
    kwargs = dict(override_gain=refs[0], override_readnoise=refs[1], **params)
    return JwstJumpStep.call(model, **kwargs), JumpStep.call(model, **kwargs)


def assert_same(expected, actual):
    assert_array_equal(actual.groupdq, expected.groupdq)
    assert_array_equal(actual.pixeldq, expected.pixeldq)
    assert actual.meta.exposure.primary_cosmic_rays == expected.meta.exposure.primary_cosmic_rays
    assert actual.meta.exposure.extended_emission_events == expected.meta.exposure.extended_emission_events


CASES = {
    # name: (shape, model options, step parameters)
    "iterative_3_groups": ((1, 3, 30, 31), {}, {}),
    "iterative_4_groups": ((1, 4, 30, 31), {}, {}),
    "iterative_several_ints": ((4, 5, 20, 21), {}, {}),
    "iterative_10_groups_neighbours": ((1, 10, 40, 41), {}, {"min_jump_to_flag_neighbors": 4}),
    "iterative_first_last_dnu": ((2, 10, 25, 26), {"dnu_first_last": True}, {}),
    "iterative_nans": ((2, 8, 25, 26), {"nan_fraction": 0.01}, {}),
    "iterative_nframes4": ((1, 6, 25, 26), {"nframes": 4}, {}),
    "iterative_subarray": ((1, 7, 64, 72), {"subarray": ("SUB64", 33, 65)}, {}),
    "single_pass_12_groups": ((1, 12, 30, 31), {}, {}),
    "single_pass_100_groups": ((1, 100, 12, 13), {}, {}),
    "single_pass_two_ints": ((2, 20, 20, 21), {"nan_fraction": 0.005}, {"min_jump_to_flag_neighbors": 5}),
    "after_jump": (
        (1, 20, 20, 21),
        {},
        {
            "after_jump_flag_dn1": 100,
            "after_jump_flag_time1": 10,
            "after_jump_flag_dn2": 500,
            "after_jump_flag_time2": 25,
        },
    ),
    "after_jump_iterative": ((3, 6, 20, 21), {}, {"after_jump_flag_dn1": 50, "after_jump_flag_time1": 6}),
    "no_neighbours": ((1, 10, 20, 21), {}, {"flag_4_neighbors": False}),
    # without neighbours (and with or without after-jump groups) the search keeps no medians
    "no_neighbours_single_pass": ((1, 20, 20, 21), {}, {"flag_4_neighbors": False}),
    "no_neighbours_long": ((101, 4, 5, 6), {}, {"flag_4_neighbors": False}),
    "after_jump_no_neighbours_long": (
        (101, 4, 5, 6),
        {"jump_fraction": 0.02},
        {"flag_4_neighbors": False, "after_jump_flag_dn1": 50, "after_jump_flag_time1": 6},
    ),
    "thresholds": (
        (1, 6, 20, 21),
        {},
        {
            "rejection_threshold": 3.0,
            "three_group_rejection_threshold": 4.5,
            "four_group_rejection_threshold": 3.5,
        },
    ),
    "sigma_clip_ints": ((110, 5, 6, 7), {}, {}),
    "sigma_clip_ints_nans": ((105, 4, 6, 7), {"nan_fraction": 0.01}, {"min_jump_to_flag_neighbors": 3}),
    "sigma_clip_all_groups": ((25, 6, 6, 7), {}, {"only_use_ints": False}),
    "sigma_clip_lower_minimum": ((30, 5, 6, 7), {}, {"minimum_sigclip_groups": 20}),
    "many_jumps": ((1, 9, 20, 21), {"jump_fraction": 0.2}, {"min_jump_to_flag_neighbors": 2}),
    # long ramps: post-processing selects medians pixel by pixel (above NETWORK_LIMIT), and
    # beyond ROW_NETWORK_LIMIT the search sorts column by column
    "single_pass_300_groups": ((1, 300, 5, 6), {"nan_fraction": 0.01}, {"min_jump_to_flag_neighbors": 4}),
    "single_pass_8200_groups": ((1, 8200, 2, 3), {}, {}),
    # long ramps with many jumped pixels in a row: post-processing sorts them with the network
    "sigma_clip_wide_rows": ((101, 4, 3, 40), {"jump_fraction": 0.02}, {"min_jump_to_flag_neighbors": 3}),
    "single_pass_wide_rows": ((1, 300, 2, 40), {"jump_fraction": 0.01}, {"min_jump_to_flag_neighbors": 3}),
    "iterative_pooled_over_many_ints": ((40, 8, 6, 7), {}, {"minimum_sigclip_groups": 1000}),
    "sigma_clip_all_groups_long": ((101, 4, 5, 6), {}, {"only_use_ints": False}),
}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_flags_as_jwst(case, seed):
    shape, options, params = CASES[case]
    model, refs = random_ramp_model(seed, shape, **options)
    assert_same(*run_both(model, refs, **params))


def test_read_times_change_nothing_in_jwst_or_jumpdet():
    """jwst 3.0 logs that it uses read times but its flags do not depend on them; nor do ours."""
    model, refs = random_ramp_model(5, (1, 8, 20, 21))
    plain_jwst, plain_ours = run_both(model, refs)
    model.meta.exposure.read_times = [[float(t)] for t in 3.0 * np.arange(8) ** 1.3]
    timed_jwst, timed_ours = run_both(model, refs)
    assert_array_equal(timed_jwst.groupdq, plain_jwst.groupdq)
    assert_array_equal(timed_ours.groupdq, plain_ours.groupdq)
    assert_array_equal(timed_ours.groupdq, timed_jwst.groupdq)


def test_whole_group_of_jumps_is_cleared_on_the_sigma_clip_path_as_in_jwst():
    rng = np.random.default_rng(3)
    data = rng.normal(50, 3, (101, 4, 3, 3)).astype(np.float32).cumsum(axis=1)
    data[7, 2:] += 5000  # every pixel jumps in integration 7, group 2
    model = make_ramp_model(data)
    model.groupdq[7, 2, 0, 0] = 32  # one pixel keeps its jump: it carries another bit
    refs = make_references((3, 3))
    expected, actual = run_both(model, refs)
    assert_same(expected, actual)
    assert actual.groupdq[7, 2, 0, 0] == 32 | 4 and actual.groupdq[7, 2, 1, 1] == 0


def test_a_group_all_jump_or_do_not_use_loses_its_jumps_and_their_neighbours_like_jwst():
    # sigma clipping: in integration 3, group 2 is DO_NOT_USE except at two pixels
    # whose jumps the search flags; jwst's rule then clears them, and no neighbour
    # of theirs may be flagged
    model, refs = random_ramp_model(3, (110, 5, 6, 7), saturate=False, jump_fraction=0.0)
    model.groupdq[3, 2] = DNU
    for row, col in ((2, 3), (4, 1)):
        model.groupdq[3, 2, row, col] = 0
        model.data[3, 2:, row, col] += 5000
    expected, actual = run_both(model, refs, min_jump_to_flag_neighbors=3)
    assert_same(expected, actual)
    assert not (actual.groupdq[3, 2] & 4).any()
    assert (actual.groupdq[3, 2] == DNU).sum() == 40  # nothing flagged around the cleared jumps
