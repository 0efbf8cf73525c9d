"""The report of a batch: one row per file, a summary line, and an ECSV file."""

import os
from collections import Counter
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from .exposure import FAILED, OK, SKIPPED, ExposureResult

__all__ = ["JUMPS_MEANING", "BatchReport"]

JUMPS_MEANING = (
    "JUMP_DET flags the run added: GROUPDQ values newly flagged in a ramp product, "
    "or pixels with JUMP_DET in a rate product's DQ; -1 when not counted"
)


@dataclass(frozen=True)
class BatchReport:
    """What happened to each file, in the order the files were given.

    Attributes
    ----------
    results : tuple of ExposureResult
    seconds : float
        Wall time of the whole batch on the client, s.
    """

    results: tuple[ExposureResult, ...]
    seconds: float = 0.0

    @property
    def counts(self) -> Counter:
        """Files per status (``ok``, ``failed``, ``skipped``)."""
        return Counter(result.status for result in self.results)

    @property
    def failed(self) -> tuple[ExposureResult, ...]:
        """The results of the files that failed."""
        return tuple(result for result in self.results if result.status == FAILED)

    @property
    def files_per_minute(self) -> float:
        """Files processed (not skipped) per minute of the batch's wall time."""
        done = self.counts[OK] + self.counts[FAILED]
        return 60.0 * done / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line: counts, wall time and throughput."""
        counts = self.counts
        return (
            f"{len(self.results)} files: {counts[OK]} ok, {counts[FAILED]} failed, "
            f"{counts[SKIPPED]} skipped in {self.seconds:.1f} s ({self.files_per_minute:.1f} files/min)"
        )

    def to_table(self):
        """The report as an `astropy.table.Table` (columns file, status, seconds, jumps, output, reason)."""
        from astropy.table import Table

        names = [f.name for f in fields(ExposureResult)]
        rows = [astuple(result) for result in self.results]
        table = Table(rows=rows, names=names, dtype=[str, str, float, int, str, str])
        table["seconds"].unit = "s"
        table.meta["jumps"] = JUMPS_MEANING
        table.meta["summary"] = self.summary()
        return table

    def write(self, path) -> Path:
        """Write the table as ECSV at ``path`` (replaced whole, never left half-written)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        self.to_table().write(partial, format="ascii.ecsv", overwrite=True)
        os.replace(partial, path)
        return path
