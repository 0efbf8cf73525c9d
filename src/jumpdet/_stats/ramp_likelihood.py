"""The likelihood jump statistic of Brandt (2024), for many pixels at once, compiled with numba.

Reference: T. D. Brandt, "Optimal fitting and debiasing for detectors read out
up-the-ramp" (PASP 136, 2024; arXiv:2309.08753) for the covariance of resultant
differences and the fit, and "Likelihood-based jump detection and cosmic ray
rejection for detectors read out up-the-ramp" (arXiv:2404.01326) for the test.
This is an independent implementation of the mathematics, organised for SIMD
lanes across the pixels of a row; the recurrences are the ratio (LDL^T) form,
which neither overflows nor underflows in long ramps.

For one pixel and integration, the ``n`` resultant differences ``d`` have the
model ``d = a * dt`` (``a`` the count rate, ``dt`` the spacing of the
resultants' mean times) and the tridiagonal covariance

    C[k, k]     = s1 * (1/N[k] + 1/N[k+1]) + f * (tau[k] + tau[k+1] - 2 * t[k])
    C[k, k + 1] = -s1 / N[k+1]             + f * (t[k+1] - tau[k+1])

with ``s1`` the read variance of a single frame, ``N`` the frames averaged in
each resultant, ``t`` their mean times, ``tau`` the photon-noise weighted mean
times and ``f`` the rate that sets the photon noise. Leaving difference ``k``
out of the fit is the same as fitting it a free offset ``b``; with
``rho = C^-1 (d - a_hat * dt)``, ``u = C^-1 dt``, ``F = dt^T u`` and
``S = C^-1 - u u^T / F``, the chi-square improvement is ``rho[k]**2 / S[k, k]``,
and for two adjacent differences (a jump inside a multi-frame resultant) the
2 x 2 form ``r^T S_kk^-1 r`` of the pair, whose two fitted offsets must have
one sign (a step, not a resultant that stands out alone). Unusable differences are removed
from the covariance exactly (their row and column are dropped).

Everything works on arrays shaped ``(n, m)``: ``n`` differences of ``m``
pixels, the pixel index innermost, so the loops run in SIMD lanes; pixels never
mix, so a pixel's result does not depend on which others share its arrays.
"""

from collections import namedtuple

import numpy as np

from ..compilation import kernel

__all__ = [
    "COEFFICIENT_ROWS",
    "Candidates",
    "Workspace",
    "best_candidates",
    "candidates_buffers",
    "workspace",
    "workspace_view",
]

# rows of the (7, n) coefficient array built by jumpdet.likelihood.covariance_coefficients
DT, READ_DIAG, PHOTON_DIAG, READ_OFF, PHOTON_OFF, TWO_OK, INV_DT = range(7)
COEFFICIENT_ROWS = 7

NONE, ONE, TWO = 0, 1, 2  # kinds of candidate: none, one difference, two adjacent differences

# Cosmic rays add charge: where a rising and a falling jump explain a ramp about
# as well (a short ramp cannot tell a jump up in its first differences from one
# down in its last), the rising one is taken unless the falling one improves the
# chi-square by this much more (prior odds of about 1 in 7). It never changes
# whether a jump is found, only which.
NEGATIVE_PENALTY = 4.0

# (n, m) float64 buffers of one pass: the covariance (alpha diagonal, beta
# above it), forward pivots and the forward-substituted differences and times,
# and C^-1 applied to them, C^-1's diagonal and the element above it.
Workspace = namedtuple(
    "Workspace",
    ["alpha", "beta", "pivot", "inv_pivot", "y_data", "y_time", "w_data", "w_time", "inv_diag", "inv_off"],
)

# (m,) per-pixel results of a pass: the chosen candidate (kind, first
# difference, score), the fitted jump (electrons) and its significance
# (amplitude over the noise of one difference), the statistic its test
# compared with the threshold (see _measure), the usable differences, the
# largest improvement of each kind, and the best candidate of each kind above
# its threshold (first difference, -1 for none, and score).
Candidates = namedtuple(
    "Candidates",
    [
        "kind",
        "position",
        "improvement",
        "amplitude",
        "significance",
        "statistic",
        "usable",
        "best_one",
        "best_two",
        "one_at",
        "two_at",
        "one_score",
        "two_score",
    ],
)


