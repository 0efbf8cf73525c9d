"""Synthetic up-the-ramp data with known (injected) jumps.

The demo, the tests and the benchmark build their inputs here, so detections can
be scored against :attr:`SyntheticRamp.jumps`. Only numpy is imported at module
level; :func:`to_ramp_model` imports stdatamodels when called.

Noise model: the charge is a running sum of Poisson draws in electrons, one per
group interval, converted to DN with the gain, plus independent read noise per
group read. ``read_noise`` is what a JWST READNOISE reference holds: the noise
of the difference of two single-frame reads (CDS), i.e. sqrt(2) times the
single-read noise; stcal's jump detection and ramp fitting read it that way.
Each group read thus gets ``read_noise / sqrt(2 * nframes)`` DN, and a group
difference has variance ``flux_e_per_group + read_noise_e**2 / nframes`` (e**2,
i.e. ``2 * single_read_e**2 / nframes`` for the read noise), the variance
jwst's two-point detection assumes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from jumpdet.flags import DO_NOT_USE, REFERENCE_PIXEL, SATURATED

__all__ = [
    "InjectedJump",
    "SyntheticRamp",
    "jump_significance_sigma",
    "miri_imager_demo",
    "simulate_ramp",
    "to_ramp_model",
    "to_reference_models",
]

# exposure type and readout pattern of an imaging exposure, by instrument
_IMAGING_MODES = {
    "MIRI": ("MIR_IMAGE", "FAST"),
    "NIRCAM": ("NRC_IMAGE", "RAPID"),
    "NIRISS": ("NIS_IMAGE", "NISRAPID"),
}


@dataclass(frozen=True)
class InjectedJump:
    """One jump added to a simulated ramp.

    The jump appears between groups ``group - 1`` and ``group``: ``amplitude_dn``
    is added to ``group`` and to every later group of the integration.
    """

    integration: int
    group: int
    row: int
    col: int
    amplitude_dn: float


def jump_significance_sigma(amplitude_dn, *, gain, read_noise_dn, flux_dn_per_s, group_time, nframes=1):
    """Significance of a jump relative to the noise of one group difference.

    Parameters
    ----------
    amplitude_dn, gain, read_noise_dn, flux_dn_per_s : float or ndarray
        Jump amplitude (DN, sign ignored), gain (e/DN), READNOISE reference
        value (CDS, DN) and signal rate of the pixel (DN/s); broadcast together.
    group_time : float
        Time between groups, s.
    nframes : int
        Frames averaged into each group.

    Returns
    -------
    float or ndarray
        ``|amplitude_e| / sqrt(flux_e_per_group + read_noise_e**2 / nframes)``, in sigma.

    Examples
    --------
    >>> float(jump_significance_sigma(100.0, gain=2.0, read_noise_dn=5.0, flux_dn_per_s=0.0, group_time=10.0))
    20.0
    """
    amplitude_e = np.abs(np.asarray(amplitude_dn, dtype=np.float64)) * gain
    read_noise_e = np.asarray(read_noise_dn, dtype=np.float64) * gain
    variance_e2 = np.asarray(flux_dn_per_s, dtype=np.float64) * gain * group_time
    variance_e2 = variance_e2 + read_noise_e**2 / nframes
    return amplitude_e / np.sqrt(variance_e2)


@dataclass(frozen=True, eq=False)
class SyntheticRamp:
    """A simulated exposure and the jumps injected into it.

    Attributes
    ----------
    data : (nints, ngroups, nrows, ncols) float32 ndarray
        Ramp values, DN, bias included.
    groupdq : (nints, ngroups, nrows, ncols) uint8 ndarray
        GROUPDQ; only SATURATED is ever set by the simulation.
    pixeldq : (nrows, ncols) uint32 ndarray
        PIXELDQ.
    gain, read_noise, flux_dn_per_s : (nrows, ncols) float32 ndarray
        Gain (e/DN), READNOISE reference value (CDS, DN; see the module notes)
        and signal rate (DN/s) used to simulate.
    group_time : float
        Time between groups, s.
    nframes : int
        Frames averaged into each group.
    jumps : tuple of InjectedJump
        The injected jumps, ordered by integration, group, row and column.
    """

    data: np.ndarray
    groupdq: np.ndarray
    pixeldq: np.ndarray
    gain: np.ndarray
    read_noise: np.ndarray
    flux_dn_per_s: np.ndarray
    group_time: float
    nframes: int
    jumps: tuple[InjectedJump, ...]

    def significance_sigma(self) -> np.ndarray:
        """Significance of each injected jump, sigma, in the order of :attr:`jumps`."""
        (_, _, rows, cols), amp = self._jump_index()
        return jump_significance_sigma(
            amp,
            gain=self.gain[rows, cols],
            read_noise_dn=self.read_noise[rows, cols],
            flux_dn_per_s=self.flux_dn_per_s[rows, cols],
            group_time=self.group_time,
            nframes=self.nframes,
        )

    def jumps_above(self, min_sigma: float) -> tuple[InjectedJump, ...]:
        """Injected jumps whose significance is at least ``min_sigma`` sigma."""
        keep = self.significance_sigma() >= min_sigma
        return tuple(j for j, k in zip(self.jumps, keep, strict=True) if k)

    def jump_mask(self, min_sigma: float = 0.0) -> np.ndarray:
        """Boolean array shaped like :attr:`data`, True in each group that received a jump.

        Only jumps of at least ``min_sigma`` sigma are marked.
        """
        mask = np.zeros(self.data.shape, dtype=bool)
        index, _ = self._jump_index()
        keep = self.significance_sigma() >= min_sigma
        mask[tuple(i[keep] for i in index)] = True
        return mask

    def _jump_index(self):
        """((integration, group, row, col) index arrays, amplitudes in DN) of the jumps."""
        index = np.array([(j.integration, j.group, j.row, j.col) for j in self.jumps], np.intp).reshape(-1, 4)
        return tuple(index.T), np.array([j.amplitude_dn for j in self.jumps], dtype=np.float64)


def simulate_ramp(
    shape,
    *,
    seed,
    group_time=2.775,
    nframes=1,
    gain=5.5,
    read_noise=14.0,
    flux_dn_per_s=25.0,
    jump_fraction=1e-3,
    jump_amplitude_dn=(50.0, 5000.0),
    negative_jump_fraction=0.0,
    saturation_dn=None,
    bias_dn=0.0,
    pixeldq=None,
) -> SyntheticRamp:
    """Simulate ramps with Poisson and read noise, injected jumps and saturation.

    Parameters
    ----------
    shape : tuple of 4 int
        ``(nints, ngroups, nrows, ncols)``.
    seed : int or numpy.random.SeedSequence
        Noise and jumps use separate child streams, so a run with
        ``jump_fraction=0`` has exactly the noise of a run with jumps.
    group_time : float
        Time between groups, s.
    nframes : int
        Frames averaged per group; read noise per group is ``read_noise / sqrt(2 * nframes)``.
    gain, read_noise, flux_dn_per_s, bias_dn : float or (nrows, ncols) ndarray
        Gain (e/DN, > 0), READNOISE reference value (CDS, DN), signal rate
        (DN/s, >= 0) and the constant level added to every group (DN).
    jump_fraction : float
        Probability that a pixel gets a jump in a given group difference.
    jump_amplitude_dn : (float, float)
        Jump amplitudes are uniform between these bounds, DN.
    negative_jump_fraction : float
        Probability that a jump is negative.
    saturation_dn : float or None
        Saturation level, DN, bias included. The group that reaches it and all
        later groups are set to it and flagged SATURATED.
    pixeldq : (nrows, ncols) uint32 ndarray or None
        PIXELDQ to attach (copied); zeros if None.

    Returns
    -------
    SyntheticRamp
        No jump is injected into a pixel flagged DO_NOT_USE in ``pixeldq``, or
        into a group that is saturated with or without the jump.
    """
    nints, ngroups, nrows, ncols = _check_shape(shape)
    if not 0.0 <= jump_fraction <= 1.0 or not 0.0 <= negative_jump_fraction <= 1.0:
        raise ValueError(f"fractions must be in [0, 1], got {jump_fraction!r}, {negative_jump_fraction!r}")
    if not 0.0 <= jump_amplitude_dn[0] <= jump_amplitude_dn[1]:
        raise ValueError(f"jump_amplitude_dn must be (lo, hi) with 0 <= lo <= hi, got {jump_amplitude_dn!r}")
    if group_time <= 0 or nframes < 1:
        raise ValueError(f"need group_time > 0 s and nframes >= 1, got {group_time!r}, {nframes!r}")
    image = (nrows, ncols)
    gain, read_noise = _image(gain, image, "gain"), _image(read_noise, image, "read_noise")
    flux = _image(flux_dn_per_s, image, "flux_dn_per_s")
    if np.any(gain <= 0) or np.any(read_noise < 0) or np.any(flux < 0):
        raise ValueError("gain must be > 0, read_noise and flux_dn_per_s >= 0")
    pixeldq = np.zeros(image, np.uint32) if pixeldq is None else np.array(pixeldq, dtype=np.uint32)
    detector = _Detector(
        bias_dn=_image(bias_dn, image, "bias_dn"),
        gain=gain,
        electrons_per_group=flux.astype(np.float64) * gain * group_time,
        read_noise_group_dn=read_noise / np.float32(math.sqrt(2 * nframes)),
        saturation_dn=np.inf if saturation_dn is None else float(saturation_dn),
        jump_allowed=(pixeldq & DO_NOT_USE) == 0,
        jump_fraction=jump_fraction,
        jump_amplitude_dn=tuple(jump_amplitude_dn),
        negative_jump_fraction=negative_jump_fraction,
    )
    seed_seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rngs = tuple(np.random.default_rng(s) for s in seed_seq.spawn(2))
    data = np.empty((nints, ngroups, nrows, ncols), dtype=np.float32)
    groupdq = np.zeros(data.shape, dtype=np.uint8)
    jumps = []
    for i in range(nints):  # temporaries are one group image in size
        jumps += _fill_integration_inplace(data[i], groupdq[i], i, detector, *rngs)
    return SyntheticRamp(
        data, groupdq, pixeldq, gain, read_noise, flux, float(group_time), int(nframes), tuple(jumps)
    )


class _Detector(NamedTuple):
    """Per-pixel simulation inputs, already converted to the units the loop uses."""

    bias_dn: np.ndarray
    gain: np.ndarray
    electrons_per_group: np.ndarray
    read_noise_group_dn: np.ndarray
    saturation_dn: float
    jump_allowed: np.ndarray
    jump_fraction: float
    jump_amplitude_dn: tuple[float, float]
    negative_jump_fraction: float


def _fill_integration_inplace(data, groupdq, integration, det, noise_rng, jump_rng) -> list[InjectedJump]:
    """Write one integration into ``data``/``groupdq`` ((ngroups, nrows, ncols)); return its jumps."""
    charge_e = np.zeros(data.shape[1:], dtype=np.float64)
    jump_dn = np.zeros(data.shape[1:], dtype=np.float32)
    saturated = np.zeros(data.shape[1:], dtype=bool)
    jumps = []
    for g in range(data.shape[0]):
        charge_e += noise_rng.poisson(det.electrons_per_group)
        frame = det.bias_dn + (charge_e / det.gain).astype(np.float32) + jump_dn
        frame += det.read_noise_group_dn * noise_rng.standard_normal(frame.shape, dtype=np.float32)
        if g > 0 and det.jump_fraction > 0:
            (rows, cols), amp = _draw_jumps(jump_rng, frame, det, det.jump_allowed & ~saturated)
            jumps += [
                InjectedJump(integration, g, int(r), int(c), float(a))
                for r, c, a in zip(rows, cols, amp, strict=True)
            ]
            jump_dn[rows, cols] += amp
            frame[rows, cols] += amp
        saturated |= frame >= det.saturation_dn
        frame[saturated] = det.saturation_dn
        groupdq[g][saturated] = SATURATED
        data[g] = frame
    return jumps


def _check_shape(shape) -> tuple[int, int, int, int]:
    if len(shape) != 4 or any(int(n) < 1 for n in shape):
        raise ValueError(f"shape must be (nints, ngroups, nrows, ncols) of positive ints, got {shape!r}")
    return tuple(int(n) for n in shape)


def _image(value, image, name) -> np.ndarray:
    """``value`` as a new float32 array of shape ``image``."""
    array = np.asarray(value, dtype=np.float32)
    if array.ndim not in (0, 2) or (array.ndim == 2 and array.shape != image):
        raise ValueError(f"{name} must be a scalar or shaped {image}, got shape {array.shape}")
    return np.array(np.broadcast_to(array, image))


def _draw_jumps(rng, frame, det, allowed):
    """Pick jump pixels and amplitudes (DN) for one group; returns ((rows, cols), amplitudes)."""
    flat = np.sort(rng.choice(frame.size, size=rng.binomial(frame.size, det.jump_fraction), replace=False))
    amp = rng.uniform(*det.jump_amplitude_dn, size=flat.size).astype(np.float32)
    amp[rng.random(flat.size) < det.negative_jump_fraction] *= -1
    before = frame.flat[flat]
    keep = allowed.flat[flat] & (before < det.saturation_dn) & (before + amp < det.saturation_dn)
    return np.unravel_index(flat[keep], frame.shape), amp[keep]


def miri_imager_demo(seed: int = 0) -> SyntheticRamp:
    """A MIRI Imager F1130W-like FULL-frame exposure with point sources and jumps.

    One integration of 10 FAST groups (2.775 s), 1024 rows x 1032 columns,
    gain 5.5 e/DN and READNOISE 14 DN (each with the ±2% diagonal gradient of
    :mod:`jumpdet.references.crds_cache`'s synthetic references, so a run through the offline
    cache sees the simulated noise), sky 25 DN/s, 10000 DN bias and
    saturation at 60000 DN. About 200 Gaussian point sources (sigma 1.4 px)
    with peak rates from 2 to 1000 DN/s, plus five bright ones that saturate.
    The four reference columns on each side carry REFERENCE_PIXEL |
    DO_NOT_USE, no signal and no jumps. About 300 jumps of 50-5000 DN are
    injected (``jump_fraction`` 3e-5), none into saturated groups.

    Parameters
    ----------
    seed : int
        Seed for sources, noise and jumps.

    Returns
    -------
    SyntheticRamp
    """
    nrows, ncols = 1024, 1032
    source_seq, ramp_seq = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(source_seq)
    gradient = np.add.outer(np.linspace(-0.5, 0.5, nrows), np.linspace(-0.5, 0.5, ncols))  # -1 .. +1
    peaks = np.concatenate(
        [[2200.0, 3500.0, 6000.0, 9000.0, 15000.0], 10 ** rng.uniform(np.log10(2), 3, 195)]
    )
    flux = 25.0 + _add_sources(nrows, ncols, rng, peaks, sigma_px=1.4)
    pixeldq = np.zeros((nrows, ncols), dtype=np.uint32)
    reference = np.r_[0:4, ncols - 4 : ncols]
    pixeldq[:, reference] = REFERENCE_PIXEL | DO_NOT_USE
    flux[:, reference] = 0.0
    return simulate_ramp(
        (1, 10, nrows, ncols),
        seed=ramp_seq,
        group_time=2.775,
        gain=5.5 * (1.0 + 0.02 * gradient),
        read_noise=14.0 * (1.0 + 0.02 * gradient),
        flux_dn_per_s=flux,
        jump_fraction=3e-5,
        jump_amplitude_dn=(50.0, 5000.0),
        saturation_dn=60000.0,
        bias_dn=10000.0,
        pixeldq=pixeldq,
    )


def _add_sources(nrows, ncols, rng, peaks_dn_per_s, *, sigma_px, half_width_px=8):
    """Image, DN/s, of Gaussian point sources with the given peak rates at random positions."""
    n = len(peaks_dn_per_s)
    y0 = rng.uniform(12, nrows - 12, n)
    x0 = rng.uniform(12, ncols - 12, n)
    offsets = np.arange(-half_width_px, half_width_px + 1)
    yy = np.floor(y0)[:, None, None].astype(np.intp) + offsets[None, :, None]
    xx = np.floor(x0)[:, None, None].astype(np.intp) + offsets[None, None, :]
    r2 = (yy - y0[:, None, None]) ** 2 + (xx - x0[:, None, None]) ** 2
    stamps = np.asarray(peaks_dn_per_s)[:, None, None] * np.exp(-0.5 * r2 / sigma_px**2)
    image = np.zeros((nrows, ncols), dtype=np.float64)
    np.add.at(image, (np.broadcast_to(yy, stamps.shape), np.broadcast_to(xx, stamps.shape)), stamps)
    return image.astype(np.float32)


def to_ramp_model(
    sim: SyntheticRamp,
    *,
    instrument="MIRI",
    detector="MIRIMAGE",
    filter="F1130W",  # named like meta.instrument.filter
    subarray=("FULL", 1, 1),
    exp_type=None,
    readpatt=None,
    filename=None,
):
    """Wrap a simulation in a RampModel with the metadata of a refpix-step output.

    Parameters
    ----------
    sim : SyntheticRamp
        The simulation; its arrays are copied.
    instrument, detector, filter : str
        ``meta.instrument`` name, detector and filter.
    subarray : (str, int, int)
        Subarray name and 1-based ``xstart``, ``ystart``; sizes come from the data.
    exp_type, readpatt : str or None
        ``meta.exposure.type`` and ``readpatt``; None picks the imaging mode of
        ``instrument``: MIR_IMAGE/FAST, NRC_IMAGE/RAPID or NIS_IMAGE/NISRAPID.
    filename : str or None
        ``meta.filename``; defaults to ``jumpdet_sim_<instrument>_refpix.fits``.

    Returns
    -------
    stdatamodels.jwst.datamodels.RampModel
        With ``data``, ``groupdq`` and ``pixeldq`` set; ``err`` is not allocated.
    """
    from stdatamodels.jwst.datamodels import RampModel

    instrument = instrument.upper()
    default_type, default_readpatt = _IMAGING_MODES.get(instrument, (None, None))
    exp_type = exp_type if exp_type is not None else default_type
    readpatt = readpatt if readpatt is not None else default_readpatt
    if exp_type is None or readpatt is None:
        raise ValueError(f"exp_type and readpatt are required for instrument {instrument!r}")
    nints, ngroups, nrows, ncols = sim.data.shape
    model = RampModel(data=sim.data.copy(), groupdq=sim.groupdq.copy(), pixeldq=sim.pixeldq.copy())
    model.meta.telescope = "JWST"
    model.meta.filename = (
        filename if filename is not None else f"jumpdet_sim_{instrument.lower()}_refpix.fits"
    )
    model.meta.instrument.name = instrument
    model.meta.instrument.detector = detector
    model.meta.instrument.filter = filter
    model.meta.observation.date = "2024-01-01"
    model.meta.observation.time = "00:00:00.000"
    exposure = model.meta.exposure
    exposure.type = exp_type
    exposure.readpatt = readpatt
    exposure.nints, exposure.ngroups, exposure.nframes, exposure.groupgap = nints, ngroups, sim.nframes, 0
    exposure.group_time = sim.group_time
    exposure.frame_time = sim.group_time / sim.nframes
    exposure.integration_time = ngroups * sim.group_time
    name, xstart, ystart = subarray
    model.meta.subarray.name = name
    model.meta.subarray.xstart, model.meta.subarray.ystart = int(xstart), int(ystart)
    model.meta.subarray.xsize, model.meta.subarray.ysize = ncols, nrows
    model.meta.cal_step.refpix = "COMPLETE"
    return model


def to_reference_models(gain, read_noise, *, instrument="MIRI"):
    """GAIN and READNOISE reference models of a simulation's references, for the override options.

    Parameters
    ----------
    gain, read_noise : (nrows, ncols) ndarray
        e/DN; DN (CDS), as :class:`SyntheticRamp` holds them.
    instrument : str
        ``meta.instrument.name``.

    Returns
    -------
    (GainModel, ReadnoiseModel)
        Full-frame references (subarray ``FULL`` from pixel 1, 1) covering ``gain``'s shape,
        to pass as ``override_gain`` and ``override_readnoise``.
    """
    from stdatamodels.jwst.datamodels import GainModel, ReadnoiseModel

    references = []
    for model_class, data in ((GainModel, gain), (ReadnoiseModel, read_noise)):
        reference = model_class(data=data)
        reference.meta.instrument.name = instrument.upper()
        reference.meta.subarray.name = "FULL"
        reference.meta.subarray.xstart = reference.meta.subarray.ystart = 1
        reference.meta.subarray.ysize, reference.meta.subarray.xsize = data.shape
        references.append(reference)
    return tuple(references)
