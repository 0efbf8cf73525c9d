"""jumpdet.JumpStep against jwst.jump.JumpStep on the same randomized ramps: identical DQ.

Each case builds noisy ramps (Poisson + read noise, seeded) with random jumps of both
signs, saturation, NaNs, DO_NOT_USE groups and bad-gain pixels, then runs both steps
with the same in-memory references and parameters.

Every case must exercise what its name claims, or it would pass whatever jumpdet did:
jwst flags jumps on it, it takes the detection path the table names, and its
non-default parameters change the flags (each exception states its reason).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwst.jump import JumpStep as JwstJumpStep
from numpy.testing import assert_array_equal

from conftest import examples, make_ramp_model, make_references
from jumpdet import JumpStep
from jumpdet.catalog import read_catalog
from jumpdet.exposure import all_do_not_use_groups
from jumpdet.params import params_from_step
from jumpdet.plan import plan_detection
from jumpdet.references.loading import load_references

pytestmark = pytest.mark.oracle

SAT, DNU, JUMP_DET = 2, 1, 4


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


def run_both(model, refs, ours=None, **params):
    """jwst's step and ours with the same parameters (``ours``: extra ones for jumpdet only)."""
    kwargs = dict(override_gain=refs[0], override_readnoise=refs[1], **params)
    return JwstJumpStep.call(model, **kwargs), JumpStep.call(model, **kwargs, **(ours or {}))


def assert_same(expected, actual):
    assert_array_equal(actual.groupdq, expected.groupdq)
    assert_array_equal(actual.pixeldq, expected.pixeldq)
    assert actual.meta.exposure.primary_cosmic_rays == expected.meta.exposure.primary_cosmic_rays
    assert actual.meta.exposure.extended_emission_events == expected.meta.exposure.extended_emission_events


