"""Progress of a batch: a bar on a terminal, one plain line per file otherwise, or nothing."""

import sys
from collections import Counter

from .exposure import FAILED, OK, SKIPPED, ExposureResult

__all__ = ["make_progress"]


class _Quiet:
    """Shows nothing."""

    def start(self, total: int, where: str) -> None:
        pass

    def update(self, result: ExposureResult) -> None:
        pass

    def close(self) -> None:
        pass


class _Lines(_Quiet):
    """A header, then one line per finished file: ``[ 3/16] ok  name  2.1 s  530 jumps -> output``."""

    def __init__(self, stream):
        self.stream = stream
        self.done = 0
        self.total = 0

    def start(self, total: int, where: str) -> None:
        self.total = total
        print(f"jumpdet run: {total} files on {where}", file=self.stream, flush=True)

    def update(self, result: ExposureResult) -> None:
        self.done += 1
        width = len(str(self.total))
        outcome = result.reason if result.status == FAILED else f"{result.jumps} jumps -> {result.output}"
        if result.status == SKIPPED:
            outcome = f"product exists: {result.output}"
        print(
            f"[{self.done:>{width}}/{self.total}] {result.status:<7} {result.file}  "
            f"{result.seconds:.1f} s  {outcome}",
            file=self.stream,
            flush=True,
        )


class _Bar(_Quiet):
    """A tqdm bar: files done, ok/failed/skipped, throughput and time left; failures above it."""

    def __init__(self, stream):
        self.stream = stream
        self.counts: Counter = Counter()
        self.bar = None

    def start(self, total: int, where: str) -> None:
        from tqdm import tqdm

        print(f"jumpdet run: {total} files on {where}", file=self.stream, flush=True)
        self.bar = tqdm(total=total, unit="file", file=self.stream, dynamic_ncols=True, smoothing=0.1)
        self._show()

    def update(self, result: ExposureResult) -> None:
        self.counts[result.status] += 1
        if result.status == FAILED:
            self.bar.write(f"failed: {result.file}: {result.reason}", file=self.stream)
        self._show()
        self.bar.update(1)

    def _show(self) -> None:
        self.bar.set_postfix(
            ok=self.counts[OK], failed=self.counts[FAILED], skipped=self.counts[SKIPPED], refresh=False
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def make_progress(kind: str = "auto", stream=None):
    """A progress display: ``"bar"``, ``"lines"``, ``"none"``, or ``"auto"`` (a bar on a terminal).

    Parameters
    ----------
    kind : str
    stream : file-like, default sys.stderr
    """
    stream = sys.stderr if stream is None else stream
    if kind == "auto":
        kind = "bar" if stream.isatty() else "lines"
    displays = {"bar": _Bar, "lines": _Lines, "none": lambda stream: _Quiet()}
    if kind not in displays:
        raise ValueError(f"progress={kind!r} is not one of 'auto', 'bar', 'lines', 'none'")
    return displays[kind](stream)
