"""Side-by-side benchmark: jwst's JumpStep and jumpdet's JumpStep on identical ramps.

    python benchmarks/run.py                      # the default cases
    python benchmarks/run.py --cases small tso_120x10
    python benchmarks/run.py --cases large-events # a group: standard, large-events, likelihood, all
    python benchmarks/run.py --cases nircam_1x10_likelihood --likely  # against stcal's LIKELY ramp fit
    python benchmarks/run.py --cases nircam_1x10_likelihood --methods 8  # likelihood / two_point, one process
    python benchmarks/run.py --cases nircam_1x10 --maximum-cores 2
    python benchmarks/run.py --cases miri_1x40 --json out.json --timeout 300
    python benchmarks/run.py --cases nircam_1x10 large_1x60 --scaling 2   # core alone, 1 vs 2 threads
    python benchmarks/run.py --cases nircam_1x10 miri_1x40 --catalog      # core alone, catalogue off vs on
    python benchmarks/run.py --list

Each (case, implementation) runs in a fresh Python process that imports the step,
rebuilds the same seeded synthetic RampModel in memory with the same override
references and calls ``JumpStep.call(model, ...)`` twice on it; both implementations
pay the same standalone deep copy of the model. Two timings per case and implementation:

- "1st": the first call in the fresh process (the step class imported, nothing run
  yet): what a script pays once, including whatever each step loads lazily on its first
  call (jumpdet: its compiled kernels from the on-disk numba cache; jwst: stcal's
  modules, CRDS's context). Before the cases, ``prime`` fills jumpdet's kernel cache
  on small ramps in separate processes, so no case pays a compilation.
- steady state: the second call on the same input in the same process, both steps warm.

Also reported, for the steady-state call: the speed ratio of the time inside each
step's ``process`` (which opens and deep-copies the model, loads the references and
detects), "fixed", the seconds of the call spent outside it in stpipe (a
``gc.collect()`` and logging; the smaller of the two), a floor that bounds the call's
ratio on small inputs; the peak extra memory during the call (Linux peak RSS: the
high-water mark is reset through /proc/self/clear_refs just before the call and read
from VmHWM after it), and that extra beyond the model copy divided by the input size
(data + GROUPDQ). "same" is yes when GROUPDQ is identical between the implementations
and between each one's two calls. With snowballs or showers, the seconds of each
large-event stage (stcal's ``flag_large_events`` and ``find_faint_extended``; jumpdet's
``flag_snowballs_inplace`` and ``flag_showers_inplace``) and their ratio follow the row.
The processor, core count, load average and versions are printed before and after the
table: on a shared machine the load says how far to trust it.

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
import time
from pathlib import Path
from typing import NamedTuple


class Case(NamedTuple):
    """One benchmark input: ramp shape, step parameters, and how the ramp is simulated."""

    shape: tuple[int, int, int, int]  # nints, ngroups, nrows, ncols
    params: dict | None = None  # extra step parameters
    events: dict | None = None  # None: isolated jumps; else simulate_events generator and arguments
    instrument: tuple[str, str, str] = ("MIRI", "MIRIMAGE", "F1130W")  # name, detector, filter
    readout: dict | None = None  # frames per group (nframes) and skipped (groupgap); default 1 and 0


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
    # the likelihood search (jwst's counterpart is its two-point step: GROUPDQ differs by design)
    "nircam_1x10_likelihood": Case((1, 10, 2048, 2048), {"method": "likelihood"}, None, NIRCAM),
    # NIRCam MEDIUM8-like groups (8 frames, 2 skipped): the likelihood search also tests pairs
    "nircam_1x10_grouped": Case((1, 10, 2048, 2048), None, None, NIRCAM, {"nframes": 8, "groupgap": 2}),
    "nircam_1x10_grouped_likelihood": Case(
        (1, 10, 2048, 2048), {"method": "likelihood"}, None, NIRCAM, {"nframes": 8, "groupgap": 2}
    ),
    "miri_1x40_likelihood": Case((1, 40, 1024, 1032), {"method": "likelihood"}),
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
    "likelihood": ["nircam_1x10_likelihood", "nircam_1x10_grouped_likelihood", "miri_1x40_likelihood"],
    "all": list(CASES),
}
DEFAULT_CASES = list(STANDARD)

WORKER = textwrap.dedent("""
    import itertools, json, sys, time
    import numpy as np
    from jumpdet.simulate import events as simulate_events
    from jumpdet.simulate.ramps import simulate_ramp, to_ramp_model, to_reference_models

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
            readout = case["readout"] or {}
            sim = simulate_ramp(tuple(shape), seed=seed, flux_dn_per_s=5.0, jump_fraction=0.002,
                                jump_amplitude_dn=(50.0, 2000.0), saturation_dn=60000.0,
                                nframes=readout.get("nframes", 1))
        name, detector, filter_ = case["instrument"]
        model = to_ramp_model(sim, instrument=name, detector=detector, filter=filter_)
        model.meta.exposure.groupgap = (case["readout"] or {}).get("groupgap", 0)
        return model, to_reference_models(sim.gain, sim.read_noise, instrument=name)

    case, impl, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    params = case["params"] or {}
    if impl == "jwst":
        from jwst.jump import JumpStep
        params.pop("method", None)  # jwst has only the two-point search
    else:
        from jumpdet import JumpStep
    if impl in ("scaling", "catalog"):  # jumpdet's core alone: 1 against int(out) threads; catalogue off/on
        from jumpdet.catalog import jump_catalog
        from jumpdet.detect import detect_jumps_inplace
        from jumpdet.params import params_from_step
        model, refs = build(case, case["shape"], 42)
        gain, read_noise = refs[0].data, refs[1].data
        core = params_from_step(JumpStep(**params), group_time_s=model.meta.exposure.group_time,
                                nframes=model.meta.exposure.nframes, gain=gain)
        if impl == "scaling":
            variants = {"one": (1, False), "many": (int(out), False)}
        else:  # with the step's threads
            from jumpdet.step import resolve_cores
            threads = resolve_cores(params.get("maximum_cores", "1"))
            variants = {"off": (threads, False), "on": (threads, True)}
        import resource
        def clock():
            # wall seconds, the process's CPU seconds, and its user CPU seconds
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return np.array([time.perf_counter(), usage.ru_utime + usage.ru_stime, usage.ru_utime])
        best, cores, user, rows = {}, {}, {}, 0
        def keep(key, start):
            # since start: wall seconds (best), the cores that run had, and every run's user CPU seconds
            seconds, cpu, user_cpu = clock() - start
            if seconds < best.get(key, float("inf")):
                best[key], cores[key] = seconds, cpu / seconds
            user.setdefault(key, []).append(user_cpu)
        for _ in range(4):  # best of four, alternating: the first call loads the kernels
            for key, (workers, record) in variants.items():
                gdq, pdq = model.groupdq.copy(), model.pixeldq.copy()
                start = clock()
                stats = detect_jumps_inplace(model.data, gdq, pdq, gain=gain, read_noise=read_noise,
                                             params=core, max_workers=workers, record=record)
                if record:  # the table too, as the step builds it
                    rows = len(jump_catalog(stats.record, params=core, path=stats.plan.path))
                keep(key, start)
        if impl == "catalog":  # and the whole step, whose catalogue is also written as ECSV:
            import tempfile  # on the model in memory, and file to file as strun runs it
            with tempfile.TemporaryDirectory() as folder:
                source = f"{folder}/bench_ramp.fits"
                model.save(source)
                runs = {"step": (model, False), "file": (source, True)}
                for _ in range(5):  # file to file varies with the disk's writeback: best of five
                    for (name, (given, save)), on in itertools.product(runs.items(), (False, True)):
                        key = f"{name}_{'on' if on else 'off'}"
                        start = clock()
                        JumpStep.call(given, override_gain=refs[0], override_readnoise=refs[1],
                                      save_results=save, save_jump_catalog=on, output_dir=folder,
                                      **params).close()
                        keep(key, start)
        user = {key: float(np.median(runs[1:] if len(runs) > 2 else runs)) for key, runs in user.items()}
        print(json.dumps({**best, "rows": rows, "cores": cores, "user": user}))
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

    if impl == "methods":  # jumpdet's step, two-point and likelihood calls alternated int(out) times
        model, refs = build(case, case["shape"], 42)
        params.pop("method", None)
        spent = {"two_point": [], "likelihood": []}
        for _ in range(int(out) + 1):  # one round more: the first loads the kernels, and is dropped
            for method, seconds in spent.items():
                start = time.perf_counter()
                JumpStep.call(model, override_gain=refs[0], override_readnoise=refs[1],
                              method=method, **params)
                seconds.append(time.perf_counter() - start)
        print(json.dumps({method: seconds[1:] for method, seconds in spent.items()}))
        sys.exit(0)

    if impl == "likely":  # stcal's LIKELY, the only likelihood jump search before: inside ramp fitting
        from jwst.ramp_fitting import RampFitStep
        model, refs = build(case, case["shape"], 42)
        start = time.perf_counter()
        RampFitStep.call(model, algorithm="LIKELY", override_gain=refs[0], override_readnoise=refs[1])
        print(json.dumps({"seconds": time.perf_counter() - start}))
        sys.exit(0)

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
    if impl == "prime":  # fill the on-disk kernel cache on a small ramp of this kind; not reported
        model, refs = build(case, case["shape"][:2] + [64, 64], 1, warm_up=True)
        JumpStep.call(model, override_gain=refs[0], override_readnoise=refs[1], **params)
        print(json.dumps({}))
        sys.exit(0)

    model, refs = build(case, case["shape"], 42)
    copy_bytes = model.data.nbytes + model.groupdq.nbytes + model.pixeldq.nbytes
    input_bytes = model.data.nbytes + model.groupdq.nbytes
    import ctypes, gc

    def measured_call():
        # one JumpStep.call on the model: seconds, peak extra RSS, seconds in process() and large events
        gc.collect()
        # hand freed memory back to the system, so that the model copy and the step's
        # buffers cannot hide in it and the peak counts all they take
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        inside.clear()
        large_events.clear()
        before = status_kb("VmRSS:")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak-RSS high-water mark
        start = time.perf_counter()
        result = JumpStep.call(model, override_gain=refs[0], override_readnoise=refs[1], **params)
        seconds = time.perf_counter() - start
        peak = status_kb("VmHWM:") - before
        figures = {"seconds": seconds, "process": inside[-1], "peak_extra": peak,
                   "large_events": sum(large_events) if large_events else None}
        return result.groupdq, figures

    # the first call of this fresh process: everything the step loads lazily is paid here
    first_groupdq, first = measured_call()
    # the steady state: the same call on the same input, the step now warm
    groupdq, steady = measured_call()
    same_twice = bool(np.array_equal(first_groupdq, groupdq))
    del first_groupdq
    np.save(out, groupdq)
    print(json.dumps({"first": first, "steady": steady, "same_twice": same_twice,
                      "copy_bytes": copy_bytes, "input_bytes": input_bytes}))
