"""Where each large event flagged: footprints the jump catalogue attributes flags with.

:func:`~jumpdet.large_events.flag_snowballs_inplace` and
:func:`~jumpdet.large_events.flag_showers_inplace` append one
:class:`EventFootprint` per ellipse (or snowball core carried into the next
integration) to a list when they are given one, in the order they draw them.
The footprint is the pixels the drawing covers, before the SATURATED pixels
it spares, so that a new flag of the stage lies in the footprint of the event
that set it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._ellipses import draw_window

__all__ = ["EventFootprint", "ellipse_footprints"]


class EventFootprint(NamedTuple):
    """The pixels one large event may flag, in groups ``first_group..last_group`` of one integration.

    Attributes
    ----------
    cause : str
        ``"snowball"``, ``"snowball_core_next_int"`` or ``"shower"``.
    integration, first_group, last_group : int
        0-based; the groups are inclusive.
    pixels : (n,) int64 ndarray
        Flat indices ``y * ncols + x`` in the image plane.
    """

    cause: str
    integration: int
    first_group: int
    last_group: int
    pixels: np.ndarray


def ellipse_footprints(cause, integration, first_group, last_group, ellipses, shape) -> list[EventFootprint]:
    """One footprint per ellipse ``(x, y, axis1, axis2, angle)`` (full axes), drawn as jwst draws it."""
    footprints = []
    for x, y, axis1, axis2, angle in zip(*ellipses, strict=True):
        rows, cols, mask = draw_window(x, y, axis1, axis2, angle, shape)
        ys, xs = np.nonzero(mask)
        pixels = (ys + rows.start).astype(np.int64) * shape[1] + xs + cols.start
        footprints.append(EventFootprint(cause, integration, first_group, last_group, pixels))
    return footprints
