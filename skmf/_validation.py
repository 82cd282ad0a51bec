"""Checks of (user, item) pairs, ratings and weights shared by every estimator.

Ids are taken column by column from the caller's own values: a DataFrame's
integer column next to a float one, or a nullable ``Int64`` column, must not
pass through one common float64 array, which merges distinct ids above 2**53.
"""

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_consistent_length, validate_data

from ._compat import _check_y


class Pairs:
    """The two id columns of X, each a 1-D array with its own dtype."""

    __slots__ = ("users", "items")

    def __init__(self, users, items):
        self.users = users
        self.items = items

    def __len__(self):
        return self.users.shape[0]

    def take(self, rows):
        return Pairs(self.users[rows], self.items[rows])


def _missing_error(row):
    return ValueError(
        f"X has a missing id (NaN or None) in row {row}; every rating needs a "
        "user and an item. Drop or fill those rows first."
    )


def _column_values(column):
    """One id column of a DataFrame as a NumPy array of its exact values."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype):
        return column.to_numpy()
    # Nullable and Arrow-backed columns (Int64, int64[pyarrow], string, ...):
    # their NumPy view would be float64 or object of pd.NA.
    missing = column.isna().to_numpy()
    if missing.any():
        raise _missing_error(int(np.flatnonzero(missing)[0]))
    if pd.api.types.is_bool_dtype(dtype):
        return column.to_numpy(dtype=bool)
    if pd.api.types.is_unsigned_integer_dtype(dtype):
        return column.to_numpy(dtype=np.uint64)
    if pd.api.types.is_integer_dtype(dtype):
        return column.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(dtype):
        return column.to_numpy(dtype=np.float64)
    return column.to_numpy(dtype=object)


def _check_ids(pairs):
    """Raise a clear error for a missing or infinite id."""
    for column in (pairs.users, pairs.items):
        if column.dtype.kind in "iub":
            continue
        missing = pd.isna(column)
        if missing.any():
            first = min(
                int(np.flatnonzero(pd.isna(c))[0]) if pd.isna(c).any() else len(c)
                for c in (pairs.users, pairs.items)
            )
            raise _missing_error(first)
        if column.dtype.kind == "f" and not np.isfinite(column).all():
            raise ValueError(
                "X has an infinite id; ids must be finite numbers or strings."
            )


def _two_columns_error(n_columns):
    return ValueError(
        "X must have exactly two columns, the user id and the item id; got "
        f"{n_columns} feature(s). Select the two id columns, e.g. "
        "X[['user', 'item']]."
    )


def check_ratings(y):
    """Ratings as numbers, or an error naming the first value that is not one."""
    if isinstance(getattr(y, "dtype", None), pd.api.extensions.ExtensionDtype):
        if pd.api.types.is_numeric_dtype(y.dtype):
            # A nullable column: <NA> becomes NaN, which the finiteness check
            # reports (pandas < 2.2 would make it an object array of <NA>).
            return pd.array(y).to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.asarray(y)
    if values.dtype.kind not in "OUS":
        return y
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        for value in values.ravel():
            try:
                float(value)
            except (TypeError, ValueError):
                raise TypeError(
                    f"y must hold numeric ratings; found {str(value)!r}. Convert "
                    "them first, e.g. with pandas.to_numeric, and drop missing ones."
                ) from None
        raise


def validate_pairs(estimator, X, y="no_validation", *, reset):
    """validate_data for a table of ids: any dtypes, no missing id, two columns.

    Returns ``(pairs, y)``: the ids as :class:`Pairs` and ``y`` checked as
    numeric ratings (float64), or unchanged when not given.
    """
    no_y = isinstance(y, str) and y == "no_validation"
    if not no_y and y is not None:
        y = check_ratings(y)
    if isinstance(X, pd.DataFrame):
        # Names and column count are checked on the frame itself; the values
        # are read column by column (see the module docstring).
        validate_data(estimator, X, skip_check_array=True, reset=reset)
        if X.shape[1] != 2:
            raise _two_columns_error(X.shape[1])
        if X.shape[0] == 0:
            raise ValueError(
                "Found array with 0 sample(s) (shape=(0, 2)) while a minimum of 1 "
                "is required."
            )
        pairs = Pairs(*(_column_values(X.iloc[:, j]) for j in range(2)))
        if not no_y:
            if y is None:
                raise ValueError(
                    f"{type(estimator).__name__} requires y to be passed, but the "
                    "target y is None."
                )
            y = _check_y(y, y_numeric=True, estimator=estimator)
            check_consistent_length(pairs.users, y)
    else:
        kwargs = dict(dtype=None, ensure_all_finite=False, reset=reset)
        if no_y:
            X = validate_data(estimator, X, **kwargs)
        else:
            X, y = validate_data(estimator, X, y, y_numeric=True, **kwargs)
        if X.shape[1] != 2:
            raise _two_columns_error(X.shape[1])
        pairs = Pairs(X[:, 0], X[:, 1])
    _check_ids(pairs)
    if not no_y and y is not None:
        y = np.asarray(y, dtype=np.float64)
    return pairs, y
