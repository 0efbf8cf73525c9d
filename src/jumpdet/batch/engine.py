"""Many files on Dask distributed: a LocalCluster of worker processes, or the user's cluster.

The client sends one task per file (paths and parameters only; the largest
files first), keeps at most one task per worker thread in flight, so memory
per worker is one exposure per thread and a dying worker takes no queued files
with it, and collects the results in the order they finish. LocalCluster
workers are forked warm (:mod:`jumpdet.batch.warm`). A worker that dies during
a file (killed, or over its memory limit) is restarted by its nanny; the client
then sends the file once more, and reports a second death for that file.
(Dask's own retry, the scheduler's ``allowed-failures``, is 0 on jumpdet's
LocalCluster, because a task the scheduler re-queues may wait on a busy worker
and be blamed for its death.)
"""

import glob
import os
import time
from collections import Counter, deque
from contextlib import contextmanager
from pathlib import Path

from .exposure import FAILED, ExposureResult, ExposureTask, crds_environment, one_line, process_exposure
from .parameters import checked_parameters, step_class
from .progress import make_progress
from .report import BatchReport
from .warm import forked_workers, start_warm_server

__all__ = [
    "RETRIES_AFTER_A_WORKER_DIES",
    "describe_cluster",
    "input_files",
    "largest_first",
    "local_cluster",
    "run_exposures",
]

# a file whose worker dies is sent once more
RETRIES_AFTER_A_WORKER_DIES = 1
_DIED = (
    "the worker died while processing this file, twice (killed, or over its memory limit: "
    "give fewer threads per worker or a larger --memory-limit)"
)


def run_exposures(
    paths,
    *,
    client=None,
    pipeline: bool = False,
    resume: bool = False,
    fsync: bool = False,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    memory_limit: str | float | None = "auto",
    progress: str = "auto",
    report=None,
    **step_parameters,
) -> BatchReport:
    """Run jumpdet's JumpStep (or Detector1Pipeline) on each file with Dask; return the report.

    Parameters
    ----------
    paths : iterable of str or path
        Files or glob patterns (``"data/*_refpix.fits"``), in the order to report them.
    client : `distributed.Client` or str, optional
        A client of an existing cluster, or its scheduler's address (``"tcp://host:8786"``).
        By default a LocalCluster of ``n_workers`` processes is started and closed.
    pipeline : bool
        Run ``jumpdet.Detector1Pipeline`` (``steps={...}`` for its steps) instead of the step.
    resume : bool
        Skip the files whose product already exists and opens.
    fsync : bool
        Flush each product to disk before renaming it into place. Off by
        default: a product is whole or absent after a killed worker or an
        interrupted batch either way; only after a power loss or a system
        crash can a product without it be truncated, and ``resume`` then
        makes it again (it does not open).
    n_workers : int, optional
        LocalCluster worker processes; default: the machine's cores // ``threads_per_worker``.
    threads_per_worker : int
        Files a LocalCluster worker runs at once (each holds one exposure in memory).
    memory_limit : str or float or None
        Per LocalCluster worker, as Dask takes it (``"6GB"``; ``"auto"``: the machine's
        memory shared by the workers); a worker above it is restarted.
    progress : {"auto", "bar", "lines", "none"}
        ``"auto"``: a bar when stderr is a terminal, else one line per file.
    report : str or path, optional
        Also write the report there as ECSV.
    **step_parameters
        As for ``JumpStep.call``: step options, ``output_dir`` (default: the current
        folder), ``config_file`` (a .cfg/.asdf parameter file), ``steps`` for the pipeline.

    Returns
    -------
    BatchReport
        One :class:`ExposureResult` per file, in the order given.

    Raises
    ------
    ValueError
        Before anything runs, in one line: no file for a pattern, two files that
        would share a product, or options the step does not accept.
    CrdsUnavailableError
        On a LocalCluster, when CRDS cannot work here and no override references are given.
    """
    files = input_files(paths)
    if client is None:
        start_warm_server(pipeline)  # warms up while the options are checked here
    parameters = checked_parameters(step_parameters, pipeline=pipeline)
    _refuse_shared_products(files, pipeline)
    if client is None:
        _check_crds_here(parameters)
    shared = {"pipeline": pipeline, "parameters": parameters, "resume": resume, "fsync": fsync}
    environment = crds_environment()
    tasks = [ExposureTask(path=f, environment=environment, **shared) for f in files]
    display = make_progress(progress)
    start = time.perf_counter()
    with _connected(client, n_workers, threads_per_worker, memory_limit, pipeline) as dask_client:
        display.start(len(tasks), describe_cluster(dask_client))
        try:
            results = _collect(dask_client, tasks, display)
        finally:
            display.close()
    batch = BatchReport(tuple(results), seconds=time.perf_counter() - start)
    if report is not None:
        batch.write(report)
    return batch


