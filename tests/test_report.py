"""``jumpdet report`` and ``jumpdet tune``, and the demo that writes the catalogue and the report."""

import shutil

import numpy as np
import pytest
from stdatamodels.jwst.datamodels import RampModel

from jumpdet.catalog import read_catalog
from jumpdet.cli import main
from jumpdet.cli.demo import run_demo
from jumpdet.flags import JUMP_DET
from jumpdet.report import summarize
from jumpdet.tune import tune_thresholds


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo"))


def test_the_demo_writes_the_catalogue_and_the_report(demo):
    table = read_catalog(demo.catalog_file)
    with RampModel(str(demo.output_file)) as model:
        flagged = {tuple(map(int, p)) for p in np.argwhere(model.groupdq & JUMP_DET)}
    assert {tuple(int(v) for v in row) for row in table["integration", "group", "y", "x"]} == flagged
    assert demo.report_file.name == "report.html" and demo.report_file.exists()


def test_report_command_on_the_demo_output_writes_figures_html_and_summary(demo, tmp_path, capsys):
    outdir = tmp_path / "report"
    assert main(["report", str(demo.output_file), "--outdir", str(outdir), "--pixel", "10", "20"]) == 0
    printed = capsys.readouterr().out
    written = {p.name for p in outdir.iterdir()}
    assert {"jump_map_int0.png", "ramp_y10_x20.png", "significance.png", "report.html"} <= written
    page = (outdir / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "src='http" not in page  # self-contained
    assert "integration 0:" in printed and "% of pixels hit" in printed
    assert "primary cosmic-ray rate" in printed and "by cause: " in printed and "primary: " in printed


def test_report_without_a_catalogue_says_what_is_missing(demo, tmp_path, capsys):
    product = shutil.copy(demo.output_file, tmp_path / "alone_jumpstep.fits")
    assert main(["report", str(product)]) == 0
    printed = capsys.readouterr().out
    assert "not available: causes" in printed and "save_jump_catalog=True" in printed
    written = {p.name for p in (tmp_path / "alone_jumpstep_report").iterdir()}
    assert "significance.png" not in written and "jump_map_int0.png" in written
    assert sum(name.startswith("ramp_") for name in written) == 3  # the pixels with most flags


def test_summary_counts_groupdq_per_integration_and_group():
    gdq = np.zeros((2, 3, 2, 2), np.uint8)
    gdq[0, 1, 0, 0] = gdq[0, 2, 0, 0] = gdq[1, 2, 1, 1] = JUMP_DET
    summary = summarize(gdq)
    assert summary.per_integration.tolist() == [2, 1]
    assert summary.per_group.tolist() == [[0, 1, 1], [0, 0, 1]]
    assert summary.pixels_hit.tolist() == [0.25, 0.25]


def test_tuning_trades_false_flags_for_completeness():
    result = tune_thresholds(nints=1, ngroups=12, gain=2.0, read_noise=10.0, group_time=3.0,
                             thresholds=(3.0, 5.0, 8.0), pixels=48)  # fmt: skip
    assert np.all(np.diff(result.false_per_million) <= 0) and result.false_per_million[0] > 0
    big = result.size_bins[:-1] >= 15.0
    assert np.all(result.completeness[:, big] == 1.0)
    assert np.all(np.diff(result.completeness[:, ~big & (result.injected > 0)], axis=0) <= 0)
    assert "false/1e6 groups" in result.text()


def test_tune_command_from_a_shape_prints_and_plots(tmp_path, capsys):
    argv = ["tune", "--shape", "1", "10", "--gain", "2", "--read-noise", "10", "--group-time", "3",
            "--pixels", "32", "--thresholds", "4", "6", "--plot", str(tmp_path / "tune.png")]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "threshold  false/1e6 groups" in printed and (tmp_path / "tune.png").stat().st_size > 10_000


def test_tune_command_needs_an_exposure(capsys):
    assert main(["tune", "--gain", "2"]) == 2
    assert "give a FILE or --shape" in capsys.readouterr().err


def test_tune_command_from_a_file_takes_its_timing_and_references(demo, capsys):
    assert main(["tune", str(demo.output_file), "--pixels", "16", "--thresholds", "4"]) == 0
    printed = capsys.readouterr().out
    with RampModel(str(demo.output_file)) as model:
        assert f"group_time={model.meta.exposure.group_time:g}" in printed
    assert "nints=1, ngroups=10" in printed and "gain=" in printed and "read_noise=" in printed


def test_report_of_a_missing_file_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing_jumpstep.fits")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("jumpdet report: error: no such file") and "\n" not in error
