"""Many exposures: :func:`~jumpdet.batch.run_exposures` runs jumpdet's step (or pipeline) on files with Dask.

- :mod:`jumpdet.batch.engine`: the client side; a LocalCluster or the user's
  cluster, one task per file, at most one file per worker thread at a time;
- :mod:`jumpdet.batch.exposure`: the worker side; one file in, one
  :class:`ExposureResult` out, every failure caught and stated in one line;
- :mod:`jumpdet.batch.parameters`: step options checked on the client by stpipe;
- :mod:`jumpdet.batch.report`: the report and its ECSV file;
- :mod:`jumpdet.batch.progress`: a bar on a terminal, a line per file otherwise.

Only paths and parameters travel to the workers; each worker opens its file,
runs the step as ``Step.call`` would, and writes the product itself.
"""

from .engine import local_cluster, run_exposures
from .exposure import ExposureResult
from .report import BatchReport

__all__ = ["BatchReport", "ExposureResult", "local_cluster", "run_exposures"]
