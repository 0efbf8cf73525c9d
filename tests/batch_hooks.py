"""stpipe post-hooks that kill the worker process running a file, for the batch tests.

They run inside the step, after detection and before the product is saved, in
a Dask worker process: ``os.kill(getpid(), SIGKILL)`` ends that process as the
kernel would end it out of memory. Attempts are counted with marker files in a
folder that the test process chooses at import and the workers inherit.
"""

import os
import signal
import tempfile
from pathlib import Path

MARKERS = Path(os.environ.setdefault("JUMPDET_TEST_KILL_MARKERS", tempfile.mkdtemp(prefix="jumpdet-kills-")))


def attempts(filename: str) -> int:
    """How many times a hook has seen ``filename`` (the input's base name)."""
    return len(list(MARKERS.glob(f"{filename}.*")))


def _count_attempt(model) -> int:
    seen = attempts(model.meta.filename)
    (MARKERS / f"{model.meta.filename}.{seen}").touch()
    return seen + 1


def kill_worker_on_first_attempt(model):
    """SIGKILL this worker the first time a file reaches the hook; pass it the second time."""
    if _count_attempt(model) == 1:
        os.kill(os.getpid(), signal.SIGKILL)


def kill_worker_if_doomed(model):
    """SIGKILL this worker every time for files whose name starts with ``doomed``."""
    _count_attempt(model)
    if model.meta.filename.startswith("doomed"):
        os.kill(os.getpid(), signal.SIGKILL)
