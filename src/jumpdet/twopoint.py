"""The two-point-difference search for jumps, pixel by pixel, compiled with numba.

The search needs every group and integration of one pixel at a time and
nothing of its neighbours, so the work is a loop over pixels that keeps only
one row's differences in a small buffer: no full-size float copy of the data,
no cube of differences. The kernels release the GIL, and the caller
(:mod:`jumpdet.detect`) runs tiles of rows on threads; the flags do not depend
on how the exposure is cut.

Units: the data arrive in DN and become electrons here (``data * gain`` in
float32, as jwst does on the whole cube); read noise arrives in DN as the CDS
noise of two single-frame reads (READNOISE's convention) and becomes the
variance of a group difference in electrons squared (:func:`read_variance`).
Differences are per group (jwst normalises by a group-time step of 1).

The three paths, chosen per exposure by :mod:`jumpdet.plan`:

``iterative``
    fewer than ``min_diffs_single_pass`` usable differences per integration:
    find the single most significant difference of each pixel (pooled over
    integrations, against a clipped median of absolute differences), flag it
    if above the threshold for its number of usable differences, drop it and
    search the pixel again.
``single_pass``
    enough differences: flag every difference more than
    ``rejection_threshold`` sigma from the pixel's median difference.
``sigma_clip``
    enough integrations (or groups): astropy's iterative sigma clipping of
    each difference against the same difference in the other integrations
    (``only_use_ints``) or against all differences of the pixel
    (:mod:`jumpdet._stats.sigma_clip`).

Every rounding step of jwst's array code is reproduced (float32 electrons and
residuals, float64 medians and ratios) because the iterative search compares
ratios for equality with their maximum.
"""

from functools import partial
from typing import NamedTuple

import numpy as np

from ._stats.medians import (
    MEDIAN_SAMPLE,
    ROW_NETWORK_LIMIT,
    clipped_median_of_sorted,
    clipped_median_of_usable,
    column_median_brackets,
    median_network,
    median_of_sorted,
    order_columns_for_medians,
    sort_usable_columns,
    sorting_network,
)
from ._stats.sigma_clip import MAXITERS, clip_bounds_of_columns, column_workspace
from .compilation import kernel
from .flags import JUMP_DET, UNUSABLE
from .params import JumpParams
from .plan import DetectionPath
from .tiling import tile_data

__all__ = [
    "Listing",
    "electrons",
    "find_jumps_in_tile",
    "group_differences",
    "read_variance",
    "sigma_from_median",
]


@kernel
def read_variance(read_noise, gain, nframes):
    """Read-noise variance of a group difference (electrons squared, float64) of one pixel.

    jwst squares the read noise in electrons in float32 and divides by half
    the number of reads in the two groups, ``0.5 * 2 * nframes``; READNOISE
    references hold the noise of a difference of two single-frame reads.
    """
    noise_e = np.float32(read_noise * gain)
    return np.float64(noise_e * noise_e) / (0.5 * (2.0 * nframes))


@kernel
def sigma_from_median(median_diff, variance):
    """Noise of one group difference (electrons); NaN where it would be zero.

    Poisson variance is estimated by the absolute median difference; a zero
    sigma (no signal, no read noise) would make every ratio infinite, so it
    is NaN and such a pixel is never flagged (as in jwst).
    """
    sigma = np.sqrt(abs(median_diff) + variance)
    return np.nan if sigma == 0.0 else sigma


@kernel
def electrons(value, dq, gain):
    """One group's signal in electrons (float32, as jwst multiplies), NaN if SATURATED or DO_NOT_USE."""
    return np.float32(np.nan) if dq & UNUSABLE else value * gain


