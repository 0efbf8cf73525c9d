"""Detection parameters: one frozen object, built from the step in one place.

:class:`JumpParams` is what the pure core (:mod:`jumpdet.twopoint`,
:mod:`jumpdet.large_events.snowballs`, :mod:`jumpdet.large_events.showers`) receives. Its fields carry
the step's parameter names wherever the unit is the step's own; where the core
needs another unit, the field name says so (``_e`` electrons, ``_groups``,
``_px`` pixels of full ellipse axis) and :func:`params_from_step` is the single
function that converts. jwst 3.0 performs the same conversions, scattered
between ``jwst.jump.JumpStep._setup_jump_data`` and ``stcal.jump``; they are
gathered and named here, and each is listed in ``docs/parameters.rst``.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["JWST_INTERNAL_SHOWER_AMPLITUDE_DN_PER_S", "JumpParams", "check_ring_radii", "params_from_step"]

# jwst 3.0 never reads the step's ``max_shower_amplitude``; it scales this
# stcal default (DN/s) by the group time instead.  See params_from_step and
# docs/large_events.rst.
JWST_INTERNAL_SHOWER_AMPLITUDE_DN_PER_S = 6.0


@dataclass(frozen=True, kw_only=True)
class JumpParams:
    """Parameters of jump detection, in the units the core works in.

    Defaults equal jwst 3.0's ``JumpStep`` spec defaults after conversion with
    a group time of 1 s and a median gain of 1 e/DN.

    Attributes
    ----------
    rejection_threshold : float
        Sigma threshold for pixels with 4 or more usable differences.
    three_group_rejection_threshold : float
        Sigma threshold for pixels with exactly 2 usable differences.
    four_group_rejection_threshold : float
        Sigma threshold for pixels with exactly 3 usable differences.
    flag_4_neighbors : bool
        Also flag the four edge neighbours of each jump whose significance
        lies strictly between the two neighbour limits below.
    max_jump_to_flag_neighbors, min_jump_to_flag_neighbors : float
        Significance limits (sigma) for neighbour flagging.
    after_jump_flag_e1, after_jump_flag_e2 : float
        Jump amplitude (electrons) above which later groups are flagged;
        it matters only when the matching number of groups is positive.
    after_jump_flag_groups1, after_jump_flag_groups2 : int
        Number of groups flagged after such a jump; 0 or negative: none.
    nframes : int
        Frames averaged into each group; the read-noise variance of a group
        difference is ``2 * read_noise**2 / nframes`` (electrons squared).
    minimum_groups : int
        Fewest usable groups an integration may have before detection is
        skipped (unless sigma clipping applies).
    minimum_sigclip_groups : int
        Integrations (``only_use_ints``) or groups needed to switch to sigma
        clipping across integrations.
    only_use_ints : bool
        Sigma-clip each group against the same group of other integrations
        only (True), or against all differences of the pixel (False).
    min_diffs_single_pass : int
        Usable differences per integration from which every outlier is
        flagged in one pass instead of iteratively.
    expand_large_events, min_sat_area, min_jump_area, expand_factor, \
sat_required_snowball, min_sat_radius_extend, edge_size, \
mask_snowball_core_next_int : see the step spec
        Snowball settings; areas in pixels, radii in pixels.
    sat_expand_px : float
        Pixels added to each full axis of an extended saturated core.
    snowball_groups_masked_next_int : int
        Snowball cores are flagged in groups ``1 .. min(this, ngroups) - 1``
        of the next integration: none when it is 1 or less (negative too).
    max_extended_width_px : float
        Cap on any full ellipse axis drawn for snowballs and showers.
    find_showers, extend_snr_threshold, extend_min_area, extend_ellipse_expand_ratio : \
