"""The ``skmf`` command (also ``python -m skmf``).

``skmf evaluate [PATH]`` cross-validates a biases-only baseline,
:class:`~skmf.MatrixFactorization` with both solvers and
:class:`~skmf.BayesianMatrixFactorization`, on a ratings file or, with
no PATH, on a generated data set, and prints RMSE, MAE and fit time (the
default command: ``skmf [PATH]`` does the same). ``skmf fit`` trains one model
and saves it with joblib, ``skmf recommend`` prints top-N items for users from
a saved model, and ``skmf tune`` grid-searches the number of factors, the
regularization and the learning rate.

Commands live in ``_COMMANDS``: each adds its own sub-parser and sets the
function that runs it. A command line that does not start with a command name
runs ``evaluate``. The argument groups for reading ratings and for the model
are shared helpers, so that every command reads data and configures models the
same way.

Exit codes: 0 on success, 2 for bad arguments or unreadable input (nothing was
computed), 1 when the computation itself failed (e.g. a diverging fit).
"""

import argparse
import bz2
import csv
import gzip
import lzma
import math
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from . import __version__
from ._bayes import BayesianMatrixFactorization
from ._mf import MatrixFactorization
from .datasets import make_ratings

# The data set evaluated when no file is given: large enough for the factor
# models to pull clearly ahead of the baseline, small enough for a run of a
# few seconds.
DEFAULT_DATA = {
    "n_users": 800,
    "n_items": 400,
    "n_ratings": 40_000,
    "random_state": 0,
}
DEFAULT_COMMAND = "evaluate"

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


class UsageError(Exception):
    """A problem with the user's input: printed on stderr, exit code 2."""


@dataclass
class Ratings:
    """Ratings ready for an estimator, with a description for the report."""

    X: np.ndarray
    y: np.ndarray
    source: str


