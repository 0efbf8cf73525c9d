"""The ``jumpdet`` command: ``demo``, ``compile``, ``crds-cache``, ``collect-cfgs`` and ``run``.

Expected failures (bad paths, CRDS not available, bad input) end with one
line on stderr and exit status 2; anything else is a bug and shows its traceback.
"""

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

__all__ = ["main"]


def _demo(args) -> None:
    from .demo import run_demo

    def announce(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    print(run_demo(args.outdir, seed=args.seed, announce=announce).summary())


def _compile(args) -> None:
    from .compile import cache_location, compile_kernels

    print(f"compiling jumpdet's kernels into {cache_location()}", file=sys.stderr)
    seconds = compile_kernels(args.only)
    print(f"done in {sum(seconds.values()):.1f} s", file=sys.stderr)


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

    parser = argparse.ArgumentParser(prog="jumpdet", description="Fast jump detection for JWST ramps.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the step on an embedded synthetic MIRI exposure, offline")
    demo.add_argument(
        "--outdir", type=Path, default=Path("jumpdet-demo"), help="output folder (./jumpdet-demo)"
    )
    demo.add_argument("--seed", type=int, default=0, help="random seed of the synthetic exposure")
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
    from ..references.crds_access import CrdsUnavailableError

    try:
        status = call()
    except (OSError, ValueError, CrdsUnavailableError) as exc:
        print(f"jumpdet {command}: error: {exc}", file=sys.stderr)
        return 2
    return status or 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
