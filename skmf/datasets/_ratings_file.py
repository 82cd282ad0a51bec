"""Reading (user, item, rating) triplets from a delimited text or Parquet file.

:func:`read_ratings` detects the separator, whether the first line names the
columns, and which columns hold the user, the item and the rating; every
problem is a :class:`ValueError` (or :class:`FileNotFoundError`) that names
the file, the line and the option that fixes it.
"""

import bz2
import csv
import gzip
import lzma
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

# Separators tried, in this order, when none is given; then runs of whitespace.
_SEPARATORS = ("\t", ",", ";", "|", "::")
_WHITESPACE = "whitespace"
_SEPARATOR_NAMES = {
    "\t": "tab",
    ",": "comma",
    ";": "semicolon",
    "|": "pipe",
    "::": "'::'",
    _WHITESPACE: "whitespace",
}
_SEPARATOR_ALIASES = {
    "tab": "\t",
    "\\t": "\t",
    "comma": ",",
    "semicolon": ";",
    "pipe": "|",
    "space": _WHITESPACE,
    " ": _WHITESPACE,
    "whitespace": _WHITESPACE,
}
# Header names recognised for each role, lower case without punctuation.
_COLUMN_NAMES = {
    "user": {"user", "userid", "users", "uid", "customer", "customerid", "reviewerid"},
    "item": {
        "item", "itemid", "items", "iid", "movie", "movieid", "product",
        "productid", "asin", "book", "bookid", "isbn", "artist", "artistid",
        "track", "trackid", "song", "songid", "joke", "jokeid",
    },
    "rating": {
        "rating", "ratings", "score", "stars", "value", "weight", "rate",
        "preference", "bookrating",
    },
}  # fmt: skip
_DEFAULT_POSITIONS = {"user": 0, "item": 1, "rating": 2}
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_PARQUET_SUFFIXES = (".parquet", ".pq")
_SNIFF_LINES = 50


def _open_text(path):
    opener = _OPENERS.get(path.suffix.lower(), open)
    return opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="")


def _head(path, n_lines):
    """The first ``n_lines`` non-blank lines of the file, without line ends."""
    lines = []
    with _open_text(path) as file:
        for line in file:
            line = line.rstrip("\r\n")
            if line.strip():
                lines.append(line)
                if len(lines) == n_lines:
                    break
    return lines


def _detect_separator(lines):
    """The separator found the same number of times on every line, if any."""
    for sep in _SEPARATORS:
        counts = {line.count(sep) for line in lines}
        if len(counts) == 1 and counts.pop() > 0:
            return sep
    for sep in _SEPARATORS:  # quoted fields may hide some separators
        if all(sep in line for line in lines):
            return sep
    if all(len(line.split()) >= 2 for line in lines):
        return _WHITESPACE
    return None


def _split(line, sep):
    if sep == _WHITESPACE:
        return line.split()
    if len(sep) > 1:
        return [field.strip() for field in line.split(sep)]
    return [field.strip() for field in next(csv.reader([line], delimiter=sep))]


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _detect_header(rows):
    """Whether the first row names the columns.

    It does when one of its fields is not a number while that column holds
    numbers in the rows below (ratings always do; ids often do).
    """
    first, rest = rows[0], rows[1:]
    if not rest:
        return not any(_is_number(field) for field in first)
    return any(
        not _is_number(field)
        and all(j < len(row) and _is_number(row[j]) for row in rest)
        for j, field in enumerate(first)
    )


def _parse_column(text):
    """A column given on the command line: 0-based position (int) or name."""
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdecimal() else text


def _normalized(name):
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _resolve_columns(specs, names, n_columns, path):
    """Positions of the user, item and rating columns.

    ``specs`` maps each role to a position, a name or None (recognise the
    header's name for the role, else use the default position).
    """
    positions = {}
    for role, spec in specs.items():
        option = f"--{role}-col"
        if isinstance(spec, int):
            if spec >= n_columns:
                raise ValueError(
                    f"{option} {spec} is out of range: {path} has {n_columns} "
                    f"columns, numbered 0 to {n_columns - 1}."
                )
            positions[role] = spec
        elif isinstance(spec, str):
            if names is None:
                raise ValueError(
                    f"{option} {spec!r} is a column name, but the first line of "
                    f"{path} holds no column names: give the column's 0-based "
                    "position, or pass --header if the first line does name the "
                    "columns."
                )
            matches = [j for j, name in enumerate(names) if name == spec] or [
                j for j, name in enumerate(names) if name.lower() == spec.lower()
            ]
            if not matches:
                raise ValueError(
                    f"{path} has no column named {spec!r} ({option}); its columns "
                    f"are: {', '.join(repr(name) for name in names)}."
                )
            positions[role] = matches[0]
        else:
            known = [
                j
                for j, name in enumerate(names or ())
                if _normalized(name) in _COLUMN_NAMES[role]
            ]
            positions[role] = known[0] if known else _DEFAULT_POSITIONS[role]
            if positions[role] >= n_columns:
                raise ValueError(
                    f"{path} has only {n_columns} column(s); ratings need a user, "
                    "an item and a rating column. Is the separator right (--sep)?"
                )
    if len(set(positions.values())) < 3:
        described = ", ".join(f"{role}={j}" for role, j in positions.items())
        raise ValueError(
            f"the user, item and rating columns must differ; got {described}. "
            "Choose them with --user-col, --item-col and --rating-col."
        )
    return positions


