"""Matrix factorization of a sparse rating table, as a scikit-learn regressor.

``X`` holds (user id, item id) pairs and ``y`` their ratings. The leaf of the
explicit-ratings layer: this module holds MatrixFactorization's parameters,
its two solvers (SGD and ALS), its penalty and its early stopping; the loop,
the ids and prediction are shared with the other models (``_base.py``,
``_explicit.py``).
"""

import math
from numbers import Integral, Real

import numpy as np

from ._base import _SGD_SCHEDULE_CONSTRAINTS, _STOPPING_CONSTRAINTS, _StoppingRule
from ._compat import Interval, StrOptions
from ._explicit import _ExplicitFactorModel
from ._solvers.als import ALSParams, ALSSolver
from ._solvers.sgd import SGDParams, SGDSolver

# The solver of each value of the solver parameter (benchmarks/_peers.py wraps
# them to time each step).
_SOLVERS = {"sgd": SGDSolver, "als": ALSSolver}
# Measured on MovieLens 100K: ALS reaches its best test RMSE in about 10 sweeps,
# SGD keeps improving up to about 40 epochs with the default decay.
_DEFAULT_MAX_ITER = {"sgd": 40, "als": 15}
# Improvement of the validation score (in rating units) that early stopping
# counts when tol is None: ALS keeps improving by rounding-error amounts forever.
_EARLY_STOPPING_TOL = 1e-4


def _penalty(model, n_per_user, n_per_item, l1_ratio=0.0):
    """Regularization term of the objective, before multiplying by alpha."""
    total = 0.0
    for rows, bias, counts in (
        (model.user_factors, model.user_bias, n_per_user),
        (model.item_factors, model.item_bias, n_per_item),
    ):
        bias = bias.astype(np.float64)
        if l1_ratio < 1:
            squares = np.einsum("ij,ij->i", rows, rows) + bias**2
            total += (1 - l1_ratio) * float(counts @ squares)
        if l1_ratio > 0:
            absolute = np.abs(rows).sum(axis=1, dtype=np.float64) + np.abs(bias)
            total += l1_ratio * float(counts @ absolute)
    return total


