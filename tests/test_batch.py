"""Many exposures on Dask: ``run_exposures`` and ``jumpdet run`` on a LocalCluster of 2 worker processes.

One cluster (2 processes x 1 thread, forked warm as ``run_exposures`` forks them)
serves the module; the workers inherit the session's offline CRDS cache from the
environment conftest set at import.
"""

import gc
import io
import os
import subprocess
import sys
from pathlib import Path

import dask
import numpy as np
import pytest
from astropy.table import Table
from distributed import Client
from numpy.testing import assert_array_equal
from stdatamodels.jwst.datamodels import ImageModel, RampModel

import batch_hooks
from conftest import JUMP_DET
from jumpdet import Detector1Pipeline, JumpStep
from jumpdet.batch import local_cluster, run_exposures, warm
from jumpdet.batch.engine import input_files, largest_first
from jumpdet.batch.exposure import ExposureTask, adopt_environment, process_exposure
from jumpdet.batch.parameters import checked_parameters, parse_step_options
from jumpdet.batch.progress import make_progress
from jumpdet.batch.report import BatchReport
from jumpdet.cli import main
from jumpdet.simulate.ramps import simulate_ramp, to_ramp_model


@pytest.fixture(scope="module")
def client():
    with (
        warm.forked_workers(),
        local_cluster(n_workers=2, threads_per_worker=1) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


def write_ramp(folder: Path, name: str, seed: int) -> Path:
    sim = simulate_ramp(
        (1, 8, 24, 26), seed=seed, flux_dn_per_s=20.0, jump_fraction=0.004, jump_amplitude_dn=(300.0, 3000.0)
    )
    path = folder / name
    with to_ramp_model(sim, subarray=("SUB64", 1, 1), filename=name) as model:
        model.save(path)
    return path


@pytest.fixture
def ramps(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    return [write_ramp(inputs, f"obs{i}_refpix.fits", seed=i) for i in range(3)]


def assert_same_flags(product: Path, expected):
    with RampModel(product) as saved:
        assert_array_equal(saved.groupdq, expected.groupdq)
        assert_array_equal(saved.pixeldq, expected.pixeldq)
        assert saved.meta.cal_step.jump == "COMPLETE"


def test_products_are_those_of_jumpstep_call_on_each_file(client, ramps, tmp_path):
    report = run_exposures(ramps, client=client, output_dir=tmp_path / "out", rejection_threshold=5.0)
    assert [r.status for r in report.results] == ["ok"] * 3
    for path, result in zip(ramps, report.results, strict=True):
        expected = JumpStep.call(str(path), rejection_threshold=5.0)
        assert result.file == str(path)
        assert result.output == str(tmp_path / "out" / path.name.replace("_refpix", "_jumpstep"))
        assert_same_flags(Path(result.output), expected)
        assert result.jumps == np.count_nonzero(expected.groupdq & JUMP_DET) > 0


def test_a_parameter_file_and_options_are_applied_as_strun_applies_them(client, ramps, tmp_path):
    parameters = tmp_path / "pars.asdf"
    JumpStep(rejection_threshold=9.0, flag_4_neighbors=False).export_config(str(parameters))
    report = run_exposures(
        ramps[:1], client=client, output_dir=tmp_path, config_file=parameters, rejection_threshold="3.5"
    )
    expected = JumpStep.call(str(ramps[0]), rejection_threshold=3.5, flag_4_neighbors=False)
    assert_same_flags(Path(report.results[0].output), expected)


def test_a_corrupt_file_and_a_wrong_kind_fail_alone_with_their_reason(client, ramps, tmp_path):
    corrupt = ramps[0].parent / "corrupt_refpix.fits"
    corrupt.write_bytes(b"SIMPLE  = this is not FITS")
    image = ramps[0].parent / "image_cal.fits"
    ImageModel(data=np.zeros((4, 4), np.float32)).save(image)
    missing = ramps[0].parent / "missing_refpix.fits"
    report = run_exposures([ramps[0], corrupt, image, missing, ramps[1]], client=client, output_dir=tmp_path)
    status = {Path(r.file).name: r.status for r in report.results}
    assert status == {
        "obs0_refpix.fits": "ok",
        "corrupt_refpix.fits": "failed",
        "image_cal.fits": "failed",
        "missing_refpix.fits": "failed",
        "obs1_refpix.fits": "ok",
    }
    reasons = {Path(r.file).name: r.reason for r in report.failed}
    assert reasons["corrupt_refpix.fits"].startswith("InputFileError:")
    assert "corrupt FITS file" in reasons["corrupt_refpix.fits"]
    assert "is not a ramp" in reasons["image_cal.fits"]
    assert str(missing) in reasons["missing_refpix.fits"]
    assert all("\n" not in reason for reason in reasons.values())
    assert sorted(p.name for p in tmp_path.glob("*.fits")) == ["obs0_jumpstep.fits", "obs1_jumpstep.fits"]


def test_resume_skips_products_that_open_and_redoes_the_others(client, ramps, tmp_path):
    first = run_exposures(ramps, client=client, output_dir=tmp_path)
    kept, broken, removed = (Path(r.output) for r in first.results)
    kept_time = kept.stat().st_mtime_ns
    broken.write_bytes(broken.read_bytes()[:2880])
    removed.unlink()
    again = run_exposures(ramps, client=client, output_dir=tmp_path, resume=True)
    assert [r.status for r in again.results] == ["skipped", "ok", "ok"]
    assert kept.stat().st_mtime_ns == kept_time
    for path, result in zip(ramps[1:], again.results[1:], strict=True):
        assert_same_flags(Path(result.output), JumpStep.call(str(path)))


def test_a_worker_killed_during_a_file_is_restarted_and_the_file_retried(client, tmp_path):
    inputs = [write_ramp(tmp_path, f"retried{i}_refpix.fits", seed=i) for i in range(2)]
    out = tmp_path / "out"
    report = run_exposures(
        inputs, client=client, output_dir=out, post_hooks=["batch_hooks.kill_worker_on_first_attempt"]
    )
    assert [r.status for r in report.results] == ["ok", "ok"]
    for path, result in zip(inputs, report.results, strict=True):  # each ran twice, saved once
        assert batch_hooks.attempts(path.name) == 2
        assert_same_flags(Path(result.output), JumpStep.call(str(path)))
    assert sorted(p.name for p in out.iterdir()) == ["retried0_jumpstep.fits", "retried1_jumpstep.fits"]
    client.wait_for_workers(2, timeout=300)  # the nannies restarted both, forked warm again
    assert all(frozen > 0 for frozen in client.run(gc.get_freeze_count).values())


def test_a_temporary_file_left_by_a_worker_killed_while_saving_is_removed(client, ramps, tmp_path):
    leftover = tmp_path / ".obs0_jumpstep.fits.0123456789ab.part"  # as jumpdet.saving names them
    leftover.write_bytes(b"SIMPLE  =                    T" + b" " * 50)
    report = run_exposures(ramps[:1], client=client, output_dir=tmp_path)
    assert report.results[0].status == "ok"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["obs0_jumpstep.fits"]


def test_a_file_that_kills_its_worker_twice_is_reported_and_leaves_no_product(client, ramps, tmp_path):
    doomed = write_ramp(ramps[0].parent, "doomed_refpix.fits", seed=7)
    out = tmp_path / "out"
    hooks = ["batch_hooks.kill_worker_if_doomed"]
    report = run_exposures([doomed, ramps[0]], client=client, output_dir=out, post_hooks=hooks)
    died, survived = report.results
    assert died.status == "failed" and "worker died" in died.reason
    assert batch_hooks.attempts(doomed.name) == 2
    assert survived.status == "ok"
    assert [p.name for p in out.iterdir()] == ["obs0_jumpstep.fits"]


def test_the_pipeline_gives_the_rate_products_of_detector1pipeline_call(client, ramps, tmp_path):
    steps = {name: {"skip": True} for name in Detector1Pipeline.step_defs if name not in ("jump", "ramp_fit")}
    report = run_exposures(ramps[:1], client=client, pipeline=True, output_dir=tmp_path, steps=steps)
    (result,) = report.results
    assert result.status == "ok" and Path(result.output).name == "obs0_rate.fits"
    expected = Detector1Pipeline.call(str(ramps[0]), steps=steps)
    with ImageModel(result.output) as rate:
        assert_array_equal(rate.dq, expected.dq)
        assert_array_equal(rate.data, expected.data)
        assert result.jumps == np.count_nonzero(expected.dq & JUMP_DET) > 0


def test_jumpdet_run_on_a_scheduler_writes_products_report_and_exit_status(client, ramps, tmp_path, capfd):
    corrupt = ramps[0].parent / "corrupt_refpix.fits"
    corrupt.write_bytes(b"not FITS")
    pattern = str(ramps[0].parent / "obs*_refpix.fits")
    out = tmp_path / "out"
    args = ["run", pattern, "--scheduler", client.scheduler.address, str(corrupt), "--output-dir", str(out)]
    status = main([*args, "--rejection_threshold", "5", "--flag_4_neighbors=false"])
    assert status == 1
    table = Table.read(out / "jumpdet_run_report.ecsv")
    assert list(table.colnames) == ["file", "status", "seconds", "jumps", "output", "reason"]
    assert list(table["status"]) == ["ok", "ok", "ok", "failed"]
    expected = JumpStep.call(str(ramps[2]), rejection_threshold=5.0, flag_4_neighbors=False)
    assert_same_flags(out / "obs2_jumpstep.fits", expected)
    printed = capfd.readouterr().err
    assert "[4/4]" in printed and "3 ok, 1 failed, 0 skipped" in printed
    assert main([*args[:4], "--output-dir", str(out), "--resume"]) == 0
    assert "0 ok, 0 failed, 3 skipped" in capfd.readouterr().err


def test_local_workers_start_warm_forked_from_one_server(client):
    # only the warm-up freezes the garbage collector; the step was imported before any file
    assert sorted(client.run(gc.get_freeze_count).values())[0] > 0
    assert all(client.run(lambda: __import__("sys").modules.get("jumpdet.step") is not None).values())


def test_workers_are_spawned_cold_when_the_crds_settings_are_not_the_warm_servers(client, monkeypatch):
    assert warm.start_warm_server()  # the fixture started it with the session's settings
    monkeypatch.setenv("CRDS_PATH", "/somewhere/else")
    assert not warm.start_warm_server()
    with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}), warm.forked_workers():
        assert dask.config.get("distributed.worker.multiprocessing-method") == "spawn"


