"""Snowballs and MIRI showers through the whole step: jumpdet.JumpStep flags what jwst.jump.JumpStep flags.

Seeded synthetic ramps from :mod:`jumpdet.simulate.events` (NIRCam-like snowballs,
MIRI-like showers) go through both steps with the same in-memory references and
the same large-event parameters; GROUPDQ, PIXELDQ and the two rates written to
the metadata must be identical. Every case must be about something: jwst has to
find events on it, the events have to change jwst's flags, and a non-default
parameter has to change them too (else the case would pass whatever jumpdet did
with that parameter).

Then jwst's own rules that jumpdet keeps for parity, each shown on a hand-made
ramp, and the one deliberate difference: NGROUPS == 2 below the step
(see docs/large_events.rst).
"""

import functools
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwst.jump import JumpStep as JwstJumpStep
from numpy.testing import assert_array_equal
from stcal.jump import jump as stcal_jump
from stcal.jump.jump_class import JumpData
from stdatamodels.jwst.datamodels import dqflags

from conftest import examples, linear_ramps, make_ramp_model, make_references
from jumpdet import JumpParams, JumpStep, detect_jumps
from jumpdet.params import params_from_step
from jumpdet.simulate.events import shower_ramp, snowball_ramp

pytestmark = pytest.mark.oracle

SAT, JUMP_DET = dqflags.group["SATURATED"], dqflags.group["JUMP_DET"]
DROPOUT, PERSISTENCE = dqflags.group["DROPOUT"], dqflags.group["PERSISTENCE"]
DO_NOT_USE = dqflags.group["DO_NOT_USE"]


def snowballs(**options):
    """NIRCam-like ramp: snowball cores of radius 1 to 8 px and axis ratio 0.55 to 1, 30 % of them
    centred in (or just off) the 25-px edge band, 40 % arriving over two groups; cosmic rays,
    and a bright star that saturates without jumps."""
    defaults = dict(cosmic_rays_per_group=20, n_stars=1, edge_fraction=0.3, two_group_fraction=0.4)
    return functools.partial(snowball_ramp, **{**defaults, **options})


def showers(**options):
    """MIRI-like ramp: faint elliptical showers around bright hits, cosmic rays, first and last
    groups DO_NOT_USE, reference-pixel columns (the right ones also DO_NOT_USE)."""
    return functools.partial(shower_ramp, **{"cosmic_rays_per_group": 20, **options})


def with_other_flags(simulate, seed):
    """The ramp with DROPOUT/PERSISTENCE on 1 % of its groups and a few zero-gain pixels.

    jwst's shower search blanks groups whose GROUPDQ *equals* one of a few values, so
    groups carrying other bits stay in; bad gain adds NO_GAIN_VALUE | DO_NOT_USE to PIXELDQ.
    """

    def build():
        ramp = simulate()
        rng = np.random.default_rng(seed)
        groupdq, gain = ramp.groupdq.copy(), ramp.gain.copy()
        odd = rng.random(groupdq.shape) < 0.01
        groupdq[odd] |= rng.choice(np.array([DROPOUT, PERSISTENCE], np.uint8), np.count_nonzero(odd))
        gain[rng.random(gain.shape) < 0.002] = 0.0
        return ramp._replace(groupdq=groupdq, gain=gain)

    return build


# Ramps are built once per session, by name.
RAMPS = {
    "nircam_1int": snowballs(nints=1, ngroups=6, shape=(160, 160), n_snowballs=10, seed=1),
    "nircam_3ints": snowballs(nints=3, ngroups=5, shape=(160, 160), n_snowballs=18, seed=2),
    # wider than tall: jwst's edge band compares columns with the number of rows
    "nircam_wide": snowballs(nints=1, ngroups=5, shape=(128, 256), n_snowballs=12, seed=3),
    "nircam_3ints_other_flags": with_other_flags(
        snowballs(nints=3, ngroups=5, shape=(128, 128), n_snowballs=12, seed=8), seed=9
    ),
    # 30 groups of one integration: single-pass two-point search, median-difference shower search
    "miri_30groups": showers(nints=1, ngroups=30, shape=(128, 136), n_showers=4, radius=(8, 20), seed=4),
    "miri_2ints": showers(nints=2, ngroups=15, shape=(128, 136), n_showers=8, radius=(4, 16), seed=5),
    # 100 integrations: sigma clipping across integrations, for jumps and for showers
    "miri_100ints": showers(
        nints=100, ngroups=8, shape=(48, 56), n_showers=8, cosmic_rays_per_group=4, radius=(7, 12), seed=6
    ),
    "miri_2ints_other_flags": with_other_flags(
        showers(nints=2, ngroups=15, shape=(128, 136), n_showers=8, radius=(4, 16), seed=10), seed=11
    ),
}
SNOWBALLS = {"expand_large_events": True}
SHOWERS = {"find_showers": True}