def group_differences(data, gain, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group ``g`` minus group ``g - 1`` at flat GROUPDQ indices ``flat`` (all with ``g >= 1``).

    Returns the difference in DN and in electrons as the search forms it
    (each group converted to float32 electrons, then subtracted in float32),
    both float32; only the ``2 n`` samples are read.
    """
    i, g, y, x = np.unravel_index(flat, data.shape)
    later = data[i, g, y, x].astype(np.float32)
    earlier = data[i, g - 1, y, x].astype(np.float32)
    gains = gain[y, x].astype(np.float32)
    return later - earlier, later * gains - earlier * gains


@kernel
def _fill_row_differences(data, origin, gdq, gain, row, c0, diffs, previous):
    """Electron differences of columns ``c0:c0 + ncols`` of a row: ``diffs[i * ndiffs + k, col]``.

    Group ``k + 1`` minus group ``k`` of integration ``i``; a SATURATED or
    DO_NOT_USE group (or NaN data) makes both of its differences NaN.
    ``data`` holds the exposure from row and column ``origin`` on.
    """
    nints, ngroups = data.shape[:2]
    ncols = diffs.shape[1]
    ndiffs = ngroups - 1
    r, first = row - origin[0], c0 - origin[1]
    gains = gain[row, c0 : c0 + ncols]
    for i in range(nints):
        for g in range(ngroups):
            # whole-array rows are contiguous views: the compiler vectorises along them
            values, flags = data[i, g, r, first : first + ncols], gdq[i, g, row, c0 : c0 + ncols]
            for c in range(ncols):
                e = electrons(values[c], flags[c], gains[c])
                if g > 0:
                    diffs[i * ndiffs + g - 1, c] = e - previous[c]
                previous[c] = e


@kernel
def _flag_found(gdq, row, col, found, ndiffs, listing):
    """Set JUMP_DET on the later group of every found difference (pooled numbering, NaN: not found).

    With a ``listing`` (not None), also list each flag with the ratio it was found at.
    """
    for index in range(found.size):
        if not np.isnan(found[index]):
            gdq[index // ndiffs, index % ndiffs + 1, row, col] |= JUMP_DET
            if listing is not None:
                _list_flag(listing, gdq.shape, index // ndiffs, index % ndiffs + 1, row, col, found[index])


class Listing(NamedTuple):
    """Where a search lists each flag it sets, for the jump catalogue.

    ``flat`` receives the flag's flat index in GROUPDQ and ``significance``
    the value the search compared with its threshold, up to their size;
    ``count[0]`` counts every flag, so a count beyond the size means the
    list overflowed (:func:`find_jumps_in_tile` then searches the tile again
    with room enough: flags are OR-ed, so a second search changes nothing).
    """

    flat: np.ndarray
    significance: np.ndarray
    count: np.ndarray

    @classmethod
    def with_room(cls, n: int) -> "Listing":
        """An empty listing with room for ``n`` flags."""
        return cls(np.empty(n, np.int64), np.empty(n), np.zeros(1, np.int64))

    @classmethod
    def search_with_room(cls, search, n_differences: int, count: int = 1) -> list["Listing"]:
        """Run ``search(*listings)`` with ``count`` listings until none overflowed; return them.

        The first room is a flag in 64 of the search's ``n_differences`` (far
        more than exposures carry); a search that overflowed a listing runs
        again with room for all (it must OR its flags, so that a second
        search changes nothing).
        """
        room = max(1024, n_differences // 64)
        while True:
            listings = [cls.with_room(room) for _ in range(count)]
            search(*listings)
            if not any(listing.overflowed() for listing in listings):
                return listings
            room = max(int(listing.count[0]) for listing in listings)  # rare

    def listed(self) -> tuple[np.ndarray, np.ndarray]:
        """(flat, significance) of the flags listed."""
        return self.flat[: self.count[0]], self.significance[: self.count[0]]

    def overflowed(self) -> bool:
        """Whether more flags were set than the listing had room for."""
        return bool(self.count[0] > self.flat.size)


@kernel
def _list_flag(listing, shape, i, g, row, col, significance):
    """Append the flag at ``(i, g, row, col)`` of a GROUPDQ of ``shape`` to ``listing`` (if room)."""
    n = listing.count[0]
    if n < listing.flat.size:
        listing.flat[n] = ((i * shape[1] + g) * shape[2] + row) * shape[3] + col
        listing.significance[n] = significance
    listing.count[0] = n + 1


@kernel
def _iterative_pixel(values, scratch, ratio, has_jump, variance, thresholds, found):
    """Flag one pixel's outliers one at a time (``values`` are absolute differences, modified).

    Stores in ``found`` the ratio at which each flagged difference was
    flagged (the value compared with the threshold; NaN for the others), which
    the jump catalogue reports (:mod:`jumpdet.significance`). ``thresholds``
    are for 4+, 3 and 2 usable differences. After the first pass jwst keeps
    the median in float32; the residual ``|d| - median`` is always rounded to
    float32.
    """
    found[:] = np.nan
    nints = has_jump.size
    ndiffs = values.size // nints
    first_pass = True
    while True:
        centre, n = clipped_median_of_usable(values, scratch)
        if not first_pass:
            centre = np.float64(np.float32(centre))
        sigma = sigma_from_median(centre, variance)
        threshold = _threshold_for(n, thresholds)
        largest = np.nan
        for i in range(nints):
            int_max = np.nan
            for k in range(i * ndiffs, (i + 1) * ndiffs):
                ratio[k] = abs(np.float32(np.float64(values[k]) - centre)) / sigma
                int_max = np.fmax(int_max, ratio[k])
            has_jump[i] = int_max > threshold
            largest = np.fmax(largest, int_max)
        new = False
        for k in range(values.size):
            if has_jump[k // ndiffs] and ratio[k] == largest:
                found[k] = largest
                values[k] = np.nan
                new = True
        if not new:
            return
        first_pass = False


@kernel
def _threshold_for(n_usable, thresholds):
    """The iterative search's threshold for a pixel with ``n_usable`` differences."""
    if n_usable >= 4:
        return thresholds[0]
    if n_usable == 3:
        return thresholds[1]
    if n_usable == 2:
        return thresholds[2]
    return np.inf


