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
from .compilation import kernel
from .recording import CAUSES, JumpRecord

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
        row per flag, in (integration, group, y, x) order.
    """
    import astropy.units as u
    from astropy.table import Table

    table = Table()
    for name in ("integration", "group", "y", "x"):
        table[name] = getattr(record, name)
    table["cause"] = record.cause_names()
    table["event_id"] = record.event_id
    table["difference_dn"] = record.difference_dn * u.DN
    table["difference_e"] = record.difference_e * u.electron
    table["significance_sigma"] = record.significance_sigma
    for name, text in _DESCRIPTIONS.items():
        table[name].description = text
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


def write_catalog(table, path, *, compiled: bool | None = None) -> Path:
    """Write ``table`` as ECSV at ``path`` atomically (:func:`jumpdet.atomic.write_atomically`).

    Readers never see a partial file; an existing file is replaced. The
    header is astropy's; so are the rows of a small table. Those of a large
    one are laid out here, about ten times faster than astropy's ECSV
    writer. Either way every number is exact: float32 values in the shortest
    decimal that reads back to them, float64 values in Python's shortest
    round-trip form.

    Parameters
    ----------
    table : astropy.table.Table
        From :func:`jump_catalog`.
    path : str or os.PathLike
    compiled : bool or None, optional
        Lay the rows out by compiled code (True) or by astropy (False);
        None (default) chooses by size (compiled from 10,000 rows on).

    Returns
    -------
    pathlib.Path
    """
    write_atomically(path, partial(_write_ecsv, table, compiled=compiled))
    return Path(path)


# From this many rows on, the rows are laid out by compiled code: astropy's writer takes
# about 8 microseconds a row (0.03-0.08 s for the demo's 4,222 rows), the compiled
# layout under 1, after a one-time compilation of about 2 s that small tables need not pay.
_COMPILED_ROWS = 10_000


def _write_ecsv(table, out, compiled=None) -> None:
    """ECSV into the binary stream ``out``: astropy's header (column-name line included), then the rows."""
    header = io.StringIO()
    if not (len(table) >= _COMPILED_ROWS if compiled is None else compiled):
        _as_text(table).write(header, format="ascii.ecsv")
        out.write(header.getvalue().encode())
        return
    _as_text(table[:0]).write(header, format="ascii.ecsv")
    cells = [_cells(table[name]) for name in table.colnames]
    blob = np.concatenate([text for text, _ in cells])
    starts = np.cumsum([0] + [len(text) for text, _ in cells[:-1]])
    offsets = np.stack([ends + base for (_, ends), base in zip(cells, starts, strict=True)])
    out.write(header.getvalue().encode())
    out.write(_interleave(blob, offsets).tobytes())


def _cells(column) -> tuple[bytes, np.ndarray]:
    """A column's cells as one byte string and the (n + 1,) offsets that cut it into cells."""
    values = np.asarray(column)
    if values.dtype.kind in "iu":
        return _integer_text(values.astype(np.int64))
    if values.dtype.kind == "f" and values.dtype.itemsize == 4 and _float32_text_fits(values):
        return _float32_text(np.ascontiguousarray(values, dtype=np.float32))
    if values.dtype.kind == "f":  # Python's shortest exact form (float32 widened first); NaN is "nan"
        present = ~np.isnan(values)
        text = list(map(repr, values[present].tolist()))
    else:  # few distinct strings: each written once
        names, codes = _categories(values if values.dtype.kind in "UO" else values.astype(str))
        if any(" " in name for name in names):
            raise ValueError(f"column {column.name!r} holds spaces, which this writer does not quote")
        text = names.tolist()
    lengths = np.fromiter(map(len, text), np.int64, len(text))
    blob = np.frombuffer("".join(text).encode(), np.uint8)
    if values.dtype.kind == "f":
        return _with_nan(blob, lengths, present)
    return _from_codes(blob, lengths, codes.astype(np.int64))


def _as_text(table):
    """``table`` with its object columns (of strings) as string columns, which ECSV writes plainly."""
    for name in table.colnames:
        if table[name].dtype.kind == "O":
            description = table[name].description
            table[name] = np.asarray(table[name], dtype=str)
            table[name].description = description
    return table


def _categories(values, most=16):
    """The distinct values and each value's index among them (a pass per distinct value, up to ``most``)."""
    codes = np.full(values.size, -1, np.int64)
    names = []
    while len(names) < most:
        missing = np.flatnonzero(codes < 0)
        if not missing.size:
            return np.array([str(name) for name in names]), codes
        codes[values == values[missing[0]]] = len(names)
        names.append(values[missing[0]])
    return np.unique(values, return_inverse=True)


@kernel
def _with_nan(blob, lengths, present):
    """Cells of a float column: the next text where ``present``, else ``nan``."""
    out = np.empty(blob.size + 3 * present.size, np.uint8)
    offsets = np.zeros(present.size + 1, np.int64)
    at = source = k = 0
    for i in range(present.size):
        if present[i]:
            for b in range(lengths[k]):  # a loop: a slice copy compiles numba's shape-mismatch message (~1 s)
                out[at + b] = blob[source + b]
            at, source, k = at + lengths[k], source + lengths[k], k + 1
        else:
            out[at], out[at + 1], out[at + 2] = 110, 97, 110  # "nan"
            at += 3
        offsets[i + 1] = at
    return out[:at], offsets


@kernel
def _from_codes(blob, lengths, codes):
    """Cells that are the ``codes``-th of a few texts laid end to end in ``blob``."""
    starts = np.zeros(lengths.size + 1, np.int64)
    for k in range(lengths.size):
        starts[k + 1] = starts[k] + lengths[k]
    out = np.empty(np.sum(lengths[codes]), np.uint8)
    offsets = np.zeros(codes.size + 1, np.int64)
    at = 0
    for i in range(codes.size):
        n, start = lengths[codes[i]], starts[codes[i]]
        for b in range(n):  # a loop: a slice copy compiles numba's shape-mismatch message (~1 s)
            out[at + b] = blob[start + b]
        at += n
        offsets[i + 1] = at
    return out, offsets


