"""Specification of the snowball search, :mod:`jumpdet.large_events.snowballs`.

Also covers :mod:`jumpdet.large_events._ellipses`.

Hand-made cases state the behaviour; differential cases require GROUPDQ and
the count to equal stcal 1.20's ``flag_large_events`` (jwst 3.0's engine) bit
for bit on seeded synthetic ramps from :mod:`jumpdet.simulate.events`.
"""

import numpy as np
import pytest
import skimage.draw
import skimage.measure
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from scipy import ndimage
from stcal.jump import jump as stcal_jump
from stcal.jump.jump_class import JumpData
from stdatamodels.jwst.datamodels import dqflags

from conftest import examples
from jumpdet.flags import DO_NOT_USE, JUMP_DET, SATURATED
from jumpdet.large_events._ellipses import draw_window, region_ellipses
from jumpdet.large_events._regions import filled_area_passes, find_regions, flagged_pixels
from jumpdet.large_events.snowballs import flag_snowballs_inplace
from jumpdet.params import JumpParams
from jumpdet.simulate.events import snowball_ramp

SNOWBALLS = JumpParams(expand_large_events=True, snowball_groups_masked_next_int=4000)  # 4000 s of 1 s groups


def stcal_snowballs(gdq, params):
    """The oracle: stcal's flag_large_events on a copy, with JumpData set as jwst sets it."""
    jump_data = JumpData(dqflags=dqflags.pixel)
    jump_data.min_sat_area = params.min_sat_area
    jump_data.min_jump_area = params.min_jump_area
    jump_data.expand_factor = params.expand_factor
    jump_data.sat_required_snowball = params.sat_required_snowball
    jump_data.min_sat_radius_extend = params.min_sat_radius_extend
    # jwst hands these over as integers (twice the step's integer radii)
    jump_data.sat_expand = _as_int_if_whole(params.sat_expand_px)
    jump_data.edge_size = params.edge_size
    jump_data.max_extended_width = _as_int_if_whole(params.max_extended_width_px)
    jump_data.mask_persist_grps_next_int = params.mask_snowball_core_next_int
    jump_data.persist_grps_flagged = params.snowball_groups_masked_next_int
    return stcal_jump.flag_large_events(gdq.copy(), JUMP_DET, SATURATED, jump_data)


def _as_int_if_whole(value):
    return int(value) if float(value).is_integer() else value


def ours(gdq, params=SNOWBALLS):
    out = gdq.copy()
    return out, flag_snowballs_inplace(out, params)


def disk(shape, centre, radius, inner=-1.0):
    """Pixels with inner < distance <= radius from centre."""
    yy, xx = np.indices(shape)
    dist = np.hypot(yy - centre[0], xx - centre[1])
    return (dist <= radius) & (dist > inner)


def snowball_cube(*, nints=1, ngroups=3, centre=(32, 32), sat_from=1, jump_group=1, core=3.0, shape=(64, 64)):
    """A saturated core (SATURATED from ``sat_from`` on) inside a ring of jumps in ``jump_group``."""
    gdq = np.zeros((nints, ngroups, *shape), np.uint8)
    if sat_from is not None:
        gdq[0, sat_from:, disk(shape, centre, core)] = SATURATED
    gdq[0, jump_group, disk(shape, centre, 2 * core, core)] = JUMP_DET
    return gdq


@pytest.mark.oracle
def test_saturated_core_in_jump_ring_becomes_expanded_snowball():
    gdq = snowball_cube()
    out, count = ours(gdq)
    assert count == 1
    # the ring (radius 6) is redrawn twice as large: radius ~12 around the core
    assert out[0, 1, 32, 32 + 10] == JUMP_DET and out[0, 1, 32 + 10, 32] == JUMP_DET
    assert out[0, 1, 32, 32 + 15] == 0
    assert not np.any(out[0, 0])  # only the group of the event is flagged
    assert not np.any((out[0, 1] & JUMP_DET) & (out[0, 1] & SATURATED))
    assert_array_equal(out, stcal_snowballs(gdq, SNOWBALLS)[0])


