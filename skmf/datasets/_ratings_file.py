"""Reading (user, item, rating) triplets from a delimited text or Parquet file.

:func:`read_ratings` detects the separator, whether the first line names the
columns, and which columns hold the user, the item and the rating; every
problem is a :class:`ValueError` (or :class:`FileNotFoundError`) that names
the file, the line and the option that fixes it.
"""

import bz2
import codecs
import csv
import gzip
import io
import lzma
import stat
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
_PARQUET_SUFFIXES = (".parquet", ".pq")
_SNIFF_LINES = 50
# The longest line read, in bytes: a ratings line is a few dozen bytes, and an
# input without line ends (e.g. /dev/zero, a binary file) must be refused
# before it fills the memory, not after.
MAX_LINE_BYTES = 1 << 20
# How each compressed or binary format starts.
_MAGIC = {
    b"\x1f\x8b": gzip.GzipFile,
    b"BZh": bz2.BZ2File,
    b"\xfd7zXZ\x00": lzma.LZMAFile,
}
_PARQUET_MAGIC = b"PAR1"
_CHUNK = 1 << 16


class _Stream(io.RawIOBase):
    """The bytes of the input, read once; each chunk checked as it passes.

    ``head`` bytes already read (to sniff the format) are served first, then
    the rest of ``raw``: pipes, FIFOs and standard input cannot be reopened
    or rewound, so nothing may be read twice. A NUL byte (binary input) or a
    line longer than :data:`MAX_LINE_BYTES` raises ValueError.
    """

    def __init__(self, raw, name, head=b""):
        self._raw = raw
        self._name = name
        self._pending = head
        self._line = 0  # bytes since the last line end
        self._offset = 0

    def readable(self):
        return True

    def _check(self, chunk):
        if b"\x00" in chunk:
            at = self._offset + chunk.index(b"\x00")
            raise ValueError(
                f"{self._name} holds a NUL byte (at byte {at:,}): it is a binary "
                "file, not a text file of ratings. Is it the right file?"
            )
        # Chunks are far shorter than the bound: only the line running on from
        # the chunks before can be too long.
        first = chunk.find(b"\n")
        running = self._line + (first if first >= 0 else len(chunk))
        self._line = len(chunk) - chunk.rfind(b"\n") - 1 if first >= 0 else running
        if running > MAX_LINE_BYTES:
            raise ValueError(
                f"{self._name} has a line longer than {MAX_LINE_BYTES:,} bytes "
                f"(it starts before byte {self._offset + len(chunk):,}): it is "
                "not a file of ratings, one per line. Is it the right file?"
            )
        self._offset += len(chunk)

    def readinto(self, buffer):
        if self._pending:
            n = min(len(buffer), len(self._pending))
            chunk, self._pending = self._pending[:n], self._pending[n:]
        else:
            chunk = self._raw.read(min(len(buffer), _CHUNK))
            if not chunk:
                return 0
            self._check(chunk)
            n = len(chunk)
        buffer[:n] = chunk
        return n

    def head(self, n_lines):
        """Read until ``n_lines`` line ends (or the end); keep them to replay."""
        chunks = []
        n_ends = 0
        while n_ends < n_lines:
            chunk = self._raw.read(_CHUNK)
            if not chunk:
                break
            self._check(chunk)
            chunks.append(chunk)
            n_ends += chunk.count(b"\n")
        self._pending = b"".join(chunks) + self._pending
        return self._pending


def _read_exactly(raw, n):
    """Up to ``n`` bytes: a pipe may return fewer at a time."""
    data = b""
    while len(data) < n:
        chunk = raw.read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


