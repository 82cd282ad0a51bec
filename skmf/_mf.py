"""Matrix factorization of a sparse rating table, as a scikit-learn regressor.

``X`` holds (user id, item id) pairs and ``y`` their ratings. The ids are
encoded to dense indices, the ratings stay in coordinate form and the dense
user x item matrix is never built. Learning is done by a compiled SGD or ALS
kernel, one epoch (or half-sweep) per call; this module owns the loop around
them: schedules, validation, early stopping, progress and warnings.
"""

import copy
import math
import time
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._blas import single_threaded_blas
from ._encoding import encode_ids, fit_ids
from ._persistence import VersionedStateMixin
from ._recommend import ExplicitRecommenderMixin, seen_matrix
from ._solvers._group_fast import group_rows
from ._solvers._predict_fast import max_threads, predict_pairs
from ._solvers.als import ALSSolver
from ._solvers.sgd import SGDSolver, aligned_empty

_SOLVERS = {"sgd": SGDSolver, "als": ALSSolver}
# Measured on MovieLens 100K: ALS reaches its best test RMSE in about 10 sweeps,
# SGD keeps improving up to about 40 epochs with the default decay.
_DEFAULT_MAX_ITER = {"sgd": 40, "als": 15}
# Improvement of the validation score (in rating units) that early stopping
# counts when tol is None: ALS keeps improving by rounding-error amounts forever.
_EARLY_STOPPING_TOL = 1e-4
# Below this many updates x components per epoch, parallel SGD spends more time
# meeting at its B per-epoch barriers than it saves (on MovieLens 100K, K=100,
# 2 threads: 0.11 s per fit on one thread, 0.2-0.6 s on two with the other
# core busy).
_MIN_PARALLEL_SGD_WORK = 5e7


@dataclass
class _Ratings:
    """Training ratings as plain arrays, ready for the kernels.

    The ratings are grouped by user (``indptr``, CSR style), in their original
    order within each user: the ALS user half-sweep and the matrix of seen
    items use this layout as it is.
    """

    users: np.ndarray  # int32 row index of each rating
    items: np.ndarray  # int32 item index of each rating
    values: np.ndarray  # rating minus the global mean, in the model's dtype
    weights: np.ndarray  # sample weights, or an empty array for all ones
    n_users: int
    n_items: int
    indptr: np.ndarray  # int64, ratings of user u at indptr[u]:indptr[u + 1]

    @property
    def n_ratings(self):
        return self.users.shape[0]


@dataclass
class _Model:
    """The learned arrays, updated in place by the kernels."""

    user_factors: np.ndarray
    item_factors: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray


@dataclass
class _Params:
    """Parameters resolved for one fit (public parameters are never modified)."""

    alpha: float
    fit_biases: bool
    loss: str
    learning_rate: float
    learning_rate_schedule: str
    decay_rate: float
    decay_steps: int
    cg_steps: int
    n_threads: int


def _effective_n_threads(n_jobs):
    """Threads for the kernels, following joblib's meaning of ``n_jobs``."""
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, -1 or n >= 1.")
    budget = max_threads()
    if n_jobs is None:
        return budget
    if n_jobs < 0:
        return max(1, budget + 1 + n_jobs)
    return n_jobs


def _fit_n_threads(n_jobs, small):
    """Threads for a fit; with ``n_jobs=None`` a ``small`` one runs on one.

    The kernel calls of a small fit take milliseconds: two threads meeting at
    their barriers gain little on an idle machine, and when another process
    holds the other core each meeting can wait a whole scheduler slice.
    """
    if n_jobs is None and small:
        return 1
    return _effective_n_threads(n_jobs)


def _check_ids(X):
    """Raise a clear error for X that is not a table of two id columns."""
    missing = pd.isna(X)
    if missing.any():
        row = int(np.flatnonzero(missing.any(axis=1))[0])
        raise ValueError(
            f"X has a missing id (NaN or None) in row {row}; every rating needs a "
            "user and an item. Drop or fill those rows first."
        )
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise ValueError("X has an infinite id; ids must be finite numbers or strings.")
    if X.shape[1] != 2:
        raise ValueError(
            "X must have exactly two columns, the user id and the item id; got "
            f"{X.shape[1]} feature(s). Select the two id columns, e.g. "
            "X[['user', 'item']]."
        )


def _check_ratings(y):
    """Ratings as numbers, or an error naming the first value that is not one."""
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