SNOWBALL_CASES = {
    # id: (ramp, step parameters besides expand_large_events=True)
    "defaults": ("nircam_1int", {}),
    "defaults_3ints_cores_masked_next_int": ("nircam_3ints", {}),
    "cores_not_masked_next_int": ("nircam_3ints", {"mask_snowball_core_next_int": False}),
    # 30 s / 10.737 s per group -> 2 whole groups: cores flagged in group 1 of the next integration only
    "cores_masked_for_30s": ("nircam_3ints", {"snowball_time_masked_next_int": 30}),
    "non_square_frame": ("nircam_wide", {}),
    "other_dq_flags_and_bad_gain": ("nircam_3ints_other_flags", {}),
    "sat_expand_5": ("nircam_1int", {"sat_expand": 5}),
    "sat_expand_0": ("nircam_1int", {"sat_expand": 0}),
    "min_sat_area_40": ("nircam_1int", {"min_sat_area": 40.0}),
    "min_jump_area_30": ("nircam_1int", {"min_jump_area": 30.0}),
    "expand_factor_3": ("nircam_1int", {"expand_factor": 3.0}),
    "expand_factor_1.3": ("nircam_1int", {"expand_factor": 1.3}),
    "edge_size_0": ("nircam_1int", {"edge_size": 0}),
    "edge_size_60": ("nircam_wide", {"edge_size": 60}),
    "saturation_not_required": ("nircam_1int", {"sat_required_snowball": False}),
    "saturation_not_required_3ints": ("nircam_3ints", {"sat_required_snowball": False}),
    "max_extended_radius_4": ("nircam_1int", {"max_extended_radius": 4}),
    "min_sat_radius_extend_1": ("nircam_1int", {"min_sat_radius_extend": 1.0}),
    "min_sat_radius_extend_8": ("nircam_1int", {"min_sat_radius_extend": 8.0}),
    "several_at_once": (
        "nircam_3ints",
        {"sat_expand": 3, "expand_factor": 2.5, "edge_size": 10, "min_sat_area": 3.0, "min_jump_area": 8.0},
    ),
}

SHOWER_CASES = {
    "defaults_single_pass": ("miri_30groups", {}),
    "defaults_2ints": ("miri_2ints", {}),
    "defaults_sigma_clip": ("miri_100ints", {}),
    "other_dq_flags_and_bad_gain": ("miri_2ints_other_flags", {}),
    "extend_snr_threshold_1.5": ("miri_30groups", {"extend_snr_threshold": 1.5}),
    "extend_snr_threshold_1.1_sigma_clip": ("miri_100ints", {"extend_snr_threshold": 1.1}),
    "extend_min_area_40": ("miri_2ints", {"extend_min_area": 40}),
    "extend_min_area_500": ("miri_30groups", {"extend_min_area": 500}),
    "ring_radii_1.5_3.5": ("miri_30groups", {"extend_inner_radius": 1.5, "extend_outer_radius": 3.5}),
    "ring_radii_0.5_2_sigma_clip": ("miri_100ints", {"extend_inner_radius": 0.5, "extend_outer_radius": 2.0}),
    "extend_ellipse_expand_ratio_1.6": ("miri_30groups", {"extend_ellipse_expand_ratio": 1.6}),
    # 5.5 s / 2.775 s per group -> 1 whole group after the shower
    "time_masked_after_shower_5.5s": ("miri_30groups", {"time_masked_after_shower": 5.5}),
    "time_masked_after_shower_0": ("miri_2ints", {"time_masked_after_shower": 0.0}),
    "time_masked_after_shower_60s": ("miri_30groups", {"time_masked_after_shower": 60.0}),
    "time_masked_after_shower_3s_sigma_clip": ("miri_100ints", {"time_masked_after_shower": 3.0}),
    "max_extended_radius_5": ("miri_30groups", {"max_extended_radius": 5}),
    # both stages: showers see the snowball flags, and the rate counts showers only
    "snowballs_too": ("miri_2ints", {"expand_large_events": True}),
}