def input_files(paths) -> list[str]:
    """Absolute paths: patterns expanded (sorted), duplicates dropped, order kept.

    A name that is not an existing file and contains ``*``, ``?`` or ``[`` is a
    pattern, and must match at least one file.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    files: dict[str, None] = {}
    for item in map(str, paths):
        if glob.has_magic(item) and not Path(item).exists():
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise ValueError(f"no file matches {item!r}; check the pattern and the current folder")
        else:
            matches = [item]
        files.update((str(Path(match).expanduser().resolve()), None) for match in matches)
    if not files:
        raise ValueError("no input files given")
    return list(files)


def describe_cluster(client) -> str:
    """``2 workers x 1 thread, memory limit 11.2 GiB per worker``, as the scheduler reports it."""
    threads = sorted(set(client.nthreads().values()))
    if not threads:
        return f"the cluster at {client.scheduler.address} (no workers yet)"
    # a sample of the workers (all of them on a LocalCluster)
    limits = sorted({w.get("memory_limit") or 0 for w in client.scheduler_info()["workers"].values()})
    memory = "no memory limit" if limits == [0] else f"memory limit {limits[0] / 2**30:.1f} GiB per worker"
    plural = "s" if threads[-1] > 1 else ""
    return f"{len(client.nthreads())} workers x {'-'.join(map(str, threads))} thread{plural}, {memory}"


def _refuse_shared_products(files: list[str], pipeline: bool) -> None:
    """Two inputs named alike (``a_refpix.fits``, ``b/a_refpix.fits``) would overwrite one product."""
    remove_suffix = step_class(pipeline)().remove_suffix  # the step's own naming
    seen: dict[str, str] = {}
    for path in files:
        stem = remove_suffix(Path(path).stem)[0]
        if stem in seen:
            raise ValueError(
                f"{seen[stem]} and {path} would write the same product ({stem}_...) in the output "
                "folder; run them separately with different --output-dir"
            )
        seen[stem] = path


def _check_crds_here(parameters: dict) -> None:
    """Local workers see this process's CRDS: if it cannot work, stop now rather than per file."""
    if {"override_gain", "override_readnoise"} <= parameters.keys():
        return
    from ..references.crds_access import CrdsUnavailableError, crds_problem, unavailable_message

    problem = crds_problem()
    if problem is not None:
        raise CrdsUnavailableError(unavailable_message(problem))


@contextmanager
def _connected(client, n_workers, threads_per_worker, memory_limit, pipeline):
    """The user's client as it is, a client of the given scheduler, or a LocalCluster of warm processes."""
    from distributed import Client

    if client is not None and not isinstance(client, str):
        yield client
        return
    if isinstance(client, str):
        with Client(client) as connected:
            yield connected
        return
    with (
        forked_workers(pipeline),
        local_cluster(n_workers, threads_per_worker, memory_limit) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


def local_cluster(n_workers: int | None = None, threads_per_worker: int = 1, memory_limit="auto"):
    """The LocalCluster ``run_exposures`` starts: worker processes, no retries by the scheduler.

    Parameters
    ----------
    n_workers : int, optional
        Worker processes; default: the machine's cores // ``threads_per_worker``.
    threads_per_worker : int
        Files each worker runs at once.
    memory_limit : str or float or None
        Per worker, as Dask takes it (``"6GB"``, ``"auto"``: the machine's memory shared).

    Returns
    -------
    `distributed.LocalCluster`
        Without a dashboard; close it (or use it in ``with``) when done.
    """
    import dask
    from distributed import LocalCluster

    if threads_per_worker < 1 or (n_workers is not None and n_workers < 1):
        raise ValueError(
            f"need at least one worker and one thread, got workers={n_workers}, threads={threads_per_worker}"
        )
    if n_workers is None:
        n_workers = max(1, dask.system.CPU_COUNT // threads_per_worker)
    # the scheduler runs in this process and reads its configuration when created;
    # a task whose worker dies fails at once and run_exposures decides about the retry
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=None,
        )


def largest_first(tasks: list[ExposureTask]) -> list[int]:
    """Indices of ``tasks`` by input size, largest first (given order among equals; unreadable last).

    Sent in this order, a batch does not end with one worker on a large
    exposure while the others have nothing left to do.
    """

    def size(index: int) -> int:
        try:
            return os.path.getsize(tasks[index].path)
        except OSError:  # missing: it fails on its worker, with its reason
            return -1

    return sorted(range(len(tasks)), key=lambda index: -size(index))


def _collect(client, tasks: list[ExposureTask], display) -> list[ExposureResult]:
    """Submit as threads free up (largest first), retry a file once if its worker died.

    Returns the results in the order of ``tasks``.
    """
    from distributed import as_completed

    waiting = deque(largest_first(tasks))
    running = as_completed()
    index_of = {}
    deaths: Counter = Counter()
    results: dict[int, ExposureResult] = {}

    def refill():
        capacity = max(1, sum(client.nthreads().values()))
        while waiting and running.count() < capacity:
            index = waiting.popleft()
            future = client.submit(process_exposure, tasks[index], pure=False)
            index_of[future.key] = index
            running.add(future)

    refill()
    for future in running:
        index = index_of.pop(future.key)
        result = _result_of(future, tasks[index])
        future.release()
        if result is None:
            deaths[index] += 1
            if deaths[index] <= RETRIES_AFTER_A_WORKER_DIES:
                waiting.appendleft(index)
                refill()
                continue
            result = ExposureResult(file=tasks[index].path, status=FAILED, reason=_DIED)
        results[index] = result
        display.update(result)
        refill()
    return [results[index] for index in range(len(tasks))]


def _result_of(future, task: ExposureTask) -> ExposureResult | None:
    """The task's result; None if its worker died."""
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        return None
    except Exception as exc:  # the task could not run at all (e.g. lost connection)
        return ExposureResult(file=task.path, status=FAILED, reason=one_line(exc))
