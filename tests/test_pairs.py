"""sparse_from_pairs and pairs_from_sparse: round trips, ids, repeats, errors."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from skmf import MatrixFactorization
from skmf.datasets import make_ratings, pairs_from_sparse, sparse_from_pairs


def test_round_trip_of_generated_ratings():
    X, y = make_ratings(200, 80, 3000, random_state=0)
    matrix, users, items = sparse_from_pairs(X, y)
    assert matrix.format == "csr" and matrix.has_canonical_format
    assert matrix.shape == (len(np.unique(X[:, 0])), len(np.unique(X[:, 1])))
    assert matrix.nnz == len(y)
    X_back, y_back = pairs_from_sparse(matrix, users=users, items=items)
    # Same pairs and ratings, in row-major order.
    order = np.lexsort((X[:, 1], X[:, 0]))
    np.testing.assert_array_equal(X_back, X[order])
    np.testing.assert_array_equal(y_back, y[order])


def test_cells_hold_the_ratings():
    X = np.array([[10, 7], [30, 5], [10, 5], [20, 9]])
    matrix, users, items = sparse_from_pairs(X, [1.5, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(users, [10, 20, 30])
    np.testing.assert_array_equal(items, [5, 7, 9])
    np.testing.assert_array_equal(
        matrix.toarray(), [[3.0, 1.5, 0.0], [0.0, 0.0, 4.0], [2.0, 0.0, 0.0]]
    )


def test_zero_ratings_are_stored_and_read_back():
    # On a -10..10 scale a rating of 0 is a rating, not a missing cell.
    matrix, users, items = sparse_from_pairs([[0, 0], [0, 1], [1, 1]], [0.0, -2, 0])
    assert matrix.nnz == 3
    X, y = pairs_from_sparse(matrix)
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 1]])
    np.testing.assert_array_equal(y, [0.0, -2.0, 0.0])
    matrix.eliminate_zeros()
    assert pairs_from_sparse(matrix)[0].tolist() == [[0, 1]]


def test_implicit_feedback_without_y():
    matrix, _, _ = sparse_from_pairs(
        [["a", "x"], ["a", "y"], ["b", "x"], ["a", "x"]], duplicates="sum"
    )
    np.testing.assert_array_equal(matrix.toarray(), [[2.0, 1.0], [1.0, 0.0]])


@pytest.mark.parametrize(
    "duplicates, expected", [("sum", 9.0), ("mean", 3.0), ("last", 2.0)]
)
def test_repeated_pairs(duplicates, expected):
    X = [[1, 1], [2, 1], [1, 1], [1, 2], [1, 1]]
    y = [3.0, 5.0, 4.0, 1.0, 2.0]
    matrix, _, _ = sparse_from_pairs(X, y, duplicates=duplicates)
    np.testing.assert_array_equal(matrix.toarray(), [[expected, 1.0], [5.0, 0.0]])


def test_repeated_pair_is_an_error_by_default():
    X = [["ann", "up"], ["bob", "up"], ["ann", "up"]]
    with pytest.raises(ValueError, match=r"\(user 'ann', item 'up'\).*rows 0 and 2"):
        sparse_from_pairs(X, [1, 2, 3])


def test_given_ids_fix_rows_and_columns():
    X = pd.DataFrame({"user": ["b", "a"], "item": [2, 1]})
    matrix, users, items = sparse_from_pairs(
        X, [5, 4], users=["c", "b", "a"], items=[1, 2, 3]
    )
    assert users.tolist() == ["c", "b", "a"] and items.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(matrix.toarray(), [[0, 0, 0], [0, 5, 0], [4, 0, 0]])
    with pytest.raises(ValueError, match="user ids that are not in users.*'b'"):
        sparse_from_pairs(X, [5, 4], users=["a"])
    with pytest.raises(ValueError, match="distinct item ids"):
        sparse_from_pairs(X, [5, 4], items=[1, 2, 2])


def test_lines_up_with_a_fitted_model():
    X, y = make_ratings(60, 30, 600, random_state=1)
    model = MatrixFactorization(n_components=2, solver="als", max_iter=2).fit(X, y)
    # Rows in the model's order of users, reversed: the given order is kept.
    users = model.users_[::-1]
    matrix, _, _ = sparse_from_pairs(X, y, users=users, items=model.items_)
    assert matrix.shape == (len(model.user_factors_), len(model.item_factors_))
    rows = pd.Index(users).get_indexer(X[:, 0])
    cols = pd.Index(model.items_).get_indexer(X[:, 1])
    np.testing.assert_array_equal(np.asarray(matrix[rows, cols]).ravel(), y)


def test_mixed_id_types_come_back_as_objects():
    matrix, users, items = sparse_from_pairs(
        pd.DataFrame({"u": ["ann", "bob"], "i": [7, 3]}), [1, 2]
    )
    X, _ = pairs_from_sparse(matrix, users=users, items=items)
    assert X.dtype == object
    assert X.tolist() == [["ann", 7], ["bob", 3]]


@pytest.mark.parametrize("kind", ["coo_matrix", "csc_matrix", "csr_array"])
def test_any_sparse_format(kind):
    dense = np.array([[0, 2, 0], [1, 0, 3]])
    X, y = pairs_from_sparse(getattr(sp, kind)(dense))
    np.testing.assert_array_equal(X, [[0, 1], [1, 0], [1, 2]])
    np.testing.assert_array_equal(y, [2, 1, 3])


def test_coo_repeats_are_summed_and_the_input_is_untouched():
    coo = sp.coo_matrix(([1.0, 2.0, 4.0], ([1, 0, 1], [1, 0, 1])), shape=(2, 2))
    X, y = pairs_from_sparse(coo)
    np.testing.assert_array_equal(X, [[0, 0], [1, 1]])
    np.testing.assert_array_equal(y, [2.0, 5.0])
    assert coo.nnz == 3  # not summed in place
    unsorted = sp.csr_matrix(
        (np.array([1.0, 2.0]), np.array([1, 0]), np.array([0, 2])), shape=(1, 2)
    )
    assert pairs_from_sparse(unsorted)[0].tolist() == [[0, 0], [0, 1]]
    assert unsorted.indices.tolist() == [1, 0]


def test_y_is_a_copy():
    matrix = sp.csr_matrix(np.eye(2))
    _, y = pairs_from_sparse(matrix)
    y[:] = 9
    np.testing.assert_array_equal(matrix.toarray(), np.eye(2))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: pairs_from_sparse(np.eye(2)), TypeError, "csr_matrix\\(array\\)"),
        (
            lambda: pairs_from_sparse(sp.csr_matrix(np.eye(2)), users=[1, 2, 3]),
            ValueError,
            "one id per row of the matrix \\(2\\)",
        ),
        (lambda: sparse_from_pairs([[1, 2, 3]]), ValueError, "two columns"),
        (lambda: sparse_from_pairs([[1, 2]], [1, 2]), ValueError, "1 pairs but y"),
        (lambda: sparse_from_pairs([[1, None]]), ValueError, "no item id.*row 0"),
        (lambda: sparse_from_pairs([[1, 2]], [np.nan]), ValueError, "missing"),
        (lambda: sparse_from_pairs([[1, 2]], ["five"]), TypeError, "numeric"),
        (
            lambda: sparse_from_pairs([[1, 2]], duplicates="max"),
            ValueError,
            "duplicates",
        ),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
