"""Factorization machines over (user, item, attributes) tables.

Leaves of the explicit-ratings layer. X is a table whose first two columns are
the user and item ids and whose other columns are attributes of the user, of
the item or of the rating (its context); their roles are hyper-parameters.
The features are kept in three relation blocks (a row per user, per item and
per rating). ``_BaseFactorizationMachine`` codes them and predicts;
``BayesianFactorizationMachine`` samples them by Gibbs sampling
(``_solvers.fm_gibbs``) and ``FactorizationMachine`` fits them by SGD
(``_solvers.fm_sgd``) or coordinate-wise ALS (``_solvers.fm_als``), all
through the base's one training loop. See the "Factorization machines" page
of the user guide for the model and the design.
"""

import math
from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from ._base import _SGD_SCHEDULE_CONSTRAINTS, _STOPPING_CONSTRAINTS, _StoppingRule
from ._compat import Interval, StrOptions, _check_y, _fit_context
from ._encoding import encode_ids
from ._explicit import _check_scale, _check_weights, _ExplicitFactorModel
from ._solvers.fm_als import FMALSParams, FMALSSolver
from ._solvers.fm_gibbs import (
    Block,
    FMGibbsParams,
    FMGibbsSolver,
    FMParameters,
    FMPrior,
)
from ._solvers.fm_sgd import FMSGDParams, FMSGDSolver
from ._validation import Pairs, _check_ids, _column_values, check_ratings

# Noise precision of the first sweep, before it is first drawn.
_INITIAL_NOISE_PRECISION = 1.0
# Rows of X scored at once by predict: each needs n_samples * n_components
# numbers per block.
_PREDICT_NUMBERS = 4_000_000
_ROLES = ("user_features", "item_features", "context_features")
# Steps of FactorizationMachine when max_iter is None.
# Tuned on MovieLens 100K's fold u1 (benchmarks/fm_svdpp.py reports all five):
# SGD's test RMSE with implicit feedback still improves a little up to about
# 100 epochs at the default step size; ALS's barely moves after 15 sweeps.
_DEFAULT_MAX_ITER = {"sgd": 100, "als": 15}
# Improvement of the validation RMSE that early stopping counts when tol is
# None.
_EARLY_STOPPING_TOL = 1e-4


class _ColumnCoder:
    """One attribute column as features: one-hot categories, or one number.

    A numeric (not boolean) column is one feature, standardized with the mean
    and deviation of fit. Any other column is one-hot encoded over the values
    seen in fit; with ``sep``, a string such as ``"Action|Comedy"`` is the two
    features ``Action`` and ``Comedy``, each worth ``1 / sqrt(2)``. A value
    unknown at predict time contributes nothing.
    """

    # What skmf's model files store of a coder (see skmf._persistence).
    _record_fields = ("name", "sep", "numeric", "mean", "scale", "categories")

    def __init__(self, name, sep):
        self.name = name
        self.sep = sep

    def fit(self, column):
        _check_missing(column, self.name)
        dtype = column.dtype
        self.numeric = pd.api.types.is_numeric_dtype(
            dtype
        ) and not pd.api.types.is_bool_dtype(dtype)
        if self.numeric:
            values = column.to_numpy(dtype=np.float64)
            if not np.all(np.isfinite(values)):
                raise ValueError(
                    f"Column {self.name!r} of X has an infinite value; attributes "
                    "must be finite numbers or categories."
                )
            self.mean = float(values.mean())
            spread = float(values.std())
            self.scale = spread if spread > 0 else 1.0
            self.categories = pd.Index([self.name])
        else:
            _, tokens = self._tokens(column)
            self.categories = pd.Index(np.unique(tokens.astype(str)))
        return self

    @property
    def n_features(self):
        return len(self.categories)

    def _tokens(self, column):
        text = column.astype(str).to_numpy(dtype=object)
        if self.sep is None or not any(self.sep in value for value in text):
            return np.arange(len(text)), text
        parts = pd.Series(text).str.split(self.sep, regex=False).explode()
        return parts.index.to_numpy(), parts.to_numpy(dtype=object)

    def transform(self, column):
        """``(rows, cols, values)`` of the features of each value of the column."""
        _check_missing(column, self.name)
        if self.numeric:
            values = column.to_numpy(dtype=np.float64)
            if not np.all(np.isfinite(values)):
                raise ValueError(
                    f"Column {self.name!r} of X has an infinite value; attributes "
                    "must be finite numbers or categories."
                )
            rows = np.arange(len(values))
            return (
                rows,
                np.zeros(len(values), np.int64),
                (values - self.mean) / (self.scale),
            )
        rows, tokens = self._tokens(column)
        cols = self.categories.get_indexer(tokens.astype(str))
        counts = np.bincount(rows, minlength=len(column))
        values = 1.0 / np.sqrt(counts[rows])
        known = cols >= 0
        return rows[known], cols[known], values[known]


def _check_missing(column, name):
    missing = pd.isna(column).to_numpy()
    if missing.any():
        raise ValueError(
            f"Column {name!r} of X has a missing value (NaN or None) in row "
            f"{int(np.flatnonzero(missing)[0])}. Fill it first, e.g. with a "
            "category of its own, or with the column's mean for a number."
        )


def _sparse_columns(coders, frame, n_rows):
    """The attribute features of the rows of ``frame``, side by side (CSR)."""
    parts = []
    for name, coder in coders:
        rows, cols, values = coder.transform(frame[name])
        parts.append(
            sp.csr_matrix((values, (rows, cols)), shape=(n_rows, coder.n_features))
        )
    if not parts:
        return sp.csr_matrix((n_rows, 0))
    return sp.hstack(parts, format="csr")


def _id_columns(codes, n_ids):
    """One-hot of the known ids (a code of -1 has no feature)."""
    known = codes >= 0
    rows = np.flatnonzero(known)
    return sp.csr_matrix(
        (np.ones(rows.shape[0]), (rows, codes[known])), shape=(codes.shape[0], n_ids)
    )


def _history_rows(history, codes):
    """Rows of the implicit-feedback matrix for the codes (-1: no history)."""
    known = codes >= 0
    out = history[np.where(known, codes, 0)]
    # An unknown id has no history: zero its row.
    return sp.diags(known.astype(np.float64)) @ out


def _normalized_history(seen):
    """A users x items (or items x users) matrix of 1 / sqrt(row count)."""
    # A copy: the seen matrix shares its index arrays with the training
    # ratings, which sorting them in place would scramble.
    matrix = sp.csr_matrix(seen, dtype=np.float64, copy=True)
    matrix.data[:] = 1.0
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    counts = np.diff(matrix.indptr)
    matrix.data /= np.sqrt(np.repeat(np.maximum(counts, 1), counts))
    return matrix


