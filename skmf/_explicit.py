"""The explicit-ratings layer: models that predict ratings from factors and biases.

``r̂ = μ + b_u + b_i + w_u·h_i``, clipped to the training range. This layer
holds what every such model shares: the ratings as values (minus their mean),
sample weights, ``predict``, the held-out score of early stopping, fold-in
and the explicit recommending hooks. :class:`~skmf.MatrixFactorization` and
:class:`~skmf.BayesianMatrixFactorization` extend it.
"""

import math
import warnings

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._base import _BaseFactorModel
from ._compat import _check_sample_weight, _fit_context
from ._encoding import encode_ids
from ._solvers._base import FactorModel, Ratings, SolverBreakdown
from ._solvers._group_fast import group_rows
from ._solvers._predict_fast import predict_pairs
from ._solvers.als import fold_in_row

# predict warns when more than this share of its pairs have users not seen in
# fit (and there are at least _MIN_COLD_PAIRS of them): the sign of a
# cross-validation that holds out whole users, e.g. unshuffled KFold on a file
# sorted by user.
_COLD_USER_SHARE = 0.5
_MIN_COLD_PAIRS = 20


def _check_scale(y, dtype):
    """An error for ratings whose squares the model's dtype cannot sum."""
    # Room for the squared errors of many ratings (and a margin for the
    # iterates) in the dtype: 1.8e13 in float32, 1.3e148 in float64.
    limit = math.sqrt(np.finfo(dtype).max) / 1e6
    largest = float(np.max(np.abs(y - np.mean(y))))
    if largest > limit:
        raise ValueError(
            f"y spreads {largest:.3g} around its mean, too far for "
            f"{np.dtype(dtype).name} arithmetic (at most {limit:.3g}). Divide the "
            "ratings by a common factor"
            + (" or use dtype='float64'." if np.dtype(dtype) == np.float32 else ".")
        )


def _check_weights(sample_weight, y, dtype):
    """Sample weights as float64 (or None for all ones), checked for the dtype."""
    if sample_weight is None:
        return None
    sample_weight = _check_sample_weight(
        sample_weight, y, dtype=np.float64, ensure_non_negative=True
    )
    positive = sample_weight > 0
    if not positive.any():
        # scikit-learn < 1.9 lets all-zero weights through.
        raise ValueError(
            "Sample weights must contain at least one non-zero number: with "
            "every weight 0 there is nothing to learn."
        )
    with np.errstate(over="ignore"):
        in_dtype = sample_weight.astype(dtype)
    if np.any(in_dtype[positive] == 0) or not np.all(np.isfinite(in_dtype)):
        raise ValueError(
            f"sample_weight has values that {np.dtype(dtype).name} cannot hold "
            f"(between {sample_weight[positive].min():.3g} and "
            f"{sample_weight.max():.3g}): divide the weights by a common factor "
            "to bring them near 1, or use dtype='float64'."
        )
    return sample_weight


