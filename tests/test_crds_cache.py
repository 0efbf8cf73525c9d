"""Specification of ``jumpdet.references.crds_cache``: a genuine, relocatable, offline CRDS cache.

CRDS caches its configuration per process and reads ``CRDS_SERVER_URL`` at import, and
conftest points this process at the session-wide cache.  So every check that needs CRDS
to resolve something from a cache built *here* runs in a fresh interpreter whose
environment names only that cache.  Those interpreters also carry a socket tripwire.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from stdatamodels.jwst.datamodels import GainModel, ReadnoiseModel

from jumpdet.references import crds_cache
from jumpdet.references.crds_cache import (
    CONTEXT,
    SERVERLESS_URL,
    build_cache,
    cache_environment,
    export_lines,
    is_jumpdet_cache,
)

MIRI_ONLY = ("MIRIMAGE",)

# Runs before ``import crds`` in every child: any DNS lookup or connect is recorded and refused.
_TRIPWIRE = """
import json, socket
network_attempts = []
def _tripwire(*args, **kwargs):
    network_attempts.append(repr(args[:2]))
    raise OSError("network disabled by test tripwire")
socket.getaddrinfo = _tripwire
socket.socket.connect = _tripwire
"""
_REPORT = "\nprint(json.dumps({'result': result, 'network': network_attempts}))\n"


def run_offline(cache, body, **env_overrides):
    """Run `body` (which sets ``result``) in a fresh interpreter using only `cache`.

    Returns ``(result, network_attempts)``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRDS_", "STPIPE_"))}
    env.update(cache_environment(cache), **env_overrides)
    code = _TRIPWIRE + textwrap.dedent(body) + _REPORT
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return report["result"], report["network"]