""")


def run_one(case: Case, impl: str, out: Path, timeout: float | None = None) -> dict:
    """One fresh process: build the ramp, run one implementation, report figures."""
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(case._asdict()), impl, str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{impl} failed on {case.shape}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def with_cores(name: str, cores: str) -> Case:
    case = CASES[name]
    return case._replace(params={**(case.params or {}), "maximum_cores": cores})


def compare(name: str, workdir: Path, cores: str = "1", timeout: float | None = None) -> dict:
    """Run both implementations on one case (``maximum_cores=cores`` for both) and compare."""
    import numpy as np

    case = with_cores(name, cores)
    figures = {
        impl: run_one(case, impl, workdir / f"{name}_{impl}.npy", timeout) for impl in ("jwst", "jumpdet")
    }
    same = np.array_equal(np.load(workdir / f"{name}_jwst.npy"), np.load(workdir / f"{name}_jumpdet.npy"))
    row = {
        "case": name,
        "shape": "x".join(map(str, case.shape)),
        "identical_groupdq": bool(same and all(f["same_twice"] for f in figures.values())),
    }
    for impl, f in figures.items():
        for call in ("first", "steady"):
            row[f"{impl}_{call}_s"] = f[call]["seconds"]
        steady = f["steady"]
        row[f"{impl}_process_s"] = steady["process"]
        row[f"{impl}_large_events_s"] = steady["large_events"]
        row[f"{impl}_peak_mb"] = steady["peak_extra"] / 1e6
        row[f"{impl}_first_peak_mb"] = f["first"]["peak_extra"] / 1e6
        row[f"{impl}_beyond_copy_x_input"] = (steady["peak_extra"] - f["copy_bytes"]) / f["input_bytes"]
    for call in ("first", "steady"):
        row[f"{call}_speedup"] = row[f"jwst_{call}_s"] / row[f"jumpdet_{call}_s"]
    row["process_speedup"] = row["jwst_process_s"] / row["jumpdet_process_s"]
    if row["jwst_large_events_s"] is not None and row["jumpdet_large_events_s"] is not None:
        row["large_events_speedup"] = row["jwst_large_events_s"] / row["jumpdet_large_events_s"]
    # stpipe's fixed cost around process() in the steady state (a gc.collect, logging), paid by both
    row["framework_s"] = min(
        row[f"{impl}_steady_s"] - row[f"{impl}_process_s"] for impl in ("jwst", "jumpdet")
    )
    return row


def _cell(key: str, spec: str, suffix: str = ""):
    """A column's formatter: the row's ``key`` in format ``spec``, then ``suffix``."""
    return lambda row: f"{row[key]:{spec}}{suffix}"


COLUMNS = (
    # (heading, width, formatter of the row's value)
    ("jwst 1st", 8, _cell("jwst_first_s", ".2f")),
    ("ours 1st", 8, _cell("jumpdet_first_s", ".2f")),
    ("speed 1st", 9, _cell("first_speedup", ".1f", "x")),
    ("jwst s", 7, _cell("jwst_steady_s", ".2f")),
    ("ours s", 7, _cell("jumpdet_steady_s", ".2f")),
    ("speed", 6, _cell("steady_speedup", ".1f", "x")),
    ("process", 7, _cell("process_speedup", ".1f", "x")),
    ("fixed", 5, _cell("framework_s", ".2f")),
    ("jwst MB", 7, _cell("jwst_peak_mb", ".0f")),
    ("ours MB", 7, _cell("jumpdet_peak_mb", ".0f")),
    ("jwst>cp", 7, _cell("jwst_beyond_copy_x_input", ".2f", "x")),
    ("ours>cp", 7, _cell("jumpdet_beyond_copy_x_input", ".2f", "x")),
    ("same", 4, lambda row: "yes" if row["identical_groupdq"] else "NO"),
)


def header(width: int = 12) -> str:
    return f"{'case':<{width}} {'shape':>15} " + " ".join(f"{h:>{w}}" for h, w, _ in COLUMNS)


def format_row(row: dict, width: int = 12) -> str:
    cells = " ".join(f"{value(row):>{w}}" for _, w, value in COLUMNS)
    return f"{row['case']:<{width}} {row['shape']:>15} {cells}" + _large_events_columns(row)


def _large_events_columns(row: dict) -> str:
    """Steady-state seconds of each implementation's large-event stage and their ratio, when it ran."""
    if "large_events_speedup" not in row:
        return ""
    return (
        f"   events: jwst {row['jwst_large_events_s']:.2f} s, ours {row['jumpdet_large_events_s']:.3f} s, "
        f"{row['large_events_speedup']:.1f}x"
    )