# ---------------------------------------------------------------------------
# Reading a ratings file


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
                raise UsageError(
                    f"{option} {spec} is out of range: {path} has {n_columns} "
                    f"columns, numbered 0 to {n_columns - 1}."
                )
            positions[role] = spec
        elif isinstance(spec, str):
            if names is None:
                raise UsageError(
                    f"{option} {spec!r} is a column name, but the first line of "
                    f"{path} holds no column names: give the column's 0-based "
                    "position, or pass --header if the first line does name the "
                    "columns."
                )
            matches = [j for j, name in enumerate(names) if name == spec] or [
                j for j, name in enumerate(names) if name.lower() == spec.lower()
            ]
            if not matches:
                raise UsageError(
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
                raise UsageError(
                    f"{path} has only {n_columns} column(s); ratings need a user, "
                    "an item and a rating column. Is the separator right (--sep)?"
                )
    if len(set(positions.values())) < 3:
        described = ", ".join(f"{role}={j}" for role, j in positions.items())
        raise UsageError(
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
            raise UsageError(f"{path}: {where(row, role)} has no {role} id.")
    raw = frame[positions["rating"]]
    y = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(y)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        if pd.isna(raw.iloc[row]):
            raise UsageError(f"{path}: {where(row, 'rating')} has no rating.")
        raise UsageError(
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
        raise UsageError(
            f"reading {path} needs a Parquet engine: pip install pyarrow ({exc})"
        ) from None
    except Exception as exc:  # pyarrow raises its own error types
        raise UsageError(f"cannot read {path} as Parquet: {exc}") from None
    names = [str(name) for name in frame.columns]
    if frame.shape[0] == 0:
        raise UsageError(f"{path} holds no rows: there are no ratings to read.")
    positions = _resolve_columns(specs, names, len(names), path)
    frame.columns = range(len(names))
    y = _check_values(frame, positions, names, path, header=0)
    X = frame[[positions["user"], positions["item"]]].to_numpy()
    described = ", ".join(
        f"{role}={names[positions[role]]!r}" for role in ("user", "item", "rating")
    )
    return Ratings(X=X, y=y, source=f"{path} (Parquet; columns {described})")


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
    ratings : Ratings
        ``X`` of shape (n_ratings, 2) with the ids as read, ``y`` as float64
        and a one-line description.
    """
    path = Path(path)
    if not path.exists():
        hint = ""
        if not path.suffix and len(path.parts) == 1:
            hint = f" (or an unknown command; the commands are: {', '.join(_COMMANDS)})"
        raise UsageError(f"no such file: {path}{hint}")
    if path.is_dir():
        raise UsageError(f"{path} is a directory, not a ratings file.")
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
        raise UsageError(f"cannot read {path}: {exc}") from None
    if not lines:
        raise UsageError(f"{path} is empty: there are no ratings to read.")

    sep = _SEPARATOR_ALIASES.get(sep, sep)
    if sep is None:
        sep = _detect_separator(lines)
        if sep is None:
            raise UsageError(
                f"cannot tell how the columns of {path} are separated; pass --sep."
            )
    rows = [_split(line, sep) for line in lines]
    if header is None:
        header = _detect_header(rows)
    if header and len(rows) == 1:
        raise UsageError(f"{path} has a header line but no ratings.")
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
        raise UsageError(f"cannot parse {path}: {exc}".rstrip()) from None
    if frame.shape[0] == 0:
        raise UsageError(f"{path} has a header line but no ratings.")
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
    return Ratings(X=X, y=y, source=source)


# ---------------------------------------------------------------------------
# Arguments shared between commands


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _positive_int(text):
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _n_folds(text):
    value = _int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 folds, got {value}")
    return value


def _nonzero_int(text):
    value = _int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 threads has no meaning; use -1 or n >= 1")
    return value


def _add_data_arguments(parser):
    parser.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="ratings file: CSV, TSV or whitespace-separated, one rating per line, "
        "optionally .gz/.bz2/.xz, or Parquet (.parquet, .pq; of the reading "
        "options only the --*-col ones apply). Without it, a generated data set "
        "is used: "
        + ", ".join(f"{k}={v}" for k, v in DEFAULT_DATA.items())
        + " (see skmf.datasets.make_ratings).",
    )
    group = parser.add_argument_group("reading the file")
    group.add_argument(
        "--sep",
        help="column separator, e.g. ',', 'tab', '::' or 'whitespace' "
        "(default: detected)",
    )
    for role, default in _DEFAULT_POSITIONS.items():
        group.add_argument(
            f"--{role}-col",
            metavar="COL",
            help=f"{role} column: header name or 0-based position (default: a "
            f"header named like '{role}', else column {default})",
        )
    header = group.add_mutually_exclusive_group()
    header.add_argument(
        "--header",
        dest="header",
        action="store_true",
        default=None,
        help="the first line names the columns (default: detected)",
    )
    header.add_argument(
        "--no-header",
        dest="header",
        action="store_false",
        help="the first line is a rating, e.g. MovieLens u.data",
    )


def _add_model_arguments(parser, *, n_components=True):
    """The "model" group; returns it, for commands to add their own options."""
    group = parser.add_argument_group(
        "model", "Parameters of MatrixFactorization; omitted ones keep its defaults."
    )
    if n_components:
        group.add_argument(
            "--n-components", type=_positive_int, metavar="K", help="factor length"
        )
    group.add_argument(
        "--max-iter",
        type=_positive_int,
        metavar="N",
        help="epochs (SGD) or sweeps (ALS)",
    )
    group.add_argument(
        "--n-jobs",
        type=_nonzero_int,
        metavar="N",
        help="threads of the compiled kernels (default: all cores)",
    )
    group.add_argument(
        "--seed",
        type=_int,
        default=0,
        help="random_state of the models and of the folds (default: 0)",
    )
    return group


def _load_ratings(args):
    if args.path is None:
        X, y = make_ratings(**DEFAULT_DATA)
        params = ", ".join(f"{k}={v}" for k, v in DEFAULT_DATA.items())
        return Ratings(X=X, y=y, source=f"generated: make_ratings({params})")
    return read_ratings(
        args.path,
        sep=args.sep,
        user_col=args.user_col,
        item_col=args.item_col,
        rating_col=args.rating_col,
        header=args.header,
    )


def _print_data(ratings):
    X, y = ratings.X, ratings.y
    n_users, n_items = len(pd.unique(X[:, 0])), len(pd.unique(X[:, 1]))
    print(f"data: {ratings.source}")
    print(
        f"      {y.shape[0]:,} ratings, {n_users:,} users, {n_items:,} items, "
        f"ratings {y.min():g} to {y.max():g}"
    )


def _model_params(args):
    params = {"random_state": args.seed}
    for name in ("n_components", "max_iter", "n_jobs"):
        value = getattr(args, name, None)
        if value is not None:
            params[name] = value
    return params


# ---------------------------------------------------------------------------
# evaluate


def baseline_model(**params):
    """Global mean plus regularized user and item biases, without factors.

    ALS from all-zero factors: with the item factors zero, a user's normal
    equations decouple into zero for the factors and the regularized least
    squares bias, and likewise for the items, so the factors stay exactly zero
    and each sweep solves the biases of the same objective, with the same
    ``alpha``, as the factor models.
    """
    params = {k: v for k, v in params.items() if k != "n_components"}
    return MatrixFactorization(n_components=1, solver="als", init_std=0.0, **params)


def _evaluate_models(args):
    params = _model_params(args)
    # The Bayesian model keeps its own rank and sweep counts: --n-components
    # and --max-iter size the least-squares models.
    shared = {k: params[k] for k in ("random_state", "n_jobs") if k in params}
    return {
        "baseline": baseline_model(**params),
        "sgd": MatrixFactorization(solver="sgd", **params),
        "als": MatrixFactorization(solver="als", **params),
        "bayes": BayesianMatrixFactorization(**shared),
    }


def _describe(model):
    """The estimator with its non-default parameters, on one line."""
    defaults = type(model)().get_params()
    changed = ", ".join(
        f"{name}={value!r}"
        for name, value in model.get_params().items()
        if value != defaults[name]
    )
    return f"{type(model).__name__}({changed})"


def _columns(header, rows, right=()):
    """A plain-text table: columns padded to their widest cell.

    Columns whose positions are in ``right`` are right-aligned (numbers).
    """
    rows = [header, *rows]
    widths = [max(len(row[j]) for row in rows) for j in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if j in right else cell.ljust(width)
            for j, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )


def _mean_std(mean, std):
    return f"{mean:.4f} ± {std:.4f}"


def _format_table(results):
    rows = []
    for name, scores in results.items():
        if isinstance(scores, Exception):
            rows.append((name, "failed", "", ""))
            continue
        rmse, mae = -scores["test_rmse"], -scores["test_mae"]
        rows.append(
            (
                name,
                _mean_std(rmse.mean(), rmse.std()),
                _mean_std(mae.mean(), mae.std()),
                f"{scores['fit_time'].mean():.2f} s",
            )
        )
    return _columns(("model", "RMSE", "MAE", "fit time"), rows)


def run_evaluate(args):
    """Cross-validate the baseline, both solvers and the Bayesian model."""
    start = time.perf_counter()
    ratings = _load_ratings(args)
    X, y = ratings.X, ratings.y
    n_ratings = y.shape[0]
    if n_ratings < args.folds:
        raise UsageError(
            f"{args.folds}-fold cross-validation needs at least {args.folds} "
            f"ratings; the data has {n_ratings}."
        )
    _print_data(ratings)
    models = _evaluate_models(args)
    print("models (parameters not at their defaults):")
    for name, model in models.items():
        print(f"      {name:<8}  {_describe(model)}")
        if name == "baseline":
            print(
                f"      {'':<8}  = global mean + user and item biases; factors stay 0"
            )
    print(
        f"{args.folds}-fold cross-validation (KFold, shuffle=True, "
        f"random_state={args.seed}); mean ± std over folds, fit time per fold"
    )
    print()
    cv = KFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    scoring = {"rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error"}
    results = {}
    for name, model in models.items():
        try:
            results[name] = cross_validate(
                model, X, y, cv=cv, scoring=scoring, error_score="raise"
            )
        except (ValueError, ArithmeticError) as exc:  # e.g. divergence
            results[name] = exc
    print(_format_table(results))
    failed = {name: exc for name, exc in results.items() if isinstance(exc, Exception)}
    for name, exc in failed.items():
        print(f"skmf evaluate: {name} failed: {exc}", file=sys.stderr)
    print()
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 1 if failed else 0


def _add_evaluate(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="cross-validate a biases-only baseline, both solvers and the "
        "Bayesian model (default)",
        description="K-fold cross-validation of a biases-only baseline, of\n"
        "MatrixFactorization with solver='sgd' and solver='als', and of\n"
        "BayesianMatrixFactorization (with its own defaults: --n-components\n"
        "and --max-iter apply to the others), on a ratings file or on a\n"
        "generated data set. Prints RMSE and MAE (mean ± std over the folds)\n"
        "and the mean fit time per fold.",
        epilog="examples:\n"
        "  skmf                                  # generated data\n"
        "  skmf evaluate ml-100k/u.data          # tab-separated, no header\n"
        "  skmf ratings.csv --user-col userId --item-col movieId --rating-col rating"
        "\n  skmf ratings.csv --folds 3 --n-components 50 --max-iter 20",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_data_arguments(parser)
    group = parser.add_argument_group("cross-validation")
    group.add_argument(
        "--folds",
        type=_n_folds,
        default=5,
        metavar="K",
        help="number of folds (default: 5)",
    )
    _add_model_arguments(parser)
    parser.set_defaults(run=run_evaluate)


# ---------------------------------------------------------------------------
# Saved models


def save_model(model, path):
    """Write ``model`` to ``path`` with joblib, atomically.

    The model is dumped to a temporary file beside ``path`` and renamed over
    it, so that an interrupted save never leaves a truncated model behind.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"cannot save the model to {path}: no folder {folder}.")
    if path.is_dir():
        raise UsageError(f"cannot save the model to {path}: it is a directory.")
    descriptor, temporary = tempfile.mkstemp(
        dir=folder, prefix=f".{path.name}.", suffix=".part"
    )
    os.close(descriptor)
    try:
        joblib.dump(model, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_model(path):
    """A model saved by ``skmf fit`` (or any joblib/pickle file of one)."""
    path = Path(path)
    if not path.is_file():
        what = "a directory" if path.is_dir() else "no such file"
        raise UsageError(f"cannot load a model from {path}: {what}.")
    try:
        model = joblib.load(path)
    except Exception as exc:  # unpickling raises anything the file leads to
        raise UsageError(f"cannot load a model from {path}: {exc}") from None
    if not hasattr(model, "users_") or not hasattr(model, "items_"):
        raise UsageError(
            f"{path} does not hold a fitted skmf model (it holds a "
            f"{type(model).__name__}); make one with 'skmf fit'."
        )
    return model


def _rmse(model, X, y):
    return math.sqrt(float(np.mean((model.predict(X) - y) ** 2)))


# ---------------------------------------------------------------------------
# fit


def _float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _positive_float(text):
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _nonnegative_float(text):
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def run_fit(args):
    """Fit one model on the ratings and save it."""
    start = time.perf_counter()
    ratings = _load_ratings(args)
    _print_data(ratings)
    params = _model_params(args)
    params["solver"] = args.solver
    for name in ("alpha", "learning_rate"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    if args.early_stopping:
        params["early_stopping"] = True
    if args.verbose:
        params["verbose"] = 1
    model = MatrixFactorization(**params)
    print(f"model: {_describe(model)}")
    fit_start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            model.fit(ratings.X, ratings.y)
        except ValueError as exc:
            print(f"skmf fit: the fit failed: {exc}", file=sys.stderr)
            return 1
    fit_time = time.perf_counter() - fit_start
    for warning in caught:
        print(f"skmf fit: warning: {warning.message}", file=sys.stderr)
    print(
        f"fitted in {fit_time:.2f} s ({model.n_iter_} iterations); training RMSE "
        f"{_rmse(model, ratings.X, ratings.y):.4f}"
        + (
            f", best validation RMSE {-model.best_validation_score_:.4f}"
            if model.best_validation_score_ is not None
            else ""
        )
    )
    save_model(model, args.output)
    print(f"saved to {args.output}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def _add_fit(subparsers):
    parser = subparsers.add_parser(
        "fit",
        help="fit a model on a ratings file and save it",
        description="Fit MatrixFactorization on a ratings file (or, without one,\n"
        "on a generated data set) and save the fitted model with joblib. Load it\n"
        "in Python with joblib.load(path), or use it with 'skmf recommend'.",
        epilog="examples:\n"
        "  skmf fit ml-100k/u.data -o model.joblib\n"
        "  skmf fit ratings.csv --user-col userId --item-col movieId -o m.joblib \\\n"
        "      --solver als --n-components 50 --alpha 0.05 --verbose\n"
        "  skmf fit ratings.parquet -o m.joblib --early-stopping",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_data_arguments(parser)
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="MODEL",
        help="file to save the fitted model to (replaced if it exists)",
    )
    group = _add_model_arguments(parser)
    group.add_argument(
        "--solver", choices=("sgd", "als"), default="sgd", help="(default: sgd)"
    )
    group.add_argument(
        "--alpha", type=_nonnegative_float, metavar="λ", help="regularization"
    )
    group.add_argument(
        "--learning-rate",
        type=_positive_float,
        metavar="η",
        help="initial SGD step size (SGD only)",
    )
    group.add_argument(
        "--early-stopping",
        action="store_true",
        help="hold out 10%% of the ratings and keep the best epoch",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print the loss, time and ETA of every epoch",
    )
    parser.set_defaults(run=run_fit)


# ---------------------------------------------------------------------------
# recommend


def _match_ids(texts, known):
    """Ids typed on the command line, as the model's ids where they match.

    An id matches a fitted id whose text is the same ("42" is the int 42 of a
    model fitted on ints); an id that matches none is passed on as typed, and
    the model ranks for it as for any unknown user.
    """
    by_text = {str(value): value for value in known.tolist()}
    ids = [by_text.get(text, text) for text in texts]
    unknown = [text for text in texts if text not in by_text]
    return np.array(ids, dtype=object), unknown


def run_recommend(args):
    """Print the top-N items for each user from a saved model."""
    model = load_model(args.model)
    if not hasattr(model, "recommend"):
        raise UsageError(
            f"the model in {args.model} has no recommend method: it was saved by "
            "a version of skmf without it. Fit it again with 'skmf fit'."
        )
    users, unknown = _match_ids(args.users, model.users_)
    items, scores = model.recommend(users, n=args.n, exclude_seen=not args.include_seen)
    header = ("user", "rank", "item", "score")
    rows = [
        (str(user), str(rank), str(item), f"{score:.4f}")
        for user, user_items, user_scores in zip(args.users, items, scores, strict=True)
        for rank, (item, score) in enumerate(
            zip(user_items, user_scores, strict=True), 1
        )
        if np.isfinite(score)
    ]
    if args.tsv:
        print("\t".join(header))
        print("\n".join("\t".join(row) for row in rows))
    else:
        print(_columns(header, rows, right=(1, 3)))
    for user in unknown:
        print(
            f"skmf recommend: user {user!r} was not in the training data: these "
            "are the recommendations for an unknown user.",
            file=sys.stderr,
        )
    return 0


def _add_recommend(subparsers):
    parser = subparsers.add_parser(
        "recommend",
        help="top-N items for users from a saved model",
        description="Print the N best-scoring items for each user, from a model\n"
        "saved by 'skmf fit': by default only items the user had not rated.\n"
        "A user unknown to the model gets the model's ranking for unknown users\n"
        "(for MatrixFactorization: the items with the highest bias).",
        epilog="examples:\n"
        "  skmf recommend model.joblib 196 186 -n 5\n"
        "  skmf recommend model.joblib 196 --tsv > top10.tsv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model saved by 'skmf fit'")
    parser.add_argument("users", metavar="USER", nargs="+", help="user ids")
    parser.add_argument(
        "-n",
        type=_positive_int,
        default=10,
        metavar="N",
        help="items per user (default: 10)",
    )
    parser.add_argument(
        "--include-seen",
        action="store_true",
        help="also recommend items the user rated in the training data",
    )
    parser.add_argument(
        "--tsv",
        action="store_true",
        help="tab-separated output with a header line, for scripts",
    )
    parser.set_defaults(run=run_recommend)


# ---------------------------------------------------------------------------
# tune

# Grid searched when a parameter's values are not given.
DEFAULT_GRID = {
    "n_components": [10, 50, 100],
    "alpha": [0.01, 0.05, 0.1],
    "learning_rate": [0.005, 0.01, 0.02],
}


def _list_of(convert):
    def parse(text):
        values = [convert(part) for part in text.split(",") if part.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"no values in {text!r}")
        return sorted(set(values))

    parse.__name__ = f"list of {convert.__name__}"
    return parse


def _grid_table(search, grid):
    """The grid's rows, best first: parameters, RMSE and MAE, fit time."""
    results = search.cv_results_
    names = list(grid)
    header = ("rank", *names, "RMSE", "MAE", "fit time")
    order = np.argsort(-np.nan_to_num(results["mean_test_rmse"], nan=-np.inf))
    rows = []
    for j in order:
        params = [f"{results['params'][j][name]:g}" for name in names]
        rmse = -results["mean_test_rmse"][j]
        if not np.isfinite(rmse):
            rows.append(("-", *params, "failed", "", ""))
            continue
        rows.append(
            (
                str(results["rank_test_rmse"][j]),
                *params,
                _mean_std(rmse, results["std_test_rmse"][j]),
                _mean_std(-results["mean_test_mae"][j], results["std_test_mae"][j]),
                f"{results['mean_fit_time'][j]:.2f} s",
            )
        )
    return _columns(header, rows)


def _error_line(error):
    """The last exception line in a message holding tracebacks (or all of it)."""
    lines = [
        line
        for line in str(error).splitlines()
        if line.split(":")[0].endswith(("Error", "Exception"))
    ]
    return lines[-1] if lines else str(error)


def run_tune(args):
    """Grid search with K-fold cross-validation; print the table."""
    start = time.perf_counter()
    ratings = _load_ratings(args)
    n_ratings = ratings.y.shape[0]
    if n_ratings < args.folds:
        raise UsageError(
            f"{args.folds}-fold cross-validation needs at least {args.folds} "
            f"ratings; the data has {n_ratings}."
        )
    grid = {
        "n_components": args.n_components_grid or DEFAULT_GRID["n_components"],
        "alpha": args.alpha_grid or DEFAULT_GRID["alpha"],
    }
    if args.solver == "sgd":
        grid["learning_rate"] = args.learning_rate_grid or DEFAULT_GRID["learning_rate"]
    elif args.learning_rate_grid:
        raise UsageError("--learning-rate is for --solver sgd; ALS has no step size.")
    if args.solver == "als" and 0 in grid["alpha"]:
        raise UsageError("--solver als needs every --alpha above 0.")
    model = MatrixFactorization(solver=args.solver, **_model_params(args))
    _print_data(ratings)
    n_fits = math.prod(len(values) for values in grid.values()) * args.folds
    print(f"model: {_describe(model)}")
    print(
        "grid: "
        + "; ".join(
            f"{name} {', '.join(f'{v:g}' for v in values)}"
            for name, values in grid.items()
        )
    )
    print(
        f"{args.folds}-fold cross-validation (KFold, shuffle=True, "
        f"random_state={args.seed}), {n_fits} fits; mean ± std over folds"
    )
    print()
    search = GridSearchCV(
        model,
        grid,
        scoring={
            "rmse": "neg_root_mean_squared_error",
            "mae": "neg_mean_absolute_error",
        },
        refit="rmse" if args.output else False,
        cv=KFold(n_splits=args.folds, shuffle=True, random_state=args.seed),
        error_score=np.nan,
    )
    with warnings.catch_warnings(record=True) as caught:
        # Failed fits (e.g. diverging SGD) are reported in the table.
        warnings.simplefilter("always", FitFailedWarning)
        warnings.filterwarnings("ignore", "One or more of the test scores")
        try:
            search.fit(ratings.X, ratings.y)
        except ValueError as exc:  # every fit failed, or the refit did
            print(f"skmf tune: the fits failed: {_error_line(exc)}", file=sys.stderr)
            return 1
    print(_grid_table(search, grid))
    print()
    failures = [w for w in caught if issubclass(w.category, FitFailedWarning)]
    if failures:
        print(f"failed: the fit raised {_error_line(failures[0].message)}")
    scores = search.cv_results_["mean_test_rmse"]
    best = search.cv_results_["params"][int(np.nanargmax(scores))]
    print(
        "best: "
        + ", ".join(f"{name}={best[name]:g}" for name in grid)
        + f" (RMSE {-np.nanmax(scores):.4f})"
    )
    if args.output:
        save_model(search.best_estimator_, args.output)
        print(f"saved the best model, refitted on all the ratings, to {args.output}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def _add_tune(subparsers):
    parser = subparsers.add_parser(
        "tune",
        help="grid search over K, λ and the learning rate",
        description="Grid search of MatrixFactorization's number of factors K,\n"
        "regularization λ (alpha) and, for SGD, learning rate, with K-fold\n"
        "cross-validation. Prints RMSE and MAE (mean ± std over the folds) for\n"
        "every combination, best first. Values are comma-separated lists; the\n"
        "defaults are "
        + "; ".join(
            f"{name} {','.join(map(str, values))}"
            for name, values in DEFAULT_GRID.items()
        )
        + ".",
        epilog="examples:\n"
        "  skmf tune ml-100k/u.data\n"
        "  skmf tune ratings.csv --n-components 20,50 --alpha 0.02,0.05,0.1 \\\n"
        "      --learning-rate 0.01 --folds 3 -o best.joblib\n"
        "  skmf tune ratings.csv --solver als --alpha 0.05,0.1,0.2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_data_arguments(parser)
    group = parser.add_argument_group("grid")
    group.add_argument(
        "--n-components",
        dest="n_components_grid",
        type=_list_of(_positive_int),
        metavar="K,K,...",
        help="factor lengths",
    )
    group.add_argument(
        "--alpha",
        dest="alpha_grid",
        type=_list_of(_nonnegative_float),
        metavar="λ,λ,...",
        help="regularization strengths",
    )
    group.add_argument(
        "--learning-rate",
        dest="learning_rate_grid",
        type=_list_of(_positive_float),
        metavar="η,η,...",
        help="SGD step sizes (SGD only)",
    )
    group.add_argument(
        "--folds",
        type=_n_folds,
        default=3,
        metavar="K",
        help="number of cross-validation folds (default: 3)",
    )
    group.add_argument(
        "-o",
        "--output",
        metavar="MODEL",
        help="refit the best combination on all the ratings and save it here",
    )
    model = _add_model_arguments(parser, n_components=False)
    model.add_argument(
        "--solver", choices=("sgd", "als"), default="sgd", help="(default: sgd)"
    )
    parser.set_defaults(run=run_tune)


# Each command: name -> function adding its sub-parser (which sets `run`).
_COMMANDS = {
    "evaluate": _add_evaluate,
    "fit": _add_fit,
    "recommend": _add_recommend,
    "tune": _add_tune,
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skmf",
        description="Matrix factorization of ratings from the command line.",
        epilog=f"Without a command, skmf runs '{DEFAULT_COMMAND}': 'skmf' "
        f"evaluates on a generated data set and 'skmf PATH' on a ratings file. "
        "'skmf COMMAND --help' describes a command.",
    )
    parser.add_argument("--version", action="version", version=f"skmf {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in _COMMANDS.values():
        add_command(subparsers)
    return parser


def main(argv=None):
    """Run the ``skmf`` command; return the exit code.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    code : int
        0 on success, 2 for bad arguments or unreadable data.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in (*_COMMANDS, "-h", "--help", "--version"):
        argv = [DEFAULT_COMMAND, *argv]
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"skmf {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
