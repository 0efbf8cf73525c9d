"""``jumpdet demo``: the whole job on an embedded synthetic MIRI exposure.

Writes a refpix-like MIRI Imager F1130W ramp with injected jumps, runs
:class:`jumpdet.JumpStep` on it through CRDS (a local offline cache is
built and used unless CRDS is already configured), saves ``*_jumpstep.fits``
and the jump catalogue ``*_jumpcat.ecsv``, draws one jumped pixel's ramp and
GROUPDQ to a PNG, writes the ``jumpdet report`` of the output (figures and
``report/report.html``), and scores the flags against the injected truth.
"""

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..flags import JUMP_DET

__all__ = ["DemoReport", "configure_crds", "default_cache_dir", "run_demo"]

log = logging.getLogger(__name__)

INPUT_NAME = "det_image_seq1_MIRIMAGE_F1130Wexp1_refpixstep.fits"
OUTPUT_NAME = "det_image_seq1_MIRIMAGE_F1130Wexp1_jumpstep.fits"
PLOT_NAME = "det_image_seq1_MIRIMAGE_F1130Wexp1_jump_pixel.png"
CATALOG_NAME = "det_image_seq1_MIRIMAGE_F1130Wexp1_jumpcat.ecsv"
REPORT_DIR = "report"
SIGNIFICANT_SIGMA = 10.0


@dataclass(frozen=True)
class DemoReport:
    """What the demo wrote and how the flags compare with the injected jumps."""

    input_file: Path
    output_file: Path
    plot_file: Path
    catalog_file: Path
    report_file: Path
    crds_source: str
    injected: int
    injected_significant: int
    flagged_significant: int
    missed_significant: int
    flagged_any: int
    false_flags: int
    samples: int
    seconds: float
    kernel_seconds: float
    crds_exports: str = ""
    method: str = "two_point"

    def summary(self) -> str:
        """A few lines for the terminal."""
        rate = 100.0 * self.flagged_significant / max(self.injected_significant, 1)
        noise = 100.0 * self.false_flags / max(self.samples, 1)
        cut = f"{SIGNIFICANT_SIGMA:g}"
        lines = [
            f"CRDS:            {self.crds_source}",
            f"input:           {self.input_file}",
            f"output:          {self.output_file}",
            f"plot:            {self.plot_file}",
            f"catalogue:       {self.catalog_file}",
            f"report:          {self.report_file}",
            f"jumps injected:  {self.injected} ({self.injected_significant} above {cut} sigma)",
            f"flagged:         {self.flagged_significant} ({rate:.1f}%); {self.flagged_any} of all",
            f"missed:          {self.missed_significant} above {cut} sigma",
            f"other flags:     {self.false_flags} ({noise:.2f}% of the group samples, away from injected "
            "jumps and their neighbours):",
            "                 noise beyond the 4-sigma threshold and its 4 neighbours, expected; "
            + (
                "jwst's JumpStep sets exactly the same flags"
                if self.method == "two_point"
                else "the likelihood search's own (jwst's two-point flags differ by design)"
            ),
            f"kernels ready:   {self.kernel_seconds:.2f} s (compiled on the first run after "
            "installation, then loaded from the disk cache)",
            f"step time:       {self.seconds:.2f} s",
        ]
        if self.crds_exports:
            lines += [
                "to reuse this CRDS cache in a shell, or before starting a notebook:",
                self.crds_exports,
            ]
        return "\n".join(lines)


def default_cache_dir() -> Path:
    """Where the demo keeps its offline CRDS cache: ``$XDG_CACHE_HOME/jumpdet/crds`` or ``~/.cache/...``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jumpdet" / "crds"


def configure_crds(cache_dir: Path | None = None) -> str:
    """Point CRDS at jumpdet's offline cache; return one line saying which cache and why.

    The demo's exposure is synthetic and its references are the cache's, so the
    demo never depends on the CRDS configured in the environment (a server that
    may not answer, a cache without these references). A jumpdet cache already
    configured with MIRIMAGE references is used as it is. Must run before crds
    is imported in this process (CRDS reads CRDS_SERVER_URL at import).
    """
    from ..references.crds_cache import build_cache, cache_environment, covers

    configured = os.environ.get("CRDS_PATH")
    if configured and covers(configured, ("MIRIMAGE",)):
        return f"the configured jumpdet offline cache at CRDS_PATH={configured}"
    root = Path(cache_dir or default_cache_dir())
    state = "reused" if covers(root, ("MIRIMAGE",)) else "built now"
    root = build_cache(root, detectors=("MIRIMAGE",))
    ignored = [f"{k}={os.environ[k]}" for k in ("CRDS_PATH", "CRDS_SERVER_URL") if os.environ.get(k)]
    os.environ.update(cache_environment(root))
    why = f"; {', '.join(ignored)} not used: the demo runs offline" if ignored else ""
    return f"jumpdet's offline cache at {root} ({state}){why}"


def run_demo(
    outdir,
    *,
    seed: int = 0,
    cache_dir: Path | None = None,
    announce: Callable[[str], None] = log.info,
    method: str = "two_point",
) -> DemoReport:
    """Run the demo with the search ``method``, writing into ``outdir``; return the :class:`DemoReport`.

    ``announce`` receives one line before kernels are compiled, if they are
    (the first run after installation).
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    crds_source = configure_crds(cache_dir)
    from ..references.crds_cache import export_lines
    from ..simulate.ramps import miri_imager_demo, to_ramp_model
    from ..step import JumpStep

    sim = miri_imager_demo(seed=seed)
    input_file = outdir / INPUT_NAME
    with to_ramp_model(sim, filename=INPUT_NAME) as model:
        model.save(input_file)
    kernel_seconds = _ready_kernels(sim, announce, method)
    start = time.perf_counter()
    result = JumpStep.call(
        str(input_file), save_results=True, output_dir=str(outdir), save_jump_catalog=True, method=method
    )
    seconds = time.perf_counter() - start
    plot_file = _plot_one_jump(sim, result.groupdq, outdir / PLOT_NAME)
    files = _Files(input_file, outdir / OUTPUT_NAME, plot_file, outdir / CATALOG_NAME, _report(outdir))
    report = _score(sim, result.groupdq, files, crds_source, seconds, kernel_seconds)
    result.close()
    return replace(report, crds_exports=export_lines(os.environ["CRDS_PATH"]), method=method)


