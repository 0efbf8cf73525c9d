"""``jumpdet tune``: pick ``rejection_threshold`` from evidence.

Simulates ramps with an exposure's timing (integrations, groups, group time,
frames per group) and its references' gain and read noise
(:func:`jumpdet.simulate.ramps.simulate_ramp`), runs the detection at
several thresholds and measures, for each:

* **false flags per million groups**, on ramps without jumps (every flag is false);
* **completeness by jump size**: the fraction of injected jumps flagged in
  their group, in bins of their significance (amplitude over the noise of a
  group difference, :func:`jumpdet.simulate.ramps.jump_significance_sigma`).

Only the search is measured: neighbours, after-jump groups and large events
are off, and ``three_group_``/``four_group_rejection_threshold`` keep their
values (they apply to pixels with 2 or 3 usable differences).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .detect import detect_jumps
from .flags import JUMP_DET
from .params import JumpParams
from .simulate.ramps import jump_significance_sigma, simulate_ramp

__all__ = ["DEFAULT_THRESHOLDS", "SIZE_BINS_SIGMA", "TuneResult", "plot_tuning", "tune_thresholds"]

DEFAULT_THRESHOLDS = (3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 8.0)
SIZE_BINS_SIGMA = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 25.0, 40.0)


@dataclass(frozen=True)
class TuneResult:
    """False flags and completeness at each threshold.

    Attributes
    ----------
    thresholds : (t,) ndarray, sigma
    false_per_million : (t,) ndarray
        Flags per million groups on ramps without jumps.
    size_bins : (b + 1,) ndarray
        Edges of the jump-significance bins, sigma.
    completeness : (t, b) ndarray
        Fraction of the injected jumps of each bin that were flagged.
    injected : (b,) int ndarray
        Jumps injected per bin.
    groups : int
        Groups simulated per run (the false-flag denominator).
    """

    thresholds: np.ndarray
    false_per_million: np.ndarray
    size_bins: np.ndarray
    completeness: np.ndarray
    injected: np.ndarray
    groups: int

    def text(self) -> str:
        """A table for the terminal."""
        edges = self.size_bins
        bins = [f"{edges[k]:g}-{edges[k + 1]:g}" for k in range(edges.size - 1)]
        lines = [
            f"{self.groups} groups simulated per threshold; completeness by jump size (sigma)",
            "threshold  false/1e6 groups  " + "  ".join(f"{b:>7}" for b in bins),
            "                   (injected)  " + "  ".join(f"{n:>7d}" for n in self.injected),
        ]
        for t, false, row in zip(self.thresholds, self.false_per_million, self.completeness, strict=True):
            cells = "  ".join(f"{100 * c:6.1f}%" if np.isfinite(c) else "      -" for c in row)
            lines.append(f"{t:9.2f}  {false:16.1f}  {cells}")
        return "\n".join(lines)


def tune_thresholds(
    *,
    nints: int,
    ngroups: int,
    gain: float,
    read_noise: float,
    group_time: float,
    nframes: int = 1,
    flux_dn_per_s: float = 10.0,
    thresholds=DEFAULT_THRESHOLDS,
    pixels: int = 128,
    seed: int = 0,
) -> TuneResult:
    """Simulate, detect at each threshold, and measure false flags and completeness.

    Parameters
    ----------
    nints, ngroups : int
        Ramp size of the exposure.
    gain : float
        e/DN.
    read_noise : float
        READNOISE reference value, DN (noise of a difference of two reads).
    group_time : float
        Seconds per group.
    nframes : int
        Frames averaged per group.
    flux_dn_per_s : float
        Signal of the simulated pixels.
    thresholds : sequence of float
        Values of ``rejection_threshold`` to try, sigma.
    pixels : int
        The simulated frame is ``pixels`` x ``pixels``.
    seed : int

    Returns
    -------
    TuneResult
    """
    shape = (nints, ngroups, pixels, pixels)
    common = dict(gain=gain, read_noise=read_noise, group_time=group_time, nframes=nframes,
                  flux_dn_per_s=flux_dn_per_s)  # fmt: skip
    noise = dict(gain=gain, read_noise_dn=read_noise, flux_dn_per_s=flux_dn_per_s, group_time=group_time)
    sigma_dn = 1.0 / float(jump_significance_sigma(1.0, **noise, nframes=nframes))  # one difference's noise
    amplitudes = (SIZE_BINS_SIGMA[0] * sigma_dn, SIZE_BINS_SIGMA[-1] * sigma_dn)
    quiet = simulate_ramp(shape, seed=seed, jump_fraction=0.0, **common)
    jumpy = simulate_ramp(shape, seed=seed + 1, jump_fraction=0.01, jump_amplitude_dn=amplitudes, **common)
    edges = np.asarray(SIZE_BINS_SIGMA)
    size_bin = np.digitize(jumpy.significance_sigma(), edges) - 1
    injected = np.bincount(size_bin[(size_bin >= 0) & (size_bin < edges.size - 1)], minlength=edges.size - 1)
    where = tuple(
        np.array([(j.integration, j.group, j.row, j.col) for j in jumpy.jumps], np.intp).reshape(-1, 4).T
    )
    false, complete = [], []
    for threshold in thresholds:
        params = JumpParams(rejection_threshold=float(threshold), flag_4_neighbors=False, nframes=nframes)
        flagged = _flags(quiet, params)
        false.append(1e6 * np.count_nonzero(flagged) / quiet.data.size)
        found = _flags(jumpy, params)[where] if where[0].size else np.zeros(0, bool)
        complete.append([_fraction(found[size_bin == k]) for k in range(edges.size - 1)])
    return TuneResult(np.asarray(thresholds, float), np.asarray(false), edges, np.asarray(complete), injected,
                      int(quiet.data.size))  # fmt: skip


def _flags(sim, params) -> np.ndarray:
    result = detect_jumps(sim.data, sim.groupdq, sim.pixeldq, gain=sim.gain, read_noise=sim.read_noise,
                          params=params)  # fmt: skip
    return (result.groupdq & JUMP_DET) != 0


def _fraction(found) -> float:
    return float(np.mean(found)) if found.size else np.nan


def plot_tuning(result: TuneResult, *, ax=None):
    """False flags per million groups against the threshold, and completeness by jump size.

    Returns the :class:`matplotlib.figure.Figure` (two panels; with ``ax``, the completeness only).
    """
    from .plotting import _figure

    if ax is None:
        fig = _figure((11.0, 4.4))
        false_ax, ax = fig.subplots(1, 2)
        false_ax.plot(result.thresholds, result.false_per_million, "o-", gid="false_flags")
        false_ax.set_yscale("symlog", linthresh=1.0)
        false_ax.set_xlabel("rejection_threshold (sigma)")
        false_ax.set_ylabel("false flags per million groups")
        false_ax.set_title("false flags (ramps without jumps)")
    centres = np.sqrt(result.size_bins[:-1] * result.size_bins[1:])
    for threshold, row in zip(result.thresholds, result.completeness, strict=True):
        ax.plot(centres, 100 * row, "o-", label=f"{threshold:g}", gid=f"completeness:{threshold:g}")
    ax.set_xscale("log")
    ax.set_xticks(result.size_bins, [f"{edge:g}" for edge in result.size_bins])
    ax.set_xticks([], minor=True)
    ax.set_xlabel("jump size (sigma of a group difference; bin edges)")
    ax.set_ylabel("jumps flagged (%)")
    ax.set_title("completeness by jump size")
    ax.legend(title="rejection_threshold", fontsize="small")
    return ax.figure
