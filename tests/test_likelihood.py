"""Specifications of the likelihood search (``method="likelihood"``): obvious ramps, the maths, invariants."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from conftest import make_ramp_model, make_references
from jumpdet import JumpParams, JumpStep, flags
from jumpdet._stats.ramp_likelihood import best_candidates, candidates_buffers, workspace, workspace_view
from jumpdet.likelihood import chi_square_thresholds, covariance_coefficients, frame_times
from jumpdet.params import params_from_step
from jumpdet.simulate.frames import simulate_frame_ramps
from jumpdet.simulate.ramps import simulate_ramp
from test_core import detect as detect_with

JUMP, SAT, DNU = flags.JUMP_DET, flags.SATURATED, flags.DO_NOT_USE


def detect(data, gdq=None, *, gain=1.0, read_noise=10.0, **params):
    """The core with the likelihood search, neighbours off unless asked (gain 1: DN are electrons)."""
    params = {"method": "likelihood", "flag_4_neighbors": False, **params}
    return detect_with(data, gdq, gain=gain, read_noise=read_noise, **params)


def pixel(ramp):
    return np.asarray(ramp, np.float32)[None, :, None, None]


def jumps_of(result):
    return (result.groupdq[0, :, 0, 0] & JUMP) != 0


# a frame-averaged readout (4 frames a group, 1 skipped), read noise only:
# a difference's noise is sqrt(2 * 5**2 / 4) = 3.5 electrons
GROUPED = {"nframes": 4, "groupgap": 1}


def grouped_ramp(jump_frame, jump_e, *, ngroups=8, rate=1.0, wiggle=()):
    """Noise-free averages of 4 frames (1 skipped) with a jump at ``jump_frame``, plus ``wiggle``."""
    frames = np.arange(ngroups * 5, dtype=np.float64)
    charge = rate * frames + np.where(frames >= jump_frame, jump_e, 0.0)
    groups = charge.reshape(ngroups, 5)[:, :4].mean(axis=1)
    groups[: len(wiggle)] += wiggle
    return groups


# small residuals, as read noise would leave them, so that the fit has a scale to judge by
WIGGLE = (0.0, 1.5, -1.0, 0.5, -1.5, 1.0, -0.5, 0.0)


def test_a_jump_split_across_two_differences_is_found_where_two_point_misses_it():
    # 27 e at frame 17, inside group 3 (frames 15-18): group 3 holds half of it, so the
    # differences on either side of it rise by 13.5 e each, about 4 times two-point's sigma
    # (sqrt(5 e + 5**2 / 4)) less the wiggles: it sees neither; the likelihood test sees the
    # whole jump, above its threshold for 13 tests (7 differences, 6 pairs) at 4 sigma a ramp
    ramp = grouped_ramp(17, 27.0, wiggle=WIGGLE)
    two_point = detect(pixel(ramp), read_noise=5.0, method="two_point", **GROUPED)
    likelihood = detect(pixel(ramp), read_noise=5.0, **GROUPED)
    assert not jumps_of(two_point).any()
    # both groups touching the jump: ramp fitting's segments then exclude it
    assert_array_equal(np.flatnonzero(jumps_of(likelihood)), [3, 4])


def test_a_jump_between_groups_flags_only_the_group_after_it():
    ramp = grouped_ramp(20, 60.0, wiggle=WIGGLE)  # frame 20 starts group 4
    assert_array_equal(np.flatnonzero(jumps_of(detect(pixel(ramp), read_noise=5.0, **GROUPED))), [4])


def test_one_frame_groups_flag_the_group_after_the_jump_as_two_point_does():
    ramp = 100 + 10 * np.arange(10.0) + np.array([0, 1, -1, 2, -2, 1, 0, -1, 1, 0])
    ramp[6:] += 300
    for method in ("two_point", "likelihood"):
        assert_array_equal(np.flatnonzero(jumps_of(detect(pixel(ramp), method=method))), [6])


def test_negative_jumps_are_found():
    ramp = 1000 + 10 * np.arange(8.0) + np.array([0, 1, -1, 2, -2, 1, 0, -1])
    ramp[5:] -= 200
    assert_array_equal(np.flatnonzero(jumps_of(detect(pixel(ramp)))), [5])


def test_two_jumps_in_one_ramp_are_both_found():
    ramp = 100 + 10 * np.arange(12.0) + np.tile([0.0, 1.5, -1.0, 0.5], 3)
    ramp[4:] += 400
    ramp[9:] += 300
    assert_array_equal(np.flatnonzero(jumps_of(detect(pixel(ramp)))), [4, 9])


def test_a_clean_curved_ramp_gets_no_flag():
    # a bright ramp whose rate falls by 10 % over the integration (uncorrected
    # non-linearity): differences of 2000 e drifting to 1800 e, against a photon noise of 44 e
    groups = np.arange(10.0)
    ramp = 2000 * groups - 11 * groups**2
    assert not jumps_of(detect(pixel(ramp))).any()


def test_clean_ramps_with_noise_get_few_flags_at_any_brightness():
    sim = simulate_frame_ramps(
        4000, ngroups=10, nframes=4, groupgap=1, flux=np.geomspace(0.1, 2000, 4000), read_noise_cds=12, seed=3
    )
    result = detect(sim.data, sim.groupdq, read_noise=12.0, **GROUPED)
    # 4000 x 10 groups; at 4 sigma about 10 tests a ramp each give 6e-5: expect ~3
    assert ((result.groupdq & JUMP) != 0).sum() <= 15


@pytest.mark.parametrize("bad", [SAT, DNU, SAT | DNU])
def test_unusable_groups_are_left_out_and_never_flagged(bad):
    ramp = 100 + 10 * np.arange(8.0) + np.array([0, 1, -1, 2, -2, 1, 0, -1])
    ramp[5:] += 500
    gdq = np.zeros((1, 8, 1, 1), np.uint8)
    gdq[0, 5:, 0, 0] = bad  # the jump is in the unusable groups
    assert not jumps_of(detect(pixel(ramp), gdq)).any()


def test_a_short_ramp_that_could_rise_early_or_fall_late_is_taken_to_rise():
    # 5 groups of 4 frames: differences high, high, low, low: a jump up inside group 1 or
    # a jump down inside group 3 fit equally well; cosmic rays add charge
    ramp = np.cumsum([0.0, 1150, 1150, 460, 470])
    assert_array_equal(np.flatnonzero(jumps_of(detect(pixel(ramp), read_noise=12.0, nframes=4))), [1, 2])


def test_a_jump_between_groups_does_not_take_its_neighbour_along():
    # a large jump in one difference, the next difference 2.5 sigma high by chance
    ramp = grouped_ramp(20, 200.0, wiggle=(0.0, 1.5, -1.0, 0.5, 9.0, 1.0, -0.5, 0.0))
    assert_array_equal(np.flatnonzero(jumps_of(detect(pixel(ramp), read_noise=5.0, **GROUPED))), [4])


def test_a_do_not_use_group_in_the_middle_hides_nothing_else():
    ramp = 100 + 10 * np.arange(10.0) + np.array([0, 1, -1, 2, -2, 1, 0, -1, 1, 0])
    ramp[3] = 1e6  # garbage, but DO_NOT_USE
    ramp[7:] += 400
    gdq = np.zeros((1, 10, 1, 1), np.uint8)
    gdq[0, 3] = DNU
    assert_array_equal(np.flatnonzero(jumps_of(detect(pixel(ramp), gdq))), [7])


@pytest.mark.parametrize(
    ("ngroups", "threshold_name"),
    [(3, "three_group_rejection_threshold"), (4, "four_group_rejection_threshold")],
)
def test_short_ramps_use_the_three_and_four_group_thresholds(ngroups, threshold_name):
    ramp = 100 + 10 * np.arange(ngroups) + np.array([0.0, 1.0, -1.0, 0.5])[:ngroups]
    ramp[ngroups - 1] += 200  # 200 e against differences of 10 e: with two, the noise of their
    # difference, sqrt(2 * (100 + 110) + 100) = 23 e (read noise, photon noise of the median rate)
    assert jumps_of(detect(pixel(ramp))).any()
    assert not jumps_of(detect(pixel(ramp), **{threshold_name: 50.0})).any()


def test_thresholds_are_sigma_equivalent_false_positive_rates_per_ramp():
    import scipy.special
    import scipy.stats

    params = JumpParams(
        rejection_threshold=4.0, four_group_rejection_threshold=5.0, three_group_rejection_threshold=6.0
    )
    # 1-frame groups: one test per usable difference, each with the ramp's rate over their number
    expected = [
        (scipy.stats.chi2.isf(p / u, 1), scipy.stats.chi2.isf(p / u, 2))
        for u, p in (
            (4, scipy.special.erfc(4 / np.sqrt(2))),
            (3, scipy.special.erfc(5 / np.sqrt(2))),
            (2, scipy.special.erfc(6 / np.sqrt(2))),
        )
    ]
    assert_allclose(chi_square_thresholds(params, 5)[[4, 3, 2], :2], expected, rtol=1e-10)
    assert np.isfinite(chi_square_thresholds(JumpParams(rejection_threshold=60.0), 5)[2:]).all()


def test_read_times_replace_nframes_and_groupgap():
    implied = JumpParams(nframes=4, groupgap=1)
    times = tuple(tuple(10.7 * (f + 1) for f in range(g * 5, g * 5 + 4)) for g in range(6))
    explicit = JumpParams(read_times_s=times)
    # a time unit changes nothing: only the times relative to each other matter
    assert_allclose(
        covariance_coefficients(explicit, 6)[:6],
        covariance_coefficients(implied, 6)[:6] * [[10.7], [1], [10.7], [1], [10.7], [1]],
    )
    with pytest.raises(ValueError, match="read_times"):
        frame_times(explicit, 7)


def _dense_improvements(d, use, rate, read_var, coef):
    """Chi-square improvements by brute force: the covariance as a matrix, rows and columns dropped."""
    n = d.size
    off = read_var * coef[3, : n - 1] + rate * coef[4, : n - 1]
    cov = np.diag(read_var * coef[1] + rate * coef[2]) + np.diag(off, 1) + np.diag(off, -1)
    dt = coef[0]

    def chi2(keep):
        inverse = np.linalg.inv(cov[np.ix_(keep, keep)])
        slope = dt[keep] @ inverse @ d[keep] / (dt[keep] @ inverse @ dt[keep])
        residual = d[keep] - slope * dt[keep]
        return residual @ inverse @ residual

    kept = np.flatnonzero(use)
    full = chi2(kept)
    one = max(full - chi2(kept[kept != k]) for k in kept)
    pairs = [k for k in range(n - 1) if use[k] and use[k + 1] and coef[5, k]]
    two = max((full - chi2(kept[(kept != k) & (kept != k + 1)]) for k in pairs), default=-1.0)
    return one, two


# frames per group and frames skipped: every readout jwst has, and more
READOUTS = {"nframes": st.integers(1, 8), "groupgap": st.integers(0, 4)}


@settings(max_examples=60, deadline=None)
@given(
    ngroups=st.integers(5, 12),
    **READOUTS,
    rate=st.floats(0, 100),
    read_var=st.floats(0.5, 200),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_recurrences_give_the_chi_square_improvements_of_the_dense_covariance(
    ngroups, nframes, groupgap, rate, read_var, seed
):
    rng = np.random.default_rng(seed)
    n = ngroups - 1
    coef = covariance_coefficients(JumpParams(nframes=nframes, groupgap=groupgap), ngroups)
    use = (rng.random((n, 1)) > 0.2).astype(float)
    if use.sum() < 4:
        use[:4] = 1.0
    d = rng.normal(0, 10, (n, 1)) * use
    ws, out = workspace_view(workspace(n), n, 1), candidates_buffers(1)
    thresholds = chi_square_thresholds(JumpParams(nframes=nframes, groupgap=groupgap), ngroups)
    best_candidates(d, use, np.array([rate]), np.array([read_var]), coef, thresholds, ws, out)
    one, two = _dense_improvements(d[:, 0], use[:, 0] > 0, rate, read_var, coef)
    assert_allclose(out.best_one[0], one, rtol=1e-7, atol=1e-9)
    assert_allclose(out.best_two[0], two, rtol=1e-7, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    workers=st.sampled_from([1, 2]),
    dtype=st.sampled_from(["<f4", ">f4", "<f8"]),
)
def test_flags_do_not_depend_on_threads_tiles_or_data_type(seed, workers, dtype):
    sim = simulate_frame_ramps(
        300, ngroups=7, nframes=2, groupgap=1, nints=2, flux=5.0, jumps_per_ramp=0.5, seed=seed % 1000
    )
    data = np.ascontiguousarray(sim.data.reshape(2, 7, 15, 20))
    reference = detect(data, read_noise=10.0, nframes=2, groupgap=1, flag_4_neighbors=True)
    other = detect(
        data.astype(dtype), read_noise=10.0, nframes=2, groupgap=1, flag_4_neighbors=True, max_workers=workers
    )
    assert_array_equal(other.groupdq, reference.groupdq)


def test_neighbours_of_a_jump_of_significance_between_the_limits_are_flagged():
    # read noise 10 e: one difference has a noise of 10 e; a 300 e jump is 30 sigma
    data = np.tile(100 + 10 * np.arange(8.0), (3, 3, 1)).T[None].astype(np.float32)  # (1, 8, 3, 3)
    data += np.random.default_rng(0).normal(0, 1, data.shape).astype(np.float32)
    data[0, 5:, 1, 1] += 300
    flagged = detect(data, flag_4_neighbors=True).groupdq[0, 5] & JUMP
    assert_array_equal(flagged != 0, [[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    for low, high in ((40.0, 1000.0), (10.0, 20.0)):
        outside = detect(
            data, flag_4_neighbors=True, min_jump_to_flag_neighbors=low, max_jump_to_flag_neighbors=high
        )
        assert_array_equal(outside.groupdq[0, 5] & JUMP != 0, [[0, 0, 0], [0, 1, 0], [0, 0, 0]])


def test_groups_after_a_large_jump_are_flagged_by_its_fitted_amplitude():
    ramp = 100 + 10 * np.arange(10.0) + np.array([0, 1, -1, 2, -2, 1, 0, -1, 1, 0])
    ramp[3:] += 500
    after = {"after_jump_flag_e1": 400.0, "after_jump_flag_groups1": 2}
    assert_array_equal(np.flatnonzero(jumps_of(detect(pixel(ramp), **after))), [3, 4, 5])
    too_high = {"after_jump_flag_e1": 600.0, "after_jump_flag_groups1": 2}
    assert_array_equal(np.flatnonzero(jumps_of(detect(pixel(ramp), **too_high))), [3])


def test_input_jump_flags_are_kept_and_counted_but_trigger_nothing():
    ramp = 100 + 10 * np.arange(8.0) + np.array([0, 1, -1, 2, -2, 1, 0, -1])
    gdq = np.zeros((1, 8, 1, 1), np.uint8)
    gdq[0, 2] = JUMP
    result = detect(pixel(ramp), gdq, after_jump_flag_e1=0.0, after_jump_flag_groups1=3)
    assert_array_equal(np.flatnonzero(jumps_of(result)), [2])
    assert result.stats.primary_jumps == 1 and result.stats.plan.path == "likelihood"


def test_the_step_runs_the_likelihood_search_when_asked():
    clean = grouped_ramp(99, 0.0, wiggle=WIGGLE)  # no jump
    data = np.tile(clean[None, :, None, None], (1, 1, 4, 4)).astype(np.float32)
    data[0, :, 1, 1] = grouped_ramp(17, 27.0, wiggle=WIGGLE)
    model = make_ramp_model(data, nframes=4, group_time=5.0, instrument="NIRCAM", detector="NRCA1")
    model.meta.exposure.groupgap = 1
    gain, read_noise = make_references((4, 4), gain=1.0, read_noise=5.0, instrument="NIRCAM")
    common = {"override_gain": gain, "override_readnoise": read_noise, "flag_4_neighbors": False}
    likelihood = JumpStep.call(model, method="likelihood", **common)
    two_point = JumpStep.call(model, **common)
    assert likelihood.meta.cal_step.jump == "COMPLETE"
    assert_array_equal(np.flatnonzero(likelihood.groupdq[0, :, 1, 1] & JUMP), [3, 4])
    assert not likelihood.groupdq[0, :, 0, 0].any()
    assert not (two_point.groupdq[0, :, 1, 1] & JUMP).any()


def test_the_step_passes_groupgap_and_read_times_to_the_core():
    step = JumpStep(method="likelihood")
    times = [[1.0, 2.0], [4.0, 5.0], [7.0, 8.0]]
    params = params_from_step(
        step, group_time_s=3.0, nframes=2, gain=np.ones((2, 2)), groupgap=1, read_times=times
    )
    assert params.method == "likelihood" and params.groupgap == 1
    assert params.read_times_s == ((1.0, 2.0), (4.0, 5.0), (7.0, 8.0))
    assert (
        params_from_step(step, group_time_s=3.0, nframes=2, gain=np.ones((2, 2)), read_times=[]).read_times_s
        is None
    )


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method"):
        JumpParams(method="three_point")


@settings(max_examples=40, deadline=None)
@given(
    ngroups=st.integers(3, 30),
    **READOUTS,
    rate=st.floats(0.0, 5000.0),
    read_noise=st.floats(1.0, 30.0),
)
def test_a_straight_noise_free_ramp_is_never_flagged(ngroups, nframes, groupgap, rate, read_noise):
    frames = np.arange(ngroups * (nframes + groupgap), dtype=np.float64).reshape(ngroups, -1)
    ramp = rate * frames[:, :nframes].mean(axis=1)
    assert not jumps_of(detect(pixel(ramp), read_noise=read_noise, nframes=nframes, groupgap=groupgap)).any()


@settings(max_examples=40, deadline=None)
@given(
    ngroups=st.integers(6, 20),  # with 5 groups a fall in the last two differences is read as a rise
    nframes=st.integers(1, 6),
    groupgap=st.integers(0, 3),
    frame_fraction=st.floats(0.0, 1.0),
    sign=st.sampled_from([1.0, -1.0]),
    seed=st.integers(0, 1000),
)
def test_a_large_jump_is_flagged_on_the_groups_it_changes(
    ngroups, nframes, groupgap, frame_fraction, sign, seed
):
    step = nframes + groupgap
    # a frame read by some group after the first, so that the jump changes at least one difference fully
    first_frame, last_frame = step, (ngroups - 2) * step + nframes - 1
    jump_frame = int(first_frame + frame_fraction * (last_frame - first_frame))
    frames = np.arange(ngroups * step, dtype=np.float64)
    rng = np.random.default_rng(seed)
    charge = 20.0 * frames + np.where(frames >= jump_frame, sign * 3000.0, 0.0)
    ramp = charge.reshape(ngroups, step)[:, :nframes].mean(axis=1) + rng.normal(0, 2.0, ngroups)
    flagged = np.flatnonzero(
        jumps_of(detect(pixel(ramp), read_noise=5.0, nframes=nframes, groupgap=groupgap))
    )
    group = -(-(jump_frame - nframes + 1) // step)  # the first group whose last frame has the jump
    inside = group * step < jump_frame  # then the group averages frames before and after it
    assert flagged.tolist() == ([group, group + 1] if inside else [group])


def test_likelihood_jumps_are_primary_in_the_catalogue_with_difference_and_significance():
    from jumpdet.detect import detect_jumps_inplace
    from jumpdet.recording import CAUSES

    ramp = grouped_ramp(17, 60.0, wiggle=WIGGLE)  # inside group 3: groups 3 and 4 flagged
    data = np.tile(pixel(ramp), (1, 1, 3, 3))
    data[0, :, 0, 0] = grouped_ramp(99, 0.0, wiggle=WIGGLE)  # a clean pixel among them
    gdq = np.zeros(data.shape, np.uint8)
    ones = np.ones((3, 3), np.float32)
    params = JumpParams(method="likelihood", flag_4_neighbors=False, **GROUPED)
    record = detect_jumps_inplace(
        data, gdq, np.zeros((3, 3), np.uint32), gain=ones, read_noise=5 * ones, params=params, record=True
    ).record
    primary = record.cause == CAUSES.index("primary")
    assert primary.all() and primary.sum() == 2 * 8  # two groups in each of the 8 jumped pixels
    assert_array_equal(np.unique(record.group), [3, 4])
    assert_allclose(
        record.difference_dn,
        data[0, record.group, record.y, record.x] - data[0, record.group - 1, record.y, record.x],
    )
    assert (record.significance_sigma > 10).all()  # 60 e against about 3.5 e of one difference


def test_likelihood_catalogue_differences_are_the_searchs_electrons():
    from jumpdet.detect import detect_jumps_inplace

    data = np.tile(pixel(grouped_ramp(17, 60.0, wiggle=WIGGLE)), (1, 1, 2, 2)) * np.float32(1.3)
    gain = np.full((2, 2), 1.7, np.float32)
    params = JumpParams(method="likelihood", flag_4_neighbors=False, **GROUPED)
    record = detect_jumps_inplace(
        data, np.zeros(data.shape, np.uint8), np.zeros((2, 2), np.uint32), gain=gain,
        read_noise=np.full((2, 2), 4.0, np.float32), params=params, record=True,
    ).record  # fmt: skip
    assert record.group.size
    later = data[0, record.group, record.y, record.x]
    earlier = data[0, record.group - 1, record.y, record.x]
    assert_array_equal(record.difference_dn, later - earlier)
    # each group in float32 electrons, then their difference: what the search compares
    assert_array_equal(record.difference_e, later * gain[0, 0] - earlier * gain[0, 0])


def _primary_record(data, **params):
    from jumpdet.detect import detect_jumps_inplace

    nrows, ncols = data.shape[2:]
    ones = np.ones((nrows, ncols), np.float32)
    return detect_jumps_inplace(
        data,
        np.zeros(data.shape, np.uint8),
        np.zeros((nrows, ncols), np.uint32),
        gain=ones,
        read_noise=params.pop("read_noise", 5.0) * ones,
        params=JumpParams(method="likelihood", flag_4_neighbors=False, **params),
        record=True,
    ).record


def test_a_group_that_stands_out_alone_is_a_rise_and_a_fall_each_with_its_significance():
    # group 3 alone 20 e high (a glitch, not a step): its two differences move by +20 and -20 e.
    # Leaving both out explains it best, but a step inside the group puts parts of one sign in
    # both, so the pair is no candidate: two single jumps, each about 6 sigma. (Before, the pair
    # was flagged and the catalogue gave it its summed offsets, 0 e: 0.2 sigma.)
    ramp = grouped_ramp(99, 0.0, wiggle=WIGGLE)
    ramp[3] += 20.0
    record = _primary_record(np.tile(pixel(ramp), (1, 1, 1, 2)), **GROUPED)
    assert_array_equal(record.group, [3, 3, 4, 4])
    assert (record.significance_sigma > 5.5).all()


def test_catalogue_significance_is_the_tested_statistic_never_below_the_threshold():
    # frame-level ramps with jumps of 3 to 30 sigma, inside groups and between them: every
    # primary row carries the Gaussian sigma of the test that flagged it, above the ramp's
    # threshold (each of its tests gets a smaller rate than the ramp's)
    sim = simulate_frame_ramps(
        3000, ngroups=8, nframes=4, groupgap=1, flux=5.0, read_noise_cds=12.0,
        jumps_per_ramp=0.5, significance=(3.0, 30.0), seed=5,
    )  # fmt: skip
    record = _primary_record(sim.data, read_noise=12.0, rejection_threshold=4.0, **GROUPED)
    assert record.group.size > 500
    assert (record.significance_sigma > 4.0).all()


@pytest.mark.parametrize("method", ["two_point", "likelihood"])
def test_the_threshold_log_line_says_what_the_threshold_is(method, caplog):
    data = np.tile(grouped_ramp(99, 0.0, wiggle=WIGGLE)[None, :, None, None], (1, 1, 2, 2))
    model = make_ramp_model(data.astype(np.float32), nframes=4, group_time=5.0, instrument="NIRCAM")
    gain, read_noise = make_references((2, 2), gain=1.0, read_noise=5.0, instrument="NIRCAM")
    with caplog.at_level("INFO", logger="jumpdet"):
        JumpStep.call(model, method=method, override_gain=gain, override_readnoise=read_noise)
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("Jump threshold"))
    if method == "likelihood":
        assert line == (
            "Jump threshold: per ramp (one integration of one pixel), the false-positive rate of "
            "4 sigma with 4 or more usable differences, 5 with 3, 6 with 2, shared among the ramp's tests"
        )
    else:  # jwst's meaning: each difference against its own noise
        assert (
            line == "Jump threshold: 4 sigma for pixels with 4 or more usable differences, 5 with 3, 6 with 2"
        )


def test_catalogue_significance_is_each_pixels_own_search_whatever_surrounds_it():
    # the search lists each flag as it sets it; a pixel's result never depends on the
    # others, so a pixel searched alone gives the same flags and significance
    sim = simulate_ramp((2, 9, 12, 10), seed=4, jump_fraction=0.03, nframes=4)
    record = _primary_record(sim.data, read_noise=8.0, **GROUPED)
    assert record.group.size > 20
    for y, x in {(int(y), int(x)) for y, x in zip(record.y, record.x, strict=True)}:
        alone = _primary_record(sim.data[:, :, y : y + 1, x : x + 1], read_noise=8.0, **GROUPED)
        here = (record.y == y) & (record.x == x)
        assert_array_equal(alone.significance_sigma, record.significance_sigma[here])
        assert_array_equal(alone.group, record.group[here])


def test_a_tile_with_more_flags_than_its_listing_has_room_for_is_listed_whole():
    # 40 x 40 pixels of 9 differences: room for 1024 flags; a jump inside a group in
    # every pixel sets 3200, so the tile is searched again with room for them all
    ramp = grouped_ramp(17, 60.0, wiggle=WIGGLE, ngroups=10)
    data = np.tile(pixel(ramp), (1, 1, 40, 40))
    record = _primary_record(data, **GROUPED)
    assert record.group.size == 2 * 40 * 40
    assert np.unique(record.significance_sigma).size == 1 and record.significance_sigma[0] > 10
