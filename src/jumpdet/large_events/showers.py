"""MIRI showers: faint extended emission around cosmic-ray hits, flagged as ellipses.

Reproduces the GROUPDQ and count of jwst 3.0's shower search
(``stcal.jump.jump.find_faint_extended`` followed by ``max_flux_showers``)
exactly, one group plane or row block at a time:

* each group difference becomes a signal-to-noise plane against the pixel's
  median difference (or, with many integrations, against sigma-clipped
  statistics of the same group in all integrations): :mod:`jumpdet.large_events.snr_planes`;
* the plane is smoothed with a ring kernel ignoring flagged pixels (jwst's
  ``convolve_fast``: two ``scipy.signal.oaconvolve`` calls) and thresholded:
  :mod:`jumpdet.large_events._ring_smoothing`; regions whose hole-filled area reaches
  ``extend_min_area`` are showers (:mod:`jumpdet.large_events._regions`,
  :mod:`jumpdet.large_events._ellipses`);
* found ellipses are expanded by ``extend_ellipse_expand_ratio`` and OR-ed as
  ``JUMP_DET`` into that group and ``shower_groups_masked_after`` later ones,
  except on saturated pixels; a pixel whose mean group difference changes by
  more than ``max_shower_amplitude_e_per_group`` (or becomes NaN) gets its
  flags back.

The FFT smoothing dominates jwst's time.  Its result is needed bit for bit
only where a shower could be, so every plane first gets a cheap direct sum
over the ring with a rigorous error bound; planes in which no region of the
thresholded upper bound is large enough provably hold no shower and skip the
FFTs, and the others transform only the blocks around the candidate regions.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from functools import partial
from typing import NamedTuple

import numpy as np
from astropy.convolution import Ring2DKernel

from ..compilation import kernel
from ..exposure import all_do_not_use_groups, check_exposure_shapes, packed_bits_at, packed_shape
from ..flags import DO_NOT_USE, JUMP_DET, REFERENCE_PIXEL, SATURATED
from ..params import JumpParams
from ._ellipses import Ellipses, draw_window, expanded_axes, region_ellipses
from ._regions import filled_area_passes, find_regions
from ._ring_smoothing import RingSmoother
from .footprints import EventFootprint
from .snr_planes import MASK_BITS, SnrSource, clipped_stats, median_and_sigma

__all__ = ["MIN_DIFFS_FOR_SHOWERS", "flag_showers_inplace"]

log = logging.getLogger(__name__)

# jwst skips showers below this many usable differences (hard-coded, unlike min_diffs_single_pass).
MIN_DIFFS_FOR_SHOWERS = 10
_PLANES_PER_JOB = 4  # planes searched per thread-pool task


def flag_showers_inplace(
    data,
    gdq,
    pixeldq,
    *,
    gain,
    read_noise,
    params: JumpParams,
    input_unusable,
    max_workers: int = 1,
    events: list | None = None,
) -> int:
    """Flag MIRI showers in a GROUPDQ cube in place, exactly as jwst 3.0 does.

    Parameters
    ----------
    data : (nints, ngroups, nrows, ncols) float32 ndarray, DN
        The ramp; not modified and never copied whole.
    gdq : same shape, uint8
        GROUPDQ after two-point detection (and snowballs); modified in place.
    pixeldq : (nrows, ncols) uint32 ndarray
        PIXELDQ, already carrying ``NO_GAIN_VALUE | DO_NOT_USE`` for bad gain.
    gain : (nrows, ncols) float32 ndarray, e/DN
    read_noise : (nrows, ncols) float32 ndarray, DN, CDS (see :func:`jumpdet.detect_jumps`)
    params : JumpParams
    input_unusable : uint8 ndarray or None
        ``np.packbits((input_gdq & (SATURATED | DO_NOT_USE)) != 0, axis=-1)``
        of the GROUPDQ *before* two-point detection: jwst's electrons array
        is NaN there by the time it searches for showers.  None where it is
        not (two-point detection skipped, or run in worker processes).
    max_workers : int
        Threads searching group planes concurrently; the result does not
        depend on it.
    events : list or None
        If given, an :class:`~jumpdet.large_events.footprints.EventFootprint`
        is appended for every shower flagged, in the order they are flagged
        (for the jump catalogue).

    Returns
    -------
    int
        Number of showers, counted as jwst counts them (before any flags are
        reverted).
    """
    check_exposure_shapes(data, gdq, pixeldq, gain, read_noise)
    _check_packed_shape(data, input_unusable)
    # jwst's reference arrays are float32, and so is every product it forms with them
    gain, read_noise = np.asarray(gain, np.float32), np.asarray(read_noise, np.float32)
    nints, ngroups = data.shape[:2]
    if nints * (ngroups - 1) - int(all_do_not_use_groups(gdq).sum()) < MIN_DIFFS_FOR_SHOWERS:
        log.warning("Not enough differences for shower detections")
        return 0
    scene = _Scene(data, gdq, pixeldq, gain, input_unusable, params)
    # Warning filters are process-wide: only this thread may change them, so the
    # statistics (which silence warnings) are computed here, the searches in the pool.
    with ThreadPoolExecutor(max_workers) if max_workers > 1 else nullcontext() as pool:
        run = pool.map if pool is not None else map
        if nints >= params.minimum_sigclip_groups:
            pending = []
            for group in range(1, ngroups):
                todo = [intg for intg in range(nints) if group > scene.first_good[intg]]
                if todo:
                    stats = clipped_stats(scene.source, group)
                    batch = run(partial(_search_clipped, scene, group, *stats), [todo])
                    pending.append(batch if pool is not None else list(batch))
            results = [hits for batch in pending for hits in batch]
        else:
            median, sigma = median_and_sigma(scene.source, read_noise, params.nframes, run)
            planes = [(i, g) for i in range(nints) for g in range(scene.first_good[i] + 1, ngroups)]
            chunks = [planes[k : k + _PLANES_PER_JOB] for k in range(0, len(planes), _PLANES_PER_JOB)]
            results = list(run(partial(_search_planes, scene, median, sigma), chunks))
    found: dict[int, list[tuple[int, Ellipses]]] = {}
    for intg, group, showers in (hit for result in results for hit in result):
        found.setdefault(intg, []).append((group, showers))
    total = 0
    for intg, showers in sorted(found.items()):
        total += sum(ellipses.x.size for _, ellipses in showers)
        draws = _flag_and_revert(intg, showers, scene, params)
        if events is not None:
            events += [_footprint(intg, draw, params, gdq.shape) for draw in draws]
    return total


def _footprint(intg, draw, params, shape) -> EventFootprint:
    ys, xs = np.nonzero(draw.mask)
    pixels = (ys + draw.rows.start).astype(np.int64) * shape[3] + xs + draw.cols.start
    last = min(draw.group + params.shower_groups_masked_after, shape[1] - 1)
    return EventFootprint("shower", intg, draw.group, last, pixels)


class _Scene:
    """What every plane search shares: inputs, pixel masks, kernel, first usable groups."""

    def __init__(self, data, gdq, pixeldq, gain, input_unusable, params):
        self.data, self.gdq, self.gain, self.unusable, self.params = data, gdq, gain, input_unusable, params
        self.refpix = pixeldq == REFERENCE_PIXEL  # jwst tests equality, not the bit
        ignore = ((pixeldq & MASK_BITS) != 0) | self.refpix
        self.source = SnrSource(data, gdq, gain, input_unusable, ignore)
        kernel = Ring2DKernel(params.extend_inner_radius, params.extend_outer_radius).array
        self.smoother = RingSmoother(kernel)
        self.first_good = [_first_good_group(gdq[intg], self.refpix) for intg in range(data.shape[0])]

    def search(self, intg, group, median, sigma) -> Ellipses:
        """Showers in one group against per-pixel statistics."""
        return _find_showers(self.source.ratio(intg, group, median, sigma), self.smoother, self.params)


def _search_planes(scene, median, sigma, planes):
    """Search (intg, group) planes against per-pixel median differences."""
    hits = []
    for intg, group in planes:
        showers = scene.search(intg, group, median, sigma)
        if showers.x.size:
            hits.append((intg, group, showers))
    return hits


def _search_clipped(scene, group, median, stddev, todo):
    """Search one group of the given integrations against sigma-clipped statistics of that group."""
    return _search_planes(scene, median, stddev, [(intg, group) for intg in todo])


def _check_packed_shape(data, input_unusable) -> None:
    packed = packed_shape(data.shape)
    if input_unusable is not None and input_unusable.shape != packed:
        raise ValueError(f"input_unusable shape {input_unusable.shape} != packed shape {packed}")


def _first_good_group(cube, refpix) -> int:
    """First group with a pixel not DO_NOT_USE, reference pixels counting as such; else 0."""
    for group in range(cube.shape[0]):
        if not np.all(((cube[group] & DO_NOT_USE) != 0) | refpix):
            return group
    return 0


def _find_showers(ratio, smoother, params) -> Ellipses:
    """Ellipses of extended emission in one masked signal-to-noise plane (NaN = ignore)."""
    emission = smoother.emission(ratio, params.extend_snr_threshold, params.extend_min_area)
    if emission is None:
        return Ellipses.empty()
    table = find_regions(emission)
    return region_ellipses(table, filled_area_passes(table, params.extend_min_area))


class _Draw(NamedTuple):
    group: int
    rows: slice
    cols: slice
    mask: np.ndarray


def _flag_and_revert(intg, showers, scene, params) -> list[_Draw]:
    """Flag one integration's showers, restore pixels whose rate changed too much; return the drawings."""
    cube, refpix = scene.gdq[intg], scene.refpix
    ngroups, nrows, ncols = cube.shape
    draws = []
    for group, ellipses in showers:
        for k in range(ellipses.x.size):
            semi1, semi2 = expanded_axes(
                ellipses.axis1[k],
                ellipses.axis2[k],
                params.extend_ellipse_expand_ratio,
                params.max_extended_width_px,
            )
            rows, cols, mask = draw_window(
                ellipses.x[k], ellipses.y[k], 2 * semi1, 2 * semi2, ellipses.angle[k], (nrows, ncols)
            )
            # jwst flags reference pixels too but always restores them afterwards
            draws.append(_Draw(group, rows, cols, mask & ~refpix[rows, cols]))
    touched = np.zeros((nrows, ncols), dtype=bool)
    for draw in draws:
        touched[draw.rows, draw.cols] |= draw.mask
    ys, xs = np.nonzero(touched)
    before = cube[:, ys, xs]
    for draw in draws:
        mask = draw.mask.copy()
        for group in range(draw.group, min(draw.group + params.shower_groups_masked_after + 1, ngroups)):
            window = cube[group, draw.rows, draw.cols]
            mask &= (window & SATURATED) == 0  # cumulative, as jwst zeroes its ellipse
            window[mask] |= np.uint8(JUMP_DET)
    after = cube[:, ys, xs]
    changed = np.flatnonzero(np.any(after != before, axis=0))
    ys, xs, before, after = ys[changed], xs[changed], before[:, changed], after[:, changed]
    # the ramps of the changed pixels, a bounded number of pixels at a time
    for start in range(0, changed.size, _REVERT_PIXELS):
        part = slice(start, start + _REVERT_PIXELS)
        change = _rate_change(
            _electrons(scene, intg, ys[part], xs[part]), before[:, part], after[:, part], MASK_BITS
        )
        revert = ~np.isfinite(change) | (change > float(params.max_shower_amplitude_e_per_group))
        cube[:, ys[part][revert], xs[part][revert]] = before[:, part][:, revert]
    return draws


