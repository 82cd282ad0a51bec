"""Between (user, item) pairs with ratings and a sparse user x item matrix.

skmf's estimators take ``X``, the (user id, item id) of each rating, and ``y``,
the ratings; other libraries and many data files hold a SciPy sparse matrix
with one row per user and one column per item. :func:`sparse_from_pairs` and
:func:`pairs_from_sparse` go from one to the other and back.
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_array, column_or_1d

from .._compat import StrOptions, validate_params
from .._encoding import fit_ids

_DUPLICATES = ("error", "sum", "mean", "last")


def _id_columns(X):
    """The user and item columns of X, each as a 1-D array of its own dtype."""
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 2:
            raise ValueError(
                f"X must have two columns, the user id and the item id; got "
                f"{X.shape[1]}. Select them, e.g. X[['user', 'item']]."
            )
        columns = [X.iloc[:, j].to_numpy() for j in range(2)]
    else:
        X = check_array(X, dtype=None, ensure_all_finite=False, input_name="X")
        if X.shape[1] != 2:
            raise ValueError(
                f"X must have two columns, the user id and the item id; got "
                f"{X.shape[1]}."
            )
        columns = [X[:, 0], X[:, 1]]
    for name, column in zip(("user", "item"), columns, strict=True):
        missing = pd.isna(column)
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise ValueError(f"X has no {name} id (NaN or None) in row {row}.")
    return columns


def _plain(value):
    """A NumPy scalar as the Python value, for messages: 'ann', not np.str_('ann')."""
    return value.item() if isinstance(value, np.generic) else value


def _codes(column, ids, name):
    """Sorted distinct ids and each value's index, or the index among ``ids``."""
    if ids is None:
        return fit_ids(column)
    ids = np.asarray(ids)
    index = pd.Index(ids)
    if ids.ndim != 1 or not index.is_unique:
        raise ValueError(f"{name}s must be a 1-D array of distinct {name} ids.")
    codes = index.get_indexer(column)
    unknown = codes < 0
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise ValueError(
            f"X holds {name} ids that are not in {name}s, e.g. "
            f"{_plain(column[row])!r} in row {row}. Leave {name}s=None to take "
            "every id of X."
        )
    return ids, codes.astype(np.int32, copy=False)


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like", None],
        "users": ["array-like", None],
        "items": ["array-like", None],
        "duplicates": [StrOptions(set(_DUPLICATES))],
        "dtype": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def sparse_from_pairs(
    X, y=None, *, users=None, items=None, duplicates="error", dtype=np.float64
):
    """Build the sparse user x item matrix of rated (user, item) pairs.

    Row ``u`` is the user ``users[u]`` and column ``i`` the item ``items[i]``;
    each pair's rating is stored at its cell, a rating of 0 included (as an
    explicitly stored zero). Cells of no pair are not stored: the dense matrix
    is never formed.

    Parameters
    ----------
    X : array-like of shape (n_pairs, 2)
        User id and item id of each pair, as for
        :meth:`skmf.MatrixFactorization.fit`: an array, a list of pairs or a
        two-column DataFrame; ids may be ints, strings or any comparable
        hashable values.

    y : array-like of shape (n_pairs,), default=None
        The rating of each pair. None stores 1 for every pair (implicit
        feedback).

    users : array-like of shape (n_users,), default=None
        Id of each row, e.g. a fitted model's ``users_`` to line the matrix up
        with its factors. Every user of ``X`` must be in it; users without
        pairs get empty rows. None takes the distinct users of ``X``, sorted.

    items : array-like of shape (n_items,), default=None
        Id of each column, as ``users`` is of the rows.

    duplicates : {"error", "sum", "mean", "last"}, default="error"
        What a pair given more than once stores: an error naming it, the sum
        of its ratings (counts of implicit feedback), their mean, or the last
        one in the order of ``X``.

    dtype : data-type, default=numpy.float64
        Type of the stored ratings.

    Returns
    -------
    matrix : scipy.sparse.csr_matrix of shape (n_users, n_items)
        The ratings, with sorted column indices and no repeated cell.

    users : ndarray of shape (n_users,)
        The user id of each row.

    items : ndarray of shape (n_items,)
        The item id of each column.

    See Also
    --------
    pairs_from_sparse : The pairs and ratings stored in a sparse matrix.

    Examples
    --------
    >>> from skmf.datasets import sparse_from_pairs
    >>> X = [["bob", "up"], ["ann", "jaws"], ["ann", "up"]]
    >>> matrix, users, items = sparse_from_pairs(X, [4, 1, 5])
    >>> matrix.toarray()
    array([[1., 5.],
           [0., 4.]])
    >>> users.tolist(), items.tolist()
    (['ann', 'bob'], ['jaws', 'up'])
    >>> sparse_from_pairs([[1, 7], [1, 7]], [3, 4], duplicates="mean")[0].toarray()
    array([[3.5]])
    """
    user_column, item_column = _id_columns(X)
    n_pairs = user_column.shape[0]
    if y is None:
        values = np.ones(n_pairs)
    else:
        values = column_or_1d(y, warn=True)
        if values.shape[0] != n_pairs:
            raise ValueError(
                f"X has {n_pairs} pairs but y has {values.shape[0]} ratings."
            )
        try:
            values = values.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError("y must hold numeric ratings.") from None
        if not np.isfinite(values).all():
            row = int(np.flatnonzero(~np.isfinite(values))[0])
            raise ValueError(f"y has a missing or infinite rating in row {row}.")
    users, rows = _codes(user_column, users, "user")
    items, cols = _codes(item_column, items, "item")

    # Row-major order; the sort is stable, so repeats keep the order of X.
    order = np.lexsort((cols, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    repeated = (rows[1:] == rows[:-1]) & (cols[1:] == cols[:-1])
    if repeated.any():
        if duplicates == "error":
            j = int(np.flatnonzero(repeated)[0])
            first, second = sorted(order[j : j + 2])
            raise ValueError(
                f"The pair (user {_plain(users[rows[j]])!r}, item "
                f"{_plain(items[cols[j]])!r}) is "
                f"given more than once (rows {first} and {second} of X). Pass "
                "duplicates='sum', 'mean' or 'last' to combine repeated pairs, "
                "or drop them first."
            )
        starts = np.flatnonzero(np.r_[True, ~repeated])
        if duplicates == "last":
            values = values[np.r_[starts[1:], values.shape[0]] - 1]
        else:
            values = np.add.reduceat(values, starts)
            if duplicates == "mean":
                values /= np.diff(np.r_[starts, rows.shape[0]])
        rows, cols = rows[starts], cols[starts]
    indptr = np.zeros(users.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=users.shape[0]), out=indptr[1:])
    matrix = sp.csr_matrix(
        (values.astype(dtype), cols, indptr), shape=(users.shape[0], items.shape[0])
    )
    matrix.has_sorted_indices = True
    return matrix, users, items


def _labels(ids, n, name):
    if ids is None:
        return None
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.shape[0] != n:
        raise ValueError(
            f"{name}s must be a 1-D array with one id per "
            f"{'row' if name == 'user' else 'column'} of the matrix ({n}); got "
            f"shape {ids.shape}."
        )
    return ids


@validate_params(
    {
        "matrix": "no_validation",
        "users": ["array-like", None],
        "items": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def pairs_from_sparse(matrix, *, users=None, items=None):
    """The (user, item) pairs and ratings stored in a sparse user x item matrix.

    Every stored cell is a pair, an explicitly stored zero included (call
    ``matrix.eliminate_zeros()`` first to leave those out); cells that are not
    stored are not. Repeated entries of an unsorted COO matrix are summed.

    Parameters
    ----------
    matrix : scipy sparse matrix or array of shape (n_users, n_items)
        One row per user, one column per item.

    users : array-like of shape (n_users,), default=None
        Id of each row, e.g. as returned by :func:`sparse_from_pairs` or a
        fitted model's ``users_``. None uses the row numbers.

    items : array-like of shape (n_items,), default=None
        Id of each column. None uses the column numbers.

    Returns
    -------
    X : ndarray of shape (n_pairs, 2)
        User id and item id of each pair, row by row (object dtype when the
        user and item ids are of different kinds, e.g. strings and ints).

    y : ndarray of shape (n_pairs,)
        The stored values, in the matrix's dtype.

    See Also
    --------
    sparse_from_pairs : The inverse: the matrix of rated pairs.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from skmf.datasets import pairs_from_sparse
    >>> matrix = sp.csr_matrix([[0, 5, 3], [4, 0, 0]])
    >>> X, y = pairs_from_sparse(matrix)
    >>> X
    array([[0, 1],
           [0, 2],
           [1, 0]])
    >>> y
    array([5, 3, 4])
    >>> pairs_from_sparse(matrix, users=["ann", "bob"], items=["a", "b", "c"])[0]
    array([['ann', 'b'],
           ['ann', 'c'],
           ['bob', 'a']], dtype='<U3')
    """
    if not sp.issparse(matrix):
        raise TypeError(
            "pairs_from_sparse takes a scipy.sparse matrix or array; got "
            f"{type(matrix).__name__}. In a dense array a 0 cannot be told from "
            "a missing rating: convert it with scipy.sparse.csr_matrix(array), "
            "which keeps the non-zero cells."
        )
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D; got {matrix.ndim} dimensions.")
    n_users, n_items = matrix.shape
    users = _labels(users, n_users, "user")
    items = _labels(items, n_items, "item")
    csr = sp.csr_matrix(matrix)
    if not csr.has_canonical_format:
        csr = csr.copy()  # never sort or sum the caller's matrix in place
        csr.sum_duplicates()
    rows = np.repeat(np.arange(n_users), np.diff(csr.indptr))
    cols = csr.indices.astype(np.intp)
    row_ids = rows if users is None else users[rows]
    col_ids = cols if items is None else items[cols]
    if row_ids.dtype.kind == col_ids.dtype.kind != "O":
        X = np.column_stack([row_ids, col_ids])
    else:
        X = np.empty((rows.shape[0], 2), dtype=object)
        X[:, 0], X[:, 1] = row_ids, col_ids
    return X, csr.data.copy()
