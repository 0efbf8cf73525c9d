"""Is CRDS usable here, and a clear error when it is not.

CRDS reports a missing cache and an unreachable server by logging a FATAL
line and calling ``sys.exit(-1)``, which ``except Exception`` does not catch
and which would end a notebook's kernel. jumpdet checks first: CRDS can work
if its cache configuration exists under CRDS_PATH, or if a real (not
"serverless") server is configured. Only in the second case is CRDS called
without certainty, and its SystemExit is then turned into
:class:`CrdsUnavailableError`.
"""

import logging
import os
from contextlib import contextmanager
from functools import partial

from ..errors import CrdsUnavailableError

__all__ = [
    "CrdsOptionalMixin",
    "CrdsUnavailableError",
    "crds_problem",
    "damaged_cache_message",
    "make_crds_optional",
    "translate_crds_exit",
]

log = logging.getLogger(__name__)

FIX = (
    "build an offline cache with `jumpdet crds-cache DIR` and export the variables it prints, "
    "or pass both override_gain and override_readnoise "
    "(strun: --override_gain FILE --override_readnoise FILE)"
)


def _server_url() -> str:
    from crds.client import api

    return api.get_crds_server()


def crds_problem() -> str | None:
    """Why CRDS cannot work here, or None if it may.

    Returns None when the cache configuration exists under CRDS_PATH (CRDS
    then works offline) or when a real server URL is configured (CRDS may
    reach it; failures are translated by :func:`translate_crds_exit`).
    """
    from crds.core import config

    server_config = config.locate_config("server_config", "jwst")
    if os.path.exists(server_config):
        return None
    url = _server_url()
    if "serverless" not in url:
        return None
    crds_path = os.environ.get("CRDS_PATH", "(unset, so /grp/crds/cache)")
    return (
        f"no CRDS cache at CRDS_PATH={crds_path} ({server_config} is missing) and no CRDS server configured"
    )


def unavailable_message(detail: str) -> str:
    """One line: what is wrong and how to fix it."""
    return f"CRDS is not available: {detail}; {FIX}."


@contextmanager
def translate_crds_exit(reftype: str | None = None):
    """Turn CRDS's fatal ``sys.exit`` (and, for `reftype`, its errors) into :class:`CrdsUnavailableError`."""
    from crds.core.exceptions import CrdsError

    try:
        yield
    except CrdsError as exc:
        if reftype is None:
            raise
        raise CrdsUnavailableError(_lookup_failed(reftype, exc)) from exc
    except SystemExit as exc:
        raise CrdsUnavailableError(
            unavailable_message(f"CRDS could not load its cache or reach {_server_url()}")
        ) from exc


def damaged_cache_message() -> str | None:
    """One line if CRDS_PATH is a jumpdet cache with missing or changed files, else None."""
    from .crds_cache import damaged_files, is_jumpdet_cache

    crds_path = os.environ.get("CRDS_PATH", "")
    damaged = damaged_files(crds_path) if crds_path and is_jumpdet_cache(crds_path) else []
    if not damaged:
        return None
    return (
        f"the jumpdet CRDS cache at CRDS_PATH={crds_path} is damaged (missing or changed: "
        f"{', '.join(damaged)}); repair it with `jumpdet crds-cache {crds_path}`"
    )


def _lookup_failed(reftype: str, exc: BaseException) -> str:
    damaged = damaged_cache_message()
    if damaged is not None:
        return damaged
    crds_path = os.environ.get("CRDS_PATH", "(unset)")
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"CRDS could not give the {reftype} reference from the cache at CRDS_PATH={crds_path} "
        f"({type(exc).__name__}: {detail[:200]}); for a cache built by jumpdet, add the detector with "
        f"`jumpdet crds-cache {crds_path} --detectors ...`; or pass override_{reftype}"
    )


class CrdsOptionalMixin:
    """For stpipe ``Step``/``Pipeline`` subclasses: run without CRDS when every reference is overridden.

    jwst asks CRDS for step parameters, prefetches references and records the
    CRDS context even when no reference comes from CRDS; without a cache CRDS
    then exits. Where CRDS cannot work (:func:`crds_problem`), these are
    skipped: no CRDS parameters, no prefetch, the override files recorded and
    no context. A reference that is needed and not overridden still gives
    :class:`CrdsUnavailableError`.
    """

    @classmethod
    def get_config_from_reference(cls, dataset, disable=None, crds_observatory=None):
        """CRDS step parameters, skipped quietly when CRDS cannot work here."""
        if not disable and crds_problem() is not None:
            log.debug("CRDS unavailable; no step parameters taken from CRDS")
            return cls._empty_config()
        with translate_crds_exit():
            return super().get_config_from_reference(
                dataset, disable=disable, crds_observatory=crds_observatory
            )

    def _precache_references(self, input_file):
        if crds_problem() is None:
            with translate_crds_exit():
                super()._precache_references(input_file)

    def finalize_result(self, result, reference_files_used):
        """Record versions and references; the CRDS context only when CRDS can tell it."""
        _finalize(self, super().finalize_result, result, reference_files_used)


def _finalize(step, finalize_result, result, reference_files_used):
    if crds_problem() is None:
        finalize_result(result, reference_files_used)
        return
    from jwst.stpipe.core import JwstStep

    # jwst would exit asking CRDS for its context; versions and logs, the files, no context.
    JwstStep.finalize_result(step, result, [])
    for ref_name, filename in reference_files_used:
        if hasattr(result.meta.ref_file, ref_name):
            getattr(result.meta.ref_file, ref_name).name = filename
    if step.parent is None:
        log.warning("CRDS is not configured; no CRDS context recorded")


def make_crds_optional(step) -> None:
    """Give one step instance (a jwst step in a jumpdet pipeline) :class:`CrdsOptionalMixin`'s finalize."""
    if not isinstance(step, CrdsOptionalMixin):
        step.finalize_result = partial(_finalize, step, step.finalize_result)
