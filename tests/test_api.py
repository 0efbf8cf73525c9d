"""The array-level contract: detect_jumps' signature, the read-noise unit, and JumpParams.from_jwst."""

import numpy as np
import pytest
from jwst.jump import JumpStep as JwstJumpStep
from numpy.testing import assert_array_equal

from jumpdet import JumpParams, JumpStep, detect_jumps
from jumpdet.flags import JUMP_DET
from jumpdet.params import _JWST_CONVERTED_DEFAULTS, JWST_PARAMETERS, params_from_step

ONE = np.ones((1, 1), np.float32)


def flat_ramp_with_step(ngroups: int, step_dn: float, at_group: int) -> np.ndarray:
    """One pixel, no signal, and a step of ``step_dn`` at ``at_group``: every other difference is 0."""
    ramp = np.zeros(ngroups, np.float32)
    ramp[at_group:] += step_dn
    return ramp[None, :, None, None]


def jump_flags(ramp, *, read_noise, gain=1.0, params=None):
    result = detect_jumps(
        ramp,
        np.zeros(ramp.shape, np.uint8),
        np.zeros((1, 1), np.uint32),
        gain=np.full((1, 1), gain, np.float32),
        read_noise=np.full((1, 1), read_noise, np.float32),
        params=params,
    )
    return result.groupdq[0, :, 0, 0] & JUMP_DET


# read_noise is the READNOISE reference's CDS noise: a zero-signal difference has sigma
# read_noise * gain / sqrt(nframes). A single-read convention would give sqrt(2) times more.


@pytest.mark.parametrize("ngroups", [6, 12])  # the iterative search and the single pass
@pytest.mark.parametrize(("gain", "nframes"), [(1.0, 1), (2.0, 1), (1.0, 4)])
def test_read_noise_is_the_noise_of_one_group_difference(ngroups, gain, nframes):
    read_noise = 10.0
    sigma_dn = read_noise / np.sqrt(nframes)  # in DN: the gain cancels
    params = JumpParams(nframes=nframes)
    just_above = flat_ramp_with_step(ngroups, 4.1 * sigma_dn, at_group=3)
    just_below = flat_ramp_with_step(ngroups, 3.9 * sigma_dn, at_group=3)
    assert jump_flags(just_above, read_noise=read_noise, gain=gain, params=params)[3] == JUMP_DET
    assert not jump_flags(just_below, read_noise=read_noise, gain=gain, params=params).any()


def test_detect_jumps_takes_jwst_defaults_when_no_params_are_given():
    ramp = np.array([10.0, 20.0, 30.0, 530.0, 540.0], np.float32)[None, :, None, None]
    default = jump_flags(ramp, read_noise=1.0)
    assert_array_equal(default, [0, 0, 0, JUMP_DET, 0])
    assert_array_equal(default, jump_flags(ramp, read_noise=1.0, params=JumpParams()))


def test_detect_jumps_arguments_after_the_arrays_are_keyword_only():
    ramp = flat_ramp_with_step(5, 0.0, at_group=1)
    with pytest.raises(TypeError):
        detect_jumps(ramp, np.zeros(ramp.shape, np.uint8), np.zeros((1, 1), np.uint32), ONE, ONE)


# JumpParams: no default assumes a group time


@pytest.mark.parametrize(
    ("features", "required"),
    [
        ({"expand_large_events": True}, "snowball_groups_masked_next_int"),
        ({"find_showers": True, "max_shower_amplitude_e_per_group": 6.0}, "shower_groups_masked_after"),
        ({"find_showers": True, "shower_groups_masked_after": 5}, "max_shower_amplitude_e_per_group"),
    ],
)
def test_fields_jwst_derives_from_the_group_time_are_required_when_used(features, required):
    with pytest.raises(ValueError, match=f"{required} is required"):
        JumpParams(**features)


def test_snowball_cores_not_carried_need_no_group_count():
    JumpParams(expand_large_events=True, mask_snowball_core_next_int=False)


# JumpParams.from_jwst: jwst's names and units


def test_from_jwst_converts_seconds_dn_and_radii():
    gain = np.array([[2.0, 4.0], [np.nan, 3.0]], np.float32)  # median 3 e/DN
    params = JumpParams.from_jwst(
        group_time_s=3.0,
        nframes=4,
        gain=gain,
        after_jump_flag_dn1=10.0,
        after_jump_flag_time1=10.0,
        sat_expand=3,
        max_extended_radius=50,
        time_masked_after_shower=7.0,
        snowball_time_masked_next_int=30,
        rejection_threshold=5.5,
    )
    assert params.after_jump_flag_e1 == 30.0 and params.after_jump_flag_groups1 == 3
    assert params.sat_expand_px == 6 and params.max_extended_width_px == 100
    assert params.shower_groups_masked_after == 2 and params.snowball_groups_masked_next_int == 10
    assert params.max_shower_amplitude_e_per_group == 18.0 and params.nframes == 4
    assert params.rejection_threshold == 5.5


def test_from_jwst_defaults_are_jwst_spec_defaults():
    jwst = JwstJumpStep()
    for name, default in _JWST_CONVERTED_DEFAULTS.items():
        assert getattr(jwst, name) == default, name
    defaults = JumpParams()
    for name in JWST_PARAMETERS - _JWST_CONVERTED_DEFAULTS.keys():
        assert getattr(defaults, name) == getattr(jwst, name), name
    from_spec = {name: getattr(jwst, name) for name in JWST_PARAMETERS}
    gain = np.ones((2, 2))
    assert JumpParams.from_jwst(group_time_s=2.0, nframes=1, gain=gain) == JumpParams.from_jwst(
        group_time_s=2.0, nframes=1, gain=gain, **from_spec
    )


def test_from_jwst_accepts_every_detection_parameter_of_jwst_and_no_other():
    spec_names = {line.split("=")[0].strip() for line in JwstJumpStep.spec.strip().splitlines()}
    assert spec_names - {"maximum_cores"} == JWST_PARAMETERS
    with pytest.raises(TypeError, match="sat_expand_px"):
        JumpParams.from_jwst(group_time_s=1.0, nframes=1, gain=ONE, sat_expand_px=4)


@pytest.mark.parametrize("group_time_s", [0.0, -1.0, float("nan"), None])
def test_from_jwst_refuses_a_group_time_that_is_not_positive(group_time_s):
    with pytest.raises(ValueError, match="group time"):
        JumpParams.from_jwst(group_time_s=group_time_s, nframes=1, gain=ONE)


def test_params_from_step_is_from_jwst_with_the_steps_parameters():
    step = JumpStep(rejection_threshold=3.5, after_jump_flag_dn2=50.0, after_jump_flag_time2=100.0)
    gain = np.full((2, 2), 2.0)
    expected = JumpParams.from_jwst(
        group_time_s=10.0,
        nframes=2,
        gain=gain,
        rejection_threshold=3.5,
        after_jump_flag_dn2=50.0,
        after_jump_flag_time2=100.0,
    )
    assert params_from_step(step, group_time_s=10.0, nframes=2, gain=gain) == expected
