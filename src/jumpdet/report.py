"""``jumpdet report``: figures, a summary and one self-contained HTML page for a jump step's output.

From the product (``*_jumpstep.fits``) alone, GROUPDQ tells where JUMP_DET
is set (input flags included) but not why: the summary then says what is
missing. With the jump catalogue (``save_jump_catalog=True``, found beside
the product or passed with ``--catalog``) it adds counts by cause, the
significance histogram with the thresholds, and picks the most significant
jumps to plot.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import plotting
from .catalog import CATALOG_SUFFIX, read_catalog
from .flags import JUMP_DET

__all__ = ["JumpSummary", "ReportFiles", "find_catalog", "summarize", "write_report"]

MAX_MAP_INTEGRATIONS = 10  # jump maps drawn (the summary covers every integration)
RAMP_PIXELS = 3  # pixels plotted when none are given


@dataclass(frozen=True)
class JumpSummary:
    """What a product (and its catalogue) say about the jumps.

    Attributes
    ----------
    shape : (nints, ngroups, nrows, ncols)
    per_integration : (nints,) int ndarray
        JUMP_DET flags per integration (GROUPDQ: input flags included).
    per_group : (nints, ngroups) int ndarray
        JUMP_DET flags per integration and group.
    pixels_hit : (nints,) float ndarray
        Fraction of pixels with a JUMP_DET flag, per integration.
    primary_cosmic_rays : float or None
        The product's PRIMECRS (jwst's rate: 1000 x primary jump flags /
        (group time x usable groups x pixels)).
    by_cause : dict of str to int, or None
        Flags the step set, by cause (catalogue only).
    missing : list of str
        What cannot be said without a catalogue.
    """

    shape: tuple
    per_integration: np.ndarray
    per_group: np.ndarray
    pixels_hit: np.ndarray
    primary_cosmic_rays: float | None
    by_cause: dict | None
    missing: list = field(default_factory=list)

    def text(self) -> str:
        """The summary, a few lines for the terminal."""
        nints, ngroups, nrows, ncols = self.shape
        lines = [f"exposure: {nints} integration(s) x {ngroups} groups x {nrows} x {ncols} pixels"]
        for i in range(nints):
            groups = " ".join(str(int(n)) for n in self.per_group[i])
            lines.append(
                f"integration {i}: {int(self.per_integration[i])} JUMP_DET flags, "
                f"{100 * self.pixels_hit[i]:.3f}% of pixels hit; per group: {groups}"
            )
        rate = "not recorded" if self.primary_cosmic_rays is None else f"{self.primary_cosmic_rays:.4g}"
        lines.append(f"primary cosmic-ray rate (PRIMECRS, per pixel per 1000 s): {rate}")
        if self.by_cause is not None:
            causes = ", ".join(f"{c}: {n}" for c, n in self.by_cause.items()) or "none"
            lines.append(f"flags set by the step, by cause: {causes}")
        lines += [f"not available: {m}" for m in self.missing]
        return "\n".join(lines)


@dataclass(frozen=True)
class ReportFiles:
    """The files :func:`write_report` wrote."""

    html: Path
    figures: list
    summary: JumpSummary


def find_catalog(product) -> Path | None:
    """The catalogue the step wrote beside ``product`` (``<basename>_jumpcat.ecsv``), if there is one."""
    product = Path(product)
    stem = product.stem
    base = stem.rsplit("_", 1)[0] if "_" in stem else stem
    for name in (base, stem):
        candidate = product.with_name(f"{name}_{CATALOG_SUFFIX}.ecsv")
        if candidate.exists():
            return candidate
    return None


def summarize(groupdq, catalog=None, primary_cosmic_rays=None) -> JumpSummary:
    """Counts from GROUPDQ (a plane at a time) and, if given, the catalogue."""
    nints, ngroups, nrows, ncols = groupdq.shape
    per_group = np.zeros((nints, ngroups), np.int64)
    hit = np.zeros(nints)
    for i in range(nints):
        any_jump = np.zeros((nrows, ncols), bool)
        for g in range(ngroups):
            flagged = (groupdq[i, g] & JUMP_DET) != 0
            per_group[i, g] = np.count_nonzero(flagged)
            any_jump |= flagged
        hit[i] = np.count_nonzero(any_jump) / (nrows * ncols)
    by_cause, missing = None, []
    if catalog is not None:
        causes, counts = np.unique(np.asarray(catalog["cause"]), return_counts=True)
        by_cause = {str(c): int(n) for c, n in zip(causes, counts, strict=True)}
    else:
        missing = [
            "causes (primary, neighbour, after-jump, snowball, shower), jump significance and the flags "
            "that were already in the input: run the step with save_jump_catalog=True, or pass --catalog"
        ]
    totals = per_group.sum(axis=1)
    return JumpSummary(groupdq.shape, totals, per_group, hit, primary_cosmic_rays, by_cause, missing)


def write_report(product, outdir, *, catalog=None, pixels=None) -> ReportFiles:
    """Write the figures and ``report.html`` for a jump step's output into ``outdir``.

    Parameters
    ----------
    product : str or Path
        The step's output RampModel file.
    outdir : str or Path
        Created if needed.
    catalog : str or Path or None
        The jump catalogue; by default the one beside the product, if any.
    pixels : list of (y, x) or None
        Pixels whose ramps are plotted (0-based); by default the most
        significant primary jumps (with a catalogue) or the pixels with the
        most JUMP_DET flags.

    Returns
    -------
    ReportFiles
    """
    from stdatamodels.jwst.datamodels import RampModel

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    catalog_path = Path(catalog) if catalog is not None else find_catalog(product)
    table = read_catalog(catalog_path) if catalog_path is not None else None
    with RampModel(str(product)) as model:
        data, groupdq = model.data, model.groupdq
        summary = summarize(groupdq, table, model.meta.exposure.primary_cosmic_rays)
        figures = []
        for i in range(min(data.shape[0], MAX_MAP_INTEGRATIONS)):
            fig = plotting.plot_jump_map(groupdq, data, integration=i)
            figures.append(plotting.save_figure_png(fig, outdir / f"jump_map_int{i}.png"))
        for y, x in pixels or _pixels_to_plot(groupdq, table):
            fig = plotting.plot_pixel_integrations(data, groupdq, (y, x))
            figures.append(plotting.save_figure_png(fig, outdir / f"ramp_y{y}_x{x}.png"))
    if table is not None:
        figures.append(
            plotting.save_figure_png(plotting.plot_significance(table), outdir / "significance.png")
        )
    page = outdir / "report.html"
    page.write_text(_html(Path(product), catalog_path, summary, figures), encoding="utf-8")
    return ReportFiles(page, figures, summary)


def _pixels_to_plot(groupdq, table) -> list[tuple[int, int]]:
    """The pixels of the most significant primary jumps, else of the most JUMP_DET flags."""
    if table is not None:
        primary = table[table["cause"] == "primary"]
        order = np.argsort(-np.nan_to_num(np.asarray(primary["significance_sigma"]), nan=-np.inf))
        picked = []
        for k in order:
            yx = (int(primary["y"][k]), int(primary["x"][k]))
            if yx not in picked:
                picked.append(yx)
            if len(picked) == RAMP_PIXELS:
                return picked
        if picked:
            return picked
    counts = sum(plotting.jumps_per_pixel(groupdq, i) for i in range(groupdq.shape[0]))
    best = np.argsort(-counts, axis=None, kind="stable")[:RAMP_PIXELS]
    return [tuple(int(v) for v in np.unravel_index(b, counts.shape)) for b in best]


def _html(product, catalog_path, summary, figures) -> str:
    """One page, the PNGs embedded (base64), so it opens offline anywhere."""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>jumpdet report: {html.escape(product.name)}</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}img{max-width:100%}"
        "pre{background:#f4f4f4;padding:8px}</style></head><body>",
        f"<h1>Jump report: {html.escape(product.name)}</h1>",
        f"<p>catalogue: {html.escape(str(catalog_path)) if catalog_path else 'none (GROUPDQ only)'}. "
        "Pixel coordinates are 0-based (y = row, x = column).</p>",
        f"<h2>Summary</h2><pre>{html.escape(summary.text())}</pre>",
    ]
    for path in figures:
        encoded = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        parts.append(f"<h3>{html.escape(Path(path).stem)}</h3><img alt='{html.escape(Path(path).name)}' "
                     f"src='data:image/png;base64,{encoded}'>")  # fmt: skip
    parts.append("</body></html>")
    return "\n".join(parts)