@kernel
def workspace(size):
    """A flat :data:`Workspace` with room for ``size`` (differences x pixels) values."""
    return Workspace(
        np.empty(size),
        np.empty(size),
        np.empty(size),
        np.empty(size),
        np.empty(size),
        np.empty(size),
        np.empty(size),
        np.empty(size),
        np.empty(size),
        np.empty(size),
    )


@kernel
def workspace_view(flat, n, m):
    """Contiguous ``(n, m)`` views of a flat :data:`Workspace`, so that loops over pixels vectorise."""
    shape, size = (n, m), n * m
    return Workspace(
        flat.alpha[:size].reshape(shape),
        flat.beta[:size].reshape(shape),
        flat.pivot[:size].reshape(shape),
        flat.inv_pivot[:size].reshape(shape),
        flat.y_data[:size].reshape(shape),
        flat.y_time[:size].reshape(shape),
        flat.w_data[:size].reshape(shape),
        flat.w_time[:size].reshape(shape),
        flat.inv_diag[:size].reshape(shape),
        flat.inv_off[:size].reshape(shape),
    )


@kernel
def candidates_buffers(m):
    """A :data:`Candidates` for ``m`` pixels."""
    return Candidates(
        np.empty(m, np.int64),
        np.empty(m, np.int64),
        np.empty(m),
        np.empty(m),
        np.empty(m),
        np.empty(m),
        np.empty(m, np.int64),
        np.empty(m),
        np.empty(m),
        np.empty(m, np.int64),
        np.empty(m, np.int64),
        np.empty(m),
        np.empty(m),
    )


@kernel
def _covariance(use, rate, read_var, coef, ws):
    """Fill ``ws.alpha`` and ``ws.beta``; an unusable difference gets a unit variance and no covariance."""
    n, m = use.shape
    for k in range(n):
        for c in range(m):
            u = use[k, c]
            a = read_var[c] * coef[READ_DIAG, k] + rate[c] * coef[PHOTON_DIAG, k]
            ws.alpha[k, c] = a * u + (1.0 - u)
    for k in range(n - 1):
        for c in range(m):
            b = read_var[c] * coef[READ_OFF, k] + rate[c] * coef[PHOTON_OFF, k]
            ws.beta[k, c] = b * use[k, c] * use[k + 1, c]


@kernel(numpy_division=True)  # a zero variance gives inf/NaN, never a flag
def _forward(d, use, coef, ws):
    """The LDL^T forward pass: pivots (and their inverses), ``L^-1 d`` and ``L^-1 dt``."""
    n, m = d.shape
    alpha, beta, pivot, inv_pivot = ws.alpha, ws.beta, ws.pivot, ws.inv_pivot
    y_data, y_time = ws.y_data, ws.y_time
    dt = coef[DT]
    for c in range(m):
        pivot[0, c] = alpha[0, c]
        inv_pivot[0, c] = 1.0 / alpha[0, c]
        y_data[0, c] = d[0, c]
        y_time[0, c] = dt[0] * use[0, c]
    for k in range(1, n):
        dtk = dt[k]
        for c in range(m):
            ratio = beta[k - 1, c] * inv_pivot[k - 1, c]
            pivot[k, c] = alpha[k, c] - beta[k - 1, c] * ratio
            inv_pivot[k, c] = 1.0 / pivot[k, c]
            y_data[k, c] = d[k, c] - ratio * y_data[k - 1, c]
            y_time[k, c] = dtk * use[k, c] - ratio * y_time[k - 1, c]


