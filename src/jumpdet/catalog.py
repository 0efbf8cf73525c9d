"""The jump catalogue: one row per JUMP_DET flag the detection set, as an astropy table (ECSV on disk).

Built from the sparse :class:`jumpdet.recording.JumpRecord` of a detection
(no cube is touched). Positions are 0-based (numpy's order: integration,
group, y = row, x = column); the table's metadata say so and carry the
detection path, the parameters and the thresholds used, and the exposure
when the step supplies it.

Which cause a flag gets when two stages set it: the first stage that set
it, in the order they run: ``primary`` (the search), ``neighbour``,
``after_jump``, ``snowball`` / ``snowball_core_next_int``, ``shower``. A
large-event flag gets the first event (in the order they were drawn) whose
footprint covers it; ``event_id`` numbers the events from 1 over the
exposure (0: not a large event).
"""

from __future__ import annotations

import dataclasses
import io
from functools import partial
from pathlib import Path

import numpy as np

from .atomic import write_atomically
from .recording import CAUSES, JumpRecord
from .table_text import rows_text

__all__ = ["CATALOG_SUFFIX", "jump_catalog", "read_catalog", "write_catalog"]

CATALOG_SUFFIX = "jumpcat"

_DESCRIPTIONS = {
    "integration": "integration, 0-based",
    "group": "group that received the JUMP_DET flag, 0-based (a jump lies between group - 1 and group)",
    "y": "row of the pixel, 0-based (numpy index; FITS/DS9 y is y + 1)",
    "x": "column of the pixel, 0-based (numpy index; FITS/DS9 x is x + 1)",
    "cause": "stage that first set the flag: " + ", ".join(CAUSES),
    "event_id": "large event (snowball, core, shower) that set the flag, 1-based; 0 for other causes",
    "difference_dn": "primary jumps: group difference (group minus group - 1), DN",
    "difference_e": "primary jumps: the group difference in electrons as the search computed it (float32)",
    "significance_sigma": "primary jumps: the value the search compared with its threshold, sigma",
}


def jump_catalog(record: JumpRecord, *, params, path: str | None, exposure: dict | None = None):
    """The astropy table of a detection's new JUMP_DET flags.

    Parameters
    ----------
    record : JumpRecord
        From ``detect_jumps_inplace(..., record=True).record``.
    params : JumpParams
        The parameters the detection ran with (written to the metadata).
    path : str or None
        The detection path taken (``JumpStats.plan.path``).
    exposure : dict or None
        What identifies the exposure (file name, instrument, detector, shape,
        group time, ...), written to the metadata as given.

    Returns
    -------
    astropy.table.Table
        Columns ``integration, group, y, x, cause, event_id, difference_dn,
        difference_e, significance_sigma`` with units and descriptions; one
        row per flag, in (integration, group, y, x) order. The numeric
        columns share the record's arrays.
    """
    from astropy.table import Column, Table

    values = record._asdict() | {"cause": record.cause_names()}
    units = {"difference_dn": "DN", "difference_e": "electron"}
    # the columns are the record's arrays, not copies (a copy cost 12 ms for 400,000 rows)
    table = Table(
        [Column(values[name], name=name, unit=units.get(name), description=text, copy=False)
         for name, text in _DESCRIPTIONS.items()],
        copy=False,
    )  # fmt: skip
    table.meta.update(_metadata(record, params, path, exposure))
    return table


def _metadata(record, params, path, exposure) -> dict:
    counts = np.bincount(record.cause, minlength=len(CAUSES))
    return {
        "title": "jumpdet jump catalogue: JUMP_DET flags set by the jump step (not those of the input)",
        "coordinates": "0-based integration, group, y (row), x (column); FITS/DS9 pixel = (x + 1, y + 1)",
        "cause_rule": "a flag set by several stages has the cause of the first that set it",
        "causes": list(CAUSES),
        "detection_path": None if path is None else str(path),  # plan.DetectionPath is a StrEnum
        "thresholds_sigma": {
            "rejection_threshold": params.rejection_threshold,
            "four_group_rejection_threshold": params.four_group_rejection_threshold,
            "three_group_rejection_threshold": params.three_group_rejection_threshold,
        },
        "significance": _SIGNIFICANCE.get(path, "no search: no primary jumps"),
        "counts_by_cause": {c: int(n) for c, n in zip(CAUSES, counts, strict=True) if n},
        "exposure": dict(exposure or {}),
        "parameters": {k: _plain(v) for k, v in dataclasses.asdict(params).items()},
    }


