"""Top-N recommendations, nearest neighbours and fold-in for fitted factor models.

:class:`RecommenderMixin` gives an estimator the methods ``recommend``,
``similar_items``, ``similar_users``, ``fold_in``, ``recommend_for_ratings``
and ``predict_for_ratings``. It reads the fitted ``user_factors_``,
``item_factors_``, ``users_``, ``items_``, the pandas Indexes ``_user_index``
and ``_item_index`` and ``_seen``, the training pairs as a users x items CSR
matrix; the estimator supplies how a user vector scores items
(``_scores``), what an unknown user is shown (``_unknown_user_scores``), how a
new user's factors are solved (``_fold_in_codes``) and predicted
(``_predict_folded``).

Scores are computed for a block of users at a time by one matrix product and
the best ``n`` of each row are found with :func:`numpy.argpartition`: the only
Python loop is over blocks, never over users.

All ranking methods return a pair of arrays ``(ids, scores)``: for one id a
1-D pair of length ``n``, for an array of ids 2-D arrays of shape
``(n_ids, n)``, row ``r`` for the ``r``-th id, best first.
"""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array, check_is_fitted

from ._encoding import encode_ids
from ._solvers._base import SolverBreakdown
from ._solvers._predict_fast import predict_pairs
from ._solvers.als import fold_in_row

# Scores computed per block of rows: 32 MiB of float64 whatever the catalogue.
_BLOCK_SCORES = 1 << 22
# (rows, columns) of no cell.
_NO_CELLS = (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp))


def seen_matrix(indptr, items, n_items):
    """Training pairs as a users x items CSR matrix of True.

    Built on the arrays of the ratings grouped by user, without a copy: a
    repeated pair is stored twice, which changes nothing for excluding it.
    """
    return sp.csr_matrix(
        (np.ones(items.shape[0], dtype=bool), items, indptr),
        shape=(indptr.shape[0] - 1, n_items),
        copy=False,
    )


def _check_n(n):
    if not isinstance(n, Integral) or isinstance(n, bool):
        raise TypeError(f"n must be an int, got {type(n).__name__}: {n!r}.")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    return int(n)


def _as_ids(values, name):
    """Ids as a 1-D array, and whether a single id (a scalar) was given."""
    # A list is made an object array so that [1, "a"] keeps the int 1.
    ids = np.asarray(values, dtype=None if hasattr(values, "dtype") else object)
    if ids.ndim == 0:
        return ids.reshape(1), True
    if ids.ndim != 1:
        raise ValueError(
            f"{name} must be one id or a 1-D array of ids; got an array of "
            f"shape {ids.shape}."
        )
    return ids, False


def _known_codes(index, ids, name):
    """Codes of ids that must all have been seen during fit."""
    codes = encode_ids(index, ids)
    unknown = ids[codes < 0]
    if unknown.size:
        raise ValueError(
            f"{name} has {unknown.size} id(s) not seen during fit, e.g. "
            f"{list(unknown[:5])}: only fitted ids have factors. Filter them "
            f"first, e.g. ids[np.isin(ids, model.{name}_)]."
        )
    return codes


def _top_n(scores, n):
    """Column indices and values of the ``n`` best scores of each row, best first."""
    if n < scores.shape[1]:
        cols = np.argpartition(scores, -n, axis=1)[:, -n:]
    else:
        cols = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    top = np.take_along_axis(scores, cols, axis=1)
    order = np.argsort(-top, axis=1, kind="stable")
    return np.take_along_axis(cols, order, axis=1), np.take_along_axis(top, order, 1)


