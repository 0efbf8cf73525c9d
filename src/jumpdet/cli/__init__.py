"""The ``jumpdet`` command: demo, compile, run, report, tune, crds-cache and collect-cfgs.

Expected failures (bad paths, CRDS not available, bad input) end with one
line on stderr and exit status 2; anything else is a bug and shows its traceback.
"""

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

import numpy as np

from ..params import METHODS

__all__ = ["main"]


def _demo(args) -> None:
    from .demo import run_demo

    def announce(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    print(run_demo(args.outdir, seed=args.seed, announce=announce, method=args.method).summary())


def _compile(args) -> None:
    from .compile import cache_location, compile_kernels

    print(f"compiling jumpdet's kernels into {cache_location()}", file=sys.stderr)
    seconds = compile_kernels(args.only)
    print(f"done in {sum(seconds.values()):.1f} s", file=sys.stderr)


def _report(args) -> None:
    from ..report import write_report

    product = Path(args.file)
    if not product.is_file():
        raise ValueError(f"no such file: {product}")
    outdir = args.outdir if args.outdir is not None else product.with_name(f"{product.stem}_report")
    pixels = [tuple(args.pixel[k : k + 2]) for k in range(0, len(args.pixel or []), 2)]
    if args.pixel and len(args.pixel) % 2:
        raise ValueError("--pixel takes pairs of numbers: Y X [Y X ...]")
    files = write_report(product, outdir, catalog=args.catalog, pixels=pixels or None)
    print(files.summary.text())
    print(f"report: {files.html} ({len(files.figures)} figures)")


def _tune(args) -> None:
    from ..tune import plot_tuning, tune_thresholds

    exposure = _tuning_exposure(args)
    result = tune_thresholds(
        **exposure, flux_dn_per_s=args.flux, thresholds=args.thresholds, pixels=args.pixels
    )
    print(", ".join(f"{k}={v:g}" for k, v in exposure.items()))
    print(result.text())
    if args.plot is not None:
        from ..plotting import save_figure_png

        print(f"plot: {save_figure_png(plot_tuning(result), args.plot)}")


def _tuning_exposure(args) -> dict:
    """Ramp size and timing from the file or the options; gain and read noise from options or CRDS."""
    exposure = {"gain": args.gain, "read_noise": args.read_noise, "group_time": args.group_time,
                "nframes": args.nframes}  # fmt: skip
    if args.file is not None:
        exposure.update(
            _file_exposure(Path(args.file), need_references=args.gain is None or args.read_noise is None)
        )
        exposure.update(
            {k: v for k, v in (("gain", args.gain), ("read_noise", args.read_noise)) if v is not None}
        )
    elif args.shape is not None:
        exposure["nints"], exposure["ngroups"] = args.shape[:2]
    missing = [k for k in ("nints", "ngroups", "gain", "read_noise", "group_time") if exposure.get(k) is None]
    if missing:
        raise ValueError(
            f"give a FILE or --shape, --gain, --read-noise and --group-time (missing: {missing})"
        )
    exposure["nframes"] = exposure.get("nframes") or 1
    return exposure


def _file_exposure(path: Path, *, need_references: bool) -> dict:
    from stdatamodels.jwst.datamodels import RampModel

    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    with RampModel(str(path)) as model:
        nints, ngroups = model.data.shape[:2]
        found = {"nints": nints, "ngroups": ngroups, "group_time": model.meta.exposure.group_time,
                 "nframes": model.meta.exposure.nframes}  # fmt: skip
        if need_references:
            refs = _file_references(path, model)
            found["gain"] = float(np.nanmedian(refs.gain))
            found["read_noise"] = float(np.nanmedian(refs.read_noise))
    return found


def _file_references(path: Path, model):
    """The step's gain and read noise for ``model``; without CRDS, one line naming tune's own options."""
    from ..errors import CrdsUnavailableError
    from ..references.crds_access import crds_problem
    from ..references.loading import load_references
    from ..step import JumpStep

    problem = crds_problem()
    if problem is not None:
        raise CrdsUnavailableError(
            f"the gain and read noise of {path} come from CRDS, which is not available here ({problem}); "
            "give them as --gain (e/DN) and --read-noise (DN), or build an offline cache with "
            "`jumpdet crds-cache DIR` and export the variables it prints"
        )
    return load_references(JumpStep(), model)


def _crds_cache(args) -> None:
    from ..references.crds_cache import build_cache, export_lines

    root = build_cache(args.directory, detectors=tuple(args.detectors), force=args.force)
    print(f"# jumpdet offline CRDS cache at {root}; to use it, run:", file=sys.stderr)
    print(export_lines(root))


def collect_cfgs(directory, *, force: bool = False) -> list[Path]:
    """Copy the packaged ``.cfg`` files into ``directory``; return their paths there.

    Parameters
    ----------
    directory : str or os.PathLike
        Created if missing.
    force : bool, optional
        Overwrite files that exist; otherwise existing files are kept.

    Returns
    -------
    list of pathlib.Path
        Every packaged cfg's path in ``directory``, copied or kept.
    """
    written, kept = _copy_cfgs(Path(directory), force)
    return written + kept


def _copy_cfgs(target: Path, force: bool) -> tuple[list[Path], list[Path]]:
    target.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    for entry in resources.files("jumpdet").joinpath("cfgs").iterdir():
        if entry.name.endswith(".cfg"):
            path = target / entry.name
            if path.exists() and not force:
                kept.append(path)
                continue
            with resources.as_file(entry) as source:
                written.append(Path(shutil.copy(source, path)))
    return written, kept


def _collect_cfgs(args) -> None:
    written, kept = _copy_cfgs(args.directory, args.force)
    for path in written:
        print(path)
    for path in kept:
        print(f"jumpdet collect-cfgs: kept existing {path} (pass --force to overwrite it)", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    from ..references.crds_cache import DEFAULT_DETECTORS
    from ..tune import DEFAULT_THRESHOLDS

    parser = argparse.ArgumentParser(prog="jumpdet", description="Fast jump detection for JWST ramps.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the step on an embedded synthetic MIRI exposure, offline")
    demo.add_argument(
        "--outdir", type=Path, default=Path("jumpdet-demo"), help="output folder (./jumpdet-demo)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed of the synthetic exposure")
    demo.add_argument(
        "--method", choices=METHODS, default="two_point", help="the jump search (two_point, jwst's flags)"
    )
    demo.set_defaults(run=_demo)

    from .compile import WORKLOADS

    compile_ = commands.add_parser(
        "compile",
        help="compile the detection kernels ahead of time into numba's disk cache (for images and clusters)",
    )
    compile_.add_argument(
        "--only", nargs="+", choices=list(WORKLOADS), help="compile only these paths (default: all)"
    )
    compile_.set_defaults(run=_compile)

    report = commands.add_parser(
        "report", help="figures, a summary and report.html for a jump step's output (and its catalogue)"
    )
    report.add_argument("file", help="the step's output, e.g. obs_jumpstep.fits")
    report.add_argument(
        "--catalog", type=Path, help="jump catalogue (default: <basename>_jumpcat.ecsv beside FILE)"
    )
    report.add_argument(
        "--pixel", type=int, nargs="+", metavar="Y X", help="pixels to plot, 0-based: Y X [Y X ...]"
    )
    report.add_argument("--outdir", type=Path, help="output folder (default: <FILE stem>_report beside FILE)")
    report.set_defaults(run=_report)

    tune = commands.add_parser(
        "tune", help="false flags and completeness at several rejection thresholds, on simulated ramps"
    )
    tune.add_argument(
        "file", nargs="?", help="a ramp (RampModel) whose size, timing and references to simulate"
    )
    tune.add_argument(
        "--shape", type=int, nargs=2, metavar=("NINTS", "NGROUPS"), help="ramp size without FILE"
    )
    tune.add_argument("--gain", type=float, help="e/DN (default with FILE: the gain reference's median)")
    tune.add_argument(
        "--read-noise", type=float, help="READNOISE value, DN (default with FILE: the reference's median)"
    )
    tune.add_argument("--group-time", type=float, help="seconds per group (default with FILE: its GROUPTIME)")
    tune.add_argument("--nframes", type=int, help="frames per group (default with FILE: its NFRAMES, else 1)")
    tune.add_argument("--flux", type=float, default=10.0, help="signal of the simulated pixels, DN/s (10)")
    tune.add_argument(
        "--thresholds", type=float, nargs="+", default=list(DEFAULT_THRESHOLDS), help="sigma values"
    )
    tune.add_argument("--pixels", type=int, default=128, help="simulated frame is PIXELS x PIXELS (128)")
    tune.add_argument("--plot", type=Path, help="also write the figure to this PNG")
    tune.set_defaults(run=_tune)

    cache = commands.add_parser(
        "crds-cache", help="build an offline CRDS cache; print the variables to export"
    )
    cache.add_argument("directory", type=Path)
    cache.add_argument(
        "--detectors",
        nargs="+",
        default=list(DEFAULT_DETECTORS),
        help=f"detectors to provide gain/readnoise for (default: {' '.join(DEFAULT_DETECTORS)})",
    )
    cache.add_argument("--force", action="store_true", help="rebuild even if a valid cache is there")
    cache.set_defaults(run=_crds_cache)

    cfgs = commands.add_parser("collect-cfgs", help="copy the packaged .cfg files into a folder")
    cfgs.add_argument("directory", type=Path)
    cfgs.add_argument("--force", action="store_true", help="overwrite cfg files that exist")
    cfgs.set_defaults(run=_collect_cfgs)

    # listed here; its arguments (with strun's step options) are parsed by jumpdet.cli.run
    commands.add_parser("run", help="the step (or pipeline) on many files with Dask; see jumpdet run -h")
    return parser


def _version() -> str:
    from importlib.metadata import version

    return f"jumpdet {version('jumpdet')}"


def main(argv=None) -> int:
    """Entry point of the ``jumpdet`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["run"]:
        from .run import run_command

        return _reporting_errors("run", lambda: run_command(argv[1:]))
    args = _parser().parse_args(argv)
    return _reporting_errors(args.command, lambda: args.run(args))


def _reporting_errors(command: str, call) -> int:
    """Run ``call``; an expected failure becomes one line on stderr and exit status 2."""
    try:
        status = call()
    except Exception as exc:
        # imported only now: it imports stpipe, which ``jumpdet run`` need not wait for
        from ..references.crds_access import CrdsUnavailableError

        if not isinstance(exc, OSError | ValueError | CrdsUnavailableError):
            raise
        print(f"jumpdet {command}: error: {exc}", file=sys.stderr)
        return 2
    return status or 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