@kernel(numpy_division=True)
def _backward(ws):
    """``C^-1 d``, ``C^-1 dt``, and C^-1's diagonal and first off-diagonal, after :func:`_forward`.

    ``(C^-1)[k, k] = 1 / (pivot[k] - beta[k]**2 / back[k+1])`` with the
    backward pivots ``back``, and ``(C^-1)[k, k+1] = -beta[k] / pivot[k] *
    (C^-1)[k+1, k+1]``. One quantity a loop, so that each loop runs in SIMD
    lanes.
    """
    n, m = ws.y_data.shape
    alpha, beta, pivot, inv_pivot = ws.alpha, ws.beta, ws.pivot, ws.inv_pivot
    last = n - 1
    for c in range(m):
        ws.w_data[last, c] = ws.y_data[last, c] * inv_pivot[last, c]
        ws.w_time[last, c] = ws.y_time[last, c] * inv_pivot[last, c]
        ws.inv_diag[last, c] = inv_pivot[last, c]
        ws.inv_off[last, c] = 0.0
    for k in range(n - 2, -1, -1):
        for c in range(m):
            ws.w_data[k, c] = (ws.y_data[k, c] - beta[k, c] * ws.w_data[k + 1, c]) * inv_pivot[k, c]
            ws.w_time[k, c] = (ws.y_time[k, c] - beta[k, c] * ws.w_time[k + 1, c]) * inv_pivot[k, c]
    inv_back = 1.0 / alpha[last]
    for k in range(n - 2, -1, -1):
        for c in range(m):
            shrink = beta[k, c] * beta[k, c] * inv_back[c]
            ws.inv_diag[k, c] = 1.0 / (pivot[k, c] - shrink)
            inv_back[c] = 1.0 / (alpha[k, c] - shrink)
    for k in range(n - 1):
        for c in range(m):
            ws.inv_off[k, c] = -beta[k, c] * inv_pivot[k, c] * ws.inv_diag[k + 1, c]


@kernel(numpy_division=True)
def _fit(d, use, coef, ws, slope, information):
    """GLS fit of every pixel: ``slope`` (about the centring rate) and ``information`` (dt^T C^-1 dt)."""
    n, m = d.shape
    slope[:] = 0.0
    information[:] = 0.0
    for k in range(n):
        for c in range(m):
            slope[c] += ws.w_time[k, c] * d[k, c]
            information[c] += coef[DT, k] * use[k, c] * ws.w_time[k, c]
    for c in range(m):
        slope[c] /= information[c]


@kernel(numpy_division=True)
def _improvements(use, coef, thresholds, ws, slope, information, out):
    """Each pixel's improvements: the largest of each kind, and the candidates to choose from.

    ``out.best_one`` / ``out.best_two`` are the largest improvements of one
    and two differences. The candidates (``out.one_at``, ``out.two_at``, -1
    for none) are the positions above the kind's threshold with the highest
    score, the improvement less ``NEGATIVE_PENALTY`` for a jump that lowers
    the ramp; ``out.one_score`` / ``out.two_score`` hold their scores. A
    pair is a candidate only when its two fitted offsets have one sign (a
    step inside the group puts a part of the jump in each difference; offsets
    of opposite signs are a group that stands out alone, which the single
    differences test), against the threshold of that wedge of offsets
    (:func:`_pair_threshold`). The residual vector ``rho`` overwrites
    ``ws.y_data``.
    """
    n, m = use.shape
    rho = ws.y_data
    out.best_one[:] = -1.0
    out.best_two[:] = -1.0
    out.one_at[:] = -1
    out.two_at[:] = -1
    out.one_score[:] = -np.inf
    out.two_score[:] = -np.inf
    for k in range(n):
        for c in range(m):
            rho[k, c] = ws.w_data[k, c] - slope[c] * ws.w_time[k, c]
    for k in range(n):
        for c in range(m):
            if not use[k, c]:
                continue
            s = ws.inv_diag[k, c] - ws.w_time[k, c] * ws.w_time[k, c] / information[c]
            one = rho[k, c] * rho[k, c] / s
            out.best_one[c] = max(out.best_one[c], one)
            score = one - NEGATIVE_PENALTY * (rho[k, c] < 0)  # the offset rho / s has rho's sign
            if one > thresholds[out.usable[c], 0] and score > out.one_score[c]:
                out.one_score[c] = score
                out.one_at[c] = k
    for k in range(n - 1):
        allowed = coef[TWO_OK, k] > 0
        for c in range(m):
            if not (allowed and use[k, c] and use[k + 1, c]):
                continue
            s00, s01, s11 = _pair_matrix(ws, information, k, c)
            r0, r1 = rho[k, c], rho[k + 1, c]
            det = s00 * s11 - s01 * s01
            b0, b1 = (s11 * r0 - s01 * r1) / det, (s00 * r1 - s01 * r0) / det  # the fitted offsets
            two = r0 * b0 + r1 * b1
            out.best_two[c] = max(out.best_two[c], two)
            usable = out.usable[c]
            # a step inside the group puts parts of one sign in both differences: only then a candidate
            if b0 * b1 < 0 or two <= thresholds[usable, 0]:
                continue
            if two > _pair_threshold(thresholds, usable, s00, s01, s11):
                score = two - NEGATIVE_PENALTY * (b0 + b1 < 0)  # a jump that lowers the ramp
                if score > out.two_score[c]:
                    out.two_score[c] = score
                    out.two_at[c] = k