def test_large_core_is_extended_as_saturation_into_later_groups():
    out, _ = ours(snowball_cube(ngroups=4))
    # core radius 3 (minor axis ~5 > 2.5) grows to radius ~4.5: SATURATED *replaces* the jump flag
    for group in (1, 2, 3):
        assert out[0, group, 32, 32 + 4] == SATURATED
    assert out[0, 1, 32, 32 + 8] == JUMP_DET


def test_small_core_is_not_extended():
    gdq = snowball_cube(core=1.0, ngroups=4)
    gdq[0, 1, disk((64, 64), (32, 32), 5, 1.0)] = JUMP_DET
    out, count = ours(gdq)
    assert count == 1
    assert out[0, 2, 32, 34] == 0  # not saturated: a core of radius 1 is below min_sat_radius_extend


def test_ring_without_saturation_is_not_a_snowball():
    gdq = snowball_cube(sat_from=None)
    out, count = ours(gdq)
    assert count == 0
    assert_array_equal(out, gdq)


def test_ring_near_the_edge_needs_no_saturation():
    gdq = snowball_cube(sat_from=None, centre=(10, 32))
    out, count = ours(gdq)
    assert count == 1
    assert out[0, 1, 10, 32 + 10] == JUMP_DET


def test_saturation_can_be_waived():
    gdq = snowball_cube(sat_from=None)
    out, count = ours(gdq, SNOWBALLS.replace(sat_required_snowball=False))
    assert count == 1
    assert out[0, 1, 32, 32 + 10] == JUMP_DET


@pytest.mark.oracle
def test_saturation_appearing_in_the_next_group_counts():
    gdq = snowball_cube(sat_from=2, ngroups=4)
    out, count = ours(gdq)
    assert count == 1  # group 1 (its ring); group 2's new saturation has no ring of its own
    assert out[0, 1, 32, 32 + 10] == JUMP_DET
    assert_array_equal(out, stcal_snowballs(gdq, SNOWBALLS)[0])


@pytest.mark.parametrize(
    ("groups_masked", "expected"), [(0, [0, 0, 0, 0]), (3, [0, 4, 4, 0]), (100, [0, 4, 4, 4])]
)
def test_core_is_flagged_in_the_next_integration(groups_masked, expected):
    params = SNOWBALLS.replace(snowball_groups_masked_next_int=groups_masked)
    out, _ = ours(snowball_cube(nints=2, ngroups=4), params)
    assert_array_equal(out[1, :, 32, 32], expected)
    assert not np.any(out[1, :, 32, 32 + 4])  # the unexpanded core only


def test_core_is_not_carried_over_when_disabled():
    out, _ = ours(snowball_cube(nints=2), SNOWBALLS.replace(mask_snowball_core_next_int=False))
    assert not np.any(out[1])


@pytest.mark.oracle
def test_edge_band_measures_columns_against_the_row_count_as_jwst_does():
    # jwst's near-edge test compares the centroid column with nrows - edge_size; kept for parity
    gdq = np.zeros((1, 3, 64, 300), np.uint8)
    gdq[0, 1, disk((64, 300), (32, 150), 6, 3)] = JUMP_DET  # far from every edge, no saturation
    assert ours(gdq)[1] == stcal_snowballs(gdq, SNOWBALLS)[1] == 1
    assert ours(np.ascontiguousarray(gdq.transpose(0, 1, 3, 2)))[1] == 0


def test_snowball_ramp_is_seeded_and_flags_like_two_point_detection():
    first, again = (
        snowball_ramp(nints=2, ngroups=4, shape=(96, 100), n_snowballs=6, seed=5) for _ in range(2)
    )
    assert_array_equal(first.data, again.data)
    assert_array_equal(first.jump_gdq, again.jump_gdq)
    assert (first.data.dtype, first.jump_gdq.dtype, first.gain.dtype) == (np.float32, np.uint8, np.float32)
    assert np.any(first.groupdq & SATURATED) and np.any(first.jump_gdq & JUMP_DET)
    assert_array_equal(first.jump_gdq & ~np.uint8(JUMP_DET), first.groupdq)
    assert not np.any((first.jump_gdq & JUMP_DET) & (first.jump_gdq & (SATURATED | DO_NOT_USE)))