class _Prefixed(io.RawIOBase):
    """``prefix`` then the rest of ``raw``, for a decompressor to read."""

    def __init__(self, prefix, raw):
        self._prefix = prefix
        self._raw = raw

    def readable(self):
        return True

    def readinto(self, buffer):
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n], self._prefix = self._prefix[:n], self._prefix[n:]
            return n
        chunk = self._raw.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _codec(encoding):
    """The codec's name; utf-8 reads (and drops) a byte order mark."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(
            f"unknown encoding {encoding!r}: give a Python codec name, e.g. "
            "'utf-8', 'latin-1' or 'cp1252'."
        ) from None
    return "utf-8-sig" if name == "utf-8" else name


def _decode_error(name, encoding, exc):
    return ValueError(
        f"{name} is not valid {encoding} text ({exc.reason}: bytes "
        f"{exc.object[exc.start : exc.start + 4]!r}). Ids are read as the "
        "file's exact text, never guessed: give the file's encoding with "
        "--encoding (encoding= in Python), e.g. latin-1 or cp1252."
    )


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


def _plural(n, word):
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _a(role):
    return {"item": "an item"}.get(role, f"a {role}")


def _resolve_columns(specs, names, n_columns, path):
    """Position of each role's column (the user, item and rating, or a subset).

    ``specs`` maps each role to a position, a name or None (recognise the
    header's name for the role, else use the role's default position). The
    command line's readers of id files use it for their own roles.
    """
    positions = {}
    for role, spec in specs.items():
        option = f"--{role}-col"
        if isinstance(spec, int):
            if spec >= n_columns:
                raise ValueError(
                    f"{option} {spec} is out of range: {path} has "
                    f"{_plural(n_columns, 'column')}, numbered from 0."
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
            default = _DEFAULT_POSITIONS.get(role, list(specs).index(role))
            positions[role] = known[0] if known else default
            if positions[role] >= n_columns:
                raise ValueError(
                    f"{path} has only {_plural(n_columns, 'column')}; it needs "
                    f"{' and '.join(_a(r) + ' column' for r in specs)}. Is the "
                    "separator right (--sep)?"
                )
    if len(set(positions.values())) < len(positions):
        described = ", ".join(f"{role}={j}" for role, j in positions.items())
        raise ValueError(
            f"the {', '.join(specs)} columns must differ; got {described}. "
            f"Choose them with {', '.join(f'--{r}-col' for r in specs)}."
        )
    return positions


_CANONICAL_INT = r"-?(?:0|[1-9][0-9]{0,17})"


def _ids(column):
    """A column of ids read as text, as ints only where that loses nothing.

    Ids are read as the file's text. A column whose every id is an integer
    written the canonical way (no sign but "-", no leading zero, at most 18
    digits) becomes int64, which round-trips to the same text; any other
    column keeps its text, so that "007" and "7", or "1.0" and "1", stay two
    ids.
    """
    text = column.astype(str)
    if text.str.fullmatch(_CANONICAL_INT).all():
        return text.astype(np.int64).to_numpy()
    return text.to_numpy(dtype=object)


def _shown(value, limit=40):
    """A value for a message: its repr, cut if long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} chars)"


def _check_values(frame, positions, names, path, header):
    """The ids as read and the ratings as float64; a clear error if missing."""

    def where(row, role):
        column = positions[role]
        label = f"column {column}" + (f" ({names[column]!r})" if names else "")
        return f"data row {row + 1} (line {row + 1 + header}), {label}"

    ids = []
    for role in ("user", "item"):
        column = frame[positions[role]]
        missing = column.isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise ValueError(
                f"{path}: {where(row, role)} has no {role} id (an empty field)."
            )
        ids.append(column)
    raw = frame[positions["rating"]]
    y = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(y)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        if pd.isna(raw.iloc[row]):
            raise ValueError(f"{path}: {where(row, 'rating')} has no rating.")
        raise ValueError(
            f"{path}: cannot read the rating {_shown(raw.iloc[row])} in "
            f"{where(row, 'rating')}: ratings must be numbers. Is --rating-col "
            "right?"
        )
    return ids, y


def _stack(users, items):
    """(n, 2) ids: of the columns' common dtype, else objects."""
    if users.dtype == items.dtype:
        return np.column_stack([users, items])
    X = np.empty((users.shape[0], 2), dtype=object)
    X[:, 0], X[:, 1] = users, items
    return X


def _parquet_columns(source, name, specs, what):
    """A Parquet file's frame (columns renumbered), its names and role positions.

    ``what`` names what the rows hold, for the error of an empty file. The
    command line's readers of id files use it too.
    """
    try:
        frame = pd.read_parquet(source)
    except ImportError as exc:
        raise ValueError(
            f"reading {name} needs a Parquet engine: pip install pyarrow ({exc})"
        ) from None
    except Exception as exc:  # pyarrow raises its own error types
        raise ValueError(f"cannot read {name} as Parquet: {exc}") from None
    names = [str(column) for column in frame.columns]
    if frame.shape[0] == 0:
        raise ValueError(f"{name} holds no rows: there are no {what} to read.")
    positions = _resolve_columns(specs, names, len(names), name)
    frame.columns = range(len(names))
    return frame, names, positions