class Flags(NamedTuple):
    """What the two steps must agree on."""

    groupdq: np.ndarray
    pixeldq: np.ndarray
    primary_cosmic_rays: float | None
    extended_emission_events: float | None


def flags(model) -> Flags:
    exposure = model.meta.exposure
    return Flags(
        model.groupdq, model.pixeldq, exposure.primary_cosmic_rays, exposure.extended_emission_events
    )


def assert_same(expected: Flags, actual: Flags):
    assert_array_equal(actual.groupdq, expected.groupdq)
    assert_array_equal(actual.pixeldq, expected.pixeldq)
    assert actual.primary_cosmic_rays == expected.primary_cosmic_rays
    assert actual.extended_emission_events == expected.extended_emission_events


@functools.cache
def ramp_named(name):
    return RAMPS[name]()


def run(step_class, name, **params) -> Flags:
    """Run a step on a fresh RampModel of the named ramp, with its gain and read noise as overrides."""
    return run_on(step_class, ramp_named(name), nircam=name.startswith("nircam"), **params)


def run_on(step_class, ramp, *, nircam: bool, **params) -> Flags:
    """Run a step on a fresh RampModel of ``ramp`` (NIRCam or MIRI), its gain and read noise as overrides."""
    instrument, detector = ("NIRCAM", "NRCA1") if nircam else ("MIRI", "MIRIMAGE")
    model = make_ramp_model(
        ramp.data.copy(),
        groupdq=ramp.groupdq.copy(),
        group_time=ramp.group_time,
        nframes=ramp.nframes,
        instrument=instrument,
        detector=detector,
    )
    model.pixeldq = ramp.pixeldq.copy()
    gain, readnoise = make_references(ramp.data.shape[2:], instrument=instrument)
    gain.data[...] = ramp.gain
    readnoise.data[...] = ramp.read_noise
    return flags(step_class.call(model, override_gain=gain, override_readnoise=readnoise, **params))


@functools.cache
def _jwst_flags(name, sorted_params):
    return run(JwstJumpStep, name, **dict(sorted_params))


def run_jwst(name, **params) -> Flags:
    """The oracle's flags, computed once per ramp and parameters."""
    return _jwst_flags(name, tuple(sorted(params.items())))


def run_jumpdet(name, **params) -> Flags:
    return run(JumpStep, name, **params)


def assert_case_is_not_vacuous(name, switch, params, expected: Flags):
    """jwst found events, they changed its flags, and so did the non-default parameters."""
    assert expected.extended_emission_events > 0
    assert np.any(expected.groupdq != run_jwst(name).groupdq), "the events change no flag"
    if params:
        assert np.any(expected.groupdq != run_jwst(name, **switch).groupdq), "the parameters change nothing"


@pytest.mark.parametrize("case", list(SNOWBALL_CASES))
def test_snowballs_are_flagged_as_jwst_flags_them(case):
    name, params = SNOWBALL_CASES[case]
    expected = run_jwst(name, **SNOWBALLS, **params)
    assert_same(expected, run_jumpdet(name, **SNOWBALLS, **params))
    assert_case_is_not_vacuous(name, SNOWBALLS, params, expected)


@pytest.mark.parametrize("case", list(SHOWER_CASES))
def test_showers_are_flagged_as_jwst_flags_them(case):
    name, params = SHOWER_CASES[case]
    expected = run_jwst(name, **SHOWERS, **params)
    assert_same(expected, run_jumpdet(name, **SHOWERS, **params))
    assert_case_is_not_vacuous(name, SHOWERS, params, expected)


