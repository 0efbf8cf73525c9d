"""jwst's own test suite for its JumpStep, run against jumpdet's JumpStep.

jwst 3.0 ships ``jwst/jump/tests/test_jump_step.py``; the same file, with only
its import of ``JumpStep`` pointed at jumpdet, must pass unchanged. It runs in
a fresh pytest process so that its fixtures and module-level state stay
apart from this suite's.
"""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jwst.jump.tests
import pytest

UPSTREAM = Path(jwst.jump.tests.__file__).with_name("test_jump_step.py")
# Needs CRDS references for a NIRCam NRCB1 superstripe subarray, which the
# offline test cache does not hold; its JumpStep part checks a debug message of
# jwst's about read times, which stcal 1.20's detection does not use.
NEEDS_CRDS_REFPIX = "test_uneven_sampling"
FREEZE_AFTER_COLLECTION = """import gc


def pytest_collection_finish(session):
    gc.freeze()
"""


@pytest.mark.oracle
@pytest.mark.slow
def test_jwst_jump_step_tests_pass_against_jumpdet(tmp_path):
    source = UPSTREAM.read_text()
    patched = source.replace("from jwst.jump import JumpStep\n", "from jumpdet import JumpStep\n")
    assert patched != source, "jwst's test no longer imports JumpStep as expected"
    test_file = tmp_path / "test_upstream_jump_step.py"
    test_file.write_text(patched)
    # as in this suite's conftest: import-time objects out of the sight of the
    # gc.collect() stpipe runs after every step call (jwst's file makes some 45 calls)
    (tmp_path / "conftest.py").write_text(FREEZE_AFTER_COLLECTION)
    report = tmp_path / "report.xml"
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
            f"--junitxml={report}",
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
    # the counts from pytest's JUnit XML report, not from the wording of its summary line
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {key: int(suite.get(key)) for key in ("tests", "failures", "errors", "skipped")}
    assert counts["failures"] == counts["errors"] == 0, counts
    functions = sum(line.startswith("def test_") for line in source.splitlines())
    assert counts["tests"] - counts["skipped"] >= functions - 1, counts  # every test but the one left out
