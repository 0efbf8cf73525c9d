"""Side-by-side benchmark: jwst's JumpStep and jumpdet's JumpStep on identical ramps.

    python benchmarks/run.py                      # the default cases
    python benchmarks/run.py --cases small tso_120x10
    python benchmarks/run.py --cases large-events # a group: standard, large-events, all
    python benchmarks/run.py --cases nircam_1x10 --maximum-cores 2
    python benchmarks/run.py --cases nircam_1x10 large_1x60 --scaling 2   # core alone, 1 vs 2 threads
    python benchmarks/run.py --list

Each (case, implementation) runs in a fresh Python process that rebuilds the same
seeded synthetic RampModel in memory with the same override references and calls
``JumpStep.call(model, ...)``, so both pay the same standalone deep copy of the model.
Reported per case: wall seconds of the call for each, the speed ratio, the peak extra
memory during the call (Linux peak RSS: the high-water mark is reset through
/proc/self/clear_refs just before the call and read from VmHWM after it), that extra beyond the
model copy divided by the input size (data + GROUPDQ), and whether GROUPDQ is identical.
"process" is the speed ratio of the time spent inside each step's ``process`` (which
opens and deep-copies the model, loads the references and detects), and "fixed" the
seconds of the call spent outside it in stpipe (a ``gc.collect()`` and logging; the
smaller of the two), a floor that bounds the call's ratio on small inputs. With
snowballs or showers, the seconds of each large-event stage (stcal's ``flag_large_events``
and ``find_faint_extended``; jumpdet's ``flag_snowballs_inplace`` and
``flag_showers_inplace``) and their ratio follow the row.

Standard cases are ramps with isolated jumps (``jumpdet.simulate.ramps.simulate_ramp``).
Large-event cases use ``jumpdet.simulate.events``: NIRCam-like full frames with
snowballs (saturated cores in rings of jumps, plus ordinary hits and saturating
stars) run with ``expand_large_events=True``; MIRI-like ramps with showers (faint
extended steps around bright hits) run with ``find_showers=True``.  Every other
parameter is the step's spec default (no CRDS parameter reference is used, so the
NIRCam cases do *not* use the NIRCam ``pars-jumpstep`` values from CRDS); with
jwst's spec defaults a snowball needs a saturated core of 1 pixel and a ring of 5
(``min_sat_area``, ``min_jump_area``), is drawn ``expand_factor`` = 2 times larger,
and a MIRI shower needs 90 pixels above 1.2 sigma after ring smoothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import NamedTuple


class Case(NamedTuple):
    """One benchmark input: ramp shape, step parameters, and how the ramp is simulated."""

    shape: tuple[int, int, int, int]  # nints, ngroups, nrows, ncols
    params: dict | None = None  # extra step parameters
    events: dict | None = None  # None: isolated jumps; else simulate_events generator and arguments
    instrument: tuple[str, str, str] = ("MIRI", "MIRIMAGE", "F1130W")  # name, detector, filter


NIRCAM = ("NIRCAM", "NRCA1", "F200W")
SNOWBALLS = {"expand_large_events": True}
SHOWERS = {"find_showers": True}

STANDARD = ("small", "nircam_1x10", "nircam_2x5", "miri_1x40", "tso_120x10", "large_1x60")
CASES = {
    "small": Case((1, 10, 256, 256)),
    "nircam_1x10": Case((1, 10, 2048, 2048)),
    "nircam_2x5": Case((2, 5, 2048, 2048)),
    "miri_1x40": Case((1, 40, 1024, 1032)),
    "tso_120x10": Case((120, 10, 64, 256)),
    "large_1x60": Case((1, 60, 2048, 2048)),
    "snowballs_1000": Case(
        (1, 10, 2048, 2048), SNOWBALLS, {"generator": "snowball_ramp", "n_snowballs": 1000}, NIRCAM
    ),
    "snowballs_3000": Case(
        (1, 10, 2048, 2048), SNOWBALLS, {"generator": "snowball_ramp", "n_snowballs": 3000}, NIRCAM
    ),
    "showers_20": Case((1, 40, 1024, 1032), SHOWERS, {"generator": "shower_ramp", "n_showers": 20}),
    "showers_60": Case((1, 40, 1024, 1032), SHOWERS, {"generator": "shower_ramp", "n_showers": 60}),
    # the shower stage run with nothing to find, and on the sigma-clip path (many integrations)
    "showers_0": Case((1, 40, 1024, 1032), SHOWERS, {"generator": "shower_ramp", "n_showers": 0}),
    "showers_ints": Case(
        (100, 6, 256, 258),
        SHOWERS,
        {"generator": "shower_ramp", "n_showers": 4, "cosmic_rays_per_group": 6},
    ),
}
GROUPS = {
    "standard": list(STANDARD),
    "large-events": [
        "snowballs_1000",
        "snowballs_3000",
        "showers_0",
        "showers_20",
        "showers_60",
        "showers_ints",
    ],
    "all": list(CASES),
}
DEFAULT_CASES = list(STANDARD)

WORKER = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from jumpdet.simulate import events as simulate_events
    from jumpdet.simulate.ramps import simulate_ramp, to_ramp_model
    from stdatamodels.jwst.datamodels import GainModel, ReadnoiseModel

    def status_kb(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) * 1024

    def build(case, shape, seed, warm_up=False):
        nints, ngroups, nrows, ncols = shape
        events = dict(case["events"] or {})
        if events:
            generator = getattr(simulate_events, events.pop("generator"))
            if warm_up:
                events = {key: 1 for key in events}
            sim = generator(nints=nints, ngroups=ngroups, shape=(nrows, ncols), seed=seed, **events)
        else:
            sim = simulate_ramp(tuple(shape), seed=seed, flux_dn_per_s=5.0, jump_fraction=0.002,
                                jump_amplitude_dn=(50.0, 2000.0), saturation_dn=60000.0)
        name, detector, filter_ = case["instrument"]
        model = to_ramp_model(sim, instrument=name, detector=detector, filter=filter_)
        refs = []
        for cls, data in ((GainModel, sim.gain), (ReadnoiseModel, sim.read_noise)):
            ref = cls(data=data)
            ref.meta.instrument.name = name
            ref.meta.subarray.name = "FULL"
            ref.meta.subarray.xstart = ref.meta.subarray.ystart = 1
            ref.meta.subarray.ysize, ref.meta.subarray.xsize = data.shape
            refs.append(ref)
        return model, refs

    case, impl, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    params = case["params"] or {}
    if impl == "jwst":
        from jwst.jump import JumpStep
    else:
        from jumpdet import JumpStep
    if impl == "scaling":  # jumpdet's core alone, 1 thread against int(out) threads
        from jumpdet.detect import detect_jumps_inplace
        from jumpdet.params import params_from_step
        model, refs = build(case, case["shape"], 42)
        gain, read_noise = refs[0].data, refs[1].data
        core = params_from_step(JumpStep(**params), group_time_s=model.meta.exposure.group_time,
                                nframes=model.meta.exposure.nframes, gain=gain)
        best = {}
        for workers in (1, int(out)) * 4:  # best of four: the first call loads the kernels
            gdq, pdq = model.groupdq.copy(), model.pixeldq.copy()
            start = time.perf_counter()
            detect_jumps_inplace(model.data, gdq, pdq, gain=gain, read_noise=read_noise, params=core,
                                 max_workers=workers)
            best[workers] = min(best.get(workers, float("inf")), time.perf_counter() - start)
        print(json.dumps({"one": best[1], "many": best[int(out)]}))
        sys.exit(0)

    def timed(owner, name, spent):
        # wrap owner.name so that every call's seconds are appended to spent
        original = getattr(owner, name)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent.append(time.perf_counter() - start)
        setattr(owner, name, wrapper)

    # the time inside the step's own process() (both open and copy the model there),
    # so the call's fixed costs of stpipe (gc.collect, logging) can be shown apart
    inside, large_events = [], []
    timed(JumpStep, "process", inside)
    # the large-event stage: stcal's two functions, called by name from stcal.jump.jump,
    # and jumpdet's two entry points, imported from their modules when they run
    if impl == "jwst":
        import stcal.jump.jump as stcal_jump
        stages = [(stcal_jump, "flag_large_events"), (stcal_jump, "find_faint_extended")]
    else:
        from jumpdet.large_events import showers, snowballs
        stages = [(snowballs, "flag_snowballs_inplace"), (showers, "flag_showers_inplace")]
    for owner, name in stages:
        timed(owner, name, large_events)
    # warm-up on a 64x64 ramp of the same kind, so that one-time costs of the process
    # (lazy imports, loading compiled kernels) are reported apart from the timed call
    warm_model, warm_refs = build(case, case["shape"][:2] + [64, 64], 1, warm_up=True)
    start = time.perf_counter()
    JumpStep.call(warm_model, override_gain=warm_refs[0], override_readnoise=warm_refs[1], **params)
    warmup = time.perf_counter() - start
    model, refs = build(case, case["shape"], 42)
    copy_bytes = model.data.nbytes + model.groupdq.nbytes + model.pixeldq.nbytes
    input_bytes = model.data.nbytes + model.groupdq.nbytes
    import ctypes, gc; gc.collect()
    # hand memory freed while building the ramp back to the system, so that the model
    # copy and the step's buffers cannot hide in it and the peak counts all they take
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    large_events.clear()
    before = status_kb("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS high-water mark
    start = time.perf_counter()
    result = JumpStep.call(model, override_gain=refs[0], override_readnoise=refs[1], **params)
    seconds = time.perf_counter() - start
    peak = status_kb("VmHWM:") - before
    np.save(out, result.groupdq)
    print(json.dumps({"seconds": seconds, "process": inside[-1], "warmup": warmup,
                      "large_events": sum(large_events) if large_events else None,
                      "peak_extra": peak, "copy_bytes": copy_bytes, "input_bytes": input_bytes}))
""")


