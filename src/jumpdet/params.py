"""Detection parameters: one frozen object, built from the step in one place.

:class:`JumpParams` is what the pure core (:mod:`jumpdet.twopoint`,
:mod:`jumpdet.large_events.snowballs`, :mod:`jumpdet.large_events.showers`) receives. Its fields carry
the step's parameter names wherever the unit is the step's own; where the core
needs another unit, the field name says so (``_e`` electrons, ``_groups``,
``_px`` pixels of full ellipse axis) and :meth:`JumpParams.from_jwst` is the
single function that converts (:func:`params_from_step` hands it a step's
parameters). jwst 3.0 performs the same conversions, scattered
between ``jwst.jump.JumpStep._setup_jump_data`` and ``stcal.jump``; they are
gathered and named here, and each is listed in ``docs/parameters.rst``.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = [
    "JWST_INTERNAL_SHOWER_AMPLITUDE_DN_PER_S",
    "JWST_PARAMETERS",
    "METHODS",
    "JumpParams",
    "check_ring_radii",
    "params_from_step",
]

# the searches: jwst's two-point differences, or the likelihood test (jumpdet.likelihood)
METHODS = ("two_point", "likelihood")

# jwst 3.0 never reads the step's ``max_shower_amplitude``; it scales this
# stcal default (DN/s) by the group time instead.  See params_from_step and
# docs/large_events.rst.
JWST_INTERNAL_SHOWER_AMPLITUDE_DN_PER_S = 6.0


@dataclass(frozen=True, kw_only=True)
class JumpParams:
    """Parameters of jump detection, in the units the core works in.

    Defaults equal jwst 3.0's ``JumpStep`` spec defaults. The three fields
    that jwst derives from the group time (``snowball_groups_masked_next_int``,
    ``shower_groups_masked_after``, ``max_shower_amplitude_e_per_group``) have
    no default: they are required when snowballs (with their cores carried to
    the next integration) or showers are searched. :meth:`from_jwst` builds
    the whole object from jwst's parameter names and units.

    Attributes
    ----------
    method : {"two_point", "likelihood"}
        The search: jwst's two-point differences (flags identical to jwst's),
        or the likelihood test of :mod:`jumpdet.likelihood`.
    rejection_threshold : float
        Sigma threshold for pixels with 4 or more usable differences (with
        ``method="likelihood"``, per integration, as the two-sided Gaussian
        false-positive rate of a whole clean ramp, split over its tests: see
        :func:`jumpdet.likelihood.chi_square_thresholds`).
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
        Frames averaged into each group. The read-noise variance of a group
        difference is ``(read_noise * gain)**2 / nframes`` electrons squared,
        ``read_noise`` being the READNOISE reference's value: the noise (DN)
        of the difference of two single-frame reads (CDS), as jwst uses it.
    groupgap : int
        Frames skipped between groups (``meta.exposure.groupgap``); used by
        the likelihood search only.
    read_times_s : tuple of tuple of float, or None
        Times of the reads averaged into each group, seconds
        (``meta.exposure.read_times``), for uneven readouts; when given, the
        likelihood search uses them instead of ``nframes`` and ``groupgap``.
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
    snowball_groups_masked_next_int : int or None
        Snowball cores are flagged in groups ``1 .. min(this, ngroups) - 1``
        of the next integration: none when it is 1 or less (negative too).
        Required with ``expand_large_events``, ``sat_required_snowball`` and
        ``mask_snowball_core_next_int``.
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
    shower_groups_masked_after : int or None
        Groups after a shower's group that are flagged too; negative: not even
        the shower's own group is flagged (the shower is still counted).
        Required with ``find_showers``.
    max_shower_amplitude_e_per_group : float or None
        Largest change of a pixel's mean group difference (electrons per
        group) that shower flags may cause before they are reverted.
        Required with ``find_showers``.

    Raises
    ------
    ValueError
        For a negative threshold, ``nframes < 1``, ring radii jwst cannot use
        (with ``find_showers``, see :func:`check_ring_radii`), or a required
        field left out.
    TypeError
        For a positional argument or an unknown field.

    Examples
    --------
    >>> JumpParams(rejection_threshold=5.0).four_group_rejection_threshold
    5.0
    >>> showers = JumpParams(
    ...     find_showers=True, shower_groups_masked_after=5, max_shower_amplitude_e_per_group=16.65
    ... )
    >>> showers.extend_min_area
    90
    """

    method: str = "two_point"
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
    groupgap: int = 0
    read_times_s: tuple[tuple[float, ...], ...] | None = None
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
    snowball_groups_masked_next_int: int | None = None
    max_extended_width_px: float = 400.0

    find_showers: bool = False
    extend_snr_threshold: float = 1.2
    extend_min_area: int = 90
    extend_inner_radius: float = 1.0
    extend_outer_radius: float = 2.6
    extend_ellipse_expand_ratio: float = 1.1
    shower_groups_masked_after: int | None = None
    max_shower_amplitude_e_per_group: float | None = None

    def __post_init__(self):
        """Refuse values jwst 3.0 cannot run with, and required fields left out."""
        # Only what jwst 3.0 itself cannot run with is refused; group counts may be
        # negative (see above), as they are in jwst when a time is negative.
        for name in (
            "rejection_threshold",
            "three_group_rejection_threshold",
            "four_group_rejection_threshold",
        ):
            _require(getattr(self, name) >= 0, name, "must be >= 0")
        _require(self.method in METHODS, "method", f"must be one of {METHODS}, got {self.method!r}")
        _require(self.nframes >= 1, "nframes", "must be >= 1 (frames per group)")
        _require(self.groupgap >= 0, "groupgap", "must be >= 0 (frames skipped between groups)")
        if self.find_showers:
            check_ring_radii(self.extend_inner_radius, self.extend_outer_radius)
        carries = self.sat_required_snowball and self.mask_snowball_core_next_int  # cores to next int
        for name, feature, needed in (
            ("snowball_groups_masked_next_int", "expand_large_events", self.expand_large_events and carries),
            ("shower_groups_masked_after", "find_showers", self.find_showers),
            ("max_shower_amplitude_e_per_group", "find_showers", self.find_showers),
        ):
            if needed and getattr(self, name) is None:
                raise ValueError(
                    f"{name} is required with {feature} (jwst: {_FROM_GROUP_TIME[name]}); "
                    "JumpParams.from_jwst converts jwst's parameters"
                )

    def replace(self, **changes) -> JumpParams:
        """Return a copy with some fields changed (validated again).

        Parameters
        ----------
        **changes
            Fields and their new values.

        Returns
        -------
        JumpParams
            A new object; this one is unchanged.
        """
        return dataclasses.replace(self, **changes)

    @property
    def thresholds(self) -> tuple[float, float, float]:
        """The thresholds (sigma) for 4 or more, 3 and 2 usable differences."""
        return (
            self.rejection_threshold,
            self.four_group_rejection_threshold,
            self.three_group_rejection_threshold,
        )

    @classmethod
    def from_jwst(
        cls,
        *,
        group_time_s: float,
        nframes: int,
        gain: np.ndarray,
        groupgap: int = 0,
        read_times=None,
        method: str = "two_point",
        **jwst_step_parameters,
    ) -> JumpParams:
        """Build the parameters from jwst 3.0 ``JumpStep`` parameters, in jwst's names and units.

        Every unit conversion of the detection lives here: seconds become
        whole groups (floor division, as jwst), DN thresholds become
        electrons with the median gain (in float32, as jwst), snowball radii
        become full ellipse axes. Parameters left out take jwst 3.0's spec
        defaults.

        Parameters
        ----------
        group_time_s : float
            Time between groups in seconds (``meta.exposure.group_time``);
            must be positive.
        nframes : int
            Frames averaged into each group (``meta.exposure.nframes``).
        gain : (nrows, ncols) ndarray
            Gain in e/DN; its NaN-ignoring median converts the after-jump DN
            thresholds (read only when an after-jump time spans a group).
        groupgap : int
            ``meta.exposure.groupgap``, frames skipped between groups (the
            likelihood search's covariance).
        read_times : sequence of sequences of float, or None
            ``meta.exposure.read_times`` (seconds, the reads of each group), if
            the exposure has them; None or empty otherwise.
        method : {"two_point", "likelihood"}
            jumpdet's search (not a jwst parameter; jwst has two-point only).
        **jwst_step_parameters
            Any of :data:`JWST_PARAMETERS`, e.g. ``rejection_threshold=5.0``
            or ``after_jump_flag_time1=30.0`` (seconds), with jwst's meaning.
            ``max_shower_amplitude`` and ``use_ellipses`` are accepted and,
            as in jwst 3.0, not read.

        Returns
        -------
        JumpParams
            The parameters in the core's units.

        Raises
        ------
        TypeError
            For a name that is not a jwst ``JumpStep`` detection parameter.
        ValueError
            With one line naming the parameter, for values jwst 3.0 cannot
            run with either: a group time that is not a positive number, a
            non-finite time, ring radii refused by :func:`check_ring_radii`
            (with ``find_showers``).

        Examples
        --------
        >>> gain = np.full((4, 4), 2.0, np.float32)
        >>> params = JumpParams.from_jwst(group_time_s=2.775, nframes=1, gain=gain,
        ...                               after_jump_flag_dn1=1000.0, after_jump_flag_time1=20.0)
        >>> params.after_jump_flag_e1, params.after_jump_flag_groups1
        (2000.0, 7)
        """
        unknown = sorted(jwst_step_parameters.keys() - JWST_PARAMETERS)
        if unknown:
            raise TypeError(f"not jwst 3.0 JumpStep detection parameters: {', '.join(unknown)}")
        if not (group_time_s and math.isfinite(group_time_s) and group_time_s > 0):
            raise ValueError(
                f"the group time is {group_time_s!r} s; it must be a positive number of seconds "
                "(meta.exposure.group_time, the GROUPTIM keyword)"
            )
        jwst = {**_JWST_CONVERTED_DEFAULTS, **jwst_step_parameters}
        groups1 = _groups_within(jwst, "after_jump_flag_time1", group_time_s)
        groups2 = _groups_within(jwst, "after_jump_flag_time2", group_time_s)
        # the median of a full-frame gain takes tens of milliseconds: only when a rule uses it
        gain_median = median_gain(gain) if groups1 > 0 or groups2 > 0 else np.float32(0)
        same_units = {name: value for name, value in jwst.items() if name not in _JWST_CONVERTED_DEFAULTS}
        return cls(
            **same_units,
            # DN -> electrons with the median gain, seconds -> whole groups
            after_jump_flag_e1=electrons_from_dn(jwst["after_jump_flag_dn1"], gain_median),
            after_jump_flag_groups1=groups1,
            after_jump_flag_e2=electrons_from_dn(jwst["after_jump_flag_dn2"], gain_median),
            after_jump_flag_groups2=groups2,
            nframes=int(nframes),
            groupgap=int(groupgap or 0),
            read_times_s=read_times_seconds(read_times),
            method=method,
            # jwst doubles these two: the step gives radii, the ellipse code full axes
            sat_expand_px=2 * jwst["sat_expand"],
            max_extended_width_px=2 * jwst["max_extended_radius"],
            snowball_groups_masked_next_int=_groups_within(
                jwst, "snowball_time_masked_next_int", group_time_s
            ),
            shower_groups_masked_after=_groups_within(jwst, "time_masked_after_shower", group_time_s),
            # jwst 3.0 ignores the spec's max_shower_amplitude (DN/s) and uses 6 DN/s
            # times the group time; docs/large_events.rst ("max_shower_amplitude is not
            # used") explains why we keep that.
            max_shower_amplitude_e_per_group=JWST_INTERNAL_SHOWER_AMPLITUDE_DN_PER_S * group_time_s,
        )


# jwst 3.0 JumpStep parameters that JumpParams holds in other units (or not at all), with
# jwst's spec defaults; tests/test_params.py checks them against jwst's spec.
_JWST_CONVERTED_DEFAULTS = {
    "after_jump_flag_dn1": 0.0,  # DN -> after_jump_flag_e1
    "after_jump_flag_time1": 0.0,  # s -> after_jump_flag_groups1
    "after_jump_flag_dn2": 0.0,
    "after_jump_flag_time2": 0.0,
    "sat_expand": 2,  # radius -> sat_expand_px (full axis)
    "max_extended_radius": 200,  # radius -> max_extended_width_px (full axis)
    "snowball_time_masked_next_int": 4000,  # s -> snowball_groups_masked_next_int
    "time_masked_after_shower": 15.0,  # s -> shower_groups_masked_after
    "max_shower_amplitude": 4.0,  # DN/s; not read by jwst 3.0 (see from_jwst)
    "use_ellipses": False,  # deprecated in jwst; not read
}
# The fields of JumpParams that are not jwst parameters under the same name (method, groupgap
# and read_times_s are jumpdet's: the search, and the readout from meta.exposure)
_DERIVED_FIELDS = frozenset(
    {
        "after_jump_flag_e1",
        "after_jump_flag_groups1",
        "after_jump_flag_e2",
        "after_jump_flag_groups2",
        "nframes",
        "groupgap",
        "read_times_s",
        "method",
        "sat_expand_px",
        "max_extended_width_px",
        "snowball_groups_masked_next_int",
        "shower_groups_masked_after",
        "max_shower_amplitude_e_per_group",
    }
)
#: The jwst 3.0 ``JumpStep`` parameters :meth:`JumpParams.from_jwst` accepts (all
#: but ``maximum_cores``, which is not a detection parameter).
JWST_PARAMETERS = frozenset(
    {f.name for f in dataclasses.fields(JumpParams) if f.name not in _DERIVED_FIELDS}
    | _JWST_CONVERTED_DEFAULTS.keys()
)
# How jwst derives the fields that depend on the group time (for error messages)
_FROM_GROUP_TIME = {
    "snowball_groups_masked_next_int": "snowball_time_masked_next_int // group time",
    "shower_groups_masked_after": "time_masked_after_shower // group time",
    "max_shower_amplitude_e_per_group": "6 DN/s x group time",
}


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


def _groups_within(jwst_parameters, name: str, group_time_s: float) -> int:
    """jwst's time parameter ``name`` (seconds) as whole groups; a clear error if not finite."""
    seconds = jwst_parameters[name]
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


def params_from_step(
    step, *, group_time_s: float, nframes: int, gain: np.ndarray, groupgap: int = 0, read_times=None
) -> JumpParams:
    """Build :class:`JumpParams` from a step's parameters with :meth:`JumpParams.from_jwst`.

    Parameters
    ----------
    step : object
        Anything with the attributes of ``JumpStep.spec`` (the step itself);
        those named in :data:`JWST_PARAMETERS` are read.
    group_time_s : float
        ``meta.exposure.group_time`` in seconds; must be positive.
    nframes : int
        ``meta.exposure.nframes``, frames averaged per group.
    gain : (nrows, ncols) ndarray
        Gain in e/DN, for the median used by the after-jump thresholds.
    groupgap : int
        ``meta.exposure.groupgap``, frames skipped between groups.
    read_times : sequence of sequences of float, or None
        ``meta.exposure.read_times`` (seconds, the reads of each group), if
        the exposure has them; None or empty otherwise.

    Returns
    -------
    JumpParams
        The step's parameters in the core's units.

    Raises
    ------
    ValueError
        As :meth:`JumpParams.from_jwst`.
    """
    parameters = {name: getattr(step, name) for name in sorted(JWST_PARAMETERS)}
    return JumpParams.from_jwst(
        group_time_s=group_time_s,
        nframes=nframes,
        gain=gain,
        groupgap=groupgap,
        read_times=read_times,
        method=step.method,
        **parameters,
    )


def read_times_seconds(read_times) -> tuple[tuple[float, ...], ...] | None:
    """``meta.exposure.read_times`` as a hashable tuple of tuples of seconds; None when absent or empty."""
    if read_times is None or len(read_times) == 0:
        return None
    return tuple(
        tuple(float(t) for t in np.atleast_1d(np.asarray(group, dtype=np.float64))) for group in read_times
    )
