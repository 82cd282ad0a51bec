"""Files of ids in, tables out: what predict, recommend and similar share.

Input files hold ids only: pairs (user, item) for ``predict``, one column of
users or items for ``recommend --users-file`` and ``similar``. They are read
with the same guards as ratings files (:func:`skmf.datasets.read_ratings`:
read once, so that pipes work; compressed or Parquet; NUL bytes and endless
lines refused), as the file's exact text, and matched to the model's ids by
that text, the way ids typed on the command line are.

Output tables go to stdout, or to a file (``-o``) in CSV, TSV or Parquet by
its extension, written atomically (all of it or nothing) and in blocks, so
that a table of recommendations for every user is never held in memory as a
whole.
"""

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .._persistence import check_output_path, write_atomically
from ..datasets import _ratings_file as rf
from ._common import UsageError, add_table_arguments

# Rows of output formatted at a time.
BLOCK_ROWS = 1 << 18
_PARQUET_SUFFIXES = (".parquet", ".pq")


# ---------------------------------------------------------------------------
# Reading ids


def _header_names(first_row, roles):
    """Whether a first row names the columns: a field names one of the roles."""
    return any(
        rf._normalized(field) in rf._COLUMN_NAMES[role]
        for field in first_row
        for role in roles
    )


def _check_missing(frame, positions, names, name, header):
    for role, column in positions.items():
        missing = frame[column].isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            label = f"column {column}" + (f" ({names[column]!r})" if names else "")
            raise ValueError(
                f"{name}: data row {row + 1} (line {row + 1 + header}), {label} "
                f"has no {role} id (an empty field)."
            )


def _read_parquet(parquet, name, specs):
    frame, names, positions = rf._parquet_columns(parquet, name, specs, "ids")
    _check_missing(frame, positions, names, name, 0)
    return {
        role: frame[j].astype(str).to_numpy(dtype=object)
        for role, j in positions.items()
    }


def _read(raw, name, specs, sep, header, codec):
    parquet, stream, lines = rf._sniff(raw, name, codec)
    if parquet is not None:
        return _read_parquet(parquet, name, specs)
    if not lines:
        raise ValueError(f"{name} is empty: there are no ids to read.")

    sep = rf._SEPARATOR_ALIASES.get(sep, sep)
    if sep is None:
        sep = rf._detect_separator(lines)
    if sep is None:
        if len(specs) > 1:
            raise ValueError(
                f"cannot tell how the columns of {name} are separated; pass --sep."
            )
        # One id per line: the whole line (without its end) is the id.
        rows = [[line.strip()] for line in lines]
    else:
        rows = [rf._split(line, sep) for line in lines]
    if header is None:
        header = _header_names(rows[0], specs) or (
            len(rows) > 1 and rf._detect_header(rows)
        )
    if header and len(rows) == 1:
        raise ValueError(f"{name} has a header line but no ids.")
    names = rows[0] if header else None
    positions = rf._resolve_columns(specs, names, len(rows[0]), name)

    text_stream = io.TextIOWrapper(
        io.BufferedReader(stream), encoding=codec, errors="strict", newline=""
    )
    used = sorted(set(positions.values()))
    options = {"engine": "c", "low_memory": False}
    if sep is None:
        # No separator: one column. A control character no text file of ids
        # holds stands in for the separator.
        options["sep"] = "\x1f"
    elif sep == rf._WHITESPACE:
        options["sep"] = r"\s+"
    else:
        options["sep"] = sep
        if len(sep) > 1:
            options = {"sep": sep, "engine": "python"}
    try:
        frame = pd.read_csv(
            text_stream,
            header=None,
            skiprows=1 if header else 0,
            usecols=used,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
            skip_blank_lines=True,
            **options,
        )
    except UnicodeDecodeError as exc:
        raise rf._decode_error(name, codec, exc) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"cannot parse {name}: {exc}".rstrip()) from None
    except ValueError as exc:
        if str(exc).startswith(name):  # a check of the stream, as it is
            raise
        raise ValueError(f"cannot parse {name}: {exc}".rstrip()) from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"cannot read {name}: {exc}") from None
    if frame.shape[0] == 0:
        raise ValueError(f"{name} has a header line but no ids.")
    _check_missing(frame, positions, names, name, int(header))
    return {
        role: frame[j].str.strip().to_numpy(dtype=object)
        for role, j in positions.items()
    }


def read_ids(path, roles, args):
    """The id columns of a file, as text: {role: object ndarray of str}.

    ``roles`` names the columns wanted, e.g. ``("user", "item")`` for pairs
    or ``("user",)``. Each is chosen by ``--ROLE-col`` (header name or 0-based
    position), else by a header named like the role, else by its place in
    ``roles``. Errors are UsageError, naming the file, the line and the
    option that fixes it.
    """
    specs = {
        role: rf._parse_column(getattr(args, f"{role}_col", None)) for role in roles
    }
    try:
        codec = rf._codec(getattr(args, "encoding", "utf-8"))
        if path == "-":
            raw, name, opened = sys.stdin.buffer, "<stdin>", False
        else:
            raw, name, _ = rf._open(path)
            opened = True
        try:
            return _read(
                raw,
                name,
                specs,
                getattr(args, "sep", None),
                getattr(args, "header", None),
                codec,
            )
        finally:
            if opened:
                raw.close()
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def add_id_file_arguments(parser, roles):
    """Options for reading files of ids: separator, header, columns, encoding."""
    add_table_arguments(
        parser.add_argument_group("reading files of ids"),
        sep_help="column separator of the file, e.g. ',', 'tab' or 'whitespace' "
        "(default: detected; a file of one column needs none)",
        columns=((role, position) for position, role in enumerate(roles)),
        encoding_help="the text's encoding (default: utf-8); invalid bytes are "
        "an error",
        no_header_help="the first line holds ids",
    )


