"""What the commands share: argument types and groups, the data, tables, CV.

Every command reads ratings and configures models through the helpers here,
so that all of them read data, name models and report errors the same way.
:func:`cross_validate_models` is the one cross-validation loop: ``evaluate``
runs it over its models, ``tune`` over the grid's candidates.
"""

import argparse
import contextlib
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold

from ..datasets import make_ratings, read_ratings

# The data set used when no file is given: large enough for the factor
# models to pull clearly ahead of the baseline, small enough for a run of a
# few seconds.
DEFAULT_DATA = {
    "n_users": 800,
    "n_items": 400,
    "n_ratings": 40_000,
    "random_state": 0,
}
_DEFAULT_POSITIONS = {"user": 0, "item": 1, "rating": 2}


class UsageError(Exception):
    """A problem with the user's input: printed on stderr, exit code 2."""


@dataclass
class Ratings:
    """Ratings ready for an estimator, with a description for the report."""

    X: np.ndarray
    y: np.ndarray
    source: str


# ---------------------------------------------------------------------------
# Argument types


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def positive_int(text):
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def n_folds(text):
    value = _int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 folds, got {value}")
    return value


def nonzero_int(text):
    value = _int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 threads has no meaning; use -1 or n >= 1")
    return value


def _float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def positive_float(text):
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def nonnegative_float(text):
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def list_of(convert):
    """Comma-separated values, each converted; sorted, without repeats."""

    def parse(text):
        values = [convert(part) for part in text.split(",") if part.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"no values in {text!r}")
        return sorted(set(values))

    parse.__name__ = f"list of {convert.__name__}"
    return parse


# ---------------------------------------------------------------------------
# Argument groups


def add_data_arguments(parser):
    parser.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="ratings file: CSV, TSV or whitespace-separated, one rating per line, "
        "optionally gzip/bzip2/xz-compressed, or Parquet (of the reading options "
        "only the --*-col ones apply); '-' reads standard input. Without it, a "
        "generated data set "
        "is used: "
        + ", ".join(f"{k}={v}" for k, v in DEFAULT_DATA.items())
        + " (see skmf.datasets.make_ratings).",
    )
    add_table_arguments(
        parser.add_argument_group("reading the file"),
        sep_help="column separator, e.g. ',', 'tab', '::' or 'whitespace' "
        "(default: detected)",
        columns=_DEFAULT_POSITIONS.items(),
        encoding_help="the text's encoding, e.g. latin-1 or cp1252 (default: "
        "utf-8); bytes not valid in it are an error, never replaced",
        no_header_help="the first line is a rating, e.g. MovieLens u.data",
    )


def add_table_arguments(group, *, sep_help, columns, encoding_help, no_header_help):
    """How a delimited text file is read: separator, ``--ROLE-col`` for each
    ``(role, default position)`` of ``columns``, encoding, header."""
    group.add_argument("--sep", help=sep_help)
    for role, default in columns:
        group.add_argument(
            f"--{role}-col",
            metavar="COL",
            help=f"{role} column: header name or 0-based position (default: a "
            f"header named like '{role}', else column {default})",
        )
    group.add_argument("--encoding", default="utf-8", help=encoding_help)
    header = group.add_mutually_exclusive_group()
    header.add_argument(
        "--header",
        dest="header",
        action="store_true",
        default=None,
        help="the first line names the columns (default: detected)",
    )
    header.add_argument(
        "--no-header", dest="header", action="store_false", help=no_header_help
    )


def add_model_arguments(parser, *, n_components=True):
    """The "model" group; returns it, for commands to add their own options."""
    group = parser.add_argument_group(
        "model", "Parameters of MatrixFactorization; omitted ones keep its defaults."
    )
    if n_components:
        group.add_argument(
            "--n-components", type=positive_int, metavar="K", help="factor length"
        )
    group.add_argument(
        "--max-iter",
        type=positive_int,
        metavar="N",
        help="epochs (SGD) or sweeps (ALS)",
    )
    group.add_argument(
        "--n-jobs",
        type=nonzero_int,
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


def add_verbosity_arguments(parser, verbose_help):
    """-q/--quiet and -v/--verbose, which exclude each other."""
    group = parser.add_argument_group("messages")
    exclusive = group.add_mutually_exclusive_group()
    exclusive.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only the result: no description of the data and models, "
        "no progress (errors are still printed on stderr)",
    )
    exclusive.add_argument("-v", "--verbose", action="store_true", help=verbose_help)


def say(args, *lines):
    """Print ``lines`` on stdout unless --quiet."""
    if not getattr(args, "quiet", False):
        for line in lines:
            print(line)


def model_params(args):
    params = {"random_state": args.seed}
    for name in ("n_components", "max_iter", "n_jobs"):
        value = getattr(args, name, None)
        if value is not None:
            params[name] = value
    return params


# ---------------------------------------------------------------------------
# The data