def _ranked(n_rows, n_cols, n, score_block, exclude_block):
    """Best ``n`` columns of every row, computed a block of rows at a time.

    ``score_block(start, stop)`` returns the scores of rows ``start:stop``;
    ``exclude_block(start, stop)`` returns (rows within the block, columns) of
    the cells to leave out, which score ``-inf``.
    """
    n = min(n, n_cols)
    cols = np.empty((n_rows, n), dtype=np.intp)
    values = np.empty((n_rows, n), dtype=np.float64)
    if n == 0:
        return cols, values
    step = max(1, _BLOCK_SCORES // max(n_cols, 1))
    for start in range(0, n_rows, step):
        stop = min(start + step, n_rows)
        scores = np.asarray(score_block(start, stop), dtype=np.float64)
        rows, excluded = exclude_block(start, stop)
        scores[rows, excluded] = -np.inf
        cols[start:stop], values[start:stop] = _top_n(scores, n)
    return cols, values


def _csr_cells(matrix, rows, position):
    """(row within ``rows``, column) of the stored cells of ``matrix[rows]``.

    ``rows`` may hold -1 (no row); ``position`` maps column indices to output
    columns (-1: not an output column), or is None for the identity.
    """
    known = np.flatnonzero(rows >= 0)
    sub = matrix[rows[known]]
    cells = np.repeat(known, np.diff(sub.indptr))
    cols = sub.indices
    if position is not None:
        cols = position[cols]
        cells, cols = cells[cols >= 0], cols[cols >= 0]
    return cells, cols


class RecommenderMixin:
    """Recommending, neighbours and fold-in for a fitted factor model.

    Every ranking method returns ``(ids, scores)``: raw ids and their scores,
    best first; 1-D arrays of length ``n`` for a single id, 2-D arrays of shape
    ``(n_ids, n)`` for an array of ids. When fewer than ``n`` candidates exist,
    ``n`` is lowered to their number; when a user has fewer candidates left
    after excluding what they have seen, the row ends with excluded items
    scored ``-inf`` (keep ``np.isfinite(scores)``). Ties are broken
    arbitrarily.

    Examples
    --------
    >>> from skmf import MatrixFactorization
    >>> X = [["ann", "up"], ["ann", "jaws"], ["bob", "up"], ["bob", "heat"],
    ...      ["cat", "jaws"], ["cat", "heat"], ["dan", "up"], ["dan", "cars"]]
    >>> y = [5, 1, 4, 2, 1, 5, 5, 4]
    >>> mf = MatrixFactorization(n_components=2, solver="als", random_state=0)
    >>> mf = mf.fit(X, y)
    >>> ids, scores = mf.recommend(["ann", "cat", "eve"], n=2)
    >>> ids.tolist()
    [['heat', 'cars'], ['up', 'cars'], ['up', 'cars']]
    >>> mf.recommend("ann", n=1, items=["heat", "jaws"])[0].tolist()
    ['heat']
    >>> factors, bias = mf.fold_in(["up", "heat"], [5, 1])
    >>> factors.shape
    (2,)
    >>> mf.predict_for_ratings(["up", "heat"], [5, 1], ["jaws", "cars"]).round(1)
    array([4.8, 4. ])
    """

    def _user_vectors(self, codes):
        """Factors and bias (or None) of the fitted users ``codes``."""
        return self.user_factors_[codes], None

    def _user_scores(self, codes, cols):
        """Scores of the items ``cols`` for the users ``codes`` (-1: unknown)."""
        known = codes >= 0
        scores = np.empty((codes.shape[0], cols.shape[0]), dtype=np.float64)
        scores[known] = self._scores(*self._user_vectors(codes[known]), cols)
        scores[~known] = self._unknown_user_scores(cols)
        return scores

    def _candidate_codes(self, items):
        """Sorted distinct item codes of a candidate set, or all items for None."""
        if items is None:
            return np.arange(self.items_.shape[0])
        ids, _ = _as_ids(items, "items")
        return np.unique(_known_codes(self._item_index, ids, "items"))

    def _recommend_codes(self, codes, n, exclude_seen, candidates):
        """Item codes and scores of the best ``n`` candidates for user codes."""
        position = None
        if candidates.shape[0] < self.items_.shape[0]:
            position = np.full(self.items_.shape[0], -1, dtype=np.intp)
            position[candidates] = np.arange(candidates.shape[0])

        def excluded(start, stop):
            if not exclude_seen:
                return _NO_CELLS
            return _csr_cells(self._seen, codes[start:stop], position)

        cols, scores = _ranked(
            codes.shape[0],
            candidates.shape[0],
            n,
            lambda start, stop: self._user_scores(codes[start:stop], candidates),
            excluded,
        )
        return candidates[cols], scores

    def recommend(self, users, n=10, *, exclude_seen=True, items=None):
        """Recommend the ``n`` best-scoring items to each user.

        Parameters
        ----------
        users : user id or array-like of shape (n_users,)
            Raw user ids. A user not seen during fit gets the estimator's
            fallback ranking (see its documentation), never an error.

        n : int, default=10
            Number of items per user; lowered to the number of candidates.

        exclude_seen : bool, default=True
            Leave out the items each user had in the training data.

        items : array-like of item ids, default=None
            Restrict the recommendations to these candidate items (which must
            all have been seen during fit). None means every fitted item.

        Returns
        -------
        ids : ndarray of shape (n_users, n), or (n,) for a single user
            Raw item ids, best first.

        scores : ndarray of shape (n_users, n), or (n,) for a single user
            Their scores, in float64; ``-inf`` pads the rows of users with
            fewer than ``n`` candidates left.
        """
        check_is_fitted(self)
        ids, single = _as_ids(users, "users")
        n = _check_n(n)
        codes = encode_ids(self._user_index, ids)
        cols, scores = self._recommend_codes(
            codes, n, exclude_seen, self._candidate_codes(items)
        )
        return self._output(self.items_, cols, scores, single)

    @staticmethod
    def _output(names, cols, scores, single):
        ids = names[cols]
        if single:
            return ids[0], scores[0]
        return ids, scores

    def _similar(self, ids, n, name):
        """Best ``n`` users or items by cosine similarity, never the query itself."""
        check_is_fitted(self)
        ids, single = _as_ids(ids, name)
        n = _check_n(n)
        factors = getattr(self, f"{name[:-1]}_factors_")
        codes = _known_codes(getattr(self, f"_{name[:-1]}_index"), ids, name)
        norms = np.linalg.norm(factors, axis=1)
        unit = factors / np.where(norms > 0, norms, 1)[:, np.newaxis]
        cols, scores = _ranked(
            codes.shape[0],
            factors.shape[0] - 1,
            n,
            lambda start, stop: unit[codes[start:stop]] @ unit.T,
            lambda start, stop: (np.arange(stop - start), codes[start:stop]),
        )
        return self._output(getattr(self, f"{name}_"), cols, scores, single)

    def similar_items(self, items, n=10):
        """The ``n`` items whose factors are closest in cosine similarity.

        An item is never its own neighbour. An item whose factors are all zero
        has similarity 0 to every other.

        Parameters
        ----------
        items : item id or array-like of shape (n_queries,)
            Raw ids of fitted items; an unknown id is a ValueError.

        n : int, default=10
            Number of neighbours; lowered to the number of other items.

        Returns
        -------
        ids : ndarray of shape (n_queries, n), or (n,) for a single item
            Raw ids of the neighbours, most similar first.

        scores : ndarray of shape (n_queries, n), or (n,) for a single item
            Their cosine similarities.
        """
        return self._similar(items, n, "items")

    def similar_users(self, users, n=10):
        """The ``n`` users whose factors are closest in cosine similarity.

        A user is never their own neighbour. The same as :meth:`similar_items`
        with the roles of users and items swapped.

        Parameters
        ----------
        users : user id or array-like of shape (n_queries,)
            Raw ids of fitted users; an unknown id is a ValueError.

        n : int, default=10
            Number of neighbours; lowered to the number of other users.

        Returns
        -------
        ids : ndarray of shape (n_queries, n), or (n,) for a single user
            Raw ids of the neighbours, most similar first.

        scores : ndarray of shape (n_queries, n), or (n,) for a single user
            Their cosine similarities.
        """
        return self._similar(users, n, "users")

    def _check_history(self, rated_items, ratings):
        """Item codes (-1: unknown) and float64 ratings of a new user's history."""
        ids, _ = _as_ids(rated_items, "rated_items")
        if ratings is None:
            values = np.ones(ids.shape[0])
        else:
            values = check_array(
                ratings, ensure_2d=False, dtype=np.float64, input_name="ratings"
            )
            if values.ndim != 1 or values.shape[0] != ids.shape[0]:
                raise ValueError(
                    f"ratings must be a 1-D array with one value per rated item; "
                    f"got shape {values.shape} for {ids.shape[0]} item(s)."
                )
        return encode_ids(self._item_index, ids), values

    def fold_in(self, rated_items, ratings=None):
        """Factors of a new user from their ratings, without refitting.

        Solves the new user's factors (and bias, for models with biases) by
        one exact regularized least-squares solve against the fitted item
        factors: the user half-step of ALS, with the same objective as
        :meth:`fit`. The fitted model is not changed. Items the model has not
        seen are ignored; with no known item the factors are zero, so the user
        is scored like an unknown one.

        Parameters
        ----------
        rated_items : array-like of shape (n_rated,)
            Raw ids of the items the new user rated (or interacted with).

        ratings : array-like of shape (n_rated,), default=None
            Their ratings (counts or weights for implicit feedback). None
            means all ones.

        Returns
        -------
        factors : ndarray of shape (n_components,)
            The user's factor vector, in the model's dtype.

        bias : float
            The user's bias; always 0.0 for models without biases.
        """
        check_is_fitted(self)
        codes, values = self._check_history(rated_items, ratings)
        known = codes >= 0
        return self._fold_in_codes(codes[known], values[known])

    def recommend_for_ratings(
        self, rated_items, ratings=None, n=10, *, exclude_seen=True, items=None
    ):
        """Recommend items to a new user from their ratings, without refitting.

        The user's factors come from :meth:`fold_in`; the ranking is that of
        :meth:`recommend` for a fitted user.

        Parameters
        ----------
        rated_items : array-like of shape (n_rated,)
            Raw ids of the items the new user rated.

        ratings : array-like of shape (n_rated,), default=None
            Their ratings, see :meth:`fold_in`.

        n : int, default=10
            Number of items; lowered to the number of candidates.

        exclude_seen : bool, default=True
            Leave out ``rated_items``.

        items : array-like of item ids, default=None
            Candidate items, as in :meth:`recommend`.

        Returns
        -------
        ids : ndarray of shape (n,)
            Raw item ids, best first.

        scores : ndarray of shape (n,)
            Their scores (``-inf`` for padding, as in :meth:`recommend`).
        """
        check_is_fitted(self)
        n = _check_n(n)
        candidates = self._candidate_codes(items)
        codes, values = self._check_history(rated_items, ratings)
        known = codes >= 0
        factors, bias = self._fold_in_codes(codes[known], values[known])
        bias = None if bias is None else np.array([bias])
        position = np.full(self.items_.shape[0], -1, dtype=np.intp)
        position[candidates] = np.arange(candidates.shape[0])
        excluded = position[codes[known]] if exclude_seen else np.empty(0, np.intp)
        excluded = excluded[excluded >= 0]
        cols, scores = _ranked(
            1,
            candidates.shape[0],
            n,
            lambda start, stop: self._scores(factors[np.newaxis], bias, candidates),
            lambda start, stop: (np.zeros_like(excluded), excluded),
        )
        return self._output(self.items_, candidates[cols], scores, True)

    def predict_for_ratings(self, rated_items, ratings, items):
        """Predict a new user's scores of ``items`` from their ratings.

        The user's factors come from :meth:`fold_in`; the prediction is the
        one :meth:`predict` makes for a fitted user (an explicit model's
        predicted ratings, an implicit model's preference scores), including
        its fallback for items not seen during fit.

        Parameters
        ----------
        rated_items : array-like of shape (n_rated,)
            Raw ids of the items the new user rated.

        ratings : array-like of shape (n_rated,) or None
            Their ratings, see :meth:`fold_in`.

        items : array-like of shape (n_items,)
            Raw ids of the items to score.

        Returns
        -------
        y : ndarray of shape (n_items,)
            The predictions, in the order of ``items``.
        """
        factors, bias = self.fold_in(rated_items, ratings)
        ids, _ = _as_ids(items, "items")
        return self._predict_folded(factors, bias, encode_ids(self._item_index, ids))


class ExplicitRecommenderMixin(RecommenderMixin):
    """The recommending hooks of :class:`~skmf.MatrixFactorization`.

    Scores are the predicted ratings before clipping. A user not seen during
    fit is ranked by item bias (the prediction ``intercept_ + item_bias_``):
    the most liked items overall first.
    """

    def _user_vectors(self, codes):
        return self.user_factors_[codes], self.user_bias_[codes]

    def _scores(self, factors, bias, cols):
        scores = (factors @ self.item_factors_[cols].T).astype(np.float64)
        scores += self._unknown_user_scores(cols)
        if bias is not None:
            scores += bias[:, np.newaxis]
        return scores

    def _unknown_user_scores(self, cols):
        return self.intercept_ + self.item_bias_[cols].astype(np.float64)

    def _fold_in_codes(self, codes, ratings):
        try:
            return fold_in_row(
                self.item_factors_,
                self.item_bias_,
                codes,
                (ratings - self.intercept_).astype(self.item_factors_.dtype),
                self._params.alpha,
                self._params.fit_biases,
            )
        except SolverBreakdown:
            raise ValueError(
                "fold_in needs alpha > 0: without regularization the user's "
                "least-squares problem has no unique solution."
            ) from None

    def _predict_folded(self, factors, bias, codes):
        out = np.empty(codes.shape[0], dtype=np.float64)
        predict_pairs(
            np.zeros(codes.shape[0], dtype=np.int32),
            codes,
            factors[np.newaxis],
            self.item_factors_,
            np.array([bias], dtype=factors.dtype),
            self.item_bias_,
            self.intercept_,
            out,
            1,
        )
        if self.clip:
            np.clip(out, *self.rating_range_, out=out)
        return out
