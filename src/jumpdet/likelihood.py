"""Likelihood jump detection (``method='likelihood'``), pixel by pixel, compiled with numba.

Each integration of each pixel is fitted as a straight ramp through its
resultant differences with their full covariance (read noise, frames per
group, skipped frames and the photon noise of the rate; Brandt 2024, see
:mod:`jumpdet._stats.ramp_likelihood`). At every position the chi-square
improvement of leaving out one difference (a jump between groups) and two
adjacent differences (a jump inside a group of several frames) is computed;
the best candidate above its threshold is flagged and left out, and the ramp
is fitted again, until no candidate is left. The rate that sets the photon
noise is the median rate of the pixel's usable differences over all
integrations (clipped at zero), fixed for the search, as in stcal.

Flags: a jump left out as difference ``k`` (group ``k`` to ``k + 1``) sets
JUMP_DET on group ``k + 1``, as the two-point search does. A jump inside
group ``g`` (differences ``g - 1`` and ``g`` left out) sets JUMP_DET on
groups ``g`` and ``g + 1``: ramp fitting starts a new segment at a flagged
group, so flagging ``g`` alone would leave the difference ``g -> g + 1``
(half of the jump) in the second segment, and ``g + 1`` alone the first half
in the first one. With both, ramp_fit's segments end at ``g - 1`` and start
at ``g + 1``, and neither contains the jump.

The search runs on tiles of rows like :mod:`jumpdet.twopoint` (one row's
differences in a buffer, GIL released). As it finds each jump it decides what
the post-processing must do around it (flag its neighbours, flag groups after
it) and leaves that as bits (:mod:`jumpdet.likelihood_flags`), so the
post-processing (neighbours, groups after jumps, clean-up, on blocks of rows)
reads neither the data nor the search's statistics again.
"""

from collections import namedtuple
from functools import lru_cache, partial
from typing import NamedTuple

import numpy as np
from scipy.special import log_ndtr, ndtri_exp

from ._stats.likelihood_screen import SCREEN_BLOCK, SCREEN_STATE_ROWS, screen
from ._stats.medians import (
    ROW_NETWORK_LIMIT,
    median_network,
    median_of_sorted,
    order_columns_for_medians,
    sorting_network,
)
from ._stats.ramp_likelihood import (
    COEFFICIENT_ROWS,
    DT,
    INV_DT,
    NONE,
    PHOTON_DIAG,
    PHOTON_OFF,
    READ_DIAG,
    READ_OFF,
    TWO,
    TWO_OK,
    best_candidates,
    candidates_buffers,
    workspace,
    workspace_view,
)
from .compilation import kernel
from .flags import JUMP_DET
from .likelihood_flags import flag_rules, jump_marks, mark_jump
from .params import JumpParams
from .tiling import tile_data
from .twopoint import Listing
from .twopoint import _fill_row_differences as fill_row_differences
from .twopoint import _list_flag as list_flag

__all__ = [
    "JumpRecords",
    "chi_square_thresholds",
    "covariance_coefficients",
    "find_jumps_in_tile",
    "frame_times",
    "search_buffers",
    "search_columns",
    "sigma_equivalent",
]

# The jumps a search found, one entry each: the pixel's column (in the arrays
# searched), integration, first difference left out, how many (1 or 2), the
# fitted amplitude (electrons), its significance (sigma of one difference) and
# the statistic its test compared with the threshold (see sigma_equivalent).
JumpRecords = namedtuple(
    "JumpRecords", ["column", "integration", "position", "width", "amplitude", "significance", "statistic"]
)

# A pair of differences is left out instead of the best single one only when
# it improves the chi-square by this much more (a 3-sigma second part of the
# jump): a jump between groups then rarely takes its neighbour along, where
# stcal's rule (the excess over each kind's threshold) does so for 1 in 15.
PAIR_MARGIN = 9.0

# Most pixels are cleared by a screen over a whole row; those left are judged
# CHUNK at a time, so that their buffers (about 13 (ngroups - 1) x CHUNK float64
# values) stay in the core's cache.
CHUNK = 256

# one integration of the pixels being judged: centred differences and usable
# mask (flat, n x m), per-pixel rate and read variance, the original column of
# each compacted pixel, the pixels kept for the next pass, the workspace and
# the candidates; and for a whole row, the pixels the screen keeps and its state
_Buffers = namedtuple(
    "_Buffers", ["d", "use", "rate", "read_var", "index", "keep", "ws", "found", "candidates", "screen_state"]
)


def frame_times(params: JumpParams, ngroups: int) -> list[np.ndarray]:
    """Times of the frames averaged into each group, in seconds or in frame times.

    ``params.read_times_s`` (from ``meta.exposure.read_times``) when given;
    else group ``g`` averages frames ``g * (nframes + groupgap) + 1 ..
    + nframes``, in units of the frame time, as stcal builds them. The
    statistic does not depend on the unit of time (the photon-noise rate is
    measured in the same unit), so the frame time itself is not needed.
    """
    if params.read_times_s is not None:
        if len(params.read_times_s) < ngroups:
            raise ValueError(
                f"read_times has {len(params.read_times_s)} groups, the data {ngroups}: "
                "meta.exposure.read_times must list the reads of every group"
            )
        return [np.atleast_1d(np.asarray(t, dtype=np.float64)) for t in params.read_times_s[:ngroups]]
    step = params.nframes + params.groupgap
    frames = np.arange(1, params.nframes + 1, dtype=np.float64)
    return [frames + g * step for g in range(ngroups)]


@lru_cache(maxsize=32)
def covariance_coefficients(params: JumpParams, ngroups: int) -> np.ndarray:
    """What the covariance of a pixel's differences needs from the readout, shape (7, ngroups - 1).

    Rows (see :mod:`jumpdet._stats.ramp_likelihood`): the spacing ``dt`` of
    the resultants' mean times, the read-noise and photon-noise parts of the
    diagonal and of the element above it (per frame read variance and per
    unit rate), whether the group shared by a difference and the next holds
    more than one frame (a jump can then fall inside it), and ``1 / dt``.
    """
    times = frame_times(params, ngroups)
    nreads = np.array([t.size for t in times], dtype=np.float64)
    mean_t = np.array([t.mean() for t in times])
    # photon-noise weighted mean time of each resultant: sum over pairs of reads of min(t_j, t_k) / N**2
    tau = np.array([np.sum((2 * t.size - 1 - 2 * np.arange(t.size)) * np.sort(t)) / t.size**2 for t in times])
    n = ngroups - 1
    coef = np.zeros((COEFFICIENT_ROWS, n))
    coef[DT] = np.diff(mean_t)
    if np.any(coef[DT] <= 0):
        raise ValueError(f"group mean times must increase, got {mean_t.tolist()}")
    coef[READ_DIAG] = 1 / nreads[:-1] + 1 / nreads[1:]
    coef[PHOTON_DIAG] = tau[:-1] + tau[1:] - 2 * mean_t[:-1]
    coef[READ_OFF, : n - 1] = -1 / nreads[1:-1]
    coef[PHOTON_OFF, : n - 1] = mean_t[1:-1] - tau[1:-1]
    coef[TWO_OK, : n - 1] = nreads[1:-1] > 1
    coef[INV_DT] = 1 / coef[DT]
    coef.flags.writeable = False  # cached and shared between threads
    return coef


@lru_cache(maxsize=32)
def chi_square_thresholds(params: JumpParams, ngroups: int) -> np.ndarray:
    """Chi-square thresholds, shape (ngroups, 3): row ``u`` for a ramp of ``u`` usable differences.

    Columns: one difference, two adjacent ones, and the margin a pair needs
    over a single difference to be chosen (``PAIR_MARGIN``).

    ``rejection_threshold`` ``t`` (``four_group_rejection_threshold`` for 3
    usable differences, ``three_group_rejection_threshold`` for 2) is a
    sigma-equivalent false-positive rate *per ramp*: a clean ramp (one
    integration of one pixel) is flagged with the probability
    ``p = erfc(t / sqrt(2))`` that one Gaussian test at ``t`` sigma fails.
    The search makes ``m`` tests on a ramp of ``u`` usable differences:
    ``u`` single differences and, when groups hold several frames and
    ``u >= 4``, the adjacent pairs (``u - 1``, or fewer where the readout
    allows fewer). Each test gets ``p / m`` (Bonferroni; the tests are
    positively correlated, so the ramp's rate is at most ``p``): the square of
    the two-sided Gaussian quantile of ``p / m`` for one difference (a
    chi-square of 1 degree of freedom) and ``-2 ln(p / m)`` for two (2
    degrees of freedom). stcal's LIKELY gives every test ``p``, so a ramp
    of ``m`` tests is flagged about ``m`` times as often, and more than
    two-point differences at the same threshold (see ``docs/likelihood.rst``,
    *Thresholds*). Logarithms throughout (``log_ndtr``, ``ndtri_exp``): finite
    where ``p`` underflows. Rows 0 and 1 are infinite (no test).
    """
    coef = covariance_coefficients(params, ngroups)
    pairs = int(np.count_nonzero(coef[TWO_OK]))
    thresholds = np.full((ngroups, 3), np.inf)
    thresholds[:, 2] = PAIR_MARGIN
    for usable in range(2, ngroups):
        sigma = (
            params.rejection_threshold
            if usable >= 4
            else params.four_group_rejection_threshold
            if usable == 3
            else params.three_group_rejection_threshold
        )
        tests = usable + (min(usable - 1, pairs) if usable >= 4 else 0)
        log_rate = np.log(2.0) + log_ndtr(-sigma) - np.log(tests)  # ln(p / m)
        quantile = ndtri_exp(log_rate - np.log(2.0))  # two-sided: P(|z| > -quantile) = p / m
        thresholds[usable, 0] = quantile * quantile
        thresholds[usable, 1] = -2.0 * log_rate
    thresholds.flags.writeable = False  # cached and shared between threads
    return thresholds


@kernel
def search_buffers(n, ncols):
    """Buffers for :func:`search_columns` on rows of up to ``ncols`` pixels of ``n`` differences."""
    m = min(ncols, CHUNK)
    return _Buffers(
        np.empty(n * m),
        np.empty(n * m),
        np.empty(m),
        np.empty(m),
        np.empty(m, np.int64),
        np.empty(m, np.int64),
        workspace(n * m),
        candidates_buffers(m),
        np.empty(ncols, np.int64),
        np.empty((SCREEN_STATE_ROWS, min(ncols, SCREEN_BLOCK))),
    )


@kernel
def _records(capacity):
    return JumpRecords(
        np.empty(capacity, np.int64),
        np.empty(capacity, np.int64),
        np.empty(capacity, np.int64),
        np.empty(capacity, np.int64),
        np.empty(capacity),
        np.empty(capacity),
        np.empty(capacity),
    )


@kernel
def frame_read_variance(read_noise, gain):
    """Read variance of one frame (electrons squared): READNOISE is the noise of a CDS pair of frames."""
    noise_e = np.float64(read_noise) * np.float64(gain)
    return noise_e * noise_e / 2.0


@kernel
def centre_rates(diffs, coef, rates, sorted_rates, count, pairs, median_pairs, centre):
    """Each pixel's median rate over its usable differences of all integrations (NaN if none)."""
    nvalues, m = diffs.shape
    n = coef.shape[1]
    for v in range(nvalues):
        scale = np.float32(coef[INV_DT, v % n])
        for c in range(m):
            rates[v, c] = diffs[v, c] * scale
    order_columns_for_medians(rates, sorted_rates, count, pairs, median_pairs)
    for c in range(m):
        centre[c] = median_of_sorted(sorted_rates[:, c], count[c])


@kernel
def _load(diffs, i, cols, centre, read_var, coef, bufs):
    """Fill the buffers with integration ``i`` of the pixels ``cols``; returns their number."""
    n = coef.shape[1]
    m = cols.size
    for k in range(n):
        dt = coef[DT, k]
        values = diffs[i * n + k]
        for j in range(m):
            c = cols[j]
            v = np.float64(values[c])
            usable = not np.isnan(v)
            bufs.use[k * m + j] = usable
            bufs.d[k * m + j] = v - centre[c] * dt if usable else 0.0
    for j in range(m):
        bufs.rate[j] = max(centre[cols[j]], 0.0)
        bufs.read_var[j] = read_var[cols[j]]
        bufs.index[j] = cols[j]
    return m


@kernel
def _compact(flat, n, active, keep, kept):
    """Keep the columns ``keep[:kept]`` of the (n, active) array stored in ``flat``, as (n, kept).

    In place and in increasing order: a value never moves to a later index.
    """
    for k in range(n):
        for j in range(kept):
            flat[k * kept + j] = flat[k * active + keep[j]]


@kernel
def search_columns(diffs, centre, read_var, coef, thresholds, bufs, records):
    """Find the jumps of ``m`` pixels; return their number (they are in ``records``).

    Parameters
    ----------
    diffs : (nints * (ngroups - 1), m) float32 ndarray
        Electron differences, NaN where unusable (integration-major).
    centre : (m,) float64 ndarray
        Each pixel's median rate (:func:`centre_rates`).
    read_var : (m,) float64 ndarray
        Read variance of one frame, electrons squared.
    coef, thresholds : ndarray
        :func:`covariance_coefficients`, :func:`chi_square_thresholds`.
    bufs : namedtuple
        :func:`search_buffers` for at least ``m`` pixels.
    records : JumpRecords
        Room for ``nints * (ngroups - 1) * m`` jumps.
    """
    nvalues, m = diffs.shape
    n = coef.shape[1]
    candidates = bufs.candidates
    found = 0
    for i in range(nvalues // n):
        kept = screen(diffs, i, centre, read_var, coef, thresholds, candidates, bufs.screen_state)
        for start in range(0, kept, CHUNK):
            cols = candidates[start : min(start + CHUNK, kept)]
            found = _search_candidates(
                diffs, i, cols, centre, read_var, coef, thresholds, bufs, records, found
            )
    return found


@kernel
def _search_candidates(diffs, i, cols, centre, read_var, coef, thresholds, bufs, records, found):
    """Judge the pixels ``cols`` (at most ``CHUNK``) of integration ``i``, again without each jump found."""
    n = coef.shape[1]
    active = _load(diffs, i, cols, centre, read_var, coef, bufs)
    while active > 0:
        shape = (n, active)
        d, use = bufs.d[: n * active].reshape(shape), bufs.use[: n * active].reshape(shape)
        cand = bufs.found
        ws = workspace_view(bufs.ws, n, active)
        best_candidates(d, use, bufs.rate[:active], bufs.read_var[:active], coef, thresholds, ws, cand)
        kept = 0
        for j in range(active):
            if cand.kind[j] == NONE:
                continue
            found = _record(records, found, bufs.index[j], i, cand, j)
            for k in range(cand.position[j], cand.position[j] + cand.kind[j]):
                use[k, j] = 0.0
                d[k, j] = 0.0
            bufs.keep[kept] = j
            kept += 1
        active = _keep_columns(bufs, n, active, kept)
    return found


@kernel
def _keep_columns(bufs, n, active, kept):
    """Compact the buffers to the columns ``bufs.keep[:kept]`` (increasing); return ``kept``."""
    for flat in (bufs.d, bufs.use):
        _compact(flat, n, active, bufs.keep, kept)
    for j in range(kept):
        bufs.rate[j] = bufs.rate[bufs.keep[j]]
        bufs.read_var[j] = bufs.read_var[bufs.keep[j]]
        bufs.index[j] = bufs.index[bufs.keep[j]]
    return kept


@kernel
def _record(records, found, column, integration, cand, j):
    records.column[found] = column
    records.integration[found] = integration
    records.position[found] = cand.position[j]
    records.width[found] = 2 if cand.kind[j] == TWO else 1
    records.amplitude[found] = cand.amplitude[j]
    records.significance[found] = cand.significance[j]
    records.statistic[found] = cand.statistic[j]
    return found + 1


@kernel
def _search_rows(
    data, origin, gdq, gain, read_noise, bounds, coef, thresholds, pairs, median_pairs, rules, marks, listings
):
    """OR JUMP_DET into ``gdq`` for the tile ``bounds`` (first row, end row, first column, end column).

    Each jump's marks (:func:`jump_marks`) are set too, when ``marks`` is not
    empty; with ``listings`` (not None), each flag is listed with its jump's
    statistic (:class:`_Listings`).
    """
    nints, ngroups = gdq.shape[:2]
    r0, r1, c0, c1 = bounds
    ncols = c1 - c0
    diffs, rates, sorted_rates, previous, count, centre, read_var, records, bufs = _row_buffers(
        nints, ngroups, ncols
    )
    for row in range(r0, r1):
        fill_row_differences(data, origin, gdq, gain, row, c0, diffs, previous)
        centre_rates(diffs, coef, rates, sorted_rates, count, pairs, median_pairs, centre)
        for c in range(ncols):
            read_var[c] = frame_read_variance(read_noise[row, c0 + c], gain[row, c0 + c])
        found = search_columns(diffs, centre, read_var, coef, thresholds, bufs, records)
        for j in range(found):
            i, c, g = records.integration[j], c0 + records.column[j], records.position[j] + 1
            for gg in range(g, g + records.width[j]):
                gdq[i, gg, row, c] |= JUMP_DET
            if listings is not None:
                into = listings.one if records.width[j] == 1 else listings.two
                for gg in range(g, g + records.width[j]):
                    list_flag(into, gdq.shape, i, gg, row, c, records.statistic[j])
            if marks.shape[1]:
                mark_jump(
                    marks,
                    rules,
                    i,
                    g,
                    records.width[j],
                    row,
                    c,
                    records.significance[j],
                    records.amplitude[j],
                )


def _kernel_inputs(params, nints, ngroups):
    """Coefficients, thresholds and sorting networks for an exposure of this shape."""
    nvalues = nints * (ngroups - 1)
    return (
        covariance_coefficients(params, ngroups),
        chi_square_thresholds(params, ngroups),
        sorting_network(nvalues, ROW_NETWORK_LIMIT),
        median_network(nvalues),
    )


class _Listings(NamedTuple):
    """The likelihood search's flags with their jump's statistic, by the jump's width.

    ``one``: jumps of one difference; ``two``: pairs (each flags two
    groups). The statistic becomes a sigma differently for each
    (:func:`sigma_equivalent`), which the kernels cannot compute.
    """

    one: Listing
    two: Listing


def find_jumps_in_tile(
    data,
    gdq,
    gain,
    read_noise,
    params: JumpParams,
    *,
    rows=slice(None),
    cols=slice(None),
    marks=None,
    list_flags: bool = False,
):
    """Search one tile of an exposure with the likelihood test; OR JUMP_DET into its GROUPDQ, in place.

    Parameters
    ----------
    data : (nints, ngroups, nrows, ncols) ndarray, DN
        Any float dtype or byte order; converted one tile at a time when not
        native float32.
    gdq : (nints, ngroups, nrows, ncols) uint8 ndarray
        The exposure's GROUPDQ (written in the tile only).
    gain : (nrows, ncols) float32 ndarray, e/DN
    read_noise : (nrows, ncols) float32 ndarray, DN: the CDS noise of two single-frame reads
    params : JumpParams
    rows, cols : slice, optional
        The tile (unit step); the whole frame by default.
    marks : ndarray, optional
        :func:`jump_marks` of the exposure, to receive the tile's marks.
    list_flags : bool, optional
        Also return the flags set, each with the significance of the test
        that set it (the jump catalogue's primary jumps). Default False.

    Returns
    -------
    None, or with ``list_flags``:
    flat : (n,) int64 ndarray
        Flat GROUPDQ index of each flag the search set in the tile (a jump
        inside a group sets two).
    significance : (n,) float64 ndarray
        :func:`sigma_equivalent` of the jump's statistic: the value its test
        compared with the threshold, in Gaussian sigma.
    """
    nints, ngroups = data.shape[:2]
    block, origin, bounds = tile_data(data, rows, cols)
    references = (gain.astype(np.float32, copy=False), read_noise.astype(np.float32, copy=False))
    marks = jump_marks((0, 0, 0, 0), params) if marks is None else marks
    inputs = _kernel_inputs(params, nints, ngroups)
    rules = flag_rules(params)
    search = partial(_search_rows, block, origin, gdq, *references, bounds, *inputs, rules, marks)
    if not list_flags:
        search(None)
        return None
    nrows, ncols = bounds[1] - bounds[0], bounds[3] - bounds[2]
    listings = Listing.search_with_room(  # flags and marks are OR-ed: searching again changes nothing
        lambda one, two: search(_Listings(one, two)), nints * (ngroups - 1) * nrows * ncols, count=2
    )
    (one, one_statistic), (two, two_statistic) = (listing.listed() for listing in listings)
    width = np.repeat([1, 2], [one.size, two.size])
    return np.concatenate([one, two]), sigma_equivalent(width, np.concatenate([one_statistic, two_statistic]))


def sigma_equivalent(width: np.ndarray, statistic: np.ndarray) -> np.ndarray:
    """The two-sided Gaussian sigma of the statistic each jump's test compared with its threshold.

    One difference (``width`` 1): the square root of the chi-square
    improvement, a chi-square of 1 degree of freedom on a clean ramp. A pair
    (``width`` 2): the sigma whose two-sided tail is the pair test's,
    ``exp(-statistic / 2)`` (the improvement, of 2 degrees of freedom, taken
    in the wedge of offsets of one sign; see
    :func:`jumpdet._stats.ramp_likelihood.best_candidates`). The thresholds
    give each test the ramp's rate ``erfc(t / sqrt(2))`` over its number of
    tests, so a flagged jump's sigma is above ``t``. Not the jump's size:
    that (its fitted amplitude over the noise of one difference) decides the
    neighbours, and a jump measured on anticorrelated differences can be
    significant while small against one difference's noise.

    >>> sigma_equivalent(np.array([1, 2]), np.array([25.0, 2 * np.log(1 / 5.733e-7)])).round(2)
    array([5., 5.])
    """
    statistic = np.maximum(np.asarray(statistic, np.float64), 0.0)
    pair = -ndtri_exp(-statistic / 2 - np.log(2.0))
    return np.where(np.asarray(width) == 2, pair, np.sqrt(statistic))


@kernel
def _row_buffers(nints, ngroups, ncols):
    """A row's buffers for :func:`_search_rows`.

    Differences, rates and their sorted copy, the previous group, counts,
    centres, read variances, jump records and the search's buffers.
    """
    nvalues = nints * (ngroups - 1)
    diffs = np.empty((nvalues, ncols), dtype=np.float32)
    rates, sorted_rates = np.empty_like(diffs), np.empty_like(diffs)
    previous = np.empty(ncols, dtype=np.float32)
    count = np.empty(ncols, dtype=np.int64)
    centre, read_var = np.empty(ncols), np.empty(ncols)
    records = _records(nvalues * ncols)
    bufs = search_buffers(ngroups - 1, ncols)
    return diffs, rates, sorted_rates, previous, count, centre, read_var, records, bufs
