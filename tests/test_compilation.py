"""Compilation: announced once when it happens, never when the kernels are cached; done ahead by
``jumpdet compile``."""

import os
import subprocess
import sys

import numba

from jumpdet.compilation import COMPILING_MESSAGE, announcing_compilation

# Detection on a small iterative-path ramp, logging to stderr as strun does.
DETECT = """
import logging
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
from jumpdet import detect_jumps
from jumpdet.simulate.ramps import simulate_ramp
ramp = simulate_ramp((1, 6, 8, 16), seed=1, jump_fraction=0.05)
detect_jumps(ramp.data, ramp.groupdq, ramp.pixeldq, gain=ramp.gain, read_noise=ramp.read_noise)
"""


def test_a_compilation_is_announced_once_before_it_starts():
    heard = []

    @numba.njit
    def double(x):
        return 2 * x

    with announcing_compilation(lambda: heard.append("announced")):
        assert double(1) == 2 and double(1.5) == 3.0  # two compilations, one announcement
    assert heard == ["announced"]


def test_nothing_is_announced_when_the_kernels_are_compiled():
    @numba.njit
    def triple(x):
        return 3 * x

    triple(1)
    heard = []
    with announcing_compilation(lambda: heard.append("announced")):
        assert triple(2) == 6
    assert heard == []


def run(args, cache_dir):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    return subprocess.run(args, env=env, capture_output=True, text=True, check=True, timeout=1800)


# DETECT with the catalogue, its rows as text too, printing the jumpdet kernels numba compiled more than once.
COMPILED_TWICE = (
    """
from collections import Counter
from numba.core import event
compiled = Counter()
class Count(event.Listener):
    def on_start(self, ev):
        f = ev.data["dispatcher"].py_func
        compiled[f"{f.__module__}.{f.__qualname__}"] += f.__module__.startswith("jumpdet")
    def on_end(self, ev):
        pass
event.register("numba:compile", Count())
"""
    + DETECT.replace("detect_jumps(ramp", "table = detect_jumps(ramp").replace(
        "read_noise=ramp.read_noise)", "read_noise=ramp.read_noise, catalog=True).catalog"
    )
    + """
from jumpdet.table_text import rows_text
list(rows_text([table[name] for name in table.colnames]))
print(sorted(name for name, n in compiled.items() if n > 1))
"""
)


def test_a_cold_cache_is_announced_once_and_compiles_each_kernel_once(tmp_path):
    # a second variant of a kernel is compile time for nothing: integer literals
    # passed to kernels made seven (jumpdet.compilation says how to avoid them)
    done = run([sys.executable, "-c", COMPILED_TWICE], tmp_path)
    assert done.stderr.count(COMPILING_MESSAGE) == 1
    assert done.stdout.strip() == "[]"


def test_jumpdet_compile_leaves_nothing_to_compile(tmp_path):
    jumpdet_compile = "import sys; from jumpdet.cli import main; sys.exit(main())"
    compiled = run([sys.executable, "-c", jumpdet_compile, "compile", "--only", "iterative"], tmp_path)
    assert "iterative" in compiled.stdout and str(tmp_path) in compiled.stderr
    assert COMPILING_MESSAGE not in run([sys.executable, "-c", DETECT], tmp_path).stderr


# A detection without the catalogue, then those of the catalogue's own kernels that have signatures.
CATALOGUE_KERNELS = (
    DETECT
    + """
from numba.core.registry import CPUDispatcher
from jumpdet import catalog, recording, significance, table_text
print(sorted(f"{m.__name__}.{name}" for m in (catalog, recording, significance, table_text)
             for name, f in vars(m).items()
             if isinstance(f, CPUDispatcher) and f.py_func.__module__ == m.__name__ and f.signatures))
"""
)


def test_a_run_without_the_catalogue_compiles_none_of_its_kernels():
    # the default cache: kernels found there would also have signatures
    done = subprocess.run(
        [sys.executable, "-c", CATALOGUE_KERNELS], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