# in a fresh process: the kernel signatures the exposures add to those the warm-up loaded
NEW_SIGNATURES = """
import sys
from numba.core.registry import CPUDispatcher
from jumpdet.batch.exposure import ExposureTask, process_exposure
from jumpdet.batch.warm import warm_up

def signatures():
    modules = [m for name, m in list(sys.modules.items()) if name.startswith("jumpdet")]
    return {(m.__name__, name, str(s)) for m in modules for name, v in vars(m).items()
            if isinstance(v, CPUDispatcher) for s in v.signatures}

warm_up()
before = signatures()
for path in sys.argv[2:]:
    assert process_exposure(ExposureTask(path=path, parameters={"output_dir": sys.argv[1]})).status == "ok"
print(sorted(signatures() - before))
"""


@pytest.mark.slow
def test_the_warm_up_loads_every_kernel_that_larger_exposures_use(tmp_path):
    files = []
    for shape, instrument in [
        ((1, 20, 256, 260), ("MIRI", "MIRIMAGE", "F1130W")),
        ((1, 10, 256, 256), ("NIRCAM", "NRCA1", "F200W")),
    ]:
        sim = simulate_ramp(shape, seed=1, jump_fraction=0.004, jump_amplitude_dn=(300.0, 3000.0))
        name, detector, filter_ = instrument
        path = tmp_path / f"{name.lower()}_refpix.fits"
        with to_ramp_model(
            sim, instrument=name, detector=detector, filter=filter_, subarray=("SUB256", 1, 1)
        ) as model:
            model.save(path)
        files.append(str(path))
    done = subprocess.run(
        [sys.executable, "-c", NEW_SIGNATURES, str(tmp_path / "out"), *files],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_the_preload_warms_only_the_server_and_a_failed_warm_up_does_not_raise(monkeypatch):
    frozen = gc.get_freeze_count()  # conftest froze what collection made
    import jumpdet.batch._preload  # noqa: F401  (imported here, outside the server: nothing happens)

    assert warm.WARM_UP_VARIABLE not in os.environ
    assert gc.get_freeze_count() == frozen

    def broken(folder, ngroups):
        raise OSError("no space left for the warm-up's files")

    monkeypatch.setattr(warm, "_run_step_once", broken)
    warm.warm_up()  # the workers then warm up on their first file
    assert gc.get_freeze_count() >= frozen


def test_the_jumps_reported_are_those_the_run_added(ramps, tmp_path):
    flagged = tmp_path / "flagged_refpix.fits"
    with RampModel(str(ramps[0])) as model:
        model.groupdq[0, 1:3, :2, :2] |= JUMP_DET  # 8 values flagged before the run
        model.save(flagged)
    result = process_exposure(
        ExposureTask(path=str(flagged), parameters={"output_dir": str(tmp_path / "out")})
    )
    expected = JumpStep.call(str(flagged))
    assert result.jumps == np.count_nonzero(expected.groupdq & JUMP_DET) - 8 > 0


@pytest.mark.parametrize("fsync", [True, False])
def test_a_task_flushes_its_product_to_disk_only_if_asked(ramps, tmp_path, monkeypatch, fsync):
    calls = []
    monkeypatch.setattr(os, "fsync", calls.append)
    result = process_exposure(
        ExposureTask(path=str(ramps[0]), parameters={"output_dir": str(tmp_path)}, fsync=fsync)
    )
    assert result.status == "ok" and Path(result.output).is_file()
    assert len(calls) == fsync


@pytest.mark.parametrize(("option", "fsync"), [([], False), (["--fsync"], True)])
def test_jumpdet_run_flushes_products_to_disk_with_fsync(ramps, tmp_path, monkeypatch, option, fsync):
    import jumpdet.batch

    given = {}

    def recording(paths, **kwargs):
        given.update(kwargs)
        return BatchReport((), seconds=0.0)

    monkeypatch.setattr(jumpdet.batch, "run_exposures", recording)
    assert main(["run", str(ramps[0]), "--output-dir", str(tmp_path), "-q", *option]) == 0
    assert given["fsync"] is fsync


def test_bad_options_stop_the_run_in_one_line_before_any_file(tmp_path, capsys):
    for option, expected in [
        (["--rejection_threshold", "high"], "'rejection_threshold': the value \"high\" is of the wrong type"),
        (["--rejection_treshold", "5"], "Extra value 'rejection_treshold'"),
        (["--output_file", "x.fits"], "output_file cannot be set for a batch"),
        (["--scheduler", "tcp://localhost:1", "--workers", "4"], "--workers shape the local cluster"),
    ]:
        assert main(["run", str(tmp_path / "x.fits"), *option]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("jumpdet run: error:") and expected in error and "\n" not in error
    assert main(["run", str(tmp_path / "none*.fits")]) == 2
    assert "no file matches" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_step_options_are_read_as_strun_writes_them():
    tokens = ["--rejection_threshold", "5", "--steps.jump.flag_4_neighbors=false", "--suffix=jmp"]
    assert parse_step_options(tokens) == {
        "rejection_threshold": "5",
        "steps": {"jump": {"flag_4_neighbors": "false"}},
        "suffix": "jmp",
    }
    with pytest.raises(ValueError, match="needs a value"):
        parse_step_options(["--rejection_threshold"])


def test_parameters_are_checked_by_stpipe_and_paths_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("gain.fits").write_bytes(b"")
    checked = checked_parameters({"override_gain": "gain.fits", "rejection_threshold": "5"})
    assert checked == {
        "override_gain": str(tmp_path / "gain.fits"),
        "rejection_threshold": "5",
        "output_dir": str(tmp_path),
    }
    with pytest.raises(ValueError, match="steps"):
        checked_parameters({"steps": {"jump": {"rejection_threshold": 5}}})
    pipeline_options = parse_step_options(["--steps.jump.rejection_threshold=5", "--steps.ipc.skip", "true"])
    assert checked_parameters(pipeline_options, pipeline=True)["steps"] == pipeline_options["steps"]
    with pytest.raises(ValueError, match="wrong type"):
        checked_parameters({"steps": {"ipc": {"skip": "maybe"}}}, pipeline=True)
    with pytest.raises(ValueError, match="only paths and plain values"):
        checked_parameters({"override_gain": RampModel()})


def test_a_pipeline_parameter_file_needs_pipeline(tmp_path):
    from jumpdet.cli import collect_cfgs

    cfg = next(p for p in collect_cfgs(tmp_path) if p.name == "calwebb_detector1.cfg")
    with pytest.raises(ValueError, match="add --pipeline"):
        checked_parameters({"config_file": cfg})
    assert checked_parameters({"config_file": cfg}, pipeline=True)["config_file"] == str(cfg)


def test_input_files_expands_patterns_in_order_without_repeats(ramps):
    folder = ramps[0].parent
    expanded = input_files([ramps[2], folder / "obs*_refpix.fits"])
    assert expanded == [str(ramps[2]), str(ramps[0]), str(ramps[1])]
    with pytest.raises(ValueError, match="no file matches"):
        input_files([folder / "nothing*.fits"])


def test_files_are_sent_largest_first_in_the_given_order_among_equals(tmp_path):
    sizes = {"a": 10, "b": 300, "c": 10, "d": 300}
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b"x" * size)
    names = [*sizes, "missing"]
    tasks = [ExposureTask(path=str(tmp_path / name)) for name in names]
    assert [names[index] for index in largest_first(tasks)] == ["b", "d", "a", "c", "missing"]


def test_two_inputs_that_would_share_a_product_are_refused(ramps, tmp_path):
    twin = tmp_path / "twin"
    twin.mkdir()
    other = write_ramp(twin, ramps[0].name.replace("_refpix", "_linearity"), seed=3)
    with pytest.raises(ValueError, match="would write the same product"):
        run_exposures([ramps[0], other], output_dir=tmp_path)


def test_workers_take_the_clients_crds_settings_or_say_they_cannot():
    adopt_environment({"CRDS_PATH": os.environ["CRDS_PATH"]})  # same: nothing to do
    with pytest.raises(RuntimeError, match="already uses CRDS with CRDS_PATH"):
        adopt_environment({"CRDS_PATH": "/somewhere/else"})


def test_report_table_and_progress_displays():
    from jumpdet.batch.exposure import ExposureResult

    results = (
        ExposureResult(file="a.fits", status="ok", seconds=1.0, jumps=3, output="a_jumpstep.fits"),
        ExposureResult(file="b.fits", status="failed", seconds=0.5, reason="ValueError: bad"),
    )
    report = BatchReport(results, seconds=2.0)
    assert report.summary() == "2 files: 1 ok, 1 failed, 0 skipped in 2.0 s (60.0 files/min)"
    assert list(report.to_table()["jumps"]) == [3, -1]
    for kind, expected in [("lines", "[2/2] failed  b.fits  0.5 s  ValueError: bad"), ("bar", "failed=1")]:
        stream = io.StringIO()
        display = make_progress(kind, stream=stream)
        display.start(2, "2 workers")
        for result in results:
            display.update(result)
        display.close()
        assert expected in stream.getvalue()
    assert make_progress("auto", stream=io.StringIO()).__class__.__name__ == "_Lines"


def test_the_docs_page_describes_every_option_of_jumpdet_run():
    from jumpdet.cli.run import OPTIONS

    page = (Path(__file__).resolve().parents[1] / "docs" / "batch.rst").read_text()
    for flags, _ in OPTIONS:
        assert flags[0] in page, flags[0]