ITERATIVE, SINGLE_PASS, SIGMA_CLIP = "iterative", "single_pass", "sigma_clip"
CASES = {
    # name: (shape, model options, step parameters, detection path)
    "iterative_3_groups": ((1, 3, 30, 31), {}, {}, ITERATIVE),
    "iterative_4_groups": ((1, 4, 30, 31), {}, {}, ITERATIVE),
    "iterative_several_ints": ((4, 5, 20, 21), {}, {}, ITERATIVE),
    "iterative_10_groups_neighbours": ((1, 10, 40, 41), {}, {"min_jump_to_flag_neighbors": 4}, ITERATIVE),
    "iterative_first_last_dnu": ((2, 10, 25, 26), {"dnu_first_last": True}, {}, ITERATIVE),
    "iterative_nans": ((2, 8, 25, 26), {"nan_fraction": 0.01}, {}, ITERATIVE),
    "iterative_nframes4": ((1, 6, 25, 26), {"nframes": 4}, {}, ITERATIVE),
    "iterative_subarray": ((1, 7, 64, 72), {"subarray": ("SUB64", 33, 65)}, {}, ITERATIVE),
    "single_pass_12_groups": ((1, 12, 30, 31), {}, {}, SINGLE_PASS),
    "single_pass_100_groups": ((1, 100, 12, 13), {}, {}, SINGLE_PASS),
    "single_pass_two_ints": (
        (2, 20, 20, 21),
        {"nan_fraction": 0.005},
        {"min_jump_to_flag_neighbors": 5},
        SINGLE_PASS,
    ),
    "after_jump": (
        (1, 20, 20, 21),
        {},
        {
            "after_jump_flag_dn1": 100,
            "after_jump_flag_time1": 10,
            "after_jump_flag_dn2": 500,
            "after_jump_flag_time2": 25,
        },
        SINGLE_PASS,
    ),
    "after_jump_iterative": (
        (3, 6, 20, 21),
        {},
        {"after_jump_flag_dn1": 50, "after_jump_flag_time1": 6},
        ITERATIVE,
    ),
    "no_neighbours": ((1, 10, 20, 21), {}, {"flag_4_neighbors": False}, ITERATIVE),
    # without neighbours (and with or without after-jump groups) the search keeps no medians
    "no_neighbours_single_pass": ((1, 20, 20, 21), {}, {"flag_4_neighbors": False}, SINGLE_PASS),
    "no_neighbours_long": ((101, 4, 5, 6), {}, {"flag_4_neighbors": False}, SIGMA_CLIP),
    "after_jump_no_neighbours_long": (
        (101, 4, 5, 6),
        {"jump_fraction": 0.02},
        {"flag_4_neighbors": False, "after_jump_flag_dn1": 50, "after_jump_flag_time1": 6},
        SIGMA_CLIP,
    ),
    "thresholds": (
        (1, 6, 20, 21),
        {},
        {
            "rejection_threshold": 3.0,
            "three_group_rejection_threshold": 4.5,
            "four_group_rejection_threshold": 3.5,
        },
        ITERATIVE,
    ),
    "sigma_clip_ints": ((110, 5, 6, 7), {}, {}, SIGMA_CLIP),
    "sigma_clip_ints_nans": (
        (105, 4, 6, 7),
        {"nan_fraction": 0.01},
        {"min_jump_to_flag_neighbors": 3},
        SIGMA_CLIP,
    ),
    "sigma_clip_all_groups": ((25, 6, 6, 7), {}, {"only_use_ints": False}, SIGMA_CLIP),
    "sigma_clip_lower_minimum": ((30, 5, 6, 7), {}, {"minimum_sigclip_groups": 20}, SIGMA_CLIP),
    "many_jumps": ((1, 9, 20, 21), {"jump_fraction": 0.2}, {"min_jump_to_flag_neighbors": 2}, ITERATIVE),
    # long ramps: post-processing selects medians pixel by pixel (above NETWORK_LIMIT), and
    # beyond ROW_NETWORK_LIMIT the search sorts column by column
    "single_pass_300_groups": (
        (1, 300, 5, 6),
        {"nan_fraction": 0.01},
        {"min_jump_to_flag_neighbors": 4},
        SINGLE_PASS,
    ),
    "single_pass_8200_groups": ((1, 8200, 2, 3), {}, {}, SINGLE_PASS),
    # long ramps with many jumped pixels in a row: post-processing sorts them with the network
    "sigma_clip_wide_rows": (
        (101, 4, 3, 40),
        {"jump_fraction": 0.02},
        {"min_jump_to_flag_neighbors": 3},
        SIGMA_CLIP,
    ),
    "single_pass_wide_rows": (
        (1, 300, 2, 40),
        {"jump_fraction": 0.01},
        {"min_jump_to_flag_neighbors": 3},
        SINGLE_PASS,
    ),
    # 40 integrations, fewer than minimum_sigclip_groups (100): the iterative search pools them
    "iterative_pooled_over_many_ints": ((40, 8, 6, 7), {}, {}, ITERATIVE),
    # 505 differences a pixel pooled (beyond the sorting networks); with 4 groups instead of 5
    # pooling would change no flag on seed 1
    "sigma_clip_all_groups_long": ((101, 5, 5, 6), {}, {"only_use_ints": False}, SIGMA_CLIP),
}


def detection_path(model, refs, **params):
    """The path jumpdet's plan takes on the step's inputs, from GROUPDQ and the parameters."""
    step = JumpStep(override_gain=refs[0], override_readnoise=refs[1], **params)
    exposure = model.meta.exposure
    core = params_from_step(
        step,
        group_time_s=exposure.group_time,
        nframes=exposure.nframes,
        gain=load_references(step, model).gain,
    )
    return plan_detection(all_do_not_use_groups(model.groupdq), core).path


def assert_case_is_not_vacuous(model, refs, expected, params, path):
    """jwst flags new jumps, the case takes its path, and its parameters change the flags."""
    new_jumps = (expected.groupdq & JUMP_DET) & ~(model.groupdq & JUMP_DET)
    assert np.count_nonzero(new_jumps) > 0, "jwst flags no jump on this case"
    assert detection_path(model, refs, **params) == path
    if params:  # jumpdet's flags equal jwst's, so jumpdet's defaults stand for jwst's
        defaults = JumpStep.call(model, override_gain=refs[0], override_readnoise=refs[1])
        changed = detection_path(model, refs) != path or np.any(defaults.groupdq != expected.groupdq)
        assert changed, f"the parameters {params} change neither the path nor the flags on this case"


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_flags_as_jwst(case, seed, tmp_path):
    shape, options, params, path = CASES[case]
    model, refs = random_ramp_model(seed, shape, **options)
    # seed 1 with the jump catalogue on: the flags do not depend on it, and it lists the flags set
    ours = {"save_jump_catalog": True, "output_dir": str(tmp_path)} if seed else None
    expected, actual = run_both(model, refs, ours, **params)
    assert_same(expected, actual)
    assert_case_is_not_vacuous(model, refs, expected, params, path)
    if seed:
        table = read_catalog(tmp_path / "test_jumpcat.ecsv")
        listed = {tuple(int(v) for v in row) for row in table["integration", "group", "y", "x"]}
        new = (actual.groupdq & ~model.groupdq & JUMP_DET) != 0
        assert listed == {tuple(map(int, p)) for p in np.argwhere(new)} and len(table) == len(listed)


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


