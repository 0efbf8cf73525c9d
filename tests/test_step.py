"""The step's contract: inputs untouched, outputs named and recorded, references found or a clear error."""

import hashlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from stdatamodels.jwst.datamodels import GainModel, ImageModel, RampModel, dqflags

from conftest import JUMP_DET, linear_ramps, make_ramp_model, make_references
from jumpdet import JumpStep
from jumpdet.references.loading import load_references
from jumpdet.step import resolve_cores


def one_jump_model(shape=(1, 10, 8, 9), at=(0, 5, 3, 4), amplitude=500.0, **kw):
    data = linear_ramps(shape)
    i, g, y, x = at
    data[i, g:, y, x] += amplitude
    return make_ramp_model(data, **kw)


def run(model, **kw):
    gain, readnoise = make_references(model.data.shape[2:])
    return JumpStep.call(model, override_gain=gain, override_readnoise=readnoise, **kw)


def test_single_jump_is_flagged_in_its_group_and_neighbours():
    result = run(one_jump_model(), min_jump_to_flag_neighbors=4)
    flagged = np.argwhere(result.groupdq & JUMP_DET)
    assert_array_equal(flagged, [[0, 5, 2, 4], [0, 5, 3, 3], [0, 5, 3, 4], [0, 5, 3, 5], [0, 5, 4, 4]])
    assert result.meta.cal_step.jump == "COMPLETE"


def test_other_dq_bits_are_kept():
    model = one_jump_model()
    model.groupdq[0, :, 0, 0] = dqflags.group["PERSISTENCE"]
    model.groupdq[0, 5, 3, 4] = dqflags.group["DROPOUT"]
    result = run(model)
    assert_array_equal(result.groupdq[0, :, 0, 0], dqflags.group["PERSISTENCE"])
    assert result.groupdq[0, 5, 3, 4] == dqflags.group["DROPOUT"] | JUMP_DET


def test_input_model_is_not_modified():
    model = one_jump_model()
    before = (model.data.copy(), model.groupdq.copy(), model.pixeldq.copy())
    result = run(model)
    assert result is not model
    assert model.meta.cal_step.jump is None
    for was, now in zip(before, (model.data, model.groupdq, model.pixeldq), strict=True):
        assert_array_equal(was, now)


def test_input_model_is_not_modified_when_skipped():
    model = make_ramp_model(linear_ramps((1, 2, 4, 4)))
    result = run(model)
    assert result.meta.cal_step.jump == "SKIPPED"
    assert result is not model
    assert model.meta.cal_step.jump is None


def test_file_input_is_untouched_and_output_named_jumpstep(tmp_path):
    path = tmp_path / "det_image_seq1_MIRIMAGE_F1130Wexp1_refpixstep.fits"
    one_jump_model(filename=path.name).save(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    gain, readnoise = make_references((8, 9))
    JumpStep.call(
        str(path),
        override_gain=gain,
        override_readnoise=readnoise,
        save_results=True,
        output_dir=str(tmp_path),
        output_use_model=True,
    )
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    output = tmp_path / "det_image_seq1_MIRIMAGE_F1130Wexp1_jumpstep.fits"
    with RampModel(output) as saved:
        assert saved.groupdq[0, 5, 3, 4] & JUMP_DET
        assert saved.meta.cal_step.jump == "COMPLETE"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, output.name])


def test_references_resolve_through_the_local_crds_cache(crds_cache):
    model = one_jump_model(subarray=("SUB64", 100, 200))
    result = JumpStep.call(model)
    assert result.groupdq[0, 5, 3, 4] & JUMP_DET
    assert result.meta.ref_file.gain.name == "crds://jwst_miri_gain_9000.fits"
    assert result.meta.ref_file.readnoise.name == "crds://jwst_miri_readnoise_9000.fits"
    assert result.meta.ref_file.crds.context_used == "jwst_9000.pmap"


def test_subarray_references_are_cut_from_full_frame(crds_cache):
    model = one_jump_model(subarray=("SUB64", 100, 200))
    step = JumpStep()
    refs = load_references(step, model)
    with GainModel(str(crds_cache / "references/jwst/miri/jwst_miri_gain_9000.fits")) as full:
        assert_array_equal(refs.gain, full.data[199:207, 99:108])
    assert refs.gain.dtype == np.float32 and refs.read_noise.shape == (8, 9)


def test_overrides_as_paths_and_as_models_agree(tmp_path):
    gain, readnoise = make_references((8, 9), gain=3.0, read_noise=6.0)
    gain.save(tmp_path / "gain.fits")
    readnoise.save(tmp_path / "readnoise.fits")
    model = one_jump_model()
    from_models = JumpStep.call(model, override_gain=gain, override_readnoise=readnoise)
    from_paths = JumpStep.call(
        model, override_gain=str(tmp_path / "gain.fits"), override_readnoise=str(tmp_path / "readnoise.fits")
    )
    assert_array_equal(from_models.groupdq, from_paths.groupdq)
    assert from_paths.meta.ref_file.gain.name.endswith("gain.fits")


def test_bad_gain_marks_pixeldq():
    model = one_jump_model()
    gain, readnoise = make_references((8, 9))
    gain.data[1, 1] = 0.0
    gain.data[2, 2] = np.nan
    result = JumpStep.call(model, override_gain=gain, override_readnoise=readnoise)
    bad = dqflags.pixel["NO_GAIN_VALUE"] | dqflags.pixel["DO_NOT_USE"]
    assert result.pixeldq[1, 1] == bad and result.pixeldq[2, 2] == bad
    assert np.count_nonzero(result.pixeldq) == 2


