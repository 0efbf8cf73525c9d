"""Shell interfaces: strun by class, packaged cfg and alias; the jumpdet command; the demo."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from stdatamodels.jwst.datamodels import RampModel
from stpipe import Step

from conftest import JUMP_DET, environment_without_crds, make_references
from jumpdet.cli import collect_cfgs, main
from jumpdet.cli.demo import run_demo

STRUN = shutil.which("strun", path=os.path.dirname(sys.executable)) or "strun"
JUMPDET = shutil.which("jumpdet", path=os.path.dirname(sys.executable)) or "jumpdet"


def strun(*args, cwd):
    """The ``strun`` console script in a fresh interpreter, as a user runs it."""
    return subprocess.run([STRUN, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300)


def strun_in_process(*args, cwd, monkeypatch):
    """What ``strun`` does (``Step.from_cmdline``), in this interpreter: no second import of jwst."""
    monkeypatch.chdir(cwd)
    return Step.from_cmdline([str(arg) for arg in args])


def jump_flags(path):
    with RampModel(path) as model:
        return np.argwhere(model.groupdq & JUMP_DET)


@pytest.mark.parametrize(("target", "method"), [("jumpdet.JumpStep", "two_point"), ("jumpdet", "likelihood")])
def test_strun_by_class_and_alias(ramp_file, target, method, monkeypatch):
    strun_in_process(target, ramp_file, f"--method={method}", cwd=ramp_file.parent, monkeypatch=monkeypatch)
    flags = jump_flags(ramp_file.parent / "obs_jumpstep.fits")
    assert [0, 5, 3, 4] in flags.tolist()


def test_strun_writes_the_jump_catalogue_beside_the_product_for_report(ramp_file, capsys, monkeypatch):
    strun_in_process("jumpdet.JumpStep", ramp_file, "--save_jump_catalog=True", cwd=ramp_file.parent,
                     monkeypatch=monkeypatch)  # fmt: skip
    assert (ramp_file.parent / "obs_jumpcat.ecsv").exists()
    assert main(["report", str(ramp_file.parent / "obs_jumpstep.fits")]) == 0
    printed = capsys.readouterr().out
    assert "flags set by the step, by cause: neighbour: 4, primary: 1" in printed


@pytest.mark.slow
def test_strun_with_packaged_cfg_options_and_override_paths(ramp_file, tmp_path):
    """The one real ``strun`` process: console script, packaged cfg, options and override paths."""
    (cfg,) = [p for p in collect_cfgs(tmp_path / "cfgs") if p.name == "jump.cfg"]
    gain, readnoise = make_references((8, 9))
    gain.save(tmp_path / "g.fits")
    readnoise.save(tmp_path / "r.fits")
    out = strun(
        cfg,
        ramp_file,
        "--rejection_threshold",
        "3.0",
        "--override_gain",
        tmp_path / "g.fits",
        "--override_readnoise",
        tmp_path / "r.fits",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Jump threshold: 3 sigma for pixels with 4 or more usable differences" in out.stderr + out.stdout
    with RampModel(tmp_path / "obs_jumpstep.fits") as model:
        assert model.groupdq[0, 5, 3, 4] & JUMP_DET
        assert model.meta.ref_file.gain.name.endswith("g.fits")


def test_strun_help_lists_every_option(tmp_path, monkeypatch, capsys):
    from jwst.jump import JumpStep as JwstJumpStep

    with pytest.raises(SystemExit) as exit_:
        strun_in_process("jumpdet.JumpStep", "-h", cwd=tmp_path, monkeypatch=monkeypatch)
    assert exit_.value.code in (0, None)
    printed = capsys.readouterr().out
    for name in JwstJumpStep.load_spec_file():
        assert f"--{name}" in printed, name
    assert "--override_gain" in printed and "--override_readnoise" in printed


def test_collect_cfgs_copies_the_step_and_pipeline_cfgs(tmp_path, capsys):
    assert main(["collect-cfgs", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"jump.cfg", "calwebb_detector1.cfg"}
    assert 'class = "jumpdet.JumpStep"' in (tmp_path / "jump.cfg").read_text()


def test_collect_cfgs_keeps_existing_files_unless_forced(tmp_path, capsys):
    (tmp_path / "jump.cfg").write_text("# mine\n")
    assert main(["collect-cfgs", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert (tmp_path / "jump.cfg").read_text() == "# mine\n"
    assert f"kept existing {tmp_path / 'jump.cfg'} (pass --force to overwrite it)" in out.err
    assert out.out.strip() == str(tmp_path / "calwebb_detector1.cfg")
    assert main(["collect-cfgs", str(tmp_path), "--force"]) == 0
    assert 'class = "jumpdet.JumpStep"' in (tmp_path / "jump.cfg").read_text()


def test_crds_cache_command_prints_exports(tmp_path, capsys):
    assert main(["crds-cache", str(tmp_path / "c"), "--detectors", "MIRIMAGE"]) == 0
    printed = capsys.readouterr().out
    assert f"export CRDS_PATH={tmp_path / 'c'}" in printed and "CRDS_CONTEXT" in printed


def test_crds_cache_command_refuses_foreign_folder_in_one_line(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("not a cache")
    assert main(["crds-cache", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("jumpdet crds-cache: error:") and "\n" not in error


@pytest.mark.oracle
@pytest.mark.slow
def test_demo_flags_the_significant_injected_jumps_and_its_other_flags_are_jwsts(tmp_path):
    from jwst.jump import JumpStep as JwstJumpStep

    report = run_demo(tmp_path)
    assert report.output_file.exists() and report.output_file.name.endswith("_jumpstep.fits")
    assert report.plot_file.stat().st_size > 10_000
    assert report.injected_significant > 200
    assert report.flagged_significant >= 0.99 * report.injected_significant
    summary = report.summary()
    assert "jumps injected" in summary and "jwst's JumpStep sets exactly the same flags" in summary
    assert "export CRDS_PATH=" in summary
    with JwstJumpStep.call(str(report.input_file)) as expected, RampModel(report.output_file) as actual:
        np.testing.assert_array_equal(actual.groupdq, expected.groupdq)


@pytest.mark.slow
def test_demo_with_the_likelihood_search_flags_the_significant_injected_jumps(tmp_path):
    report = run_demo(tmp_path, method="likelihood")
    assert report.output_file.exists() and report.injected_significant > 200
    assert report.flagged_significant >= 0.99 * report.injected_significant
    assert "differ by design" in report.summary()


@pytest.mark.slow
def test_demo_command_offline_whatever_crds_the_environment_names(tmp_path):
    """CRDS variables naming an unreachable server and an empty cache: the demo uses its own cache."""
    (tmp_path / "empty").mkdir()
    env = environment_without_crds(
        XDG_CACHE_HOME=str(tmp_path / "xdg"),
        CRDS_SERVER_URL="https://jwst-crds.stsci.edu",
        CRDS_PATH=str(tmp_path / "empty"),
    )
    out = subprocess.run(
        [JUMPDET, "demo", "--outdir", str(tmp_path / "demo")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    cache = tmp_path / "xdg" / "jumpdet" / "crds"
    (crds_line,) = [line for line in out.stdout.splitlines() if line.startswith("CRDS:")]
    assert crds_line == (
        f"CRDS:            jumpdet's offline cache at {cache} (built now); CRDS_PATH={tmp_path / 'empty'}, "
        "CRDS_SERVER_URL=https://jwst-crds.stsci.edu not used: the demo runs offline"
    )
    assert f"export CRDS_PATH={cache}" in out.stdout
    written = {p.name for p in (tmp_path / "demo").iterdir()}
    assert "det_image_seq1_MIRIMAGE_F1130Wexp1_jumpstep.fits" in written
    assert "det_image_seq1_MIRIMAGE_F1130Wexp1_jump_pixel.png" in written
    assert "det_image_seq1_MIRIMAGE_F1130Wexp1_jumpcat.ecsv" in written
    assert (tmp_path / "demo" / "report" / "report.html").exists()
    assert (cache / "config" / "jwst" / "server_config").exists()


README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_readme_notebook_section_runs_as_written_without_crds_variables(tmp_path):
    """The section's first lines point CRDS at a cache; then its first call works in a fresh kernel."""
    from jumpdet.simulate.ramps import miri_imager_demo, to_ramp_model

    section = README.read_text().split("## From a notebook", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "cache_environment(build_cache(" in block.splitlines()[1]
    first_call = block[: block.index("\n", block.index("JumpStep.call("))]
    name = "det_image_seq1_MIRIMAGE_F1130Wexp1_refpixstep.fits"
    with to_ramp_model(miri_imager_demo(seed=1), filename=name) as model:
        model.save(tmp_path / name)
    env = environment_without_crds(HOME=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", first_call], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "det_image_seq1_MIRIMAGE_F1130Wexp1_jumpstep.fits").is_file()
    assert (tmp_path / "crds_cache" / "config" / "jwst" / "server_config").is_file()