def _read_parquet(source, name, specs):
    """Ratings from a Parquet file: its columns are named, their types known."""
    frame, names, positions = _parquet_columns(source, name, specs, "ratings")
    (users, items), y = _check_values(frame, positions, names, name, header=0)
    # Parquet columns are typed: their ids are kept as they are typed.
    X = _stack(users.to_numpy(), items.to_numpy())
    described = ", ".join(
        f"{role}={names[positions[role]]!r}" for role in ("user", "item", "rating")
    )
    return _result(X, y, names, positions, f"{name} (Parquet; columns {described})")


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


def _open(path):
    """(binary file, name, whether it is a regular file) for ``path``."""
    if hasattr(path, "read"):
        return path, getattr(path, "name", "<stream>"), False
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise ValueError(f"{path} is a directory, not a ratings file.")
    try:
        return open(path, "rb"), str(path), stat.S_ISREG(mode)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None


def read_ratings(
    path,
    *,
    sep=None,
    user_col=None,
    item_col=None,
    rating_col=None,
    header=None,
    encoding="utf-8",
):
    """Read (user, item, rating) triplets from a delimited text or Parquet file.

    The file is read once, from its start to its end, so that a pipe, a FIFO
    or standard input gives every one of its ratings. Ids are the file's text:
    the ids of a column become integers only when every one of them is an
    integer written plainly (so that "007" and "7" remain two ids), and
    ``NA``, ``null`` or ``nan`` are ids like any other. Only an empty field is
    missing, and a missing id or rating is an error naming its line.

    Parameters
    ----------
    path : str, path-like or binary file
        CSV, TSV or whitespace-separated text, optionally compressed (gzip,
        bzip2 or xz, recognised by their content), or Parquet (needs
        pyarrow). A binary file object (e.g. ``sys.stdin.buffer``) is read
        from its current position. The separator, header and encoding
        options do not apply to Parquet.
    sep : str, default=None
        Column separator; None detects it (tab, comma, semicolon, pipe, "::",
        else runs of whitespace). "tab" and "whitespace" are accepted.
    user_col, item_col, rating_col : int, str or None, default=None
        0-based position or header name of each column. None recognises common
        header names (user, userId, movieId, rating, ...) and otherwise takes
        columns 0, 1 and 2.
    header : bool or None, default=None
        Whether the first line holds column names; None detects it.
    encoding : str, default="utf-8"
        The text's encoding. Bytes that are not valid in it are an error,
        never replaced: two ids differing in such bytes must not become one.

    Returns
    -------
    ratings : :class:`~sklearn.utils.Bunch`
        ``data``, of shape (n_ratings, 2): the user and item ids;
        ``target``: the ratings as float64; ``feature_names`` and
        ``target_names``: the columns' names (their positions without a
        header); ``DESCR``: one line saying how the file was read.

    Raises
    ------
    FileNotFoundError
        When there is no file at ``path``.
    ValueError
        When the input cannot be read as ratings: the message names the file,
        the line and the option that fixes it. Binary input and lines longer
        than a megabyte are refused as soon as they are met.

    Examples
    --------
    >>> import os, tempfile
    >>> from skmf.datasets import read_ratings
    >>> path = os.path.join(tempfile.mkdtemp(), "ratings.csv")
    >>> with open(path, "w") as file:
    ...     _ = file.write("userId,movieId,rating\\nann,NA,4.5\\nbob,007,3\\n")
    >>> ratings = read_ratings(path)
    >>> ratings.data.tolist()
    [['ann', 'NA'], ['bob', '007']]
    >>> ratings.target.tolist()
    [4.5, 3.0]
    >>> ratings.feature_names, ratings.target_names
    (['userId', 'movieId'], ['rating'])
    """
    specs = {
        "user": _parse_column(user_col),
        "item": _parse_column(item_col),
        "rating": _parse_column(rating_col),
    }
    codec = _codec(encoding)
    raw, name, regular = _open(path)
    try:
        return _read(raw, name, regular, specs, sep, header, codec)
    finally:
        if raw is not path:
            raw.close()