def prime(names: list[str], cores: str, timeout: float | None) -> float:
    """Fill jumpdet's on-disk kernel cache for these cases (small ramps, one process each); seconds."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        kinds = {}
        for name in names:  # one small run per kind of case: path and large-event stages
            case = with_cores(name, cores)
            kinds.setdefault((case.shape[0] >= 100, case.shape[1] > 11, str(case.params)), case)
        for case in kinds.values():
            run_one(case, "prime", Path(tmp) / "prime.npy", timeout)
    return time.perf_counter() - start


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
    print("cores used: the best run's process CPU seconds over its wall seconds (on a shared machine,")
    print(f"below {threads} with {threads} threads: the cores were busy elsewhere, the threads did not wait)")
    print(f"{'case':<32} {'1 thread s':>10} {f'{threads} threads s':>12} {'speed-up':>9} {'cores used':>11}")
    for name in names:
        case = CASES[name]
        times = run_one(case, "scaling", Path(str(threads)))
        speed = f"{times['one'] / times['many']:8.2f}x"
        used = f"{times['cores']['one']:.2f} / {times['cores']['many']:.2f}"
        print(f"{name:<32} {times['one']:10.3f} {times['many']:12.3f} {speed} {used:>11}")
    return 0


def methods(names: list[str], rounds: int) -> int:
    """Print jumpdet's JumpStep.call with two_point and likelihood, alternated in one process, per case."""
    import numpy as np

    print(f"jumpdet JumpStep.call, two_point and likelihood alternated, {rounds} rounds after a first one")
    print(f"{'case':<32} {'two_point s':>18} {'likelihood s':>18} {'ratio':>18}")
    print(f"{'':<32} {'best / median':>18} {'best / median':>18} {'best / median':>18}")
    for name in names:
        spent = run_one(CASES[name], "methods", Path(str(rounds)))
        two, lik = np.array(spent["two_point"]), np.array(spent["likelihood"])
        paired = np.median(lik / two)  # each round's calls are neighbours in time: the load is shared
        cells = [f"{a.min():8.3f} / {np.median(a):7.3f}" for a in (two, lik)]
        print(f"{name:<32} {cells[0]:>18} {cells[1]:>18} {lik.min() / two.min():7.2f}x / {paired:6.2f}x")
    return 0


