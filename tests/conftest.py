"""Shared fixtures: a genuine offline CRDS cache for the session, ramp builders, hypothesis profiles.

CRDS reads CRDS_SERVER_URL when it is imported and caches its configuration
per process, so the environment is set here, at import, before any test
module imports crds or jwst. Tests that need another CRDS set-up run in a
subprocess.

Hypothesis profiles (``--hypothesis-profile NAME``; pyproject's addopts select ``ci``):

- ``ci``: derandomized (the same examples every run), a quarter of each test's examples,
  no deadline; what ``python -m pytest`` runs.
- ``dev``: random examples, each test's own number of examples.
- ``thorough``: random examples, five times each test's number.

A property test states its number of examples for ``dev`` through :func:`examples`,
which scales it for the profile in use.
"""

import atexit
import gc
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from jumpdet.references.crds_cache import build_cache, cache_environment

# one offline CRDS cache per test process (41 MB), removed when the process ends
_CRDS_ROOT = Path(tempfile.mkdtemp(prefix="jumpdet-crds-"))
atexit.register(shutil.rmtree, _CRDS_ROOT, ignore_errors=True)
CRDS_CACHE = build_cache(_CRDS_ROOT / "cache", detectors=("MIRIMAGE", "NRCA1"))
os.environ.update(cache_environment(CRDS_CACHE))
os.environ.pop("STPIPE_DISABLE_CRDS_STEPPARS", None)

from stdatamodels.jwst.datamodels import GainModel, RampModel, ReadnoiseModel  # noqa: E402

JUMP_DET = 4

_SCALE = {"ci": 0.25, "dev": 1.0, "thorough": 5.0}
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True, max_examples=25)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.register_profile("thorough", deadline=None, max_examples=500)


def examples(dev: int) -> int:
    """Examples for a property test that runs ``dev`` examples in the ``dev`` profile.

    Read when the test module is imported, after pytest has loaded the profile.
    """
    profile = settings.get_current_profile_name()
    return max(5, round(dev * _SCALE.get(profile, 1.0)))


def pytest_collection_finish(session):
    """Freeze what importing the test modules created (modules, classes, functions: nothing
    that dies) out of the garbage collector's sight.

    stpipe runs ``gc.collect()`` after every step call; over the 300,000 objects of an
    interpreter with jwst, numba and hypothesis loaded that takes 0.15-0.45 s, paid by
    some 400 step calls in this suite. Objects made by the tests are collected as before.
    """
    gc.freeze()


@pytest.fixture(scope="session")
def crds_cache() -> Path:
    """Root of the session's offline CRDS cache (already in the environment)."""
    return CRDS_CACHE


@pytest.fixture
def ramp_file(tmp_path):
    """A small MIRI SUB64 ramp file with one jump, at pixel (3, 4) from group 5."""
    data = linear_ramps((1, 10, 8, 9))
    data[0, 5:, 3, 4] += 500
    path = tmp_path / "obs_refpixstep.fits"
    make_ramp_model(data, subarray=("SUB64", 1, 1), filename=path.name).save(path)
    return path


def make_ramp_model(
    data,
    *,
    groupdq=None,
    group_time=3.0,
    nframes=1,
    instrument="MIRI",
    detector="MIRIMAGE",
    subarray=("FULL", 1, 1),
    filename="test_refpixstep.fits",
):
    """A RampModel around ``data`` (nints, ngroups, nrows, ncols) with the metadata the step reads."""
    data = np.asarray(data, dtype=np.float32)
    nints, ngroups, nrows, ncols = data.shape
    model = RampModel(data=data)
    model.groupdq = np.zeros(data.shape, np.uint8) if groupdq is None else np.asarray(groupdq, np.uint8)
    model.pixeldq = np.zeros((nrows, ncols), np.uint32)
    meta = model.meta
    meta.instrument.name = instrument
    meta.instrument.detector = detector
    meta.exposure.type = "MIR_IMAGE" if instrument == "MIRI" else "NRC_IMAGE"
    meta.exposure.readpatt = "FAST" if instrument == "MIRI" else "RAPID"
    meta.exposure.nints, meta.exposure.ngroups = nints, ngroups
    meta.exposure.nframes, meta.exposure.groupgap = nframes, 0
    meta.exposure.group_time = meta.exposure.frame_time = group_time
    meta.observation.date, meta.observation.time = "2024-01-01", "00:00:00"
    name, xstart, ystart = subarray
    meta.subarray.name, meta.subarray.xstart, meta.subarray.ystart = name, xstart, ystart
    meta.subarray.xsize, meta.subarray.ysize = ncols, nrows
    meta.filename = filename
    return model


def make_references(shape, *, gain=2.0, read_noise=8.0, instrument="MIRI"):
    """In-memory full-frame GainModel and ReadnoiseModel with constant values."""
    nrows, ncols = shape
    models = []
    for cls, value in ((GainModel, gain), (ReadnoiseModel, read_noise)):
        model = cls(data=np.full(shape, value, np.float32))
        model.meta.instrument.name = instrument
        model.meta.subarray.name = "FULL"
        model.meta.subarray.xstart = model.meta.subarray.ystart = 1
        model.meta.subarray.xsize, model.meta.subarray.ysize = ncols, nrows
        models.append(model)
    return tuple(models)


def linear_ramps(shape, *, slope=10.0, start=100.0):
    """Noise-free ramps rising by ``slope`` DN per group in every pixel."""
    nints, ngroups, nrows, ncols = shape
    ramp = start + slope * np.arange(ngroups, dtype=np.float32)
    return np.broadcast_to(ramp[None, :, None, None], shape).copy()


def environment_without_crds(**extra) -> dict[str, str]:
    """This process's environment without CRDS_* and STPIPE_* variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRDS_", "STPIPE_"))}
    env.update(extra)
    return env