# Random events and parameters, in combinations no case above names.
SNOWBALL_PARAMETERS = {
    "sat_expand": st.sampled_from([0, 2, 3, 5]),
    "min_sat_area": st.sampled_from([1.0, 3.0, 20.0]),
    "min_jump_area": st.sampled_from([5.0, 8.0, 20.0]),
    "expand_factor": st.sampled_from([1.3, 2.0, 3.0]),
    "edge_size": st.sampled_from([0, 10, 25, 40]),
    "sat_required_snowball": st.booleans(),
    "mask_snowball_core_next_int": st.booleans(),
    "snowball_time_masked_next_int": st.sampled_from([30, 4000]),
    "max_extended_radius": st.sampled_from([4, 200]),
    "min_sat_radius_extend": st.sampled_from([1.0, 2.5, 6.0]),
}
SHOWER_PARAMETERS = {
    "extend_snr_threshold": st.sampled_from([1.1, 1.2, 1.5]),
    "extend_min_area": st.sampled_from([40, 90, 150]),
    "extend_inner_radius": st.sampled_from([1.0, 2.0]),
    "extend_outer_radius": st.sampled_from([2.6, 4.0]),
    "extend_ellipse_expand_ratio": st.sampled_from([1.1, 1.5]),
    "time_masked_after_shower": st.sampled_from([5.0, 15.0, 60.0]),
    "max_extended_radius": st.sampled_from([20, 200]),
    "min_diffs_single_pass": st.sampled_from([5, 10, 40]),
}


@st.composite
def random_events(draw):
    """(ramp builder, NIRCam?, step parameters): snowballs on NIRCam-like ramps or MIRI-like showers."""
    seed = draw(st.integers(0, 2**31))
    if draw(st.booleans()):
        nircam, switch, choices = True, SNOWBALLS, SNOWBALL_PARAMETERS
        shape = (draw(st.integers(64, 180)), draw(st.integers(64, 200)))
        build = snowballs(nints=draw(st.integers(1, 3)), ngroups=draw(st.integers(4, 8)), shape=shape,
                          n_snowballs=draw(st.integers(2, 19)), seed=seed)  # fmt: skip
    else:
        nircam, switch, choices = False, SHOWERS, SHOWER_PARAMETERS
        nints = draw(st.sampled_from([1, 2, 3, 60]))
        ngroups = draw(st.integers(6, 29) if nints < 60 else st.integers(5, 8))
        shape = (draw(st.integers(48, 139)), draw(st.integers(48, 139))) if nints < 60 else (48, 56)
        build = showers(nints=nints, ngroups=ngroups, shape=shape, n_showers=draw(st.integers(1, 8)),
                        radius=(4, 16), seed=seed)  # fmt: skip
    if draw(st.booleans()):
        build = with_other_flags(build, seed + 7)
    names = draw(st.sets(st.sampled_from(sorted(choices)), max_size=4))
    return build, nircam, {**switch, **{name: draw(choices[name]) for name in sorted(names)}}


@pytest.mark.slow
@settings(max_examples=examples(dev=20), suppress_health_check=[HealthCheck.too_slow])
@given(case=random_events())
def test_random_events_and_parameters_give_jwsts_flags(case):
    build, nircam, params = case
    ramp = build()
    expected = run_on(JwstJumpStep, ramp, nircam=nircam, **params)
    assert_same(expected, run_on(JumpStep, ramp, nircam=nircam, **params))


@pytest.mark.parametrize("switch", [SNOWBALLS, SHOWERS], ids=["snowballs", "showers"])
def test_use_ellipses_is_accepted_and_changes_nothing(switch):
    name = "nircam_1int" if switch is SNOWBALLS else "miri_2ints"
    expected = run_jwst(name, **switch)
    assert_same(expected, run_jwst(name, **switch, use_ellipses=True))
    assert_same(expected, run_jumpdet(name, **switch, use_ellipses=True))