def machine() -> str:
    """The processor, cores, load and versions, printed above the table so a run carries its conditions."""
    import os
    import platform
    from importlib.metadata import version

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
        platform.processor() or "unknown processor",
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    versions = ", ".join(f"{name} {version(name)}" for name in ("jwst", "stcal", "numpy", "numba", "jumpdet"))
    python = platform.python_version()
    cores = f"{os.cpu_count()} cores; load average {load}"
    return f"{model} ({kernel_target()}); {cores}; Python {python}; {versions}"


def kernel_target() -> str:
    """The CPU numba compiles the kernels for, and its widest vectors (the median networks run in
    SIMD lanes): two runs compare only on the same target."""
    import llvmlite.binding as llvm

    features = set(llvm.get_host_cpu_features().flatten().split(","))
    widest = next((name for name in ("avx512f", "avx2", "avx", "sse4.2") if f"+{name}" in features), "none")
    return f"numba target {llvm.get_host_cpu_name()}, widest SIMD {widest.upper()}"


def catalog_cost(names: list[str], cores: str = "1") -> int:
    """Print the core's and the step's seconds with the jump catalogue off and on, per case."""
    print(
        f"jump catalogue off and on, maximum_cores={cores}: jumpdet's core (detect_jumps_inplace,\n"
        "table included; best of 4), JumpStep.call on the model in memory (the ECSV file written too;\n"
        "best of 5), and JumpStep.call file to file (FITS read, product and ECSV written, as strun\n"
        "runs it; best of 5); each case's second line: the process's user CPU seconds (median of\n"
        "the same runs but the first), which the disk's writeback moves less than wall seconds"
    )
    columns = ("core off", "on", "cost", "step off", "on", "cost", "file off", "on", "cost")
    print(f"{'case':<16} " + " ".join(f"{c:>9}" for c in columns) + f" {'rows':>9}")
    for name in names:
        times = run_one(with_cores(name, cores), "catalog", Path("-"))
        for label, seconds in ((name, times), ("  user CPU", times["user"])):
            cells = []
            for off, on in (("off", "on"), ("step_off", "step_on"), ("file_off", "file_on")):
                cost = seconds[on] - seconds[off]
                share = 100 * cost / seconds[off]
                cells += [f"{seconds[off]:8.3f}s", f"{seconds[on]:8.3f}s", f"{share:8.1f}%"]
            rows = f" {times['rows']:9d}" if seconds is times else ""
            print(f"{label:<16} " + " ".join(cells) + rows, flush=True)
    return 0


