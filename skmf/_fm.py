"""Bayesian factorization machines over (user, item, attributes) tables.

A leaf of the explicit-ratings layer. X is a table whose first two columns are
the user and item ids and whose other columns are attributes of the user, of
the item or of the rating (its context); their roles are hyper-parameters.
The features are kept in three relation blocks (a row per user, per item and
per rating) and sampled by ``_solvers.fm_gibbs`` through the base's one
training loop. See the "Factorization machines" page of the user guide for
the model and the design.
"""

import math
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

from ._compat import Interval, StrOptions, _check_y, _fit_context
from ._encoding import encode_ids
from ._explicit import _check_scale, _ExplicitFactorModel
from ._solvers.fm_gibbs import (
    Block,
    FMGibbsParams,
    FMGibbsSolver,
    FMParameters,
    FMPrior,
)
from ._validation import Pairs, _check_ids, _column_values, check_ratings

# Noise precision of the first sweep, before it is first drawn.
_INITIAL_NOISE_PRECISION = 1.0
# Rows of X scored at once by predict: each needs n_samples * n_components
# numbers per block.
_PREDICT_NUMBERS = 4_000_000
_ROLES = ("user_features", "item_features", "context_features")


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


class BayesianFactorizationMachine(_ExplicitFactorModel):
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
        Average of the noise precision over the kept samples.

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
        **_ExplicitFactorModel._parameter_constraints,
        "user_features": [list, tuple, None],
        "item_features": [list, tuple, None],
        "context_features": [list, tuple, None],
        "implicit_feedback": [StrOptions({"none", "user", "item", "both"})],
        "multi_value_sep": [str, None],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "burn_in": [Interval(Integral, 0, None, closed="left")],
        "prior_shape": [Interval(Real, 0, None, closed="neither")],
        "prior_rate": [Interval(Real, 0, None, closed="neither")],
        "prior_strength": [Interval(Real, 0, None, closed="neither")],
    }

    _can_fold_in = False

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
        self.init_std = init_std
        self.clip = clip
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

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

        sample_weight : None
            Not supported yet: must be None.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if sample_weight is not None:
            raise ValueError(
                "BayesianFactorizationMachine does not support sample_weight yet; "
                "repeat the rows to weight them, or use "
                "BayesianMatrixFactorization."
            )
        if y is None:
            raise ValueError(
                "BayesianFactorizationMachine requires y to be passed, but the "
                "target y is None."
            )
        y = check_ratings(y)
        frame = self._frame(X, reset=True)
        y = np.asarray(_check_y(y, y_numeric=True, estimator=self), np.float64)
        pairs = self._pairs(frame)
        check_consistent_length(pairs.users, y)
        _check_scale(y, np.dtype(self.dtype))
        rng = check_random_state(self.random_state)
        self._fit_frame = frame
        try:
            return self._fit_pairs(pairs, y, None, rng)
        finally:
            del self._fit_frame

    # ------------------------------------------------------------------
    # Hooks of the base.

    def _check_params(self, n_train):
        self._dtype = np.dtype(self.dtype).type
        self._max_iter = self.burn_in + self.n_samples

    def _parallel_work(self, n_ratings):
        # One kernel call passes over every rating twice.
        return 20.0 * n_ratings

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
        """The relation blocks of the training data and the starting sample."""
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
            if names:
                keyed = frame[names].copy()
                keyed["__id"] = codes
                counts = keyed.groupby("__id")[names].nunique(dropna=False)
                bad = counts.columns[(counts > 1).any(axis=0).to_numpy()]
                if len(bad):
                    row = int(np.flatnonzero(counts[bad[0]].to_numpy() > 1)[0])
                    which = (self.users_ if side == "user" else self.items_)[row]
                    which = which.item() if hasattr(which, "item") else which
                    owner = "a user" if side == "user" else "an item"
                    raise ValueError(
                        f"{side.capitalize()} {which!r} has different values of "
                        f"{bad[0]!r} on different rows; {owner}'s attributes "
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
        )
        k, s = self.n_components, self.n_samples
        self._samples = {
            "bias": np.zeros(s),
            "biases": [np.empty((b.n_features, s), self._dtype) for b in self._blocks],
            "factors": [
                np.empty((b.n_features, s * k), self._dtype) for b in self._blocks
            ],
            "noise": np.zeros(s),
        }
        self._n_kept = 0
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
        s, k = self._n_kept, self.n_components
        kept = self._samples
        kept["bias"][s] = model.bias
        kept["noise"][s] = solver.noise_precision
        for out, w in zip(kept["biases"], model.biases, strict=True):
            out[:, s] = w
        for out, v in zip(kept["factors"], model.factors, strict=True):
            out[:, s * k : (s + 1) * k] = v
        self._n_kept += 1

    def _set_fitted_model(self, model):
        kept = self._samples
        self.bias_samples_ = kept["bias"]
        self.noise_precision_ = float(kept["noise"].mean())
        self._bias_samples = kept["biases"]
        self._factor_samples = kept["factors"]
        del self._samples, self._n_kept, self._blocks
        scale = 1.0 / math.sqrt(self.n_samples)
        sides = {}
        for side in ("user", "item"):
            n_ids = len(self.users_ if side == "user" else self.items_)
            codes = np.arange(n_ids, dtype=np.int32)
            linear, q = self._parts(
                0 if side == "user" else 1, self._fitted_rows(side, codes)
            )
            own = linear + 0.5 * np.sum(
                q.reshape(n_ids, self.n_samples, -1) ** 2, axis=2
            )
            sides[side] = (q * scale, own.mean(axis=1))
        self.user_factors_ = sides["user"][0].astype(self._dtype)
        self.item_factors_ = sides["item"][0].astype(self._dtype)
        self.user_bias_ = sides["user"][1].astype(self._dtype)
        self.item_bias_ = (sides["item"][1] + self.bias_samples_.mean()).astype(
            self._dtype
        )

    def _fitted_rows(self, side, codes):
        """The training ids' block rows, with the attributes they had in fit."""
        n_ids = len(self.users_ if side == "user" else self.items_)
        parts = [_id_columns(codes, n_ids), self._fitted_attributes[side][codes]]
        if self._history[side] is not None:
            parts.append(_history_rows(self._history[side], codes))
        return sp.hstack(parts, format="csr")

    def _parts(self, k, matrix):
        """``(linear, q)`` of block ``k``'s rows ``matrix`` for every sample:
        (n_rows, n_samples) and (n_rows, n_samples * n_components)."""
        w = self._bias_samples[k].astype(np.float64)
        v = self._factor_samples[k].astype(np.float64)
        q = matrix @ v
        squares = (matrix.multiply(matrix)).tocsr() @ (v * v)
        n_rows = matrix.shape[0]
        diagonal = squares.reshape(n_rows, self.n_samples, -1).sum(axis=2)
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
            Predicted ratings: the average over the kept samples.
        """
        check_is_fitted(self)
        frame = self._frame(X, reset=False)
        pairs = self._pairs(frame)
        n = len(pairs)
        users = encode_ids(self._user_index, pairs.users, "users")
        items = encode_ids(self._item_index, pairs.items, "items")
        s = self.n_samples
        total_linear = np.full((n, s), 0.0) + self.bias_samples_
        per_row = []
        for k, (side, codes) in enumerate((("user", users), ("item", items))):
            names = self._role_columns(f"{side}_features")
            keys = pd.DataFrame({"__id": codes})
            for name in names:
                keys[name] = frame[name].to_numpy()
            index, uniques = _group_rows(keys)
            matrix = self._block_matrix(
                side, uniques["__id"].to_numpy(np.int32), uniques
            )
            linear, q = self._parts(k, matrix)
            total_linear += linear[index]
            per_row.append((index, q))
        context = None
        if self._coders["context"]:
            names = self._role_columns("context_features")
            matrix = _sparse_columns(
                self._coders["context"], frame[names].reset_index(drop=True), n
            )
            linear, _ = self._parts(2, matrix)
            total_linear += linear
            context = matrix
        out = np.empty(n)
        width = s * self.n_components
        step = max(1, _PREDICT_NUMBERS // width)
        for start in range(0, n, step):
            rows = slice(start, min(n, start + step))
            q = sum(q[index[rows]] for index, q in per_row)
            if context is not None:
                q = q + context[rows] @ self._factor_samples[2].astype(np.float64)
            pairwise = 0.5 * np.sum(q.reshape(q.shape[0], s, -1) ** 2, axis=2)
            out[rows] = (total_linear[rows] + pairwise).mean(axis=1)
        out += self.intercept_
        if self.clip:
            np.clip(out, *self.rating_range_, out=out)
        return out


def _group_rows(keys):
    """The distinct rows of a frame, and the index of each row among them."""
    index = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup()
    index = index.to_numpy()
    first = np.unique(index, return_index=True)[1]
    return index, keys.iloc[first].reset_index(drop=True)
