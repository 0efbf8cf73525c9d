"""Specifications of the array core: small ramps whose right answer is obvious, and invariants."""

import dataclasses

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from stdatamodels.jwst.datamodels import dqflags

from conftest import linear_ramps, make_ramp_model, make_references
from jumpdet import JumpParams, JumpStep, detect_jumps, flags, tiling
from jumpdet.params import params_from_step

JUMP, SAT, DNU = flags.JUMP_DET, flags.SATURATED, flags.DO_NOT_USE


def detect(data, gdq=None, *, gain=2.0, read_noise=8.0, max_workers=1, **params):
    data = np.asarray(data, np.float32)
    frame = data.shape[2:]
    gdq = np.zeros(data.shape, np.uint8) if gdq is None else gdq
    return detect_jumps(
        data,
        gdq,
        np.zeros(frame, np.uint32),
        gain=np.full(frame, gain, np.float32),
        read_noise=np.full(frame, read_noise, np.float32),
        params=JumpParams(**params),
        max_workers=max_workers,
    )


def pixel(ramp):
    return np.asarray(ramp, np.float32)[None, :, None, None]


def test_flag_constants_match_stdatamodels():
    assert tuple(dqflags.group[k] for k in ("DO_NOT_USE", "SATURATED", "JUMP_DET")) == (
        flags.DO_NOT_USE,
        flags.SATURATED,
        flags.JUMP_DET,
    )
    assert dqflags.pixel["NO_GAIN_VALUE"] == flags.NO_GAIN_VALUE
    assert dqflags.pixel["REFERENCE_PIXEL"] == flags.REFERENCE_PIXEL


def test_single_jump_is_flagged_in_its_group():
    result = detect(pixel([10, 20, 30, 530, 540]), gain=1.0, read_noise=1.0)
    assert_array_equal(result.groupdq[0, :, 0, 0], [0, 0, 0, JUMP, 0])
    assert result.stats.plan.path == "iterative" and result.stats.primary_jumps == 1


def test_two_jumps_in_one_ramp_are_both_found():
    ramp = 100 + 10 * np.arange(12.0)
    ramp[4:] += 400
    ramp[9:] += 300
    result = detect(pixel(ramp), min_diffs_single_pass=20)
    assert_array_equal(np.flatnonzero(result.groupdq[0, :, 0, 0]), [4, 9])


def test_negative_jumps_are_found():
    ramp = 1000 + 10 * np.arange(8.0)
    ramp[3:] -= 600
    assert_array_equal(np.flatnonzero(detect(pixel(ramp)).groupdq[0, :, 0, 0]), [3])


@pytest.mark.parametrize(
    ("ngroups", "threshold_name"),
    [(3, "three_group_rejection_threshold"), (4, "four_group_rejection_threshold")],
)
def test_short_ramps_use_their_own_threshold(ngroups, threshold_name):
    ramp = 100 + 10 * np.arange(float(ngroups))
    ramp[ngroups - 1] += 300
    assert detect(pixel(ramp)).groupdq[0, -1, 0, 0] == JUMP
    assert detect(pixel(ramp), **{threshold_name: 1e6}).groupdq[0, -1, 0, 0] == 0


def test_unusable_groups_never_get_a_jump_and_input_jump_on_them_is_cleared():
    ramp = 100 + 10 * np.arange(10.0)
    ramp[5:] += 5000
    gdq = np.zeros((1, 10, 1, 1), np.uint8)
    gdq[0, 5:, 0, 0] = SAT
    gdq[0, 2, 0, 0] = DNU | JUMP
    result = detect(pixel(ramp), gdq)
    assert_array_equal(result.groupdq[0, :, 0, 0], [0, 0, DNU, 0, 0, SAT, SAT, SAT, SAT, SAT])


def test_nan_data_are_unusable():
    """A NaN group is left out of the differences: never flagged, and the ramp's jump is still found."""
    ramp = 100 + 10 * np.arange(10.0)
    ramp[3:] += 500
    outlier = ramp.copy()
    outlier[6] += 800  # a finite outlier there is flagged, up and down
    assert_array_equal(np.flatnonzero(detect(pixel(outlier)).groupdq[0, :, 0, 0]), [3, 6, 7])
    ramp[6] = np.nan
    assert_array_equal(np.flatnonzero(detect(pixel(ramp)).groupdq[0, :, 0, 0]), [3])


