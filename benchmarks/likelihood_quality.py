"""Quality of jump detection: completeness per jump significance against false flags, threshold by threshold.

    python benchmarks/likelihood_quality.py                        # every readout, 50000 + 100000 pixels
    python benchmarks/likelihood_quality.py --readouts grouped_4x1 --pixels 5000 --timeout 300
    python benchmarks/likelihood_quality.py --plot docs/_static/likelihood_quality.png --json q.json

Frame-level ramps with known jumps (:func:`jumpdet.simulate.frames.simulate_frame_ramps`):
every frame is read (read noise per frame, Poisson charge), groups average ``nframes``
frames and skip ``groupgap``; jumps land at random frames, so on grouped readouts most
fall inside a group and split across two differences. Fluxes are log-uniform from sky
(0.02 e per frame) to near saturation (the ramp ends at 90 % of a 60000 e full well);
a fifth of the jumps are negative; jump sizes are log-uniform from 3 to 200 sigma of one
group difference (the unit of the bins). Gain 1, READNOISE (CDS) 12 e.

Three detectors, each swept over ``rejection_threshold``, neighbours off:

* ``jwst``: jwst 3.0's ``JumpStep`` (two-point differences);
* ``LIKELY``: stcal 1.20's likelihood jump flags, from ``likely_ramp_fit`` (what jwst's
  ``ramp_fit`` runs with ``algorithm='LIKELY'``) with its internal ``rejection_threshold``
  set (jwst does not expose it; unset it is 4.5 sigma);
* ``jumpdet``: jumpdet's ``method='likelihood'``.

A jump is found when JUMP_DET is set on the group it first changes, or on the next one when
it fell inside that group. False flags are counted on a second, jump-free set of the same
pixels (per million groups); flags next to true jumps that are not on their groups are
reported apart ("extra"). The summary interpolates each detector's completeness at the
false-flag rate jwst has at its default threshold (4 sigma). The table goes to standard
output; the steps log to standard error.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

FULL_WELL = 60000.0
READ_NOISE_CDS = 12.0
BINS = ((5.0, 8.0), (8.0, 15.0), (15.0, np.inf))
DEFAULT_THRESHOLDS = (3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 7.0, 8.0, 10.0)
# jumpdet's threshold is a rate per ramp (lower false-flag rates at a given threshold):
# its sweep starts lower, so that it reaches jwst's rate at 4 sigma on every readout, and
# steps by 0.1 up to 5 (a run takes a tenth of a second), so that its completeness at jwst's
# rate is read between close points rather than interpolated across half a sigma
SWEEPS = {"jumpdet": (*(round(2.5 + 0.1 * k, 1) for k in range(26)), 5.5, 6.0, 7.0, 8.0, 10.0)}
DETECTORS = ("jwst", "LIKELY", "jumpdet")


class Readout(NamedTuple):
    ngroups: int
    nframes: int
    groupgap: int
    note: str


READOUTS = {
    "grouped_4x1": Readout(8, 4, 1, "4 frames + 1 skipped, 8 groups (the issue's case)"),
    "grouped_2x0": Readout(10, 2, 0, "NIRCam BRIGHT2-like: 2 frames, 10 groups"),
    "grouped_8x2": Readout(6, 8, 2, "NIRCam MEDIUM8-like: 8 frames + 2 skipped, 6 groups"),
    "grouped_4x1_20": Readout(20, 4, 1, "4 frames + 1 skipped, 20 groups"),
    "grouped_4x0_5": Readout(5, 4, 0, "4 frames, 5 groups (short)"),
    "miri_10": Readout(10, 1, 0, "1-frame groups (MIRI), 10 groups"),
    "miri_100": Readout(100, 1, 0, "1-frame groups (MIRI), 100 groups"),
}


def simulate(readout: Readout, npix: int, nclean: int, seed: int, jumps_per_ramp: float):
    from jumpdet.simulate.frames import simulate_frame_ramps

    rng = np.random.default_rng(seed)
    frames = readout.ngroups * (readout.nframes + readout.groupgap)
    flux = np.exp(rng.uniform(np.log(0.02), np.log(0.9 * FULL_WELL / frames), npix))
    common = {
        "ngroups": readout.ngroups,
        "nframes": readout.nframes,
        "groupgap": readout.groupgap,
        "flux": flux,
        "read_noise_cds": READ_NOISE_CDS,
        "full_well": FULL_WELL,
    }
    jumped = simulate_frame_ramps(
        npix,
        **common,
        jumps_per_ramp=jumps_per_ramp,
        significance=(3.0, 200.0),
        negative_fraction=0.2,
        seed=seed + 1,
    )
    clean_flux = np.exp(rng.uniform(np.log(0.02), np.log(0.9 * FULL_WELL / frames), nclean))
    clean = simulate_frame_ramps(nclean, **{**common, "flux": clean_flux}, seed=seed + 2)
    return jumped, clean


def ramp_model(sim, readout: Readout):
    from jumpdet.simulate.ramps import SyntheticRamp, to_ramp_model, to_reference_models

    shape = sim.data.shape[2:]
    ones = np.ones(shape, np.float32)
    group_time = float(readout.nframes + readout.groupgap)
    synthetic = SyntheticRamp(
        sim.data,
        sim.groupdq,
        np.zeros(shape, np.uint32),
        ones,
        ones * READ_NOISE_CDS,
        ones,
        group_time,
        readout.nframes,
        (),
    )
    model = to_ramp_model(synthetic, instrument="NIRCAM", detector="NRCA1", filter="F200W")
    model.meta.exposure.groupgap = readout.groupgap
    model.meta.exposure.frame_time = 1.0
    return model, to_reference_models(ones, ones * READ_NOISE_CDS, instrument="NIRCAM")


def jwst_flags(sim, readout, threshold):
    from jwst.jump import JumpStep

    model, (gain, read_noise) = ramp_model(sim, readout)
    result = JumpStep.call(
        model,
        override_gain=gain,
        override_readnoise=read_noise,
        rejection_threshold=threshold,
        flag_4_neighbors=False,
    )
    return (result.groupdq & 4) != 0


def likely_flags(sim, readout, threshold):
    from stcal.ramp_fitting.likely_fit import likely_ramp_fit
    from stcal.ramp_fitting.ramp_fit import create_ramp_fit_class
    from stdatamodels.jwst.datamodels import dqflags

    if readout.ngroups < 4:
        return None
    model, (gain, read_noise) = ramp_model(sim, readout)
    ramp_data = create_ramp_fit_class(model, "LIKELY", dqflags.pixel)
    ramp_data.rejection_threshold = threshold
    likely_ramp_fit(ramp_data, read_noise.data, gain.data)
    return (ramp_data.groupdq & 4) != 0


def jumpdet_flags(sim, readout, threshold):
    from jumpdet import JumpParams, detect_jumps

    shape = sim.data.shape[2:]
    ones = np.ones(shape, np.float32)
    params = JumpParams(
        method="likelihood",
        rejection_threshold=threshold,
        nframes=readout.nframes,
        groupgap=readout.groupgap,
        flag_4_neighbors=False,
    )
    result = detect_jumps(
        sim.data,
        sim.groupdq,
        np.zeros(shape, np.uint32),
        gain=ones,
        read_noise=ones * READ_NOISE_CDS,
        params=params,
    )
    return (result.groupdq & 4) != 0


RUNNERS = {"jwst": jwst_flags, "LIKELY": likely_flags, "jumpdet": jumpdet_flags}


def score(flags, clean_flags, sim):
    """Completeness per bin, false flags per million groups (clean set), extra flags near jumps."""
    jumps = sim.jumps
    group, inside = sim.affected_groups()
    i, pix = jumps[:, 0].astype(int), jumps[:, 1].astype(int)
    ngroups = flags.shape[1]
    later = np.minimum(group + 1, ngroups - 1)
    found = flags[i, group, 0, pix] | (inside & flags[i, later, 0, pix])
    usable = sim.groupdq[i, np.minimum(later, ngroups - 1), 0, pix] == 0
    truth = np.zeros(flags.shape, bool)
    truth[i, group, 0, pix] = True
    truth[i[inside], later[inside], 0, pix[inside]] = True
    row = {
        "false_per_mgroups": 1e6 * clean_flags.sum() / clean_flags.size,
        "extra_per_mgroups": 1e6 * (flags & ~truth).sum() / flags.size,
    }
    for lo, hi in BINS:
        sel = (jumps[:, 4] >= lo) & (jumps[:, 4] < hi) & usable
        row[f"{lo:g}-{hi:g}"] = float(found[sel].mean()) if sel.any() else float("nan")
        sel_inside = sel & inside
        row[f"{lo:g}-{hi:g} inside"] = float(found[sel_inside].mean()) if sel_inside.any() else float("nan")
    return row


def bright_false(clean_flags, clean, quantile=0.8):
    """False flags per million groups among the brightest pixels."""
    bright = clean.flux >= np.quantile(clean.flux, quantile)
    return 1e6 * clean_flags[..., bright].sum() / clean_flags[..., bright].size


def completeness_at(rows, false_rate, key):
    """Completeness interpolated (in log false-flag rate) at ``false_rate``; NaN outside the sweep."""
    pts = sorted((max(r["false_per_mgroups"], 0.1), r[key]) for r in rows if np.isfinite(r[key]))
    if not pts:
        return float("nan")
    x = np.log([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    target = np.log(max(false_rate, 0.1))
    if target < x[0] - 1e-9 or target > x[-1] + 1e-9:
        return float("nan")
    return float(np.interp(target, x, np.maximum.accumulate(y)))


def sweep(name, readout, args, deadline):
    jumped, clean = simulate(readout, args.pixels, args.clean_pixels, args.seed, args.jumps_per_ramp)
    rows = []
    for detector in args.detectors:
        thresholds = args.thresholds or SWEEPS.get(detector, DEFAULT_THRESHOLDS)
        for threshold in thresholds:
            if time.monotonic() > deadline:
                print(f"# timeout: {name} {detector} from threshold {threshold} on skipped", flush=True)
                return rows
            start = time.perf_counter()
            flags = RUNNERS[detector](jumped, readout, threshold)
            if flags is None:
                break
            clean_flags = RUNNERS[detector](clean, readout, threshold)
            row = {"readout": name, "detector": detector, "threshold": threshold}
            row.update(score(flags, clean_flags, jumped))
            row["bright_false_per_mgroups"] = bright_false(clean_flags, clean)
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


def format_row(row):
    bins = " ".join(f"{row[f'{lo:g}-{hi:g}']:6.3f}" for lo, hi in BINS)
    inside = " ".join(f"{row[f'{lo:g}-{hi:g} inside']:6.3f}" for lo, hi in BINS)
    return (
        f"{row['readout']:<15} {row['detector']:<8} {row['threshold']:5.1f} {row['false_per_mgroups']:9.1f} "
        f"{row['bright_false_per_mgroups']:9.1f} {row['extra_per_mgroups']:9.1f}  {bins}   {inside}  "
        f"{row['seconds']:6.1f}"
    )


HEADER = (
    f"{'readout':<15} {'detector':<8} {'thr':>5} {'false/M':>9} {'brightF/M':>9} {'extra/M':>9}  "
    + " ".join(f"{f'{lo:g}-{hi:g}':>6}" for lo, hi in BINS)
    + "   "
    + " ".join(f"{f'in{lo:g}-{hi:g}':>6}" for lo, hi in BINS)
    + f"  {'sec':>6}"
)


def summary(rows, readouts):
    """Completeness of each detector at the false-flag rate of jwst's default threshold (4 sigma)."""
    lines = [
        "At the false-flag rate of jwst's default threshold (4 sigma), completeness per bin (sigma):",
        f"{'readout':<15} {'false/M':>8}  {'detector':<8} "
        + " ".join(f"{f'{lo:g}-{hi:g}':>7}" for lo, hi in BINS),
    ]
    for name in readouts:
        reference = [
            r for r in rows if r["readout"] == name and r["detector"] == "jwst" and r["threshold"] == 4.0
        ]
        if not reference:
            continue
        rate = reference[0]["false_per_mgroups"]
        for detector in DETECTORS:
            mine = [r for r in rows if r["readout"] == name and r["detector"] == detector]
            if not mine:
                continue
            values = " ".join(f"{completeness_at(mine, rate, f'{lo:g}-{hi:g}'):7.3f}" for lo, hi in BINS)
            lines.append(f"{name:<15} {rate:8.1f}  {detector:<8} {values}")
    return "\n".join(lines)


