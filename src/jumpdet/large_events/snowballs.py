"""Snowballs: saturated cores in rings of jumps, flagged as expanded ellipses.

Reproduces the GROUPDQ and count of jwst 3.0's snowball search
(``stcal.jump.jump.flag_large_events`` and the helpers it calls) exactly, on
per-group 2-D planes, without its per-ellipse scans of whole planes:

* groups with neither a jump nor a newly saturated pixel are skipped;
* only the flagged pixels of a plane are gathered, labelled and measured,
  all regions at once (:mod:`jumpdet.large_events._regions`); exact ``regionprops``
  ellipses (:mod:`jumpdet.large_events._ellipses`) are computed only for jump regions that
  become snowballs and saturated regions large enough to be extended;
* the test "is a saturated centre inside this jump ellipse" is first made
  for all pairs at once with a conservative radius (centres sorted by
  column), and only the surviving pairs get jwst's exact floating-point test;
* each group's ellipses are drawn in one compiled pass, each in its own
  small window as jwst draws it.

jwst behaviour kept on purpose, for parity: the
edge band uses the number of *rows* for both axes; extending a saturated core
*assigns* ``SATURATED`` (clearing other bits) in this and all later groups;
snowball cores are OR-ed as ``JUMP_DET`` into groups ``1 .. n-1`` of the next
integration only after every integration has been searched.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..flags import JUMP_DET, SATURATED
from ..params import JumpParams
from ._ellipses import Ellipses, draw_ellipses, expanded_axes, region_ellipses
from ._regions import RegionTable, filled_area_passes, flagged_pixels, regions_of_pixels
from .footprints import EventFootprint, ellipse_footprints

__all__ = ["flag_snowballs_inplace"]

# Pre-filter margin (pixels) on approximate ellipse sizes; the exact test follows.
_MARGIN_PX = 0.01


def flag_snowballs_inplace(gdq: np.ndarray, params: JumpParams, *, events: list | None = None) -> int:
    """Flag snowballs in a GROUPDQ cube in place, exactly as jwst 3.0 does.

    Parameters
    ----------
    gdq : (nints, ngroups, nrows, ncols) uint8 ndarray
        GROUPDQ after two-point detection and jwst's clean-up (no
        ``JUMP_DET`` together with ``DO_NOT_USE`` or ``SATURATED``).
        Modified in place.
    params : JumpParams
        Uses ``min_sat_area``, ``min_jump_area``, ``expand_factor``,
        ``sat_required_snowball``, ``min_sat_radius_extend``,
        ``sat_expand_px``, ``edge_size``, ``max_extended_width_px``,
        ``mask_snowball_core_next_int`` and ``snowball_groups_masked_next_int``.
    events : list or None
        If given, an :class:`~jumpdet.large_events.footprints.EventFootprint`
        is appended for every snowball drawn and every core carried into the
        next integration, in the order they are flagged (for the jump catalogue).

    Returns
    -------
    int
        Number of snowballs, counted as jwst counts them (once per group in
        which a jump region qualifies).
    """
    if gdq.ndim != 4:
        raise ValueError(f"gdq must be (nints, ngroups, nrows, ncols), got shape {gdq.shape}")
    nints, ngroups = gdq.shape[:2]
    carry = params.sat_required_snowball and params.mask_snowball_core_next_int
    persist_groups = min(params.snowball_groups_masked_next_int, ngroups) if carry else 0
    carry = carry and persist_groups >= 2
    total = 0
    previous_cores = None
    for intg in range(nints):
        cores = np.zeros(gdq.shape[2:], dtype=bool) if carry and intg < nints - 1 else None
        look_ahead = None
        for group in range(1, ngroups):
            count, look_ahead, drawn = _flag_group(gdq[intg], group, params, cores, look_ahead)
            total += count
            if events is not None and drawn is not None:
                events += ellipse_footprints("snowball", intg, group, group, drawn, gdq.shape[2:])
        if previous_cores is not None and previous_cores.any():
            # jwst ORs the cores in after all integrations are searched; the
            # next integration's search never sees them, so this is the same.
            gdq[intg, 1:persist_groups][:, previous_cores] |= np.uint8(JUMP_DET)
            if events is not None:
                core = np.flatnonzero(previous_cores)
                events.append(EventFootprint("snowball_core_next_int", intg, 1, persist_groups - 1, core))
        previous_cores = cores
    return total


def _approx_semi_axes(table: RegionTable) -> tuple[np.ndarray, np.ndarray]:
    """Approximate semi-axes ``(axis2 / 2, axis1 / 2)`` of every region's moment ellipse.

    skimage's axis lengths are ``4 * sqrt(eigenvalue)`` of the covariance, so
    jwst's semi-axes are ``2 * sqrt(eigenvalue) - 0.5``; accurate to ~1e-9 px.
    """
    half_trace = 0.5 * (table.var_row + table.var_col)
    root = np.sqrt((0.5 * (table.var_row - table.var_col)) ** 2 + table.cov**2)
    lam_major = np.maximum(half_trace + root, 0.0)
    lam_minor = np.maximum(half_trace - root, 0.0)
    return 2.0 * np.sqrt(lam_major) - 0.5, 2.0 * np.sqrt(lam_minor) - 0.5


def _new_saturation(cube: np.ndarray, group: int) -> np.ndarray:
    """Flat indices of pixels saturated in ``group`` but not in the group before."""
    return flagged_pixels(cube[group], SATURATED, cube[group - 1])


class _Regions(NamedTuple):
    """A labelled plane: its set pixels, region table and the labels passing the area cut."""

    pixels: np.ndarray
    table: RegionTable
    passing: np.ndarray


def _regions(pixels: np.ndarray, shape, min_area: float, reuse: _Regions | None = None) -> _Regions:
    """Label a plane's set pixels, unless ``reuse`` holds the very same pixels already labelled."""
    if reuse is not None and np.array_equal(reuse.pixels, pixels):
        return reuse
    table = regions_of_pixels(pixels, shape)
    return _Regions(pixels, table, filled_area_passes(table, min_area))