see the step spec
        MIRI shower settings; areas in pixels.
    extend_inner_radius, extend_outer_radius : float
        The ring kernel, ``astropy.convolution.Ring2DKernel(extend_inner_radius,
        extend_outer_radius)`` as jwst builds it. That function's second
        argument is the ring's *width*: the ring spans ``extend_inner_radius``
        to ``extend_inner_radius + extend_outer_radius`` pixels, so the inner
        radius may exceed the "outer" one. With ``find_showers`` they must
        make a kernel jwst can use (see :func:`check_ring_radii`).
    shower_groups_masked_after : int
        Groups after a shower's group that are flagged too; negative: not even
        the shower's own group is flagged (the shower is still counted).
    max_shower_amplitude_e_per_group : float
        Largest change of a pixel's mean group difference (electrons per
        group) that shower flags may cause before they are reverted.
    """

    rejection_threshold: float = 4.0
    three_group_rejection_threshold: float = 6.0
    four_group_rejection_threshold: float = 5.0
    flag_4_neighbors: bool = True
    max_jump_to_flag_neighbors: float = 1000.0
    min_jump_to_flag_neighbors: float = 10.0
    after_jump_flag_e1: float = 0.0
    after_jump_flag_groups1: int = 0
    after_jump_flag_e2: float = 0.0
    after_jump_flag_groups2: int = 0
    nframes: int = 1
    minimum_groups: int = 3
    minimum_sigclip_groups: int = 100
    only_use_ints: bool = True
    min_diffs_single_pass: int = 10

    expand_large_events: bool = False
    min_sat_area: float = 1.0
    min_jump_area: float = 5.0
    expand_factor: float = 2.0
    sat_required_snowball: bool = True
    min_sat_radius_extend: float = 2.5
    sat_expand_px: float = 4.0
    edge_size: int = 25
    mask_snowball_core_next_int: bool = True
    snowball_groups_masked_next_int: int = 4000
    max_extended_width_px: float = 400.0

    find_showers: bool = False
    extend_snr_threshold: float = 1.2
    extend_min_area: int = 90
    extend_inner_radius: float = 1.0
    extend_outer_radius: float = 2.6
    extend_ellipse_expand_ratio: float = 1.1
    shower_groups_masked_after: int = 15
    max_shower_amplitude_e_per_group: float = JWST_INTERNAL_SHOWER_AMPLITUDE_DN_PER_S

    def __post_init__(self):
        # Only what jwst 3.0 itself cannot run with is refused; group counts may be
        # negative (see above), as they are in jwst when a time is negative.
        for name in (
            "rejection_threshold",
            "three_group_rejection_threshold",
            "four_group_rejection_threshold",
        ):
            _require(getattr(self, name) >= 0, name, "must be >= 0")
        _require(self.nframes >= 1, "nframes", "must be >= 1 (frames per group)")
        if self.find_showers:
            check_ring_radii(self.extend_inner_radius, self.extend_outer_radius)

    def replace(self, **changes) -> JumpParams:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _require(ok: bool, name: str, what: str) -> None:
    if not ok:
        raise ValueError(f"{name} {what}")


def check_ring_radii(inner: float, outer: float) -> None:
    """Refuse ring radii on which jwst 3.0's shower search fails, with a one-line reason.

    jwst builds ``Ring2DKernel(extend_inner_radius, extend_outer_radius)``,
    whose second argument is the ring's width. astropy raises for a negative
    radius or width and divides by zero for a zero width; a ring whose outer
    edge is within half a pixel of the centre (``inner + outer <= 0.5``) is a
    1 x 1 kernel, on which jwst's ``convolve_fast`` fails. Checked only when ``find_showers`` is on:
    otherwise jwst never builds the kernel.
    """
    for name, value in (("extend_inner_radius", inner), ("extend_outer_radius", outer)):
        if not math.isfinite(value):
            raise ValueError(f"{name}={value!r} must be a finite number of pixels")
    if inner < 0:
        raise ValueError(
            f"extend_inner_radius={inner!r} must be >= 0 pixels (jwst 3.0 fails on a negative one too)"
        )
    if outer <= 0:
        raise ValueError(
            f"extend_outer_radius={outer!r} must be > 0: jwst 3.0 uses it as the width of the ring kernel "
            "(the ring spans extend_inner_radius to extend_inner_radius + extend_outer_radius pixels) "
            "and fails on a width <= 0"
        )
    if inner + outer <= 0.5:
        raise ValueError(
            f"extend_inner_radius + extend_outer_radius = {inner + outer!r} must exceed 0.5 pixel: "
            "a smaller ring kernel is a single pixel, on which jwst 3.0's shower search fails; "
            "increase extend_outer_radius (the ring's width)"
        )


def _groups_within(step, name: str, group_time_s: float) -> int:
    """The step's time parameter ``name`` (seconds) as whole groups; a clear error if not finite."""
    seconds = getattr(step, name)
    if not math.isfinite(seconds):
        raise ValueError(f"{name}={seconds!r} must be a finite number of seconds")
    return groups_within(seconds, group_time_s)