def plot(rows, readouts, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in readouts if any(r["readout"] == n for r in rows)]
    fig, axes = plt.subplots(2, len(names), figsize=(3.2 * len(names), 6), squeeze=False, sharey=True)
    for col, name in enumerate(names):
        for row_axis, key in enumerate(("5-8", "8-15")):
            ax = axes[row_axis, col]
            for detector, style in zip(DETECTORS, ("o-", "s--", "^-"), strict=True):
                mine = [r for r in rows if r["readout"] == name and r["detector"] == detector]
                if mine:
                    ax.plot(
                        [max(r["false_per_mgroups"], 0.1) for r in mine],
                        [r[key] for r in mine],
                        style,
                        label=detector,
                        ms=4,
                    )
            ax.set_xscale("log")
            ax.set_title(f"{name}: {key} sigma", fontsize=9)
            ax.set_xlabel("false flags per million groups", fontsize=8)
            ax.grid(alpha=0.3)
        axes[0, col].set_ylim(0, 1.02)
    axes[0, 0].set_ylabel("completeness")
    axes[1, 0].set_ylabel("completeness")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readouts", nargs="+", default=list(READOUTS), choices=list(READOUTS))
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    parser.add_argument(
        "--thresholds",
        nargs="+",
        type=float,
        help="rejection_threshold values (default 3.5 to 10; jumpdet 2.5 to 5 by 0.1, then to 10)",
    )
    parser.add_argument(
        "--pixels", type=int, default=50000, help="pixels with jumps per readout (default 50000)"
    )
    parser.add_argument(
        "--clean-pixels", type=int, default=100000, help="jump-free pixels per readout (default 100000)"
    )
    parser.add_argument(
        "--jumps-per-ramp", type=float, default=0.2, help="mean jumps per pixel (default 0.2)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds; the rest is skipped (default 3600)"
    )
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--plot", type=Path, help="write the completeness curves (PNG) here")
    args = parser.parse_args(argv)
    from jumpdet.cli.demo import configure_crds

    print(f"# CRDS: {configure_crds()}", flush=True)
    deadline = time.monotonic() + args.timeout
    # a hard stop a minute after the soft one, for a single run that hangs
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("timeout"))
    signal.alarm(int(args.timeout) + 60)
    print(HEADER, flush=True)
    rows = []
    for name in args.readouts:
        rows += sweep(name, READOUTS[name], args, deadline)
    print()
    print(summary(rows, args.readouts))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.plot:
        plot(rows, args.readouts, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
