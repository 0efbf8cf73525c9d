"""Which detection path an exposure takes, decided from GROUPDQ alone.

jwst counts, per integration, the groups in which *every* pixel is
DO_NOT_USE, and from those counts chooses between sigma clipping, a single
pass and the iterative search, or skips the search. The counts are
exposure-wide (a group is "all DO_NOT_USE" only if it is so over the whole
frame), so they are gathered here once, before any tile is processed.
"""

from dataclasses import dataclass

import numpy as np
from numba import njit

from .flags import DO_NOT_USE
from .params import JumpParams

__all__ = ["DetectionPlan", "all_do_not_use_groups", "plan_detection"]


@dataclass(frozen=True)
class DetectionPlan:
    """The outcome of :func:`plan_detection`.

    Attributes
    ----------
    path : {"sigma_clip", "single_pass", "iterative"} or None
        None when the search is skipped.
    skipped_reason : str or None
    min_usable_groups : int
        Usable groups in the integration with the most all-DO_NOT_USE groups.
    total_usable_groups : int
        Groups over all integrations that are not all-DO_NOT_USE.
    """

    path: str | None
    skipped_reason: str | None
    min_usable_groups: int
    total_usable_groups: int


@njit(nogil=True, cache=True)
def all_do_not_use_groups(gdq: np.ndarray) -> np.ndarray:
    """Per (integration, group): is every pixel flagged DO_NOT_USE?

    Each group is scanned only until its first usable pixel, which in real
    data is the first pixel: no temporaries, and no pass over the exposure.

    Returns
    -------
    (nints, ngroups) bool ndarray
    """
    nints, ngroups, nrows, ncols = gdq.shape
    result = np.ones((nints, ngroups), dtype=np.bool_)
    for i in range(nints):
        for g in range(ngroups):
            plane = gdq[i, g]
            for r in range(nrows):
                if not result[i, g]:
                    break
                for c in range(ncols):
                    if not plane[r, c] & DO_NOT_USE:
                        result[i, g] = False
                        break
    return result


def plan_detection(all_dnu: np.ndarray, params: JumpParams) -> DetectionPlan:
    """Choose the detection path as jwst 3.0 does.

    Parameters
    ----------
    all_dnu : (nints, ngroups) bool ndarray
        From :func:`all_do_not_use_groups`.
    params : JumpParams

    Returns
    -------
    DetectionPlan
    """
    nints, ngroups = all_dnu.shape
    flagged_per_int = all_dnu.sum(axis=1)
    min_usable_groups = int(ngroups - flagged_per_int.max())
    total_usable_groups = int(nints * ngroups - flagged_per_int.sum())
    clip_count = nints if params.only_use_ints else total_usable_groups
    can_sigma_clip = clip_count >= params.minimum_sigclip_groups
    if can_sigma_clip:
        path = "sigma_clip"
    elif min_usable_groups < params.minimum_groups:
        reason = (
            f"an integration has only {min_usable_groups} usable groups "
            f"(minimum_groups = {params.minimum_groups})"
        )
        return DetectionPlan(None, reason, min_usable_groups, total_usable_groups)
    elif min_usable_groups - 1 >= params.min_diffs_single_pass:
        path = "single_pass"
    else:
        path = "iterative"
    return DetectionPlan(path, None, min_usable_groups, total_usable_groups)
