"""Rows of a table as text: the bytes pyarrow's CSV writer writes (space-delimited, unquoted), by chunks."""

import io

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pyarrow import csv

from conftest import examples
from jumpdet.table_text import rows_text

INTEGERS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)


def pyarrows(columns) -> bytes:
    """What pyarrow's CSV writer writes for ``columns``: the rows, space-separated, no quotes, no header."""
    out = io.BytesIO()
    options = csv.WriteOptions(include_header=False, delimiter=" ", quoting_style="none")
    csv.write_csv(pa.table({f"c{k}": column for k, column in enumerate(columns)}), out, write_options=options)
    return out.getvalue()


def ours(columns, rows_per_chunk=1 << 16, max_workers=1) -> bytes:
    return b"".join(chunk.tobytes() for chunk in rows_text(columns, rows_per_chunk, max_workers=max_workers))


def test_a_small_table_reads_as_expected():
    columns = [np.array([0, -12, 7]), np.array(["primary", "neighbour", "shower"], dtype=object),
               np.array([0.1, np.nan, -2.5], np.float32), np.array([1e300, -0.0, np.inf])]  # fmt: skip
    assert ours(columns) == b"0 primary 0.1 1e+300\n-12 neighbour nan -0\n7 shower -2.5 inf\n"


def test_big_endian_columns_are_written_as_native_ones():
    native = [
        np.array([1.5, np.nan, -2.0], np.float32),
        np.array([3, -4, 5], np.int32),
        np.array([0.1, 2.0, 1e300]),
    ]
    swapped = [column.astype(column.dtype.newbyteorder(">")) for column in native]  # as FITS tables hold them
    assert ours(swapped) == ours(native) == pyarrows(native)


def test_the_extreme_integers_are_written_whole():
    extremes = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, -1, 0, 9, 10, 99, 100])
    assert ours([extremes]).split() == [str(v).encode() for v in extremes]


@st.composite
def tables(draw):
    """Columns of one length: integers of every width, floats (NaN, inf, -0.0), words, booleans."""
    n = draw(st.integers(0, 40))
    kinds = draw(
        st.lists(st.sampled_from(["int", "float32", "float64", "word", "bool"]), min_size=1, max_size=6)
    )
    columns = []
    for kind in kinds:
        if kind == "int":
            columns.append(draw(hnp.arrays(draw(st.sampled_from(INTEGERS)), n)))
        elif kind == "word":
            words = st.text("abcdefghijklmnopqrstuvwxyz_0123456789é", min_size=1, max_size=12)
            columns.append(np.array(draw(st.lists(words, min_size=n, max_size=n)), dtype=object))
        elif kind == "bool":
            columns.append(draw(hnp.arrays(np.bool_, n)))
        else:
            columns.append(draw(hnp.arrays(np.dtype(kind), n)))
    return columns


@given(tables(), st.integers(1, 7), st.sampled_from([1, 2, 3]))
@settings(max_examples=examples(300), deadline=None)
def test_the_bytes_are_pyarrows_in_any_chunking_on_any_threads(columns, rows_per_chunk, max_workers):
    assert ours(columns, rows_per_chunk, max_workers) == pyarrows(columns)


@pytest.mark.parametrize(
    ("word", "what"),
    [
        ("a b", "spaces"),
        ('say"', "quotes"),
        ("two\nlines", "line breaks"),
        ("", "empty strings"),
        (None, "missing values"),
    ],
)
@pytest.mark.parametrize("max_workers", [1, 2])
def test_a_string_that_an_unquoted_cell_cannot_hold_is_refused(word, what, max_workers):
    column = np.array(["fine"] * 9 + [word], dtype=object)
    with pytest.raises(ValueError, match=f"a string column holds {what}"):
        ours([column], rows_per_chunk=3, max_workers=max_workers)  # in the last chunk


def test_no_rows_give_no_text():
    assert ours([np.array([], np.int64), np.array([], np.float32)]) == b""
    assert ours([]) == b""
