"""Step parameters at the edges: what jwst 3.0 runs with, jumpdet runs with, flagging the same.

jwst's own JumpStep is the oracle. Values it accepts (a ring whose inner radius
exceeds its "outer" one, negative times) give jwst's flags. Values on which
jwst fails (ring radii astropy refuses, non-finite times) are refused with one
line naming the step parameter. The few places where jumpdet goes on where
jwst fails are in docs/deviations.rst and tested here.
"""

import numpy as np
import pytest
from astropy.convolution import Ring2DKernel
from jwst.jump import JumpStep as JwstJumpStep
from numpy.testing import assert_array_equal

import test_large_events_step as events
from conftest import JUMP_DET, linear_ramps, make_ramp_model, make_references
from jumpdet import JumpParams, JumpStep
from jumpdet.step import resolve_cores

pytestmark = pytest.mark.oracle

SHOWERS, SNOWBALLS = events.SHOWERS, events.SNOWBALLS


def call(step_class, shape=(1, 12, 32, 32), **params):
    """Run a step on a small noise-free MIRI ramp (enough differences for a shower search)
    with one 500 DN jump, so that equal flags mean something."""
    data = linear_ramps(shape)
    data[0, 3:, 10, 10] += 500.0
    model = make_ramp_model(data)
    gain, readnoise = make_references(shape[2:])
    return step_class.call(model, override_gain=gain, override_readnoise=readnoise, **params)


def assert_one_clear_line(error: pytest.ExceptionInfo, parameter: str):
    """A single line that names the user's step parameter, not an internal field."""
    message = str(error.value)
    assert "\n" not in message
    assert parameter in message
    assert "_groups" not in message and "_px" not in message


# Accepted as jwst accepts them, with jwst's flags


def test_the_ring_kernel_spans_inner_radius_to_inner_plus_outer():
    """astropy's Ring2DKernel(radius_in, width): jwst passes extend_outer_radius as the width."""
    kernel = Ring2DKernel(3.0, 2.0).array  # extend_inner_radius=3 > extend_outer_radius=2
    assert kernel.shape == (11, 11)  # reaches 3 + 2 = 5 pixels
    assert kernel[5, 5 + 4] > 0 and kernel[5, 5 + 2] == 0  # 4 px from the centre: in; 2 px: out


@pytest.mark.parametrize(("inner", "outer"), [(3.0, 2.0), (2.6, 1.0)])
def test_inner_radius_may_exceed_the_outer_one(inner, outer):
    name, params = "miri_30groups", {**SHOWERS, "extend_inner_radius": inner, "extend_outer_radius": outer}
    expected = events.run_jwst(name, **params)
    events.assert_same(expected, events.run_jumpdet(name, **params))
    assert expected.extended_emission_events > 0
    assert np.any(expected.groupdq != events.run_jwst(name, **SHOWERS).groupdq), "the radii change nothing"


@pytest.mark.parametrize("seconds", [-1.0, -100.0])
def test_negative_time_masked_after_shower_counts_showers_but_flags_no_group(seconds):
    """floor(t / group_time) < 0 groups after the shower: jwst's range(group, group + n + 1) is empty."""
    name = "miri_30groups"
    expected = events.run_jwst(name, **SHOWERS, time_masked_after_shower=seconds)
    events.assert_same(expected, events.run_jumpdet(name, **SHOWERS, time_masked_after_shower=seconds))
    assert expected.extended_emission_events > 0
    assert_array_equal(expected.groupdq, events.run_jwst(name).groupdq)  # as if no shower stage


def test_negative_snowball_time_masks_no_group_of_the_next_integration():
    name, params = "nircam_3ints", {**SNOWBALLS, "snowball_time_masked_next_int": -10}
    expected = events.run_jwst(name, **params)
    events.assert_same(expected, events.run_jumpdet(name, **params))
    assert_array_equal(
        expected.groupdq, events.run_jwst(name, **SNOWBALLS, mask_snowball_core_next_int=False).groupdq
    )
    assert np.any(expected.groupdq != events.run_jwst(name, **SNOWBALLS).groupdq), "no core was carried over"


@pytest.mark.parametrize("time2", [20.0, -5.0])
def test_negative_after_jump_time_flags_no_group_after(time2):
    name = "miri_2ints"
    params = dict(after_jump_flag_dn1=10.0, after_jump_flag_time1=-10.0, after_jump_flag_dn2=100.0)
    expected = events.run_jwst(name, **params, after_jump_flag_time2=time2)
    events.assert_same(expected, events.run_jumpdet(name, **params, after_jump_flag_time2=time2))
    as_zero = events.run_jwst(name, **{**params, "after_jump_flag_time1": 0.0}, after_jump_flag_time2=time2)
    assert_array_equal(expected.groupdq, as_zero.groupdq)
    if time2 > 0:  # not vacuous: the other after-jump rule flags groups on this ramp
        assert np.any(expected.groupdq != events.run_jwst(name).groupdq)


@pytest.mark.parametrize(("inner", "outer"), [(-1.0, 2.6), (1.0, 0.0), (1.0, -3.0)])
def test_ring_radii_are_not_checked_without_find_showers(inner, outer):
    """jwst builds the ring kernel only in the shower search."""
    JumpParams(extend_inner_radius=inner, extend_outer_radius=outer)
    params = dict(extend_inner_radius=inner, extend_outer_radius=outer)
    expected, actual = call(JwstJumpStep, **params), call(JumpStep, **params)
    assert_array_equal(actual.groupdq, expected.groupdq)


