"""No CRDS at all: overrides suffice for strun (class, alias, cfg) and the pipeline; without them, one line.

CRDS caches its configuration per process, so every run here is a subprocess
whose CRDS_PATH is an empty folder and whose server is the default serverless one.
"""

import os
import shutil
import subprocess
import sys

import pytest
from stdatamodels.jwst.datamodels import RampModel

from conftest import JUMP_DET, environment_without_crds, linear_ramps, make_ramp_model, make_references
from jumpdet import Detector1Pipeline
from jumpdet.cli import collect_cfgs

pytestmark = pytest.mark.slow  # every test here runs strun in a fresh interpreter

STRUN = shutil.which("strun", path=os.path.dirname(sys.executable)) or "strun"
JUMPDET = shutil.which("jumpdet", path=os.path.dirname(sys.executable)) or "jumpdet"


@pytest.fixture
def no_crds(tmp_path):
    """Files and an environment without CRDS: ramp, gain and readnoise override files."""
    data = linear_ramps((1, 8, 8, 9))
    data[0, 4:, 3, 4] += 500
    make_ramp_model(data, subarray=("SUB64", 1, 1), filename="obs_refpix.fits").save(
        tmp_path / "obs_refpix.fits"
    )
    gain, readnoise = make_references((8, 9))
    gain.save(tmp_path / "gain.fits")
    readnoise.save(tmp_path / "readnoise.fits")
    (tmp_path / "empty").mkdir()
    env = environment_without_crds(CRDS_PATH=str(tmp_path / "empty"))
    return tmp_path, env


def strun(folder, env, *args):
    return subprocess.run(
        [STRUN, *map(str, args)], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )


OVERRIDES = ("--override_gain", "gain.fits", "--override_readnoise", "readnoise.fits")


@pytest.mark.parametrize("target", ["jumpdet.JumpStep", "jumpdet", "cfg"])
def test_strun_with_both_overrides_needs_no_crds(no_crds, target):
    folder, env = no_crds
    if target == "cfg":
        target = next(p for p in collect_cfgs(folder / "cfgs") if p.name == "jump.cfg")
    out = strun(folder, env, target, "obs_refpix.fits", *OVERRIDES)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "FATAL" not in out.stderr and "Traceback" not in out.stderr
    with RampModel(folder / "obs_jumpstep.fits") as result:
        assert result.groupdq[0, 4, 3, 4] & JUMP_DET
        assert result.meta.ref_file.gain.name.endswith("gain.fits")
        assert result.meta.ref_file.crds.context_used is None


def test_strun_without_crds_or_overrides_ends_with_one_line(no_crds):
    folder, env = no_crds
    out = strun(folder, env, "jumpdet.JumpStep", "obs_refpix.fits")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and "FATAL" not in out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("jumpdet: error: CRDS is not available: no CRDS cache at CRDS_PATH=")
    assert "jumpdet crds-cache" in last and "--override_gain" in last
    assert not (folder / "obs_jumpstep.fits").exists()


def test_strun_pipeline_with_overrides_needs_no_crds(no_crds):
    folder, env = no_crds
    skips = [f"--steps.{n}.skip=true" for n in Detector1Pipeline.step_defs if n not in ("jump", "ramp_fit")]
    refs = [
        f"--steps.{step}.override_{kind}={kind}.fits"
        for step in ("jump", "ramp_fit")
        for kind in ("gain", "readnoise")
    ]
    out = strun(folder, env, "jumpdet.Detector1Pipeline", "obs_refpix.fits", *skips, *refs)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "FATAL" not in out.stderr and "Traceback" not in out.stderr
    assert (folder / "obs_rate.fits").is_file() and (folder / "obs_rateints.fits").is_file()


def test_tune_on_a_file_without_crds_names_its_own_options(no_crds):
    folder, env = no_crds
    command = [JUMPDET, "tune", "obs_refpix.fits", "--pixels", "16"]
    out = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("jumpdet tune: error: the gain and read noise of obs_refpix.fits come from CRDS")
    assert "--gain (e/DN) and --read-noise (DN)" in line and "jumpdet crds-cache DIR" in line
    given = subprocess.run([*command, "--gain", "2", "--read-noise", "10", "--thresholds", "5"], cwd=folder,
                           env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert given.returncode == 0, given.stderr[-2000:]
    assert "gain=2, read_noise=10" in given.stdout
