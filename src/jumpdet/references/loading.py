"""Gain and read-noise references, as 2-D arrays in stated units.

This is the one place where reference files meet the science frame:
the reference is found (CRDS or override path or in-memory model), opened
with its datamodel, cut to the science subarray exactly as jwst cuts it
(``jwst.lib.reffile_utils``), and returned as float32 arrays:
gain in electrons per DN; read noise in DN as READNOISE references give it,
the noise of the difference of two single-frame reads (CDS noise), which is
how jwst and the core use it (:func:`jumpdet.detect_jumps`).
"""

import logging
from dataclasses import dataclass

import numpy as np
from jwst.lib import reffile_utils
from stdatamodels.jwst.datamodels import GainModel, ReadnoiseModel

from ..errors import BadInputError, JumpdetError
from ..inputs import check_file, open_checked
from .crds_access import (
    CrdsUnavailableError,
    crds_problem,
    damaged_cache_message,
    translate_crds_exit,
    unavailable_message,
)
from .sanity import warn_meaningless_noise, warn_other_detector

__all__ = ["References", "load_references"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class References:
    """The two references for one exposure.

    Attributes
    ----------
    gain : (nrows, ncols) float32 ndarray, e/DN
    read_noise : (nrows, ncols) float32 ndarray, DN, CDS noise (see above)
    """

    gain: np.ndarray
    read_noise: np.ndarray


def reference_source(step, model, reftype: str):
    """Path or override model for ``reftype``; a clear error if none can be had."""
    override = step.get_ref_override(reftype)
    if override is None:
        problem = crds_problem()
        if problem is not None:
            raise CrdsUnavailableError(unavailable_message(problem))
    elif isinstance(override, str):
        check_file(override, role=f"override_{reftype}", datamodel=False)
    with translate_crds_exit(reftype):
        source = step.get_reference_file(model, reftype)
    if isinstance(source, str) and source.strip() in ("", "N/A"):
        raise BadInputError(
            f"no {reftype} reference applies to this exposure (CRDS returned {source!r}); "
            f"pass override_{reftype} with a {reftype} reference file"
        )
    log.info("Using %s reference file: %s", reftype.upper(), _name(source))
    return source


def load_references(step, model) -> References:
    """Open, cut to the science subarray, and return the gain and read-noise arrays."""
    gain_source = reference_source(step, model, "gain")
    readnoise_source = reference_source(step, model, "readnoise")
    with (
        _open(step, GainModel, gain_source, "gain") as gain_model,
        _open(step, ReadnoiseModel, readnoise_source, "readnoise") as readnoise_model,
    ):
        for reference, source, reftype in (
            (gain_model, gain_source, "gain"),
            (readnoise_model, readnoise_source, "readnoise"),
        ):
            warn_other_detector(model, reference, reftype, _name(source))
        gain = _science_cutout(model, gain_model, "gain")
        read_noise = _science_cutout(model, readnoise_model, "readnoise")
    warn_meaningless_noise(gain, read_noise)
    return References(gain=gain, read_noise=read_noise)


def _name(source) -> str:
    return str(getattr(source, "override_handle", source))


def _open(step, model_class, source, reftype: str):
    overridden = step.get_ref_override(reftype) is not None
    role = f"override_{reftype}" if overridden else f"CRDS {reftype} reference"
    expected = f"a {reftype} reference; pass a {reftype.upper()} reference file (REFTYPE={reftype.upper()})"
    try:
        return open_checked(model_class, source, role=role, expected=expected)
    except JumpdetError as exc:
        damaged = None if overridden else damaged_cache_message()
        if damaged is None:
            raise
        raise CrdsUnavailableError(damaged) from exc


def _science_cutout(model, reference, reftype: str) -> np.ndarray:
    """The reference's data over the science frame, native-endian float32."""
    try:
        if reffile_utils.ref_matches_sci(model, reference):
            data = reference.data
        else:
            log.info("Extracting %s subarray to match science data", reftype)
            data = reffile_utils.get_subarray_model(model, reference).data
    except (ValueError, AttributeError) as exc:
        raise BadInputError(
            f"cannot place the {reftype} reference on the science subarray ({exc}); the reference needs "
            "full-frame data or SUBSTRT1/2 and SUBSIZE1/2 keywords covering the exposure"
        ) from exc
    frame = model.data.shape[-2:]
    if data.shape != frame:
        raise BadInputError(
            f"{reftype} reference has shape {data.shape} but the science frame is {frame}; "
            f"use a {reftype} reference that covers the exposure's subarray"
        )
    # native float32 as it is (the core only reads it; a copy would cost a frame of
    # float32 per reference); FITS data, big-endian, are converted to a native copy
    return np.asarray(data, dtype=np.float32)
