"""Is CRDS usable here, and a clear error when it is not.

CRDS reports a missing cache and an unreachable server by logging a FATAL
line and calling ``sys.exit(-1)``, which ``except Exception`` does not catch
and which would end a notebook's kernel. jumpdet checks first: CRDS can work
if its cache configuration exists under CRDS_PATH, or if a real (not
"serverless") server is configured. Only in the second case is CRDS called
without certainty, and its SystemExit is then turned into
:class:`CrdsUnavailableError`.
"""

import os
from contextlib import contextmanager

__all__ = ["CrdsUnavailableError", "crds_problem", "translate_crds_exit"]

FIX = (
    "build an offline cache with `jumpdet crds-cache DIR` and export the variables it prints, "
    "or pass override_gain and override_readnoise"
)


class CrdsUnavailableError(RuntimeError):
    """CRDS has neither a local cache nor a reachable server."""


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
def translate_crds_exit():
    """Turn CRDS's fatal ``sys.exit`` into :class:`CrdsUnavailableError`."""
    try:
        yield
    except SystemExit as exc:
        raise CrdsUnavailableError(
            unavailable_message(f"CRDS could not load its cache or reach {_server_url()}")
        ) from exc
