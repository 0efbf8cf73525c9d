"""Side-by-side benchmark: jwst's JumpStep and jumpdet's JumpStep on identical ramps.

    python benchmarks/run.py                      # all standard cases
    python benchmarks/run.py --cases small tso    # some of them
    python benchmarks/run.py --list

Each (case, implementation) runs in a fresh Python process that rebuilds the same
seeded synthetic RampModel in memory with the same override references and calls
``JumpStep.call(model, ...)``, so both pay the same standalone deep copy of the model.
Reported per case: wall seconds of the call for each, the speed ratio, the peak extra
memory during the call (Linux peak RSS: the high-water mark is reset through
/proc/self/clear_refs just before the call and read from VmHWM after it), that extra beyond the
model copy divided by the input size (data + GROUPDQ), and whether GROUPDQ is identical.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

CASES = {
    # name: (nints, ngroups, nrows, ncols, extra step parameters)
    "small": ((1, 10, 256, 256), {}),
    "nircam_1x10": ((1, 10, 2048, 2048), {}),
    "nircam_2x5": ((2, 5, 2048, 2048), {}),
    "miri_1x40": ((1, 40, 1024, 1032), {}),
    "tso_120x10": ((120, 10, 64, 256), {}),
    "large_1x60": ((1, 60, 2048, 2048), {}),
}
DEFAULT_CASES = ["small", "nircam_1x10", "nircam_2x5", "miri_1x40", "tso_120x10"]

WORKER = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from jumpdet.simulate import simulate_ramp, to_ramp_model
    from stdatamodels.jwst.datamodels import GainModel, ReadnoiseModel

    def status_kb(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) * 1024

    shape, params, impl, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
    sim = simulate_ramp(tuple(shape), seed=42, flux_dn_per_s=5.0, jump_fraction=0.002,
                        jump_amplitude_dn=(50.0, 2000.0), saturation_dn=60000.0)
    model = to_ramp_model(sim, subarray=("FULL", 1, 1))
    refs = []
    for cls, data in ((GainModel, sim.gain), (ReadnoiseModel, sim.read_noise)):
        ref = cls(data=data)
        ref.meta.instrument.name = "MIRI"
        ref.meta.subarray.name = "FULL"
        ref.meta.subarray.xstart = ref.meta.subarray.ystart = 1
        ref.meta.subarray.ysize, ref.meta.subarray.xsize = data.shape
        refs.append(ref)
    del sim
    if impl == "jwst":
        from jwst.jump import JumpStep
    else:
        from jumpdet import JumpStep
    copy_bytes = model.data.nbytes + model.groupdq.nbytes + model.pixeldq.nbytes
    input_bytes = model.data.nbytes + model.groupdq.nbytes
    import gc; gc.collect()
    before = status_kb("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS high-water mark
    start = time.perf_counter()
    result = JumpStep.call(model, override_gain=refs[0], override_readnoise=refs[1], **params)
    seconds = time.perf_counter() - start
    peak = status_kb("VmHWM:") - before
    np.save(out, result.groupdq)
    print(json.dumps({"seconds": seconds, "peak_extra": peak, "copy_bytes": copy_bytes,
                      "input_bytes": input_bytes}))
""")


def run_one(shape, params, impl, out: Path) -> dict:
    """One fresh process: build the ramp, run one implementation, report figures."""
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(shape), json.dumps(params), impl, str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{impl} failed on {shape}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(name: str, workdir: Path) -> dict:
    """Run both implementations on one case and compare."""
    import numpy as np

    shape, params = CASES[name]
    figures = {
        impl: run_one(shape, params, impl, workdir / f"{name}_{impl}.npy") for impl in ("jwst", "jumpdet")
    }
    same = np.array_equal(np.load(workdir / f"{name}_jwst.npy"), np.load(workdir / f"{name}_jumpdet.npy"))
    row = {"case": name, "shape": "x".join(map(str, shape)), "identical_groupdq": bool(same)}
    for impl, f in figures.items():
        row[f"{impl}_s"] = f["seconds"]
        row[f"{impl}_peak_mb"] = f["peak_extra"] / 1e6
        row[f"{impl}_beyond_copy_x_input"] = (f["peak_extra"] - f["copy_bytes"]) / f["input_bytes"]
    row["speedup"] = row["jwst_s"] / row["jumpdet_s"]
    return row


def format_row(row: dict) -> str:
    return (
        f"{row['case']:<12} {row['shape']:>16} {row['jwst_s']:8.2f} {row['jumpdet_s']:8.2f} "
        f"{row['speedup']:7.1f}x {row['jwst_peak_mb']:9.0f} {row['jumpdet_peak_mb']:9.0f} "
        f"{row['jwst_beyond_copy_x_input']:7.2f}x {row['jumpdet_beyond_copy_x_input']:7.2f}x "
        f"{'yes' if row['identical_groupdq'] else 'NO':>5}"
    )


HEADER = (
    f"{'case':<12} {'shape':>16} {'jwst s':>8} {'ours s':>8} {'speed':>8} {'jwst MB':>9} "
    f"{'ours MB':>9} {'jwst>cp':>8} {'ours>cp':>8} {'same':>5}"
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", nargs="+", default=DEFAULT_CASES, choices=sorted(CASES))
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.list:
        for name, (shape, params) in CASES.items():
            print(name, "x".join(map(str, shape)), params or "")
        return 0
    from jumpdet.demo import configure_crds

    # jwst asks CRDS for its context even with overrides: use CRDS if configured, else a local cache
    print(f"CRDS: {configure_crds()}")
    print(HEADER)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases:
            rows.append(compare(name, Path(tmp)))
            print(format_row(rows[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["identical_groupdq"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
