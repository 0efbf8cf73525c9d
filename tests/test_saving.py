"""Atomic products: a killed run leaves the previous file or the complete new one, never a truncated one."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst.datamodels import RampModel

from conftest import linear_ramps, make_ramp_model
from jumpdet import Detector1Pipeline, JumpStep, saving
from jumpdet.saving import OutputIsInputError, save_atomically

# Writes a 57 MB product again and again through the step's save_model, as stpipe's run does.
WRITER = """
import sys
import numpy as np
from stdatamodels.jwst.datamodels import RampModel
from jumpdet.step import JumpStep

model = RampModel(data=np.zeros((1, 10, 1024, 1032), np.float32))
model.groupdq = np.zeros(model.data.shape, np.uint8)
model.pixeldq = np.zeros(model.data.shape[-2:], np.uint32)
step = JumpStep(output_file=sys.argv[1])
step.fsync_products = sys.argv[2] == "fsync"
print("ready", flush=True)
for i in range(10**6):
    model.data[0, 0, 0, 0] = i
    step.save_model(model)
"""
PREVIOUS = -1.0
KILL_AFTER_S = (0.0, 0.15, 0.4, 0.7, 1.1)


def _previous_product(path):
    with RampModel(data=np.full((1, 3, 4, 4), PREVIOUS, np.float32)) as model:
        model.save(path)


def _product_marker(path) -> float:
    """Open the product completely; return its first data value."""
    with RampModel(path) as model:
        assert np.isfinite(model.data).all() and model.groupdq.shape == model.data.shape
        assert model.meta.filename == path.name
        return float(model.data[0, 0, 0, 0])


def _kill_writer_after(folder: Path, target: Path, delay_s: float, flush: str) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, target.name, flush], cwd=folder, stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout.readline().strip() == "ready"
    time.sleep(delay_s)
    # then at once when a write is under way (its temporary exists): without fsync a
    # save is so quick that a kill at a fixed time often falls between two saves
    deadline = time.monotonic() + 30
    while not list(folder.glob(f".{target.name}.*.part")) and time.monotonic() < deadline:
        time.sleep(0.001)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize("flush", ["fsync", "no-fsync"])  # the rename alone protects against a kill
def test_a_run_killed_while_writing_leaves_the_previous_or_the_complete_product(tmp_path, flush):
    target = tmp_path / "big_jumpstep.fits"
    _previous_product(target)
    killed_mid_write = 0
    for delay_s in KILL_AFTER_S:
        _kill_writer_after(tmp_path, target, delay_s, flush)
        marker = _product_marker(target)  # opens completely: the previous product or a whole new one
        assert marker == PREVIOUS or marker >= 0
        temporaries = list(tmp_path.glob(".big_jumpstep.fits.*.part"))
        killed_mid_write += len(temporaries)  # the kill fell inside a save
        for temporary in temporaries:
            temporary.unlink()
    assert killed_mid_write >= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_the_saved_file_names_itself_with_its_final_name(tmp_path):
    model = make_ramp_model(linear_ramps((1, 4, 8, 8)), filename="in_refpix.fits")
    path = save_atomically(model, tmp_path / "out_jumpstep.fits")
    assert path == str(tmp_path / "out_jumpstep.fits")
    assert fits.getheader(path)["FILENAME"] == "out_jumpstep.fits"
    assert model.meta.filename == "out_jumpstep.fits"
    assert [p.name for p in tmp_path.iterdir()] == ["out_jumpstep.fits"]


class _DiskFullModel(RampModel):
    def to_fits(self, init, *args, **kwargs):
        init.write(b"SIMPLE  =                    T")
        raise OSError(28, "No space left on device")


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "x_jumpstep.fits"
    _previous_product(target)
    with pytest.raises(OSError, match="No space"):
        save_atomically(_DiskFullModel(data=np.zeros((1, 3, 4, 4), np.float32)), target)
    assert _product_marker(target) == PREVIOUS
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


@pytest.fixture
def fsyncs(monkeypatch):
    """The file descriptors ``os.fsync`` is called with, in this process."""
    calls = []
    monkeypatch.setattr(os, "fsync", calls.append)
    return calls


@pytest.mark.parametrize(("fsync_products", "flushed"), [(None, 1), (True, 1), (False, 0)])
def test_the_step_flushes_its_product_to_disk_unless_told_not_to(tmp_path, fsyncs, fsync_products, flushed):
    path = tmp_path / "x_refpix.fits"
    make_ramp_model(linear_ramps((1, 5, 8, 8)), subarray=("SUB64", 1, 1), filename=path.name).save(path)
    fsyncs.clear()
    step = JumpStep(save_results=True, output_dir=str(tmp_path / "out"))
    step.fsync_products = fsync_products
    step.run(str(path)).close()
    assert len(fsyncs) == flushed
    assert _product_marker(tmp_path / "out" / "x_jumpstep.fits") is not None


def test_a_pipelines_fsync_setting_reaches_its_steps(tmp_path, fsyncs):
    path = tmp_path / "sim_uncal.fits"
    make_ramp_model(linear_ramps((1, 6, 16, 16)), subarray=("SUB64", 1, 1), filename=path.name).save(path)
    steps = {name: {"skip": True} for name in Detector1Pipeline.step_defs if name not in ("jump", "ramp_fit")}
    steps["jump"] = steps["ramp_fit"] = {"save_results": True}  # jumpdet's step and a jwst step save too
    fsyncs.clear()
    pipeline = Detector1Pipeline(steps=steps, save_results=True, output_dir=str(tmp_path / "out"))
    pipeline.fsync_products = False
    pipeline.run(str(path))
    assert len(list((tmp_path / "out").glob("*.fits"))) == 5
    assert fsyncs == []


def test_the_step_refuses_to_write_over_its_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_ramp_model(linear_ramps((1, 5, 8, 8)), subarray=("SUB64", 1, 1)).save("x_jumpstep.fits")
    before = Path("x_jumpstep.fits").read_bytes()
    with pytest.raises(OutputIsInputError, match=r"x_jumpstep.fits: .*--output_dir") as raised:
        JumpStep.call("x_jumpstep.fits", save_results=True)
    assert isinstance(raised.value, OSError)
    assert Path("x_jumpstep.fits").read_bytes() == before
    # writing elsewhere is fine
    JumpStep.call("x_jumpstep.fits", save_results=True, output_dir="out")
    assert Path("out/x_jumpstep.fits").is_file()


def test_every_product_of_the_pipeline_and_its_steps_is_written_atomically(tmp_path, monkeypatch):
    written = []

    def recording(model, path, **kwargs):
        written.append(Path(path).name)
        return save_atomically(model, path, **kwargs)

    monkeypatch.setattr(saving, "save_atomically", recording)
    path = tmp_path / "sim_uncal.fits"
    make_ramp_model(linear_ramps((1, 6, 16, 16)), subarray=("SUB64", 1, 1), filename=path.name).save(path)
    steps = {name: {"skip": True} for name in Detector1Pipeline.step_defs if name not in ("jump", "ramp_fit")}
    steps["jump"] = steps["ramp_fit"] = {"save_results": True}  # jumpdet's step and a jwst step save too
    Detector1Pipeline.call(str(path), steps=steps, save_results=True, output_dir=str(tmp_path))
    products = sorted(p.name for p in tmp_path.iterdir() if p != path)
    assert sorted(written) == products
    assert products == [
        "sim_0_ramp_fit.fits",
        "sim_1_ramp_fit.fits",
        "sim_jump.fits",
        "sim_rate.fits",
        "sim_rateints.fits",
    ]
    for name in products:
        assert fits.getheader(tmp_path / name)["FILENAME"] == name
