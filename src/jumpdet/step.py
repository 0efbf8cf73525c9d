"""``jumpdet.JumpStep``: the stpipe step, a thin adapter around :mod:`jumpdet.detect`.

Model in; arrays out to the core with references and parameters converted in
one visible place each (:mod:`jumpdet.references.loading`, :func:`jumpdet.params.params_from_step`);
flags and metadata back. It accepts every parameter of jwst 3.0's
``jwst.jump.JumpStep`` with the same names and defaults.
"""

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from jwst.stpipe import Step
from stdatamodels.jwst.datamodels import RampModel

from .catalog import CATALOG_SUFFIX, jump_catalog, write_catalog
from .detect import JumpStats, detect_jumps_inplace
from .errors import BadInputError
from .exposure import all_do_not_use_groups
from .inputs import READ_ERRORS, check_file, check_not_empty, file_error
from .params import params_from_step
from .references.crds_access import CrdsOptionalMixin
from .references.loading import load_references
from .saving import AtomicSaveMixin

__all__ = ["JumpStep", "resolve_cores"]

log = logging.getLogger(__name__)

_CORE_FRACTIONS = {"none": None, "one": None, "quarter": 4, "half": 2, "all": 1}


def resolve_cores(maximum_cores) -> int:
    """Threads for ``maximum_cores``: an integer, or 'none'/'one', 'quarter', 'half', 'all'.

    Never more than the machine's cores, never fewer than one.
    """
    available = os.cpu_count() or 1
    text = str(maximum_cores).strip().lower()
    if text.isdigit():
        return max(1, min(int(text), available))
    if text not in _CORE_FRACTIONS:
        raise BadInputError(
            f"maximum_cores={maximum_cores!r} is not understood; "
            "use an integer, 'none', 'quarter', 'half' or 'all'"
        )
    divisor = _CORE_FRACTIONS[text]
    return 1 if divisor is None else max(1, available // divisor)


class JumpStep(AtomicSaveMixin, CrdsOptionalMixin, Step):
    """Detect jumps (cosmic rays and other steps) in ramps, with the flags of jwst 3.0's JumpStep."""

    spec = """
        method = option('two_point', 'likelihood', default='two_point') # two_point: jwst's flags; likelihood: Brandt (2024) chi-square test, more sensitive
        rejection_threshold = float(default=4.0,min=0) # CR sigma rejection threshold (4+ usable differences)
        three_group_rejection_threshold = float(default=6.0,min=0) # CR sigma threshold with 2 usable differences
        four_group_rejection_threshold = float(default=5.0,min=0) # CR sigma threshold with 3 usable differences
        maximum_cores = string(default='1') # threads: an integer, 'none', 'quarter', 'half' or 'all'; flags do not depend on it
        flag_4_neighbors = boolean(default=True) # flag the four perpendicular neighbors of each CR
        max_jump_to_flag_neighbors = float(default=1000) # maximum jump sigma that will trigger neighbor flagging
        min_jump_to_flag_neighbors = float(default=10) # minimum jump sigma that will trigger neighbor flagging
        after_jump_flag_dn1 = float(default=0) # 1st flag groups after jump above DN threshold
        after_jump_flag_time1 = float(default=0) # 1st flag groups after jump groups within specified time (s)
        after_jump_flag_dn2 = float(default=0) # 2nd flag groups after jump above DN threshold
        after_jump_flag_time2 = float(default=0) # 2nd flag groups after jump groups within specified time (s)
        expand_large_events = boolean(default=False) # Turns on Snowball detector for NIR detectors
        min_sat_area = float(default=1.0) # minimum required area (pixels) for the central saturation of snowballs
        min_jump_area = float(default=5.0) # minimum area (pixels) to trigger large events processing
        expand_factor = float(default=2.0) # The expansion factor for the enclosing circles or ellipses
        use_ellipses = boolean(default=False) # deprecated; accepted and ignored, as in jwst
        sat_required_snowball = boolean(default=True) # Require the center of snowballs to be saturated
        min_sat_radius_extend = float(default=2.5) # The min radius (pixels) of the sat core to trigger its extension
        sat_expand = integer(default=2) # Pixels added to the radius of the saturated core of snowballs
        edge_size = integer(default=25) # Distance (pixels) from the edge where a saturated core is not required
        mask_snowball_core_next_int = boolean(default=True) # Flag saturated cores of snowballs in the next integration?
        snowball_time_masked_next_int = integer(default=4000) # Seconds over which cores are flagged in the next integration
        find_showers = boolean(default=False) # Apply MIRI shower flagging?
        max_shower_amplitude = float(default=4) # Maximum MIRI shower amplitude in DN/s (unused by jwst 3.0; see docs)
        extend_snr_threshold = float(default=1.2) # The SNR minimum for detection of extended showers in MIRI
        extend_min_area = integer(default=90) # Min area (pixels) of emission after convolution to detect showers
        extend_inner_radius = float(default=1) # Inner radius (pixels) of the ring kernel used for convolution
        extend_outer_radius = float(default=2.6) # Width (pixels) of the ring beyond the inner radius (astropy Ring2DKernel; jwst calls it the outer radius)
        extend_ellipse_expand_ratio = float(default=1.1) # Expand the radius of the ellipse fit to the extended emission
        time_masked_after_shower = float(default=15) # Seconds to flag as jump after a detected extended emission
        min_diffs_single_pass = integer(default=10) # Usable differences needed to skip the iterative flagging of jumps
        max_extended_radius = integer(default=200) # The maximum radius (pixels) of an extended snowball or shower
        minimum_groups = integer(default=3) # The minimum number of usable groups to perform jump detection
        minimum_sigclip_groups = integer(default=100) # The minimum number of groups to switch to sigma clipping
        only_use_ints = boolean(default=True) # In sigclip only compare the same group across ints, if False all groups
        save_jump_catalog = boolean(default=False) # write <basename>_jumpcat.ecsv: one row per JUMP_DET flag set, with its cause (jumpdet only)
    """  # noqa: E501

    reference_file_types = ["gain", "readnoise"]

    # cal_step.jump and cal_logs.jump, as jwst's step; the registry alias is "jumpdet"
    class_alias = "jump"

    # catalogue writes run() waits for; None outside run() (process() alone writes at once)
    _catalog_writes = None

    def process(self, step_input):
        """Flag jumps in a ramp; return a new RampModel (the input is never modified).

        Parameters
        ----------
        step_input : str, path or `~stdatamodels.jwst.datamodels.RampModel`

        Returns
        -------
        `~stdatamodels.jwst.datamodels.RampModel`
        """
        self.refuse_output_over_input()
        result = self._open_ramp(step_input)
        nints, ngroups, nrows, ncols = result.data.shape
        if ngroups <= 2:
            log.warning("Cannot apply jump detection when NGROUPS<=2; jump step will be skipped")
            result.meta.cal_step.jump = "SKIPPED"
            return result
        start = time.perf_counter()
        refs = load_references(self, result)
        exposure = result.meta.exposure
        try:
            params = params_from_step(
                self,
                group_time_s=exposure.group_time,
                nframes=_nframes(result),
                gain=refs.gain,
                groupgap=exposure.groupgap,
                read_times=getattr(exposure, "read_times", None),
            )
        except ValueError as exc:  # one line naming the parameter; BadInputError ends strun with it
            raise BadInputError(str(exc)) from exc
        workers = resolve_cores(self.maximum_cores)
        log.info("Jump search method: %s", params.method)
        log.info(*_threshold_message(params))
        log.info("Using %d thread(s)", workers)
        stats = detect_jumps_inplace(
            result.data,
            result.groupdq,
            result.pixeldq,
            gain=refs.gain,
            read_noise=refs.read_noise,
            params=params,
            max_workers=workers,
            record=self.save_jump_catalog,
        )
        _record_rates(result, stats)
        _log_outcome(stats, params, time.perf_counter() - start)
        if self.save_jump_catalog:
            self._save_catalog(result, stats, params, workers)
        result.meta.cal_step.jump = "COMPLETE"
        return result

    def run(self, *args):
        """stpipe's ``run``; a jump catalogue still being written is finished before it returns.

        When the step saves its product, the catalogue is written on a
        thread while stpipe writes the product (mostly waiting on the disk),
        not before it. An error of either is raised, the product's first.
        """
        self._catalog_writes = []
        try:
            result = super().run(*args)
        except BaseException:
            self._finish_catalog(raise_error=False)
            raise
        self._finish_catalog(raise_error=True)
        return result

    def _save_catalog(self, model, stats: JumpStats, params, workers: int) -> None:
        """Write ``<basename>_jumpcat.ecsv`` where the product goes (stpipe's output name rules)."""
        table = jump_catalog(stats.record, params=params, path=stats.plan.path, exposure=_exposure(model))
        # the base name stpipe's save_model gives the product
        basepath = self.output_file or None
        if self.output_use_model or (basepath is None and not self.search_output_file):
            basepath = model.meta.filename
        path = self.make_output_path(basepath=basepath, suffix=CATALOG_SUFFIX, ext="ecsv")
        write = partial(_write_catalog, table, path, workers)
        if self.save_results and self._catalog_writes is not None:  # run() saves the product, then waits
            pool = ThreadPoolExecutor(max_workers=1)
            self._catalog_writes.append(pool.submit(write))
            pool.shutdown(wait=False)  # its thread ends with the write
        else:
            write()

    def _finish_catalog(self, *, raise_error: bool) -> None:
        """Wait for the catalogue written on a thread (if any); raise its error, or log it."""
        for write in self._catalog_writes:
            try:
                write.result()
            except Exception as exc:
                if raise_error:
                    raise
                log.error("The jump catalogue was not written: %s", exc)
        self._catalog_writes = []

    def _open_ramp(self, step_input):
        name = os.fspath(step_input) if isinstance(step_input, str | os.PathLike) else "model"
        if name != "model":
            check_file(name)
        try:
            model = self.prepare_output(step_input, open_as_type=RampModel)
        except READ_ERRORS as exc:
            if name == "model":
                raise
            raise file_error(step_input, exc) from exc
        if model.data is None or model.data.ndim != 4:
            shape = None if model.data is None else model.data.shape
            raise BadInputError(
                f"input {name} is not a ramp: SCI has shape {shape}, expected 4-D (nints, ngroups, nrows, "
                "ncols); run the jump step on the output of refpix/linearity/dark_current"
            )
        check_not_empty(model, name)
        return model

    @classmethod
    def _get_crds_parameters(cls, dataset):
        """jwst's, with a one-line error naming the file when it cannot be read."""
        if isinstance(dataset, str | os.PathLike):
            check_file(dataset)
        try:
            return super()._get_crds_parameters(dataset)
        except READ_ERRORS as exc:
            if not isinstance(dataset, str | os.PathLike):
                raise
            raise file_error(dataset, exc) from exc

    @staticmethod
    def get_stpipe_loggers():
        """jwst's loggers plus ``jumpdet``, so stpipe shows this package's log lines."""
        return (*Step.get_stpipe_loggers(), "jumpdet")

    def default_suffix(self):
        """``jumpstep`` when run alone (whatever name CRDS parameters give); the step name in a pipeline."""
        return "jumpstep" if self.parent is None else super().default_suffix()


def _write_catalog(table, path, workers: int) -> None:
    write_catalog(table, path, max_workers=workers)
    log.info("Jump catalogue (%d flags set) saved in %s", len(table), path)


def _threshold_message(params):
    """The log line of the thresholds (format and arguments): per difference, or per ramp for likelihood."""
    if params.method == "likelihood":
        return (
            "Jump threshold: per ramp (one integration of one pixel), the false-positive rate of "
            "%g sigma with 4 or more usable differences, %g with 3, %g with 2, "
            "shared among the ramp's tests",
            *params.thresholds,
        )
    return (
        "Jump threshold: %g sigma for pixels with 4 or more usable differences, %g with 3, %g with 2",
        *params.thresholds,
    )


def _nframes(model) -> int:
    nframes = model.meta.exposure.nframes
    if not nframes or nframes < 1:
        raise BadInputError(
            f"meta.exposure.nframes is {nframes!r}; set NFRAMES (frames per group) in the input file"
        )
    return int(nframes)


def _exposure(model) -> dict:
    """What identifies the exposure in the catalogue's header."""
    meta = model.meta
    return {
        "filename": meta.filename,
        "instrument": meta.instrument.name,
        "detector": meta.instrument.detector,
        "exposure_type": meta.exposure.type,
        "shape_nints_ngroups_nrows_ncols": list(model.data.shape),
        "group_time_s": meta.exposure.group_time,
        "nframes": meta.exposure.nframes,
        "subarray": meta.subarray.name,
        "primary_cosmic_rays": meta.exposure.primary_cosmic_rays,
    }


def _record_rates(model, stats: JumpStats) -> None:
    """Set PRIMECRS and EXTNDEVT: flags per pixel per second of usable exposure, x1e3 and x1e6.

    As jwst: groups that are DO_NOT_USE everywhere *after* detection (snowball
    cores assigned SATURATED can clear DO_NOT_USE), and the first group of
    each integration, are not exposure. (The arithmetic order is jwst's, so
    the floats are identical.)
    """
    nints, ngroups, nrows, ncols = model.data.shape
    usable_groups = nints * ngroups - int(all_do_not_use_groups(model.groupdq).sum()) - nints
    if usable_groups < 1:
        return
    exposure = (model.meta.exposure.group_time * usable_groups) * (nrows * ncols)
    if stats.primary_jumps is not None:
        model.meta.exposure.primary_cosmic_rays = 1000 * stats.primary_jumps / exposure
    model.meta.exposure.extended_emission_events = 1e6 * stats.extended_events / exposure


_PATHS = {
    "sigma_clip": "sigma clipping of each group across integrations (minimum_sigclip_groups reached)",
    "single_pass": "one pass against each pixel's median difference (min_diffs_single_pass reached)",
    "iterative": "repeated passes, each flagging the largest outlier and testing the rest again (fewer "
    "usable differences than min_diffs_single_pass)",
    "likelihood": "the likelihood test (method='likelihood'): each ramp fitted with its full covariance, "
    "the best difference or pair of differences left out while it improves the fit enough",
}


def _log_outcome(stats: JumpStats, params, seconds: float) -> None:
    if stats.plan.path is None:
        log.warning("Jump search skipped: %s", stats.plan.skipped_reason)
    else:
        log.info(
            "Jump search by %s: %d jumps flagged, before neighbours and groups after jumps",
            _PATHS[stats.plan.path],
            stats.primary_jumps,
        )
    searches = [
        name for name, on in (("snowball", params.expand_large_events), ("shower", params.find_showers)) if on
    ]
    if searches:
        log.info("Large events found by the %s search: %d", " and ".join(searches), stats.extended_events)
    log.info("The execution time in seconds: %f", seconds)
