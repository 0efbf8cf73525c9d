"""Large events: NIR snowballs and MIRI showers, flagged as jwst 3.0 does.

:func:`flag_snowballs_inplace` and :func:`flag_showers_inplace` are called by
:func:`jumpdet.detect_jumps` when ``expand_large_events`` or ``find_showers``
is set. The geometry they rely on (regions, moment ellipses, ring smoothing,
overlap-add convolution) lives in the private modules of this package.
"""

from .showers import flag_showers_inplace
from .snowballs import flag_snowballs_inplace

__all__ = ["flag_showers_inplace", "flag_snowballs_inplace"]
