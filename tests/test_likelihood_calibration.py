"""The likelihood search's noise model and thresholds against frame-level simulations of clean ramps.

The simulation (:func:`jumpdet.simulate.frames.simulate_frame_ramps`) reads
every frame (Poisson charge, read noise ``READNOISE / sqrt(2)`` per frame) and
averages frames into groups; the search's covariance is derived from the same
readout. If the model is right, each chi-square improvement of a clean ramp
follows its chi-square distribution (1 degree of freedom for one difference,
2 for a pair; the pairs whose offsets have one sign, the only pair candidates,
take the fraction ``phi / pi`` of it), faint or bright, grouped or not, with
the photon-noise rate estimated from the data as the search does; and a clean ramp is flagged with
at most the sigma-equivalent rate of ``rejection_threshold``
(:func:`jumpdet.likelihood.chi_square_thresholds`). Counts are compared with
their binomial errors (seeded, so the tests are deterministic).
"""

import dataclasses

import numpy as np
import pytest
import scipy.special
import scipy.stats

from jumpdet import JumpParams
from jumpdet._stats.ramp_likelihood import DT, best_candidates, candidates_buffers, workspace, workspace_view
from jumpdet.likelihood import chi_square_thresholds, covariance_coefficients
from jumpdet.simulate.frames import simulate_frame_ramps
from test_likelihood import detect

READ_NOISE_CDS = 12.0
FULL_WELL = 60000.0

# (ngroups, nframes, groupgap): grouped with skipped frames, grouped, 1-frame (MIRI)
READOUTS = {"4x1": (8, 4, 1), "2x0": (10, 2, 0), "1x0": (10, 1, 0)}
# electrons per frame: sky-faint (read noise dominates), bright (photon noise
# dominates; the ramp ends at about 90 % of the full well)
FLUXES = {"faint": lambda frames: 0.05, "bright": lambda frames: 0.9 * FULL_WELL / frames}


def clean(readout, flux_name, npix, seed):
    ngroups, nframes, groupgap = READOUTS[readout]
    flux = FLUXES[flux_name](ngroups * (nframes + groupgap))
    readout = {"ngroups": ngroups, "nframes": nframes, "groupgap": groupgap}
    sim = simulate_frame_ramps(
        npix, **readout, flux=flux, read_noise_cds=READ_NOISE_CDS, full_well=FULL_WELL, seed=seed
    )
    assert not sim.groupdq.any()  # clean: nothing saturates
    return sim, JumpParams(method="likelihood", nframes=nframes, groupgap=groupgap, flag_4_neighbors=False)


def within_binomial(count, trials, rate, slack=0.0, z=4.0):
    """``count`` successes of ``trials`` at ``rate``: within ``z`` binomial deviations and ``slack``."""
    expected = trials * rate
    return abs(count - expected) <= z * np.sqrt(expected * (1 - rate)) + slack * expected + 1