class MatrixFactorization(_ExplicitFactorModel):
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

    With ``penalty="l1"`` or ``"elasticnet"`` (SGD only) the penalty is the
    elastic net of :class:`~sklearn.linear_model.SGDRegressor`: with
    :math:`\rho` = ``l1_ratio`` (1 for ``"l1"``),

    .. math::

        \alpha \left( (1 - \rho) \left( \|w_u\|^2 + \|h_i\|^2 + b_u^2 + b_i^2
        \right) + \rho \left( \|w_u\|_1 + \|h_i\|_1 + |b_u| + |b_i| \right)
        \right),

    the L1 part of the model of Koren, Bell and Volinsky's article. Each SGD
    update then ends with a proximal (soft-thresholding) step, so factors that
    the data do not support become exactly zero: sparse factors.

    The dense user x item matrix is never formed: the ratings stay in
    coordinate (SGD) or compressed-row (ALS) form.

    Parameters
    ----------
    n_components : int, default=100
        Length K of the user and item factor vectors.

    solver : {"sgd", "als"}, default="sgd"
        ``"sgd"``: stochastic gradient descent over the ratings in a new random
        order each epoch. ``"als"``: alternating least squares; each sweep
        solves every user's factors and bias with the items fixed, then every
        item's, in parallel: a (K+1) x (K+1) system per row, by a few
        conjugate-gradient steps or exactly (see ``cg_steps``).

    alpha : float, default=0.1
        Regularization strength, see the objective above. Must be positive
        for ``solver="als"``.

    penalty : {"l2", "l1", "elasticnet"}, default="l2"
        The penalty, see the objective above. ``"l1"`` and ``"elasticnet"``
        are only available with ``solver="sgd"``.

    l1_ratio : float, default=0.15
        The elastic net's share of L1 in the penalty, :math:`\rho`, in
        [0, 1]. Only used when ``penalty="elasticnet"``.

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
        the same solution as exact solves (the benchmarks page of the
        documentation compares the two). None solves every system exactly, by
        Cholesky. Only used when ``solver="als"``.

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
        stratum of blocks, which costs more than it saves there. Negative
        values count back from the budget, -1 meaning all of it.

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

    item_popularity_ : ndarray of shape (n_items,)
        Number of training ratings of each item.

    fit_time_ : float
        Seconds the last fit took, from the validated input to the fitted
        model; :meth:`summary` shows it with the model's size.

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
        **_ExplicitFactorModel._parameter_constraints,
        "solver": [StrOptions({"sgd", "als"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "penalty": [StrOptions({"l2", "l1", "elasticnet"})],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "loss": [StrOptions({"squared_error", "absolute_error"})],
        "fit_biases": ["boolean"],
        **_SGD_SCHEDULE_CONSTRAINTS,
        **_STOPPING_CONSTRAINTS,
        "cg_steps": [Interval(Integral, 1, None, closed="left"), None],
    }

    _has_early_stopping = True

    def __init__(
        self,
        n_components=100,
        *,
        solver="sgd",
        alpha=0.1,
        penalty="l2",
        l1_ratio=0.15,
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
        self.penalty = penalty
        self.l1_ratio = l1_ratio
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
            if self.penalty != "l2":
                raise ValueError(
                    f"solver='als' solves an L2-penalized problem exactly and "
                    f"cannot use penalty={self.penalty!r}. Use solver='sgd' for it."
                )
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
        self._l1_ratio = {"l2": 0.0, "l1": 1.0}.get(self.penalty, self.l1_ratio)
        if self.max_iter is not None:
            self._max_iter = self.max_iter
        else:
            self._max_iter = _DEFAULT_MAX_ITER[self.solver]

    def _split_validation(self, pairs, y, sample_weight, rng):
        """Hold out validation_fraction of the ratings when early stopping.

        Without early stopping nothing is copied.
        """
        if not self.early_stopping:
            return (pairs, y, sample_weight), None
        n = len(pairs)
        n_valid = math.ceil(self.validation_fraction * n)
        if n - n_valid < 1:
            raise ValueError(
                f"early_stopping holds out {n_valid} of {n} ratings, leaving "
                "none to train on. Lower validation_fraction or pass more data."
            )
        shuffled = rng.permutation(n)
        parts = np.sort(shuffled[n_valid:]), np.sort(shuffled[:n_valid])
        train, valid = (
            (pairs.take(p), y[p], None if sample_weight is None else sample_weight[p])
            for p in parts
        )
        for name, part in (("training", train), ("validation", valid)):
            if part[2] is not None and not np.any(part[2] > 0):
                raise ValueError(
                    f"early_stopping's {name} part has only zero sample weights, "
                    "so it has nothing to learn or score. Lower the share of "
                    "zero weights, change validation_fraction or random_state, or "
                    "drop the zero-weight ratings."
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
        # Only SGD's threads meet often enough for small fits to lose by them.
        if self.solver == "sgd":
            return n_ratings * self.n_components
        return math.inf

    def _make_solver(self, ratings, model, rng):
        n_threads = self._fit_n_threads(ratings.n_ratings)
        if self.solver == "sgd":
            params = SGDParams(
                alpha=float(self.alpha),
                fit_biases=bool(self.fit_biases),
                loss=self.loss,
                learning_rate=float(self.learning_rate),
                learning_rate_schedule=self.learning_rate_schedule,
                decay_rate=float(self.decay_rate),
                decay_steps=(
                    ratings.n_ratings if self.decay_steps is None else self.decay_steps
                ),
                n_threads=n_threads,
                l1_ratio=float(self._l1_ratio),
            )
        else:
            params = ALSParams(
                alpha=float(self.alpha),
                fit_biases=bool(self.fit_biases),
                cg_steps=0 if self.cg_steps is None else self.cg_steps,
                n_threads=n_threads,
            )
        self._solver_params = params
        weights = ratings.weights if ratings.weights.size else None
        self._n_per_user = np.bincount(
            ratings.users, weights, minlength=ratings.n_users
        )
        self._n_per_item = np.bincount(
            ratings.items, weights, minlength=ratings.n_items
        )
        self._total_weight = float(self._n_per_user.sum())
        return _SOLVERS[self.solver](ratings, model, params, rng)

    def _training_loss(self, data_loss, model):
        absolute = self.loss == "absolute_error"
        scale = self.alpha / 2 if absolute else self.alpha
        penalty = _penalty(model, self._n_per_user, self._n_per_item, self._l1_ratio)
        return (data_loss + scale * penalty) / self._total_weight

    def _loss_bound(self, ratings):
        # A training loss far above that of predicting the mean only happens
        # when the iterates run away (too large a step size). The +1 keeps the
        # bound meaningful when all ratings are equal.
        weights = ratings.weights if ratings.weights.size else None
        values = ratings.values.astype(np.float64)
        residual = np.abs(values) if self.loss == "absolute_error" else values**2
        return 1e4 * (float(np.average(residual, weights=weights)) + 1)

    def _train(self, solver, model, ratings, stopping=None):
        try:
            return super()._train(solver, model, ratings, stopping)
        finally:
            del self._n_per_user, self._n_per_item, self._total_weight

    def _validation_score(self, model, validation):
        absolute = self.loss == "absolute_error"
        return super()._validation_score(model, validation, absolute)

    def _step_name(self):
        return "epoch" if self.solver == "sgd" else "sweep"

    def _progress_text(self, solver):
        text = super()._progress_text(solver)
        if not self.validation_scores_:
            return text
        metric = "MAE" if self.loss == "absolute_error" else "RMSE"
        return f"{text}, validation {metric} {-self.validation_scores_[-1]:.5f}"

    def _divergence_hint(self):
        if self.solver == "sgd":
            fix = f"Lower learning_rate (now {self.learning_rate}), "
            if self.learning_rate_schedule == "constant":
                fix += "use learning_rate_schedule='exponential', "
            return fix + "bring the ratings to a smaller scale, or use solver='als'."
        return (
            "Increase alpha, use dtype='float64', or bring the ratings to a "
            "smaller scale (e.g. np.log1p of counts)."
        )

    def _fold_in_penalty(self):
        return float(self.alpha), bool(self.fit_biases)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Random regression data with arbitrary ids has no low-rank structure to
        # find; scikit-learn's training-score check assumes it has.
        tags.regressor_tags.poor_score = True
        return tags