def load_ratings(args):
    """The ratings the arguments name: a file, or the generated data set."""
    if args.path is None:
        X, y = make_ratings(**DEFAULT_DATA)
        params = ", ".join(f"{k}={v}" for k, v in DEFAULT_DATA.items())
        return Ratings(X=X, y=y, source=f"generated: make_ratings({params})")
    try:
        bunch = read_ratings(
            sys.stdin.buffer if args.path == "-" else args.path,
            sep=args.sep,
            user_col=args.user_col,
            item_col=args.item_col,
            rating_col=args.rating_col,
            header=args.header,
            encoding=args.encoding,
        )
    except FileNotFoundError as exc:
        message = str(exc)
        path = Path(args.path)
        if not path.suffix and len(path.parts) == 1:
            from . import COMMANDS  # the package imports this module

            names = ", ".join(COMMANDS)
            message += f" (or an unknown command; the commands are: {names})"
        raise UsageError(message) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Ratings(X=bunch.data, y=bunch.target, source=bunch.DESCR)


def plural(count, word, words=None):
    """``count`` and ``word``, in the plural unless ``count`` is 1: "1 rating"."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def print_data(ratings, what="ratings"):
    X, y = ratings.X, ratings.y
    n_users, n_items = len(pd.unique(X[:, 0])), len(pd.unique(X[:, 1]))
    print(f"data: {ratings.source}")
    print(
        f"      {plural(y.shape[0], what[:-1])}, {plural(n_users, 'user')}, "
        f"{plural(n_items, 'item')}, {what} {y.min():g} to {y.max():g}"
    )


def check_folds(ratings, folds):
    n_ratings = ratings.y.shape[0]
    if n_ratings < folds:
        raise UsageError(
            f"{folds}-fold cross-validation needs at least {folds} ratings; "
            f"the data has {plural(n_ratings, 'rating')}."
        )


# ---------------------------------------------------------------------------
# Models and their parameters


def describe(model):
    """The estimator with its non-default parameters, on one line."""
    defaults = type(model)().get_params()
    changed = ", ".join(
        f"{name}={value!r}"
        for name, value in model.get_params().items()
        if value != defaults[name]
    )
    return f"{type(model).__name__}({changed})"


# Four equal ratings of two users and two items: with factors that start at
# zero, every gradient is zero, so that no fit on them can diverge or take time.
_PROBE_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
_PROBE_Y = np.array([3.0, 3.0, 3.0, 3.0])
_PROBE_PARAMS = {
    "max_iter": 1,
    "n_samples": 1,
    "burn_in": 0,
    "init_std": 0.0,
    "early_stopping": False,
    "verbose": 0,
    "n_jobs": 1,
}


def check_params(model):
    """Raise UsageError when the estimator refuses its parameters.

    The estimators check the rules that tie parameters together (e.g. ALS
    needs ``alpha > 0``) at the start of ``fit``. Fitting a copy on four
    equal ratings, from zero factors and for one iteration, runs those checks
    before the real work, so that a bad combination is reported as a bad
    argument (exit code 2), in the estimator's own words, without the command
    repeating the estimator's rules. The parameters overridden for the probe
    are ones the command line checks itself.
    """
    probe = clone(model)
    names = probe.get_params()
    probe.set_params(
        **{name: value for name, value in _PROBE_PARAMS.items() if name in names}
    )
    try:
        probe.fit(_PROBE_X, _PROBE_Y)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None


# ---------------------------------------------------------------------------
# Tables


def columns(header, rows, right=()):
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


def mean_std(mean, std):
    return f"{mean:.4f} ± {std:.4f}"


def rmse(model, X, y):
    return math.sqrt(float(np.mean((model.predict(X) - y) ** 2)))


def step_name(model, count=None):
    """What one iteration of the model is called: SGD epochs, ALS and Gibbs sweeps.

    With a ``count``, the count and the word in the right number: "1 sweep".
    """
    word = "epoch" if getattr(model, "solver", None) == "sgd" else "sweep"
    return word if count is None else plural(count, word)


def error_line(error):
    """The last exception line in a message holding tracebacks (or all of it)."""
    text = f"{type(error).__name__}: {error}" if isinstance(error, Exception) else error
    lines = [
        line
        for line in str(text).splitlines()
        if line.split(":")[0].endswith(("Error", "Exception"))
    ]
    return lines[-1] if lines else str(text)


# ---------------------------------------------------------------------------
# Cross-validation


@dataclass
class Scores:
    """One model's cross-validated scores: one value per fold."""

    rmse: np.ndarray
    mae: np.ndarray
    fit_time: np.ndarray


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """Progress of a long command, on stderr, so that stdout keeps the results.

    :meth:`line` prints a line that stays; on a terminal, a bar on the last
    line of stderr (redrawn in place with a carriage return) shows how many of
    the ``total`` steps are done, the time so far and the time left. Nothing
    is printed when ``quiet``; no bar when stderr is not a terminal (a file or
    a pipe gets plain lines) or when ``bar=False``.

    Use it as a context manager: leaving it removes the bar, whatever happens,
    so that the results or the error message that follow start on a clean line.
    """

    _WIDTH = 24

    def __init__(self, total, unit, *, quiet=False, bar=True, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.quiet = quiet
        self.bar = bar and not quiet and _isatty(self.stream)
        self.total = total
        self.unit = unit
        self.done = 0
        self.doing = ""
        self.start = time.perf_counter()
        self._shown = 0  # characters of the bar on screen

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._clear()

    def _clear(self):
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()
            self._shown = 0

    def _draw(self):
        if not self.bar:
            return
        elapsed = time.perf_counter() - self.start
        filled = self._WIDTH * self.done // max(self.total, 1)
        text = (
            f"[{'#' * filled}{'.' * (self._WIDTH - filled)}] "
            f"{self.done}/{self.total} {self.unit}, {elapsed:.0f} s"
        )
        if self.done:
            left = elapsed / self.done * (self.total - self.done)
            text += f", about {left:.0f} s left"
        if self.doing:
            text += f"; {self.doing}"
        # A line wider than the terminal wraps, and a carriage return would
        # then redraw only its last part.
        text = text[: shutil.get_terminal_size().columns - 1]
        self._clear()
        self.stream.write(text)
        self.stream.flush()
        self._shown = len(text)

    def begin(self, doing):
        """Say what the next step is (shown in the bar)."""
        self.doing = doing
        self._draw()

    def advance(self, n=1):
        """Count ``n`` more steps as done."""
        self.done += n
        self.doing = ""
        self._draw()

    def line(self, text):
        """Print a line that stays, above the bar."""
        if self.quiet:
            return
        self._clear()
        print(text, file=self.stream, flush=True)
        self._draw()


def set_verbose(model):
    """A copy of ``model`` printing its own per-iteration lines (verbose=1)."""
    model = clone(model)
    if "verbose" in model.get_params():
        model.set_params(verbose=1)
    return model


def fit_quietly_or_verbosely(model, X, y, verbose):
    """Fit; with ``verbose``, the estimator's own lines go to stderr.

    The estimators print their per-iteration lines on stdout; the command
    keeps stdout for its results, so that ``skmf ... > file`` and pipes get
    the results only.
    """
    if not verbose:
        return model.fit(X, y)
    with contextlib.redirect_stdout(sys.stderr):
        return model.fit(X, y)


def cross_validate_models(
    models,
    X,
    y,
    *,
    folds,
    seed,
    progress=None,
    labels=None,
    fold_lines=True,
    model_lines=False,
    verbose=False,
):
    """K-fold cross-validation of each model on the same shuffled folds.

    Parameters
    ----------
    models : dict of str to estimator
        The models, by the name the tables show.
    X, y : ndarray
        The ratings.
    folds : int
        Number of folds of ``KFold(shuffle=True, random_state=seed)``.
    seed : int
        Seed of the folds.
    progress : Progress, default=None
        Where to report each fit (one step of the bar per fold); None reports
        nothing.
    labels : dict of str to str, default=None
        How the progress lines name each model; None uses the keys of
        ``models``.
    fold_lines : bool, default=True
        Print a progress line after every fold ("fold 2/5 of als: RMSE ...").
    model_lines : bool, default=False
        Print a progress line after every model, with its mean scores.
    verbose : bool, default=False
        Fit with ``verbose=1``, the estimators' own lines on stderr.

    Returns
    -------
    results : dict of str to Scores or Exception
        Each model's scores, or the error that made one of its fits fail
        (a diverging fit raises ValueError or ArithmeticError); the other
        models are still evaluated.
    """
    splits = list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(X))
    labels = labels or {}
    report = progress.line if progress is not None else (lambda text: None)
    results = {}
    for name, model in models.items():
        label = labels.get(name, name)
        rmses, maes, times = [], [], []
        try:
            for fold, (train, test) in enumerate(splits, 1):
                if progress is not None:
                    progress.begin(f"fold {fold}/{folds} of {label}")
                fitted = set_verbose(model) if verbose else clone(model)
                start = time.perf_counter()
                fit_quietly_or_verbosely(fitted, X[train], y[train], verbose)
                times.append(time.perf_counter() - start)
                error = fitted.predict(X[test]) - y[test]
                rmses.append(math.sqrt(float(np.mean(error**2))))
                maes.append(float(np.mean(np.abs(error))))
                if progress is not None:
                    progress.advance()
                if fold_lines:
                    report(
                        f"fold {fold}/{folds} of {label}: RMSE {rmses[-1]:.4f}, "
                        f"MAE {maes[-1]:.4f}, {times[-1]:.2f} s"
                    )
        except (ValueError, ArithmeticError) as exc:
            results[name] = exc
            if progress is not None:
                progress.advance(folds - fold + 1)
            report(f"fold {fold}/{folds} of {label}: failed: {error_line(exc)}")
            continue
        results[name] = Scores(np.array(rmses), np.array(maes), np.array(times))
        if model_lines:
            report(
                f"{label}: RMSE {mean_std(np.mean(rmses), np.std(rmses))}, "
                f"{sum(times):.2f} s"
            )
    return results


def describe_folds(folds, seed):
    return f"{folds}-fold cross-validation (KFold, shuffle=True, random_state={seed})"