def test_rates_are_recorded():
    result = run(one_jump_model(), flag_4_neighbors=False)
    # one flag, 9 usable groups of 3 s, 72 pixels
    assert result.meta.exposure.primary_cosmic_rays == pytest.approx(1000 * 1 / (3.0 * 9 * 72))
    assert result.meta.exposure.extended_emission_events == 0


@pytest.fixture(scope="module")
def noisy_model_and_flags():
    """Noisy ramps with 1 % of groups jumping 300 DN, and their flags with one thread."""
    rng = np.random.default_rng(3)
    data = rng.normal(100, 5, (2, 6, 40, 30)).cumsum(axis=1)
    data += 300 * np.cumsum(rng.random(data.shape) < 0.01, axis=1)
    model = make_ramp_model(data)
    flags = run(model).groupdq
    assert np.count_nonzero(flags & JUMP_DET) > 20  # jumps and their neighbours to agree on
    return model, flags


@pytest.mark.parametrize("cores", ["2", "none", "quarter", "half", "all", "7"])
def test_flags_do_not_depend_on_maximum_cores(cores, noisy_model_and_flags):
    model, one_thread = noisy_model_and_flags
    assert_array_equal(run(model, maximum_cores=cores).groupdq, one_thread)


@pytest.mark.parametrize(
    ("cores", "threads"),
    [("1", 1), ("none", 1), ("one", 1), ("quarter", 1), ("half", 1), ("all", 2), ("2", 2), ("7", 2)],
)
def test_maximum_cores_gives_threads_up_to_the_machine(cores, threads, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert resolve_cores(cores) == threads


def test_maximum_cores_rejects_nonsense():
    with pytest.raises(ValueError, match="maximum_cores='lots' is not understood"):
        resolve_cores("lots")


def test_non_ramp_input_gets_a_clear_error(tmp_path):
    path = tmp_path / "image_rate.fits"
    ImageModel(data=np.zeros((5, 5), np.float32)).save(path)
    with pytest.raises(ValueError, match=r"not a ramp|cannot open"):
        JumpStep.call(str(path))


def test_missing_group_time_gets_a_clear_error():
    model = one_jump_model()
    model.meta.exposure.group_time = None
    with pytest.raises(ValueError, match="group_time"):
        run(model)


NO_CACHE_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from conftest_free import one_jump
    from jumpdet import JumpStep
    from jumpdet.references.crds_access import CrdsUnavailableError
    model, gain, readnoise = one_jump()
    try:
        JumpStep.call(model)
    except CrdsUnavailableError as exc:
        print("ERROR:", exc)
    result = JumpStep.call(model, override_gain=gain, override_readnoise=readnoise)
    print("OVERRIDES:", result.meta.cal_step.jump, int(result.groupdq[0, 5, 3, 4]))
""")


@pytest.mark.slow
def test_without_crds_a_clear_error_and_overrides_still_work(tmp_path):
    helper = tmp_path / "conftest_free.py"
    helper.write_text(
        textwrap.dedent("""
        import numpy as np
        from stdatamodels.jwst.datamodels import GainModel, RampModel, ReadnoiseModel
        def one_jump():
            ramp = 100 + 10 * np.arange(10, dtype=np.float32)
            data = ramp[None, :, None, None] * np.ones((1, 10, 8, 9), np.float32)
            data[0, 5:, 3, 4] += 500
            m = RampModel(data=data)
            m.meta.instrument.name, m.meta.instrument.detector = "MIRI", "MIRIMAGE"
            m.meta.exposure.nframes, m.meta.exposure.group_time = 1, 3.0
            m.meta.subarray.name, m.meta.subarray.xstart, m.meta.subarray.ystart = "FULL", 1, 1
            m.meta.subarray.xsize, m.meta.subarray.ysize = 9, 8
            refs = [GainModel(data=np.full((8, 9), 2.0, np.float32)),
                    ReadnoiseModel(data=np.full((8, 9), 8.0, np.float32))]
            for ref in refs:
                ref.meta.instrument.name = "MIRI"
                ref.meta.subarray.xstart = ref.meta.subarray.ystart = 1
                ref.meta.subarray.xsize, ref.meta.subarray.ysize = 9, 8
            return m, refs[0], refs[1]
    """)
    )
    empty = tmp_path / "empty_cache"
    empty.mkdir()
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("CRDS_", "STPIPE_"))}
    env["CRDS_PATH"] = str(empty)
    out = subprocess.run(
        [sys.executable, "-c", NO_CACHE_SCRIPT.format(tests=str(tmp_path))],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    error = next(line for line in out.stdout.splitlines() if line.startswith("ERROR:"))
    assert "CRDS_PATH" in error and "jumpdet crds-cache" in error and "override_gain" in error
    assert "OVERRIDES: COMPLETE 4" in out.stdout
    assert "FATAL" not in out.stderr + out.stdout


@pytest.mark.parametrize("large_events", [{}, {"find_showers": True}, {"expand_large_events": True}])
def test_in_memory_references_are_read_not_modified(large_events):
    data = linear_ramps((1, 12, 20, 24))
    data[0, 6:, 5, 5] += 3000
    model = make_ramp_model(data)
    gain, readnoise = make_references((20, 24))
    gain.data[0, :3] = [0.0, -1.0, np.nan]  # bad gains get PIXELDQ flags, the reference stays
    before = gain.data.copy(), readnoise.data.copy()
    result = JumpStep.call(model, override_gain=gain, override_readnoise=readnoise, **large_events)
    assert result.groupdq[0, 6, 5, 5] & JUMP_DET
    assert_array_equal(gain.data, before[0])
    assert_array_equal(readnoise.data, before[1])