def run_one(case: Case, impl: str, out: Path) -> dict:
    """One fresh process: build the ramp, run one implementation, report figures."""
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(case._asdict()), impl, str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{impl} failed on {case.shape}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(name: str, workdir: Path, cores: str = "1") -> dict:
    """Run both implementations on one case (``maximum_cores=cores`` for both) and compare."""
    import numpy as np

    case = CASES[name]
    case = case._replace(params={**(case.params or {}), "maximum_cores": cores})
    figures = {impl: run_one(case, impl, workdir / f"{name}_{impl}.npy") for impl in ("jwst", "jumpdet")}
    same = np.array_equal(np.load(workdir / f"{name}_jwst.npy"), np.load(workdir / f"{name}_jumpdet.npy"))
    row = {"case": name, "shape": "x".join(map(str, case.shape)), "identical_groupdq": bool(same)}
    for impl, f in figures.items():
        row[f"{impl}_s"] = f["seconds"]
        row[f"{impl}_process_s"] = f["process"]
        row[f"{impl}_large_events_s"] = f["large_events"]
        row[f"{impl}_warmup_s"] = f["warmup"]
        row[f"{impl}_peak_mb"] = f["peak_extra"] / 1e6
        row[f"{impl}_beyond_copy_x_input"] = (f["peak_extra"] - f["copy_bytes"]) / f["input_bytes"]
    row["speedup"] = row["jwst_s"] / row["jumpdet_s"]
    row["process_speedup"] = row["jwst_process_s"] / row["jumpdet_process_s"]
    if row["jwst_large_events_s"] is not None and row["jumpdet_large_events_s"] is not None:
        row["large_events_speedup"] = row["jwst_large_events_s"] / row["jumpdet_large_events_s"]
    # stpipe's fixed cost around process() (a gc.collect, logging), paid by both
    row["framework_s"] = min(
        row["jwst_s"] - row["jwst_process_s"], row["jumpdet_s"] - row["jumpdet_process_s"]
    )
    return row


