"""Specification of the synthetic-ramp generator, :mod:`jumpdet.simulate.ramps`."""

import ast
import importlib
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from conftest import examples
from jumpdet.flags import DO_NOT_USE, REFERENCE_PIXEL, SATURATED
from jumpdet.simulate import ramps as simulate
from jumpdet.simulate.ramps import InjectedJump, SyntheticRamp, jump_significance_sigma, simulate_ramp


def _expected_jump_offsets_dn(sim):
    """Cumulative injected amplitude per group, DN, shaped like ``sim.data``."""
    offsets = np.zeros(sim.data.shape, dtype=np.float64)
    for j in sim.jumps:
        offsets[j.integration, j.group :, j.row, j.col] += j.amplitude_dn
    return offsets


def test_shapes_dtypes_and_scalars_broadcast():
    sim = simulate_ramp((2, 5, 6, 7), seed=1, gain=2.0, read_noise=np.full((6, 7), 3.0), group_time=10.0)
    assert sim.data.shape == sim.groupdq.shape == (2, 5, 6, 7)
    assert (sim.data.dtype, sim.groupdq.dtype, sim.pixeldq.dtype) == (np.float32, np.uint8, np.uint32)
    for image in (sim.pixeldq, sim.gain, sim.read_noise, sim.flux_dn_per_s):
        assert image.shape == (6, 7)
    assert sim.gain.dtype == sim.read_noise.dtype == np.float32
    assert_array_equal(sim.gain, 2.0)
    assert isinstance(sim.group_time, float) and sim.group_time == 10.0
    assert isinstance(sim.nframes, int) and sim.nframes == 1
    assert isinstance(sim.jumps, tuple)


def test_same_seed_gives_identical_ramps_and_jumps():
    kwargs = {"jump_fraction": 0.05, "saturation_dn": 400.0, "flux_dn_per_s": 10.0}
    first, second = (simulate_ramp((1, 6, 8, 8), seed=42, **kwargs) for _ in range(2))
    assert_array_equal(first.data, second.data)
    assert_array_equal(first.groupdq, second.groupdq)
    assert first.jumps == second.jumps
    other = simulate_ramp((1, 6, 8, 8), seed=43, **kwargs)
    assert not np.array_equal(first.data, other.data)


def test_jumps_add_their_amplitude_to_their_group_and_all_later_groups():
    shape, kwargs = (2, 8, 10, 12), {"seed": 7, "flux_dn_per_s": 3.0, "jump_amplitude_dn": (100.0, 200.0)}
    with_jumps = simulate_ramp(shape, jump_fraction=0.05, **kwargs)
    without = simulate_ramp(shape, jump_fraction=0.0, **kwargs)
    assert without.jumps == ()
    assert len(with_jumps.jumps) > 20
    assert all(1 <= j.group < 8 and 100.0 <= j.amplitude_dn <= 200.0 for j in with_jumps.jumps)
    difference = with_jumps.data.astype(np.float64) - without.data
    assert_allclose(difference, _expected_jump_offsets_dn(with_jumps), atol=0.01)


def test_at_most_one_jump_per_pixel_and_group_ordered():
    sim = simulate_ramp((2, 10, 5, 5), seed=3, jump_fraction=0.3)
    keys = [(j.integration, j.group, j.row, j.col) for j in sim.jumps]
    assert keys == sorted(set(keys))


def test_negative_jumps_step_down():
    sim = simulate_ramp((1, 6, 8, 8), seed=5, jump_fraction=0.1, negative_jump_fraction=1.0)
    assert sim.jumps
    assert all(-5000.0 <= j.amplitude_dn <= -50.0 for j in sim.jumps)


@settings(max_examples=examples(20))
@given(
    nints=st.integers(1, 2),
    ngroups=st.integers(2, 6),
    seed=st.integers(0, 2**32 - 1),
    negative=st.sampled_from([0.0, 0.5]),
)
def test_jump_free_run_has_the_same_noise(nints, ngroups, seed, negative):
    shape = (nints, ngroups, 4, 5)
    with_jumps = simulate_ramp(shape, seed=seed, jump_fraction=0.2, negative_jump_fraction=negative)
    without = simulate_ramp(shape, seed=seed, jump_fraction=0.0)
    difference = with_jumps.data.astype(np.float64) - without.data
    assert_allclose(difference, _expected_jump_offsets_dn(with_jumps), atol=0.01)