def snapshot(root):
    """Identity of every file below `root`: a rebuild changes inodes or mtimes."""
    return {
        p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(Path(root).rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def default_cache(tmp_path_factory):
    """MIRIMAGE + NRCA1 (the defaults); shared read-only by the tests below."""
    return build_cache(tmp_path_factory.mktemp("default") / "crds")


@pytest.fixture
def miri_cache(tmp_path):
    """A small private cache (MIRI only, ~8 MB) that a test may modify or move."""
    return build_cache(tmp_path / "crds", detectors=MIRI_ONLY)


# --- layout ---------------------------------------------------------------------------------


def test_build_writes_the_crds_cache_layout(default_cache):
    files = {p.relative_to(default_cache).as_posix() for p in default_cache.rglob("*") if p.is_file()}
    assert {
        "config/jwst/server_config",
        "config/jwst/ref_cache_subdir_mode",
        "mappings/jwst/jwst_9000.pmap",
        "mappings/jwst/jwst_miri_9000.imap",
        "mappings/jwst/jwst_nircam_9000.imap",
        "mappings/jwst/jwst_miri_gain_9000.rmap",
        "mappings/jwst/jwst_miri_readnoise_9000.rmap",
        "mappings/jwst/jwst_nircam_gain_9000.rmap",
        "mappings/jwst/jwst_nircam_readnoise_9000.rmap",
        "references/jwst/miri/jwst_miri_gain_9000.fits",
        "references/jwst/miri/jwst_miri_readnoise_9000.fits",
        "references/jwst/nircam/jwst_nircam_gain_9000.fits",
        "references/jwst/nircam/jwst_nircam_readnoise_9000.fits",
    } <= files
    for instrument in ("fgs", "niriss", "nirspec", "system"):
        assert (default_cache / "references/jwst" / instrument).is_dir()
    assert (default_cache / "config/jwst/ref_cache_subdir_mode").read_text().strip() == "instrument"
    assert is_jumpdet_cache(default_cache)


def test_server_config_is_a_python_literal_naming_our_context(default_cache):
    import ast

    config = ast.literal_eval((default_cache / "config/jwst/server_config").read_text())
    assert config["observatory"] == "jwst"
    for key in ("latest_context", "operational_context", "edit_context"):
        assert config[key] == CONTEXT
    assert config["bad_files_list"] == []
    assert "last_synced" in config


def test_cache_holds_no_absolute_paths(default_cache):
    for path in default_cache.rglob("*"):
        if path.is_file() and path.suffix != ".fits":
            assert str(default_cache) not in path.read_text(), path


@pytest.mark.parametrize("name", ["jwst_9000.pmap", "jwst_miri_9000.imap", "jwst_nircam_gain_9000.rmap"])
def test_mapping_sha1sum_is_sha1_of_text_without_sha1sum_lines(default_cache, name):
    text = (default_cache / "mappings/jwst" / name).read_text()
    (recorded,) = [line.split("'")[3] for line in text.splitlines() if "sha1sum" in line]
    body = "".join(line for line in text.splitlines(True) if "sha1sum" not in line)
    assert recorded == hashlib.sha1(body.encode()).hexdigest()


def test_only_gain_readnoise_and_pars_types_are_declared(default_cache):
    text = (default_cache / "mappings/jwst/jwst_miri_9000.imap").read_text()
    selector = text.split("selector = ")[1]
    assert "'GAIN' : 'jwst_miri_gain_9000.rmap'" in selector
    assert "'PARS-JUMPSTEP' : 'N/A'" in selector
    assert "'PARS-CHARGEMIGRATIONSTEP' : 'N/A'" in selector  # missing from crds 14.0.3 specs
    assert "'MASK'" not in selector and "'LINEARITY'" not in selector


# --- references -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "detector", "model_class", "shape", "nominal"),
    [
        ("miri", "MIRIMAGE", GainModel, (1024, 1032), 5.5),
        ("miri", "MIRIMAGE", ReadnoiseModel, (1024, 1032), 14.0),
        ("nircam", "NRCA1", GainModel, (2048, 2048), 2.0),
        ("nircam", "NRCA1", ReadnoiseModel, (2048, 2048), 8.0),
    ],
)
def test_references_are_full_frame_models_with_subarray_keywords(
    default_cache, instrument, detector, model_class, shape, nominal
):
    reftype = "gain" if model_class is GainModel else "readnoise"
    path = default_cache / "references/jwst" / instrument / f"jwst_{instrument}_{reftype}_9000.fits"
    with model_class(path) as model:
        assert model.data.shape == shape
        assert model.data.dtype.newbyteorder("=") == np.float32  # FITS stores it big-endian
        assert (model.meta.instrument.name, model.meta.instrument.detector) == (instrument.upper(), detector)
        sub = model.meta.subarray
        assert (sub.name, sub.xstart, sub.ystart, sub.xsize, sub.ysize) == ("FULL", 1, 1, shape[1], shape[0])
        assert model.meta.reftype == reftype.upper()
        assert model.meta.pedigree == "DUMMY"
        # a gentle, non-constant gradient within ±2% of the nominal value
        assert nominal * 0.979 < model.data.min() < model.data.max() < nominal * 1.021
        assert np.isclose(model.data.mean(), nominal, rtol=1e-3)


# --- CRDS resolves from the cache, offline -------------------------------------------------

_HEADERS = {
    "miri_full": {"INSTRUMENT.NAME": "MIRI", "INSTRUMENT.DETECTOR": "MIRIMAGE", "SUBARRAY.NAME": "FULL"},
    "miri_sub256": {"INSTRUMENT.NAME": "MIRI", "INSTRUMENT.DETECTOR": "MIRIMAGE", "SUBARRAY.NAME": "SUB256"},
    "nircam_full": {"INSTRUMENT.NAME": "NIRCAM", "INSTRUMENT.DETECTOR": "NRCA1", "SUBARRAY.NAME": "FULL"},
}


@pytest.fixture(scope="module")
def resolved(default_cache):
    """Best references for every header in _HEADERS, from one offline interpreter."""
    body = f"""
    import crds
    from crds.core.exceptions import CrdsLookupError
    headers = {{case: {{"META." + k: v for k, v in h.items()}} for case, h in {_HEADERS!r}.items()}}
    result = {{case: crds.getreferences(h, reftypes=["gain", "readnoise"], observatory="jwst")
              for case, h in headers.items()}}
    try:
        crds.getreferences(headers["miri_full"], reftypes=["mask"], observatory="jwst")
    except CrdsLookupError as exc:
        result["mask"] = str(exc)
    """
    return run_offline(default_cache, body)


@pytest.mark.parametrize(
    ("case", "instrument"), [("miri_full", "miri"), ("miri_sub256", "miri"), ("nircam_full", "nircam")]
)
@pytest.mark.slow
def test_getreferences_returns_our_files_for_any_subarray(resolved, default_cache, case, instrument):
    refs, _ = resolved
    for reftype in ("gain", "readnoise"):
        expected = default_cache / "references/jwst" / instrument / f"jwst_{instrument}_{reftype}_9000.fits"
        assert Path(refs[case][reftype]) == expected


@pytest.mark.slow
def test_getreferences_opens_no_socket(resolved):
    _, network_attempts = resolved
    assert network_attempts == []


@pytest.mark.slow
def test_undeclared_data_reftype_fails_loudly(resolved):
    refs, _ = resolved
    assert "Unknown reference type 'mask'" in refs["mask"]


@pytest.mark.slow
def test_tripwire_would_notice_a_real_server_url(miri_cache):
    body = """
    import crds
    result = crds.getreferences({"META.INSTRUMENT.NAME": "MIRI", "META.INSTRUMENT.DETECTOR": "MIRIMAGE"},
                                reftypes=["gain"], observatory="jwst")
    """
    _, network_attempts = run_offline(miri_cache, body, CRDS_SERVER_URL="https://jwst-crds.stsci.edu")
    assert network_attempts, "the tripwire must see crds try a real server"


@pytest.mark.slow
def test_context_loads_with_checksums_enforced_and_rejects_tampering(miri_cache):
    body = f"""
    import crds
    from crds.core.exceptions import ChecksumError
    from crds.core.rmap import load_mapping
    pmap = crds.get_cached_mapping({CONTEXT!r})
    result = {{"loaded": sorted(pmap.mapping_names())}}
    rmap = {str(miri_cache / "mappings/jwst/jwst_miri_gain_9000.rmap")!r}
    with open(rmap, "a") as f:
        f.write("# edited\\n")
    try:
        load_mapping("jwst_miri_gain_9000.rmap")  # uncached: reads the edited file
        result["tampered"] = "loaded"
    except ChecksumError as exc:
        result["tampered"] = str(exc)
    """
    result, _ = run_offline(miri_cache, body)
    assert "jwst_miri_gain_9000.rmap" in result["loaded"]
    assert "sha1sum mismatch" in result["tampered"]


@pytest.mark.slow
def test_stpipe_step_parameter_lookup_is_na_without_errors(miri_cache):
    body = """
    import logging
    errors = []
    class Collect(logging.Handler):
        def emit(self, record):
            errors.append(record.getMessage())
    for name in ("", "CRDS", "stpipe"):
        logging.getLogger(name).addHandler(Collect(level=logging.ERROR))
    from stpipe import crds_client
    from jwst.jump import JumpStep
    from jwst.pipeline import Detector1Pipeline
    params = {"meta.instrument.name": "MIRI", "meta.instrument.detector": "MIRIMAGE"}
    result = {
        "pars-jumpstep": crds_client.get_reference_file(params, "pars-jumpstep", "jwst"),
        "step_config": dict(JumpStep.get_config_from_reference(params, crds_observatory="jwst")),
        "pipeline_config": dict(Detector1Pipeline.get_config_from_reference(params, crds_observatory="jwst")),
        "errors": list(errors),
    }
    class UndeclaredStep(JumpStep):  # control: proves the collector would see CRDS errors
        pass
    UndeclaredStep.get_config_from_reference(params, crds_observatory="jwst")
    result["control_errors"] = errors[len(result["errors"]):]
    """
    result, network_attempts = run_offline(miri_cache, body)
    assert result["pars-jumpstep"] == "N/A"
    assert result["step_config"] == {}
    # the pipeline asks for its own pars type and one per step; all are N/A, so nothing is configured
    assert "jump" in result["pipeline_config"]["steps"]
    assert all(step == {} for step in result["pipeline_config"]["steps"].values())
    assert result["errors"] == []
    assert any("pars-undeclaredstep" in message for message in result["control_errors"])
    assert network_attempts == []


@pytest.mark.slow
def test_cache_still_works_after_being_moved(miri_cache, tmp_path):
    moved = shutil.move(miri_cache, tmp_path / "elsewhere" / "Moved_Cache")
    body = """
    import crds
    result = crds.getreferences({"META.INSTRUMENT.NAME": "MIRI", "META.INSTRUMENT.DETECTOR": "MIRIMAGE",
                                 "META.SUBARRAY.NAME": "SUB256"}, reftypes=["gain"], observatory="jwst")
    """
    refs, _ = run_offline(moved, body)
    assert Path(refs["gain"]) == Path(moved) / "references/jwst/miri/jwst_miri_gain_9000.fits"


# --- idempotent, atomic, careful ------------------------------------------------------------


def test_rebuilding_reuses_the_cache_untouched(miri_cache):
    before = snapshot(miri_cache)
    assert build_cache(miri_cache, detectors=MIRI_ONLY) == miri_cache
    assert snapshot(miri_cache) == before


def test_force_rebuilds_the_same_files(miri_cache):
    before = snapshot(miri_cache)
    assert build_cache(miri_cache, detectors=MIRI_ONLY, force=True) == miri_cache
    after = snapshot(miri_cache)
    assert after.keys() == before.keys()
    assert all(after[name] != before[name] for name in before)


def test_a_cache_covering_more_detectors_is_reused(default_cache):
    before = snapshot(default_cache)
    build_cache(default_cache, detectors=["mirimage"])
    assert snapshot(default_cache) == before


def test_a_jumpdet_cache_missing_a_detector_is_rebuilt_for_it(miri_cache):
    build_cache(miri_cache, detectors=["MIRIFULONG", "MIRIMAGE"])
    rmap = (miri_cache / "mappings/jwst/jwst_miri_gain_9000.rmap").read_text()
    assert "('MIRIMAGE', 'N/A') : 'jwst_miri_gain_9000.fits'" in rmap
    assert "('MIRIFULONG', 'N/A') : 'jwst_miri_gain_9001.fits'" in rmap
    assert (miri_cache / "references/jwst/miri/jwst_miri_gain_9001.fits").is_file()


def test_an_empty_directory_is_accepted(tmp_path):
    (tmp_path / "empty").mkdir()
    assert is_jumpdet_cache(build_cache(tmp_path / "empty", detectors=MIRI_ONLY))


def test_a_foreign_non_empty_directory_is_refused_and_left_alone(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="not a jumpdet CRDS cache"):
        build_cache(tmp_path / "mine", detectors=MIRI_ONLY, force=True)
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["thesis.tex"]


@pytest.mark.parametrize("detectors", [["MIRIMAGE", "NRCC9"], [], "NOPE"])
def test_bad_detectors_raise_before_anything_is_written(tmp_path, detectors):
    with pytest.raises(ValueError, match="detectors"):
        build_cache(tmp_path / "new" / "crds", detectors=detectors)
    assert not (tmp_path / "new").exists()


def test_a_failure_mid_build_leaves_nothing_behind(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(crds_cache, "_write_reference", fail)
    with pytest.raises(OSError, match="disk full"):
        build_cache(tmp_path / "crds", detectors=MIRI_ONLY)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_forced_rebuild_keeps_the_old_cache(miri_cache, monkeypatch):
    before = snapshot(miri_cache)
    monkeypatch.setattr(crds_cache, "_write_reference", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        build_cache(miri_cache, detectors=MIRI_ONLY, force=True)
    assert snapshot(miri_cache) == before
    assert [p.name for p in miri_cache.parent.iterdir()] == [miri_cache.name]


def test_a_cache_finished_meanwhile_by_another_builder_is_used_not_replaced(tmp_path, monkeypatch):
    root = tmp_path / "crds"
    write_tree = crds_cache._write_tree
    rival = {}

    def rival_finishes_first(top, dets):
        write_tree(top, dets)
        monkeypatch.setattr(crds_cache, "_write_tree", write_tree)
        build_cache(root, detectors=dets)  # the "other process"
        rival.update(snapshot(root))

    monkeypatch.setattr(crds_cache, "_write_tree", rival_finishes_first)
    assert build_cache(root, detectors=MIRI_ONLY) == root
    assert snapshot(root) == rival
    assert [p.name for p in tmp_path.iterdir()] == ["crds"]


# --- environment ----------------------------------------------------------------------------


def test_cache_environment_names_an_absolute_path_the_context_and_serverless_mode(miri_cache, monkeypatch):
    monkeypatch.chdir(miri_cache.parent)
    env = cache_environment(miri_cache.name)
    assert env == {"CRDS_PATH": str(miri_cache), "CRDS_CONTEXT": CONTEXT, "CRDS_SERVER_URL": SERVERLESS_URL}


def test_export_lines_are_shell_quoted():
    lines = export_lines("/tmp/my crds").splitlines()
    assert lines[0] == "export CRDS_PATH='/tmp/my crds'"
    assert lines[1:] == [f"export CRDS_CONTEXT={CONTEXT}", f"export CRDS_SERVER_URL={SERVERLESS_URL}"]