@pytest.mark.parametrize("max_shower_amplitude", [0.5, 100.0])
def test_max_shower_amplitude_is_not_read_by_jwst_nor_by_jumpdet(max_shower_amplitude):
    """jwst reverts shower flags with its own 6 x group time, whatever the step says; so does jumpdet."""
    name = "miri_2ints"
    expected = run_jwst(name, **SHOWERS)  # the spec default, 4 DN/s
    assert_same(expected, run_jwst(name, **SHOWERS, max_shower_amplitude=max_shower_amplitude))
    assert_same(expected, run_jumpdet(name, **SHOWERS, max_shower_amplitude=max_shower_amplitude))
    # not vacuous: the limit matters on this ramp, so honouring the step's value would change the flags
    ramp = ramp_named(name)
    params = params_from_step(JumpStep(**SHOWERS), group_time_s=ramp.group_time, nframes=1, gain=ramp.gain)
    honoured = params.replace(max_shower_amplitude_e_per_group=max_shower_amplitude * ramp.group_time)
    result = detect_jumps(
        ramp.data, ramp.groupdq, ramp.pixeldq, gain=ramp.gain, read_noise=ramp.read_noise, params=honoured
    )
    assert np.any(result.groupdq != expected.groupdq)


# jwst's own rules, kept for parity; each test shows the rule on a hand-made ramp.


def run_both(data, groupdq=None, *, instrument="MIRI", group_time=None, read_noise=8.0, **params):
    """jwst's and jumpdet's output models for noise-free ``data`` and an input GROUPDQ (gain 1)."""
    nircam = instrument == "NIRCAM"
    model = make_ramp_model(
        data,
        groupdq=groupdq,
        instrument=instrument,
        detector="NRCA1" if nircam else "MIRIMAGE",
        group_time=group_time or (10.737 if nircam else 3.0),
    )
    gain, readnoise = make_references(data.shape[2:], gain=1.0, read_noise=read_noise, instrument=instrument)
    kwargs = dict(override_gain=gain, override_readnoise=readnoise, **params)
    return JwstJumpStep.call(model, **kwargs), JumpStep.call(model, **kwargs)


def disk(shape, centre, radius, inner=-1.0):
    """Pixels with ``inner < distance <= radius`` from ``centre``."""
    yy, xx = np.indices(shape)
    distance = np.hypot(yy - centre[0], xx - centre[1])
    return (distance <= radius) & (distance > inner)


def core_in_ring(*, nints=1, ngroups=4, shape=(64, 64), centre=(32, 32), core=3.0, saturated=True):
    """GROUPDQ of a snowball: SATURATED core from group 1 on, a ring of jumps out to twice its radius."""
    gdq = np.zeros((nints, ngroups, *shape), np.uint8)
    if saturated:
        gdq[0, 1:, disk(shape, centre, core)] = SAT
    gdq[0, 1, disk(shape, centre, 2 * core, core)] = JUMP_DET
    return gdq


def test_edge_band_compares_columns_with_the_number_of_rows():
    """A ring without saturation is a snowball only in the edge band; jwst's band for the column
    centroid ends at nrows - edge_size, so far from the edges of a wide frame is 'near' one."""
    gdq = core_in_ring(ngroups=3, shape=(64, 300), centre=(32, 150), saturated=False)
    data = linear_ramps(gdq.shape)
    wide = run_both(data, gdq, instrument="NIRCAM", **SNOWBALLS)
    tall = run_both(data.transpose(0, 1, 3, 2), gdq.transpose(0, 1, 3, 2), instrument="NIRCAM", **SNOWBALLS)
    for expected, actual in (wide, tall):
        assert_same(flags(expected), flags(actual))
    assert wide[1].groupdq[0, 1, 32, 150 + 10] == JUMP_DET  # column 150 > 64 - 25: expanded ring
    assert tall[1].groupdq[0, 1, 150 + 10, 32] == 0  # the same ring, transposed: not a snowball