def test_neighbours_are_flagged_but_not_onto_saturated_pixels():
    data = linear_ramps((1, 8, 3, 3))
    data[0, 4:, 1, 1] += 400
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 4:, 0, 1] = SAT
    result = detect(data, gdq, min_jump_to_flag_neighbors=4)
    assert_array_equal(result.groupdq[0, 4], [[0, SAT, 0], [JUMP, JUMP, JUMP], [0, JUMP, 0]])


@pytest.mark.parametrize("block_rows", [8, 1])
def test_a_flagged_neighbour_never_flags_its_own_neighbours(block_rows, monkeypatch):
    # below and right of a large jump, jumps of 3 sigma: too small for the search
    # (4 sigma), large enough to be sources (2 sigma) had the search flagged them
    monkeypatch.setattr(tiling, "MIN_BLOCK_ROWS", block_rows)
    monkeypatch.setattr(tiling, "MAX_TILE_ELEMENTS", 8 * 7)
    data = linear_ramps((1, 8, 7, 7))  # differences of 20 e, sigma 16.6 e
    data[0, 4:, 3, 3] += 400
    data[0, 4:, 4, 3] += 25
    data[0, 4:, 3, 4] += 25
    result = detect(data, min_jump_to_flag_neighbors=2)
    expected = np.zeros((8, 7, 7), np.uint8)
    expected[4, 2:5, 3] = expected[4, 3, 2:5] = JUMP
    assert_array_equal(result.groupdq[0], expected)


def test_after_jump_groups_are_flagged_for_large_jumps_only():
    ramp = 100 + 10 * np.arange(12.0)
    ramp[3:] += 2000
    ramp[8:] += 100
    result = detect(
        pixel(ramp), gain=1.0, after_jump_flag_e1=1000.0, after_jump_flag_groups1=2, min_diffs_single_pass=20
    )
    assert_array_equal(np.flatnonzero(result.groupdq[0, :, 0, 0]), [3, 4, 5, 8])


def test_minimum_groups_is_honoured():
    data = linear_ramps((1, 5, 2, 2))
    data[0, 3:, 0, 0] += 500
    assert detect(data).groupdq[0, 3, 0, 0] == JUMP
    skipped = detect(data, minimum_groups=6)
    assert not skipped.groupdq.any()
    assert skipped.stats.plan.path is None and "minimum_groups = 6" in skipped.stats.plan.skipped_reason


def test_skipped_search_leaves_primary_cosmic_rays_unset():
    model = make_ramp_model(linear_ramps((1, 4, 3, 3)))
    model.groupdq[:, :2] = DNU  # only 2 usable groups anywhere
    gain, readnoise = make_references((3, 3))
    result = JumpStep.call(model, override_gain=gain, override_readnoise=readnoise)
    assert result.meta.exposure.primary_cosmic_rays is None
    assert result.meta.cal_step.jump == "COMPLETE"


def test_inputs_are_not_modified():
    data = linear_ramps((2, 6, 4, 5))
    data[1, 3:, 2, 2] += 800
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 4:, 1, 1] = SAT
    before = (data.copy(), gdq.copy())
    result = detect(data, gdq)
    assert_array_equal(before[0], data)
    assert_array_equal(before[1], gdq)
    assert result.groupdq is not gdq


@pytest.mark.parametrize("shape", [(1, 6, 37, 23), (130, 4, 5, 7), (1, 30, 9, 11)])
def test_flags_do_not_depend_on_tiles_or_threads(shape, monkeypatch):
    rng = np.random.default_rng(7)
    data = rng.normal(20, 6, shape).astype(np.float32).cumsum(axis=1)
    data += np.cumsum(rng.random(shape) < 0.02, axis=1) * np.float32(300)
    whole = detect(data, min_jump_to_flag_neighbors=3, after_jump_flag_e1=500.0, after_jump_flag_groups1=2)
    monkeypatch.setattr(tiling, "MIN_TILE_ELEMENTS", 1)
    monkeypatch.setattr(tiling, "MAX_TILE_ELEMENTS", 3 * shape[0] * shape[1])
    monkeypatch.setattr(tiling, "MIN_BLOCK_ROWS", 1)
    data_tiled = detect_jumps(
        data,
        np.zeros(shape, np.uint8),
        np.zeros(shape[2:], np.uint32),
        gain=np.full(shape[2:], 2.0, np.float32),
        read_noise=np.full(shape[2:], 8.0, np.float32),
        params=JumpParams(min_jump_to_flag_neighbors=3, after_jump_flag_e1=500.0, after_jump_flag_groups1=2),
        max_workers=2,
    )
    assert_array_equal(whole.groupdq, data_tiled.groupdq)
    assert whole.stats.primary_jumps == data_tiled.stats.primary_jumps


