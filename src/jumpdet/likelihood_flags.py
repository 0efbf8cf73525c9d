"""What the likelihood search leaves for the post-processing, and the post-processing itself.

The likelihood search (:mod:`jumpdet.likelihood`) decides, for each jump it
finds, whether its neighbours are to be flagged (its significance between
``min_jump_to_flag_neighbors`` and ``max_jump_to_flag_neighbors``) and
whether each after-jump rule applies (its amplitude), and sets one bit per
group and pixel (:func:`jump_marks`, :func:`mark_jump`). The post-processing
of a block of rows (:func:`postprocess_rows`) then reads only these bits and
GROUPDQ: neighbours, groups after jumps, and jwst's clean-up of JUMP_DET on
SATURATED or DO_NOT_USE groups.
"""

from collections import namedtuple

import numpy as np

from .compilation import kernel
from .params import JumpParams
from .postprocess import _count_jumps as count_jumps
from .postprocess import _set_jump_if_usable as set_jump_if_usable
from .postprocess import after_jump_rules, remove_jump_from_unusable_inplace

__all__ = ["flag_rules", "jump_marks", "mark_jump", "postprocess_rows"]

# the planes of jump_marks: neighbours to flag, and the two after-jump rules
NEIGHBOURS, AFTER = 0, 1

# what the post-processing does around a jump: neighbours (flag or not, and the
# significance limits) and the after-jump rules (:func:`jumpdet.postprocess.after_jump_rules`)
_Rules = namedtuple("_Rules", ["neighbours", "low", "high", "after"])


def flag_rules(params: JumpParams):
    """The post-processing rules of ``params`` in the layout the kernels take."""
    return _Rules(
        params.flag_4_neighbors,
        params.min_jump_to_flag_neighbors,
        params.max_jump_to_flag_neighbors,
        after_jump_rules(params),
    )


@kernel
def mark_jump(marks, rules, i, g, width, r, c, significance, amplitude):
    """Set the marks of a jump in group(s) ``g .. g + width - 1`` of pixel (r, c), integration ``i``."""
    if rules.neighbours and rules.low < significance < rules.high:
        for gg in range(g, g + width):
            marks[NEIGHBOURS, i, r, c, gg >> 3] |= np.uint8(1 << (gg & 7))
    for k in range(2):
        if rules.after[k, 1] > 0 and amplitude >= rules.after[k, 0]:
            marks[AFTER + k, i, r, c, g >> 3] |= np.uint8(1 << (g & 7))


def jump_marks(shape, params: JumpParams) -> np.ndarray:
    """Zeroed marks for an exposure of ``shape``: what the post-processing must do around each jump.

    One bit per group and pixel in each plane: plane 0, the jump's
    significance is strictly between ``min_jump_to_flag_neighbors`` and
    ``max_jump_to_flag_neighbors`` (its neighbours are flagged); planes 1 and
    2, its amplitude reaches ``after_jump_flag_e1`` / ``after_jump_flag_e2``
    (groups after it are flagged), present only when an after-jump rule is
    on. The search decides them, so nothing is measured again. One plane
    costs ``ceil(ngroups / 8)`` bytes a pixel against ``5 * ngroups`` of the
    input (0.04x for 10 groups).

    Returns
    -------
    (1 or 3, nints, nrows, ncols, ceil(ngroups / 8)) uint8 ndarray
        Without pixels when no rule is on.
    """
    nints, ngroups, nrows, ncols = shape
    after = max(params.after_jump_flag_groups1, params.after_jump_flag_groups2) > 0
    if not (params.flag_4_neighbors or after):
        return np.zeros((1, 0, 0, 0, 0), np.uint8)
    return np.zeros((3 if after else 1, nints, nrows, ncols, (ngroups + 7) // 8), np.uint8)


def postprocess_rows(gdq, marks, start: int, stop: int, params: JumpParams) -> int:
    """Neighbours, groups after jumps and clean-up of rows ``start:stop``, in place; the primary count.

    ``marks`` are the search's (:func:`jump_marks`); only rows ``start:stop``
    of ``gdq`` are written, so blocks of rows can run on threads. The count
    is of the JUMP_DET flags in the rows before anything is added, input
    flags included, as jwst counts them.
    """
    return _finish_block(gdq, marks, start, stop, flag_rules(params))


@kernel
def _finish_block(gdq, marks, start, stop, rules):
    """Flag around the marked jumps of rows ``start - 1 .. stop`` what lands in rows ``start:stop``.

    A jump marked for neighbours flags its four neighbours in its group(s);
    one marked for an after-jump rule flags the rule's groups after its
    group (the longer reach wins). Only usable groups are flagged.
    """
    nints, ngroups, nrows, ncols = gdq.shape
    n_primary = count_jumps(gdq, start, stop)
    if marks.shape[1]:
        nbytes = marks.shape[4]
        for i in range(nints):
            for r in range(max(start - 1, 0), min(stop + 1, nrows)):
                for c in range(ncols):
                    any_mark = 0
                    for p in range(marks.shape[0]):
                        for b in range(nbytes):
                            any_mark |= marks[p, i, r, c, b]
                    if any_mark:  # a few pixels
                        _flag_marked(gdq, marks, rules, i, r, c, start, stop)
    remove_jump_from_unusable_inplace(gdq[:, :, start:stop])
    return n_primary


@kernel
def _flag_marked(gdq, marks, rules, i, r, c, start, stop):
    """The flags that the marks of pixel (r, c), integration ``i``, set in rows ``start:stop``."""
    ngroups = gdq.shape[1]
    bits = marks[:, i, r, c]
    for g in range(1, ngroups):
        byte, bit = g >> 3, np.uint8(1 << (g & 7))
        if bits[NEIGHBOURS, byte] & bit:
            _flag_neighbours(gdq, i, g, r, c, start, stop)
        if start <= r < stop and bits.shape[0] > AFTER:
            reach = 0
            for k in range(2):
                if bits[AFTER + k, byte] & bit:
                    reach = max(reach, int(rules.after[k, 1]))
            for later in range(g + 1, min(g + reach, ngroups - 1) + 1):
                set_jump_if_usable(gdq, i, later, r, c)


@kernel
def _flag_neighbours(gdq, i, g, r, c, start, stop):
    """JUMP_DET on the four edge neighbours of pixel (r, c) in group g, within rows ``start:stop``."""
    ncols = gdq.shape[3]
    for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
        if start <= rr < stop and 0 <= cc < ncols:
            set_jump_if_usable(gdq, i, g, rr, cc)