def _flag_group(cube, group, params, cores, next_sat):
    """Search one group of one integration (``cube`` is that integration).

    ``next_sat`` is the previous group's look-ahead at this group's new
    saturation; it is reused when extending saturation left it unchanged.
    Returns this group's count, its own look-ahead and the snowball ellipses
    drawn (full axes; None when none were).
    """
    ngroups, nrows, ncols = cube.shape
    jump_pixels = flagged_pixels(cube[group], JUMP_DET)
    any_jump = jump_pixels.size > 0
    sat = None
    if params.sat_required_snowball:
        sat = _regions(_new_saturation(cube, group), (nrows, ncols), params.min_sat_area, next_sat)
    if not any_jump and (sat is None or not sat.passing.size):
        return 0, None, None
    look_ahead, centres, count, drawn = None, np.empty((0, 2)), 0, None
    if sat is not None:
        centres = _centres(sat)
        if any_jump and group < ngroups - 1:
            look_ahead = _regions(_new_saturation(cube, group + 1), (nrows, ncols), params.min_sat_area)
            centres = np.concatenate([centres, _centres(look_ahead)])
    if any_jump:
        jumps = _regions(jump_pixels, (nrows, ncols), params.min_jump_area)
        if sat is not None:
            snowballs, count = _snowballs(jumps.table, jumps.passing, centres, params, nrows)
        else:
            snowballs, count = region_ellipses(jumps.table, jumps.passing), jumps.passing.size
    if sat is not None:
        _extend_saturation(cube, group, sat.table, sat.passing, params, cores)
    if any_jump:
        drawn = _draw_snowballs(cube[group], snowballs, params)
    return count, look_ahead, drawn


def _centres(regions: _Regions) -> np.ndarray:
    """(x, y) centroids of the regions passing the area cut, shape (n, 2)."""
    table, labels = regions.table, regions.passing
    return np.column_stack([table.centroid_x[labels], table.centroid_y[labels]])


def _snowballs(table, labels, centres, params, nrows) -> tuple[Ellipses, int]:
    """Jump regions that are snowballs, and jwst's count of them.

    A region qualifies if its centroid lies in the edge band or a saturated
    centre (this group's or the next's) lies inside its ellipse.
    """
    low, high = params.edge_size, max(0, nrows - params.edge_size)
    x, y = table.centroid_x[labels], table.centroid_y[labels]
    near_edge = (x < low) | (y < low) | (x > high) | (y > high)
    candidates = near_edge.copy()
    starts = ends = partners = np.zeros(labels.size, dtype=np.intp)
    if centres.size and labels.size:
        semi_major, semi_minor = _approx_semi_axes(table)
        reach = np.maximum(np.abs(semi_major[labels]), np.abs(semi_minor[labels])) + _MARGIN_PX
        starts, ends, partners = _centres_within(np.column_stack([x, y]), reach, centres)
        candidates |= ends > starts
    picked = np.flatnonzero(candidates)
    ellipses = region_ellipses(table, labels[picked])
    keep = np.zeros(picked.size, dtype=bool)
    seen = set()
    for k, j in enumerate(picked):
        key = (ellipses.x[k], ellipses.y[k], ellipses.axis1[k], ellipses.axis2[k], ellipses.angle[k])
        if near_edge[j]:
            keep[k] = True  # jwst appends edge jumps without checking for duplicates
        elif key not in seen and _any_inside(centres[partners[starts[j] : ends[j]]], ellipses, k):
            keep[k] = True
        if keep[k]:
            seen.add(key)
    return ellipses.take(keep), int(np.count_nonzero(keep))