# Random ramps and parameters: every path and option at once, in combinations no case above
# names. jwst runs in one process (its default); jumpdet with any maximum_cores. minimum_groups
# stays 3: jwst's single process replaces any other value by 3 (docs/deviations.rst).
SHAPES = {
    "few_groups": st.tuples(st.integers(1, 3), st.integers(3, 13), st.integers(2, 29), st.integers(2, 32)),
    "single_pass": st.tuples(st.just(1), st.integers(11, 59), st.integers(2, 11), st.integers(2, 11)),
    "sigma_clip": st.tuples(st.integers(95, 129), st.integers(3, 5), st.integers(2, 5), st.integers(2, 6)),
    "word_rows": st.tuples(st.integers(1, 2), st.integers(3, 8), st.just(64), st.sampled_from([63, 64, 72])),
}
PARAMETERS = {
    "rejection_threshold": st.floats(3.0, 6.0),
    "three_group_rejection_threshold": st.floats(4.0, 8.0),
    "four_group_rejection_threshold": st.floats(3.5, 7.0),
    "flag_4_neighbors": st.booleans(),
    "min_jump_to_flag_neighbors": st.floats(1.0, 20.0),
    "max_jump_to_flag_neighbors": st.floats(20.0, 2000.0),
    "after_jump_flag_dn1": st.floats(0.0, 500.0),
    "after_jump_flag_time1": st.floats(0.0, 40.0),
    "after_jump_flag_dn2": st.floats(0.0, 2000.0),
    "after_jump_flag_time2": st.floats(0.0, 100.0),
    "min_diffs_single_pass": st.integers(3, 30),
    "minimum_sigclip_groups": st.integers(20, 150),
    "only_use_ints": st.booleans(),
}


@st.composite
def random_cases(draw):
    """(seed, shape, ramp options, step parameters, jumpdet's maximum_cores)."""
    shape = draw(st.sampled_from(sorted(SHAPES)).flatmap(SHAPES.get))
    options = {
        "nframes": draw(st.sampled_from([1, 1, 2, 4])),
        "nan_fraction": draw(st.sampled_from([0.0, 0.0, 0.01, 0.05])),
        "dnu_first_last": draw(st.booleans()),
        "saturate": draw(st.booleans()),
        "jump_fraction": draw(st.sampled_from([0.001, 0.01, 0.05, 0.2])),
    }
    names = draw(st.sets(st.sampled_from(sorted(PARAMETERS)), max_size=6))
    params = {name: draw(PARAMETERS[name]) for name in sorted(names)}
    cores = draw(st.sampled_from(["1", "2", "half", "all"]))
    return draw(st.integers(0, 2**31)), shape, options, params, cores


@pytest.mark.slow
@settings(max_examples=examples(dev=40), suppress_health_check=[HealthCheck.too_slow])
@given(case=random_cases())
def test_random_ramps_and_parameters_give_jwsts_flags(case):
    seed, shape, options, params, cores = case
    model, refs = random_ramp_model(seed, shape, **options)
    expected, actual = run_both(model, refs, {"maximum_cores": cores}, **params)
    assert_array_equal(actual.groupdq, expected.groupdq)
    assert_array_equal(actual.pixeldq, expected.pixeldq)
    rate = expected.meta.exposure.primary_cosmic_rays
    if rate is not None and rate < 0:  # a skipped search: jwst's -99 sentinel as a rate (docs/deviations)
        assert actual.meta.exposure.primary_cosmic_rays is None
    else:
        assert actual.meta.exposure.primary_cosmic_rays == rate
