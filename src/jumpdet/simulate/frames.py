"""Frame-level ramps with known jumps: groups that average frames, with skipped frames between them.

:mod:`jumpdet.simulate.ramps` draws noise per group; here every frame is
simulated (Poisson charge, read noise per frame read) and a jump happens at a
random frame, so that a jump may fall between two groups (it changes one
group difference) or inside a group (it changes two), as on NIRCam, NIRSpec
and NIRISS, where a group averages several frames and frames may be skipped
between groups. The likelihood tests and the quality benchmark score
detections against :attr:`FrameRamps.jumps`.

Units: electrons throughout, gain 1 (DN = electrons); ``read_noise_cds`` is
what a READNOISE reference holds, the noise of a difference of two frames, so
each frame read gets ``read_noise_cds / sqrt(2)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jumpdet.flags import SATURATED

__all__ = ["FrameRamps", "simulate_frame_ramps"]


@dataclass(frozen=True, eq=False)
class FrameRamps:
    """Simulated ramps of ``npix`` pixels laid out as one row, and their jumps.

    Attributes
    ----------
    data : (nints, ngroups, 1, npix) float32 ndarray
        Group averages, electrons (gain 1).
    groupdq : (nints, ngroups, 1, npix) uint8 ndarray
        SATURATED where the last frame of a group reached ``full_well``.
    flux : (npix,) float64 ndarray
        Electrons per frame time.
    read_noise_cds : float
        READNOISE (CDS of two frames), electrons.
    nframes, groupgap : int
        Frames averaged per group and skipped between groups.
    jumps : (njumps, 5) float64 ndarray
        One row a jump: integration, pixel, frame (the first frame that has
        it), amplitude (electrons), significance (amplitude over the noise of
        one group difference, as :func:`jumpdet.simulate.ramps.jump_significance_sigma`).
    """

    data: np.ndarray
    groupdq: np.ndarray
    flux: np.ndarray
    read_noise_cds: float
    nframes: int
    groupgap: int
    jumps: np.ndarray

    def affected_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """For each jump, the first group it changes and whether it fell inside that group.

        A jump at frame ``f`` first changes the group whose last frame is at
        or after ``f``; it falls inside that group when the group's first
        frame is before ``f`` (its average then holds part of the jump, and
        two differences change).
        """
        step = self.nframes + self.groupgap
        frame = self.jumps[:, 2].astype(np.int64)
        group = np.maximum((frame - self.nframes + 1 + step - 1) // step, 0)
        inside = group * step < frame
        return group, inside


def simulate_frame_ramps(
    npix: int,
    *,
    ngroups: int,
    nframes: int,
    groupgap: int = 0,
    nints: int = 1,
    flux=10.0,
    read_noise_cds: float = 10.0,
    jumps_per_ramp: float = 0.0,
    significance=(5.0, 50.0),
    negative_fraction: float = 0.0,
    full_well: float = np.inf,
    seed: int = 0,
) -> FrameRamps:
    """Simulate frame-averaged ramps with jumps at random frames.

    Parameters
    ----------
    npix : int
        Pixels (one row).
    ngroups, nframes, groupgap, nints : int
        Readout: groups of ``nframes`` averaged frames, ``groupgap`` frames
        skipped after each group.
    flux : float or (npix,) array
        Electrons per frame time.
    read_noise_cds : float
        READNOISE, electrons (CDS of two frames).
    jumps_per_ramp : float
        Mean number of jumps per pixel and integration (Poisson).
    significance : (float, float)
        Jump sizes are drawn log-uniformly between these, in sigma of one
        group difference of the pixel (then rounded to electrons).
    negative_fraction : float
        Fraction of jumps that are negative.
    full_well : float
        Electrons at which a pixel saturates; later groups are SATURATED, and
        jumps in them are not listed.
    seed : int

    Returns
    -------
    FrameRamps
    """
    rng = np.random.default_rng(seed)
    flux = np.broadcast_to(np.asarray(flux, np.float64), (npix,)).copy()
    step = nframes + groupgap
    nframes_total = ngroups * step
    sigma = np.sqrt(flux * step + read_noise_cds**2 / nframes)  # one group difference
    data = np.zeros((nints, ngroups, 1, npix), np.float32)
    gdq = np.zeros(data.shape, np.uint8)
    jumps = []
    for i in range(nints):
        njumps = rng.poisson(jumps_per_ramp, npix)
        pix = np.repeat(np.arange(npix), njumps)
        frame = rng.integers(1, nframes_total - groupgap, pix.size)
        size = np.exp(rng.uniform(*np.log(significance), pix.size)) * sigma[pix]
        size[rng.random(pix.size) < negative_fraction] *= -1
        jump_at = np.zeros((nframes_total, npix))
        np.add.at(jump_at, (frame, pix), size)
        charge = np.zeros(npix)
        saturated_at = np.full(npix, nframes_total)
        for f in range(nframes_total):
            charge += rng.poisson(flux) + jump_at[f]
            saturated_at = np.where((charge >= full_well) & (saturated_at == nframes_total), f, saturated_at)
            g, within = divmod(f, step)
            if within < nframes:
                read = np.minimum(charge, full_well) + rng.normal(0.0, read_noise_cds / np.sqrt(2), npix)
                data[i, g, 0] += (read / nframes).astype(np.float32)
        last_frame = np.arange(ngroups) * step + nframes - 1
        gdq[i, :, 0] = np.where(last_frame[:, None] >= saturated_at[None, :], SATURATED, 0)
        keep = frame < saturated_at[pix]
        jumps += [
            np.column_stack(
                [
                    np.full(keep.sum(), i),
                    pix[keep],
                    frame[keep],
                    size[keep],
                    abs(size[keep]) / sigma[pix[keep]],
                ]
            )
        ]
    return FrameRamps(
        data, gdq, flux, float(read_noise_cds), int(nframes), int(groupgap), np.concatenate(jumps)
    )