def _sniff(raw, name, codec):
    """Read the start of an input once: Parquet, or a text stream and its lines.

    Returns ``(parquet, stream, lines)``. For a Parquet input ``parquet`` is
    an in-memory file of it (Parquet keeps its index at the end, so it needs
    the whole file) and the others are None. Otherwise ``parquet`` is None,
    ``stream`` replays the bytes read so far (compression undone) and
    ``lines`` are its first non-blank lines, decoded strictly. The command
    line's readers of id files share it.
    """
    try:
        magic = _read_exactly(raw, 6)
    except OSError as exc:
        raise ValueError(f"cannot read {name}: {exc}") from None
    if magic.startswith(_PARQUET_MAGIC) or (
        not magic and Path(name).suffix.lower() in _PARQUET_SUFFIXES
    ):
        return io.BytesIO(magic + raw.read()), None, None
    source = _Prefixed(magic, raw)
    for start, opener in _MAGIC.items():
        if magic.startswith(start):
            source = opener(fileobj=io.BufferedReader(source))
            break
    stream = _Stream(source, name)
    try:
        head = stream.head(_SNIFF_LINES)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise ValueError(f"cannot read {name}: {exc}") from None
    complete = len(head) == 0 or head.endswith(b"\n") or head.count(b"\n") == 0
    try:
        text = head.decode(codec)
    except UnicodeDecodeError as exc:
        if not complete and exc.end >= len(head) - 4:
            # A character cut at the end of the head: decode up to it.
            text = head[: exc.start].decode(codec)
        else:
            raise _decode_error(name, codec, exc) from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not complete and lines:
        lines = lines[:-1]  # the last one may be cut
    return None, stream, lines[:_SNIFF_LINES]


def _read(raw, name, regular, specs, sep, header, codec):
    parquet, stream, lines = _sniff(raw, name, codec)
    if parquet is not None:
        return _read_parquet(parquet, name, specs)
    if not lines:
        raise ValueError(f"{name} is empty: there are no ratings to read.")

    sep = _SEPARATOR_ALIASES.get(sep, sep)
    if sep is None:
        sep = _detect_separator(lines)
        if sep is None:
            raise ValueError(
                f"cannot tell how the columns of {name} are separated; pass --sep."
            )
    rows = [_split(line, sep) for line in lines]
    if header is None:
        header = _detect_header(rows)
    if header and len(rows) == 1:
        raise ValueError(f"{name} has a header line but no ratings.")
    names = rows[0] if header else None
    positions = _resolve_columns(specs, names, len(rows[0]), name)

    text_stream = io.TextIOWrapper(
        io.BufferedReader(stream), encoding=codec, errors="strict", newline=""
    )
    # pandas' C parser takes one-character separators and whitespace; others
    # (MovieLens 1M's "::") need its slower Python parser.
    fast = len(sep) == 1 or sep == _WHITESPACE
    used = sorted(positions.values())
    try:
        frame = pd.read_csv(
            text_stream,
            sep=r"\s+" if sep == _WHITESPACE else sep,
            header=None,
            skiprows=1 if header else 0,
            usecols=used,
            # Ids are text: only an empty field is missing ("NA", "null" and
            # "nan" are ids), and no id goes through a number.
            dtype={positions["user"]: str, positions["item"]: str},
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
            **({"engine": "c", "low_memory": False} if fast else {"engine": "python"}),
        )
    except UnicodeDecodeError as exc:
        raise _decode_error(name, codec, exc) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"cannot parse {name}: {exc}".rstrip()) from None
    except ValueError as exc:
        if str(exc).startswith(name):  # a check of _Stream, as it is
            raise
        raise ValueError(f"cannot parse {name}: {exc}".rstrip()) from None
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise ValueError(f"cannot read {name}: {exc}") from None
    if frame.shape[0] == 0:
        raise ValueError(f"{name} has a header line but no ratings.")
    (users, items), y = _check_values(frame, positions, names, name, int(header))
    X = _stack(_ids(users), _ids(items))

    described = ", ".join(
        f"{role}={positions[role]}"
        + (f" ({names[positions[role]]!r})" if names else "")
        for role in ("user", "item", "rating")
    )
    source = (
        f"{name} ({_SEPARATOR_NAMES.get(sep, repr(sep))}-separated, "
        f"{'header line' if header else 'no header'}; columns {described})"
    )
    return _result(X, y, names, positions, source)
