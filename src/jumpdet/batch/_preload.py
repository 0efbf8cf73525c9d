"""Imported by the forkserver of :mod:`jumpdet.batch.warm` as its preload: warms that process up.

multiprocessing's forkserver can only import modules before it forks
workers, so importing this one runs :func:`jumpdet.batch.warm.warm_up`, but
only in that server: :func:`~jumpdet.batch.warm.start_warm_server` starts it
with :data:`~jumpdet.batch.warm.WARM_UP_VARIABLE` set. Imported anywhere else
(the API documentation), it does nothing.
"""

import os

from .warm import WARM_UP_VARIABLE, warm_up

if os.environ.get(WARM_UP_VARIABLE) == "1":
    warm_up()