def test_saturation_flags_from_the_saturating_group_onward_and_clips():
    flux = np.linspace(0.0, 300.0, 6 * 7, dtype=np.float32).reshape(6, 7)
    kwargs = {"seed": 11, "flux_dn_per_s": flux, "group_time": 2.0, "bias_dn": 100.0, "jump_fraction": 0.0}
    free = simulate_ramp((1, 8, 6, 7), **kwargs)
    sim = simulate_ramp((1, 8, 6, 7), saturation_dn=1500.0, **kwargs)
    reached = np.maximum.accumulate(free.data >= 1500.0, axis=1)  # from the first group at or above
    assert reached.any() and not reached.all()
    assert_array_equal((sim.groupdq & SATURATED) != 0, reached)
    assert_array_equal(sim.groupdq[~reached], 0)
    assert_array_equal(sim.data[reached], 1500.0)
    assert_array_equal(sim.data[~reached], free.data[~reached])


def test_no_jumps_in_saturated_groups_or_do_not_use_pixels():
    pixeldq = np.zeros((6, 6), dtype=np.uint32)
    pixeldq[:, 0] = REFERENCE_PIXEL | DO_NOT_USE
    flux = np.full((6, 6), 5.0, dtype=np.float32)
    flux[3:, :] = 400.0  # these rows saturate partway up the ramp
    sim = simulate_ramp(
        (1, 10, 6, 6), seed=2, flux_dn_per_s=flux, jump_fraction=0.3, saturation_dn=6000.0, pixeldq=pixeldq
    )
    assert_array_equal(sim.pixeldq, pixeldq)
    saturated = (sim.groupdq & SATURATED) != 0
    assert saturated.any()
    assert sim.jumps
    for j in sim.jumps:
        assert j.col != 0
        assert not saturated[j.integration, : j.group + 1, j.row, j.col].any()


@pytest.mark.parametrize("nframes", [1, 4])
def test_read_noise_is_the_cds_noise_of_single_frames(nframes):
    """READNOISE convention: a group difference has read noise ``read_noise / sqrt(nframes)``."""
    kwargs = {"seed": 9, "flux_dn_per_s": 0.0, "read_noise": 10.0, "jump_fraction": 0.0, "nframes": nframes}
    sim = simulate_ramp((1, 2, 100, 100), **kwargs)
    assert math.isclose(sim.data[:, 0].std(), 10.0 / math.sqrt(2 * nframes), rel_tol=0.03)
    assert math.isclose(np.diff(sim.data, axis=1).std(), 10.0 / math.sqrt(nframes), rel_tol=0.03)


def test_poisson_noise_matches_the_flux_in_electrons():
    sim = simulate_ramp(
        (1, 2, 100, 100),
        seed=4,
        gain=4.0,
        read_noise=0.0,
        flux_dn_per_s=50.0,
        group_time=5.0,
        jump_fraction=0.0,
    )
    increments_e = np.diff(sim.data, axis=1) * 4.0  # 250 DN = 1000 e per group
    assert math.isclose(increments_e.mean(), 1000.0, rel_tol=0.01)
    assert math.isclose(increments_e.var(), 1000.0, rel_tol=0.1)


def test_significance_of_a_hand_made_jump():
    # 100 DN * 2 e/DN = 200 e over sqrt(0 + (5 DN * 2 e/DN)**2 / 1) = 10 e
    assert math.isclose(
        jump_significance_sigma(100.0, gain=2.0, read_noise_dn=5.0, flux_dn_per_s=0.0, group_time=10.0),
        20.0,
    )
    # 30 e over sqrt(2 DN/s * 10 s + 3**2 / 2) = sqrt(24.5) e; sign is ignored
    assert math.isclose(
        jump_significance_sigma(
            -30.0, gain=1.0, read_noise_dn=3.0, flux_dn_per_s=2.0, group_time=10.0, nframes=2
        ),
        30.0 / math.sqrt(24.5),
    )


