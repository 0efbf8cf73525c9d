"""Figures for inspecting single-pixel ramps and their GROUPDQ flags.

matplotlib is optional: it is imported inside the functions, so the package
imports without it. Figures are built with :class:`matplotlib.figure.Figure`
and an Agg canvas, not with pyplot, so nothing is left open in pyplot's figure
manager and no interactive backend is needed.
"""

from __future__ import annotations

import pathlib

import numpy as np

from jumpdet.flags import DO_NOT_USE, JUMP_DET, SATURATED

__all__ = ["GROUPDQ_FLAG_NAMES", "groupdq_flag_names", "plot_pixel_ramp", "save_pixel_ramp_png"]

# GROUPDQ bit names, as in stdatamodels.jwst.datamodels.dqflags.group
GROUPDQ_FLAG_NAMES = {
    1: "DO_NOT_USE",
    2: "SATURATED",
    4: "JUMP_DET",
    8: "DROPOUT",
    32: "PERSISTENCE",
    64: "AD_FLOOR",
    128: "CHARGELOSS",
}

# how flagged groups are marked on the ramp: flag -> matplotlib style
_FLAG_MARKERS = {
    JUMP_DET: {"marker": "*", "markersize": 16, "color": "tab:red"},
    SATURATED: {"marker": "s", "markersize": 10, "color": "tab:orange", "fillstyle": "none"},
    DO_NOT_USE: {"marker": "x", "markersize": 10, "color": "0.3"},
}


def groupdq_flag_names(value: int) -> list[str]:
    """Names of the bits set in one GROUPDQ value, lowest bit first.

    Examples
    --------
    >>> groupdq_flag_names(6)
    ['SATURATED', 'JUMP_DET']
    >>> groupdq_flag_names(16)
    ['BIT_16']
    """
    value = int(value)
    return [GROUPDQ_FLAG_NAMES.get(1 << b, f"BIT_{1 << b}") for b in range(8) if value & (1 << b)]


def plot_pixel_ramp(data, groupdq, yx, *, integration=0, ax=None, title=None, truth_group=None):
    """Plot one pixel's ramp with its flagged groups marked, over its GROUPDQ.

    Parameters
    ----------
    data : (nints, ngroups, nrows, ncols) ndarray
        Ramp values, DN.
    groupdq : (nints, ngroups, nrows, ncols) integer ndarray
        GROUPDQ, e.g. the output of the jump step.
    yx : (int, int)
        Row and column of the pixel (0-based).
    integration : int
        Integration to plot.
    ax : matplotlib.axes.Axes or None
        Draw the ramp into this axes, without the GROUPDQ panel. If None, a
        new figure with a ramp panel and a GROUPDQ panel is made.
    title : str or None
        Title; defaults to the pixel and integration.
    truth_group : int or None
        Group that received an injected jump; drawn as a dashed vertical line.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the ramp axes. Flagged groups are drawn as separate
        lines labelled with the flag name (JUMP_DET, SATURATED, DO_NOT_USE), and
        appear in the legend.
    """
    ramp, dq = _pixel_series(data, groupdq, yx, integration)
    groups = np.arange(ramp.size)
    if truth_group is not None and not 0 <= truth_group < ramp.size:
        raise ValueError(f"truth_group must be in [0, {ramp.size}), got {truth_group!r}")
    if ax is None:
        fig, (ax, x_ax) = _new_figure()
        _draw_groupdq(x_ax, groups, dq)
    else:
        fig, x_ax = ax.figure, ax
    _draw_ramp(ax, groups, ramp, dq, truth_group)
    x_ax.set_xlabel("group")
    ax.set_title(title if title is not None else f"pixel (y={yx[0]}, x={yx[1]}), integration {integration}")
    return fig


def save_pixel_ramp_png(path, data, groupdq, yx, *, dpi=120, **kw) -> pathlib.Path:
    """Draw :func:`plot_pixel_ramp` into a new figure and save it as PNG with Agg.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; its directory must exist.
    data, groupdq, yx
        As for :func:`plot_pixel_ramp`.
    dpi : int
        Resolution, dots per inch.
    **kw
        Keywords for :func:`plot_pixel_ramp` other than ``ax``.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    if "ax" in kw:
        raise TypeError("save_pixel_ramp_png draws its own figure; use plot_pixel_ramp to draw into an ax")
    path = pathlib.Path(path)
    fig = plot_pixel_ramp(data, groupdq, yx, **kw)
    try:
        fig.savefig(path, dpi=dpi, format="png")
    finally:
        fig.clear()  # the figure is not in pyplot's manager; this releases its artists
    return path


def _pixel_series(data, groupdq, yx, integration):
    """One pixel's ramp (float64) and GROUPDQ (int64) after checking the arguments."""
    data, groupdq = np.asarray(data), np.asarray(groupdq)
    if data.ndim != 4 or groupdq.shape != data.shape:
        raise ValueError(
            f"data and groupdq must share a (nints, ngroups, nrows, ncols) shape, "
            f"got {data.shape} and {groupdq.shape}"
        )
    y, x = (int(v) for v in yx)
    if not (0 <= y < data.shape[2] and 0 <= x < data.shape[3]):
        raise ValueError(f"yx {tuple(yx)} outside image of shape {data.shape[2:]}")
    if not 0 <= integration < data.shape[0]:
        raise ValueError(f"integration must be in [0, {data.shape[0]}), got {integration!r}")
    return data[integration, :, y, x].astype(np.float64), groupdq[integration, :, y, x].astype(np.int64)


def _new_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 6.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.4]})
    return fig, axes


def _draw_ramp(ax, groups, ramp, dq, truth_group):
    ax.plot(groups, ramp, "o-", color="tab:blue", label="ramp", zorder=2)
    for flag, style in _FLAG_MARKERS.items():
        flagged = (dq & flag) != 0
        if flagged.any():
            name = GROUPDQ_FLAG_NAMES[flag]
            ax.plot(groups[flagged], ramp[flagged], linestyle="none", label=name, gid=name, zorder=3, **style)
    if truth_group is not None:
        ax.axvline(truth_group, color="0.2", linestyle="--", label=f"injected jump (group {truth_group})",
                   gid="truth_group")  # fmt: skip
    ax.set_ylabel("DN")
    _integer_ticks(ax)
    ax.legend(loc="best", fontsize="small")


def _draw_groupdq(ax, groups, dq):
    """Bar per group of its GROUPDQ value, with the names of the set bits written above it."""
    ax.bar(groups, dq, width=0.6, color=np.where(dq != 0, "tab:red", "0.7"), gid="groupdq")
    for g, value in zip(groups, dq, strict=True):
        if value:
            ax.annotate("\n".join(groupdq_flag_names(value)), (g, value), xytext=(0, 3), rotation=90,
                        textcoords="offset points", ha="center", va="bottom", fontsize=7)  # fmt: skip
    ax.set_yscale("symlog", base=2, linthresh=1, linscale=0.5)  # a bar of 1 stays visible beside 128
    top = max(int(dq.max()), 1)
    ax.set_ylim(0, top * 64)  # room for the vertical flag names
    present = sorted({int(v) for v in dq if v})
    ticks = present if len(present) <= 4 else [t for t in (1, 4, 16, 64) if t <= top]
    ax.set_yticks([0, *ticks], minor=False)
    ax.set_yticks([], minor=True)
    ax.yaxis.set_major_formatter("{x:.0f}")
    ax.set_ylabel("GROUPDQ")
    _integer_ticks(ax)


def _integer_ticks(ax):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
