"""Every bad input of docs/bad_input.rst gets its one line (or its one warning); each row is a test here."""

import errno
import logging
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst.datamodels import ImageModel

from conftest import environment_without_crds, linear_ramps, make_ramp_model, make_references
from jumpdet import JumpStep
from jumpdet.cli import main
from jumpdet.errors import BadInputError, CrdsUnavailableError, InputFileError, OutputPathError
from jumpdet.references.crds_cache import build_cache, cache_environment, damaged_files


def one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text
    return text


@pytest.fixture
def refs(tmp_path):
    gain, readnoise = make_references((8, 9))
    gain.save(tmp_path / "gain.fits")
    readnoise.save(tmp_path / "readnoise.fits")
    return {
        "override_gain": str(tmp_path / "gain.fits"),
        "override_readnoise": str(tmp_path / "readnoise.fits"),
    }


def test_missing_input_file(tmp_path, refs):
    with pytest.raises(InputFileError) as raised:
        JumpStep.call(str(tmp_path / "nope.fits"), **refs)
    assert isinstance(raised.value, OSError) and raised.value.errno == errno.ENOENT
    assert one_line(raised) == f"input {tmp_path / 'nope.fits'}: no such file; check the path"


def test_truncated_fits_input(tmp_path, ramp_file, refs):
    truncated = tmp_path / "cut_refpix.fits"
    truncated.write_bytes(ramp_file.read_bytes()[:20000])
    with pytest.raises(
        InputFileError, match=r"cut_refpix.fits: a truncated or corrupt FITS file .*again"
    ) as raised:
        JumpStep.call(str(truncated), **refs)
    one_line(raised)


def test_table_only_fits_input(tmp_path, refs):
    table = tmp_path / "table.fits"
    column = fits.Column(name="a", format="E", array=np.zeros(3))
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns([column])]).writeto(table)
    with pytest.raises(InputFileError, match=r"table.fits: a FITS file without the ASDF extension") as raised:
        JumpStep.call(str(table), **refs)
    one_line(raised)


def test_text_file_input(tmp_path, refs):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(InputFileError, match=r"notes.txt: not a FITS or ASDF file"):
        JumpStep.call(str(text), **refs)


def test_image_instead_of_ramp(tmp_path, refs):
    path = tmp_path / "image_rate.fits"
    ImageModel(data=np.zeros((5, 5), np.float32)).save(path)
    with pytest.raises(BadInputError, match=r"image_rate.fits is not a ramp; run the jump step on") as raised:
        JumpStep.call(str(path), **refs)
    assert isinstance(raised.value, ValueError)
    one_line(raised)


def test_nints_zero(tmp_path, refs):
    path = tmp_path / "empty_refpix.fits"
    make_ramp_model(np.zeros((0, 6, 8, 9), np.float32), subarray=("SUB64", 1, 1)).save(path)
    with pytest.raises(BadInputError, match=r"empty_refpix.fits: the ramp is empty \(NINTS=0"):
        JumpStep.call(str(path), **refs)


def test_override_that_is_a_ramp(ramp_file, refs):
    with pytest.raises(
        BadInputError, match=r"override_gain .*obs_refpixstep.fits is not a gain reference; pass a GAIN"
    ):
        JumpStep.call(str(ramp_file), **{**refs, "override_gain": str(ramp_file)})


def test_override_that_is_a_text_file(tmp_path, ramp_file, refs):
    (tmp_path / "rn.txt").write_text("8.0\n")
    with pytest.raises(InputFileError, match=r"override_readnoise .*rn.txt: not a FITS or ASDF file"):
        JumpStep.call(str(ramp_file), **{**refs, "override_readnoise": str(tmp_path / "rn.txt")})


def test_override_that_is_missing(tmp_path, ramp_file, refs):
    with pytest.raises(InputFileError, match=r"override_gain .*none.fits: no such file"):
        JumpStep.call(str(ramp_file), **{**refs, "override_gain": str(tmp_path / "none.fits")})


def test_output_dir_that_is_a_file(tmp_path, ramp_file, refs):
    (tmp_path / "out").write_text("")
    with pytest.raises(OutputPathError, match=r"output_dir .*out is a file, not a folder; pass a folder"):
        JumpStep.call(str(ramp_file), save_results=True, output_dir=str(tmp_path / "out"), **refs)


def test_reference_of_another_detector_warns_naming_both(ramp_file, refs, caplog):
    gain, readnoise = make_references((8, 9))
    gain.meta.instrument.detector = "MIRIFULONG"
    with caplog.at_level(logging.WARNING, logger="jumpdet"):
        result = JumpStep.call(
            str(ramp_file), override_gain=gain, override_readnoise=refs["override_readnoise"]
        )
    (line,) = [
        r.getMessage()
        for r in caplog.records
        if "reference" in r.getMessage() and "data are" in r.getMessage()
    ]
    assert "is for MIRI MIRIFULONG but the data are MIRI MIRIMAGE" in line
    assert result.meta.cal_step.jump == "COMPLETE"


