"""``jumpdet compile``: compile the detection kernels ahead of time, into numba's disk cache.

numba compiles a kernel the first time it meets it with given argument types
and caches the machine code on disk (in ``NUMBA_CACHE_DIR`` if set, else in
``__pycache__`` next to jumpdet's sources). A run whose kernels are all cached
starts at once; the others first compile (and say so in one log line). This
command runs the detection on small synthetic ramps that take every path
the step can take (each detection path, with and without neighbour and
after-jump flagging, big-endian and native data, snowballs, showers, the
jump catalogue), so that a container image or a cluster's shared cache holds them all. numba
keys its cache by CPU model: compile on the kind of machine that will run.
"""

import time
from collections.abc import Callable

from ..detect import detect_jumps
from ..params import JumpParams

__all__ = ["WORKLOADS", "cache_location", "compile_kernels"]

# Post-processing variants: neighbours x after-jump rules (each compiles its own code)
_POSTPROCESSING = [
    {},
    {"flag_4_neighbors": False},
    {"after_jump_flag_e1": 100.0, "after_jump_flag_groups1": 2},
    {"flag_4_neighbors": False, "after_jump_flag_e1": 100.0, "after_jump_flag_groups1": 2},
]


def _detect(ramp, params: JumpParams) -> None:
    """Detect jumps in ``ramp`` with native and with big-endian (FITS) data."""
    references = {"gain": ramp.gain, "read_noise": ramp.read_noise}
    for data in (ramp.data, ramp.data.astype(">f4")):
        detect_jumps(data, ramp.groupdq, ramp.pixeldq, **references, params=params)


def _run(shape, **params) -> None:
    """Detect jumps in a seeded ramp of ``shape``, with every post-processing variant."""
    from ..simulate.ramps import simulate_ramp

    ramp = simulate_ramp(shape, seed=0, jump_fraction=0.05)
    for post in _POSTPROCESSING:
        _detect(ramp, JumpParams(**params, **post))


def _iterative() -> None:
    _run((1, 6, 8, 16))
    _run((1, 300, 2, 8), min_diffs_single_pass=1000)  # long ramps: median brackets


def _single_pass() -> None:
    _run((1, 12, 8, 16))


def _sigma_clip() -> None:
    _run((4, 5, 8, 16), minimum_sigclip_groups=4)
    _run((30, 10, 2, 8), minimum_sigclip_groups=30)  # long ramps: median brackets


def _likelihood() -> None:
    _run((1, 6, 8, 16), method="likelihood")
    _run((2, 8, 8, 16), method="likelihood", nframes=4, groupgap=1)  # groups of frames: pairs too


def _events(ramp, **jwst_parameters) -> None:
    """Detect jumps and large events in a seeded ramp, with jwst's parameters."""
    params = JumpParams.from_jwst(
        group_time_s=ramp.group_time, nframes=ramp.nframes, gain=ramp.gain, **jwst_parameters
    )
    _detect(ramp, params)


def _snowballs() -> None:
    from ..simulate.events import snowball_ramp

    ramp = snowball_ramp(
        ngroups=5, shape=(128, 128), n_snowballs=4, cosmic_rays_per_group=20, n_stars=1, seed=0
    )
    _events(ramp, expand_large_events=True)


def _showers() -> None:
    from ..simulate.events import shower_ramp

    # jwst searches showers from 10 usable differences on (the first and last groups are DO_NOT_USE)
    ramp = shower_ramp(ngroups=14, shape=(96, 104), n_showers=2, seed=0)
    _events(ramp, find_showers=True)
    clustered = shower_ramp(nints=3, ngroups=8, shape=(96, 104), n_showers=2, seed=0)
    _events(clustered, find_showers=True, minimum_sigclip_groups=3)  # clipped statistics


def _catalog() -> None:
    """The jump catalogue's kernels: recording on each path, rows of whole words or not; its text."""
    from ..simulate.ramps import simulate_ramp
    from ..table_text import rows_text

    for shape, params in (
        ((1, 6, 8, 16), {}),
        ((1, 12, 8, 13), {}),
        ((4, 5, 8, 16), {"minimum_sigclip_groups": 4}),
        ((1, 6, 8, 16), {"method": "likelihood"}),
    ):
        ramp = simulate_ramp(shape, seed=0, jump_fraction=0.05)
        references = {"gain": ramp.gain, "read_noise": ramp.read_noise}
        for data in (ramp.data, ramp.data.astype(">f4")):
            table = detect_jumps(
                data, ramp.groupdq, ramp.pixeldq, **references, params=JumpParams(**params), catalog=True
            ).catalog
    list(rows_text([table[name] for name in table.colnames]))


#: What ``jumpdet compile`` can compile, by name (all of them by default).
WORKLOADS: dict[str, Callable[[], None]] = {
    "iterative": _iterative,
    "single_pass": _single_pass,
    "sigma_clip": _sigma_clip,
    "likelihood": _likelihood,
    "snowballs": _snowballs,
    "showers": _showers,
    "catalog": _catalog,
}


def compile_kernels(names=None, report: Callable[[str], None] = print) -> dict[str, float]:
    """Compile (or load from numba's cache) the kernels of the named workloads.

    Parameters
    ----------
    names : iterable of str, optional
        Keys of :data:`WORKLOADS`; all of them by default.
    report : callable, optional
        Called with one line per workload as it finishes (default: print).

    Returns
    -------
    dict of str to float
        Seconds each workload took (compilation, or loading from the cache).

    Raises
    ------
    ValueError
        For a name that is not a workload.
    """
    names = list(WORKLOADS) if names is None else list(names)
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown:
        raise ValueError(f"unknown workloads {unknown}; choose from {', '.join(WORKLOADS)}")
    seconds = {}
    for name in names:
        start = time.perf_counter()
        WORKLOADS[name]()
        seconds[name] = time.perf_counter() - start
        report(f"{name:12s} {seconds[name]:6.1f} s")
    return seconds


def cache_location() -> str:
    """Where numba keeps jumpdet's compiled kernels."""
    from numba.core.config import CACHE_DIR

    return CACHE_DIR or "__pycache__ folders next to jumpdet's sources"
