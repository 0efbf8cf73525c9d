"""An exposure's arrays as the core receives them: their shapes, and two summaries of GROUPDQ.

* :func:`check_exposure_shapes`: the one shape check of the public entry points;
* :func:`all_do_not_use_groups`: the groups in which every pixel is DO_NOT_USE,
  which jwst counts both to choose the detection path and to skip showers;
* :func:`pack_unusable` and its readers (:func:`packed_bit`, :func:`unpack`,
  :func:`packed_bits_at`): the input's SATURATED or DO_NOT_USE groups, one bit
  per group and pixel (``np.packbits`` order), kept for the shower search
  after two-point detection has changed GROUPDQ.
"""

import numpy as np

from .compilation import kernel
from .flags import DO_NOT_USE, UNUSABLE

__all__ = [
    "all_do_not_use_groups",
    "check_exposure_shapes",
    "pack_unusable",
    "packed_bit",
    "packed_bits_at",
    "packed_shape",
    "unpack",
]


def check_exposure_shapes(data, groupdq, pixeldq, gain, read_noise) -> None:
    """Raise a one-line ``ValueError`` unless the arrays describe one exposure.

    Parameters
    ----------
    data : ndarray
        Must be 4-D: (nints, ngroups, nrows, ncols).
    groupdq : ndarray
        Must be uint8 and of the shape of ``data``.
    pixeldq, gain, read_noise : ndarray
        Must each have the frame's shape, (nrows, ncols).

    Raises
    ------
    ValueError
        Naming the first array that does not fit, with its shape or dtype.
    """
    if data.ndim != 4:
        raise ValueError(f"data must be 4-D (nints, ngroups, nrows, ncols), got shape {data.shape}")
    if groupdq.shape != data.shape:
        raise ValueError(f"groupdq shape {groupdq.shape} differs from data shape {data.shape}")
    if groupdq.dtype != np.uint8:
        raise ValueError(f"groupdq must be uint8, got {groupdq.dtype}")
    frame = data.shape[2:]
    for name, array in (("pixeldq", pixeldq), ("gain", gain), ("read_noise", read_noise)):
        if array.shape != frame:
            raise ValueError(f"{name} shape {array.shape} differs from the frame shape {frame}")


@kernel
def all_do_not_use_groups(groupdq: np.ndarray) -> np.ndarray:
    """Tell, per (integration, group), whether every pixel is flagged DO_NOT_USE.

    Each group is scanned only until its first usable pixel, which in real
    data is the first pixel: no temporaries, and no pass over the exposure.

    Parameters
    ----------
    groupdq : (nints, ngroups, nrows, ncols) uint8 ndarray
        GROUPDQ.

    Returns
    -------
    (nints, ngroups) bool ndarray
        True for a group in which every pixel carries DO_NOT_USE.
    """
    nints, ngroups, nrows, ncols = groupdq.shape
    result = np.ones((nints, ngroups), dtype=np.bool_)
    for i in range(nints):
        for g in range(ngroups):
            plane = groupdq[i, g]
            for r in range(nrows):
                if not result[i, g]:
                    break
                for c in range(ncols):
                    if not plane[r, c] & DO_NOT_USE:
                        result[i, g] = False
                        break
    return result


@kernel
def packed_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of :func:`pack_unusable`'s result for an exposure of ``shape``: 8 columns a byte."""
    return (*shape[:-1], (shape[-1] + 7) // 8)


@kernel
def pack_unusable(groupdq: np.ndarray) -> np.ndarray:
    """The SATURATED or DO_NOT_USE groups of an exposure, one bit per group and pixel.

    ``np.packbits((groupdq & UNUSABLE) != 0, axis=-1)`` (first column in the
    highest bit), without its full-size boolean temporary.

    Parameters
    ----------
    groupdq : (nints, ngroups, nrows, ncols) uint8 ndarray
        GROUPDQ.

    Returns
    -------
    (nints, ngroups, nrows, (ncols + 7) // 8) uint8 ndarray
        The packed bits.
    """
    nints, ngroups, nrows, ncols = groupdq.shape
    packed = np.zeros(packed_shape(groupdq.shape), dtype=np.uint8)
    for i in range(nints):
        for g in range(ngroups):
            for r in range(nrows):
                flags, bits = groupdq[i, g, r], packed[i, g, r]
                for c in range(ncols):  # branch-free
                    bits[c >> 3] |= np.uint8(((flags[c] & UNUSABLE) != 0) << (7 - (c & 7)))
    return packed


@kernel
def packed_bit(packed_row: np.ndarray, col: int) -> bool:
    """Bit ``col`` of one packed row (compiled; for other kernels)."""
    return ((packed_row[col >> 3] >> (7 - (col & 7))) & 1) != 0


def unpack(packed: np.ndarray, ncols: int) -> np.ndarray:
    """Packed rows (..., (ncols + 7) // 8) back to booleans (..., ncols)."""
    return np.unpackbits(packed, axis=-1, count=ncols).view(bool)


@kernel
def packed_bits_at(packed: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bits at pixels ``(rows[k], cols[k])`` of each packed plane: (nplanes, npixels) bool."""
    out = np.empty((packed.shape[0], rows.size), dtype=np.bool_)
    for p in range(packed.shape[0]):
        for k in range(rows.size):
            out[p, k] = packed_bit(packed[p, rows[k]], cols[k])
    return out