@kernel
def _pair_threshold(thresholds, usable, s00, s01, s11):
    """The threshold of a pair whose fitted offsets have one sign (a step inside the group).

    A clean ramp's offsets are Gaussian with information matrix ``S_kk``; in
    whitened coordinates the pairs of one sign fill two opposite wedges of
    angle ``phi = arccos(s01 / sqrt(s00 s11))``, a fraction ``phi / pi`` of
    the directions, and the improvement (a chi-square of 2 degrees of
    freedom) is independent of the direction. The pair test thus fails with
    probability ``(phi / pi) exp(-t / 2)`` at threshold ``t``: the table's
    2-degree threshold (the rate ``p / m`` over the whole plane) less
    ``2 ln(pi / phi)``. The rest of the plane is the single differences'
    (a step at a group boundary): never below their threshold.
    """
    return max(thresholds[usable, 1] + 2.0 * _log_wedge(s00, s01, s11), thresholds[usable, 0])


@kernel
def _log_wedge(s00, s01, s11):
    """``ln(phi / pi)``, phi / pi the fraction of a pair's directions with offsets of one sign.

    See :func:`_pair_threshold`.
    """
    cosine = min(max(s01 / np.sqrt(s00 * s11), -1.0), 1.0)
    return np.log(np.arccos(cosine) / np.pi)


@kernel(numpy_division=True)
def _pair_matrix(ws, information, k, c):
    """The 2 x 2 block of ``S = C^-1 - u u^T / F`` for differences ``k`` and ``k + 1``."""
    u0, u1 = ws.w_time[k, c], ws.w_time[k + 1, c]
    s00 = ws.inv_diag[k, c] - u0 * u0 / information[c]
    s11 = ws.inv_diag[k + 1, c] - u1 * u1 / information[c]
    s01 = ws.inv_off[k, c] - u0 * u1 / information[c]
    return s00, s01, s11


