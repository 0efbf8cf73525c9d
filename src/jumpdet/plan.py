"""Which detection path an exposure takes, decided from GROUPDQ alone.

jwst counts, per integration, the groups in which *every* pixel is
DO_NOT_USE, and from those counts chooses between sigma clipping, a single
pass and the iterative search, or skips the search. The counts are
exposure-wide (a group is "all DO_NOT_USE" only if it is so over the whole
frame), so they are gathered here once, before any tile is processed.
"""

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from .params import JumpParams

__all__ = ["DetectionPath", "DetectionPlan", "plan_detection"]


class DetectionPath(StrEnum):
    """The three ways jwst searches an exposure (a ``str``: ``path == "sigma_clip"`` holds).

    ``ITERATIVE``: the most significant difference of each pixel, one at a
    time; ``SINGLE_PASS``: every difference far from the pixel's median at
    once; ``SIGMA_CLIP``: astropy's sigma clipping across integrations (or
    groups). :mod:`jumpdet.twopoint` describes each.
    """

    ITERATIVE = "iterative"
    SINGLE_PASS = "single_pass"
    SIGMA_CLIP = "sigma_clip"


@dataclass(frozen=True)
class DetectionPlan:
    """The outcome of :func:`plan_detection`.

    Attributes
    ----------
    path : DetectionPath, "likelihood" or None
        None when the search is skipped; "likelihood" is set by
        :func:`jumpdet.detect.detect_jumps` when ``method="likelihood"`` (its
        search runs whichever two-point path jwst would take).
    skipped_reason : str or None
    min_usable_groups : int
        Usable groups in the integration with the most all-DO_NOT_USE groups.
    total_usable_groups : int
        Groups over all integrations that are not all-DO_NOT_USE.
    """

    path: DetectionPath | None
    skipped_reason: str | None
    min_usable_groups: int
    total_usable_groups: int


def plan_detection(all_dnu: np.ndarray, params: JumpParams) -> DetectionPlan:
    """Choose the detection path as jwst 3.0 does.

    Parameters
    ----------
    all_dnu : (nints, ngroups) bool ndarray
        Groups in which every pixel is DO_NOT_USE
        (:func:`jumpdet.exposure.all_do_not_use_groups`).
    params : JumpParams
        Reads ``only_use_ints``, ``minimum_sigclip_groups``,
        ``minimum_groups`` and ``min_diffs_single_pass``.

    Returns
    -------
    DetectionPlan
        The path, or why the search is skipped, and the usable-group counts.
    """
    nints, ngroups = all_dnu.shape
    flagged_per_int = all_dnu.sum(axis=1)
    min_usable_groups = int(ngroups - flagged_per_int.max())
    total_usable_groups = int(nints * ngroups - flagged_per_int.sum())
    clip_count = nints if params.only_use_ints else total_usable_groups
    can_sigma_clip = clip_count >= params.minimum_sigclip_groups
    if can_sigma_clip:
        path = DetectionPath.SIGMA_CLIP
    elif min_usable_groups < params.minimum_groups:
        reason = (
            f"an integration has only {min_usable_groups} usable groups "
            f"(minimum_groups = {params.minimum_groups})"
        )
        return DetectionPlan(None, reason, min_usable_groups, total_usable_groups)
    elif min_usable_groups - 1 >= params.min_diffs_single_pass:
        path = DetectionPath.SINGLE_PASS
    else:
        path = DetectionPath.ITERATIVE
    return DetectionPlan(path, None, min_usable_groups, total_usable_groups)