def _initial_model(rng, ratings, n_components, init_std, dtype):
    """Normal random factors of standard deviation init_std, zero biases."""
    # numpy's Generator draws float32 normals directly, 2x faster than the
    # legacy RandomState that sklearn's random_state resolves to. Drawn in
    # float32 whatever the dtype, so that float32 and float64 fits start
    # from the same point.
    init_rng = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
    shape = (ratings.n_users, ratings.n_items)
    # Allocated on a cache line, as parallel SGD needs (see the SGD solver),
    # so that it does not copy them.
    user_factors, item_factors = (
        aligned_empty((n, n_components), dtype) for n in shape
    )
    for factors in (user_factors, item_factors):
        if factors.dtype == np.float32:
            init_rng.standard_normal(out=factors, dtype=np.float32)
        else:
            factors[...] = init_rng.standard_normal(factors.shape, dtype=np.float32)
        factors *= init_std
    user_bias, item_bias = (aligned_empty((n,), dtype) for n in shape)
    user_bias[:] = 0
    item_bias[:] = 0
    return _Model(user_factors, item_factors, user_bias, item_bias)


def _penalty(model, ratings, n_per_user, n_per_item):
    """Regularization term of the objective, before multiplying by alpha."""
    user = np.einsum("ij,ij->i", model.user_factors, model.user_factors)
    item = np.einsum("ij,ij->i", model.item_factors, model.item_factors)
    user = user + model.user_bias.astype(np.float64) ** 2
    item = item + model.item_bias.astype(np.float64) ** 2
    return float(n_per_user @ user + n_per_item @ item)


