"""Workers that start warm: forked from one process that has paid the start-up once.

A worker spawned afresh imports jwst and jumpdet, reads asdf's extensions and
loads the kernels from numba's disk cache before its first file: 5 to 10 s of
CPU, paid again by every worker (and every restarted one) of every batch. On
POSIX systems :func:`start_warm_server` starts multiprocessing's *forkserver*
with :mod:`jumpdet.batch._preload` as its preload: that single process imports
everything and runs the step once on two small files (:func:`warm_up`) while
the client checks the inputs and options; inside :func:`forked_workers` a
LocalCluster's worker processes are forked from it, already warm.

A forked worker has the forkserver's environment, taken when it started, and
CRDS reads its settings once per process. So workers are forked only while the
client's CRDS variables are those the server started with; otherwise they are
spawned as before (and pay the start-up themselves).
"""

import gc
import logging
import multiprocessing
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

from .exposure import crds_environment

__all__ = ["PRELOAD", "WARM_UP_VARIABLE", "forked_workers", "start_warm_server", "warm_up"]

#: The module the forkserver imports first; importing it there runs :func:`warm_up`.
PRELOAD = "jumpdet.batch._preload"
#: Set to "1" in the forkserver's environment only, so that importing :data:`PRELOAD` elsewhere does nothing.
WARM_UP_VARIABLE = "JUMPDET_WARM_UP_FORKSERVER"

# the CRDS variables the forkserver started with; None until this process started it
_server_environment: dict | None = None


def start_warm_server(pipeline: bool = False) -> bool:
    """Start warming the forkserver now, if this platform has one; it warms up in the background.

    Parameters
    ----------
    pipeline : bool
        Also import ``jumpdet.Detector1Pipeline`` and jwst's steps there (only
        when this call starts the server).

    Returns
    -------
    bool
        True if LocalCluster workers can be forked from it: a forkserver exists
        here and it started with this process's current CRDS variables.
    """
    global _server_environment
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    if _server_environment is None:
        from multiprocessing import forkserver

        # what a Dask nanny sets before it spawns a worker must be there when the server starts
        os.environ.update(_pre_spawn_environment())
        modules = [PRELOAD, "jumpdet.pipeline"] if pipeline else [PRELOAD]
        multiprocessing.get_context("forkserver").set_forkserver_preload(modules)
        os.environ[WARM_UP_VARIABLE] = "1"  # the server takes this process's environment when it starts
        try:
            forkserver.ensure_running()
        finally:
            del os.environ[WARM_UP_VARIABLE]
        _server_environment = crds_environment()
    return _server_environment == crds_environment()


@contextmanager
def forked_workers(pipeline: bool = False):
    """Within this block, LocalCluster worker processes (and restarted ones) are forked warm.

    Falls back to Dask's default (spawned workers) where :func:`start_warm_server`
    returns False.
    """
    if not start_warm_server(pipeline):
        yield
        return
    import dask

    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        yield


def _pre_spawn_environment() -> dict[str, str]:
    """``distributed.nanny.pre-spawn-environ``: thread counts and malloc settings Dask gives workers."""
    import dask
    import distributed  # noqa: F401  (registers distributed's configuration defaults)

    configured = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    return {key: str(value) for key, value in configured.items() if value is not None}


def warm_up() -> None:
    """Pay here, once, what a worker pays before its first file; never raises.

    Imports jwst and the step, reads asdf's extensions and the datamodel
    schemas, and loads the kernels of both two-point searches (fewer than 10
    differences: iterative; 10 or more: single pass) by running the step on two
    small FITS files (16x512 pixels, several tiles and row blocks as in a full
    frame) with override references (no CRDS). Then freezes the
    garbage collector's view of these objects (:func:`gc.freeze`): stpipe
    calls ``gc.collect()`` before every step, and with jwst imported a full
    collection walks hundreds of thousands of objects (0.15-0.35 s a file).
    A warm-up that fails leaves the kernels to the first file.
    """
    try:
        with _silent(), tempfile.TemporaryDirectory(prefix="jumpdet-warm-") as folder:
            for ngroups in (6, 12):
                _run_step_once(Path(folder), ngroups)
    except Exception:  # an optimisation only: a worker forked cold warms on its first file
        pass
    gc.collect()
    gc.freeze()


def _run_step_once(folder: Path, ngroups: int) -> None:
    from ..simulate.ramps import simulate_ramp, to_ramp_model, to_reference_models
    from ..step import JumpStep

    # several search tiles and row blocks, as in a full frame: the kernels then meet the
    # same array layouts (a block of rows is a non-contiguous view of GROUPDQ)
    sim = simulate_ramp((1, ngroups, 16, 512), seed=0, jump_fraction=0.05)
    path = folder / f"warm{ngroups}_refpix.fits"
    with to_ramp_model(sim) as model:
        model.save(path)
    gain, read_noise = to_reference_models(sim.gain, sim.read_noise)
    step = JumpStep(
        override_gain=gain, override_readnoise=read_noise, output_dir=str(folder), save_results=True
    )
    step.run(str(path)).close()


@contextmanager
def _silent():
    """No log lines or warnings from the warm-up: its small files are nobody's data."""
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)