@kernel(numpy_division=True)
def best_candidates(d, use, rate, read_var, coef, thresholds, ws, out):
    """Judge every pixel once: its best jump candidate above threshold, if any.

    Parameters
    ----------
    d : (n, m) float64 ndarray
        Differences minus ``centre * dt`` (any centring rate: the fit absorbs
        it, and centring keeps the arithmetic exact for bright pixels);
        0 where unusable.
    use : (n, m) float64 ndarray
        1.0 for usable differences, 0.0 for the others.
    rate : (m,) float64 ndarray
        Count rate (electrons per unit of ``dt``, >= 0) for the photon noise.
    read_var : (m,) float64 ndarray
        Read variance of one frame, electrons squared.
    coef : (7, n) float64 ndarray
        :func:`jumpdet.likelihood.covariance_coefficients`.
    thresholds : (n + 1, 3) float64 ndarray
        Row ``u`` for ``u`` usable differences: the chi-square thresholds of
        one difference and of two, and the score a pair needs above a single
        difference to be chosen instead
        (:func:`jumpdet.likelihood.chi_square_thresholds`).
    ws : Workspace
    out : Candidates
        Receives, per pixel, ``kind`` (0 none, 1 one difference, 2 two),
        ``position`` (first difference), ``improvement``, ``amplitude``
        (electrons, the fitted jump) and ``significance`` (the amplitude over
        the noise of one difference, sqrt of its variance in ``C``).
    """
    n, m = d.shape
    _covariance(use, rate, read_var, coef, ws)
    _forward(d, use, coef, ws)
    _backward(ws)
    slope, information = np.empty(m), np.empty(m)
    _fit(d, use, coef, ws, slope, information)
    _count_usable(use, out.usable)
    _improvements(use, coef, thresholds, ws, slope, information, out)
    for c in range(m):
        _choose(out, c, thresholds)
        if out.kind[c] != NONE:
            _measure(ws, information, out, c)


@kernel
def _count_usable(use, usable):
    n, m = use.shape
    usable[:] = 0
    for k in range(n):
        for c in range(m):
            usable[c] += np.int64(use[k, c])


@kernel
def _choose(out, c, thresholds):
    """Pick one or two differences for pixel ``c`` (``out.kind``, ``out.position``, ``out.improvement``).

    Only candidates above their kind's threshold compete. A pair needs 4
    usable differences (with fewer, the two left cannot tell which pair
    holds the jump); it wins over a single difference only when its score
    exceeds the single's by ``thresholds[usable, 2]``: the second difference
    must itself carry part of the jump, else a jump between groups would
    often take its neighbour along.
    """
    out.kind[c] = NONE
    out.improvement[c] = 0.0
    usable = out.usable[c]
    if usable < 2:
        return
    one, two = out.one_at[c], out.two_at[c] if usable >= 4 else -1
    if two >= 0 and (one < 0 or out.two_score[c] - out.one_score[c] > thresholds[usable, 2]):
        out.kind[c], out.position[c] = TWO, two
        out.improvement[c] = out.two_score[c]
    elif one >= 0:
        out.kind[c], out.position[c] = ONE, one
        out.improvement[c] = out.one_score[c]


@kernel(numpy_division=True)
def _measure(ws, information, out, c):
    """The fitted jump of pixel ``c`` (electrons) and its size in noise of one difference.

    One difference: its free offset ``rho[k] / S[k, k]``. Two: the sum of
    both offsets, ``1^T S_kk^-1 rho_k``.

    Also the statistic the test compared with its threshold, in a form whose
    tail probability on a clean ramp is simple (``out.statistic``): for one
    difference the improvement ``T`` (a chi-square of 1 degree of freedom);
    for a pair ``T - 2 ln(phi / pi)``, so that the probability of a larger one
    is ``exp(-statistic / 2)`` (see :func:`_pair_threshold`).
    """
    k = out.position[c]
    rho = ws.y_data
    if out.kind[c] == ONE:
        s = ws.inv_diag[k, c] - ws.w_time[k, c] * ws.w_time[k, c] / information[c]
        amplitude = rho[k, c] / s
        out.statistic[c] = amplitude * rho[k, c]
    else:
        s00, s01, s11 = _pair_matrix(ws, information, k, c)
        r0, r1 = rho[k, c], rho[k + 1, c]
        det = s00 * s11 - s01 * s01
        b0, b1 = (s11 * r0 - s01 * r1) / det, (s00 * r1 - s01 * r0) / det
        amplitude = b0 + b1
        out.statistic[c] = r0 * b0 + r1 * b1 - 2.0 * _log_wedge(s00, s01, s11)
    out.amplitude[c] = amplitude
    out.significance[c] = abs(amplitude) / np.sqrt(ws.alpha[k, c])