@pytest.mark.parametrize(
    ("core", "snowball"),
    [((50, 32), True), ((32, 50), False)],
    ids=["core_18_rows_off_the_band", "core_18_columns_along_the_band"],
)
def test_saturated_centre_is_sought_in_the_jump_ellipse_mirrored_about_the_diagonal(core, snowball):
    """jwst's point-in-ellipse test turns the jump region's ellipse by 180 deg minus its orientation,
    which mirrors it about the row = column diagonal: for a horizontal band of jumps, a core
    below the band counts as inside, a core within the band does not."""
    gdq = np.zeros((1, 3, 64, 64), np.uint8)
    gdq[0, 1, 30:35, 12:53] = JUMP_DET  # 5 x 41 band: semi-axes 2.3 (rows) and 23 (columns)
    gdq[0, 1:, core[0], core[1]] = SAT  # a one-pixel new saturated core
    expected, actual = run_both(linear_ramps(gdq.shape), gdq, instrument="NIRCAM", edge_size=0, **SNOWBALLS)
    assert_same(flags(expected), flags(actual))
    assert (expected.meta.exposure.extended_emission_events > 0) == snowball
    assert (actual.groupdq[0, 1, 32, 12 - 3] == JUMP_DET) == snowball  # the band, expanded


def test_extended_core_is_assigned_saturated_clearing_other_bits():
    gdq = core_in_ring()
    gdq[0, 2:, 32, 32 + 4] |= PERSISTENCE  # inside the core once extended by sat_expand
    expected, actual = run_both(linear_ramps(gdq.shape), gdq, instrument="NIRCAM", **SNOWBALLS)
    assert_same(flags(expected), flags(actual))
    assert_array_equal(actual.groupdq[0, :, 32, 32 + 4], [0, SAT, SAT, SAT])


def test_rates_count_the_do_not_use_groups_after_detection_as_jwst():
    """The extended core assigned SATURATED clears DO_NOT_USE: the last group, all DO_NOT_USE
    before detection, is not after, and jwst's rates count it as exposure."""
    gdq = core_in_ring()
    gdq[0, 3] |= DO_NOT_USE
    expected, actual = run_both(linear_ramps(gdq.shape), gdq, instrument="NIRCAM", **SNOWBALLS)
    assert_same(flags(expected), flags(actual))
    assert not np.all(expected.groupdq[0, 3] & DO_NOT_USE)
    total_s = expected.meta.exposure.group_time * (4 - 1) * 64 * 64  # 3 groups of exposure, not 2
    assert expected.meta.exposure.extended_emission_events == 1e6 * 1 / total_s


def test_core_is_flagged_jump_in_the_next_integration_even_where_saturated():
    gdq = core_in_ring(nints=2)
    gdq[1, 1:, disk((64, 64), (32, 32), 3.0)] = SAT  # the core saturates again in the next integration
    expected, actual = run_both(linear_ramps(gdq.shape), gdq, instrument="NIRCAM", **SNOWBALLS)
    assert_same(flags(expected), flags(actual))
    assert_array_equal(actual.groupdq[1, :, 32, 32], [0, SAT | JUMP_DET, SAT | JUMP_DET, SAT | JUMP_DET])


@pytest.mark.parametrize(("min_sat_radius_extend", "extended"), [(2.5, True), (3.2, False)])
def test_core_extension_compares_the_radius_with_the_full_minor_axis_minus_one(
    min_sat_radius_extend, extended
):
    """A core of radius 2 (13 pixels) has a moment ellipse of semi-minor axis 2.08 but
    axis_minor_length - 1 = 3.15: that, not a radius, is what jwst compares."""
    gdq = core_in_ring(core=2.0)
    expected, actual = run_both(
        linear_ramps(gdq.shape),
        gdq,
        instrument="NIRCAM",
        min_sat_radius_extend=min_sat_radius_extend,
        **SNOWBALLS,
    )
    assert_same(flags(expected), flags(actual))
    assert (actual.groupdq[0, 2, 32, 32 + 3] == SAT) == extended


def test_large_event_flags_are_ored_onto_do_not_use_groups():
    """No clean-up follows the large-event stages: they skip SATURATED pixels only."""
    gdq = core_in_ring()
    gdq[0, 1, 32, 32 + 10] |= DO_NOT_USE  # inside the expanded snowball, outside its ring of jumps
    expected, actual = run_both(linear_ramps(gdq.shape), gdq, instrument="NIRCAM", **SNOWBALLS)
    assert_same(flags(expected), flags(actual))
    assert actual.groupdq[0, 1, 32, 32 + 10] == DO_NOT_USE | JUMP_DET
    # MIRI's last group is DO_NOT_USE; shower flags reach it, two-point flags do not
    name = "miri_30groups"
    expected = run_jwst(name, **SHOWERS)
    assert_same(expected, run_jumpdet(name, **SHOWERS))
    both = DO_NOT_USE | JUMP_DET
    assert np.any((expected.groupdq[0, -1] & both) == both)
    assert not np.any((run_jwst(name).groupdq & both) == both)


