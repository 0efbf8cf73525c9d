"""Moment ellipses of labelled regions, and drawing expanded ellipses into DQ planes.

jwst describes each large-event region by the ellipse of its second moments
(skimage ``regionprops``) and draws expanded ellipses with
``skimage.draw.ellipse``.  This module gives the very same numbers and
pixels with less overhead: the moments come from skimage's own
``moments_central`` (its result depends on the BLAS, so it is not
re-derived), the rest of ``regionprops``' arithmetic is repeated operation
for operation, and so is the drawing, compiled, for many ellipses at once.
Ellipses follow jwst's convention: centre ``x`` (column) and ``y`` (row),
``axis1`` = minor axis length - 1, ``axis2`` = major axis length - 1 (full
axes, pixels), ``angle`` in degrees.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import skimage.measure

from ..compilation import kernel
from ._regions import RegionTable

__all__ = ["Ellipses", "draw_ellipses", "draw_window", "expanded_axes", "region_ellipses"]


class Ellipses(NamedTuple):
    """Moment ellipses of labelled regions, one entry per region (float64 arrays)."""

    x: np.ndarray
    y: np.ndarray
    axis1: np.ndarray
    axis2: np.ndarray
    angle: np.ndarray

    def take(self, index) -> Ellipses:
        """The ellipses at ``index`` (a boolean mask or integer array)."""
        return Ellipses(*(field[index] for field in self))

    @classmethod
    def empty(cls) -> Ellipses:
        return cls(*(np.empty(0) for _ in range(5)))


def region_ellipses(table: RegionTable, which: np.ndarray) -> Ellipses:
    """Exact moment ellipses of the regions labelled ``which`` (jwst's convention).

    Every bit matches ``regionprops``' ``centroid``, ``axis_minor_length``,
    ``axis_major_length`` and ``orientation``.  Centroids are exact integer
    sums over the area, taken from the region table.
    """
    which = np.asarray(which, dtype=np.intp)
    axis1, axis2, angle = (np.empty(which.size) for _ in range(3))
    # regionprops' local centroid: integer coordinate sums over the crop, divided by the area
    area = table.area[which]
    local_row = ((table.sum_row[which] - table.row0[which] * area) / area).tolist()
    local_col = ((table.sum_col[which] - table.col0[which] * area) / area).tolist()
    for k, label in enumerate(which.tolist()):
        image = table.crop(label)
        if image.size <= _CACHED_CROP_SIZE:  # small regions recur: remember their ellipses
            axis1[k], axis2[k], angle[k] = _cached_crop_ellipse(image.shape, image.tobytes())
        else:
            axis1[k], axis2[k], angle[k] = _crop_ellipse(image, local_row[k], local_col[k])
    return Ellipses(table.centroid_x[which], table.centroid_y[which], axis1, axis2, angle)


_CACHED_CROP_SIZE = 1024


@functools.lru_cache(maxsize=8192)
def _cached_crop_ellipse(shape: tuple[int, int], pixels: bytes) -> tuple[float, float, float]:
    crop = np.frombuffer(pixels, dtype=bool).reshape(shape)
    rows, cols = np.nonzero(crop)
    return _crop_ellipse(crop, rows.sum() / rows.size, cols.sum() / cols.size)


def _crop_ellipse(crop: np.ndarray, row: float, col: float) -> tuple[float, float, float]:
    """(minor - 1, major - 1, orientation in degrees) of one region's boolean image, as skimage computes them.

    ``regionprops`` takes the central moments of order 3 about the local
    centroid (``row``, ``col``: integer sums over the area, divided by it),
    builds the inertia tensor from them, takes its eigenvalues with
    ``eigvalsh`` and the orientation with ``atan2``; each step is repeated
    here with the same operations.
    """
    mu = skimage.measure.moments_central(crop.view(np.uint8), np.array([row, col]), order=3)
    mu0 = mu[0, 0]
    trace = mu[2, 0] + mu[0, 2]
    a = (trace - mu[2, 0]) / mu0
    c = (trace - mu[0, 2]) / mu0
    b = -mu[1, 1] / mu0
    low, high = np.linalg.eigvalsh(np.array([[a, b], [b, c]])).tolist()
    major, minor = max(low, high, 0.0), max(min(low, high), 0.0)  # clipped at 0, as skimage
    if a - c == 0:
        orientation = math.pi / 4.0 if b < 0 else -math.pi / 4.0
    else:
        orientation = 0.5 * math.atan2(-2 * b, c - a)
    return 4 * math.sqrt(minor) - 1, 4 * math.sqrt(major) - 1, float(np.degrees(orientation))


def draw_window(x, y, axis1, axis2, angle, shape) -> tuple[slice, slice, np.ndarray]:
    """Pixels of one ellipse, drawn in a small window of a plane of ``shape``.

    The window and the drawing are those of jwst's ``ellipse_subim``: the
    centre is rounded to whole pixels, the semi-axes are ``round(axis / 2)``,
    the window extends two pixels beyond the larger one (clipped to the
    plane), and ``skimage.draw.ellipse(row, col, semi2, semi1, window,
    radians(angle))`` fills it.  Nothing is drawn when a semi-axis rounds to 0.

    Returns
    -------
    rows, cols : slice
        Where the window sits in the plane.
    mask : 2-D bool ndarray
        The ellipse within the window.
    """
    col_c, row_c = round(x), round(y)
    half = max(round(axis1 / 2), round(axis2 / 2)) + 2
    r0, c0 = max(row_c - half, 0), max(col_c - half, 0)
    r1, c1 = max(min(row_c + half + 1, shape[0]), r0), max(min(col_c + half + 1, shape[1]), c0)
    mask = np.zeros((r1 - r0, c1 - c0), dtype=bool)
    draw_ellipses(
        mask[None].view(np.uint8), [x], [y], [axis1], [axis2], [angle], value=1, origin=(r0, c0, shape)
    )
    return slice(r0, r1), slice(c0, c1), mask


def draw_ellipses(
    target, x, y, axis1, axis2, angle, *, value: int, unless: int = 0, assign=False, origin=None
) -> None:
    """Draw ellipses into every plane of ``target`` in place, pixel for pixel as :func:`draw_window`.

    Parameters
    ----------
    target : (nplanes, nrows, ncols) uint8 ndarray
        Each ellipse is drawn at the same pixels of every plane.
    x, y, axis1, axis2, angle : (n,) float arrays
        Ellipses in jwst's convention (full axes, degrees).
    value : int
        Assigned to the drawn pixels (``assign``) or OR-ed into them,
        except where ``target & unless`` is set.
    origin : (row, col, plane shape) or None
        When ``target`` is a window of a larger plane: the plane pixel at
        ``target[:, 0, 0]`` and the plane's shape (which clips the drawing).
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if not x.size:
        return
    row0, col0, (nrows, ncols) = origin if origin is not None else (0, 0, target.shape[1:])
    # the same roundings and trigonometry as skimage's, on the same float64 values
    rotation = np.radians(np.asarray(angle, np.float64)) % np.pi
    again = rotation % np.pi  # skimage reduces the rotation once more before drawing
    _draw(
        target,
        (row0, col0, nrows, ncols),
        np.round(y).astype(np.int64),
        np.round(x).astype(np.int64),
        np.round(np.asarray(axis2, np.float64) / 2).astype(np.int64),
        np.round(np.asarray(axis1, np.float64) / 2).astype(np.int64),
        np.stack([np.cos(rotation), np.sin(rotation), np.cos(again), np.sin(again)]),
        np.uint8(value),
        np.uint8(unless),
        assign,
    )


@kernel
def _draw(target, frame, row_c, col_c, semi_r, semi_c, trig, value, unless, assign):
    """jwst's ``ellipse_subim`` windows and ``skimage.draw.ellipse`` pixels, for many ellipses.

    Every floating-point expression is skimage's, operation for operation
    (integer centre and radii in the window's coordinates).  ``frame`` is
    (plane row and column of ``target[:, 0, 0]``, plane rows, plane columns).
    """
    nplanes = target.shape[0]
    row_off, col_off, nrows, ncols = frame
    for k in range(row_c.size):
        r_radius, c_radius = semi_r[k], semi_c[k]
        if r_radius == 0 or c_radius == 0:
            continue
        half = max(r_radius, c_radius) + 2
        r0, r1 = max(row_c[k] - half, 0), min(row_c[k] + half + 1, nrows)
        c0, c1 = max(col_c[k] - half, 0), min(col_c[k] + half + 1, ncols)
        r, c = row_c[k] - r0, col_c[k] - c0  # centre in the window
        cos, sin = trig[0, k], trig[1, k]
        r_extent = abs(r_radius * cos) + c_radius * sin
        c_extent = r_radius * sin + abs(c_radius * cos)
        top, left = max(math.ceil(r - r_extent), 0), max(math.ceil(c - c_extent), 0)
        bottom = min(math.floor(r + r_extent), r1 - r0 - 1)
        right = min(math.floor(c + c_extent), c1 - c0 - 1)
        cos, sin = trig[2, k], trig[3, k]
        for i in range(top, bottom + 1):
            rr = np.float64(i - r)
            for j in range(left, right + 1):
                cc = np.float64(j - c)
                along = (rr * cos + cc * sin) / r_radius
                across = (rr * sin - cc * cos) / c_radius
                if along * along + across * across < 1:
                    y, x = r0 + i - row_off, c0 + j - col_off
                    for p in range(nplanes):
                        if assign:
                            target[p, y, x] = value
                        elif (target[p, y, x] & unless) == 0:
                            target[p, y, x] |= value


def expanded_axes(axis1, axis2, expansion, max_width) -> tuple[int, int]:
    """jwst's ``compute_axes`` by ratio: both axes grow by ``(expansion - 1)`` times the minor one.

    Returns the rounded semi-axes of the expanded ellipse, each full axis
    first capped at ``max_width``.
    """
    if axis2 < axis1:
        full1, full2 = axis1 + (expansion - 1.0) * axis2, axis2 * expansion
    else:
        full1, full2 = axis1 * expansion, axis2 + (expansion - 1.0) * axis1
    return round(min(full1, max_width) / 2), round(min(full2, max_width) / 2)