# pixels whose ramps are gathered at once to test a reverted rate (40 groups: 2.6 MB)
_REVERT_PIXELS = 1 << 14


def _electrons(scene, intg, ys, xs):
    """Electrons (float32) of pixels ``(ys, xs)`` in integration ``intg``; NaN if unusable on input."""
    electrons = scene.data[intg][:, ys, xs] * scene.gain[ys, xs]
    if scene.unusable is not None:
        electrons[packed_bits_at(scene.unusable[intg], ys, xs)] = np.nan
    return electrons


@kernel
def _rate_change(electrons, before, after, mask_bits):
    """``|mean rate with the flags before - mean rate with the flags after|`` per column (float32).

    A mean rate is jwst's ``np.nanmean(np.diff(values, axis=0), axis=0)`` of
    the electrons with flagged groups (``mask_bits``) blanked, reproduced in
    numpy's arithmetic: float32 differences summed group by group in float32
    (numpy reduces a non-contiguous axis in order), divided by the count in
    float64 and stored as float32; NaN where no difference is usable.
    """
    ngroups, n = electrons.shape
    sums = np.zeros((2, n), dtype=np.float32)
    counts = np.zeros((2, n), dtype=np.int64)
    zero = np.float32(0)
    for k in range(ngroups - 1):
        for side in range(2):
            flags = before if side == 0 else after
            for j in range(n):  # branch-free; numpy too adds a zero for each blank difference
                d = electrons[k + 1, j] - electrons[k, j]
                usable = ~np.isnan(d) & (((flags[k, j] | flags[k + 1, j]) & mask_bits) == 0)
                sums[side, j] += d if usable else zero
                counts[side, j] += usable
    change = np.empty(n, dtype=np.float32)
    for j in range(n):
        rate_before = np.float32(sums[0, j] / counts[0, j]) if counts[0, j] else np.float32(np.nan)
        rate_after = np.float32(sums[1, j] / counts[1, j]) if counts[1, j] else np.float32(np.nan)
        change[j] = abs(rate_before - rate_after)
    return change
