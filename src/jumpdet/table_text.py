"""A table's rows as space-separated text: the rows of the jump catalogue's ECSV.

Integers are written by the row kernel (:func:`_joined_rows`) itself; the
other columns first become the text of their cells in Arrow's string layout
(UTF-8 bytes and offsets): floats by Arrow's cast (the shortest decimal that
reads back to the same float32 or float64; ``nan``, ``inf``; a NaN is
formatted once per chunk, the catalogue's float columns being mostly NaN),
strings as they are. The bytes are those pyarrow's CSV writer writes with a
space delimiter, no quoting and no header (a test compares them), in less
time: on the 397,884 rows of the miri_1x40 benchmark's catalogue, 0.09 s
against 0.14 s for the writer (and 0.02 s more to give it the object column
of causes as strings), whose per-cell cost was the larger part of the
catalogue's. Rows are formatted a chunk at a time, so memory stays bounded,
and chunks can be formatted by several threads (the kernel and Arrow's casts
release the GIL): those 397,884 rows in 0.051 s on two.

Cells cannot be quoted, so a string that is empty or holds a space, a quote
or a line break is refused; the jump catalogue's strings are stage names.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

from .compilation import kernel

__all__ = ["ROWS_PER_CHUNK", "rows_text"]

#: Rows formatted at a time: bounds the writer's memory (about 150 bytes a row) whatever the table's size.
ROWS_PER_CHUNK = 1 << 16


def rows_text(
    columns: Sequence[np.ndarray], rows_per_chunk: int = ROWS_PER_CHUNK, *, max_workers: int = 1
) -> Iterator[np.ndarray]:
    """The rows of ``columns`` as text: cells separated by a space, each row ended by a newline.

    Parameters
    ----------
    columns : sequence of (n,) array_like
        The columns, of equal length: integers, floats, strings (or
        anything else Arrow casts to strings, such as booleans).
    rows_per_chunk : int, optional
        How many rows each chunk of text holds (default :data:`ROWS_PER_CHUNK`).
    max_workers : int, optional
        Threads formatting chunks at once (default 1). The text is the same;
        at most two chunks a thread are held at a time.

    Yields
    ------
    (m,) uint8 ndarray
        The UTF-8 text of the next ``rows_per_chunk`` rows (fewer in the last chunk).

    Raises
    ------
    ValueError
        If a string cell is empty, missing, or holds a space, a quote or a line break.
    """
    # in native byte order: Arrow takes no other (a table read from FITS is big-endian)
    columns = [_native(np.asarray(column)) for column in columns]
    integer = np.array([_is_integer(column) for column in columns], bool)
    # column c is row slot[c] of the integers if integer[c], else of the text cells' starts and ends
    slot = np.where(integer, np.cumsum(integer), np.cumsum(~integer)) - 1
    chunk_text = partial(_chunk_text, integer, slot)
    nrows = len(columns[0]) if columns else 0
    chunks = [
        [column[first : first + rows_per_chunk] for column in columns]
        for first in range(0, nrows, rows_per_chunk)
    ]
    if max_workers <= 1:
        yield from map(chunk_text, chunks)
        return
    with ThreadPoolExecutor(max_workers) as pool:  # the kernel and Arrow's casts release the GIL
        pending = deque()
        for chunk in chunks:
            pending.append(pool.submit(chunk_text, chunk))
            if len(pending) >= 2 * max_workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _chunk_text(integer: np.ndarray, slot: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
    """The rows of one chunk of columns (native byte order) as text (``integer``, ``slot``: see rows_text)."""
    nrows = len(columns[0])
    numbers = [column.astype(np.int64, copy=False) for column, i in zip(columns, integer, strict=True) if i]
    cells = [_cells(column) for column, i in zip(columns, integer, strict=True) if not i]
    return _joined_rows(integer, slot, _rows(numbers, nrows), *_gathered(cells, nrows))


def _gathered(cells, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The text cells of several columns as one text and (columns, n) starts and ends into it."""
    bases = np.cumsum([0] + [text.size for text, _, _ in cells])
    text = np.concatenate([text for text, _, _ in cells] + [np.empty(0, np.uint8)])
    starts = _rows([start + base for (_, start, _), base in zip(cells, bases[:-1], strict=True)], n)
    ends = _rows([end + base for (_, _, end), base in zip(cells, bases[:-1], strict=True)], n)
    return text, starts, ends


def _native(values: np.ndarray) -> np.ndarray:
    """``values`` in native byte order (a view when they are already)."""
    return values.astype(values.dtype.newbyteorder("="), copy=False)