class MatrixFactorization(
    VersionedStateMixin, ExplicitRecommenderMixin, RegressorMixin, BaseEstimator
):
    r"""Biased matrix factorization of ratings, learned by SGD or ALS.

    A rating of item ``i`` by user ``u`` is predicted as

    .. math::

        \hat r_{ui} = \mu + b_u + b_i + w_u^\top h_i

    with the global mean :math:`\mu`, biases :math:`b_u, b_i` and factor
    vectors :math:`w_u, h_i` of length ``n_components``. With the squared error
    loss both solvers minimise the same objective over the observed ratings
    :math:`\Omega`, with sample weights :math:`s_{ui}`,

    .. math::

        \sum_{(u,i) \in \Omega} s_{ui} \left[ (r_{ui} - \hat r_{ui})^2
        + \alpha \left( \|w_u\|^2 + \|h_i\|^2 + b_u^2 + b_i^2 \right) \right],

    so a user's or item's penalty grows with its number of ratings (the
    weighted-lambda regularization of Zhou et al.), and ``alpha`` means the same
    thing for both solvers. With ``loss="absolute_error"`` (SGD only) the data
    term is :math:`|r_{ui} - \hat r_{ui}|` and the penalty is halved.

    The dense user x item matrix is never formed: the ratings stay in
    coordinate (SGD) or compressed-row (ALS) form.

    Parameters
    ----------
    n_components : int, default=100
        Length K of the user and item factor vectors.

    solver : {"sgd", "als"}, default="sgd"
        ``"sgd"``: stochastic gradient descent over the ratings in a new random
        order each epoch. ``"als"``: alternating least squares; each sweep
        solves every user's factors and bias exactly with the items fixed, then
        every item's, by a Cholesky solve of a (K+1) x (K+1) system, in parallel.

    alpha : float, default=0.1
        L2 regularization strength, see the objective above. Must be positive
        for ``solver="als"``.

    loss : {"squared_error", "absolute_error"}, default="squared_error"
        Data term of the objective. ``"absolute_error"`` is only available with
        ``solver="sgd"``; ALS solves the squared error exactly.

    fit_biases : bool, default=True
        Whether to learn the user and item biases :math:`b_u, b_i`. The global
        mean :math:`\mu` is always used.

    learning_rate : float, default=0.02
        Initial SGD step size. Only used when ``solver="sgd"``.

    learning_rate_schedule : {"exponential", "constant"}, default="exponential"
        ``"exponential"``: the step size is multiplied by ``decay_rate`` after
        every ``decay_steps`` updates (a staircase), as in TensorFlow's
        ``exponential_decay``. ``"constant"``: it stays at ``learning_rate``.
        Only used when ``solver="sgd"``.

    decay_rate : float, default=0.96
        Factor applied to the step size at each decay. Only used when
        ``solver="sgd"`` and ``learning_rate_schedule="exponential"``.

    decay_steps : int or None, default=None
        Number of updates between two decays; None means once per epoch (one
        update per training rating). Only used when ``solver="sgd"`` and
        ``learning_rate_schedule="exponential"``.

    max_iter : int or None, default=None
        Number of epochs (SGD) or sweeps (ALS). None means 40 for SGD and 15
        for ALS, which converges in fewer, costlier sweeps.

    cg_steps : int or None, default=3
        How ALS solves each row's (K+1) x (K+1) system. An int runs that many
        conjugate-gradient steps, warm-started from the row's value in the
        previous sweep: the system is never formed, so a sweep costs O(K)
        rather than O(K^2) per rating, and the rows converge over the sweeps to
        the same solution as exact solves (on MovieLens 100K, the same test
        RMSE in a quarter of the time; 3.6x faster per sweep at K=64 on 10M
        ratings). None solves every system exactly, by Cholesky. Only used when
        ``solver="als"``.

    tol : float or None, default=None
        When not None, training stops once the training loss (or the validation
        score, with ``early_stopping``) has failed to improve by at least
        ``tol`` for ``n_iter_no_change`` consecutive epochs, and a
        :class:`~sklearn.exceptions.ConvergenceWarning` is raised if
        ``max_iter`` is reached first. None runs exactly ``max_iter`` epochs,
        unless ``early_stopping`` is on, where None means 1e-4.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the ratings, score them after every
        epoch, stop when the score stops improving, and keep the factors of
        the best epoch. Users or items seen only in the held-out part are
        unknown to the fitted model.

    validation_fraction : float, default=0.1
        Fraction of the ratings held out when ``early_stopping`` is True.

    n_iter_no_change : int, default=5
        Number of epochs without improvement before stopping.

    init_std : float, default=0.1
        Standard deviation of the normal distribution the factors start from.
        Biases start at zero.

    clip : bool, default=True
        Clip predictions to the range of the training ratings.

    dtype : {"float32", "float64"}, default="float32"
        Floating point type of the factors and of the computation.

    n_jobs : int or None, default=None
        Number of threads of the compiled kernels (SGD blocks, ALS solves and
        predictions); up to 4 threads the fitted model does not depend on it
        (beyond, SGD cuts its ratings into more blocks). None uses
        OpenMP's budget: all cores, or fewer inside joblib workers (e.g.
        ``GridSearchCV(n_jobs=2)``) and under ``threadpoolctl`` limits, except
        that SGD on small data (ratings x ``n_components`` below 5e7, e.g.
        MovieLens 100K) runs on one thread: its threads meet after every
        stratum of blocks, which costs more than it saves there, and much more
        on a busy machine. Negative values count back from the budget, -1
        meaning all of it.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial factors, the SGD visiting order and the validation
        split. Pass an int for reproducible fits.

    verbose : int, default=0
        Print one line of progress per epoch when positive.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, n_components)
        Factor vector of each user, in the order of ``users_``.

    item_factors_ : ndarray of shape (n_items, n_components)
        Factor vector of each item, in the order of ``items_``.

    user_bias_ : ndarray of shape (n_users,)
        Bias of each user (zeros when ``fit_biases=False``).

    item_bias_ : ndarray of shape (n_items,)
        Bias of each item (zeros when ``fit_biases=False``).

    intercept_ : float
        The global mean :math:`\mu`: the weighted mean of the training ratings.

    users_ : ndarray of shape (n_users,)
        The raw user ids, sorted, in factor-row order.

    items_ : ndarray of shape (n_items,)
        The raw item ids, sorted, in factor-row order.

    rating_range_ : tuple of float
        Smallest and largest training rating; predictions are clipped to it
        when ``clip=True``.

    n_iter_ : int
        Number of epochs (SGD) or sweeps (ALS) run.

    loss_curve_ : list of float
        Training objective per unit of sample weight after each epoch: the mean
        squared (or absolute) error plus the penalty. SGD measures the error of
        each rating just before its update.

    validation_scores_ : list of float or None
        Score on the held-out ratings after each epoch, as the negative root
        mean squared error (negative mean absolute error with
        ``loss="absolute_error"``): higher is better. None without
        ``early_stopping``.

    best_validation_score_ : float or None
        Best of ``validation_scores_``, the epoch whose factors are kept.

    n_features_in_ : int
        Number of columns of X seen during fit (always 2).

    feature_names_in_ : ndarray of shape (2,)
        Column names of X when it was a DataFrame with string column names.

    See Also
    --------
    sklearn.decomposition.NMF : Factorization of a dense non-negative matrix.

    References
    ----------
    Y. Koren, R. Bell and C. Volinsky, "Matrix factorization techniques for
    recommender systems", Computer 42(8), 2009.

    Y. Zhou, D. Wilkinson, R. Schreiber and R. Pan, "Large-scale parallel
    collaborative filtering for the Netflix prize", AAIM 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from skmf import MatrixFactorization
    >>> X = [["ann", "up"], ["ann", "jaws"], ["bob", "up"], ["bob", "heat"],
    ...      ["cat", "jaws"], ["cat", "heat"]]
    >>> y = [5, 1, 4, 2, 1, 5]
    >>> mf = MatrixFactorization(n_components=2, solver="als", random_state=0)
    >>> mf.fit(X, y)
    MatrixFactorization(n_components=2, random_state=0, solver='als')
    >>> mf.predict([["ann", "up"], ["dan", "up"]]).round(1)  # dan is unknown
    array([4.9, 4.1])
    >>> mf.users_
    array(['ann', 'bob', 'cat'], dtype='<U4')
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions({"sgd", "als"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "loss": [StrOptions({"squared_error", "absolute_error"})],
        "fit_biases": ["boolean"],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "learning_rate_schedule": [StrOptions({"exponential", "constant"})],
        "decay_rate": [Interval(Real, 0, 1, closed="right")],
        "decay_steps": [Interval(Integral, 1, None, closed="left"), None],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "cg_steps": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "init_std": [Interval(Real, 0, None, closed="left")],
        "clip": ["boolean"],
        "dtype": [
            StrOptions({"float32", "float64"}),
            Options(type, {np.float32, np.float64}),
        ],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=100,
        *,
        solver="sgd",
        alpha=0.1,
        loss="squared_error",
        fit_biases=True,
        learning_rate=0.02,
        learning_rate_schedule="exponential",
        decay_rate=0.96,
        decay_steps=None,
        max_iter=None,
        cg_steps=3,
        tol=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        init_std=0.1,
        clip=True,
        dtype="float32",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.solver = solver
        self.alpha = alpha
        self.loss = loss
        self.fit_biases = fit_biases
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.decay_rate = decay_rate
        self.decay_steps = decay_steps
        self.max_iter = max_iter
        self.cg_steps = cg_steps
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

    def _check_params(self, n_train):
        """Check the rules that tie parameters together; resolve the rest."""
        if self.solver == "als":
            if self.loss != "squared_error":
                raise ValueError(
                    f"solver='als' solves the squared error exactly and cannot "
                    f"minimise loss={self.loss!r}. Use solver='sgd' for it."
                )
            if self.alpha <= 0:
                raise ValueError(
                    "solver='als' needs alpha > 0: without regularization a user "
                    "or item with fewer ratings than n_components has no unique "
                    "solution. Set alpha > 0 or use solver='sgd'."
                )
        self._dtype = np.dtype(self.dtype).type
        if self.max_iter is not None:
            self._max_iter = self.max_iter
        else:
            self._max_iter = _DEFAULT_MAX_ITER[self.solver]
        self._params = _Params(
            alpha=float(self.alpha),
            fit_biases=bool(self.fit_biases),
            loss=self.loss,
            learning_rate=float(self.learning_rate),
            learning_rate_schedule=self.learning_rate_schedule,
            decay_rate=float(self.decay_rate),
            decay_steps=n_train if self.decay_steps is None else self.decay_steps,
            cg_steps=0 if self.cg_steps is None else self.cg_steps,
            n_threads=self._n_threads(n_train),
        )

    def _n_threads(self, n_train):
        small = n_train * self.n_components < _MIN_PARALLEL_SGD_WORK
        return _fit_n_threads(self.n_jobs, self.solver == "sgd" and small)

    def _validate_pairs(self, X, y="no_validation", *, reset):
        """validate_data for a table of ids: any dtype, no NaN, two columns."""
        kwargs = dict(dtype=None, ensure_all_finite=False, reset=reset)
        if isinstance(y, str) and y == "no_validation":
            X = validate_data(self, X, **kwargs)
        else:
            if y is not None:
                y = _check_ratings(y)
            X, y = validate_data(self, X, y, y_numeric=True, **kwargs)
        _check_ids(X)
        return X, y

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
            Non-negative weight of each rating, see the objective. With ALS a
            weight of 2 is the same as the rating appearing twice.

        Returns
        -------
        self : MatrixFactorization
            The fitted estimator.
        """
        X, y, sample_weight = self._validate_fit_input(X, y, sample_weight)
        rng = check_random_state(self.random_state)
        (X, y, sample_weight), validation = self._split_validation(
            X, y, sample_weight, rng
        )
        self._check_params(X.shape[0])
        ratings = self._encode_ratings(X, y, sample_weight, self._dtype)
        del X, y
        model = _initial_model(
            rng, ratings, self.n_components, self.init_std, self._dtype
        )
        solver = _SOLVERS[self.solver](ratings, model, self._params, rng)
        if validation is not None:
            X_valid, y_valid, weights_valid = validation
            validation = (
                encode_ids(self._user_index, X_valid[:, 0]),
                encode_ids(self._item_index, X_valid[:, 1]),
                y_valid,
                weights_valid,
            )

        # The ALS kernel calls BLAS/LAPACK from its own threads: BLAS must not
        # start threads of its own inside them.
        with single_threaded_blas():
            model = self._run_epochs(solver, model, ratings, validation)
        self.user_factors_ = model.user_factors
        self.item_factors_ = model.item_factors
        self.user_bias_ = model.user_bias
        self.item_bias_ = model.item_bias
        return self

    def _validate_fit_input(self, X, y, sample_weight):
        """X and y checked, y and sample_weight (or None) as float64."""
        X, y = self._validate_pairs(X, y, reset=True)
        y = y.astype(np.float64, copy=False)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        return X, y, sample_weight

    def _encode_ratings(self, X, y, sample_weight, dtype):
        """Learn the ids, the mean and the range; return the ratings by user.

        Sets ``users_``, ``items_``, ``intercept_``, ``rating_range_`` and the
        private id indexes and matrix of seen items.
        """
        self.users_, users = fit_ids(X[:, 0])
        self.items_, items = fit_ids(X[:, 1])
        self._user_index = pd.Index(self.users_)
        self._item_index = pd.Index(self.items_)
        self.intercept_ = float(np.average(y, weights=sample_weight))
        self.rating_range_ = (float(y.min()), float(y.max()))
        unweighted = sample_weight is None or np.all(sample_weight == 1)
        shape = (self.users_.shape[0], self.items_.shape[0])
        indptr, items, values, weights = group_rows(
            users,
            shape[0],
            items,
            (y - self.intercept_).astype(dtype),
            np.empty(0, dtype) if unweighted else sample_weight.astype(dtype),
        )
        self._seen = seen_matrix(indptr, items, shape[1])
        return _Ratings(
            users=np.repeat(np.arange(shape[0], dtype=np.int32), np.diff(indptr)),
            items=items,
            values=values,
            weights=weights,
            n_users=shape[0],
            n_items=shape[1],
            indptr=indptr,
        )

    def _split_validation(self, X, y, sample_weight, rng):
        """Hold out validation_fraction of the ratings when early stopping.

        Returns ``(X, y, sample_weight)`` to train on and the held-out triple,
        or None. Without early stopping nothing is copied.
        """
        if not self.early_stopping:
            return (X, y, sample_weight), None
        n = X.shape[0]
        n_valid = math.ceil(self.validation_fraction * n)
        if n - n_valid < 1:
            raise ValueError(
                f"early_stopping holds out {n_valid} of {n} ratings, leaving "
                "none to train on. Lower validation_fraction or pass more data."
            )
        shuffled = rng.permutation(n)
        parts = np.sort(shuffled[n_valid:]), np.sort(shuffled[:n_valid])
        return tuple(
            (X[p], y[p], None if sample_weight is None else sample_weight[p])
            for p in parts
        )

    def _run_epochs(self, solver, model, ratings, validation):
        """The training loop shared by both solvers; returns the model to keep."""
        weights = ratings.weights if ratings.weights.size else None
        n_per_user = np.bincount(ratings.users, weights, minlength=ratings.n_users)
        n_per_item = np.bincount(ratings.items, weights, minlength=ratings.n_items)
        total_weight = float(n_per_user.sum())
        absolute = self.loss == "absolute_error"
        penalty_scale = self.alpha / 2 if absolute else self.alpha
        # A training loss far above that of predicting the mean only happens
        # when the iterates run away (too large a step size). The +1 keeps the
        # bound meaningful when all ratings are equal.
        # In the model's dtype: numpy sums pairwise, precise enough for a bound.
        residual = np.abs(ratings.values) if absolute else np.square(ratings.values)
        baseline = float(np.average(residual, weights=weights))
        del residual
        runaway = 1e4 * (baseline + 1)

        stopping = self.early_stopping or self.tol is not None
        tol = self.tol
        if tol is None:
            tol = _EARLY_STOPPING_TOL if self.early_stopping else 0.0
        self.loss_curve_ = []
        self.validation_scores_ = [] if validation is not None else None
        self.best_validation_score_ = None
        best, best_model, no_improvement = np.inf, None, 0
        start = time.perf_counter()
        for epoch in range(1, self._max_iter + 1):
            try:
                data_loss = solver.step()
            except FloatingPointError as exc:
                self._diverged(epoch, str(exc))
            loss = (
                data_loss
                + penalty_scale * _penalty(model, ratings, n_per_user, n_per_item)
            ) / total_weight
            if not np.isfinite(loss) or loss > runaway:
                self._diverged(epoch, f"the training loss is {loss:.3g}")
            self.loss_curve_.append(loss)
            self.n_iter_ = epoch

            if validation is not None:
                score = self._validation_score(model, validation, absolute)
                self.validation_scores_.append(score)
                criterion = -score
            else:
                criterion = loss
            if criterion < best - tol:
                no_improvement = 0
            else:
                no_improvement += 1
            if criterion < best:
                best = criterion
                if validation is not None:
                    self.best_validation_score_ = score
                    best_model = copy.deepcopy(model)

            if self.verbose:
                self._print_progress(epoch, start)
            if stopping and no_improvement >= self.n_iter_no_change:
                break
        else:
            if stopping:
                warnings.warn(
                    f"MatrixFactorization stopped at max_iter={self._max_iter} before "
                    "converging; increase max_iter or tol.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
        return best_model if best_model is not None else model

    def _diverged(self, epoch, what):
        if self.solver == "sgd":
            fix = f"Lower learning_rate (now {self.learning_rate}), "
            if self.learning_rate_schedule == "constant":
                fix += "use learning_rate_schedule='exponential', "
            fix += "bring the ratings to a smaller scale, or use solver='als'."
        else:
            fix = (
                "Increase alpha, use dtype='float64', or bring the ratings to a "
                "smaller scale (e.g. np.log1p of counts)."
            )
        raise ValueError(
            f"{self.solver.upper()} diverged at epoch {epoch}: {what}. {fix}"
        )

    def _validation_score(self, model, validation, absolute):
        users, items, y, weights = validation
        error = self._predict_indices(model, users, items) - y
        if absolute:
            return -float(np.average(np.abs(error), weights=weights))
        return -math.sqrt(np.average(error**2, weights=weights))

    def _print_progress(self, epoch, start):
        elapsed = time.perf_counter() - start
        eta = elapsed / epoch * (self._max_iter - epoch)
        line = f"Epoch {epoch}/{self._max_iter}: loss {self.loss_curve_[-1]:.5f}"
        if self.validation_scores_ is not None:
            line += f", validation {self.validation_scores_[-1]:.5f}"
        print(f"{line}, {elapsed:.2f} s, ETA {eta:.2f} s", flush=True)

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
            _effective_n_threads(self.n_jobs),
        )
        if self.clip:
            np.clip(out, *self.rating_range_, out=out)
        return out

    def predict(self, X):
        """Predict the ratings of (user, item) pairs.

        A user or item not seen during fit contributes nothing: the prediction
        falls back to the global mean plus the bias of whichever of the two is
        known (the global mean alone when neither is). No error is raised.

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
        X, _ = self._validate_pairs(X, reset=False)
        model = _Model(
            self.user_factors_, self.item_factors_, self.user_bias_, self.item_bias_
        )
        return self._predict_indices(
            model,
            encode_ids(self._user_index, X[:, 0]),
            encode_ids(self._item_index, X[:, 1]),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        # Random regression data with arbitrary ids has no low-rank structure to
        # find; scikit-learn's training-score check assumes it has.
        tags.regressor_tags.poor_score = True
        return tags
