"""``jumpdet run``: jumpdet's step (or pipeline) on many files, with Dask.

Its own options are listed in :data:`OPTIONS`; every other ``--name value`` is a
step option as strun takes it (``--rejection_threshold 5``,
``--steps.jump.rejection_threshold=5`` with ``--pipeline``), checked by stpipe.
Exit status: 0 when every file is ok or skipped, 1 when any failed, 2 for bad usage.
"""

import argparse
import sys
from pathlib import Path

__all__ = ["OPTIONS", "REPORT_NAME", "run_command"]

REPORT_NAME = "jumpdet_run_report.ecsv"

# (flags, argparse keywords): the one list from which the parser and the split of the arguments are made
OPTIONS = (
    (("--output-dir",), {"type": Path, "help": "folder for the products and the report (default: here)"}),
    (("--workers",), {"type": int, "help": "local worker processes (default: cores / threads per worker)"}),
    (("--threads-per-worker",), {"type": int, "default": 1, "help": "files each worker runs at once (1)"}),
    (("--memory-limit",), {"default": "auto", "help": "per local worker, e.g. 6GB (default: RAM / workers)"}),
    (("--scheduler",), {"metavar": "ADDRESS", "help": "run on an existing cluster, e.g. tcp://host:8786"}),
    (("--resume",), {"action": "store_true", "help": "skip files whose product exists and opens"}),
    (("--fsync",), {"action": "store_true", "help": "flush each product to disk (safe against power loss)"}),
    (("--pipeline",), {"action": "store_true", "help": "run jumpdet.Detector1Pipeline instead of the step"}),
    (("--config",), {"metavar": "FILE", "help": "a .cfg or .asdf parameter file, as strun's first argument"}),
    (("--report",), {"type": Path, "help": f"the ECSV report (default: OUTPUT_DIR/{REPORT_NAME})"}),
    (("--quiet", "-q"), {"action": "store_true", "help": "no progress and no summary"}),
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``jumpdet run``'s own options."""
    parser = argparse.ArgumentParser(
        prog="jumpdet run",
        description="Run jumpdet's JumpStep (or Detector1Pipeline) on many files with Dask. "
        "Other --name value options are step options, as for strun (see strun jumpdet.JumpStep -h).",
        allow_abbrev=False,
    )
    parser.add_argument("files", nargs="+", metavar="FILE_OR_GLOB", help="input files or quoted patterns")
    for flags, keywords in OPTIONS:
        parser.add_argument(*flags, **keywords)
    return parser


def split_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """Separate ``jumpdet run``'s own arguments (and the files) from the step options."""
    flags = {flag for names, keywords in OPTIONS if keywords.get("action") for flag in names}
    valued = {flag for names, keywords in OPTIONS if not keywords.get("action") for flag in names}
    own, step = [], []
    rest = list(argv)
    while rest:
        token = rest.pop(0)
        name = token.split("=", 1)[0]
        if not token.startswith("-") or name in flags or token in ("-h", "--help"):
            own.append(token)
        elif name in valued or not token.startswith("--"):
            own.extend([token] if "=" in token or not rest else [token, rest.pop(0)])
        else:
            step.extend([token] if "=" in token or not rest else [token, rest.pop(0)])
    return own, step


def run_command(argv: list[str]) -> int:
    """Run ``jumpdet run`` with ``argv`` (the arguments after ``run``); return the exit status."""
    from ..batch import run_exposures
    from ..batch.parameters import parse_step_options
    from ..batch.warm import start_warm_server

    own, step_tokens = split_arguments(argv)
    args = build_parser().parse_intermixed_args(own)
    if args.scheduler is None:
        start_warm_server(args.pipeline)  # first: the local workers' start-up runs beside all that follows
    parameters = parse_step_options(step_tokens)
    _refuse_local_options_with_scheduler(args)
    _merge_output_dir(args, parameters)
    if args.config:
        parameters["config_file"] = args.config
    report_path = args.report or Path(parameters.get("output_dir") or ".") / REPORT_NAME
    report = run_exposures(
        args.files,
        client=args.scheduler,
        pipeline=args.pipeline,
        resume=args.resume,
        fsync=args.fsync,
        n_workers=args.workers,
        threads_per_worker=args.threads_per_worker,
        memory_limit=args.memory_limit,
        progress="none" if args.quiet else "auto",
        report=report_path,
        **parameters,
    )
    if not args.quiet:
        print(f"{report.summary()}; report: {report_path}", file=sys.stderr)
    return 1 if report.failed else 0


def _refuse_local_options_with_scheduler(args) -> None:
    local = {"--workers": args.workers, "--threads-per-worker": args.threads_per_worker != 1}
    local["--memory-limit"] = args.memory_limit != "auto"
    given = [flag for flag, value in local.items() if value]
    if args.scheduler and given:
        raise ValueError(
            f"{', '.join(given)} shape the local cluster; with --scheduler the cluster's own workers "
            "are used: drop them or start the workers with these settings"
        )


def _merge_output_dir(args, parameters: dict) -> None:
    """``--output-dir`` (ours) and ``--output_dir`` (the step's, as for strun) mean the same folder."""
    if args.output_dir is None:
        return
    given = parameters.get("output_dir")
    if given is not None and Path(given).resolve() != args.output_dir.resolve():
        raise ValueError(f"--output-dir {args.output_dir} and --output_dir {given} differ; give one of them")
    parameters["output_dir"] = str(args.output_dir)