def _is_integer(values: np.ndarray) -> bool:
    """Written by the row kernel itself: integers that int64 holds."""
    return values.dtype.kind == "i" or (values.dtype.kind == "u" and values.dtype.itemsize < 8)


def _rows(arrays: list[np.ndarray], n: int) -> np.ndarray:
    """``arrays`` as the rows of one (len(arrays), n) int64 array."""
    return np.stack(arrays) if arrays else np.empty((0, n), np.int64)


def _cells(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(text, starts, ends) of a column that is not integer: cell ``j`` is ``text[starts[j]:ends[j]]``."""
    missing = np.isnan(values) if values.dtype.kind == "f" else None
    if missing is not None and missing.any():
        return _cells_around_nan(values, missing)
    text, offsets = _arrow_cells(values)
    return text, offsets[:-1], offsets[1:]


def _cells_around_nan(values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrow's text of the numbers; every NaN cell points at one ``nan`` (Arrow's cast costs per value)."""
    numbers, offsets = _arrow_cells(values[~missing])
    text = np.concatenate([numbers, np.frombuffer(b"nan", np.uint8)])
    starts, ends = np.full(values.size, numbers.size), np.full(values.size, text.size)
    starts[~missing], ends[~missing] = offsets[:-1], offsets[1:]
    return text, starts, ends


def _arrow_cells(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(text, offsets) of Arrow's strings of ``values``: cell ``j`` is ``text[offsets[j]:offsets[j + 1]]``."""
    import pyarrow as pa

    if values.dtype.kind in "USO":
        strings = pa.array(values, type=pa.string())
        _check_plain(strings)
    else:
        strings = pa.array(values).cast(pa.string())
    _, ends, text = strings.buffers()
    offsets = np.frombuffer(ends, np.int32, count=len(strings) + 1, offset=4 * strings.offset)
    text = np.empty(0, np.uint8) if text is None else np.frombuffer(text, np.uint8)
    return text, offsets.astype(np.int64)


def _check_plain(strings) -> None:
    """Refuse strings that an unquoted cell cannot hold (checked on the distinct strings: few)."""
    import pyarrow.compute as pc

    if strings.null_count:
        raise ValueError("a string column holds missing values, which this writer cannot write")
    strings = pc.unique(strings)
    if len(strings) and pc.min(pc.utf8_length(strings)).as_py() == 0:
        raise ValueError("a string column holds empty strings, which this writer does not quote")
    for character, name in ((" ", "spaces"), ('"', "quotes"), ("\n", "line breaks"), ("\r", "line breaks")):
        if pc.any(pc.match_substring(strings, character)).as_py():
            raise ValueError(f"a string column holds {name}, which this writer does not quote")


@kernel
def _magnitude(value):
    """``|value|`` as uint64 (exact for the most negative int64, whose negation overflows)."""
    if value >= 0:
        return np.uint64(value)
    return np.uint64(-(value + 1)) + np.uint64(1)


@kernel
def _joined_rows(integer, slot, numbers, text, starts, ends):
    """The rows: column ``c`` is ``numbers[slot[c]]`` if ``integer[c]``, else cells of ``text``.

    Cell ``j`` of a text column is ``text[starts[slot[c], j]:ends[slot[c], j]]``;
    integers are written in decimal here. Cells are separated by a space,
    rows ended by a newline.
    """
    ncols, nrows = integer.size, numbers.shape[1] if numbers.shape[0] else starts.shape[1]
    size = ncols * nrows + numbers.shape[0] * nrows * 20  # an int64 has at most 19 digits and a sign
    for c in range(starts.shape[0]):
        for j in range(nrows):
            size += ends[c, j] - starts[c, j]
    out = np.empty(size, np.uint8)
    k = np.int64(0)
    for j in range(nrows):
        for c in range(ncols):
            if integer[c]:
                k = _write_integer(numbers[slot[c], j], out, k)
            else:
                for b in range(starts[slot[c], j], ends[slot[c], j]):
                    out[k] = text[b]
                    k += 1
            out[k] = np.uint8(32) if c < ncols - 1 else np.uint8(10)  # a space, or the newline
            k += 1
    return out[:k]


@kernel
def _write_integer(value, out, k):
    """Write ``value`` in decimal at ``out[k:]``; return the position after it."""
    ten = np.uint64(10)  # uint64 with int64 would give float64
    if value < 0:
        out[k] = np.uint8(45)  # "-"
        k += 1
    magnitude = _magnitude(value)
    end = k + 1
    rest = magnitude // ten
    while rest > 0:
        rest //= ten
        end += 1
    position = end
    while True:
        position -= 1
        out[position] = np.uint8(np.uint64(48) + magnitude % ten)  # "0" is 48
        magnitude //= ten
        if magnitude == 0:
            return end