@pytest.mark.parametrize(
    ("reftype", "value", "expected"),
    [
        ("readnoise", 0.0, "Read noise is 0, negative, NaN or infinite in 72 of 72 pixels"),
        ("readnoise", -3.0, "Read noise is 0, negative, NaN or infinite in 72 of 72 pixels"),
        ("readnoise", np.nan, "Read noise is 0, negative, NaN or infinite in 72 of 72 pixels"),
        ("readnoise", np.inf, "Read noise is 0, negative, NaN or infinite in 72 of 72 pixels"),
        ("gain", np.inf, "Gain is infinite in 72 of 72 pixels"),
    ],
)
def test_meaningless_noise_model_warns_and_keeps_jwst_flags(ramp_file, reftype, value, expected, caplog):
    gain, readnoise = make_references((8, 9))
    (gain if reftype == "gain" else readnoise).data[...] = value
    with caplog.at_level(logging.WARNING, logger="jumpdet"):
        JumpStep.call(str(ramp_file), override_gain=gain, override_readnoise=readnoise)
    assert [r.getMessage() for r in caplog.records if expected in r.getMessage()]


def test_crds_cache_command_repairs_a_damaged_cache(tmp_path, capsys):
    root = build_cache(tmp_path / "cache", detectors=("MIRIMAGE",))
    gain = root / "references/jwst/miri/jwst_miri_gain_9000.fits"
    with open(gain, "r+b") as stream:  # same size, other bytes: only a checksum sees it
        stream.seek(5000)
        stream.write(b"garbage")
    assert damaged_files(root) == ["references/jwst/miri/jwst_miri_gain_9000.fits"]
    assert main(["crds-cache", str(root)]) == 0
    assert damaged_files(root) == []


DAMAGED_RUN = textwrap.dedent("""
    from jumpdet import JumpStep
    from jumpdet.errors import CrdsUnavailableError
    try:
        JumpStep.call({ramp_file!r})
    except CrdsUnavailableError as exc:
        print("ERROR:", exc)
""")


@pytest.mark.slow
def test_a_damaged_cache_names_the_cache_and_the_repair(tmp_path, ramp_file):
    root = build_cache(tmp_path / "cache", detectors=("MIRIMAGE",))
    (root / "references/jwst/miri/jwst_miri_gain_9000.fits").unlink()
    env = environment_without_crds(**cache_environment(root))
    out = subprocess.run(
        [sys.executable, "-c", DAMAGED_RUN.format(ramp_file=str(ramp_file))],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert (
        f"ERROR: the jumpdet CRDS cache at CRDS_PATH={root} is damaged (missing or changed: "
        f"references/jwst/miri/jwst_miri_gain_9000.fits); repair it with `jumpdet crds-cache {root}`"
    ) in out.stdout


@pytest.mark.slow
def test_strun_ends_a_bad_input_with_one_line_and_no_traceback(tmp_path, ramp_file, refs):
    import shutil

    truncated = tmp_path / "cut_refpix.fits"
    truncated.write_bytes(ramp_file.read_bytes()[:20000])
    strun = shutil.which("strun", path=os.path.dirname(sys.executable)) or "strun"
    out = subprocess.run(
        [strun, "jumpdet.JumpStep", str(truncated), "--override_gain", refs["override_gain"],
         "--override_readnoise", refs["override_readnoise"]],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 1 and "Traceback" not in out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(f"jumpdet: error: input {truncated}: a truncated or corrupt FITS file")


def test_no_crds_and_no_overrides_is_one_ordinary_exception():
    assert issubclass(CrdsUnavailableError, RuntimeError) and not issubclass(CrdsUnavailableError, SystemExit)


def test_a_detector_the_cache_lacks_names_the_cache_and_the_fix(tmp_path):
    data = linear_ramps((1, 5, 8, 9))
    model = make_ramp_model(data, instrument="NIRCAM", detector="NRCB1", subarray=("SUB64", 1, 1))
    with pytest.raises(
        CrdsUnavailableError, match=r"CRDS could not give the gain reference .*CrdsLookupError"
    ) as raised:
        JumpStep.call(model)
    assert "--detectors" in one_line(raised) and "override_gain" in str(raised.value)


def test_every_test_the_bad_input_page_names_exists():
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    page = (tests.parent / "docs" / "bad_input.rst").read_text()
    named = set(re.findall(r"``(?:tests/\w+\.py::)?(test_\w+)``", page))
    defined = set()
    for module in tests.glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", module.read_text(), flags=re.MULTILINE))
    assert len(named) >= 18
    assert named <= defined, named - defined
