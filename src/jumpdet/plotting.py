"""Figures for notebooks and reports: a pixel's ramp with its GROUPDQ, jump maps, jump significance.

Every function takes ``ax=None`` (draw into a new figure) or an axes to draw
into, returns the :class:`matplotlib.figure.Figure`, and never calls
``plt.show()``. Pixel coordinates are 0-based numpy indices, y (row) then x
(column), and titles say so::

    from jumpdet import plotting
    from jumpdet.catalog import read_catalog
    from stdatamodels.jwst.datamodels import RampModel

    with RampModel("obs_jumpstep.fits") as model:
        plotting.plot_pixel_ramp(model.data, model.groupdq, (512, 300), integration=0)
        plotting.plot_jump_map(model.groupdq, model.data, integration=0)
    plotting.plot_significance(read_catalog("obs_jumpcat.ecsv"))

matplotlib is optional: it is imported inside the functions, so the package
imports without it. Figures are built with :class:`matplotlib.figure.Figure`
and an Agg canvas, not with pyplot, so nothing is left open in pyplot's figure
manager and no interactive backend is needed.
"""

from __future__ import annotations

import pathlib

import numpy as np

from jumpdet.flags import DO_NOT_USE, JUMP_DET, SATURATED

__all__ = [
    "GROUPDQ_FLAG_NAMES",
    "groupdq_flag_names",
    "jumps_per_pixel",
    "plot_jump_map",
    "plot_pixel_integrations",
    "plot_pixel_ramp",
    "plot_significance",
    "save_figure_png",
    "save_pixel_ramp_png",
]

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
    ax.set_title(title if title is not None else _pixel_title(yx, integration))
    return fig


def _pixel_title(yx, integration) -> str:
    return f"pixel (y={yx[0]}, x={yx[1]}, 0-based), integration {integration}"