def likely(names: list[str]) -> int:
    """Print jwst's ramp_fit with LIKELY (whose jump search is stcal's) against jumpdet's call, per case."""
    from jumpdet.cli.demo import configure_crds

    print(f"CRDS: {configure_crds()}")  # jwst asks CRDS for its context even with overrides
    print("stcal's LIKELY (jwst RampFitStep, algorithm='LIKELY') against jumpdet's JumpStep.call, seconds")
    print("(LIKELY: one call in a fresh process; jumpdet: the first call in a fresh process, then steady)")
    print(f"{'case':<24} {'LIKELY s':>9} {'jumpdet 1st':>11} {'speed':>7} {'steady':>7} {'speed':>7}")
    for name in names:
        case = CASES[name]
        slow = run_one(case, "likely", Path("-"))["seconds"]
        with tempfile.TemporaryDirectory() as workdir:  # the GROUPDQ it saves: 40 MB a full frame
            fast = run_one(case, "jumpdet", Path(workdir) / "gdq.npy")
        first, steady = fast["first"]["seconds"], fast["steady"]["seconds"]
        speeds = f"{slow / first:6.1f}x {steady:7.2f} {slow / steady:6.1f}x"
        print(f"{name:<24} {slow:9.2f} {first:11.2f} {speeds}")
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
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="give up on a case whose process runs longer than this (default 600)",
    )
    parser.add_argument(
        "--methods",
        type=int,
        metavar="N",
        help="instead: time jumpdet's step with two_point and likelihood, alternated N times in one "
        "process (best, median, and the median of each round's ratio)",
    )
    parser.add_argument(
        "--scaling",
        type=int,
        metavar="N",
        help="instead: time jumpdet's core alone (detect_jumps_inplace) with 1 and N threads",
    )
    parser.add_argument(
        "--catalog",
        action="store_true",
        help="instead: time jumpdet's core alone with the jump catalogue off and on",
    )
    parser.add_argument(
        "--likely",
        action="store_true",
        help="instead: time stcal's LIKELY ramp fit (jwst RampFitStep) against jumpdet's step",
    )
    args = parser.parse_args(argv)
    if args.catalog:
        return catalog_cost(selected(args.cases), args.maximum_cores)
    if args.likely:
        return likely(selected(args.cases))
    if args.methods:
        return methods(selected(args.cases), args.methods)
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
    print(f"machine: {machine()}")
    primed = prime(names, args.maximum_cores, args.timeout)
    print(f"kernel cache primed in {primed:.1f} s (a first installation compiles here)")
    print(header(width))
    rows, failed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            try:
                rows.append(compare(name, Path(tmp), args.maximum_cores, args.timeout))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                failed.append(name)
                print(f"{name:<{width}} failed: {str(exc).splitlines()[0]}", flush=True)
                continue
            print(format_row(rows[-1], width), flush=True)
    print(f"machine after the run: {machine()}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if not failed and all(r["identical_groupdq"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