def _check_values(frame, positions, names, path, header):
    """Ratings as float64; a clear error for a missing id or a bad rating."""

    def where(row, role):
        column = positions[role]
        label = f"column {column}" + (f" ({names[column]!r})" if names else "")
        return f"data row {row + 1} (line {row + 1 + header}), {label}"

    for role in ("user", "item"):
        missing = frame[positions[role]].isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise ValueError(f"{path}: {where(row, role)} has no {role} id.")
    raw = frame[positions["rating"]]
    y = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(y)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        if pd.isna(raw.iloc[row]):
            raise ValueError(f"{path}: {where(row, 'rating')} has no rating.")
        raise ValueError(
            f"{path}: cannot read the rating {raw.iloc[row]!r} in "
            f"{where(row, 'rating')}: ratings must be numbers. Is --rating-col "
            "right?"
        )
    return y


def _read_parquet(path, specs):
    """Ratings from a Parquet file: its columns are named, their types known."""
    try:
        frame = pd.read_parquet(path)
    except ImportError as exc:
        raise ValueError(
            f"reading {path} needs a Parquet engine: pip install pyarrow ({exc})"
        ) from None
    except Exception as exc:  # pyarrow raises its own error types
        raise ValueError(f"cannot read {path} as Parquet: {exc}") from None
    names = [str(name) for name in frame.columns]
    if frame.shape[0] == 0:
        raise ValueError(f"{path} holds no rows: there are no ratings to read.")
    positions = _resolve_columns(specs, names, len(names), path)
    frame.columns = range(len(names))
    y = _check_values(frame, positions, names, path, header=0)
    X = frame[[positions["user"], positions["item"]]].to_numpy()
    described = ", ".join(
        f"{role}={names[positions[role]]!r}" for role in ("user", "item", "rating")
    )
    return _result(X, y, names, positions, f"{path} (Parquet; columns {described})")


def _result(X, y, names, positions, source):
    def name(role):
        j = positions[role]
        return names[j] if names else str(j)

    return Bunch(
        data=X,
        target=y,
        feature_names=[name("user"), name("item")],
        target_names=[name("rating")],
        DESCR=source,
    )


def read_ratings(
    path,
    *,
    sep=None,
    user_col=None,
    item_col=None,
    rating_col=None,
    header=None,
):
    """Read (user, item, rating) triplets from a delimited text or Parquet file.

    Parameters
    ----------
    path : str or path-like
        CSV, TSV or whitespace-separated file, optionally compressed (.gz,
        .bz2, .xz), or a Parquet file (.parquet, .pq; needs pyarrow). The
        separator and header options do not apply to Parquet.
    sep : str, default=None
        Column separator; None detects it (tab, comma, semicolon, pipe, "::",
        else runs of whitespace). "tab" and "whitespace" are accepted.
    user_col, item_col, rating_col : int, str or None, default=None
        0-based position or header name of each column. None recognises common
        header names (user, userId, movieId, rating, ...) and otherwise takes
        columns 0, 1 and 2.
    header : bool or None, default=None
        Whether the first line holds column names; None detects it.

    Returns
    -------
    ratings : :class:`~sklearn.utils.Bunch`
        ``data``, of shape (n_ratings, 2): the user and item ids as read;
        ``target``: the ratings as float64; ``feature_names`` and
        ``target_names``: the columns' names (their positions without a
        header); ``DESCR``: one line saying how the file was read.

    Raises
    ------
    FileNotFoundError
        When there is no file at ``path``.
    ValueError
        When the file cannot be read as ratings: the message names the file,
        the line and the option that fixes it.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a ratings file.")
    specs = {
        "user": _parse_column(user_col),
        "item": _parse_column(item_col),
        "rating": _parse_column(rating_col),
    }
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        return _read_parquet(path, specs)
    try:
        lines = _head(path, _SNIFF_LINES)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if not lines:
        raise ValueError(f"{path} is empty: there are no ratings to read.")

    sep = _SEPARATOR_ALIASES.get(sep, sep)
    if sep is None:
        sep = _detect_separator(lines)
        if sep is None:
            raise ValueError(
                f"cannot tell how the columns of {path} are separated; pass --sep."
            )
    rows = [_split(line, sep) for line in lines]
    if header is None:
        header = _detect_header(rows)
    if header and len(rows) == 1:
        raise ValueError(f"{path} has a header line but no ratings.")
    names = rows[0] if header else None
    positions = _resolve_columns(specs, names, len(rows[0]), path)

    # pandas' C parser takes one-character separators and whitespace; others
    # (MovieLens 1M's "::") need its slower Python parser.
    fast = len(sep) == 1 or sep == _WHITESPACE
    try:
        frame = pd.read_csv(
            path,
            sep=r"\s+" if sep == _WHITESPACE else sep,
            header=None,
            skiprows=1 if header else 0,
            usecols=sorted(positions.values()),
            skipinitialspace=True,
            encoding="utf-8",
            encoding_errors="replace",
            # Infer each column's type from all of it, not chunk by chunk.
            **({"engine": "c", "low_memory": False} if fast else {"engine": "python"}),
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ValueError(f"cannot parse {path}: {exc}".rstrip()) from None
    if frame.shape[0] == 0:
        raise ValueError(f"{path} has a header line but no ratings.")
    y = _check_values(frame, positions, names, path, int(header))
    X = frame[[positions["user"], positions["item"]]].to_numpy()

    described = ", ".join(
        f"{role}={positions[role]}"
        + (f" ({names[positions[role]]!r})" if names else "")
        for role in ("user", "item", "rating")
    )
    source = (
        f"{path} ({_SEPARATOR_NAMES.get(sep, repr(sep))}-separated, "
        f"{'header line' if header else 'no header'}; columns {described})"
    )
    return _result(X, y, names, positions, source)
