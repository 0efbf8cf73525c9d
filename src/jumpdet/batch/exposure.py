"""One exposure on a worker: run the step (or pipeline) on a file, return a small result.

This is the only code that runs on the workers. It receives paths and
parameters (an :class:`ExposureTask`), never data; it builds the step exactly
as ``Step.call`` does (CRDS step parameters for this file, then the parameter
file, then the options), saves the product under the step's own name, and
returns an :class:`ExposureResult`. Every failure of the file is caught and
returned as one line, so one bad file never stops the others.
"""

import glob
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .parameters import step_class

__all__ = ["CRDS_VARIABLES", "ExposureResult", "ExposureTask", "crds_environment", "process_exposure"]

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
NO_COUNT = -1
# where CRDS finds references, and whether stpipe asks it for step parameters (crds writes
# its other settings' defaults into os.environ when imported, so those are not compared)
CRDS_VARIABLES = (
    "CRDS_PATH",
    "CRDS_SERVER_URL",
    "CRDS_CONTEXT",
    "CRDS_READONLY_CACHE",
    "CRDS_MAPPATH",
    "CRDS_REFPATH",
    "CRDS_CFGPATH",
    "STPIPE_DISABLE_CRDS_STEPPARS",
)


@dataclass(frozen=True, kw_only=True)
class ExposureTask:
    """What a worker needs for one file: paths and parameters only.

    Attributes
    ----------
    path : str
        Absolute path of the input exposure.
    pipeline : bool
        Run ``jumpdet.Detector1Pipeline`` instead of ``jumpdet.JumpStep``.
    parameters : dict
        Keyword arguments as for ``Step.call`` (``output_dir`` absolute; may hold
        ``config_file`` and, for the pipeline, ``steps``).
    resume : bool
        Skip the file if its product exists and opens.
    environment : dict
        The client's CRDS variables (:data:`CRDS_VARIABLES`).
    fsync : bool
        Flush each product to disk before renaming it into place
        (:attr:`jumpdet.saving.AtomicSaveMixin.fsync_products`).
    """

    path: str
    pipeline: bool = False
    parameters: dict = field(default_factory=dict)
    resume: bool = False
    environment: dict = field(default_factory=dict)
    fsync: bool = True


@dataclass(frozen=True, kw_only=True)
class ExposureResult:
    """The outcome for one file: a row of the report.

    Attributes
    ----------
    file : str
        The input path.
    status : str
        ``"ok"``, ``"failed"`` or ``"skipped"`` (``resume`` found the product).
    seconds : float
        Wall time on the worker, s (0 when the worker died).
    jumps : int
        JUMP_DET flags the run added: GROUPDQ values newly flagged in a ramp
        product (the step, or the pipeline with ramp_fit skipped), or pixels with
        JUMP_DET in a rate product's DQ; -1 when not counted (failed, skipped).
    output : str
        The product's path ('' when failed).
    reason : str
        One line saying why the file failed ('' otherwise).
    """

    file: str
    status: str
    seconds: float = 0.0
    jumps: int = NO_COUNT
    output: str = ""
    reason: str = ""