# float32 values written by _float32_text: zero, NaN, and magnitudes in this range, where
# the powers of ten it scales by (up to 10**21) are exact in float64
_FLOAT32_TEXT_RANGE = (1e-12, 1e12)


def _float32_text_fits(values) -> bool:
    """Whether :func:`_float32_text` can write every value (else Python's ``repr`` does)."""
    magnitude = np.abs(values[~np.isnan(values)])
    low, high = _FLOAT32_TEXT_RANGE
    return bool(np.all((magnitude == 0) | ((magnitude >= low) & (magnitude < high))))


@kernel
def _float32_text(values):
    """Shortest decimal text of float32 values that reads back to each, and the offsets of each.

    ``nan`` for NaN; otherwise positional (``-12.5``, ``0.001``, ``510.0``).
    For 1 to 9 significant digits, the value scaled by a power of ten is
    rounded to an integer ``m``, and ``m`` is kept when ``m * 10**-k``,
    read as a reader reads it (the exact decimal rounded to float64, then to
    float32), is the value again: the product or quotient of exact float64
    numbers is that correctly rounded decimal. Nine digits always read back
    (float32 needs at most nine), so every value is written exactly.
    """
    n = values.size
    blob = np.empty(n * 32, np.uint8)
    offsets = np.zeros(n + 1, np.int64)
    digits = np.empty(24, np.uint8)
    at = 0
    for i in range(n):
        v = values[i]
        if np.isnan(v):
            blob[at], blob[at + 1], blob[at + 2] = 110, 97, 110  # "nan"
            at += 3
            offsets[i + 1] = at
            continue
        if v < 0 or (v == 0 and np.signbit(v)):
            blob[at] = 45  # "-"
            at += 1
        m, k = _shortest_digits(abs(v))
        nd = 0
        while True:  # digits of m, last first
            digits[nd] = 48 + m % 10
            m //= 10
            nd += 1
            if m == 0:
                break
        at = _positional(blob, at, digits, nd, k)
        offsets[i + 1] = at
    return blob[:at], offsets


@kernel
def _shortest_digits(x):
    """``(m, k)`` with ``m * 10**-k`` the shortest decimal that reads back to float32 ``x >= 0``."""
    if x == 0:
        return np.int64(0), np.int64(0)
    wide = np.float64(x)
    e10 = np.int64(np.floor(np.log10(wide)))
    if wide >= _POWERS_OF_TEN[e10 + 1 + 22]:  # log10 rounded up to the next power
        e10 += 1
    elif wide < _POWERS_OF_TEN[e10 + 22]:
        e10 -= 1
    m, k = np.int64(0), np.int64(0)
    for p in range(1, 10):
        k = p - 1 - e10
        scale = _POWERS_OF_TEN[abs(k) + 22]
        m = np.int64(np.rint(wide * scale if k >= 0 else wide / scale))
        back = np.float64(m) / scale if k >= 0 else np.float64(m) * scale
        if np.float32(back) == x:
            break
    while m != 0 and m % 10 == 0:  # 5000 * 10**-3 is 5 * 10**0
        m //= 10
        k -= 1
    return m, k


_POWERS_OF_TEN = 10.0 ** np.arange(-22, 23)  # 10**j at index j + 22, each exact in float64


@kernel
def _positional(blob, at, digits, nd, k):
    """Write ``m * 10**-k`` (``m``'s ``nd`` digits in ``digits``, last first) positionally; return the end."""
    whole = nd - k  # digits before the point
    if whole <= 0:
        blob[at], blob[at + 1] = 48, 46  # "0."
        at += 2
        for _ in range(-whole):
            blob[at] = 48
            at += 1
    for j in range(nd):
        if j == whole and whole > 0:
            blob[at] = 46  # "."
            at += 1
        blob[at] = digits[nd - 1 - j]
        at += 1
    if whole >= nd:  # an integer: its zeros, then ".0"
        for _ in range(whole - nd):
            blob[at] = 48
            at += 1
        blob[at], blob[at + 1] = 46, 48
        at += 2
    return at


@kernel
def _integer_text(values):
    """Decimal text of integers, and the offsets of each."""
    blob = np.empty(values.size * 21, np.uint8)
    offsets = np.zeros(values.size + 1, np.int64)
    digits = np.empty(20, np.uint8)
    at = 0
    for i in range(values.size):
        v = values[i]
        if v < 0:
            blob[at] = 45  # "-"
            at += 1
            v = -v
        n = 0
        while True:
            digits[n] = 48 + v % 10
            v //= 10
            n += 1
            if v == 0:
                break
        for k in range(n):
            blob[at + k] = digits[n - 1 - k]
        at += n
        offsets[i + 1] = at
    return blob[:at], offsets


@kernel
def _interleave(blob, offsets):
    """Rows of cells: cell ``i`` of column ``c`` is ``blob[offsets[c, i]:offsets[c, i + 1]]``."""
    ncols, n = offsets.shape[0], offsets.shape[1] - 1
    size = n * ncols
    for c in range(ncols):
        size += offsets[c, n] - offsets[c, 0]
    out = np.empty(size, np.uint8)
    at = 0
    for i in range(n):
        for c in range(ncols):
            for b in range(offsets[c, i], offsets[c, i + 1]):
                out[at] = blob[b]
                at += 1
            out[at] = 32 if c < ncols - 1 else 10  # " " or newline
            at += 1
    return out


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