def plot_pixel_integrations(data, groupdq, yx, *, integrations=None, max_integrations=6):
    """One pixel's ramp and GROUPDQ in every integration (or those given), side by side.

    Parameters
    ----------
    data, groupdq, yx
        As for :func:`plot_pixel_ramp`.
    integrations : sequence of int or None
        Integrations to draw; by default all of them, up to ``max_integrations``
        (those with the most JUMP_DET flags at the pixel first, then in order).
    max_integrations : int
        Most panels drawn when ``integrations`` is None.

    Returns
    -------
    matplotlib.figure.Figure
        A ramp panel above a GROUPDQ panel for each integration, as :func:`plot_pixel_ramp` draws them.
    """
    data, groupdq = np.asarray(data), np.asarray(groupdq)
    if integrations is None:
        jumps = [int(np.count_nonzero(groupdq[i, :, yx[0], yx[1]] & JUMP_DET)) for i in range(data.shape[0])]
        integrations = sorted(sorted(range(data.shape[0]), key=lambda i: -jumps[i])[:max_integrations])
    fig = _figure((3.6 * len(integrations) + 1.0, 6.0))
    axes = fig.subplots(2, len(integrations), sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": [3, 1.4]})  # fmt: skip
    for column, intg in enumerate(integrations):
        ramp, dq = _pixel_series(data, groupdq, yx, intg)
        groups = np.arange(ramp.size)
        _draw_ramp(axes[0, column], groups, ramp, dq, None)
        _draw_groupdq(axes[1, column], groups, dq)
        axes[0, column].set_title(_pixel_title(yx, intg), fontsize="medium")
        axes[1, column].set_xlabel("group")
    return fig


def jumps_per_pixel(groupdq, integration=0) -> np.ndarray:
    """Groups with JUMP_DET, per pixel, in one integration ((nrows, ncols) int ndarray)."""
    counts = np.zeros(groupdq.shape[2:], np.int32)
    for plane in groupdq[integration]:  # a plane at a time: no cube-sized temporary
        counts += (plane & JUMP_DET) != 0
    return counts


def plot_jump_map(groupdq, data=None, *, integration=0, ax=None, block=None):
    """Map of the jumps per pixel of one integration, beside its last group's image.

    Parameters
    ----------
    groupdq : (nints, ngroups, nrows, ncols) integer ndarray
        GROUPDQ, e.g. the output of the jump step.
    data : (nints, ngroups, nrows, ncols) ndarray or None
        The ramp (DN): its last group is drawn beside the map when given and
        ``ax`` is None.
    integration : int
    ax : matplotlib.axes.Axes or None
        Draw the map (only) into this axes.
    block : int or None
        Show the largest count of each ``block`` x ``block`` pixels, so that
        single hits stay visible on a large frame; by default 1 up to 512
        pixels a side, larger beyond. The title says when it is not 1.

    Returns
    -------
    matplotlib.figure.Figure
        Images in detector pixels (0-based x to the right, y up), each with a
        colour bar; the map's image holds :func:`jumps_per_pixel` (its block
        maxima; gid ``"jump_map"``), the other the last group (gid ``"last_group"``).
    """
    groupdq = np.asarray(groupdq)
    if not 0 <= integration < groupdq.shape[0]:
        raise ValueError(f"integration must be in [0, {groupdq.shape[0]}), got {integration!r}")
    counts = jumps_per_pixel(groupdq, integration)
    if ax is None:
        panels = 2 if data is not None else 1
        fig = _figure((5.2 * panels + 0.6, 4.6))
        axes = fig.subplots(1, panels, squeeze=False)[0]
        ax = axes[0]
        if data is not None:
            _draw_last_group(axes[1], np.asarray(data), integration)
    fig = ax.figure
    block = block if block is not None else max(1, -(-max(counts.shape) // 512))
    shown = _block_maxima(counts, block)
    cmap = _listed_counts_cmap(int(counts.max()))
    extent = (-0.5, shown.shape[1] * block - 0.5, -0.5, shown.shape[0] * block - 0.5)
    image = ax.imshow(shown, origin="lower", interpolation="nearest", cmap=cmap, extent=extent,
                      vmin=-0.5, vmax=max(int(counts.max()), 1) + 0.5, gid="jump_map")  # fmt: skip
    bar = fig.colorbar(image, ax=ax, shrink=0.85)
    bar.set_label("groups flagged JUMP_DET" + (f" (most in {block}x{block} pixels)" if block > 1 else ""))
    total = int(np.count_nonzero(counts))
    ax.set_title(f"jumps per pixel, integration {integration}\n({total} of {counts.size} pixels hit)")
    _pixel_axes(ax)
    return fig


def _block_maxima(counts, block):
    """Largest value of each ``block`` x ``block`` tile (edge tiles padded with zeros)."""
    if block == 1:
        return counts
    ny, nx = -(-counts.shape[0] // block), -(-counts.shape[1] // block)
    padded = np.zeros((ny * block, nx * block), counts.dtype)
    padded[: counts.shape[0], : counts.shape[1]] = counts
    return padded.reshape(ny, block, nx, block).max(axis=(1, 3))


def _draw_last_group(ax, data, integration):
    image = data[integration, -1].astype(np.float64)
    finite = image[np.isfinite(image)]
    low, high = np.percentile(finite, [1, 99.5]) if finite.size else (0.0, 1.0)
    shown = ax.imshow(image, origin="lower", interpolation="nearest", cmap="gray", vmin=low, vmax=high,
                      gid="last_group")  # fmt: skip
    ax.figure.colorbar(shown, ax=ax, shrink=0.85).set_label("DN")
    ax.set_title(f"last group ({data.shape[1] - 1}), integration {integration}")
    _pixel_axes(ax)


def _pixel_axes(ax):
    ax.set_xlabel("x (column, 0-based)")
    ax.set_ylabel("y (row, 0-based)")


def _listed_counts_cmap(top):
    """White for no jump, then a sequential colour per count (dark first: single hits stand out)."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    steps = colormaps["viridis"](np.linspace(0.0, 0.85, max(top, 1)))
    return ListedColormap(np.vstack([[1.0, 1.0, 1.0, 1.0], steps]))


def plot_significance(catalog, *, thresholds=None, ax=None, bins=60):
    """Histogram of the significance of the primary jumps of a jump catalogue, thresholds drawn.

    Parameters
    ----------
    catalog : astropy.table.Table
        A jump catalogue (:func:`jumpdet.catalog.jump_catalog`).
    thresholds : dict of str to float or None
        Vertical lines, by label; by default the catalogue's ``thresholds_sigma``.
    ax : matplotlib.axes.Axes or None
    bins : int
        Logarithmic bins between the smallest and largest significance.

    Returns
    -------
    matplotlib.figure.Figure
        The histogram's bars hold the counts (gid ``"significance"``); each
        threshold is a vertical line with gid ``"threshold:<name>"``.
    """
    if ax is None:
        fig = _figure((7.0, 4.2))
        ax = fig.subplots()
    primary = catalog[catalog["cause"] == "primary"]
    sigma = np.asarray(primary["significance_sigma"], np.float64)
    sigma = sigma[np.isfinite(sigma) & (sigma > 0)]
    if thresholds is None:
        thresholds = dict(catalog.meta.get("thresholds_sigma", {}))
    if sigma.size:
        low = min(sigma.min(), *thresholds.values()) if thresholds else sigma.min()
        edges = np.geomspace(low * 0.95, sigma.max() * 1.05, bins + 1)
        ax.hist(sigma, bins=edges, color="tab:blue", gid="significance", label=f"{sigma.size} primary jumps")
        ax.set_xscale("log")
    else:
        ax.text(0.5, 0.5, "no primary jumps", transform=ax.transAxes, ha="center")
    styles = iter(["-", "--", ":", "-."])
    for name, value in sorted(thresholds.items(), key=lambda item: item[1]):
        ax.axvline(value, color="tab:red", linestyle=next(styles, "-"), gid=f"threshold:{name}",
                   label=f"{name} = {value:g}")  # fmt: skip
    ax.set_xlabel("significance of the jump (sigma, as compared with the threshold)")
    ax.set_ylabel("jumps")
    ax.set_title("significance of the primary jumps")
    ax.legend(fontsize="small")
    return ax.figure


def save_figure_png(fig, path, *, dpi=100) -> pathlib.Path:
    """Save a figure made here as PNG (Agg) and release it; return the path."""
    path = pathlib.Path(path)
    try:
        fig.savefig(path, dpi=dpi, format="png")
    finally:
        fig.clear()
    return path


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
    # the figure is not in pyplot's manager; saving it clears it, which releases its artists
    return save_figure_png(plot_pixel_ramp(data, groupdq, yx, **kw), path, dpi=dpi)


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


def _figure(size):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _new_figure():
    fig = _figure((7.0, 6.0))
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