class _BaseFactorizationMachine(_ExplicitFactorModel):
    """Abstract base of the factorization machines over (user, item, attributes).

    It holds what the solvers share: the column roles and their validation,
    the feature coding (ids, attributes, implicit feedback) into the user,
    item and context relation blocks, ``fit`` with sample weights, and the
    prediction from the kept parameters. A leaf supplies its solver, its
    objective and how it keeps its parameters (:meth:`_keep_parameters`):
    one set for a point estimate, ``n_samples`` of them for the Bayesian
    model, which prediction averages.
    """

    _parameter_constraints: dict = {
        **_ExplicitFactorModel._parameter_constraints,
        "user_features": [list, tuple, None],
        "item_features": [list, tuple, None],
        "context_features": [list, tuple, None],
        "implicit_feedback": [StrOptions({"none", "user", "item", "both"})],
        "multi_value_sep": [str, None],
    }

    _can_fold_in = False

    # ------------------------------------------------------------------
    # Hooks of the leaves.

    @property
    def _n_kept(self):
        """Number of parameter sets that prediction averages."""
        return 1

    @abstractmethod
    def _keep_parameters(self, model):
        """Set ``_w0_samples`` (n_kept,), ``_bias_samples`` (per block,
        n_features x n_kept) and ``_factor_samples`` (per block, n_features x
        n_kept * n_components) from the end of training."""

    def _check_fit_weights(self, sample_weight, y):
        """The sample weights as float64, or None for all ones."""
        return _check_weights(sample_weight, y, np.dtype(self.dtype))

    def _split_validation_rows(self, n, sample_weight, rng):
        """``(train, valid)`` positions of the rows, or None to keep them all."""
        return None

    # ------------------------------------------------------------------
    # Validation of the table.

    def _frame(self, X, reset):
        """X as a DataFrame with its columns checked against the roles."""
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, skip_check_array=True, reset=reset)
            frame = X
        else:
            X = validate_data(self, X, dtype=None, ensure_all_finite=False, reset=reset)
            frame = pd.DataFrame(X)
        if frame.shape[1] < 2:
            raise ValueError(
                "X must have the user id and the item id as its first two columns, "
                f"then any attribute columns; got {frame.shape[1]} column(s)."
            )
        if frame.shape[0] == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={frame.shape}) while a "
                "minimum of 1 is required."
            )
        self._check_roles(frame)
        for name in frame.columns[2:]:
            _check_missing(frame[name], name)
        return frame

    def _check_roles(self, frame):
        columns = list(frame.columns)
        attributes = columns[2:]
        owner = {}
        for role in _ROLES:
            for name in getattr(self, role) or ():
                if name in columns[:2]:
                    raise ValueError(
                        f"{role} names {name!r}, the "
                        f"{'user' if name == columns[0] else 'item'} id column; "
                        "attribute roles are for the columns after the two ids."
                    )
                if name not in attributes:
                    raise ValueError(
                        f"{role} names {name!r}, which is not a column of X; "
                        f"X's attribute columns are {attributes}."
                    )
                if name in owner:
                    raise ValueError(
                        f"Column {name!r} is in both {owner[name]} and {role}; "
                        "give each column one role."
                    )
                owner[name] = role
        for name in attributes:
            if name not in owner:
                raise ValueError(
                    f"Column {name!r} of X has no role: add it to user_features, "
                    "item_features or context_features, or drop it from X."
                )

    def _role_columns(self, role):
        return list(getattr(self, role) or ())

    @staticmethod
    def _pairs(frame):
        pairs = Pairs(*(_column_values(frame.iloc[:, j]) for j in range(2)))
        _check_ids(pairs)
        return pairs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Learn the model from rated (user, item, attributes) rows.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_ratings, n_columns)
            The user id and the item id of each rating as the first two
            columns, then the attribute columns named in ``user_features``,
            ``item_features`` and ``context_features``.

        y : array-like of shape (n_ratings,)
            The ratings.

        sample_weight : array-like of shape (n_ratings,), default=None
            Non-negative weight of each rating in the objective.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        name = type(self).__name__
        if y is None:
            raise ValueError(
                f"{name} requires y to be passed, but the target y is None."
            )
        y = check_ratings(y)
        frame = self._frame(X, reset=True)
        y = np.asarray(_check_y(y, y_numeric=True, estimator=self), np.float64)
        pairs = self._pairs(frame)
        check_consistent_length(pairs.users, y)
        _check_scale(y, np.dtype(self.dtype))
        sample_weight = self._check_fit_weights(sample_weight, y)
        rng = check_random_state(self.random_state)
        validation = None
        split = self._split_validation_rows(len(pairs), sample_weight, rng)
        if split is not None:
            train, valid = split
            validation = (
                frame.iloc[valid].reset_index(drop=True),
                y[valid],
                None if sample_weight is None else sample_weight[valid],
            )
            frame = frame.iloc[train].reset_index(drop=True)
            pairs = pairs.take(train)
            y = y[train]
            if sample_weight is not None:
                sample_weight = sample_weight[train]
        self._fit_frame = frame
        try:
            return self._fit_pairs(pairs, y, sample_weight, rng, validation)
        finally:
            del self._fit_frame

    # ------------------------------------------------------------------
    # The relation blocks.

    def _encode_values(self, codes, y, sample_weight):
        ratings = super()._encode_values(codes, y, sample_weight)
        # The ratings are now grouped by user, in their order within a user:
        # the same stable permutation puts the context rows beside them.
        self._fit_order = np.argsort(codes[0], kind="stable")
        self._fit_codes = codes
        return ratings

    def _block_matrix(self, side, codes, frame):
        """The block rows of ``codes`` (-1: unknown) with the attributes of
        ``frame``'s rows: ``[id | attributes | history]``."""
        n_ids = len(self.users_ if side == "user" else self.items_)
        parts = [_id_columns(codes, n_ids)]
        parts.append(_sparse_columns(self._coders[side], frame, codes.shape[0]))
        if self._history[side] is not None:
            parts.append(_history_rows(self._history[side], codes))
        return sp.hstack(parts, format="csr")

    def _initial_model(self, rng, ratings):
        """The relation blocks of the training data and the starting point."""
        frame = self._fit_frame
        users, items = self._fit_codes
        order = self._fit_order
        del self._fit_codes, self._fit_order
        sep = self.multi_value_sep
        self._coders, self._history, self.groups_ = {}, {}, []
        self._fitted_attributes = {}
        implicit = self.implicit_feedback
        seen = self._seen
        histories = {
            "user": _normalized_history(seen) if implicit in ("user", "both") else None,
            "item": _normalized_history(seen.T.tocsr())
            if implicit in ("item", "both")
            else None,
        }
        blocks, groups = [], []
        for side, codes, n_ids in (
            ("user", users, ratings.n_users),
            ("item", items, ratings.n_items),
        ):
            names = self._role_columns(f"{side}_features")
            # Each id's attributes are those of its first row; rows that
            # disagree would be silently merged, so they are an error.
            first = np.unique(codes, return_index=True)[1]
            attributes = frame.iloc[first][names].reset_index(drop=True)
            for name in names:
                # One pass per column against each id's first row (a groupby
                # over 10M rows would take gigabytes).
                column = frame[name]
                if isinstance(column.dtype, pd.CategoricalDtype):
                    values = column.cat.codes.to_numpy()
                else:
                    values = column.to_numpy()
                differ = np.flatnonzero(values != values[first][codes])
                if len(differ):
                    which = (self.users_ if side == "user" else self.items_)[
                        codes[differ[0]]
                    ]
                    which = which.item() if hasattr(which, "item") else which
                    owner = "a user" if side == "user" else "an item"
                    raise ValueError(
                        f"{side.capitalize()} {which!r} has different values of "
                        f"{name!r} on different rows; {owner}'s attributes "
                        "must be the same on each of its rows (or move the "
                        "column to context_features)."
                    )
            self._coders[side] = [
                (name, _ColumnCoder(name, sep).fit(attributes[name])) for name in names
            ]
            self._history[side] = histories[side]
            self._fitted_attributes[side] = _sparse_columns(
                self._coders[side], attributes, n_ids
            )
            matrix = self._fitted_rows(side, np.arange(n_ids, dtype=np.int32))
            block_groups = [np.full(n_ids, len(self.groups_))]
            self.groups_.append(f"{side} id")
            for name, coder in self._coders[side]:
                block_groups.append(np.full(coder.n_features, len(self.groups_)))
                self.groups_.append(f"{side} {name}")
            if histories[side] is not None:
                other = ratings.n_items if side == "user" else ratings.n_users
                block_groups.append(np.full(other, len(self.groups_)))
                self.groups_.append(
                    "items rated by the user"
                    if side == "user"
                    else "users who rated the item"
                )
            rows = ratings.users if side == "user" else ratings.items
            groups.append(np.concatenate(block_groups))
            blocks.append(Block(matrix, rows, groups[-1]))
        names = self._role_columns("context_features")
        self._coders["context"] = [
            (name, _ColumnCoder(name, sep).fit(frame[name])) for name in names
        ]
        if names:
            context = frame[names].iloc[order].reset_index(drop=True)
            matrix = _sparse_columns(self._coders["context"], context, len(order))
            block_groups = []
            for name, coder in self._coders["context"]:
                block_groups.append(np.full(coder.n_features, len(self.groups_)))
                self.groups_.append(f"context {name}")
            blocks.append(
                Block(matrix, np.arange(len(order)), np.concatenate(block_groups))
            )
        self._blocks = blocks

        init_rng = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
        return FMParameters(
            bias=0.0,
            biases=[np.zeros(block.n_features) for block in blocks],
            factors=[
                init_rng.standard_normal((block.n_features, self.n_components))
                * self.init_std
                for block in blocks
            ],
        )

    def _set_fitted_model(self, model):
        self._keep_parameters(model)
        del self._blocks
        sides = self._side_parts()
        self.user_factors_ = sides["user"][0]
        self.item_factors_ = sides["item"][0]
        self.user_bias_ = sides["user"][1].astype(self._dtype)
        self.item_bias_ = (sides["item"][1] + self._w0_samples.mean()).astype(
            self._dtype
        )

    def _side_parts(self):
        """``{side: (factors, bias)}``: each training user's and item's summed
        vectors of every kept sample, side by side and divided by the square
        root of their number, and its own part of the prediction, averaged."""
        n_kept = self._n_kept
        scale = 1.0 / math.sqrt(n_kept)
        k = self.n_components
        sides = {}
        for side in ("user", "item"):
            n_ids = len(self.users_ if side == "user" else self.items_)
            factors = np.empty((n_ids, n_kept * k), self._dtype)
            bias = np.empty(n_ids, np.float64)
            # In bounded groups of ids: the whole side's scratch would be
            # several times its factors (gigabytes at 10M ratings).
            step = max(1, _PREDICT_NUMBERS // max(n_kept * k, 1))
            for start in range(0, n_ids, step):
                codes = np.arange(start, min(start + step, n_ids), dtype=np.int32)
                linear, q = self._parts(
                    0 if side == "user" else 1, self._fitted_rows(side, codes)
                )
                q3 = q.reshape(len(codes), n_kept, -1)
                own = linear + 0.5 * np.einsum("rsk,rsk->rs", q3, q3)
                factors[codes] = q * scale
                bias[codes] = own.mean(axis=1)
            sides[side] = (factors, bias)
        return sides

    def _fitted_rows(self, side, codes):
        """The training ids' block rows, with the attributes they had in fit."""
        n_ids = len(self.users_ if side == "user" else self.items_)
        parts = [_id_columns(codes, n_ids), self._fitted_attributes[side][codes]]
        if self._history[side] is not None:
            parts.append(_history_rows(self._history[side], codes))
        return sp.hstack(parts, format="csr")

    def _parts(self, k, matrix, parameters=None):
        """``(linear, q)`` of block ``k``'s rows ``matrix`` for every kept
        parameter set: (n_rows, n_kept) and (n_rows, n_kept * n_components).

        ``parameters`` is ``(n_kept, biases, factors)``, by default the kept
        ones.
        """
        n_kept, biases, factors = parameters or (
            self._n_kept,
            self._bias_samples,
            self._factor_samples,
        )
        w = np.asarray(biases[k], dtype=np.float64)
        v = np.asarray(factors[k], dtype=np.float64)
        q = matrix @ v
        # (B∘B)(V∘V) as (B∘B) V∘V row by row of V: no copy of V squared,
        # which is the size of the whole block's factors.
        squares = (matrix.multiply(matrix)).tocsr()
        squares = _squared_product(squares, v)
        n_rows = matrix.shape[0]
        diagonal = squares.reshape(n_rows, n_kept, -1).sum(axis=2)
        return matrix @ w - 0.5 * diagonal, q

    # ------------------------------------------------------------------
    # Prediction.

    def predict(self, X):
        """Predict the ratings of (user, item, attributes) rows.

        Known users and items bring their id and history features; every row's
        attributes come from X, so that a user or item never seen in fit is
        predicted from its attributes alone.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_pairs, n_columns)
            The same columns as in :meth:`fit`.

        Returns
        -------
        y : ndarray of shape (n_pairs,)
            Predicted ratings (for the Bayesian model, the average over the
            kept samples).
        """
        check_is_fitted(self)
        frame = self._frame(X, reset=False)
        layout = self._prediction_layout(frame)
        parameters = (self._n_kept, self._bias_samples, self._factor_samples)
        return self._predict_layout(layout, self._w0_samples, parameters)

    def _prediction_layout(self, frame):
        """The block rows of ``frame``'s rows: for the user and the item block
        the distinct rows and each row's index among them, and the context
        block's rows (or None)."""
        pairs = self._pairs(frame)
        n = len(pairs)
        users = encode_ids(self._user_index, pairs.users, "users")
        items = encode_ids(self._item_index, pairs.items, "items")
        per_side = []
        for side, codes in (("user", users), ("item", items)):
            names = self._role_columns(f"{side}_features")
            keys = pd.DataFrame({"__id": codes})
            for name in names:
                keys[name] = frame[name].to_numpy()
            index, uniques = _group_rows(keys)
            matrix = self._block_matrix(
                side, uniques["__id"].to_numpy(np.int32), uniques
            )
            per_side.append((index, matrix))
        context = None
        if self._coders["context"]:
            names = self._role_columns("context_features")
            context = _sparse_columns(
                self._coders["context"], frame[names].reset_index(drop=True), n
            )
        return n, per_side, context

    def _predict_layout(self, layout, w0, parameters):
        """Predictions of the rows of ``layout`` under ``parameters`` (see
        :meth:`_parts`), averaged over the parameter sets."""
        n, per_side, context = layout
        s = parameters[0]
        total_linear = np.zeros((n, s)) + w0
        per_row = []
        for k, (index, matrix) in enumerate(per_side):
            linear, q = self._parts(k, matrix, parameters)
            total_linear += linear[index]
            per_row.append((index, q))
        if context is not None:
            linear, _ = self._parts(2, context, parameters)
            total_linear += linear
        out = np.empty(n)
        width = s * self.n_components
        step = max(1, _PREDICT_NUMBERS // width)
        for start in range(0, n, step):
            rows = slice(start, min(n, start + step))
            q = sum(q[index[rows]] for index, q in per_row)
            if context is not None:
                q = q + context[rows] @ parameters[2][2].astype(np.float64)
            pairwise = 0.5 * np.sum(q.reshape(q.shape[0], s, -1) ** 2, axis=2)
            out[rows] = (total_linear[rows] + pairwise).mean(axis=1)
        out += self.intercept_
        if self.clip:
            np.clip(out, *self.rating_range_, out=out)
        return out


class BayesianFactorizationMachine(_BaseFactorizationMachine):
    r"""Bayesian factorization machine over user, item and attribute columns.

    A factorization machine (Rendle, 2010) gives each feature :math:`j` a bias
    :math:`w_j` and a factor vector :math:`v_j` and predicts

    .. math::

        \hat r(x) = \mu + w_0 + \sum_j w_j x_j
        + \sum_{j < j'} \langle v_j, v_{j'} \rangle x_j x_{j'}.

    The features of a rating are its user's id, its item's id, the attributes
    of the user (columns named in ``user_features``), of the item
    (``item_features``) and of the rating (``context_features``), and, with
    ``implicit_feedback``, the items the user rated and the users who rated
    the item in the *training* data, each weighted by one over the square
    root of their number. With the ids alone the model is Bayesian biased
    matrix factorization.

    Each group of features (the user ids, the item ids, each attribute
    column, each implicit-feedback set) has its own Gaussian prior for the
    biases and for each factor, with a Normal-Gamma hyper-prior; the noise
    precision has a Gamma prior. A Gibbs sampler draws every parameter from
    its conditional posterior, computing each user's and each item's part of
    the ratings once per sweep (the relation blocks of Rendle, 2013), and the
    prediction is the average over the ``n_samples`` sweeps kept after the
    ``burn_in``, clipped to the training range.

    A user or an item unknown at predict time has no id feature and no
    history, but the attributes of its row still describe it: the model
    predicts for new users and items from their attributes (cold start).

    A new user cannot be folded in from their ratings: a new user's posterior
    needs each sample's group priors and noise precision, which are not kept.
    The model therefore has no ``fold_in``, ``recommend_for_ratings`` or
    ``predict_for_ratings``; refit with the user's ratings, predict from the
    user's attributes, or use :class:`FactorizationMachine`, which folds in.

    Parameters
    ----------
    n_components : int, default=10
        Length K of the factor vectors.

    user_features : list of str or int, default=None
        Columns of X (names, or positions for an array) that describe the user.
        A user's values must be the same on each of its rows.

    item_features : list of str or int, default=None
        Columns of X that describe the item.

    context_features : list of str or int, default=None
        Columns of X that describe the rating itself (e.g. its date).

    implicit_feedback : {"none", "user", "item", "both"}, default="none"
        Add the items each user rated ("user", as in SVD++), the users who
        rated each item ("item"), or both, learned from the training pairs
        only.

    multi_value_sep : str or None, default="|"
        Separator of the values of a multi-valued categorical column
        ("Action|Comedy"); None treats every string as one category.

    n_samples : int, default=100
        Number of sweeps kept after the burn-in and averaged.

    burn_in : int, default=20
        Number of sweeps run before the first kept sample.

    prior_shape : float, default=1.0
        :math:`\alpha_0` of the Gamma hyper-priors of the group precisions and
        of the noise precision, in libFM's parametrization: a group of
        :math:`n` parameters draws its precision from
        :math:`\Gamma((\alpha_0 + n + 1) / 2, (\beta_0 + S) / 2)`, with
        :math:`S` their squared spread around the group mean.

    prior_rate : float, default=1.0
        :math:`\beta_0` of those Gamma hyper-priors.

    prior_strength : float, default=1.0
        :math:`\gamma_0`: how many features' worth of confidence the prior of
        each group mean has in its mean 0.

    noise : {"both", "user", "item", "shared"}, default="both"
        Whose ratings share a noise level. "shared": one noise precision
        :math:`\tau` for every rating. "user", "item", "both": rating
        :math:`(u, i)` has precision :math:`\tau s_u t_i`, with a scale
        :math:`s_u` per user, :math:`t_i` per item (the other is 1 unless
        "both"), each drawn from its conditional posterior under a
        :math:`\Gamma(\nu / 2, \nu / 2)` prior of mean 1 (robust Bayesian
        matrix factorization, Lakshminarayanan et al., 2011). The ratings of
        users and items whose ratings the model explains badly then weigh
        less in what is learned from them. It changes what is learned, not
        how a prediction is made.

    noise_strength : float, default=100.0
        :math:`\nu`: how many ratings' worth of confidence the prior of each
        scale has in its mean 1. A user with far fewer ratings keeps a scale
        near 1; a large value gives back the shared noise level.

    init_std : float, default=0.1
        Standard deviation of the normal distribution the factors start from.

    clip : bool, default=True
        Clip predictions to the range of the training ratings.

    dtype : {"float32", "float64"}, default="float64"
        Floating point type of the stored samples; the sampler itself works in
        float64.

    n_jobs : int or None, default=None
        Number of threads of the compiled kernels; None means all cores,
        except for small data sets, which run on one thread. The fitted model
        does not depend on it.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial factors and the sampler.

    verbose : int, default=0
        Print one line of progress per sweep when positive.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, n_components * n_samples)
        Each training user's summed feature vectors (id, attributes, history)
        of every kept sample, side by side, divided by ``sqrt(n_samples)``.

    item_factors_ : ndarray of shape (n_items, n_components * n_samples)
        The same for the training items.

    user_bias_ : ndarray of shape (n_users,)
        The user's part of the prediction that does not depend on the item,
        averaged over the samples.

    item_bias_ : ndarray of shape (n_items,)
        The same for the items, with the global bias :math:`w_0`.

    intercept_ : float
        The mean of the training ratings :math:`\mu`.

    groups_ : list of str
        Names of the feature groups, each with its own prior.

    noise_precision_ : float
        Average of the noise precision :math:`\tau` over the kept samples.

    user_noise_scale_ : ndarray of shape (n_users,)
        Average of each training user's scale :math:`s_u` of the noise
        precision over the kept samples (ones unless ``noise`` is "user" or
        "both"): below 1 for a user whose ratings the model explains worse
        than the others'.

    item_noise_scale_ : ndarray of shape (n_items,)
        The same for the items' scales :math:`t_i`.

    users_ : ndarray of shape (n_users,)
        The raw user ids, sorted, in factor-row order.

    items_ : ndarray of shape (n_items,)
        The raw item ids, sorted, in factor-row order.

    rating_range_ : tuple of float
        Smallest and largest training rating.

    n_iter_ : int
        Number of sweeps run: ``burn_in + n_samples``.

    loss_curve_ : list of float
        Training RMSE of each sweep's sample.

    item_popularity_ : ndarray of shape (n_items,)
        Number of training ratings of each item.

    fit_time_ : float
        Seconds the last fit took.

    n_features_in_ : int
        Number of columns of X seen during fit.

    feature_names_in_ : ndarray of shape (n_columns,)
        Column names of X when it was a DataFrame with string column names.

    See Also
    --------
    BayesianMatrixFactorization : The same sampler over the ids alone.

    References
    ----------
    S. Rendle, "Factorization machines", ICDM 2010.

    S. Rendle, "Scaling factorization machines to relational data", VLDB 2013.

    C. Freudenthaler, L. Schmidt-Thieme and S. Rendle, "Bayesian factorization
    machines", NIPS workshop on sparse representation and low-rank
    approximation, 2011.

    B. Lakshminarayanan, G. Bouchard and C. Archambeau, "Robust Bayesian
    matrix factorisation", AISTATS 2011.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmf import BayesianFactorizationMachine
    >>> X = pd.DataFrame({
    ...     "user": ["ann", "ann", "bob", "bob", "cat"],
    ...     "item": ["up", "jaws", "up", "cars", "jaws"],
    ...     "genre": ["Animation", "Thriller", "Animation", "Animation|Comedy",
    ...               "Thriller"],
    ... })
    >>> fm = BayesianFactorizationMachine(
    ...     n_components=2, item_features=["genre"], implicit_feedback="user",
    ...     n_samples=10, burn_in=5, random_state=0,
    ... ).fit(X, [5, 1, 4, 4, 2])
    >>> new = pd.DataFrame({"user": ["ann"], "item": ["toy story"],
    ...                     "genre": ["Animation"]})
    >>> fm.predict(new).shape
    (1,)
    """

    _parameter_constraints: dict = {
        **_BaseFactorizationMachine._parameter_constraints,
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "burn_in": [Interval(Integral, 0, None, closed="left")],
        "prior_shape": [Interval(Real, 0, None, closed="neither")],
        "prior_rate": [Interval(Real, 0, None, closed="neither")],
        "prior_strength": [Interval(Real, 0, None, closed="neither")],
        "noise": [StrOptions({"both", "user", "item", "shared"})],
        "noise_strength": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        n_components=10,
        *,
        user_features=None,
        item_features=None,
        context_features=None,
        implicit_feedback="none",
        multi_value_sep="|",
        n_samples=100,
        burn_in=20,
        prior_shape=1.0,
        prior_rate=1.0,
        prior_strength=1.0,
        noise="both",
        noise_strength=100.0,
        init_std=0.1,
        clip=True,
        dtype="float64",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.user_features = user_features
        self.item_features = item_features
        self.context_features = context_features
        self.implicit_feedback = implicit_feedback
        self.multi_value_sep = multi_value_sep
        self.n_samples = n_samples
        self.burn_in = burn_in
        self.prior_shape = prior_shape
        self.prior_rate = prior_rate
        self.prior_strength = prior_strength
        self.noise = noise
        self.noise_strength = noise_strength
        self.init_std = init_std
        self.clip = clip
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------
    # Hooks of the base.

    def _check_params(self, n_train):
        self._dtype = np.dtype(self.dtype).type
        self._max_iter = self.burn_in + self.n_samples

    def _parallel_work(self, n_ratings):
        # One kernel call passes over every rating twice.
        return 20.0 * n_ratings

    def _make_solver(self, ratings, model, rng):
        self._solver_params = FMGibbsParams(
            prior=FMPrior(
                shape=float(self.prior_shape),
                rate=float(self.prior_rate),
                strength=float(self.prior_strength),
            ),
            n_groups=len(self.groups_),
            initial_noise_precision=_INITIAL_NOISE_PRECISION,
            n_threads=self._fit_n_threads(ratings.n_ratings),
            noise=self.noise,
            noise_strength=float(self.noise_strength),
        )
        k, s = self.n_components, self.n_samples
        # np.zeros, not np.empty: calloc's pages are not advised as huge
        # pages, whose first touch (the kernel compacting memory for them)
        # made keeping the samples 4 times slower on the benchmark machine.
        self._samples = {
            "bias": np.zeros(s),
            "biases": [np.zeros((b.n_features, s), self._dtype) for b in self._blocks],
            "factors": [
                np.zeros((b.n_features, s * k), self._dtype) for b in self._blocks
            ],
            "noise": np.zeros(s),
            # Sums of the noise scales over the kept samples.
            "user_scale": np.zeros(ratings.n_users),
            "item_scale": np.zeros(ratings.n_items),
        }
        # The fitted users' and items' parts, sample by sample from the
        # sweep's own block-row sums: at the end they would cost a product
        # of each block with every kept sample's factors.
        self._sides_so_far = {
            side: (np.zeros((n_ids, s * k), self._dtype), np.zeros(n_ids))
            for side, n_ids in (("user", ratings.n_users), ("item", ratings.n_items))
        }
        self._squares = [
            sp.csr_matrix(b.matrix().multiply(b.matrix())) for b in self._blocks[:2]
        ]
        self._n_kept_so_far = 0
        self._n_train = ratings.n_ratings
        return FMGibbsSolver(ratings, model, self._solver_params, rng, self._blocks)

    def _divergence_subject(self):
        return "The Gibbs sampler broke down"

    def _divergence_hint(self):
        return (
            "Bring the ratings and numeric attributes to a smaller scale, or "
            "raise prior_rate."
        )

    def _factors_text(self):
        return f"{self.n_components} factors x {self.n_samples} samples per row"

    def _progress_text(self, solver):
        phase = "burn-in" if self.n_iter_ <= self.burn_in else "sample"
        return (
            f" ({phase}): training RMSE {self.loss_curve_[-1]:.5f}, noise "
            f"precision {solver.noise_precision:.3f}"
        )

    def _training_loss(self, data_loss, model):
        return math.sqrt(data_loss / self._n_train)

    def _after_step(self, iteration, model, solver):
        if iteration <= self.burn_in:
            return
        s, k = self._n_kept_so_far, self.n_components
        kept = self._samples
        kept["bias"][s] = model.bias
        kept["noise"][s] = solver.noise_precision
        for side in ("user", "item"):
            kept[f"{side}_scale"] += solver.noise_scales.get(side, 1.0)
        for out, w in zip(kept["biases"], model.biases, strict=True):
            out[:, s] = w
        for out, v in zip(kept["factors"], model.factors, strict=True):
            out[:, s * k : (s + 1) * k] = v
        scale = 1.0 / math.sqrt(self.n_samples)
        for b, side in enumerate(("user", "item")):
            block, w, v = self._blocks[b], model.biases[b], model.factors[b]
            q = solver.block_row_sums(b)
            factors, own = self._sides_so_far[side]
            factors[:, s * k : (s + 1) * k] = q * scale
            own += block.matrix() @ w
            own -= 0.5 * (self._squares[b] @ np.einsum("jk,jk->j", v, v))
            own += 0.5 * np.einsum("rk,rk->r", q, q)
        self._n_kept_so_far += 1

    @property
    def _n_kept(self):
        return self.n_samples

    def _keep_parameters(self, model):
        kept = self._samples
        self.bias_samples_ = kept["bias"]
        self.noise_precision_ = float(kept["noise"].mean())
        self.user_noise_scale_ = kept["user_scale"] / self.n_samples
        self.item_noise_scale_ = kept["item_scale"] / self.n_samples
        self._w0_samples = kept["bias"]
        self._bias_samples = kept["biases"]
        self._factor_samples = kept["factors"]
        del self._samples, self._n_kept_so_far, self._squares

    def _side_parts(self):
        sides = self._sides_so_far
        del self._sides_so_far
        return {side: (f, own / self.n_samples) for side, (f, own) in sides.items()}


class FactorizationMachine(_BaseFactorizationMachine):
    r"""Factorization machine over user, item and attribute columns, by SGD or ALS.

    A factorization machine (Rendle, 2010) gives each feature :math:`j` a bias
    :math:`w_j` and a factor vector :math:`v_j` and predicts

    .. math::

        \hat r(x) = \mu + w_0 + \sum_j w_j x_j
        + \sum_{j < j'} \langle v_j, v_{j'} \rangle x_j x_{j'}.

    The features are those of :class:`BayesianFactorizationMachine`: the
    user's and the item's ids, the attribute columns named in
    ``user_features``, ``item_features`` and ``context_features``, and with
    ``implicit_feedback`` the items each user rated (as in SVD++) and the
    users who rated each item, in the training data only. Both solvers
    minimise one objective over the ratings :math:`n` with sample weights
    :math:`s_n`,

    .. math::

        \sum_n s_n (r_n - \hat r(x_n))^2
        + \sum_j \left( \alpha_w w_j^2 + \alpha \|v_j\|^2 \right),

    where :math:`\mu` is the weighted mean rating, :math:`\alpha_w` is
    ``alpha_bias`` and :math:`w_0` is not penalized. ``"als"`` is the
    coordinate-wise alternating least squares of libFM: each sweep solves
    every parameter exactly with the others fixed.
    ``"sgd"`` is stochastic gradient descent that runs each user's ratings
    together, so that the user's features (with the whole implicit-feedback
    history) are summed and stepped once per epoch rather than once per
    rating, which keeps SVD++-style features cheap. A user or an item unknown
    at predict time is predicted from the attributes of its row (cold start).

    :meth:`fold_in` gives a new user, known by their ratings alone, the id
    bias and factors that minimise the objective above with every fitted
    parameter fixed (one ``(K + 1) x (K + 1)`` solve), with the implicit
    feedback of the rated items when ``implicit_feedback`` includes the
    user's history; :meth:`recommend_for_ratings` and
    :meth:`predict_for_ratings` use it. The user's attribute and context
    columns are not part of it.

    Parameters
    ----------
    n_components : int, default=10
        Length K of the factor vectors.

    solver : {"als", "sgd"}, default="als"
        The solver, see above. ALS needs no step size; SGD's epochs are
        cheaper than ALS's sweeps.

    alpha : float, default=15.0
        Strength of the L2 penalty of the factors, see the objective above.
        Must be positive for ``solver="als"``.

    alpha_bias : float, default=1.0
        Strength of the penalty of the biases :math:`w_j`, which need less of
        it than the factors: a bias is one number per feature, and a small
        penalty lets a feature seen in few ratings keep its mean.

    user_features : list of str or int, default=None
        Columns of X (names, or positions for an array) that describe the user.
        A user's values must be the same on each of its rows.

    item_features : list of str or int, default=None
        Columns of X that describe the item.

    context_features : list of str or int, default=None
        Columns of X that describe the rating itself (e.g. its date).

    implicit_feedback : {"none", "user", "item", "both"}, default="none"
        Add the items each user rated ("user", as in SVD++), the users who
        rated each item ("item"), or both, learned from the training pairs
        only.

    multi_value_sep : str or None, default="|"
        Separator of the values of a multi-valued categorical column
        ("Action|Comedy"); None treats every string as one category.

    learning_rate : float, default=0.05
        Initial SGD step size. Only used when ``solver="sgd"``.

    learning_rate_schedule : {"exponential", "constant"}, default="exponential"
        ``"exponential"``: the step size is multiplied by ``decay_rate`` after
        every ``decay_steps`` updates; ``"constant"``: it stays at
        ``learning_rate``. Only used when ``solver="sgd"``.

    decay_rate : float, default=0.96
        Factor applied to the step size at each decay. Only used when
        ``solver="sgd"`` and ``learning_rate_schedule="exponential"``.

    decay_steps : int or None, default=None
        Number of updates between two decays; None means once per epoch.
        Only used when ``solver="sgd"``.

    max_iter : int or None, default=None
        Number of epochs (SGD) or sweeps (ALS). None means 100 for SGD and
        15 for ALS.

    tol : float or None, default=None
        When not None, training stops once the training objective (or the
        validation score, with ``early_stopping``) has failed to improve by at
        least ``tol`` for ``n_iter_no_change`` consecutive steps, with a
        :class:`~sklearn.exceptions.ConvergenceWarning` if ``max_iter`` is
        reached first. None runs exactly ``max_iter`` steps, unless
        ``early_stopping`` is on, where None means 1e-4.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, score them after every
        step, stop when the score stops improving, and keep the parameters of
        the best step. The held-out rows do not enter the histories.

    validation_fraction : float, default=0.1
        Fraction of the rows held out when ``early_stopping`` is True.

    n_iter_no_change : int, default=5
        Number of steps without improvement before stopping.

    init_std : float, default=0.1
        Standard deviation of the normal distribution the factors start from.

    clip : bool, default=True
        Clip predictions to the range of the training ratings.

    dtype : {"float32", "float64"}, default="float64"
        Floating point type of the stored parameters; the solvers work in
        float64.

    n_jobs : int or None, default=None
        Number of threads of the compiled kernels; None means all cores,
        except for small data sets, which run on one thread. ALS's fit does
        not depend on it; SGD's threads update shared items without locks, so
        its fit on several threads varies from run to run by rounding.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial factors, the SGD visiting order and the validation
        split.

    verbose : int, default=0
        Print one line of progress per step when positive.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, n_components)
        Each training user's summed feature vectors (id, attributes, history).

    item_factors_ : ndarray of shape (n_items, n_components)
        The same for the training items.

    user_bias_ : ndarray of shape (n_users,)
        The user's part of the prediction that does not depend on the item.

    item_bias_ : ndarray of shape (n_items,)
        The same for the items, with the global bias :math:`w_0`.

    intercept_ : float
        The weighted mean of the training ratings :math:`\mu`.

    groups_ : list of str
        Names of the feature groups.

    users_ : ndarray of shape (n_users,)
        The raw user ids, sorted, in factor-row order.

    items_ : ndarray of shape (n_items,)
        The raw item ids, sorted, in factor-row order.

    rating_range_ : tuple of float
        Smallest and largest training rating.

    n_iter_ : int
        Number of epochs or sweeps run.

    loss_curve_ : list of float
        The objective per unit of sample weight after each step. SGD measures
        the error of each rating just before its step.

    validation_scores_ : list of float or None
        Negative RMSE of the held-out rows after each step; None without
        ``early_stopping``.

    best_validation_score_ : float or None
        Best of ``validation_scores_``, the step whose parameters are kept.

    item_popularity_ : ndarray of shape (n_items,)
        Number of training ratings of each item.

    fit_time_ : float
        Seconds the last fit took.

    n_features_in_ : int
        Number of columns of X seen during fit.

    feature_names_in_ : ndarray of shape (n_columns,)
        Column names of X when it was a DataFrame with string column names.

    See Also
    --------
    BayesianFactorizationMachine : The same model by Gibbs sampling, with
        per-group priors instead of a penalty to tune.
    MatrixFactorization : Biased matrix factorization over the ids alone.

    References
    ----------
    S. Rendle, "Factorization machines", ICDM 2010.

    S. Rendle, "Factorization machines with libFM", ACM TIST 3(3), 2012.

    S. Rendle, "Scaling factorization machines to relational data", VLDB 2013.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmf import FactorizationMachine
    >>> X = pd.DataFrame({
    ...     "user": ["ann", "ann", "bob", "bob", "cat"],
    ...     "item": ["up", "jaws", "up", "cars", "jaws"],
    ...     "genre": ["Animation", "Thriller", "Animation", "Animation|Comedy",
    ...               "Thriller"],
    ... })
    >>> fm = FactorizationMachine(
    ...     n_components=2, solver="sgd", item_features=["genre"],
    ...     implicit_feedback="user", random_state=0,
    ... ).fit(X, [5, 1, 4, 4, 2])
    >>> new = pd.DataFrame({"user": ["ann"], "item": ["toy story"],
    ...                     "genre": ["Animation"]})
    >>> fm.predict(new).shape
    (1,)
    """

    _parameter_constraints: dict = {
        **_BaseFactorizationMachine._parameter_constraints,
        "solver": [StrOptions({"als", "sgd"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "alpha_bias": [Interval(Real, 0, None, closed="left")],
        **_SGD_SCHEDULE_CONSTRAINTS,
        **_STOPPING_CONSTRAINTS,
    }

    _has_early_stopping = True

    def __init__(
        self,
        n_components=10,
        *,
        solver="als",
        alpha=15.0,
        alpha_bias=1.0,
        user_features=None,
        item_features=None,
        context_features=None,
        implicit_feedback="none",
        multi_value_sep="|",
        learning_rate=0.05,
        learning_rate_schedule="exponential",
        decay_rate=0.96,
        decay_steps=None,
        max_iter=None,
        tol=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        init_std=0.1,
        clip=True,
        dtype="float64",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.solver = solver
        self.alpha = alpha
        self.alpha_bias = alpha_bias
        self.user_features = user_features
        self.item_features = item_features
        self.context_features = context_features
        self.implicit_feedback = implicit_feedback
        self.multi_value_sep = multi_value_sep
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.decay_rate = decay_rate
        self.decay_steps = decay_steps
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.init_std = init_std
        self.clip = clip
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------
    # Hooks of the base.

    def _check_params(self, n_train):
        if self.solver == "als" and self.alpha <= 0:
            raise ValueError(
                "solver='als' needs alpha > 0: without a penalty a feature seen "
                "in few ratings has no unique solution. Set alpha > 0 or use "
                "solver='sgd'."
            )
        self._dtype = np.dtype(self.dtype).type
        if self.max_iter is not None:
            self._max_iter = self.max_iter
        else:
            self._max_iter = _DEFAULT_MAX_ITER[self.solver]

    def _split_validation_rows(self, n, sample_weight, rng):
        if not self.early_stopping:
            return None
        n_valid = math.ceil(self.validation_fraction * n)
        if n - n_valid < 1:
            raise ValueError(
                f"early_stopping holds out {n_valid} of {n} ratings, leaving "
                "none to train on. Lower validation_fraction or pass more data."
            )
        shuffled = rng.permutation(n)
        train, valid = np.sort(shuffled[n_valid:]), np.sort(shuffled[:n_valid])
        if sample_weight is not None:
            for name, part in (("training", train), ("validation", valid)):
                if not np.any(sample_weight[part] > 0):
                    raise ValueError(
                        f"early_stopping's {name} part has only zero sample "
                        "weights, so it has nothing to learn or score. Lower "
                        "the share of zero weights, change validation_fraction "
                        "or random_state, or drop the zero-weight ratings."
                    )
        return train, valid

    def _stopping_rule(self, validation):
        if not self.early_stopping and self.tol is None:
            return None
        tol = self.tol
        if tol is None:
            tol = _EARLY_STOPPING_TOL if self.early_stopping else 0.0
        return _StoppingRule(tol, self.n_iter_no_change, validation)

    def _parallel_work(self, n_ratings):
        if self.solver == "sgd":
            # A call's threads meet once, at its end.
            return 4.0 * n_ratings * self.n_components
        return 20.0 * n_ratings

    def _make_solver(self, ratings, model, rng):
        n_groups = len(self.groups_)
        penalty = np.full(n_groups, float(self.alpha))
        bias_penalty = np.full(n_groups, float(self.alpha_bias))
        n_threads = self._fit_n_threads(ratings.n_ratings)
        self._feature_penalty = [
            (bias_penalty[block.groups], penalty[block.groups])
            for block in self._blocks
        ]
        weights = ratings.weights if ratings.weights.size else None
        self._total_weight = (
            float(ratings.n_ratings) if weights is None else float(weights.sum())
        )
        if self._validation_frame is not None:
            self._validation_layout = self._prediction_layout(self._validation_frame)
        if self.solver == "sgd":
            params = FMSGDParams(
                reg_bias=bias_penalty,
                reg_factors=penalty,
                learning_rate=float(self.learning_rate),
                learning_rate_schedule=self.learning_rate_schedule,
                decay_rate=float(self.decay_rate),
                decay_steps=(
                    ratings.n_ratings if self.decay_steps is None else self.decay_steps
                ),
                n_threads=n_threads,
            )
            self._solver_params = params
            return FMSGDSolver(ratings, model, params, rng, self._blocks)
        params = FMALSParams(
            reg_bias=bias_penalty, reg_factors=penalty, n_threads=n_threads
        )
        self._solver_params = params
        return FMALSSolver(ratings, model, params, rng, self._blocks)

    def _encode_validation(self, validation):
        # Its block rows need the coders that the training data set up.
        self._validation_frame = None if validation is None else validation[0]
        if validation is None:
            return None
        return validation[1], validation[2]

    def _fit_encoded(self, pairs, y, sample_weight, rng, validation):
        self._validation_frame = None
        try:
            return super()._fit_encoded(pairs, y, sample_weight, rng, validation)
        finally:
            for name in (
                "_validation_frame",
                "_validation_layout",
                "_feature_penalty",
                "_total_weight",
            ):
                self.__dict__.pop(name, None)

    def _validation_score(self, model, validation):
        y, weights = validation
        parameters = (
            1,
            [w[:, np.newaxis] for w in model.biases],
            list(model.factors),
        )
        predicted = self._predict_layout(
            self._validation_layout, np.array([model.bias]), parameters
        )
        return -math.sqrt(np.average((predicted - y) ** 2, weights=weights))

    def _training_loss(self, data_loss, model):
        penalty = 0.0
        for (reg_w, reg_v), w, v in zip(
            self._feature_penalty, model.biases, model.factors, strict=True
        ):
            penalty += float(reg_w @ (w * w))
            penalty += float(reg_v @ np.einsum("ij,ij->i", v, v))
        return (data_loss + penalty) / self._total_weight

    def _loss_bound(self, ratings):
        # Far above the loss of predicting the mean: the iterates run away.
        weights = ratings.weights if ratings.weights.size else None
        values = ratings.values.astype(np.float64)
        return 1e4 * (float(np.average(values**2, weights=weights)) + 1)

    def _keep_parameters(self, model):
        self._w0_samples = np.array([float(model.bias)])
        self._bias_samples = [
            np.asarray(w, self._dtype)[:, np.newaxis].copy() for w in model.biases
        ]
        self._factor_samples = [np.array(v, self._dtype) for v in model.factors]

    # ------------------------------------------------------------------
    # Fold-in: a new user's id features solved against the fitted model.

    _can_fold_in = True

    def _new_user_row(self, codes):
        """The user-block row of a new user who rated the items ``codes``:
        no id, no attributes, and with implicit feedback the distinct items,
        each ``1 / sqrt(n)``, as in fit."""
        n_fixed = len(self.users_) + self._fitted_attributes["user"].shape[1]
        parts = [sp.csr_matrix((1, n_fixed))]
        history = self._history["user"]
        if history is not None:
            seen = sp.csr_matrix(
                (np.ones(codes.shape[0]), (np.zeros(codes.shape[0], np.intp), codes)),
                shape=(1, history.shape[1]),
            )
            parts.append(_normalized_history(seen))
        return sp.hstack(parts, format="csr")

    def _fold_in_codes(self, codes, ratings):
        # The new user's id bias w and factors v minimise the objective of fit
        # over the user's ratings with every other parameter fixed. The
        # history features (fixed) give the user's row a vector q and a part
        # ``own`` of its own; the prediction of item i is then linear in
        # (w, v): own + w + <v, q> + <q + v, Q_i> + the item's part.
        dtype = self.item_factors_.dtype
        if codes.shape[0] == 0:
            # No known item: scored like a user not seen in fit.
            return np.zeros(self.item_factors_.shape[1], dtype), 0.0
        linear, q = self._parts(0, self._new_user_row(codes))
        q = q[0]
        own = float(linear[0, 0] + 0.5 * (q @ q))
        items = self.item_factors_[codes].astype(np.float64)
        design = np.hstack([np.ones((codes.shape[0], 1)), items + q])
        target = ratings - self.intercept_ - self.item_bias_[codes] - own - items @ q
        penalty = np.r_[float(self.alpha_bias), np.full(q.shape[0], float(self.alpha))]
        gram = design.T @ design + np.diag(penalty)
        # Without a penalty, too few ratings leave directions the data does
        # not fix: a solve would not fail on them but return noise.
        eigenvalues = np.linalg.eigvalsh(gram)
        if not eigenvalues[0] > 1e-10 * max(eigenvalues[-1], 1.0):
            raise ValueError(
                f"fold_in cannot solve the new user's factors from "
                f"{codes.shape[0]} rating(s) with alpha={self.alpha}: their "
                "least-squares problem has no single solution. Refit with "
                "alpha > 0, or fold in more ratings."
            )
        solution = np.linalg.solve(gram, design.T @ target)
        w, v = solution[0], solution[1:]
        return (q + v).astype(dtype), float(own + w + v @ q)

    def _step_name(self):
        return "epoch" if self.solver == "sgd" else "sweep"

    def _divergence_subject(self):
        return f"{self.solver.upper()} diverged"

    def _progress_text(self, solver):
        text = super()._progress_text(solver)
        if not self.validation_scores_:
            return text
        return f"{text}, validation RMSE {-self.validation_scores_[-1]:.5f}"

    def _divergence_hint(self):
        if self.solver == "sgd":
            return (
                f"Lower learning_rate (now {self.learning_rate}), raise alpha, or "
                "bring the ratings and numeric attributes to a smaller scale."
            )
        return (
            "Increase alpha, or bring the ratings and numeric attributes to a "
            "smaller scale."
        )


def _squared_product(squares, v):
    """``squares @ (v * v)`` for a CSR ``squares``, touching only the rows of
    ``v`` that ``squares`` uses."""
    used = np.unique(squares.indices)
    part = v[used]
    compact = sp.csr_matrix(
        (squares.data, np.searchsorted(used, squares.indices), squares.indptr),
        shape=(squares.shape[0], len(used)),
    )
    return compact @ (part * part)


def _group_rows(keys):
    """The distinct rows of a frame, and the index of each row among them."""
    index = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup()
    index = index.to_numpy()
    first = np.unique(index, return_index=True)[1]
    return index, keys.iloc[first].reset_index(drop=True)
