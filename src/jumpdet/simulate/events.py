"""Synthetic ramps with large events: NIR snowballs and MIRI showers.

Both generators return an :class:`EventRamp`: the ramp in DN with the group DQ
the saturation step would give it, plus ``jump_gdq``, the same DQ with
``JUMP_DET`` wherever an injected charge step is large enough that two-point
detection would flag it (a stand-in for that step, with jwst's clean-up: no
``JUMP_DET`` on a saturated or do-not-use group).  The large-event tests feed
``jump_gdq`` to the stage directly; end-to-end tests and benchmarks feed
``data`` and ``groupdq`` to the whole step.

Everything is seeded (``numpy.random.default_rng(seed)``).  Noise and
integration are vectorised over whole planes; events are stamped one small
window at a time, so full frames with thousands of events take seconds.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..flags import DO_NOT_USE, JUMP_DET, REFERENCE_PIXEL, SATURATED

__all__ = ["EventRamp", "shower_ramp", "snowball_ramp"]

_SAT_LEVEL_DN = np.float32(60000.0)
_BIAS_DN = np.float32(12000.0)


class EventRamp(NamedTuple):
    """A simulated ramp and its flags.

    Attributes
    ----------
    data : (nints, ngroups, nrows, ncols) float32 ndarray
        Ramp in DN; saturated groups hold the saturation level.
    groupdq : same shape, uint8
        ``SATURATED`` and ``DO_NOT_USE`` as set before jump detection.
    pixeldq : (nrows, ncols) uint32 ndarray
        ``REFERENCE_PIXEL`` (sometimes with ``DO_NOT_USE``) on reference pixels.
    gain : (nrows, ncols) float32 ndarray, e/DN
    read_noise : (nrows, ncols) float32 ndarray, DN
        Noise of one group difference, as jwst's jump detection reads the
        read-noise reference (each simulated read gets ``read_noise / sqrt(2)``).
    group_time : float
        Seconds per group.
    nframes : int
        Frames averaged per group.
    jump_gdq : same shape as ``groupdq``, uint8
        ``groupdq`` plus ``JUMP_DET`` where an injected step exceeds
        ``jump_sigma`` read-noise sigma.
    n_events : int
        Number of snowballs or showers injected.
    """

    data: np.ndarray
    groupdq: np.ndarray
    pixeldq: np.ndarray
    gain: np.ndarray
    read_noise: np.ndarray
    group_time: float
    nframes: int
    jump_gdq: np.ndarray
    n_events: int


class _Events(NamedTuple):
    """One row per event: where, when, and the shape of its ellipse."""

    intg: np.ndarray
    group: np.ndarray
    cy: np.ndarray
    cx: np.ndarray
    semi_major: np.ndarray
    semi_minor: np.ndarray
    angle: np.ndarray


def _draw_events(rng, n, *, nints, ngroups, shape, semi_major, axis_ratio, edge_fraction, edge_size):
    """Random events; a fraction centred within ``edge_size`` of an edge (a few just off it)."""
    nrows, ncols = shape
    cy, cx = rng.uniform(0, nrows - 1, n), rng.uniform(0, ncols - 1, n)
    near, side = rng.random(n) < edge_fraction, rng.integers(0, 4, n)
    depth = rng.uniform(-3.0, edge_size, n)
    cy = np.select([near & (side == 0), near & (side == 1)], [depth, nrows - 1 - depth], cy)
    cx = np.select([near & (side == 2), near & (side == 3)], [depth, ncols - 1 - depth], cx)
    major = rng.uniform(*semi_major, n)
    return _Events(
        intg=rng.integers(0, nints, n),
        group=rng.integers(1, ngroups, n),
        cy=cy,
        cx=cx,
        semi_major=major,
        semi_minor=major * rng.uniform(*axis_ratio, n),
        angle=rng.uniform(0.0, np.pi, n),
    )


def _stamp(plane, events, k, extent, profile):
    """Add ``profile(rho)`` of event ``k`` (``rho`` = 1 on its ellipse) within ``extent`` pixels."""
    nrows, ncols = plane.shape
    cy, cx = events.cy[k], events.cx[k]
    y0, y1 = max(int(cy - extent), 0), min(int(cy + extent) + 2, nrows)
    x0, x1 = max(int(cx - extent), 0), min(int(cx + extent) + 2, ncols)
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    cos, sin = np.cos(events.angle[k]), np.sin(events.angle[k])
    along = (xx - cx) * cos + (yy - cy) * sin
    across = (yy - cy) * cos - (xx - cx) * sin
    rho = np.hypot(along / events.semi_major[k], across / events.semi_minor[k])
    plane[y0:y1, x0:x1] += profile(rho).astype(np.float32)


def _add_cosmic_rays(rng, deposit, n, amplitude_dn):
    """Single-pixel hits sharing 10 % of their charge with the four edge neighbours."""
    nrows, ncols = deposit.shape
    if min(nrows, ncols) < 3:
        return
    ys, xs = rng.integers(1, nrows - 1, n), rng.integers(1, ncols - 1, n)
    amp = rng.uniform(*amplitude_dn, n).astype(np.float32)
    np.add.at(deposit, (ys, xs), amp)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        np.add.at(deposit, (ys + dy, xs + dx), np.float32(0.1) * amp)


def _integrate(rng, deposits, *, rate, gain, read_noise, group_time, groupdq):
    """Turn per-group charge steps (DN) into a noisy ramp; flag and clip saturation.

    Each read gets ``read_noise / sqrt(2)`` so that group differences have the
    reference file's noise.  ``groupdq`` (ngroups, nrows, ncols) is updated in place.
    """
    shot = np.sqrt(rate * np.float32(group_time) * gain) / gain
    data = rng.standard_normal(deposits.shape, np.float32)
    data *= shot
    data += rate * np.float32(group_time)
    data += deposits
    np.cumsum(data, axis=0, out=data)
    data += _BIAS_DN + (read_noise / np.sqrt(np.float32(2))) * rng.standard_normal(deposits.shape, np.float32)
    saturated = np.logical_or.accumulate(data >= _SAT_LEVEL_DN, axis=0)
    data[saturated] = _SAT_LEVEL_DN
    groupdq[saturated] |= SATURATED
    return data


def _jump_flags(groupdq, deposits, threshold_dn):
    """``groupdq`` plus JUMP_DET where the step exceeds the threshold, cleaned as jwst does."""
    jump = (deposits > threshold_dn) & ((groupdq & (SATURATED | DO_NOT_USE)) == 0)
    return groupdq | (jump.astype(np.uint8) * np.uint8(JUMP_DET))


def _detector(rng, shape, gain, read_noise):
    gain_2d = rng.uniform(0.9, 1.1, shape).astype(np.float32) * np.float32(gain)
    rn_2d = rng.uniform(0.9, 1.1, shape).astype(np.float32) * np.float32(read_noise)
    return gain_2d, rn_2d


def _add_stars(rng, rate, n, flux):
    """Steady Gaussian sources (DN/s) that saturate further out in each later group."""
    nrows, ncols = rate.shape
    if min(nrows, ncols) < 32:
        return  # no room for a star
    off = np.arange(-15, 16)
    psf = np.exp(-(off[:, None] ** 2 + off[None, :] ** 2) / 18.0).astype(np.float32)
    for _ in range(n):
        y, x = int(rng.integers(15, nrows - 16)), int(rng.integers(15, ncols - 16))
        rate[y - 15 : y + 16, x - 15 : x + 16] += np.float32(rng.uniform(*flux)) * psf


def snowball_ramp(
    *,
    nints=1,
    ngroups=10,
    shape=(2048, 2048),
    n_snowballs=1000,
    cosmic_rays_per_group=500,
    n_stars=10,
    edge_fraction=0.05,
    two_group_fraction=0.2,
    core_radius=(1.0, 8.0),
    seed=0,
    group_time=10.737,
    gain=2.0,
    read_noise=10.0,
    jump_sigma=5.0,
    edge_size=25,
):
    """Simulate a NIR ramp with snowballs: saturated cores inside rings of jumps.

    Parameters
    ----------
    nints, ngroups : int
        Ramp size; events fall in groups 1 .. ngroups-1 of any integration.
    shape : (int, int)
        (nrows, ncols) of the detector or subarray.
    n_snowballs : int
        Snowballs injected, spread at random over integrations and groups.
    cosmic_rays_per_group : int
        Ordinary hits (plus-shaped jumps) per integration and group.
    n_stars : int
        Bright sources saturating further out in each later group: saturation
        without jumps.
    edge_fraction : float
        Fraction of snowballs centred within ``edge_size`` of an edge.
    two_group_fraction : float
        Fraction of snowballs whose charge arrives over two groups, so part of
        the core saturates a group later.
    core_radius : (float, float)
        Range of the saturated core's semi-major axis, pixels; the halo of
        jumps reaches 2 to 3 times further.
    seed : int
        Seed of ``numpy.random.default_rng``.
    group_time, gain, read_noise : float
        Seconds per group; e/DN; DN per group difference.
    jump_sigma : float
        Steps above ``jump_sigma * read_noise`` are flagged in ``jump_gdq``.
    edge_size : int
        Width of the border band for ``edge_fraction``.

    Returns
    -------
    EventRamp
    """
    rng = np.random.default_rng(seed)
    gain_2d, rn_2d = _detector(rng, shape, gain, read_noise)
    rate = rng.uniform(0.0, 5.0, shape).astype(np.float32)
    _add_stars(rng, rate, n_stars, (300.0, 3000.0))
    ev = _draw_events(
        rng,
        n_snowballs,
        nints=nints,
        ngroups=ngroups,
        shape=shape,
        semi_major=core_radius,
        axis_ratio=(0.55, 1.0),
        edge_fraction=edge_fraction,
        edge_size=edge_size,
    )
    halo = rng.uniform(2.0, 3.0, n_snowballs)
    first_part = np.where(
        rng.random(n_snowballs) < two_group_fraction, rng.uniform(0.3, 0.7, n_snowballs), 1.0
    )

    data = np.empty((nints, ngroups, *shape), np.float32)
    groupdq = np.zeros(data.shape, np.uint8)
    jump_gdq = np.empty_like(groupdq)
    for i in range(nints):
        deposits = np.zeros((ngroups, *shape), np.float32)
        for k in np.flatnonzero(ev.intg == i):

            def profile(rho, k=k):
                ring = 4000.0 * np.clip((halo[k] - rho) / (halo[k] - 1.0), 0.0, 1.0)
                return np.where(rho <= 1.0, 2.0e5, ring)

            g, extent = ev.group[k], halo[k] * ev.semi_major[k] + 1
            _stamp(deposits[g], ev, k, extent, lambda rho, k=k: first_part[k] * profile(rho))
            if first_part[k] < 1.0 and g + 1 < ngroups:
                _stamp(deposits[g + 1], ev, k, extent, lambda rho, k=k: (1.0 - first_part[k]) * profile(rho))
        for g in range(1, ngroups):
            _add_cosmic_rays(rng, deposits[g], cosmic_rays_per_group, (300.0, 3000.0))
        data[i] = _integrate(
            rng,
            deposits,
            rate=rate,
            gain=gain_2d,
            read_noise=rn_2d,
            group_time=group_time,
            groupdq=groupdq[i],
        )
        jump_gdq[i] = _jump_flags(groupdq[i], deposits, jump_sigma * rn_2d)
    pixeldq = np.zeros(shape, np.uint32)
    return EventRamp(data, groupdq, pixeldq, gain_2d, rn_2d, group_time, 1, jump_gdq, n_snowballs)


def shower_ramp(
    *,
    nints=1,
    ngroups=40,
    shape=(1024, 1032),
    n_showers=20,
    cosmic_rays_per_group=100,
    radius=(8.0, 30.0),
    amplitude_sigma=(1.0, 3.0),
    seed=0,
    group_time=2.775,
    gain=3.1,
    read_noise=6.0,
    nframes=1,
    dnu_first_groups=1,
    dnu_last_groups=1,
    refpix_columns=4,
    jump_sigma=5.0,
):
    """Simulate a MIRI-like ramp with showers: faint extended charge around bright hits.

    Parameters
    ----------
    nints, ngroups : int
        Ramp size.
    shape : (int, int)
        (nrows, ncols); MIRI full frame is (1024, 1032).
    n_showers : int
        Showers injected at random integrations and groups.
    cosmic_rays_per_group : int
        Ordinary hits per integration and group.
    radius : (float, float)
        Range of a shower's semi-major axis, pixels.
    amplitude_sigma : (float, float)
        Range of the shower's faint step, in read-noise sigma of a difference.
    seed : int
        Seed of ``numpy.random.default_rng``.
    group_time, gain, read_noise : float
        Seconds per group; e/DN; DN per group difference.
    nframes : int
        Frames per group (metadata only).
    dnu_first_groups, dnu_last_groups : int
        Groups at each end flagged DO_NOT_USE on every pixel, as MIRI's
        first/last-frame steps do.
    refpix_columns : int
        Reference-pixel columns at each side; the left ones carry
        ``REFERENCE_PIXEL`` alone, the right ones also ``DO_NOT_USE``.
    jump_sigma : float
        Steps above ``jump_sigma * read_noise`` are flagged in ``jump_gdq``.

    Returns
    -------
    EventRamp
    """
    rng = np.random.default_rng(seed)
    gain_2d, rn_2d = _detector(rng, shape, gain, read_noise)
    rate = rng.uniform(0.0, 2.0, shape).astype(np.float32)
    ev = _draw_events(
        rng,
        n_showers,
        nints=nints,
        ngroups=ngroups,
        shape=shape,
        semi_major=radius,
        axis_ratio=(0.5, 1.0),
        edge_fraction=0.0,
        edge_size=0,
    )
    amplitude = rng.uniform(*amplitude_sigma, n_showers) * read_noise

    data = np.empty((nints, ngroups, *shape), np.float32)
    groupdq = np.zeros(data.shape, np.uint8)
    groupdq[:, :dnu_first_groups] |= DO_NOT_USE
    groupdq[:, ngroups - dnu_last_groups :] |= DO_NOT_USE
    jump_gdq = np.empty_like(groupdq)
    for i in range(nints):
        deposits = np.zeros((ngroups, *shape), np.float32)
        for k in np.flatnonzero(ev.intg == i):

            def profile(rho, k=k):
                faint = amplitude[k] * np.clip((1.25 - rho) / 0.25, 0.0, 1.0)
                return np.where(rho <= 1.5 / ev.semi_major[k], 5000.0, faint)

            _stamp(deposits[ev.group[k]], ev, k, 1.25 * ev.semi_major[k] + 2, profile)
        for g in range(1, ngroups):
            _add_cosmic_rays(rng, deposits[g], cosmic_rays_per_group, (200.0, 2000.0))
        data[i] = _integrate(
            rng,
            deposits,
            rate=rate,
            gain=gain_2d,
            read_noise=rn_2d,
            group_time=group_time,
            groupdq=groupdq[i],
        )
        jump_gdq[i] = _jump_flags(groupdq[i], deposits, jump_sigma * rn_2d)
    pixeldq = np.zeros(shape, np.uint32)
    if refpix_columns:
        pixeldq[:, :refpix_columns] = REFERENCE_PIXEL
        pixeldq[:, -refpix_columns:] = REFERENCE_PIXEL | DO_NOT_USE
    return EventRamp(data, groupdq, pixeldq, gain_2d, rn_2d, group_time, nframes, jump_gdq, n_showers)
