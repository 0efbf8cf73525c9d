"""Which stage set each new JUMP_DET flag: the sparse record behind the jump catalogue.

:func:`jumpdet.detect.detect_jumps_inplace` with ``record=True`` keeps a
:class:`StageRecorder` beside the detection. It holds one packed bit per
group and pixel (1/8 of GROUPDQ): the JUMP_DET flags seen so far, starting
with those of the input. After each stage it lists, as flat indices, the
flags that are new since the last look and tags them with the stage
(:data:`CAUSES`); at the end it keeps those still set in the final GROUPDQ.
So the record holds exactly the flags present at the end that were not in
the input, each with the *first* stage after which it was seen, whatever
later stages (clean-up, saturated snowball cores, shower reverts) cleared
or set again. Large events add the event that set the flag: the first
event, in the order they were drawn, whose footprint holds it.

Primary jumps carry what the search compared with its threshold
(:mod:`jumpdet.significance`). Another search (a second detection method)
records its flags the same way: ``recorder.stage(groupdq, "primary", measure)``
right after it runs, with its own ``measure(flat) -> (difference_dn,
difference_e, significance_sigma)`` for the flat indices of its new flags.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .compilation import kernel
from .exposure import REPEATED_BYTE, as_words, pack_flags, packed_shape
from .flags import JUMP_DET

__all__ = ["CAUSES", "JumpRecord", "StageRecorder"]

#: Causes of a new JUMP_DET flag, in the order the stages run.
CAUSES = ("primary", "neighbour", "after_jump", "snowball", "snowball_core_next_int", "shower")


class JumpRecord(NamedTuple):
    """The new JUMP_DET flags of one detection, one entry per flag, in (integration, group, y, x) order.

    Attributes
    ----------
    integration, group, y, x : (n,) int64 ndarray
        0-based position of the flag.
    cause : (n,) uint8 ndarray
        Index into :data:`CAUSES` of the first stage after which it was set.
    event_id : (n,) int64 ndarray
        1-based number of the large event (in the order events were
        flagged) that set it; 0 for the other causes.
    difference_dn : (n,) float32 ndarray
        Primary jumps: the group difference, DN; NaN for the other causes.
    difference_e : (n,) float32 ndarray
        Primary jumps: the group difference in electrons as the search
        computed it; NaN for the other causes.
    significance_sigma : (n,) float64 ndarray
        Primary jumps: the value the search compared with its threshold
        (:func:`jumpdet.significance.measure_primary_jumps`); NaN for the others.
    """

    integration: np.ndarray
    group: np.ndarray
    y: np.ndarray
    x: np.ndarray
    cause: np.ndarray
    event_id: np.ndarray
    difference_dn: np.ndarray
    difference_e: np.ndarray
    significance_sigma: np.ndarray

    def cause_names(self) -> np.ndarray:
        """The causes as strings: an object array of the names in :data:`CAUSES` (8 bytes a flag)."""
        return np.array(CAUSES, dtype=object)[self.cause]


class _Stage(NamedTuple):
    flat: np.ndarray  # new flags, flat indices into GROUPDQ, ascending
    cause: np.ndarray
    event_id: np.ndarray
    measures: tuple | None  # (difference_dn, difference_e, significance_sigma) or None


class StageRecorder:
    """Records which stage set each JUMP_DET flag of one GROUPDQ cube.

    Parameters
    ----------
    groupdq : (nints, ngroups, nrows, ncols) uint8 ndarray
        The input GROUPDQ, before any stage.
    """

    def __init__(self, groupdq: np.ndarray):
        self.shape = groupdq.shape
        self._seen = _input_flags(groupdq)
        self._stages: list[_Stage] = []
        self._events = 0

    def stage(self, groupdq: np.ndarray, cause: str, measure=None) -> None:
        """Record the flags new since the last stage as set by ``cause``.

        ``measure``, if given, is called with the flat indices of the new
        flags and returns their (difference_dn, difference_e, significance_sigma).
        """
        flat = _new_flags(groupdq, self._seen)
        code = np.full(flat.size, CAUSES.index(cause), np.uint8)
        measures = measure(flat) if measure is not None else None
        self._stages.append(_Stage(flat, code, np.zeros(flat.size, np.int64), measures))

    def large_events(self, groupdq: np.ndarray, cause: str, footprints) -> None:
        """Record the flags new since the last stage, attributed to ``footprints`` (drawing order).

        A flag in no footprint (none is expected) keeps ``cause`` and no event.
        """
        flat = _new_flags(groupdq, self._seen)
        cause = np.full(flat.size, CAUSES.index(cause), np.uint8)
        event_id = np.zeros(flat.size, np.int64)
        nints, ngroups, nrows, ncols = self.shape
        for footprint in footprints:
            self._events += 1
            for g in range(footprint.first_group, footprint.last_group + 1):
                plane = footprint.integration * ngroups + g
                keys = plane * (nrows * ncols) + footprint.pixels
                at = np.minimum(np.searchsorted(flat, keys), max(flat.size - 1, 0))
                hit = at[(flat[at] == keys) & (event_id[at] == 0)] if flat.size else at[:0]
                event_id[hit] = self._events
                cause[hit] = CAUSES.index(footprint.cause)
        self._stages.append(_Stage(flat, cause, event_id, None))

    def finish(self, groupdq: np.ndarray) -> JumpRecord:
        """The record of the flags set at the end (``groupdq`` is the final GROUPDQ)."""
        stages = self._stages or [
            _Stage(np.empty(0, np.int64), np.empty(0, np.uint8), np.empty(0, np.int64), None)
        ]
        flat = np.concatenate([s.flat for s in stages])
        order = np.argsort(flat, kind="stable")  # sorted runs, one a stage: merged
        order = order[(groupdq.reshape(-1)[flat[order]] & JUMP_DET) != 0]
        measures = (np.full(order.size, np.nan, np.float32), np.full(order.size, np.nan, np.float32),
                    np.full(order.size, np.nan))  # fmt: skip
        first = 0
        for stage in stages:  # only the search's stage is measured
            if stage.measures is not None:
                rows = np.flatnonzero((order >= first) & (order < first + stage.flat.size))
                for target, values in zip(measures, stage.measures, strict=True):
                    target[rows] = values[order[rows] - first]
            first += stage.flat.size
        i, g, y, x = np.unravel_index(flat[order], self.shape)
        cause = np.concatenate([s.cause for s in stages])[order]
        event_id = np.concatenate([s.event_id for s in stages])[order]
        return JumpRecord(i, g, y, x, cause, event_id, *measures)


def _input_flags(groupdq: np.ndarray) -> np.ndarray:
    """``pack_flags(groupdq, JUMP_DET)``; zeros without packing when no group has the flag.

    A jump step's input rarely has JUMP_DET flags, and one OR over GROUPDQ
    finds out in a sixth of the packing's time (2 against 12 ms for the
    42 MB of the miri_1x40 benchmark).
    """
    if not np.bitwise_or.reduce(groupdq, axis=None) & JUMP_DET:
        return np.zeros(packed_shape(groupdq.shape), np.uint8)
    return pack_flags(groupdq, JUMP_DET)


@kernel
def _byte_of_word(word, bit):
    """The 8 pixels of a word whose flag ``bit`` (a single bit) is set, first pixel in the highest bit.

    The flag of pixel ``k`` (byte ``k``) is moved to bit ``k`` of each byte's
    lowest bit, then one multiplication gathers them into the top byte (its
    terms never overlap, so nothing carries): pixel ``k`` lands on bit ``7 - k``.
    """
    lowest = (word >> np.uint64(bit)) & np.uint64(REPEATED_BYTE)
    return np.uint8((lowest * np.uint64(0x8040201008040201)) >> np.uint64(56))


_JUMP_BIT = JUMP_DET.bit_length() - 1


def _new_flags(groupdq, seen):
    """Flat indices (ascending) of the JUMP_DET flags of ``groupdq`` not set in ``seen``; adds them to it."""
    words = as_words(groupdq)
    if words is None:
        return _new_flags_of_bytes(groupdq, seen)
    return _new_flags_of_words(words, seen.reshape(-1), _JUMP_BIT)


@kernel
def _new_flags_of_words(words, seen, bit):
    """:func:`_new_flags` on 8-byte words (word ``w`` is packed byte ``w``): count, then fill."""
    mask = np.uint64(REPEATED_BYTE << bit)
    n = 0
    for w in range(words.size):
        if words[w] & mask:
            n += _popcount(_byte_of_word(words[w], bit) & ~seen[w])
    out = np.empty(n, np.int64)
    k = 0
    for w in range(words.size):
        if words[w] & mask:
            new = _byte_of_word(words[w], bit) & ~seen[w]
            if new:
                for c in range(8):
                    if (new >> (7 - c)) & 1:
                        out[k] = w * 8 + c
                        k += 1
                seen[w] |= new
    return out


@kernel
def _popcount(byte):
    """Set bits of a byte, by adding neighbouring counts (no loop)."""
    b = np.uint32(byte)
    b = b - ((b >> np.uint32(1)) & np.uint32(0x55))
    b = (b & np.uint32(0x33)) + ((b >> np.uint32(2)) & np.uint32(0x33))
    return np.int64((b + (b >> np.uint32(4))) & np.uint32(0x0F))


@kernel
def _new_flags_of_bytes(groupdq, seen):
    """:func:`_new_flags` pixel by pixel (rows that are not whole words).

    A first pass counts them row by row (branch-free), a second visits only
    the rows that have some.
    """
    nints, ngroups, nrows, ncols = groupdq.shape
    per_row = np.zeros(nints * ngroups * nrows, np.int64)
    for i in range(nints):
        for g in range(ngroups):
            for r in range(nrows):
                flags, bits = groupdq[i, g, r], seen[i, g, r]
                n = 0
                for c in range(ncols):
                    n += ((flags[c] & JUMP_DET) != 0) & (((bits[c >> 3] >> (7 - (c & 7))) & 1) == 0)
                per_row[(i * ngroups + g) * nrows + r] = n
    out = np.empty(per_row.sum(), np.int64)
    k = 0
    for row in range(per_row.size):
        if per_row[row] == 0:
            continue
        r, plane = row % nrows, row // nrows
        i, g = plane // ngroups, plane % ngroups
        flags, bits = groupdq[i, g, r], seen[i, g, r]
        for c in range(ncols):
            if flags[c] & JUMP_DET and not (bits[c >> 3] >> (7 - (c & 7))) & 1:
                out[k] = row * ncols + c
                bits[c >> 3] |= np.uint8(1 << (7 - (c & 7)))
                k += 1
    return out