@dataclass(frozen=True)
class _Files:
    input_file: Path
    output_file: Path
    plot_file: Path
    catalog_file: Path
    report_file: Path


def _report(outdir: Path) -> Path:
    """``jumpdet report`` of the demo's output; returns the HTML page."""
    from ..report import write_report

    return write_report(outdir / OUTPUT_NAME, outdir / REPORT_DIR, catalog=outdir / CATALOG_NAME).html


def _ready_kernels(sim, announce: Callable[[str], None], method: str) -> float:
    """Seconds to get the compiled kernels ready: detection on a strip of the ramp.

    The first run after installation compiles them (tens of seconds, once);
    later runs load them from numba's disk cache. Timed apart, so that the
    step time shows the step. numba compiles a variant per array layout, so
    the strip is laid out as the step's frame will be: tall enough to be cut
    into several tiles, its data big-endian, its references contiguous.
    """
    from ..compilation import COMPILING_MESSAGE, announcing_compilation
    from ..detect import detect_jumps
    from ..params import JumpParams

    strip = np.s_[..., :16]
    start = time.perf_counter()
    with announcing_compilation(lambda: announce(COMPILING_MESSAGE)):
        detect_jumps(
            sim.data[strip].astype(">f4"),  # big-endian, as FITS gives them
            sim.groupdq[strip],
            sim.pixeldq[strip],
            gain=np.ascontiguousarray(sim.gain[strip]),  # whole rows of references, as the step's
            read_noise=np.ascontiguousarray(sim.read_noise[strip]),
            params=JumpParams(method=method),
            catalog=True,  # the step records the catalogue too
        )
    return time.perf_counter() - start


def _plot_one_jump(sim, groupdq, path: Path) -> Path:
    """Plot the brightest injected jump that was flagged (or the brightest at all)."""
    from ..plotting import save_pixel_ramp_png

    order = sorted(sim.jumps, key=lambda j: -j.amplitude_dn)
    flagged = [j for j in order if groupdq[j.integration, j.group, j.row, j.col] & JUMP_DET]
    jump = (flagged or order)[len(flagged or order) // 2]  # a typical one, not the most extreme
    return save_pixel_ramp_png(
        path,
        sim.data,
        groupdq,
        (jump.row, jump.col),
        integration=jump.integration,
        truth_group=jump.group,
        title=f"pixel ({jump.row}, {jump.col}): {jump.amplitude_dn:.0f} DN jump",
    )


def _score(sim, groupdq, files: _Files, crds_source, seconds, kernel_seconds) -> DemoReport:
    flagged = (groupdq & JUMP_DET) != 0
    significant = sim.jump_mask(SIGNIFICANT_SIGMA)
    injected = sim.jump_mask()
    near_injected = injected.copy()
    near_injected[..., 1:, :] |= injected[..., :-1, :]
    near_injected[..., :-1, :] |= injected[..., 1:, :]
    near_injected[..., :, 1:] |= injected[..., :, :-1]
    near_injected[..., :, :-1] |= injected[..., :, 1:]
    return DemoReport(
        **vars(files),
        crds_source=crds_source,
        injected=int(injected.sum()),
        injected_significant=int(significant.sum()),
        flagged_significant=int((flagged & significant).sum()),
        missed_significant=int((significant & ~flagged).sum()),
        flagged_any=int((flagged & injected).sum()),
        false_flags=int((flagged & ~near_injected).sum()),
        samples=int(flagged.size),
        seconds=seconds,
        kernel_seconds=kernel_seconds,
    )
