"""jwst's own test suite for its JumpStep, run against jumpdet's JumpStep.

jwst 3.0 ships ``jwst/jump/tests/test_jump_step.py``; the same file, with only
its import of ``JumpStep`` pointed at jumpdet, must pass unchanged. It runs in
a fresh pytest process so that its fixtures and module-level state stay
apart from this suite's.
"""

import subprocess
import sys
from pathlib import Path

import jwst.jump.tests

UPSTREAM = Path(jwst.jump.tests.__file__).with_name("test_jump_step.py")
# Needs CRDS references for a NIRCam NRCB1 superstripe subarray, which the
# offline test cache does not hold; its JumpStep part checks a debug message of
# jwst's about read times, which stcal 1.20's detection does not use.
NEEDS_CRDS_REFPIX = "test_uneven_sampling"


def test_jwst_jump_step_tests_pass_against_jumpdet(tmp_path):
    source = UPSTREAM.read_text()
    patched = source.replace("from jwst.jump import JumpStep\n", "from jumpdet import JumpStep\n")
    assert patched != source, "jwst's test no longer imports JumpStep as expected"
    test_file = tmp_path / "test_upstream_jump_step.py"
    test_file.write_text(patched)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(test_file),
            "-k",
            f"not {NEEDS_CRDS_REFPIX}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout
