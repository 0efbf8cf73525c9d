"""An exposure's arrays as the core receives them: their shapes, and two summaries of GROUPDQ.

* :func:`check_exposure_shapes`: the one shape check of the public entry points;
* :func:`all_do_not_use_groups`: the groups in which every pixel is DO_NOT_USE,
  which jwst counts both to choose the detection path and to skip showers;
* :func:`pack_flags` (any DQ bits; :func:`pack_unusable` for SATURATED or
  DO_NOT_USE, the jump catalogue for JUMP_DET) and its readers (:func:`packed_bit`, :func:`unpack`,
  :func:`packed_bits_at`): the input's SATURATED or DO_NOT_USE groups, one bit
  per group and pixel (``np.packbits`` order), kept for the shower search
  after two-point detection has changed GROUPDQ.
"""

import numpy as np

from .compilation import kernel
from .flags import DO_NOT_USE, UNUSABLE

__all__ = [
    "REPEATED_BYTE",
    "all_do_not_use_groups",
    "as_words",
    "check_exposure_shapes",
    "pack_flags",
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


def pack_flags(groupdq: np.ndarray, bits: int) -> np.ndarray:
    """Where any of ``bits`` is set in GROUPDQ, one bit per group and pixel.

    ``np.packbits((groupdq & bits) != 0, axis=-1)`` (first column in the
    highest bit), without its full-size boolean temporary: 8 pixels (one
    word) at a time when the rows are whole words of native GROUPDQ, most
    of which have no flag.

    Parameters
    ----------
    groupdq : (nints, ngroups, nrows, ncols) uint8 ndarray
        GROUPDQ.
    bits : int
        The DQ bits looked for (any of them).

    Returns
    -------
    (nints, ngroups, nrows, (ncols + 7) // 8) uint8 ndarray
        The packed bits.
    """
    packed = np.zeros(packed_shape(groupdq.shape), dtype=np.uint8)
    words = as_words(groupdq)
    if words is not None:
        _pack_words(words, np.uint64(REPEATED_BYTE * (bits & 0xFF)), packed.reshape(-1))
    else:
        _pack_bytes(groupdq, np.uint8(bits), packed)
    return packed


def pack_unusable(groupdq: np.ndarray) -> np.ndarray:
    """The SATURATED or DO_NOT_USE groups of an exposure, packed: ``pack_flags(groupdq, UNUSABLE)``.

    Parameters
    ----------
    groupdq : (nints, ngroups, nrows, ncols) uint8 ndarray
        GROUPDQ as the detection receives it (the shower search needs it later).

    Returns
    -------
    (nints, ngroups, nrows, (ncols + 7) // 8) uint8 ndarray
        One bit per group and pixel, as :func:`pack_flags` lays them out.
    """
    return pack_flags(groupdq, UNUSABLE)


#: A byte value times this repeats it in the 8 bytes of a word.
REPEATED_BYTE = 0x0101010101010101


def as_words(groupdq: np.ndarray) -> np.ndarray | None:
    """GROUPDQ as 8-byte words, each holding 8 pixels of one row, or None if rows are not whole words.

    Word ``w`` then covers packed byte ``w`` of :func:`pack_flags`.
    """
    if (
        groupdq.shape[-1] % 8
        or not groupdq.flags.c_contiguous
        or groupdq.ctypes.data % 8
        or not np.little_endian
    ):
        return None
    return groupdq.reshape(-1).view(np.uint64)


@kernel
def _any_of_word(word, mask):
    """The 8 pixels of a word with any bit of ``mask`` (repeated in every byte), first pixel highest."""
    out = np.uint8(0)
    for k in range(8):
        out |= np.uint8((((word >> np.uint64(8 * k)) & mask & np.uint64(0xFF)) != 0) << (7 - k))
    return out


@kernel
def _pack_words(words, mask, packed):
    for w in range(words.size):  # most words have no flag: one test each
        if words[w] & mask:
            packed[w] = _any_of_word(words[w], mask)


@kernel
def _pack_bytes(groupdq, bits, packed):
    nints, ngroups, nrows, ncols = groupdq.shape
    for i in range(nints):
        for g in range(ngroups):
            for r in range(nrows):
                flags, out = groupdq[i, g, r], packed[i, g, r]
                for c in range(ncols):  # branch-free
                    out[c >> 3] |= np.uint8(((flags[c] & bits) != 0) << (7 - (c & 7)))


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