def test_rejects_wrong_dimensions():
    with pytest.raises(ValueError, match="nints, ngroups"):
        flag_snowballs_inplace(np.zeros((3, 8, 8), np.uint8), SNOWBALLS)


def _random_params(rng):
    return SNOWBALLS.replace(
        sat_required_snowball=bool(rng.random() < 0.8),
        min_jump_area=float(rng.choice([5, 8, 15])),
        min_sat_area=float(rng.choice([1, 3])),
        expand_factor=float(rng.choice([1.5, 2.0, 3.0])),
        edge_size=int(rng.choice([0, 25, 60])),
        snowball_groups_masked_next_int=int(rng.choice([0, 1, 3, 10])),
        mask_snowball_core_next_int=bool(rng.random() < 0.7),
        sat_expand_px=float(rng.choice([0, 4, 6])),
        max_extended_width_px=float(rng.choice([20, 400])),
        min_sat_radius_extend=float(rng.choice([1.0, 2.5, 6.0])),
    )


@pytest.mark.oracle
@pytest.mark.parametrize("seed", range(24))
def test_identical_to_stcal_on_synthetic_snowballs(seed):
    rng = np.random.default_rng(seed)
    shape = ((200, 230), (230, 200), (160, 160))[seed % 3]  # non-square both ways: the edge band uses nrows
    ramp = snowball_ramp(
        nints=int(rng.integers(1, 4)),
        ngroups=int(rng.integers(3, 8)),
        shape=shape,
        n_snowballs=25,
        cosmic_rays_per_group=40,
        n_stars=2,
        seed=seed,
        edge_fraction=0.3,
        two_group_fraction=0.4,
    )
    params = SNOWBALLS if seed == 0 else _random_params(rng)
    expected, expected_count = stcal_snowballs(ramp.jump_gdq, params)
    out, count = ours(ramp.jump_gdq, params)
    assert count == expected_count
    assert_array_equal(out, expected)
    assert expected_count > 0 and np.any(expected != ramp.jump_gdq)  # snowballs found and drawn


