"""jumpdet: fast, memory-bounded jump detection for JWST ramps, with jwst 3.0's flags.

``from jumpdet import JumpStep`` gives the stpipe step; :func:`jumpdet.detect_jumps`
the array-level core. The step and pipeline classes are imported on first use,
so the core can be used without loading jwst.
"""

from importlib import import_module
from importlib.metadata import version

from .detect import JumpResult, JumpStats, detect_jumps, detect_jumps_inplace
from .params import JumpParams

__version__ = version("jumpdet")

__all__ = [
    "Detector1Pipeline",
    "JumpParams",
    "JumpResult",
    "JumpStats",
    "JumpStep",
    "__version__",
    "detect_jumps",
    "detect_jumps_inplace",
]

_LAZY = {"JumpStep": ".step", "Detector1Pipeline": ".pipeline"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'jumpdet' has no attribute {name!r}")