@kernel
def _single_pass_row(diffs, gdq, row, c0, variance, single_pass, sorted_diffs, count, centre, sigma):
    """Flag every difference of a row more than the threshold (sigma) from its pixel's median.

    Only the medians are needed, so a row whose differences are all usable
    is ordered by the median network alone. ``residual / sigma > threshold``
    is decided by the division itself, as jwst does.
    """
    threshold = single_pass.threshold
    nvalues, ncols = diffs.shape
    ndiffs = gdq.shape[1] - 1
    order_columns_for_medians(diffs, sorted_diffs, count, single_pass.pairs, single_pass.median_pairs)
    for c in range(ncols):
        centre[c] = median_of_sorted(sorted_diffs[:, c], count[c])
        sigma[c] = sigma_from_median(centre[c], variance[c])
    for k in range(nvalues):
        group = gdq[k // ndiffs, k % ndiffs + 1, row, c0 : c0 + ncols]
        _flag_far_from_centre(diffs[k], group, centre, sigma, threshold)


@kernel(numpy_division=True)  # no zero-division check: SIMD lanes
def _flag_far_from_centre(values, group, centre, sigma, threshold):
    """Set JUMP_DET in ``group`` where finite ``values`` are more than ``threshold`` sigma from ``centre``."""
    for c in range(values.size):
        v = np.float64(values[c])
        # branch-free, so that it runs in SIMD lanes (a NaN sigma compares False)
        group[c] |= JUMP_DET * ((abs(v) < np.inf) & (abs(v - centre[c]) / sigma[c] > threshold))


@kernel
def _iterative_row(diffs, gdq, row, c0, variance, iterative, sorted_diffs, count, centre, sigma, listing):
    """The iterative search on a row: a vectorised first pass screens the pixels.

    A pixel whose first pass finds nothing is finished (the search stops
    there too); the few others are searched again from the start, one by one.
    The screen's median and arithmetic are the search's own; its threshold
    is lowered by a relative 1e-6 so that it can only pass too many pixels.
    A ``listing`` (not None) receives each flag with the ratio it was found at.
    """
    thresholds = iterative.thresholds
    nvalues, ncols = diffs.shape
    nints, ngroups = gdq.shape[:2]
    np.abs(diffs, diffs)
    sort_usable_columns(diffs, sorted_diffs, count, iterative.pairs)
    largest = np.zeros(ncols, dtype=np.float32)  # largest |residual| of each pixel
    for c in range(ncols):
        centre[c] = clipped_median_of_sorted(sorted_diffs[:, c], count[c])
        sigma[c] = sigma_from_median(centre[c], variance[c])
    for k in range(nvalues):
        for c in range(ncols):
            residual = abs(np.float32(np.float64(diffs[k, c]) - centre[c]))
            if residual > largest[c]:
                largest[c] = residual
    values, scratch = np.empty(nvalues, np.float32), np.empty(nvalues, np.float32)
    ratio, found = np.empty(nvalues), np.empty(nvalues)
    has_jump = np.empty(nints, np.bool_)
    for c in range(ncols):
        if largest[c] / sigma[c] * (1.0 + 1e-6) > _threshold_for(count[c], thresholds):
            for k in range(nvalues):  # element by element: an array copy compiles seconds of checks
                values[k] = diffs[k, c]
            _iterative_pixel(values, scratch, ratio, has_jump, variance[c], thresholds, found)
            _flag_found(gdq, row, c0 + c, found, ngroups - 1, listing)


@kernel
def _sigma_clip_row(diffs, gdq, row, c0, threshold, only_use_ints, pairs, workspace, listing):
    """astropy's sigma clipping of every pixel of a row, all pixels at once.

    ``only_use_ints`` clips each difference against the same difference in
    the other integrations; otherwise all differences of a pixel together,
    in (integration, difference) order, as astropy flattens them. ``pairs``
    is the sorting network of one such set of values, ``workspace`` a
    :func:`jumpdet._stats.sigma_clip.column_workspace` as large. A non-finite
    difference is clipped by astropy but never a jump (jwst keeps only finite
    ones). A ``listing`` (not None) receives each flag with ``|d - centre| /
    std`` of the last iteration, from the bounds (:func:`_list_outside`).
    """
    nvalues, ncols = diffs.shape
    ndiffs = gdq.shape[1] - 1
    nsets, stride = (ndiffs, ndiffs) if only_use_ints else (1, 1)
    lower, upper = np.empty(ncols), np.empty(ncols)
    for s in range(nsets):
        clip_bounds_of_columns(diffs, s, stride, threshold, MAXITERS, pairs, lower, upper, workspace)
        for index in range(s, nvalues, stride):
            # a function of its own: written out in this loop, it compiled to
            # scalar code (measured 10 times slower)
            group = gdq[index // ndiffs, index % ndiffs + 1, row, c0 : c0 + ncols]
            _flag_outside(diffs[index], group, lower, upper)
            if listing is not None:
                _list_outside(diffs[index], group, gdq.shape, index // ndiffs, index % ndiffs + 1, row, c0,
                              lower, upper, threshold, listing)  # fmt: skip


@kernel
def _flag_outside(values, group, lower, upper):
    """Set JUMP_DET in ``group`` where finite ``values`` are outside ``[lower, upper]``."""
    for c in range(values.size):
        v = np.float64(values[c])
        # branch-free, so that it runs in SIMD lanes
        group[c] |= JUMP_DET * ((abs(v) < np.inf) & ((v < lower[c]) | (v > upper[c])))


@kernel
def _list_outside(values, group, shape, i, g, row, c0, lower, upper, threshold, listing):
    """List the flags :func:`_flag_outside` set in ``group``, each with ``|d - centre| / std``.

    The centre and standard deviation are those of astropy's last iteration,
    from which its bounds were drawn: ``(lower + upper) / 2`` and ``(upper -
    lower) / (2 * threshold)``; the ratio is above ``threshold`` to rounding.
    """
    for c in range(values.size):
        v = np.float64(values[c])
        if group[c] & JUMP_DET and abs(v) < np.inf and (v < lower[c] or v > upper[c]):
            std = (upper[c] - lower[c]) / (2.0 * threshold)
            _list_flag(listing, shape, i, g, row, c0 + c, abs(v - 0.5 * (lower[c] + upper[c])) / std)


class _Tile(NamedTuple):
    """The arrays a search reads and writes, and where its tile lies in them.

    ``gdq``, ``gain`` and ``read_noise`` cover the exposure; ``data`` covers
    it from row and column ``origin`` on; ``bounds`` are the tile's first
    row, end row, first column and end column.
    """

    data: np.ndarray
    origin: tuple[int, int]
    gdq: np.ndarray
    gain: np.ndarray
    read_noise: np.ndarray
    bounds: tuple[int, int, int, int]


# One bundle per detection path; a kernel is given the one of its path and None
# for the others, so numba compiles only that path (it prunes ``is not None``
# branches on the types of the arguments).


class _Iterative(NamedTuple):
    """The iterative path: thresholds for 4+, 3 and 2 usable differences; the network sorting a pixel."""

    thresholds: np.ndarray
    pairs: np.ndarray


class _SinglePass(NamedTuple):
    """The single pass: its threshold, the sorting and median networks of a pixel's values.

    ``medians`` (nrows, ncols) float64 receives each pixel's median
    difference, unless it is empty.
    """

    threshold: float
    pairs: np.ndarray
    median_pairs: np.ndarray
    medians: np.ndarray


class _SigmaClip(NamedTuple):
    """Sigma clipping: its threshold, the set of values clipped, and the network sorting one set."""

    threshold: float
    only_use_ints: bool
    pairs: np.ndarray


class _Brackets(NamedTuple):
    """Where brackets of the median differences go ((2, nrows, ncols) float32), and the sample's network."""

    planes: np.ndarray
    sample_pairs: np.ndarray


@kernel
def _search_rows(tile, nframes, iterative, single_pass, sigma_clip, brackets, listing):
    """OR JUMP_DET into ``tile.gdq`` for the rows and columns of the tile.

    One of ``iterative``, ``single_pass`` and ``sigma_clip`` is given, the
    others are None; ``brackets`` is None unless the medians are bracketed
    (:func:`_bracket_row_medians`); ``listing`` is None unless the flags are
    listed (:class:`Listing`).
    """
    gdq, gain, read_noise = tile.gdq, tile.gain, tile.read_noise
    nints, ngroups = gdq.shape[:2]
    r0, r1, c0, c1 = tile.bounds
    ncols = c1 - c0
    nvalues = nints * (ngroups - 1)
    diffs = np.empty((nvalues, ncols), dtype=np.float32)
    sorted_diffs = np.empty((nvalues, ncols), dtype=np.float32)
    previous = np.empty(ncols, dtype=np.float32)
    count = np.empty(ncols, dtype=np.int64)
    variance, centre, sigma = np.empty(ncols), np.empty(ncols), np.empty(ncols)
    if sigma_clip is not None:
        workspace = column_workspace(sorted_diffs)
    if brackets is not None:
        scratch = np.empty((2, ncols))
    for row in range(r0, r1):
        _fill_row_differences(tile.data, tile.origin, gdq, gain, row, c0, diffs, previous)
        for c in range(ncols):
            variance[c] = read_variance(read_noise[row, c0 + c], gain[row, c0 + c], nframes)
        if brackets is not None:  # before the iterative search makes the differences absolute
            lower, upper = brackets.planes[0, row, c0:c1], brackets.planes[1, row, c0:c1]
            _bracket_row_medians(diffs, brackets.sample_pairs, lower, upper, scratch[0], scratch[1])
        if iterative is not None:
            _iterative_row(
                diffs, gdq, row, c0, variance, iterative, sorted_diffs, count, centre, sigma, listing
            )
        if single_pass is not None:
            _single_pass_row(diffs, gdq, row, c0, variance, single_pass, sorted_diffs, count, centre, sigma)
            if single_pass.medians.shape[0]:
                for c in range(ncols):
                    single_pass.medians[row, c0 + c] = centre[c]
        if sigma_clip is not None:
            clip = sigma_clip
            _sigma_clip_row(
                diffs, gdq, row, c0, clip.threshold, clip.only_use_ints, clip.pairs, workspace, listing
            )


@kernel
def _bracket_row_medians(diffs, sample_pairs, lower, upper, lower_scratch, upper_scratch):
    """Proven brackets of each pixel's median difference (float32 ends), or (-inf, inf) where unproven.

    For the post-processing of long ramps, which then rarely needs a median
    exactly (:func:`jumpdet._stats.medians.column_median_brackets`).
    """
    proven = column_median_brackets(diffs, sample_pairs, lower_scratch, upper_scratch)
    for c in range(proven.size):
        lower[c] = lower_scratch[c] if proven[c] else -np.inf
        upper[c] = upper_scratch[c] if proven[c] else np.inf


def find_jumps_in_tile(
    data,
    gdq,
    gain,
    read_noise,
    params: JumpParams,
    path: str,
    *,
    rows=slice(None),
    cols=slice(None),
    medians=None,
    median_brackets=None,
    list_flags: bool = False,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Search one tile of an exposure and OR JUMP_DET into its GROUPDQ, in place.

    The arrays are the whole exposure's, and ``rows`` and ``cols`` select the
    tile: the kernels then read rows of C-contiguous arrays, which the
    compiler vectorises (on views of a tile it cannot: measured 40 % slower).

    Parameters
    ----------
    data : (nints, ngroups, nrows, ncols) ndarray, DN
        Any float dtype or byte order (FITS data are big-endian); data that
        are not native float32 are converted, one tile at a time.
    gdq : (nints, ngroups, nrows, ncols) uint8 ndarray
        The exposure's GROUPDQ (written in the tile only).
    gain : (nrows, ncols) float32 ndarray, e/DN
    read_noise : (nrows, ncols) float32 ndarray, DN, CDS (see :func:`jumpdet.detect_jumps`)
    params : JumpParams
    path : DetectionPath or {"iterative", "single_pass", "sigma_clip"}
    rows, cols : slice, optional
        The tile (unit step); the whole frame by default.
    medians : (nrows, ncols) float64 ndarray, optional
        On the single-pass path, receives each pixel's median difference
        (electrons per group) in the tile, which the post-processing then need
        not compute again (:attr:`jumpdet.postprocess.FrameInputs.medians`).
    median_brackets : (2, nrows, ncols) float32 ndarray, optional
        On the other paths, receives a bracket (lower, upper) of each pixel's
        median difference (:attr:`jumpdet.postprocess.FrameInputs.median_brackets`);
        the ramps must have at least ``MEDIAN_SAMPLE`` differences.
    list_flags : bool, optional
        Also return the flags set, with what the search compared with its
        threshold (the jump catalogue's primary jumps). Default False. Not
        on the single pass, whose values follow from ``medians``
        (:func:`jumpdet.significance.measure_single_pass_jumps`): listing
        there would test every difference a second time.

    Returns
    -------
    None, or with ``list_flags``:
    flat : (n,) int64 ndarray
        Flat GROUPDQ index of each flag the search set in the tile
        (whether or not it was already set), in the search's order.
    significance : (n,) float64 ndarray
        The value compared with the threshold: ``| |d| - clipped median | /
        sigma`` at the pass that flagged ``d`` on the iterative path, ``|d -
        centre| / std`` of the last clipping iteration on the sigma-clip path.
    """
    if list_flags and DetectionPath(path) == DetectionPath.SINGLE_PASS:
        raise ValueError("the single pass lists no flags: their values follow from its medians")
    nints, ngroups = data.shape[:2]
    block, origin, bounds = tile_data(data, rows, cols)
    # every path sorts a whole row of pixels at once: sigma clipping each set of
    # values it clips, the others all the differences of a pixel
    path = DetectionPath(path)
    per_pixel = nints * (ngroups - 1)
    per_set = nints if path == DetectionPath.SIGMA_CLIP and params.only_use_ints else per_pixel
    pairs = sorting_network(per_set, ROW_NETWORK_LIMIT)
    iterative = single_pass = sigma_clip = None
    if path == DetectionPath.ITERATIVE:
        iterative = _Iterative(np.array(params.thresholds), pairs)
    elif path == DetectionPath.SINGLE_PASS:
        found = np.empty((0, 0)) if medians is None else medians
        single_pass = _SinglePass(params.rejection_threshold, pairs, median_network(per_pixel), found)
    else:
        sigma_clip = _SigmaClip(params.rejection_threshold, params.only_use_ints, pairs)
    brackets = None if median_brackets is None else _Brackets(median_brackets, sorting_network(MEDIAN_SAMPLE))
    tile = _Tile(
        block,
        origin,
        gdq,
        gain.astype(np.float32, copy=False),
        read_noise.astype(np.float32, copy=False),
        bounds,
    )
    if not list_flags:
        _search_rows(tile, params.nframes, iterative, single_pass, sigma_clip, brackets, None)
        return None
    nrows, ncols = bounds[1] - bounds[0], bounds[3] - bounds[2]
    (listing,) = Listing.search_with_room(
        partial(_search_rows, tile, params.nframes, iterative, single_pass, sigma_clip, brackets),
        nints * (ngroups - 1) * nrows * ncols,
    )
    return listing.listed()