def format_row(row: dict, width: int = 12) -> str:
    return (
        f"{row['case']:<{width}} {row['shape']:>16} {row['jwst_s']:8.2f} {row['jumpdet_s']:8.2f} "
        f"{row['speedup']:7.1f}x {row['process_speedup']:7.1f}x {row['framework_s']:6.2f} "
        f"{row['jwst_peak_mb']:9.0f} {row['jumpdet_peak_mb']:9.0f} "
        f"{row['jwst_beyond_copy_x_input']:7.2f}x {row['jumpdet_beyond_copy_x_input']:7.2f}x "
        f"{'yes' if row['identical_groupdq'] else 'NO':>5} "
        f"{row['jwst_warmup_s']:7.2f} {row['jumpdet_warmup_s']:7.2f}" + _large_events_columns(row)
    )


def _large_events_columns(row: dict) -> str:
    """Seconds of each implementation's large-event stage and their ratio, when it ran."""
    if "large_events_speedup" not in row:
        return ""
    return (
        f"   events: jwst {row['jwst_large_events_s']:.2f} s, ours {row['jumpdet_large_events_s']:.3f} s, "
        f"{row['large_events_speedup']:.1f}x"
    )


def header(width: int = 12) -> str:
    return (
        f"{'case':<{width}} {'shape':>16} {'jwst s':>8} {'ours s':>8} {'speed':>8} {'process':>8} "
        f"{'fixed':>6} {'jwst MB':>9} {'ours MB':>9} {'jwst>cp':>8} {'ours>cp':>8} {'same':>5} "
        f"{'jwst 1st':>7} {'ours 1st':>7}"
    )