class _ExplicitFactorModel(RegressorMixin, _BaseFactorModel):
    """Base of the models of explicit ratings (stars): predict and fold-in."""

    _parameter_constraints: dict = {
        **_BaseFactorModel._parameter_constraints,
        "clip": ["boolean"],
    }

    # Whether a new user can be folded in; a model that cannot hides fold_in,
    # recommend_for_ratings and predict_for_ratings.
    _can_fold_in = True

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Learn the factors and biases from rated (user, item) pairs.

        Parameters
        ----------
        X : array-like of shape (n_ratings, 2)
            User id and item id of each rating: an array, a list of pairs or a
            DataFrame with two columns. Ids may be ints of any size, strings or
            any hashable values, as long as each column's ids are comparable.

        y : array-like of shape (n_ratings,)
            The ratings.

        sample_weight : array-like of shape (n_ratings,), default=None
            Non-negative weight of each rating, see the objective. A weight of
            2 counts as the rating appearing twice (exactly so for ALS and
            Gibbs sampling).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        pairs, y = self._validate_pairs(X, y, reset=True)
        _check_scale(y, np.dtype(self.dtype))
        sample_weight = _check_weights(sample_weight, y, np.dtype(self.dtype))
        rng = check_random_state(self.random_state)
        (pairs, y, sample_weight), validation = self._split_validation(
            pairs, y, sample_weight, rng
        )
        return self._fit_pairs(pairs, y, sample_weight, rng, validation)

    def _split_validation(self, pairs, y, sample_weight, rng):
        """The data to train on and the held-out data (None without any)."""
        return (pairs, y, sample_weight), None

    def _encode_values(self, codes, y, sample_weight):
        """Ratings by user, minus their weighted mean; sets the mean and range."""
        users, items = codes
        self.intercept_ = float(np.average(y, weights=sample_weight))
        self.rating_range_ = (float(y.min()), float(y.max()))
        dtype = self._dtype
        unweighted = sample_weight is None or np.all(sample_weight == 1)
        n_users, n_items = self.users_.shape[0], self.items_.shape[0]
        indptr, items, values, weights = group_rows(
            users,
            n_users,
            items,
            (y - self.intercept_).astype(dtype),
            np.empty(0, dtype) if unweighted else sample_weight.astype(dtype),
        )
        return Ratings(
            users=np.repeat(np.arange(n_users, dtype=np.int32), np.diff(indptr)),
            items=items,
            values=values,
            weights=weights,
            n_users=n_users,
            n_items=n_items,
            indptr=indptr,
        )

    def _encode_validation(self, validation):
        pairs, y, weights = validation
        return (
            encode_ids(self._user_index, pairs.users),
            encode_ids(self._item_index, pairs.items),
            y,
            weights,
        )

    def _validation_score(self, model, validation, absolute=False):
        """Negative RMSE (MAE when ``absolute``) of the held-out ratings."""
        users, items, y, weights = validation
        error = self._predict_indices(model, users, items) - y
        if absolute:
            return -float(np.average(np.abs(error), weights=weights))
        return -math.sqrt(np.average(error**2, weights=weights))

    def _predict_indices(self, model, users, items):
        out = np.empty(users.shape[0], dtype=np.float64)
        predict_pairs(
            users,
            items,
            model.user_factors,
            model.item_factors,
            model.user_bias,
            model.item_bias,
            self.intercept_,
            out,
            self._predict_n_threads(),
        )
        if self.clip:
            np.clip(out, *self.rating_range_, out=out)
        return out

    def predict(self, X):
        """Predict the ratings of (user, item) pairs.

        A user or item not seen during fit contributes nothing: the prediction
        falls back to the global mean plus the bias of whichever of the two is
        known (the global mean alone when neither is). No error is raised, but
        a warning is when most pairs have unknown users, as happens when a
        cross-validation without shuffling holds out whole users.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2)
            User id and item id of each pair, as in :meth:`fit`.

        Returns
        -------
        y : ndarray of shape (n_pairs,)
            Predicted ratings.
        """
        check_is_fitted(self)
        pairs, _ = self._validate_pairs(X, reset=False)
        users = encode_ids(self._user_index, pairs.users, "users")
        items = encode_ids(self._item_index, pairs.items, "items")
        _warn_cold_users(users)
        return self._predict_indices(self._fitted_model(), users, items)

    def _fitted_model(self):
        return FactorModel(
            self.user_factors_, self.item_factors_, self.user_bias_, self.item_bias_
        )

    # Hooks of RecommenderMixin. Ranking by predicted rating fills a top-N
    # list with items that a few people rated highly (Cremonesi et al., 2010):
    # their bias is large and nobody's taste has been learnt on them. A useful
    # list holds items the user will rate *and* like, so the score is the log
    # of a popularity prior (the item's number of training ratings) tilted by
    # the user's own taste, the factor term of the prediction in units of the
    # rating range:
    #     score = log(1 + n_i) + w_u·h_i / (max rating - min rating)
    # The item bias is left out: popularity already rewards items that most
    # raters like, and the bias is what lifts the rarely rated ones. The user
    # bias moves all of a user's scores alike. A user without factors (unknown,
    # or folded in from no known item) gets the popularity ranking.
    # benchmarks/topn_ml100k.py measures the alternatives.

    def _user_vectors(self, codes):
        return self.user_factors_[codes], None

    def _scores(self, factors, bias, cols):
        low, high = self.rating_range_
        # One rating for every training pair (a constant y) leaves no taste.
        span = high - low if high > low else 1.0
        taste = (factors @ self.item_factors_[cols].T).astype(np.float64)
        return taste / span + self._unknown_user_scores(cols)

    def _unknown_user_scores(self, cols):
        return np.log1p(self.item_popularity_[cols].astype(np.float64))

    def _fold_in_penalty(self):
        """``(alpha, fit_biases)`` of the fold-in solve."""
        raise NotImplementedError

    def _fold_in_codes(self, codes, ratings):
        alpha, fit_biases = self._fold_in_penalty()
        try:
            return fold_in_row(
                self.item_factors_,
                self.item_bias_,
                codes.astype(np.int32),
                (ratings - self.intercept_).astype(self.item_factors_.dtype),
                alpha,
                fit_biases,
            )
        except SolverBreakdown as exc:
            raise ValueError(
                f"fold_in cannot solve the new user's factors: {exc} Refit with "
                f"alpha > 0 (now {alpha}) or dtype='float64'."
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


def _warn_cold_users(users):
    cold = int(np.count_nonzero(users < 0))
    if cold >= _MIN_COLD_PAIRS and cold > _COLD_USER_SHARE * users.shape[0]:
        warnings.warn(
            f"{cold} of the {users.shape[0]} pairs to predict have users not seen "
            "in fit: they get the fallback prediction (global mean plus item "
            "bias). If this is cross-validation on ratings sorted by user, the "
            "folds hold out whole users: use KFold(n_splits, shuffle=True, "
            "random_state=0) as cv to measure known users.",
            UserWarning,
            stacklevel=2,
        )
