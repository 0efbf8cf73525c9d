"""Warnings for references that run but mislead: another detector, or a meaningless noise model.

jwst accepts both without a word and so does the detection (the flags stay
jwst's); the user gets one warning line that says what was found and what it means.
"""

import logging

import numpy as np

__all__ = ["warn_meaningless_noise", "warn_other_detector"]

log = logging.getLogger(__name__)


def _label(meta) -> str:
    return " ".join(str(v) for v in (meta.instrument.name, meta.instrument.detector) if v) or "unknown"


def warn_other_detector(model, reference, reftype: str, name: str) -> bool:
    """Warn if `reference` names another instrument or detector than `model`; return True if so.

    A reference without instrument or detector keywords is not judged.
    """
    ref, sci = reference.meta.instrument, model.meta.instrument
    differs = [
        (getattr(ref, key), getattr(sci, key))
        for key in ("name", "detector")
        if getattr(ref, key, None) and getattr(sci, key, None)
    ]
    if not any(str(r).upper() != str(s).upper() for r, s in differs):
        return False
    log.warning(
        "The %s reference %s is for %s but the data are %s; it is used as given: pass a %s reference "
        "for %s (override_%s) if this is not intended",
        reftype,
        name,
        _label(reference.meta),
        _label(model.meta),
        reftype,
        _label(model.meta),
        reftype,
    )
    return True


def warn_meaningless_noise(gain: np.ndarray, read_noise: np.ndarray) -> tuple[int, int]:
    """Warn about pixels whose noise model cannot mean anything; return (read-noise pixels, gain pixels).

    Read noise that is 0, negative, NaN or infinite, and infinite gain, give a
    jump threshold of 0, NaN or infinity: jwst then flags (almost) every
    difference or none. The flags stay jwst's; one warning per case says how
    many pixels and what it means. (Gain <= 0 or NaN is already flagged
    NO_GAIN_VALUE | DO_NOT_USE in PIXELDQ, as jwst does.)
    """
    bad_noise = int(np.count_nonzero(~(read_noise > 0) | ~np.isfinite(read_noise)))
    bad_gain = int(np.count_nonzero(np.isinf(gain)))
    total = read_noise.size
    if bad_noise:
        log.warning(
            "Read noise is 0, negative, NaN or infinite in %d of %d pixels: there the noise model is "
            "meaningless and the jump flags (jwst's) are not to be trusted (too many or none); "
            "check the readnoise reference",
            bad_noise,
            total,
        )
    if bad_gain:
        log.warning(
            "Gain is infinite in %d of %d pixels: there the noise model is meaningless and the jump "
            "flags (jwst's) are not to be trusted; check the gain reference",
            bad_gain,
            total,
        )
    return bad_noise, bad_gain