# Refused: jwst fails on these too


@pytest.mark.parametrize(
    ("inner", "outer", "named"),
    [
        (-1.0, 2.6, "extend_inner_radius"),  # astropy: r_in must be >= 0
        (1.0, -1.0, "extend_outer_radius"),  # astropy: width must be >= 0
        (1.0, 0.0, "extend_outer_radius"),  # astropy: division by zero
        (0.1, 0.3, "extend_inner_radius + extend_outer_radius"),  # 1 x 1 kernel: convolve_fast fails
        (float("nan"), 2.6, "extend_inner_radius"),
    ],
)
def test_ring_radii_jwst_fails_on_are_refused_with_one_clear_line(inner, outer, named):
    params = dict(find_showers=True, extend_inner_radius=inner, extend_outer_radius=outer)
    with pytest.raises((ValueError, ZeroDivisionError)):
        call(JwstJumpStep, **params)
    with pytest.raises(ValueError) as error:
        call(JumpStep, **params)
    assert_one_clear_line(error, named)
    with pytest.raises(ValueError, match=named.split()[0]):
        JumpParams(**params)


def test_a_ring_just_wider_than_one_pixel_is_accepted():
    """inner + outer > 0.5: a 3 x 3 kernel, on which jwst runs."""
    params = dict(find_showers=True, extend_inner_radius=0.0, extend_outer_radius=0.51)
    assert_array_equal(call(JumpStep, **params).groupdq, call(JwstJumpStep, **params).groupdq)


@pytest.mark.parametrize(
    "name", ["after_jump_flag_time1", "after_jump_flag_time2", "time_masked_after_shower"]
)
@pytest.mark.parametrize("seconds", [float("nan"), float("inf")])
def test_non_finite_times_are_refused_with_one_clear_line(name, seconds):
    with pytest.raises(ValueError, match="cannot convert"):
        call(JwstJumpStep, **{name: seconds})
    with pytest.raises(ValueError) as error:
        call(JumpStep, **{name: seconds})
    assert_one_clear_line(error, name)


# Deliberate differences (docs/deviations.rst)


def test_bad_ring_radii_are_refused_even_when_jwst_would_not_search_for_showers():
    """4 differences (< 10): jwst skips the shower search, so never builds its kernel, and runs."""
    params = dict(find_showers=True, extend_outer_radius=0.0)
    shape = (1, 5, 16, 16)
    assert call(JwstJumpStep, shape, **params).meta.cal_step.jump == "COMPLETE"
    with pytest.raises(ValueError) as error:
        call(JumpStep, shape, **params)
    assert_one_clear_line(error, "extend_outer_radius")


def nircam(step_class, gdq, **params):
    """A step's output for a noise-free NIRCam ramp with this input GROUPDQ (gain 1), snowballs on."""
    model = make_ramp_model(
        linear_ramps(gdq.shape), groupdq=gdq, instrument="NIRCAM", detector="NRCA1", group_time=10.737
    )
    gain, readnoise = make_references(gdq.shape[2:], gain=1.0, instrument="NIRCAM")
    return step_class.call(model, override_gain=gain, override_readnoise=readnoise, **SNOWBALLS, **params)


def test_an_ellipse_of_negative_size_is_drawn_as_nothing_where_jwst_fails():
    """sat_expand=-30 shrinks the grown core's full axes by 60 px: jwst cannot make its drawing window."""
    gdq = events.core_in_ring()  # a core of radius 3, grown with the defaults
    with pytest.raises(ValueError, match="negative dimensions"):
        nircam(JwstJumpStep, gdq, sat_expand=-30)
    shrunk = nircam(JumpStep, gdq, sat_expand=-30)
    # jumpdet runs on and draws no core: what jwst gives when no core is large enough to grow
    not_grown = nircam(JwstJumpStep, gdq, min_sat_radius_extend=100.0)
    events.assert_same(events.flags(not_grown), events.flags(shrunk))
    assert np.any(nircam(JwstJumpStep, gdq).groupdq != shrunk.groupdq)  # the grown core would show


def test_an_ellipse_of_negative_size_jwst_survives_gets_its_flags():
    """max_extended_radius=-1 caps every axis at -2: jwst draws nothing and runs; so does jumpdet."""
    gdq = events.core_in_ring()
    expected = nircam(JwstJumpStep, gdq, max_extended_radius=-1)
    events.assert_same(events.flags(expected), events.flags(nircam(JumpStep, gdq, max_extended_radius=-1)))
    assert expected.meta.exposure.extended_emission_events > 0


def test_maximum_cores_zero_is_one_thread_where_jwst_divides_by_zero():
    with pytest.raises(ZeroDivisionError):
        call(JwstJumpStep, maximum_cores="0")
    assert resolve_cores("0") == 1
    flags = call(JumpStep, maximum_cores="0").groupdq
    assert_array_equal(flags, call(JwstJumpStep).groupdq)
    assert flags[0, 3, 10, 10] & JUMP_DET
