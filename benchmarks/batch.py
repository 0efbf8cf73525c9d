"""Throughput on many files: ``jumpdet run`` against a strun loop and jwst's multiprocessing pattern.

    python benchmarks/batch.py                              # 16 files, the three ways
    python benchmarks/batch.py --files 4 --timeout 600      # a quick subset
    python benchmarks/batch.py --cases jumpdet-run strun-loop --workers 2

Inputs: full-frame refpix-like ramps, half MIRI Imager (1x20x1024x1032) and half NIRCam
NRCA1 (1x10x2048x2048), copies of two seeded simulations per instrument
(``jumpdet.simulate.ramps``), with references from a local offline CRDS cache built here.
Each way runs in fresh processes on the same files, timed from its start to its last
product (imports, start-up and kernel loading included), after an untimed ``sync`` (the
inputs, and the products of the way before, are on disk when it starts):

- ``jumpdet-run``: ``jumpdet run FILES --workers W`` (a Dask LocalCluster of W processes);
- ``strun-loop``: ``strun jumpdet.JumpStep FILE`` for each file in turn, as a shell loop;
- ``jwst-pool``: jwst's documented pattern, a ``multiprocessing`` spawn pool of W processes
  each calling jwst's own ``jwst.jump.JumpStep.call(FILE, save_results=True)``.

Reported: seconds, files per minute, jumpdet-run's speed-up over each, and whether every
product's GROUPDQ and PIXELDQ equal those of the first way run. The kernels are loaded
(compiled if the numba cache is fresh) by an untimed run on a small file first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CASES = ("jumpdet-run", "strun-loop", "jwst-pool")
SHAPES = {"MIRI": (1, 20, 1024, 1032), "NIRCAM": (1, 10, 2048, 2048)}
DETECTORS = {"MIRI": ("MIRIMAGE", "F1130W"), "NIRCAM": ("NRCA1", "F200W")}
SIMULATIONS_PER_INSTRUMENT = 2

JWST_POOL = textwrap.dedent("""
    import multiprocessing, sys

    def run_jump(path, output_dir):
        from jwst.jump import JumpStep
        JumpStep.call(path, save_results=True, output_dir=output_dir)

    if __name__ == "__main__":
        output_dir, workers, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            pool.starmap(run_jump, [(path, output_dir) for path in files])
""")


def make_inputs(folder: Path, n_files: int) -> list[Path]:
    """``n_files`` refpix-like full frames, alternating MIRI and NIRCam."""
    from jumpdet.simulate.ramps import simulate_ramp, to_ramp_model

    folder.mkdir(parents=True, exist_ok=True)
    originals = {}
    files = []
    for index in range(n_files):
        instrument = ("MIRI", "NIRCAM")[index % 2]
        seed = (index // 2) % SIMULATIONS_PER_INSTRUMENT
        path = folder / f"bench{index:03d}_{instrument.lower()}_refpix.fits"
        if (instrument, seed) not in originals:
            sim = simulate_ramp(
                SHAPES[instrument],
                seed=seed,
                flux_dn_per_s=5.0,
                jump_fraction=0.002,
                jump_amplitude_dn=(50.0, 2000.0),
                saturation_dn=60000.0,
            )
            detector, filter_ = DETECTORS[instrument]
            with to_ramp_model(sim, instrument=instrument, detector=detector, filter=filter_) as model:
                model.save(path)
            originals[(instrument, seed)] = path
        else:
            shutil.copyfile(originals[(instrument, seed)], path)
        files.append(path)
    return files


def commands(case: str, files: list[Path], out: Path, workers: int) -> list[list[str]]:
    """The command lines of one way, run one after the other."""
    names = [str(f) for f in files]
    if case == "jumpdet-run":
        options = ["--workers", str(workers), "--output-dir", str(out), "--quiet"]
        return [[str(BIN / "jumpdet"), "run", *names, *options]]
    if case == "strun-loop":
        return [[str(BIN / "strun"), "jumpdet.JumpStep", name, "--output_dir", str(out)] for name in names]
    script = out / "jwst_pool.py"  # a file: spawned processes import the function from it
    script.write_text(JWST_POOL)
    return [[sys.executable, str(script), str(out), str(workers), *names]]


def timed(case: str, files: list[Path], out: Path, workers: int, timeout: float) -> float | None:
    """Wall seconds of one way, or None if it ran out of time."""
    out.mkdir(parents=True, exist_ok=True)
    # untimed: the inputs just made and the products of the way before are written to disk
    # first, so that no way pays for the writeback of files it did not write
    os.sync()
    deadline = time.perf_counter() + timeout
    start = time.perf_counter()
    for command in commands(case, files, out, workers):
        left = deadline - time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=max(left, 1), check=False)
        except subprocess.TimeoutExpired:
            return None
        if done.returncode != 0:
            raise RuntimeError(f"{case} failed ({done.returncode}): {done.stderr[-2000:]}")
    return time.perf_counter() - start


def products(out: Path) -> dict[str, Path]:
    """Products by input name: jumpdet's step names them *_jumpstep.fits, jwst's *_jump.fits."""
    found = {}
    for path in out.glob("*.fits"):
        found[path.name.rsplit("_", 1)[0]] = path
    return found


def same_flags(first: Path, second: Path) -> bool:
    import numpy as np
    from astropy.io import fits

    with fits.open(first) as a, fits.open(second) as b:
        return all(np.array_equal(a[name].data, b[name].data) for name in ("GROUPDQ", "PIXELDQ"))


def identical(reference: Path, other: Path, files: list[Path]) -> bool:
    mine, theirs = products(reference), products(other)
    names = [f.name.rsplit("_", 1)[0] for f in files]
    return all(name in mine and name in theirs and same_flags(mine[name], theirs[name]) for name in names)


def warm_up(folder: Path) -> None:
    """Load (or compile, once per installation) jumpdet's kernels, untimed."""
    from jumpdet.simulate.ramps import simulate_ramp, to_ramp_model

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "warmup_refpix.fits"
    with to_ramp_model(simulate_ramp((1, 10, 64, 64), seed=0), subarray=("SUB64", 1, 1)) as model:
        model.save(path)
    subprocess.run(
        [str(BIN / "jumpdet"), "run", str(path), "--workers", "1", "--output-dir", str(folder), "-q"],
        check=True,
        capture_output=True,
    )