def crds_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of :data:`CRDS_VARIABLES` that are set (in ``os.environ`` by default)."""
    environ = os.environ if environ is None else environ
    return {key: environ[key] for key in CRDS_VARIABLES if key in environ}


def process_exposure(task: ExposureTask) -> ExposureResult:
    """Run one file on this worker; never raises for a problem of the file.

    Parameters
    ----------
    task : ExposureTask

    Returns
    -------
    ExposureResult
        ``"ok"`` with the product written, ``"skipped"`` when ``task.resume`` found
        it already, or ``"failed"`` with the reason in one line.
    """
    start = time.perf_counter()
    try:
        result = _run(task)
    except (Exception, SystemExit) as exc:  # CRDS exits on a fatal configuration error
        result = ExposureResult(file=task.path, status=FAILED, reason=one_line(exc))
    return replace(result, seconds=time.perf_counter() - start)


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message``, at most ``limit`` characters."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _run(task: ExposureTask) -> ExposureResult:
    adopt_environment(task.environment)
    step = _configured_step(task)
    expected = _product_path(step)
    if task.resume and _opens(expected):
        return ExposureResult(file=task.path, status=SKIPPED, output=str(expected))
    step.fsync_products = task.fsync
    product = step.run(task.path)
    try:
        jumps = _added_jumps(product, task.path)
    finally:
        product.close()
    output = Path(step.make_output_path())
    _remove_leftover_parts(output)
    return ExposureResult(file=task.path, status=OK, jumps=jumps, output=str(output))


def adopt_environment(environment: Mapping[str, str]) -> None:
    """Give this worker the client's CRDS variables, before CRDS is first imported here.

    CRDS reads its configuration once per process, so a worker that already
    used CRDS with other settings cannot switch: that is an error naming both.
    """
    differing = {key: value for key, value in environment.items() if os.environ.get(key) != value}
    if not differing:
        return
    if "crds" in sys.modules:
        key = sorted(differing)[0]
        raise RuntimeError(
            f"this worker already uses CRDS with {key}={os.environ.get(key)!r} but the client has "
            f"{differing[key]!r}; start the workers with the client's CRDS variables"
        )
    os.environ.update(differing)


def _configured_step(task: ExposureTask):
    """The step as ``Step.call(path, **parameters)`` builds it: CRDS parameters, file, options."""
    cls = step_class(task.pipeline)
    config, config_file = cls.build_config(task.path, save_results=True, **task.parameters)
    step = cls.from_config_section(config, name=config.get("name"), config_file=config_file)
    step.set_primary_input(task.path)
    return step


def _product_path(step) -> Path:
    """Where ``step.run`` will save its product, named as stpipe names it."""
    suffix = step.suffix
    if suffix is None:
        suffix = _pipeline_suffix(step) if hasattr(step, "ramp_fit") else step.default_suffix()
    return Path(step.make_output_path(suffix=suffix))


def _pipeline_suffix(pipeline) -> str:
    """calwebb_detector1 names its product ``rate``, or ``ramp`` when ramp fitting is skipped."""
    return "ramp" if pipeline.ramp_fit.skip else "rate"


def _remove_leftover_parts(product: Path) -> None:
    """Temporary files an earlier attempt left when its worker was killed while saving this product.

    Products are written as ``.<name>.<random>.part`` and renamed into place
    (:mod:`jumpdet.saving`); a batch owns its product names, so once the product
    is saved any such file is a dead attempt's.
    """
    for part in product.parent.glob(f".{glob.escape(product.name)}.*.part"):
        part.unlink(missing_ok=True)


def _opens(path: Path) -> bool:
    """True if ``path`` is a whole datamodel file (not truncated, not foreign) that opens."""
    from stdatamodels.jwst import datamodels

    from ..inputs import check_file

    try:
        check_file(path, role="product")
        with datamodels.open(path):
            return True
    except Exception:  # any unreadable product is made again
        return False


def _added_jumps(product, input_path: str) -> int:
    """JUMP_DET flags in the product that the input did not have (see :class:`ExposureResult`).

    The step only sets JUMP_DET (it ORs flags in), so the flags added are the
    product's count less the input's.
    """
    from ..flags import JUMP_DET

    if getattr(product, "groupdq", None) is not None and product.groupdq.ndim == 4:
        return _count_flag(product.groupdq, JUMP_DET) - _input_flag_count(input_path, JUMP_DET)
    if getattr(product, "dq", None) is not None:
        return _count_flag(product.dq, JUMP_DET)
    return NO_COUNT


def _count_flag(dq, flag: int) -> int:
    import numpy as np

    return int(np.count_nonzero(np.bitwise_and(dq, flag)))


def _input_flag_count(path: str, flag: int) -> int:
    """GROUPDQ values of the input file with ``flag`` set (0 without GROUPDQ).

    Memory-mapped: counted in the page cache, without a copy of the array.
    """
    from astropy.io import fits

    with fits.open(path, memmap=True) as hdul:
        if "GROUPDQ" not in hdul:
            return 0
        groupdq = hdul["GROUPDQ"].data
        count = _count_flag(groupdq, flag)
        del groupdq  # the map closes with the file
        return count