def test_params_are_frozen_keyword_only_and_validated():
    params = JumpParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.rejection_threshold = 3.0
    with pytest.raises(TypeError):
        JumpParams(4.0)
    with pytest.raises(ValueError, match="nframes"):
        JumpParams(nframes=0)


def test_every_spec_parameter_reaches_the_core_parameters():
    """Changing any step parameter (but the documented exceptions) changes JumpParams."""
    not_for_the_core = {"maximum_cores", "use_ellipses", "max_shower_amplitude", "save_jump_catalog"}
    step = JumpStep()
    names = [line.split("=")[0].strip() for line in JumpStep.spec.strip().splitlines()]
    for name in names:
        if name in not_for_the_core:
            continue
        # a DN threshold matters only with groups to flag after the jump (then it is converted)
        context = {f"after_jump_flag_time{name[-1]}": 10.0} if name.startswith("after_jump_flag_dn") else {}
        before = params_from_step(JumpStep(**context), group_time_s=2.0, nframes=1, gain=np.full((2, 2), 3.0))
        value = getattr(step, name)
        bump = 7  # any change must reach the core
        if isinstance(value, str):  # an option: the other choice
            changed_value = next(c for c in ("two_point", "likelihood") if c != value)
        else:
            changed_value = (not value) if isinstance(value, bool) else value + bump
        changed = JumpStep(**context, **{name: changed_value})
        params = params_from_step(changed, group_time_s=2.0, nframes=1, gain=np.full((2, 2), 3.0))
        assert params != before, name


@pytest.mark.parametrize("dtype", [">f4", "<f8", ">f8"])
def test_data_of_any_float_type_or_byte_order_gives_the_same_flags(dtype):
    """FITS data arrive big-endian; the core converts a tile at a time, never the whole cube."""
    data = linear_ramps((2, 8, 9, 10))
    data[0, 4:, 3, 3] += 500.0
    data[1, 6:, 8, 9] += 800.0
    gdq = np.zeros(data.shape, np.uint8)
    ones = np.ones((9, 10), np.float32)
    pdq = np.zeros((9, 10), np.uint32)
    native = detect_jumps(data, gdq, pdq, gain=ones, read_noise=ones, params=JumpParams())
    other = detect_jumps(
        data.astype(dtype), gdq, pdq, gain=ones.astype(">f4"), read_noise=ones, params=JumpParams()
    )
    assert_array_equal(other.groupdq, native.groupdq)
    assert native.groupdq[0, 4, 3, 3] & flags.JUMP_DET and native.groupdq[1, 6, 8, 9] & flags.JUMP_DET


def test_a_group_is_all_do_not_use_only_when_every_pixel_is():
    from jumpdet.exposure import all_do_not_use_groups

    gdq = np.zeros((2, 4, 3, 5), dtype=np.uint8)
    gdq[0, 1] = flags.DO_NOT_USE  # every pixel
    gdq[1, 2] = flags.DO_NOT_USE | flags.SATURATED
    gdq[1, 3] = flags.DO_NOT_USE
    gdq[1, 3, 2, 4] = flags.SATURATED  # the last pixel is usable
    expected = [[False, True, False, False], [False, False, True, False]]
    assert_array_equal(all_do_not_use_groups(gdq), expected)


@pytest.mark.parametrize("shape", [(2, 3, 5, 13), (1, 2, 4, 8), (3, 4, 7, 1)])
@pytest.mark.parametrize("bits", [flags.SATURATED | flags.DO_NOT_USE, flags.JUMP_DET])
def test_flags_are_packed_as_numpy_packbits_packs_them(shape, bits):
    from jumpdet.exposure import pack_flags, pack_unusable

    gdq = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    assert_array_equal(pack_flags(gdq, bits), np.packbits((gdq & bits) != 0, axis=-1))
    unusable = (gdq & (flags.SATURATED | flags.DO_NOT_USE)) != 0
    assert_array_equal(pack_unusable(gdq), np.packbits(unusable, axis=-1))
