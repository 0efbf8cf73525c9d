"""Jump detection on a whole exposure: the public entry point of the core.

The exposure is processed in tiles small enough that every temporary is
bounded (see :mod:`jumpdet.tiling`), in this order, which is jwst 3.0's:

1. pixels with a bad gain get NO_GAIN_VALUE | DO_NOT_USE in PIXELDQ;
2. the detection path is chosen from GROUPDQ (:mod:`jumpdet.plan`);
3. the search flags jumps, tile by tile: two-point differences
   (:mod:`jumpdet.twopoint`) or, with ``method="likelihood"``, the
   likelihood test (:mod:`jumpdet.likelihood`);
4. with sigma clipping, a group whose every pixel is now JUMP_DET or
   DO_NOT_USE loses its plain JUMP_DET flags (jwst's rule);
5. neighbours and groups after large jumps are flagged, and JUMP_DET is
   cleared where SATURATED or DO_NOT_USE is set (:mod:`jumpdet.postprocess`,
   or :func:`jumpdet.likelihood_flags.postprocess_rows`);
6. snowballs and MIRI showers, if enabled (:mod:`jumpdet.large_events.snowballs`,
   :mod:`jumpdet.large_events.showers`).

With ``record=True`` (``catalog=True``), a :class:`jumpdet.recording.StageRecorder`
notes after each stage which flags it set (the flags do not change): the
neighbours and the groups after jumps are then flagged in two passes over
the row blocks instead of one (same flags: a jump on a SATURATED or
DO_NOT_USE group, which the first pass clears, has no difference and flags
no later group).

No step, datamodel, file or logging configuration is involved here.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from . import likelihood, likelihood_flags
from ._stats.medians import NETWORK_LIMIT
from .compilation import COMPILING_MESSAGE, announcing_compilation
from .exposure import all_do_not_use_groups, check_exposure_shapes, pack_unusable
from .flags import DO_NOT_USE, JUMP_DET, NO_GAIN_VALUE
from .params import JumpParams
from .plan import DetectionPath, DetectionPlan, plan_detection
from .postprocess import FrameInputs, RowBlock, postprocess_rows, remove_jump_from_unusable_inplace
from .recording import JumpRecord, StageRecorder
from .significance import measure_primary_jumps, measure_single_pass_jumps
from .tiling import Tile, plan_tiles
from .twopoint import find_jumps_in_tile

__all__ = ["JumpResult", "JumpStats", "detect_jumps", "detect_jumps_inplace"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JumpStats:
    """What detection found, besides the flags.

    Attributes
    ----------
    plan : DetectionPlan
        The path taken (``"likelihood"`` with that method), or why the search
        was skipped.
    primary_jumps : int or None
        JUMP_DET flags after the search and before neighbours and after-jump
        groups are added (input flags included), as jwst counts them; None
        when the search was skipped.
    extended_events : int
        Snowballs, or showers when shower flagging is on (jwst reports the
        last stage that ran).
    record : JumpRecord or None
        With ``record=True``: every JUMP_DET flag set that was not in the
        input, with its cause (:mod:`jumpdet.recording`).
    """

    plan: DetectionPlan
    primary_jumps: int | None
    extended_events: int
    record: JumpRecord | None = None


@dataclass(frozen=True)
class JumpResult:
    """Return value of :func:`detect_jumps`: new DQ arrays, the stats and, on request, the jump catalogue.

    Attributes
    ----------
    groupdq : (nints, ngroups, nrows, ncols) uint8 ndarray
        GROUPDQ with JUMP_DET set where jwst 3.0 sets it.
    pixeldq : (nrows, ncols) uint32 ndarray
        PIXELDQ with NO_GAIN_VALUE | DO_NOT_USE where the gain is bad.
    stats : JumpStats
        The path taken and the counts jwst reports.
    catalog : astropy.table.Table or None
        With ``catalog=True``, the jump catalogue
        (:func:`jumpdet.catalog.jump_catalog`); None otherwise.
    """

    groupdq: np.ndarray
    pixeldq: np.ndarray
    stats: JumpStats
    catalog: object = None  # astropy.table.Table with catalog=True (jumpdet.catalog)


def detect_jumps(
    data,
    groupdq,
    pixeldq,
    *,
    gain,
    read_noise,
    params: JumpParams | None = None,
    max_workers: int = 1,
    catalog: bool = False,
) -> JumpResult:
    """Detect jumps (cosmic rays) in ramps, as jwst 3.0's ``JumpStep``; return new DQ arrays.

    The inputs are not modified. Pixels with a bad gain get
    ``NO_GAIN_VALUE | DO_NOT_USE`` in PIXELDQ; jumps get ``JUMP_DET`` in
    GROUPDQ, bit for bit as jwst 3.0 sets them with the same parameters.

    Parameters
    ----------
    data : (nints, ngroups, nrows, ncols) float ndarray
        The ramps in DN, any float dtype or byte order (FITS data are
        big-endian); they are read as float32, as jwst reads them.
    groupdq : (nints, ngroups, nrows, ncols) uint8 ndarray
        GROUPDQ on input: SATURATED and DO_NOT_USE groups are not used.
    pixeldq : (nrows, ncols) uint32 ndarray
        PIXELDQ on input.
    gain : (nrows, ncols) float ndarray
        Gain in electrons per DN (the GAIN reference); a pixel whose gain is
        NaN or not positive is flagged in PIXELDQ and never has a jump.
    read_noise : (nrows, ncols) float ndarray
        Read noise in DN as the READNOISE reference gives it: the noise of
        the difference of two single-frame reads (CDS noise), not of one
        read. A group difference then has a read-noise variance of
        ``(read_noise * gain)**2 / nframes`` electrons squared.
    params : JumpParams, optional
        Detection parameters; ``JumpParams()`` (jwst 3.0's defaults) when
        omitted. :meth:`JumpParams.from_jwst` takes jwst's parameter names
        and units.
    max_workers : int, optional
        Threads to use (default 1); the flags do not depend on it.
    catalog : bool, optional
        Also return the jump catalogue (:func:`jumpdet.catalog.jump_catalog`):
        one row per JUMP_DET flag set, with its cause. Default False; the
        flags do not depend on it.

    Returns
    -------
    JumpResult
        New ``groupdq`` and ``pixeldq`` arrays, the :class:`JumpStats`
        (the path taken, or why the search was skipped, and the counts jwst
        reports) and, with ``catalog=True``, the catalogue.

    Raises
    ------
    ValueError
        If the arrays' shapes do not describe one exposure, or ``groupdq``
        is not uint8.

    Examples
    --------
    A ramp with a 500 DN jump in its fourth group, read noise 1 DN, gain 1 e/DN:

    >>> ramp = np.array([10., 20., 30., 530., 540.], dtype=np.float32)[None, :, None, None]
    >>> ones = np.ones((1, 1), np.float32)
    >>> result = detect_jumps(ramp, np.zeros(ramp.shape, np.uint8), np.zeros((1, 1), np.uint32),
    ...                       gain=ones, read_noise=ones)
    >>> result.groupdq[0, :, 0, 0]
    array([0, 0, 0, 4, 0], dtype=uint8)
    >>> str(result.stats.plan.path)
    'iterative'
    """
    gdq_out, pdq_out = groupdq.copy(), pixeldq.copy()
    params = JumpParams() if params is None else params
    stats = detect_jumps_inplace(
        data,
        gdq_out,
        pdq_out,
        gain=gain,
        read_noise=read_noise,
        params=params,
        max_workers=max_workers,
        record=catalog,
    )
    table = None
    if catalog:
        from .catalog import jump_catalog

        table = jump_catalog(stats.record, params=params, path=stats.plan.path)
    return JumpResult(gdq_out, pdq_out, stats, table)


def detect_jumps_inplace(
    data,
    groupdq,
    pixeldq,
    *,
    gain,
    read_noise,
    params: JumpParams | None = None,
    max_workers: int = 1,
    record: bool = False,
) -> JumpStats:
    """Like :func:`detect_jumps`, but update ``groupdq`` and ``pixeldq`` in place.

    Saves the copies of the two DQ arrays (a quarter of the ramp's size) when
    the caller owns them, as the step does. ``data`` is never modified.

    Parameters
    ----------
    data, gain, read_noise, params, max_workers
        As for :func:`detect_jumps`.
    groupdq : (nints, ngroups, nrows, ncols) uint8 ndarray
        GROUPDQ; JUMP_DET is set (and cleared) in it.
    pixeldq : (nrows, ncols) uint32 ndarray
        PIXELDQ; bad-gain pixels are flagged in it.
    record : bool, optional
        Also record which stage set each new JUMP_DET flag (default False;
        the flags do not depend on it).

    Returns
    -------
    JumpStats
        The path taken and the counts jwst reports; with ``record``, its
        ``record`` lists the flags set, by cause.

    Raises
    ------
    ValueError
        As :func:`detect_jumps`.
    """
    params = JumpParams() if params is None else params
    check_exposure_shapes(data, groupdq, pixeldq, gain, read_noise)
    gain, read_noise = _float32_references(gain, read_noise)
    with announcing_compilation(lambda: log.info(COMPILING_MESSAGE)):
        return _detect_inplace(data, groupdq, pixeldq, gain, read_noise, params, max_workers, record)


def _detect_inplace(data, groupdq, pixeldq, gain, read_noise, params, max_workers, record) -> JumpStats:
    flag_bad_gain_inplace(pixeldq, gain)
    plan = plan_detection(all_do_not_use_groups(groupdq), params)
    recorder = StageRecorder(groupdq) if record else None
    # jwst blanks the electrons at input SAT/DNU groups only when the search runs
    searched = plan.path is not None
    input_unusable = pack_unusable(groupdq) if params.find_showers and searched else None
    primary = None
    if plan.path is None:
        remove_jump_from_unusable_inplace(groupdq)
    elif params.method == "likelihood":
        plan = replace(plan, path="likelihood")
        primary = _likelihood_inplace(data, groupdq, gain, read_noise, params, max_workers, recorder)
    else:
        primary = _two_point_inplace(
            data, groupdq, gain, read_noise, params, plan.path, max_workers, recorder
        )
    footprints = [] if recorder is not None else None
    events = 0
    if params.expand_large_events:
        from .large_events.snowballs import flag_snowballs_inplace

        events = flag_snowballs_inplace(groupdq, params, events=footprints)
        if recorder is not None:
            recorder.large_events(groupdq, "snowball", footprints)
    if params.find_showers:
        from .large_events.showers import flag_showers_inplace

        showers = [] if recorder is not None else None
        events = flag_showers_inplace(
            data,
            groupdq,
            pixeldq,
            gain=gain,
            read_noise=read_noise,
            params=params,
            input_unusable=input_unusable,
            max_workers=max_workers,
            events=showers,
        )
        if recorder is not None:
            recorder.large_events(groupdq, "shower", showers)
    return JumpStats(plan, primary, events, recorder.finish(groupdq) if recorder is not None else None)


def flag_bad_gain_inplace(pixeldq: np.ndarray, gain: np.ndarray) -> None:
    """Set NO_GAIN_VALUE | DO_NOT_USE in PIXELDQ where the gain is <= 0 or NaN."""
    with np.errstate(invalid="ignore"):
        bad = ~(gain > 0)
    pixeldq[bad] |= np.uint32(NO_GAIN_VALUE | DO_NOT_USE)


def _float32_references(gain, read_noise):
    """The references as float32: jwst computes with the reference models' float32 values."""
    return gain.astype(np.float32, copy=False), read_noise.astype(np.float32, copy=False)


def _two_point_inplace(data, gdq, gain, read_noise, params, path, max_workers, recorder=None) -> int:
    tiles = plan_tiles(data.shape, max_workers)
    measures_jumps = (
        params.flag_4_neighbors or max(params.after_jump_flag_groups1, params.after_jump_flag_groups2) > 0
    )
    single_pass = path == DetectionPath.SINGLE_PASS
    # with the catalogue, the single pass's medians give its flags' values
    keeps_medians = measures_jumps or (recorder is not None and single_pass)
    medians, brackets = _median_planes(data.shape, path) if keeps_medians else (None, None)
    listing = recorder is not None and not single_pass
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        searched = list(
            pool.map(
                lambda t: _search_tile(
                    data, gdq, gain, read_noise, params, path, t, medians, brackets, listing
                ),
                tiles.search,
            )
        )
        if path == DetectionPath.SIGMA_CLIP:
            _unflag_fully_flagged_groups(gdq, np.logical_and.reduce([full for full, _ in searched]))
        if recorder is not None and single_pass:
            recorder.stage(
                gdq,
                "primary",
                partial(measure_single_pass_jumps, data, gain, read_noise, params.nframes, medians),
            )
        elif recorder is not None:
            _record_listed_primaries(recorder, data, gdq, gain, [found for _, found in searched])
        frame = FrameInputs(data, gdq, gain, read_noise, params.nframes, medians, brackets)
        blocks = [_row_block(gdq, start, stop) for start, stop in tiles.row_blocks]
        primary = None
        for cause, stage_params in _postprocess_passes(params, recorder is not None):
            counts = sum(pool.map(lambda b, p=stage_params: postprocess_rows(frame, b, p), blocks))
            primary = counts if primary is None else primary
            if recorder is not None:
                recorder.stage(gdq, cause)
        return primary


def _postprocess_passes(params, recording):
    """(cause, params) of each post-processing pass: one, or when recording neighbours, then after-jumps."""
    after = max(params.after_jump_flag_groups1, params.after_jump_flag_groups2) > 0
    if not (recording and params.flag_4_neighbors and after):
        return [("neighbour" if params.flag_4_neighbors else "after_jump", params)]
    return [
        ("neighbour", params.replace(after_jump_flag_groups1=0, after_jump_flag_groups2=0)),
        ("after_jump", params.replace(flag_4_neighbors=False)),
    ]


def _likelihood_inplace(data, gdq, gain, read_noise, params, max_workers, recorder=None) -> int:
    """The likelihood search on tiles, then its post-processing on row blocks; returns the primary count.

    With a ``recorder`` (the jump catalogue), the search's flags are recorded
    as primary jumps with their group difference and the significance the
    search listed as it set them (:func:`jumpdet.likelihood.sigma_equivalent`),
    then neighbours and groups after jumps as their own causes, as on the
    two-point path.
    """
    tiles = plan_tiles(data.shape, max_workers)
    marks = likelihood_flags.jump_marks(data.shape, params)
    listing = recorder is not None
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        searched = list(
            pool.map(
                lambda t: likelihood.find_jumps_in_tile(
                    data,
                    gdq,
                    gain,
                    read_noise,
                    params,
                    rows=t.rows,
                    cols=t.cols,
                    marks=marks,
                    list_flags=listing,
                ),
                tiles.search,
            )
        )
        if recorder is not None:
            _record_listed_primaries(recorder, data, gdq, gain, searched)
        blocks = tiles.row_blocks
        primary = None
        for cause, stage_params in _postprocess_passes(params, recorder is not None):
            counts = sum(
                pool.map(
                    lambda b, p=stage_params: likelihood_flags.postprocess_rows(gdq, marks, *b, p), blocks
                )
            )
            primary = counts if primary is None else primary
            if recorder is not None:
                recorder.stage(gdq, cause)
        return primary


def _median_planes(shape, path):
    """Planes in which the search leaves what it learns of each pixel's median difference.

    The post-processing needs the median difference of every pixel with a
    jump. The single pass finds it exactly: kept in a float64 plane (at most
    8 bytes a pixel against 5 a value of the ramp, which has at least 11
    groups on this path). In long ramps on the other paths, the search
    brackets it cheaply from the differences it holds anyway (two float32
    planes, against at least 1280 bytes a pixel of ramp), and the
    post-processing need not read the ramp again. Short ramps of the other
    paths get nothing: the post-processing sorts their few jumped pixels.
    Nor does any path when no neighbours and no groups after jumps are
    flagged: nothing then measures a jump (except the jump catalogue, which
    takes the single pass's values from its medians).

    Returns
    -------
    medians : (nrows, ncols) float64 ndarray or None
    brackets : (2, nrows, ncols) float32 ndarray or None
    """
    nints, ngroups, nrows, ncols = shape
    if path == DetectionPath.SINGLE_PASS:
        return np.empty((nrows, ncols)), None
    if nints * (ngroups - 1) > NETWORK_LIMIT:
        return None, np.empty((2, nrows, ncols), dtype=np.float32)
    return None, None


def _search_tile(data, gdq, gain, read_noise, params, path, tile: Tile, medians, brackets, listing):
    """Search one tile, OR its flags into GROUPDQ.

    Returns the tile's all-flagged groups with sigma clipping (else None),
    and with ``listing`` the flags it listed (else None).
    """
    rows, cols = tile.rows, tile.cols
    planes = {"medians": medians, "median_brackets": brackets}
    found = find_jumps_in_tile(
        data, gdq, gain, read_noise, params, path, rows=rows, cols=cols, list_flags=listing, **planes
    )
    if path != DetectionPath.SIGMA_CLIP:
        return None, found  # only jwst's sigma-clip path has the whole-group rule
    return np.all((gdq[:, :, rows, cols] & (JUMP_DET | DO_NOT_USE)) != 0, axis=(2, 3)), found


def _record_listed_primaries(recorder, data, gdq, gain, listings) -> None:
    """Record the search's new flags as primary jumps, their values from the tiles' ``listings``."""
    flat = np.concatenate([found[0] for found in listings])
    order = np.argsort(flat)
    listed = flat[order], np.concatenate([found[1] for found in listings])[order]
    recorder.stage(gdq, "primary", partial(measure_primary_jumps, data, gain, listed))


def _unflag_fully_flagged_groups(gdq: np.ndarray, fully_flagged: np.ndarray) -> None:
    """Clear plain JUMP_DET flags in groups where every pixel is JUMP_DET or DO_NOT_USE.

    jwst's rule on the sigma-clip path: pixels flagged JUMP_DET and nothing
    else are cleared.
    """
    for i, g in zip(*np.nonzero(fully_flagged), strict=True):
        plane = gdq[i, g]
        plane[plane == JUMP_DET] = 0


def _row_block(gdq, start, stop) -> RowBlock:
    nrows = gdq.shape[2]
    above = gdq[:, :, start - 1].copy() if start > 0 else None
    below = gdq[:, :, stop].copy() if stop < nrows else None
    return RowBlock(start, stop, above, below)