@pytest.mark.parametrize("estimated", [False, True], ids=["true_rate", "median_rate"])
@pytest.mark.parametrize("flux_name", list(FLUXES))
@pytest.mark.parametrize("readout", list(READOUTS))
def test_improvements_of_clean_ramps_follow_their_chi_square_distributions(readout, flux_name, estimated):
    """With the simulation's rate, within binomial error: the covariance is right.

    With the search's estimate (the median rate of the ramp, clipped at 0), the
    tail moves by up to about 10 % at sky-faint flux (the estimate's noise,
    several e per frame, against a true 0.05; clipping it keeps it positive on
    average), and the test allows 20 %: nothing near the factor of 4-5 between
    the bright pixels' false flags and two-point's, which the statistic does not
    cause (see docs/likelihood.rst, *Thresholds*).
    """
    sim, params = clean(readout, flux_name, 20000, seed=11)
    ngroups = sim.data.shape[1]
    n, m = ngroups - 1, sim.data.shape[-1]
    coef = covariance_coefficients(params, ngroups)
    diffs = np.diff(sim.data[0, :, 0, :].astype(np.float64), axis=0)
    if estimated:  # the search's photon-noise rate: the median, clipped at 0
        rate = np.maximum(np.median(diffs / coef[DT][:, None], axis=0), 0.0)
    else:
        rate = np.full(m, sim.flux[0])
    d = diffs - rate * coef[DT][:, None]
    use = np.ones((n, m))
    ws, out = workspace_view(workspace(n * m), n, m), candidates_buffers(m)
    read_var = np.full(m, READ_NOISE_CDS**2 / 2)
    best_candidates(
        d, use, np.maximum(rate, 0.0), read_var, coef, chi_square_thresholds(params, ngroups), ws, out
    )
    # every position's improvement, from the kernel's own arrays (rho, C^-1 diagonal, C^-1 dt)
    information = np.sum(coef[DT][:, None] * ws.w_time, axis=0)
    s = ws.inv_diag - ws.w_time**2 / information
    rho = ws.y_data
    one = rho**2 / s
    p = 0.01
    slack = 0.2 if estimated else 0.0
    assert within_binomial((one > scipy.stats.chi2.isf(p, 1)).sum(), one.size, p, slack)
    assert abs(one.mean() - 1.0) < 4 * np.sqrt(2.0 / one.size) * 3  # correlated positions: a wider band
    if params.nframes > 1:
        s01 = ws.inv_off[:-1] - ws.w_time[:-1] * ws.w_time[1:] / information
        s00, s11, r0, r1 = s[:-1], s[1:], rho[:-1], rho[1:]
        det = s00 * s11 - s01 * s01
        b0, b1 = (s11 * r0 - s01 * r1) / det, (s00 * r1 - s01 * r0) / det
        two = r0 * b0 + r1 * b1
        assert within_binomial((two > scipy.stats.chi2.isf(p, 2)).sum(), two.size, p, slack)
        # a step inside a group gives offsets of one sign: a wedge of phi / pi of the directions,
        # so a pair of one sign exceeds the 2-degree threshold at phi / pi of the rate
        wedge = np.arccos(s01 / np.sqrt(s00 * s11)) / np.pi
        one_sign = (b0 * b1 >= 0) & (two > scipy.stats.chi2.isf(p, 2))
        assert within_binomial(one_sign.sum(), two.size, p * wedge.mean(), slack)


@pytest.mark.parametrize("flux_name", list(FLUXES))
@pytest.mark.parametrize("readout", list(READOUTS))
def test_a_clean_ramp_is_flagged_at_most_at_the_sigma_equivalent_rate(readout, flux_name):
    sim, params = clean(readout, flux_name, 20000, seed=12)
    threshold = 3.0  # p = 0.0027: about 54 ramps of 20000, enough to count
    result = detect(
        sim.data,
        sim.groupdq,
        gain=1.0,
        read_noise=READ_NOISE_CDS,
        nframes=params.nframes,
        groupgap=params.groupgap,
        rejection_threshold=threshold,
    )
    flagged = ((result.groupdq & 4) != 0).any(axis=1).sum()
    p = scipy.special.erfc(threshold / np.sqrt(2))
    trials = sim.data.shape[-1]
    # at most p (Bonferroni over the ramp's tests), and not far below (the tests are only mildly correlated)
    assert flagged <= trials * p + 4 * np.sqrt(trials * p) + 1
    assert flagged >= trials * p / 3


def test_thresholds_split_the_ramps_rate_over_its_tests():
    params = JumpParams(
        rejection_threshold=4.0, four_group_rejection_threshold=5.0, three_group_rejection_threshold=6.0
    )
    p = {t: scipy.special.erfc(t / np.sqrt(2)) for t in (4.0, 5.0, 6.0)}
    grouped = chi_square_thresholds(dataclasses.replace(params, nframes=4, groupgap=1), 8)
    single = chi_square_thresholds(params, 8)  # 1-frame groups: no pairs
    assert np.isinf(grouped[:2, :2]).all()
    for usable, sigma in ((2, 6.0), (3, 5.0), (4, 4.0), (7, 4.0)):
        tests = usable + (usable - 1 if usable >= 4 else 0)
        rate = p[sigma] / tests
        np.testing.assert_allclose(
            grouped[usable, :2], (scipy.stats.chi2.isf(rate, 1), scipy.stats.chi2.isf(rate, 2))
        )
        np.testing.assert_allclose(single[usable, 0], scipy.stats.chi2.isf(p[sigma] / usable, 1))
    assert np.isfinite(chi_square_thresholds(JumpParams(rejection_threshold=60.0), 10)[2:]).all()