def match_ids(texts, known):
    """Ids given as text, as the model's ids where their text matches.

    An id matches a fitted id whose text is the same ("42" is the int 42 of a
    model fitted on ints, "007" is not); one that matches none is kept as
    typed, and the model treats it as any unknown id.

    Returns
    -------
    ids : ndarray
        Of the fitted ids' dtype when every id matched, else of objects.
    unknown : ndarray of bool
        Which ids matched no fitted id.
    """
    texts = np.asarray(texts, dtype=object)
    keys = pd.Index([str(value) for value in known.tolist()], dtype=object)
    if keys.has_duplicates:  # e.g. the int 1 and the str "1" in one model
        keep = ~keys.duplicated(keep="last")
        keys, known = keys[keep], known[keep]
    codes = keys.get_indexer(texts)
    unknown = codes < 0
    if not unknown.any():
        return known[codes], unknown
    ids = texts.copy()
    ids[~unknown] = known[codes[~unknown]]
    return ids, unknown


def shown(ids, limit=5):
    """A few ids for a message, with how many there are in all."""
    ids = list(ids)
    text = ", ".join(repr(value) for value in ids[:limit])
    return text + (f", ... ({len(ids):,} in all)" if len(ids) > limit else "")


# ---------------------------------------------------------------------------
# Writing tables


def output_format(path, tsv=False):
    """How a table goes out: "parquet", "tsv" or "csv" (by -o's extension)."""
    if path is not None:
        suffix = Path(path).suffix.lower()
        if suffix in _PARQUET_SUFFIXES:
            return "parquet"
        if suffix == ".tsv":
            return "tsv"
        return "tsv" if tsv else "csv"
    return "tsv" if tsv else "csv"


def check_table_output(path, what):
    """Refuse a bad -o before any work; needs pyarrow for Parquet."""
    if path is None:
        return
    try:
        check_output_path(path, what)
    except OSError as exc:
        raise UsageError(str(exc)) from None
    if output_format(path) == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UsageError(
                f"writing {path} as Parquet needs pyarrow: pip install pyarrow, "
                "or give a .csv or .tsv file name."
            ) from None


def text_column(ids):
    """Ids of one output column: as text when their types are mixed.

    A column of one type (ints, or strings) keeps it; ids of mixed types (the
    model's ints and unknown ids kept as text) are all written as text, which
    a Parquet column needs and which a CSV file shows the same.
    """
    ids = np.asarray(ids)
    if ids.dtype == object:
        kind = pd.api.types.infer_dtype(ids, skipna=False)
        if kind.startswith("mixed"):
            return ids.astype(str)
    return ids


class _TableSink:
    """Writes DataFrame blocks as one table: CSV/TSV text or Parquet."""

    def __init__(self, binary, fmt, text=None):
        self.fmt = fmt
        self.rows = 0
        self._writer = None
        self._binary = binary
        self._text = text
        if fmt != "parquet" and text is None:
            self._text = io.TextIOWrapper(binary, encoding="utf-8", newline="")

    def write(self, frame):
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self._binary, table.schema)
            self._writer.write_table(table)
        else:
            frame.to_csv(
                self._text,
                sep="\t" if self.fmt == "tsv" else ",",
                index=False,
                header=self.rows == 0,
                lineterminator="\n",
            )
        self.rows += len(frame)

    def close(self, empty):
        if self.fmt == "parquet":
            if self._writer is None:  # no block: an empty table of the columns
                import pyarrow as pa
                import pyarrow.parquet as pq

                pq.write_table(
                    pa.Table.from_pandas(empty, preserve_index=False), self._binary
                )
            else:
                self._writer.close()
        else:
            if self.rows == 0:
                self.write(empty)
            self._text.flush()
            if self._binary is not None:
                self._text.detach()  # the binary file is closed by its owner


def write_table(path, blocks, columns, *, tsv=False, what="the table"):
    """Write the DataFrames ``blocks`` yields as one table; return its rows.

    To ``path`` (CSV, TSV or Parquet by its extension; all of it or nothing)
    or, for None, as CSV (TSV with ``tsv``) to stdout as it comes.
    """
    fmt = output_format(path, tsv)
    empty = pd.DataFrame({name: [] for name in columns})
    if path is None:
        sink = _TableSink(None, fmt, text=sys.stdout)
        for frame in blocks:
            sink.write(frame)
        sink.close(empty)
        return sink.rows
    result = {}

    def write(binary):
        sink = _TableSink(binary, fmt)
        for frame in blocks:
            sink.write(frame)
        sink.close(empty)
        result["rows"] = sink.rows

    try:
        write_atomically(path, write, what)
    except OSError as exc:
        raise UsageError(str(exc)) from None
    return result["rows"]
