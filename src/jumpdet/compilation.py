"""How the core's kernels are compiled: one decorator with the options they all share.

Every compiled function of jumpdet is declared with :func:`kernel`, so the
options live here once: the kernels release the GIL (tiles and planes run on
threads) and are cached on disk by numba after their first compilation.
"""

from numba import njit

__all__ = ["kernel"]

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