@st.composite
def flag_cubes(draw):
    """Small cubes of saturated blobs, jump rings and stray flags, as two-point detection leaves them."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    nints, ngroups, shape = draw(st.integers(1, 2)), draw(st.integers(3, 5)), (40, 44)
    gdq = np.zeros((nints, ngroups, *shape), np.uint8)
    for _ in range(draw(st.integers(0, 6))):
        i, g = rng.integers(nints), rng.integers(1, ngroups)
        centre, core = rng.uniform(-3, 46, 2), rng.uniform(0.5, 5)
        gdq[i, g:, disk(shape, centre, core)] |= SATURATED
        gdq[i, g, disk(shape, centre, rng.uniform(1.5, 3) * core, core)] |= JUMP_DET
    gdq[rng.random(gdq.shape) < 0.02] |= JUMP_DET
    gdq[rng.random(gdq.shape) < 0.01] |= DO_NOT_USE
    gdq[(gdq & (SATURATED | DO_NOT_USE)) != 0] &= ~np.uint8(JUMP_DET)  # jwst's clean-up
    return gdq, draw(st.booleans())


@pytest.mark.oracle
@settings(max_examples=examples(60), suppress_health_check=[HealthCheck.too_slow])
@given(flag_cubes())
def test_matches_stcal_and_only_adds_jump_or_assigns_saturation(case):
    gdq, waive = case
    params = SNOWBALLS.replace(sat_required_snowball=not waive, edge_size=5)
    out, count = ours(gdq, params)
    expected, expected_count = stcal_snowballs(gdq, params)
    assert_array_equal(out, expected)
    assert count == expected_count
    added = out & ~gdq
    assert not np.any(added & ~np.uint8(JUMP_DET | SATURATED))
    cleared = gdq & ~out
    # bits vanish only where saturation is assigned; jwst ORs a previous integration's
    # snowball cores as JUMP_DET without looking, so later integrations may add it on top
    assert np.all(out[0][cleared[0] != 0] == SATURATED)
    assert np.all((out[cleared != 0] & ~np.uint8(JUMP_DET)) == SATURATED)
    assert not np.any((out[0] & JUMP_DET) & (out[0] & SATURATED))  # no jump drawn on saturation


@settings(max_examples=examples(50))
@given(st.integers(0, 2**32 - 1), st.floats(0.002, 0.6))
def test_regions_and_ellipses_match_skimage(seed, density):
    # sparse masks (under 1/32 set) take the graph path, dense ones skimage's labelling
    mask = np.random.default_rng(seed).random((60, 75)) < density
    table = find_regions(mask)
    labels = skimage.measure.label(mask, connectivity=2)
    assert_array_equal(table.labels, labels)  # same regions, numbered the same way
    regions = skimage.measure.regionprops(labels)
    ellipses = region_ellipses(table, np.arange(1, table.n + 1))
    assert table.n == len(regions)
    for k, region in enumerate(regions):
        assert (ellipses.x[k], ellipses.y[k]) == (region.centroid[1], region.centroid[0])
        assert ellipses.axis1[k] == region.axis_minor_length - 1
        assert ellipses.axis2[k] == region.axis_major_length - 1
        assert ellipses.angle[k] == np.degrees(region.orientation)


@settings(max_examples=examples(40))
@given(st.integers(0, 2**32 - 1), st.floats(0.01, 0.7))
def test_region_crops_and_filled_areas_match_skimage_and_scipy(seed, density):
    rng = np.random.default_rng(seed)
    mask = rng.random((40, 50)) < density
    mask[10:20, 10:20] = True
    mask[13:17, 13:17] = False  # a hole
    table = find_regions(mask)
    for label, region in enumerate(skimage.measure.regionprops(table.labels), start=1):
        assert_array_equal(table.crop(label), region.image)
        filled = ndimage.binary_fill_holes(region.image, np.ones((3, 3), bool))
        expected = np.count_nonzero(filled) >= 12
        assert (label in filled_area_passes(table, 12)) == expected


def test_flagged_pixels_tests_the_bit_and_the_group_before():
    rng = np.random.default_rng(0)
    now, before = (rng.integers(0, 8, (30, 40)).astype(np.uint8) for _ in range(2))
    assert_array_equal(flagged_pixels(now, SATURATED), np.flatnonzero(now & SATURATED))
    expected = np.flatnonzero((now & SATURATED) & ~before & SATURATED)
    assert_array_equal(flagged_pixels(now, SATURATED, before), expected)


@settings(max_examples=examples(200))
@given(
    st.one_of(st.floats(-5, 70), st.integers(-5, 70).map(lambda n: n + 0.5)),  # .5: half to even
    st.one_of(st.floats(-5, 60), st.integers(-5, 60).map(lambda n: n + 0.5)),
    st.floats(0, 40),
    st.floats(0, 40),
    st.one_of(st.floats(-400, 400), st.sampled_from([0.0, -0.0, 90.0, -90.0, 180.0, -1e-15, 45.0])),
)
def test_ellipse_windows_are_skimage_drawings(x, y, axis1, axis2, angle):
    shape = (64, 70)
    rows, cols, mask = draw_window(x, y, axis1, axis2, angle, shape)
    expected = np.zeros(shape, bool)
    semi1, semi2 = round(axis1 / 2), round(axis2 / 2)
    if semi1 and semi2:
        col_c, row_c = round(x), round(y)
        rr, cc = skimage.draw.ellipse(
            row_c - rows.start, col_c - cols.start, semi2, semi1, mask.shape, np.radians(angle)
        )
        expected[rows, cols][rr, cc] = True
    drawn = np.zeros(shape, bool)
    drawn[rows, cols] = mask
    assert_array_equal(drawn, expected)