def selected(names: list[str]) -> list[str]:
    """Case names with groups expanded, in order, without repeats."""
    chosen: list[str] = []
    for name in names:
        for case in GROUPS.get(name, [name]):
            if case not in chosen:
                chosen.append(case)
    return chosen


def describe(name: str) -> str:
    case = CASES[name]
    parts = [name, "x".join(map(str, case.shape)), case.instrument[0]]
    if case.events is not None:
        parts.append(", ".join(f"{k}={v}" for k, v in case.events.items()))
    if case.params:
        parts.append(str(case.params))
    return "  ".join(parts)


def scaling(names: list[str], threads: int) -> int:
    """Print the core's seconds with 1 and ``threads`` threads (best of four each) per case."""
    print(f"jumpdet core (detect_jumps_inplace), 1 thread against {threads}, best of four runs each")
    print(f"{'case':<16} {'1 thread s':>10} {f'{threads} threads s':>12} {'speed-up':>9}")
    for name in names:
        case = CASES[name]
        times = run_one(case, "scaling", Path(str(threads)))
        print(f"{name:<16} {times['one']:10.3f} {times['many']:12.3f} {times['one'] / times['many']:8.2f}x")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        default=DEFAULT_CASES,
        choices=sorted([*CASES, *GROUPS]),
        metavar="CASE",
        help=f"cases or groups ({', '.join(GROUPS)}); default: {' '.join(DEFAULT_CASES)}",
    )
    parser.add_argument("--list", action="store_true", help="list the cases and groups and exit")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument(
        "--maximum-cores",
        default="1",
        help="the steps' maximum_cores for both implementations (default 1; e.g. 2, half, all)",
    )
    parser.add_argument(
        "--scaling",
        type=int,
        metavar="N",
        help="instead: time jumpdet's core alone (detect_jumps_inplace) with 1 and N threads",
    )
    args = parser.parse_args(argv)
    if args.scaling:
        return scaling(selected(args.cases), args.scaling)
    if args.list:
        for name in CASES:
            print(("* " if name in DEFAULT_CASES else "  ") + describe(name))
        for group, names in GROUPS.items():
            print(f"group {group}: {' '.join(names)}")
        print("(* = default)")
        return 0
    names = selected(args.cases)
    width = max(12, *(len(name) for name in names))
    from jumpdet.cli.demo import configure_crds

    # jwst asks CRDS for its context even with overrides: use CRDS if configured, else a local cache
    print(f"CRDS: {configure_crds()}; maximum_cores={args.maximum_cores}")
    print(header(width))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rows.append(compare(name, Path(tmp), args.maximum_cores))
            print(format_row(rows[-1], width), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["identical_groupdq"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