def test_shower_count_includes_showers_whose_flags_are_all_reverted():
    """A faint 250 DN step over a disk at group 6 of 12: below the jump threshold (read noise
    100 DN) but a shower. Flagging group 6 and floor(15 s / 3 s) = 5 more leaves five differences
    of 10 DN, so the mean difference falls by 22.7 e, more than 6 x 3 s = 18: every flag is
    reverted, yet the shower is counted."""
    data = linear_ramps((1, 12, 96, 96))
    data[0, 6:] += np.float32(250) * disk((96, 96), (48, 48), 20)
    # max_extended_radius keeps the drawn ellipse inside the disk, where every flag is reverted
    params = dict(read_noise=100.0, max_extended_radius=15)
    expected, actual = run_both(data, **params, **SHOWERS)
    without_showers, _ = run_both(data, **params)
    assert_same(flags(expected), flags(actual))
    assert expected.meta.exposure.extended_emission_events > 0
    assert_array_equal(expected.groupdq, without_showers.groupdq)


def test_two_group_ramps_are_skipped_by_both_steps():
    ramp = snowball_ramp(ngroups=2, shape=(64, 64), n_snowballs=3, edge_fraction=0.0, seed=7)
    assert np.any(ramp.groupdq & SAT)  # cores that would make snowballs
    expected, actual = run_both(ramp.data, ramp.groupdq, instrument="NIRCAM", **SNOWBALLS, **SHOWERS)
    assert expected.meta.cal_step.jump == actual.meta.cal_step.jump == "SKIPPED"
    assert_array_equal(actual.groupdq, ramp.groupdq)
    assert_same(flags(expected), flags(actual))


def _stcal_snowball_settings():
    """stcal's JumpData as jwst's step fills it with the spec defaults (JumpData's own differ)."""
    jump_data = JumpData(dqflags=dqflags.pixel)
    jump_data.sat_expand = 2 * 2  # sat_expand doubled
    jump_data.max_extended_width = 2 * 200  # max_extended_radius doubled
    jump_data.persist_grps_flagged = 4000 // 10  # any number of groups: one integration here
    return jump_data


def test_two_group_snowballs_in_the_array_core_where_stcal_raises():
    """Deliberate deviation, array level only (the steps skip NGROUPS <= 2, see above).

    stcal's flag_large_events reads the next group's new saturation, which it
    only computes when there is a next group: with NGROUPS == 2 it raises
    UnboundLocalError. jumpdet's core searches group 1 without a look-ahead.
    """
    gdq = core_in_ring(ngroups=2)
    with pytest.raises(UnboundLocalError):
        stcal_jump.flag_large_events(gdq.copy(), JUMP_DET, SAT, _stcal_snowball_settings())
    ones = np.ones(gdq.shape[2:], np.float32)
    result = detect_jumps(
        np.zeros(gdq.shape, np.float32),
        gdq,
        np.zeros(gdq.shape[2:], np.uint32),
        gain=ones,
        read_noise=ones,
        params=JumpParams(expand_large_events=True, snowball_groups_masked_next_int=1),
    )
    assert result.stats.extended_events == 1
    # the ring (radius 6) is redrawn twice as large; the extended core stays SATURATED
    assert result.groupdq[0, 1, 32, 32 + 10] == JUMP_DET and result.groupdq[0, 1, 32, 32 + 4] == SAT
    # with a third group, stcal and jumpdet agree on group 1
    three = core_in_ring(ngroups=3)
    expected, count = stcal_jump.flag_large_events(three.copy(), JUMP_DET, SAT, _stcal_snowball_settings())
    assert count == 1
    assert_array_equal(result.groupdq[0, :2], expected[0, :2])
