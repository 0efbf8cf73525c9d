"""jumpdet inside pipelines: calwebb_detector1 with our step, chaining, and the documented examples."""

import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from stdatamodels.jwst.datamodels import ImageModel, RampModel
from stpipe import Step

from conftest import JUMP_DET
from jumpdet import Detector1Pipeline, JumpStep
from jumpdet.simulate.ramps import simulate_ramp, to_ramp_model

DOCS = Path(__file__).resolve().parents[1] / "docs" / "pipeline.rst"
STRUN = shutil.which("strun", path=os.path.dirname(sys.executable)) or "strun"
ONLY_JUMP_AND_RAMP_FIT = {
    name: {"skip": True} for name in Detector1Pipeline.step_defs if name not in ("jump", "ramp_fit")
}


@pytest.fixture(scope="module")
def simulation():
    return simulate_ramp(
        (1, 10, 32, 36), seed=11, flux_dn_per_s=20.0, jump_fraction=0.003, jump_amplitude_dn=(300.0, 3000.0)
    )


@pytest.fixture(scope="module")
def ramp_file(tmp_path_factory, simulation):
    path = tmp_path_factory.mktemp("ramp") / "sim_refpix.fits"
    with to_ramp_model(simulation, subarray=("SUB64", 1, 1), filename=path.name) as model:
        model.save(path)
    return path


@pytest.fixture(scope="module")
def pipeline_outputs(ramp_file, tmp_path_factory):
    """calwebb_detector1 (jump and ramp_fit only) on the file, saving every product."""
    output_dir = tmp_path_factory.mktemp("detector1")
    steps = {**ONLY_JUMP_AND_RAMP_FIT, "jump": {"save_results": True}}
    Detector1Pipeline.call(str(ramp_file), steps=steps, save_results=True, output_dir=str(output_dir))
    return output_dir


def test_detector1_pipeline_uses_jumpdet_for_jump():
    assert Detector1Pipeline.step_defs["jump"] is JumpStep
    others = {k: v for k, v in Detector1Pipeline.step_defs.items() if k != "jump"}
    from jwst.pipeline import Detector1Pipeline as Jwst

    assert others == {k: v for k, v in Jwst.step_defs.items() if k != "jump"}


def test_pipeline_offline_gives_rate_products_with_the_standalone_flags(ramp_file, pipeline_outputs):
    assert (pipeline_outputs / "sim_rate.fits").exists() and (pipeline_outputs / "sim_rateints.fits").exists()
    standalone = JumpStep.call(str(ramp_file))
    with RampModel(pipeline_outputs / "sim_jump.fits") as in_pipeline:
        assert_array_equal(in_pipeline.groupdq, standalone.groupdq)
        assert in_pipeline.meta.cal_step.jump == "COMPLETE"
    assert np.count_nonzero(standalone.groupdq & JUMP_DET) > 0


def test_ramp_fit_splits_segments_at_the_flagged_jumps(ramp_file, simulation, pipeline_outputs):
    without = Detector1Pipeline.call(str(ramp_file), steps={**ONLY_JUMP_AND_RAMP_FIT, "jump": {"skip": True}})
    jumped = simulation.jump_mask().any(axis=(0, 1))
    assert jumped.sum() > 5
    with ImageModel(pipeline_outputs / "sim_rate.fits") as with_jump:
        # a jump raises the naive slope; split at the jump the rate falls back to the sky rate
        assert np.median(without.data[jumped]) > 1.5 * np.median(with_jump.data[jumped])
        assert abs(np.median(with_jump.data[jumped]) - np.median(with_jump.data[~jumped])) < 1.0


def test_strun_names_resolve_to_the_pipeline():
    """``strun jumpdet.Detector1Pipeline`` and ``strun jumpdet_detector1`` name this class."""
    from stpipe.utilities import import_class, resolve_step_class_alias

    for name in ("jumpdet.Detector1Pipeline", "jumpdet_detector1"):
        assert import_class(resolve_step_class_alias(name)) is Detector1Pipeline


def test_strun_pipeline_with_packaged_cfg(ramp_file, tmp_path, monkeypatch):
    """What ``strun cfgs/calwebb_detector1.cfg`` runs (``Step.from_cmdline``), in this interpreter;
    the console script itself is tested in test_cli."""
    from jumpdet.cli import collect_cfgs

    (cfg,) = [p for p in collect_cfgs(tmp_path / "cfgs") if p.name == "calwebb_detector1.cfg"]
    skips = [f"--steps.{name}.skip=true" for name in ONLY_JUMP_AND_RAMP_FIT]
    monkeypatch.chdir(tmp_path)
    pipeline = Step.from_cmdline(
        [str(cfg), str(ramp_file), *skips, "--steps.jump.rejection_threshold=5", f"--output_dir={tmp_path}"]
    )
    assert isinstance(pipeline, Detector1Pipeline) and pipeline.jump.rejection_threshold == 5
    with ImageModel(tmp_path / "sim_rate.fits") as rate:
        assert rate.meta.cal_step.jump == "COMPLETE" and rate.meta.cal_step.ramp_fit == "COMPLETE"


def python_examples(text):
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text)
    return ["\n".join(line[3:] for line in block.splitlines()) for block in blocks]


@pytest.mark.parametrize("index", [0, 1])
def test_documented_examples_run(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    examples = python_examples(DOCS.read_text())
    assert len(examples) == 2
    exec(compile(examples[index], f"{DOCS}:example{index}", "exec"), {"__name__": "docs_example"})
    assert "COMPLETE" in capsys.readouterr().out