def configure_crds(folder: Path) -> None:
    from jumpdet.references.crds_cache import build_cache, cache_environment

    os.environ.update(cache_environment(build_cache(folder, detectors=("MIRIMAGE", "NRCA1"))))


def table(rows: list[dict], n_files: int, workers: int) -> str:
    ours = next((r["seconds"] for r in rows if r["case"] == "jumpdet-run" and r["seconds"]), None)
    lines = [
        f"{n_files} files (half MIRI 1x20x1024x1032, half NIRCam 1x10x2048x2048), {workers} workers "
        f"where parallel, {os.cpu_count()} cores",
        f"{'way':<12} {'seconds':>8} {'files/min':>10} {'jumpdet-run is':>15} {'same flags':>11}",
    ]
    for row in rows:
        seconds = row["seconds"]
        if seconds is None:
            lines.append(f"{row['case']:<12} {'timeout':>8}")
            continue
        ratio = f"{seconds / ours:.1f}x faster" if ours and row["case"] != "jumpdet-run" else ""
        lines.append(
            f"{row['case']:<12} {seconds:8.1f} {60 * n_files / seconds:10.1f} {ratio:>15} "
            f"{'yes' if row['identical'] else 'NO':>11}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=16, help="number of input files (default 16)")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES), metavar="WAY")
    parser.add_argument("--workers", type=int, default=2, help="processes for jumpdet-run and jwst-pool (2)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed to each way (1800)")
    parser.add_argument("--workdir", type=Path, help="keep inputs and products here (default: temporary)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="jumpdet-batch-bench-"))
    try:
        configure_crds(work / "crds")
        files = make_inputs(work / "inputs", args.files)
        warm_up(work / "warmup")
        rows = []
        for case in args.cases:
            out = work / case
            shutil.rmtree(out, ignore_errors=True)
            seconds = timed(case, files, out, args.workers, args.timeout)
            first = work / args.cases[0]
            same = seconds is not None and identical(first, out, files)
            rows.append({"case": case, "seconds": seconds, "identical": same})
            shown = "timeout" if seconds is None else f"{seconds:.1f} s"
            print(f"{case}: {shown}", file=sys.stderr, flush=True)
        print(table(rows, args.files, args.workers))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["identical"] for r in rows if r["seconds"] is not None) else 1


if __name__ == "__main__":
    sys.exit(main())