def _centres_within(points: np.ndarray, reach: np.ndarray, centres: np.ndarray):
    """For each (x, y) point, the centres within ``reach`` of it (Euclidean, inclusive).

    Returns ``starts``, ``ends`` and ``partners``: the centres of point ``j``
    are ``partners[starts[j]:ends[j]]`` (indices into ``centres``).
    """
    order = np.argsort(centres[:, 0], kind="stable")
    cx = centres[order, 0]
    lo = np.searchsorted(cx, points[:, 0] - reach, side="left")
    hi = np.searchsorted(cx, points[:, 0] + reach, side="right")
    counts = hi - lo
    owner = np.repeat(np.arange(points.shape[0]), counts)
    first = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    cand = order[first + np.arange(owner.size)]
    d2 = (centres[cand, 0] - points[owner, 0]) ** 2 + (centres[cand, 1] - points[owner, 1]) ** 2
    keep = d2 <= reach[owner] ** 2
    owner, partners = owner[keep], cand[keep]
    ends = np.cumsum(np.bincount(owner, minlength=points.shape[0]))
    starts = ends - np.bincount(owner, minlength=points.shape[0])
    return starts, ends, partners


def _any_inside(points: np.ndarray, ellipses: Ellipses, k: int) -> bool:
    """jwst's point-in-ellipse test for several points against ellipse ``k``, same arithmetic."""
    angle = np.radians(180 - ellipses.angle[k])
    cos, sin = np.cos(angle), np.sin(angle)
    dx = points[:, 0] - ellipses.x[k]
    dy = points[:, 1] - ellipses.y[k]
    along = dx * cos - dy * sin
    across = dx * sin + dy * cos
    a1, a2 = ellipses.axis1[k], ellipses.axis2[k]
    semi_major, semi_minor = (a2 * 0.5, a1 * 0.5) if a2 >= a1 else (a1 * 0.5, a2 * 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        rad = along**2 / semi_major**2 + across**2 / semi_minor**2
    return bool(np.any(rad <= 1))


def _extend_saturation(cube, group, table, labels, params, cores) -> None:
    """Grow large new saturated cores and assign SATURATED to them in this and later groups.

    Also records each (unexpanded) core in ``cores`` for the next integration.
    """
    if not labels.size:
        return
    _, semi_minor = _approx_semi_axes(table)
    # jwst compares the minor axis length - 1 with the radius limit
    big = labels[2.0 * semi_minor[labels] + _MARGIN_PX > params.min_sat_radius_extend]
    cores_found = region_ellipses(table, big)
    cores_found = cores_found.take(
        np.minimum(cores_found.axis1, cores_found.axis2) > params.min_sat_radius_extend
    )
    x, y, a1, a2, angle = cores_found
    width = params.max_extended_width_px
    grown1, grown2 = (
        np.minimum(a1 + params.sat_expand_px, width),
        np.minimum(a2 + params.sat_expand_px, width),
    )
    draw_ellipses(cube[group:], x, y, grown1, grown2, angle, value=SATURATED, assign=True)
    if cores is not None:
        draw_ellipses(cores[None].view(np.uint8), x, y, a1, a2, angle, value=1)


def _draw_snowballs(plane: np.ndarray, snowballs: Ellipses, params: JumpParams) -> Ellipses:
    """OR JUMP_DET into expanded snowball ellipses, except on saturated pixels; return them (full axes)."""
    semi = [
        expanded_axes(a1, a2, params.expand_factor, params.max_extended_width_px)
        for a1, a2 in zip(snowballs.axis1.tolist(), snowballs.axis2.tolist(), strict=True)
    ]
    full = 2 * np.array(semi, dtype=np.float64).reshape(-1, 2)
    x, y, angle = snowballs.x, snowballs.y, snowballs.angle
    draw_ellipses(plane[None], x, y, full[:, 0], full[:, 1], angle, value=JUMP_DET, unless=SATURATED)
    return Ellipses(x, y, full[:, 0], full[:, 1], angle)