_SIGNIFICANCE = {
    "single_pass": "|d - median| / sigma(median), compared with rejection_threshold",
    "iterative": "| |d| - clipped median | / sigma at the pass that flagged d, compared with the threshold "
    "for the usable differences left then (rejection_threshold, four_group_..., three_group_...)",
    "sigma_clip": "|d - centre| / std of astropy's last clipping iteration (from its bounds): "
    "more than rejection_threshold up to rounding",
}


def _plain(value):
    """Parameters as YAML-friendly scalars."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_catalog(table, path, *, max_workers: int = 1) -> Path:
    """Write ``table`` as ECSV at ``path`` atomically (:func:`jumpdet.atomic.write_atomically`).

    Readers never see a partial file; an existing file is replaced. The
    header is astropy's; the rows are written by :mod:`jumpdet.table_text`
    (about 40 times faster than astropy's ECSV writer: 0.09 s against 5.5 s
    for 400,000 rows), every number exactly: float32 values as the shortest
    decimal that reads back to the float32, float64 values as the shortest
    that reads back to the float64, NaN as ``nan``.

    Parameters
    ----------
    table : astropy.table.Table
        From :func:`jump_catalog`.
    path : str or os.PathLike
    max_workers : int, optional
        Threads formatting the rows (default 1; the step passes its
        ``maximum_cores``). The file is the same.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If a string cell is empty or holds a space, a quote or a line break
        (cells are not quoted); nothing is written.
    """
    write_atomically(path, partial(_write_ecsv, table, max_workers=max_workers))
    return Path(path)


def _write_ecsv(table, out, *, max_workers: int = 1) -> None:
    """ECSV into the binary stream ``out``: astropy's header (column-name line included), then the rows."""
    header = io.StringIO()
    _as_text(table[:0]).write(header, format="ascii.ecsv")
    out.write(header.getvalue().encode())
    for text in rows_text([np.asarray(table[name]) for name in table.colnames], max_workers=max_workers):
        out.write(text)


def _as_text(table):
    """``table`` (a slice: its own columns) with its object columns (of strings) as string columns."""
    for name in table.colnames:
        if table[name].dtype.kind == "O":
            description = table[name].description
            table[name] = np.asarray(table[name], dtype=str)
            table[name].description = description
    return table


def read_catalog(path):
    """Read a jump catalogue written by :func:`write_catalog` (an astropy table).

    The header is read by astropy's ECSV reader; the rows, when they are
    plain space-separated values (as :func:`write_catalog` writes them), by
    astropy's fast C reader (about ten times faster), else by the ECSV reader.
    """
    from astropy.io import ascii
    from astropy.table import Column, Table

    text = Path(path).read_text(encoding="utf-8")
    lines = text.splitlines()
    body = next((k for k, line in enumerate(lines) if not line.startswith("#")), len(lines))
    head = Table.read("\n".join(lines[: body + 1]) + "\n", format="ascii.ecsv")
    rows = lines[body + 1 :]
    if not rows or any('"' in line for line in rows[:1]):
        return Table.read(text, format="ascii.ecsv")
    data = ascii.read(rows, format="fast_no_header", delimiter=" ", names=head.colnames, guess=False)
    columns = []
    for name in head.colnames:
        like = head[name]
        values = np.asarray(data[name], dtype=str if like.dtype.kind == "U" else like.dtype)
        columns.append(Column(values, name=name, unit=like.unit, description=like.description))
    return Table(columns, meta=head.meta)