def groups_within(seconds: float, group_time_s: float) -> int:
    """Whole groups that fit in ``seconds``, as jwst counts them (floor division).

    A negative time gives a negative count, as in jwst; the core treats it as
    jwst does (see :class:`JumpParams`).
    """
    return int(seconds // group_time_s)


def electrons_from_dn(dn: float, median_gain: np.float32) -> float:
    """Convert a DN threshold to electrons with the median gain, in float32.

    jwst multiplies the Python float by ``np.nanmedian(gain)`` (a float32
    scalar), so the product is rounded to float32; doing the same keeps flags
    identical at the threshold.
    """
    return float(np.float32(dn) * np.float32(median_gain))


def median_gain(gain: np.ndarray) -> np.float32:
    """NaN-ignoring median of the gain array, as a float32 scalar."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
        return np.float32(np.nanmedian(gain.astype(np.float32, copy=False)))


def params_from_step(step, *, group_time_s: float, nframes: int, gain: np.ndarray) -> JumpParams:
    """Build :class:`JumpParams` from a step's parameters: every unit conversion lives here.

    Parameters
    ----------
    step : object
        Anything with the attributes of ``JumpStep.spec`` (the step itself).
    group_time_s : float
        ``meta.exposure.group_time`` in seconds; must be positive.
    nframes : int
        ``meta.exposure.nframes``, frames averaged per group.
    gain : (nrows, ncols) ndarray
        Gain in e/DN, for the median used by the after-jump thresholds.

    Returns
    -------
    JumpParams

    Raises
    ------
    ValueError
        With one line naming the step parameter, for values jwst 3.0 cannot
        run with either: a non-finite time, ring radii refused by
        :func:`check_ring_radii` (with ``find_showers``), a group time that is
        not a positive number.
    """
    if not (group_time_s and math.isfinite(group_time_s) and group_time_s > 0):
        raise ValueError(
            f"meta.exposure.group_time is {group_time_s!r}; it must be a positive number of seconds "
            "(set it in the input file's GROUPTIM keyword)"
        )
    groups1 = _groups_within(step, "after_jump_flag_time1", group_time_s)
    groups2 = _groups_within(step, "after_jump_flag_time2", group_time_s)
    # the median of a full-frame gain takes tens of milliseconds: only when a rule uses it
    gain_median = median_gain(gain) if groups1 > 0 or groups2 > 0 else np.float32(0)
    return JumpParams(
        rejection_threshold=step.rejection_threshold,
        three_group_rejection_threshold=step.three_group_rejection_threshold,
        four_group_rejection_threshold=step.four_group_rejection_threshold,
        flag_4_neighbors=step.flag_4_neighbors,
        max_jump_to_flag_neighbors=step.max_jump_to_flag_neighbors,
        min_jump_to_flag_neighbors=step.min_jump_to_flag_neighbors,
        # DN -> electrons with the median gain, seconds -> whole groups
        after_jump_flag_e1=electrons_from_dn(step.after_jump_flag_dn1, gain_median),
        after_jump_flag_groups1=groups1,
        after_jump_flag_e2=electrons_from_dn(step.after_jump_flag_dn2, gain_median),
        after_jump_flag_groups2=groups2,
        nframes=int(nframes),
        minimum_groups=step.minimum_groups,
        minimum_sigclip_groups=step.minimum_sigclip_groups,
        only_use_ints=step.only_use_ints,
        min_diffs_single_pass=step.min_diffs_single_pass,
        expand_large_events=step.expand_large_events,
        min_sat_area=step.min_sat_area,
        min_jump_area=step.min_jump_area,
        expand_factor=step.expand_factor,
        sat_required_snowball=step.sat_required_snowball,
        min_sat_radius_extend=step.min_sat_radius_extend,
        # jwst doubles these two: the step gives radii, the ellipse code full axes
        sat_expand_px=2 * step.sat_expand,
        max_extended_width_px=2 * step.max_extended_radius,
        edge_size=step.edge_size,
        mask_snowball_core_next_int=step.mask_snowball_core_next_int,
        snowball_groups_masked_next_int=_groups_within(step, "snowball_time_masked_next_int", group_time_s),
        find_showers=step.find_showers,
        extend_snr_threshold=step.extend_snr_threshold,
        extend_min_area=step.extend_min_area,
        extend_inner_radius=step.extend_inner_radius,
        extend_outer_radius=step.extend_outer_radius,
        extend_ellipse_expand_ratio=step.extend_ellipse_expand_ratio,
        shower_groups_masked_after=_groups_within(step, "time_masked_after_shower", group_time_s),
        # jwst 3.0 ignores the spec's max_shower_amplitude (DN/s) and uses 6 DN/s
        # times the group time; docs/large_events.rst ("max_shower_amplitude is not
        # used") explains why we keep that.
        max_shower_amplitude_e_per_group=JWST_INTERNAL_SHOWER_AMPLITUDE_DN_PER_S * group_time_s,
    )