def test_ramp_significance_selection_and_truth_mask():
    image = np.ones((2, 3), dtype=np.float32)
    jumps = (InjectedJump(0, 1, 0, 2, 100.0), InjectedJump(0, 2, 1, 0, 5.0))
    sim = SyntheticRamp(
        data=np.zeros((1, 3, 2, 3), np.float32),
        groupdq=np.zeros((1, 3, 2, 3), np.uint8),
        pixeldq=np.zeros((2, 3), np.uint32),
        gain=2.0 * image,
        read_noise=5.0 * image,
        flux_dn_per_s=0.0 * image,
        group_time=10.0,
        nframes=1,
        jumps=jumps,
    )
    assert_allclose(sim.significance_sigma(), [20.0, 1.0])
    assert sim.jumps_above(10.0) == (jumps[0],)
    expected = np.zeros((1, 3, 2, 3), dtype=bool)
    expected[0, 1, 0, 2] = True
    assert_array_equal(sim.jump_mask(min_sigma=10.0), expected)
    expected[0, 2, 1, 0] = True
    assert_array_equal(sim.jump_mask(), expected)


def test_no_jumps_gives_empty_significance_and_mask():
    sim = simulate_ramp((1, 3, 2, 2), seed=0, jump_fraction=0.0)
    assert sim.significance_sigma().shape == (0,)
    assert sim.jumps_above(10.0) == ()
    assert not sim.jump_mask().any()


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (((1, 3, 4),), {}, "shape"),
        (((1, 0, 4, 4),), {}, "shape"),
        (((1, 3, 4, 4),), {"gain": np.ones((3, 3))}, "gain"),
        (((1, 3, 4, 4),), {"gain": 0.0}, "gain"),
        (((1, 3, 4, 4),), {"flux_dn_per_s": -1.0}, "flux"),
        (((1, 3, 4, 4),), {"jump_fraction": 1.5}, "fraction"),
        (((1, 3, 4, 4),), {"jump_amplitude_dn": (500.0, 100.0)}, "jump_amplitude_dn"),
        (((1, 3, 4, 4),), {"group_time": 0.0}, "group_time"),
        (((1, 3, 4, 4),), {"nframes": 0}, "nframes"),
    ],
)
def test_bad_arguments_raise(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_ramp(*args, seed=0, **kwargs)


@pytest.mark.parametrize("name", ["jumpdet.simulate.ramps", "jumpdet.plotting"])
def test_module_level_imports_are_light(name):
    """stdatamodels and matplotlib are imported inside the functions that need them."""
    tree = ast.parse(Path(importlib.import_module(name).__file__).read_text(encoding="utf-8"))
    top_level = {
        alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert top_level <= {"__future__", "math", "pathlib", "dataclasses", "typing", "numpy", "jumpdet"}


@pytest.fixture(scope="module")
def demo():
    return simulate.miri_imager_demo(seed=0)


def test_miri_imager_demo_frame(demo):
    from scipy import ndimage

    assert demo.data.shape == (1, 10, 1024, 1032)
    assert demo.data.dtype == np.float32
    assert (demo.group_time, demo.nframes) == (2.775, 1)
    assert 5.0 < float(np.median(demo.gain)) < 6.0
    assert 12.0 < float(np.median(demo.read_noise)) < 16.0
    saturated = (demo.groupdq & SATURATED) != 0
    assert_array_equal(demo.data[saturated], 60000.0)
    _, n_saturated_sources = ndimage.label(saturated.any(axis=(0, 1)))
    assert 3 <= n_saturated_sources <= 6
    reference = (demo.pixeldq & REFERENCE_PIXEL) != 0
    assert_array_equal(np.flatnonzero(reference.all(axis=0)), [0, 1, 2, 3, 1028, 1029, 1030, 1031])


def test_miri_imager_demo_jumps(demo):
    assert 200 <= len(demo.jumps) <= 600
    amplitudes = np.array([j.amplitude_dn for j in demo.jumps])
    assert amplitudes.min() >= 50.0 and amplitudes.max() <= 5000.0
    significance = demo.significance_sigma()
    assert 0 < np.count_nonzero(significance < 10.0) < 0.1 * len(demo.jumps)
    saturated = (demo.groupdq & SATURATED) != 0
    for j in demo.jumps:
        assert 4 <= j.col < 1028
        assert not saturated[j.integration, : j.group + 1, j.row, j.col].any()
    # each jump shows as a step of its amplitude over the expected group increment
    idx = tuple(np.array([(j.integration, j.group, j.row, j.col) for j in demo.jumps]).T)
    before = (idx[0], idx[1] - 1, idx[2], idx[3])
    excess = demo.data[idx] - demo.data[before] - demo.flux_dn_per_s[idx[2:]] * demo.group_time
    assert abs(float(np.median(excess - amplitudes))) < 10.0


def test_miri_imager_demo_is_seeded():
    a, b = simulate.miri_imager_demo(seed=1), simulate.miri_imager_demo(seed=1)
    assert a.jumps == b.jumps
    assert_array_equal(a.data, b.data)


def test_to_ramp_model_round_trips_with_metadata(tmp_path):
    datamodels = pytest.importorskip("stdatamodels.jwst.datamodels")
    sim = simulate_ramp((2, 4, 8, 9), seed=1, jump_fraction=0.05, saturation_dn=300.0, flux_dn_per_s=20.0)
    model = simulate.to_ramp_model(sim, filename="sim_refpix.fits")
    assert isinstance(model, datamodels.RampModel)
    assert not model.hasattr("err")
    model.validate()
    model.data[0, 0, 0, 0] += 1.0
    assert sim.data[0, 0, 0, 0] != model.data[0, 0, 0, 0]  # arrays are copies
    model.data[0, 0, 0, 0] -= 1.0
    path = tmp_path / "sim_refpix.fits"
    model.save(path)
    with datamodels.open(path) as reopened:
        assert isinstance(reopened, datamodels.RampModel)
        assert_array_equal(reopened.data, sim.data)
        assert_array_equal(reopened.groupdq, sim.groupdq)
        assert_array_equal(reopened.pixeldq, sim.pixeldq)
        assert (reopened.data.dtype.name, reopened.groupdq.dtype.name) == ("float32", "uint8")
        meta = reopened.meta
        assert (meta.instrument.name, meta.instrument.detector, meta.instrument.filter) == (
            "MIRI",
            "MIRIMAGE",
            "F1130W",
        )
        assert (meta.exposure.type, meta.exposure.readpatt) == ("MIR_IMAGE", "FAST")
        assert (meta.exposure.nints, meta.exposure.ngroups, meta.exposure.nframes) == (2, 4, 1)
        assert meta.exposure.groupgap == 0
        assert meta.exposure.group_time == meta.exposure.frame_time == sim.group_time
        assert math.isclose(meta.exposure.integration_time, 4 * sim.group_time)
        assert meta.observation.date and meta.observation.time
        assert (meta.subarray.name, meta.subarray.xstart, meta.subarray.ystart) == ("FULL", 1, 1)
        assert (meta.subarray.xsize, meta.subarray.ysize) == (9, 8)
        assert meta.cal_step.refpix == "COMPLETE"
        assert meta.filename == "sim_refpix.fits"


def test_to_ramp_model_nircam_subarray():
    pytest.importorskip("stdatamodels")
    sim = simulate_ramp((1, 3, 64, 64), seed=0, nframes=2, group_time=2.0)
    model = simulate.to_ramp_model(
        sim, instrument="NIRCam", detector="NRCA1", filter="F200W", subarray=("SUB64P", 1985, 1)
    )
    assert (model.meta.instrument.name, model.meta.exposure.type) == ("NIRCAM", "NRC_IMAGE")
    assert model.meta.exposure.readpatt == "RAPID"
    assert model.meta.exposure.frame_time == 1.0
    assert (model.meta.subarray.name, model.meta.subarray.xstart, model.meta.subarray.xsize) == (
        "SUB64P",
        1985,
        64,
    )
    assert model.meta.filename.endswith(".fits")


def test_to_ramp_model_needs_exp_type_for_other_instruments():
    pytest.importorskip("stdatamodels")
    sim = simulate_ramp((1, 3, 4, 4), seed=0)
    with pytest.raises(ValueError, match="exp_type"):
        simulate.to_ramp_model(sim, instrument="NIRSPEC", detector="NRS1", filter="CLEAR")


def test_to_reference_models_serve_as_the_steps_override_references(tmp_path):
    from jumpdet import JumpStep

    sim = simulate_ramp((1, 6, 8, 10), seed=0, gain=3.0, read_noise=7.0, jump_fraction=0.0)
    gain, read_noise = simulate.to_reference_models(sim.gain, sim.read_noise, instrument="miri")
    assert (gain.meta.instrument.name, gain.meta.subarray.name) == ("MIRI", "FULL")
    assert (read_noise.meta.subarray.xsize, read_noise.meta.subarray.ysize) == (10, 8)
    np.testing.assert_array_equal(gain.data, sim.gain)
    np.testing.assert_array_equal(read_noise.data, sim.read_noise)
    with simulate.to_ramp_model(sim) as model:
        result = JumpStep.call(model, override_gain=gain, override_readnoise=read_noise)
    assert result.groupdq.shape == sim.groupdq.shape
