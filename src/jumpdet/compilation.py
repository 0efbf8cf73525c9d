"""How the core's kernels are compiled: one decorator with the options they all share.

Every compiled function of jumpdet is declared with :func:`kernel`, so the
options live here once: the kernels release the GIL (tiles and planes run on
threads) and are cached on disk by numba after their first compilation
(in ``NUMBA_CACHE_DIR`` if set, else in ``__pycache__`` next to the sources).
:func:`announcing_compilation` tells a caller when numba is about to compile,
which happens only when its cache lacks a kernel.

One rule keeps the compilation short: never pass a kernel an integer literal
or a variable that starts as one (``n = 0`` then ``n += 1``). numba then
compiles the callee twice, once for the literal type and once for ``int64``
(it meets the literal first while inferring types), and so every kernel it
calls. Start such a counter as ``np.int64(0)``; pass sizes (``a.size``)
rather than module constants. Measured on the demo from an empty cache:
seven kernels were compiled twice this way.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from numba import njit
from numba.core import event

__all__ = ["COMPILING_MESSAGE", "announcing_compilation", "kernel"]

COMPILING_MESSAGE = (
    "Compiling jumpdet's kernels for this kind of data: a one-time wait (numba caches them "
    "on disk; 'jumpdet compile' compiles them all ahead of time)"
)

_OPTIONS = {"nogil": True, "cache": True}


def kernel(function=None, *, numpy_division=False):
    """Compile ``function`` with numba as a jumpdet kernel (GIL released, cached on disk).

    Use as ``@kernel`` or ``@kernel(numpy_division=True)``.

    Parameters
    ----------
    function : callable, optional
        The function to compile; omitted when options are given.
    numpy_division : bool, optional
        Divide as numpy does (a zero divisor gives inf or NaN) instead of
        raising ``ZeroDivisionError``: without the check a loop can run in
        SIMD lanes. Default False.

    Returns
    -------
    numba dispatcher, or a decorator when ``function`` is omitted
    """
    options = dict(_OPTIONS, error_model="numpy") if numpy_division else _OPTIONS
    compile_ = njit(**options)
    return compile_ if function is None else compile_(function)


class _FirstCompilation(event.Listener):
    """Calls ``announce`` at the first compilation it hears of (from any thread), once."""

    def __init__(self, announce: Callable[[], None]):
        self._announce, self._pending, self._lock = announce, True, threading.Lock()

    def on_start(self, ev) -> None:
        with self._lock:
            pending, self._pending = self._pending, False
        if pending:
            self._announce()

    def on_end(self, ev) -> None:
        pass


@contextmanager
def announcing_compilation(announce: Callable[[], None]) -> Iterator[None]:
    """Call ``announce()`` once, just before numba starts compiling inside this block.

    Nothing is called when every kernel the block runs is already compiled
    or found in numba's disk cache: numba signals only real compilations.

    Parameters
    ----------
    announce : callable
        Called without arguments, at most once, from the thread that is
        about to compile.

    Yields
    ------
    None
        The block runs with the listener installed.

    Examples
    --------
    >>> import logging
    >>> with announcing_compilation(lambda: logging.getLogger("jumpdet").info(COMPILING_MESSAGE)):
    ...     pass
    """
    with event.install_listener("numba:compile", _FirstCompilation(announce)):
        yield
