"""A factorization machine over any numeric X, as a scikit-learn regressor.

Unlike the factor models, this estimator knows nothing of users and items: X
is an ordinary numeric matrix, dense or sparse (e.g. the output of
``OneHotEncoder`` or ``ColumnTransformer``), and each column is one feature
with its own bias and factor vector. X becomes a single relation block with
one row per sample, so the factorization-machine solvers of ``_solvers``
fit it as they fit the blocks of ``BayesianFactorizationMachine``, through
the one training loop of ``_base._TrainingLoopMixin``.
"""

import math
import time
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import _StoppingRule, _TrainingLoopMixin
from ._compat import Interval, StrOptions, _fit_context
from ._explicit import _check_scale, _check_weights
from ._persistence import VersionedStateMixin
from ._solvers._base import Ratings
from ._solvers.fm_als import FMALSParams, FMALSSolver
from ._solvers.fm_gibbs import (
    Block,
    FMGibbsParams,
    FMGibbsSolver,
    FMParameters,
    FMPrior,
)
from ._solvers.fm_sgd import FMSGDParams, FMSGDSolver
from ._threads import fit_n_threads

# libFM's and myFM's hyper-prior: alpha_0 = beta_0 = gamma_0 = 1.
_PRIOR = FMPrior(shape=1.0, rate=1.0, strength=1.0)
# Noise precision of the first sweep, before it is first drawn.
_INITIAL_NOISE_PRECISION = 1.0
# SGD's step size shrinks by this factor after each epoch, as
# MatrixFactorization's does by default.
_SGD_DECAY_RATE = 0.96
# Numbers of the (rows x factors) product that predict holds at once: a Gibbs
# model has n_components * n_samples factors per feature.
_PREDICT_NUMBERS = 4_000_000


def _as_csr(X):
    """X as a float64 CSR matrix, the layout of the blocks and of predict."""
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=np.float64)
    return sp.csr_matrix(np.asarray(X, dtype=np.float64))


def _feature_scale(X, sample_weight):
    """Root mean square of each column's non-zero values (1 for none).

    The initial factors are divided by it, so that the initial interactions
    ``<v_j, v_j'> x_j x_j'`` are of size ``init_std ** 2`` whatever the
    scale of the features: a feature near 100 would otherwise start the
    pairwise terms 10^4 times too large, which coordinate descent takes
    hundreds of sweeps to undo. One-hot columns keep ``init_std`` itself.
    Weighted, so that integer weights and repeated rows agree.
    """
    weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    weighted = sp.diags(weights) @ X
    squares = np.asarray(weighted.multiply(X).sum(axis=0)).ravel()
    present = X.copy()
    present.data[:] = 1.0
    counts = np.asarray((sp.diags(weights) @ present).sum(axis=0)).ravel()
    scale = np.ones(X.shape[1])
    seen = (counts > 0) & (squares > 0)
    scale[seen] = np.sqrt(squares[seen] / counts[seen])
    return scale


def _check_x_scale(X):
    """An error for features whose fourth powers float64 cannot hold.

    A coordinate's update sums ``x^2 (sum_j' v_j' x_j')^2`` terms, fourth
    powers of the features: beyond this the sums overflow to inf or NaN.
    """
    values = X.data if sp.issparse(X) else X
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    limit = np.finfo(np.float64).max ** 0.25 / 1e6
    if largest > limit:
        raise ValueError(
            f"X has a value of magnitude {largest:.3g}, too large for the "
            f"factorization machine's float64 arithmetic (at most {limit:.3g}). "
            "Scale the features first, e.g. with StandardScaler or MaxAbsScaler."
        )


def fm_predict(X, intercept, coef, factors):
    r"""A factorization machine's prediction of the rows of X.

    .. math::

        \hat y(x) = w_0 + \langle w, x \rangle + \frac12 \sum_f
        \Big[\big(\sum_j v_{jf} x_j\big)^2 - \sum_j v_{jf}^2 x_j^2\Big]

    Rendle's ``O(nnz(x) K)`` form of :math:`\sum_{j < j'} \langle v_j,
    v_{j'} \rangle x_j x_{j'}`.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_rows, n_features)
    intercept : float
    coef : ndarray of shape (n_features,)
    factors : ndarray of shape (n_features, width)

    Returns
    -------
    y : ndarray of shape (n_rows,)
    """
    X = _as_csr(X)
    n_rows = X.shape[0]
    coef = np.asarray(coef, dtype=np.float64)
    factors = np.asarray(factors, dtype=np.float64)
    squared_factors = factors * factors
    out = X @ coef + intercept
    # Row chunks bound the memory of the (rows x width) products.
    step = max(1, _PREDICT_NUMBERS // max(factors.shape[1], 1))
    for start in range(0, n_rows, step):
        rows = X[start : start + step]
        q = rows @ factors
        diagonal = rows.multiply(rows) @ squared_factors
        out[start : start + step] += 0.5 * np.sum(q * q - diagonal, axis=1)
    return out


class FactorizationMachineRegressor(
    VersionedStateMixin, _TrainingLoopMixin, RegressorMixin, BaseEstimator
):
    r"""Factorization machine regressor over any numeric, dense or sparse X.

    A factorization machine (Rendle, 2010) gives each feature :math:`j` (each
    column of X) a bias :math:`w_j` and a factor vector :math:`v_j` of length
    K, and models every pairwise interaction through their inner products:

    .. math::

        \hat y(x) = w_0 + \sum_j w_j x_j
        + \sum_{j < j'} \langle v_j, v_{j'} \rangle x_j x_{j'}.

    On one-hot encoded categories it learns the interactions of every pair of
    categories from few samples, which a linear model cannot represent; on
    the one-hot codes of a user and an item alone it is biased matrix
    factorization. The solvers ``"als"`` and ``"sgd"`` minimise

    .. math::

        \sum_n s_n (y_n - \hat y(x_n))^2
        + \alpha \Big(\sum_j w_j^2 + \sum_j \|v_j\|^2\Big)

    (``s_n`` the sample weights; :math:`w_0` is not penalized), ``"als"`` by
    exact coordinate-wise minimisation (libFM's ALS, deterministic) and
    ``"sgd"`` by stochastic gradient descent. ``"gibbs"`` samples the
    Bayesian model of Freudenthaler et al. (2011): Gaussian priors on the
    biases and on each factor, with Normal-Gamma hyper-priors, and a Gamma
    prior on the noise precision; its prediction is the average over the
    ``n_samples`` sweeps kept after ``burn_in``, and it needs no ``alpha``.

    Parameters
    ----------
    n_components : int, default=8
        Length K of the factor vectors.

    solver : {"als", "sgd", "gibbs"}, default="als"
        The algorithm: coordinate-wise alternating least squares, stochastic
        gradient descent, or Gibbs sampling of the Bayesian model.

    alpha : float, default=1.0
        Strength of the L2 penalty of the biases and the factors, on the sum
        (not the mean) of the weighted squared errors, as in
        :class:`~sklearn.linear_model.Ridge`. Not used when solver='gibbs'.

    max_iter : int, default=100
        Largest number of sweeps (epochs for solver='sgd'). Not used when
        solver='gibbs', which runs ``burn_in + n_samples`` sweeps.

    tol : float or None, default=1e-4
        The fit stops when the training objective (divided by the total
        sample weight) has not fallen by more than ``tol`` times the
        weighted variance of y for ``n_iter_no_change`` consecutive sweeps;
        None runs ``max_iter`` sweeps. Not used when solver='gibbs'.

    n_iter_no_change : int, default=5
        Number of sweeps without an improvement of ``tol`` before stopping.
        Not used when solver='gibbs'.

    learning_rate : float, default=0.01
        Step size of stochastic gradient descent at the first epoch; it
        shrinks by a factor 0.96 after each epoch. Only used when
        solver='sgd'.

    init_std : float, default=0.1
        Standard deviation of the normal distribution the factors start from,
        for a feature whose non-zero values are of size 1 (one-hot columns,
        standardized ones); each feature's starting factors are divided by
        the root mean square of its non-zero values, so that the starting
        interactions do not depend on the scale of X.

    n_samples : int, default=100
        Number of sweeps kept after the burn-in and averaged. Only used when
        solver='gibbs'.

    burn_in : int, default=20
        Number of sweeps run before the first kept sample. Only used when
        solver='gibbs'.

    n_jobs : int or None, default=None
        Number of threads of the compiled kernels; None means all cores,
        except for small data sets, which run on one thread. The fitted
        model does not depend on it. solver='sgd' runs on one thread, so
        that its fits are reproducible.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial factors and, for solver='sgd' and 'gibbs', the
        order of the updates or the draws. Pass an int for reproducible fits.

    verbose : int, default=0
        Print one line of progress per sweep when positive.

    Attributes
    ----------
    intercept_ : float
        The global bias :math:`w_0` (averaged over the kept samples for
        solver='gibbs').

    coef_ : ndarray of shape (n_features,)
        The feature biases :math:`w_j` (their posterior mean for
        solver='gibbs').

    factors_ : ndarray of shape (n_features, n_components * n_kept)
        The factor vectors :math:`v_j` (``n_kept`` is 1). For
        solver='gibbs' (``n_kept`` is ``n_samples``), the factors of every
        kept sample side by side, divided by ``sqrt(n_samples)``: the
        posterior-mean prediction is then the factorization machine of
        ``intercept_``, ``coef_`` and ``factors_``. (The posterior mean of
        the factors themselves means nothing, since the model is invariant
        under rotations of the factor space.)

    n_iter_ : int
        Number of sweeps (or epochs) run.

    loss_curve_ : list of float
        After each sweep: the training objective divided by the total sample
        weight, or, for solver='gibbs', the weighted training RMSE of the
        sweep's sample.

    noise_precision_ : float
        Average of the noise precision over the kept samples. Only with
        solver='gibbs'.

    fit_time_ : float
        Seconds the last fit took.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen during fit, when X was a DataFrame with
        string column names.

    Notes
    -----
    The solvers update one parameter at a time, so, as for
    :class:`~sklearn.linear_model.SGDRegressor`, numeric features should be
    centred and scaled (:class:`~sklearn.preprocessing.StandardScaler`):
    a column far from zero is nearly collinear with the intercept, which
    coordinate descent resolves very slowly. One-hot and other sparse 0/1
    columns need nothing.

    A Gibbs fit keeps ``n_features * n_components * n_samples`` numbers.

    See Also
    --------
    BayesianFactorizationMachine : The Bayesian model over user, item and
        attribute columns, with implicit feedback and cold start.
    sklearn.linear_model.Ridge : The same penalty without the interactions.

    References
    ----------
    S. Rendle, "Factorization machines", ICDM 2010.

    S. Rendle, "Factorization machines with libFM", ACM TIST 3(3), 2012.

    C. Freudenthaler, L. Schmidt-Thieme and S. Rendle, "Bayesian
    factorization machines", NIPS workshop on sparse representation and
    low-rank approximation, 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import OneHotEncoder
    >>> from skmf import FactorizationMachineRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randint(5, size=(300, 2))
    >>> y = np.where(X[:, 0] == X[:, 1], 1.0, -1.0)  # an interaction only
    >>> fm = make_pipeline(
    ...     OneHotEncoder(),
    ...     FactorizationMachineRegressor(n_components=4, alpha=0.1, random_state=0),
    ... )
    >>> round(fm.fit(X, y).score(X, y), 2) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions({"als", "sgd", "gibbs"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "init_std": [Interval(Real, 0, None, closed="left")],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "burn_in": [Interval(Integral, 0, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=8,
        *,
        solver="als",
        alpha=1.0,
        max_iter=100,
        tol=1e-4,
        n_iter_no_change=5,
        learning_rate=0.01,
        init_std=0.1,
        n_samples=100,
        burn_in=20,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.solver = solver
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.learning_rate = learning_rate
        self.init_std = init_std
        self.n_samples = n_samples
        self.burn_in = burn_in
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the factorization machine.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_rows, n_features)
            Numeric features, finite; categories one-hot encoded (e.g. by
            ``OneHotEncoder``).

        y : array-like of shape (n_rows,)
            Target values.

        sample_weight : array-like of shape (n_rows,), default=None
            Non-negative weight of each sample; a weight of 2 counts the
            sample twice.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=("csr", "csc", "coo"),
            dtype=np.float64,
            y_numeric=True,
        )
        _check_x_scale(X)
        y = np.asarray(y, dtype=np.float64)
        sample_weight = _check_weights(sample_weight, y, np.float64)
        _check_scale(y, np.float64)
        rng = check_random_state(self.random_state)
        try:
            return self._fit(X, y, sample_weight, rng)
        except BaseException:
            # A failed or interrupted fit leaves no half-fitted model.
            for name in list(vars(self)):
                if name.endswith("_") and not name.startswith("__"):
                    delattr(self, name)
            for name in ("_samples", "_n_kept", "_total_weight", "_nnz"):
                self.__dict__.pop(name, None)
            raise

    def _fit(self, X, y, sample_weight, rng):
        start = time.perf_counter()
        self._check_params()
        n_rows, n_features = X.shape
        if sample_weight is None or np.all(sample_weight == 1):
            weights = np.empty(0)
            self._total_weight = float(n_rows)
            mean = float(y.mean())
        else:
            weights = sample_weight
            self._total_weight = float(sample_weight.sum())
            mean = float(np.average(y, weights=sample_weight))
        # X is one block whose row n is sample n: the solvers' "ratings" are
        # the samples, each its own block row.
        rows = np.arange(n_rows, dtype=np.int32)
        ratings = Ratings(
            users=rows,
            items=np.zeros(n_rows, np.int32),
            values=y - mean,
            weights=weights,
            n_users=n_rows,
            n_items=1,
            indptr=np.arange(n_rows + 1, dtype=np.int64),
        )
        csr = _as_csr(X)
        block = Block(csr, rows, np.zeros(n_features, np.int32))
        self._nnz = block.csr[1].shape[0]
        # Drawn from a Generator seeded once from random_state, with a shape
        # that does not depend on the number of samples, so that a fit on
        # repeated rows starts where one with integer weights does.
        init_rng = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
        factors = init_rng.standard_normal((n_features, self.n_components))
        factors *= self.init_std / _feature_scale(csr, sample_weight)[:, None]
        model = FMParameters(bias=0.0, biases=[np.zeros(n_features)], factors=[factors])
        solver = self._make_solver(ratings, model, rng, [block])
        stopping = None
        if self.solver != "gibbs" and self.tol is not None:
            # tol is relative to the loss of predicting the mean, so that the
            # rule does not depend on the scale of y.
            spread = float(np.average((y - mean) ** 2, weights=sample_weight))
            scale = spread if spread > 0 else 1.0
            stopping = _StoppingRule(float(self.tol) * scale, self.n_iter_no_change)
        try:
            model = self._train(solver, model, ratings, stopping)
        finally:
            del self._total_weight, self._nnz
        self._set_fitted_model(model, mean)
        self.fit_time_ = time.perf_counter() - start
        return self

    # ------------------------------------------------------------------
    # Hooks of the training loop.

    def _check_params(self):
        if self.solver == "gibbs":
            self._max_iter = self.burn_in + self.n_samples
        else:
            self._max_iter = self.max_iter

    def _make_solver(self, ratings, model, rng, blocks):
        # A sweep passes over X's non-zeros a few times per factor.
        work = 4.0 * self._nnz * (self.n_components + 1)
        n_threads = fit_n_threads(self.n_jobs, work)
        if self.solver == "gibbs":
            params = FMGibbsParams(
                prior=_PRIOR,
                n_groups=1,
                initial_noise_precision=_INITIAL_NOISE_PRECISION,
                n_threads=n_threads,
            )
            k, s = self.n_components, self.n_samples
            n_features = blocks[0].n_features
            self._samples = {
                "bias": np.zeros(s),
                "coef": np.zeros((n_features, s)),
                "factors": np.zeros((n_features, s * k)),
                "noise": np.zeros(s),
            }
            self._n_kept = 0
            return FMGibbsSolver(ratings, model, params, rng, blocks)
        # One feature group: every feature has the same penalty.
        reg = np.full(1, float(self.alpha))
        if self.solver == "sgd":
            # The SGD kernel runs its groups of ratings (here, single rows)
            # in parallel without locks; rows of X share their features, so
            # the threads' updates race and the fit would depend on timing.
            n_threads = 1
            params = FMSGDParams(
                reg_bias=reg,
                reg_factors=reg,
                learning_rate=float(self.learning_rate),
                learning_rate_schedule="exponential",
                decay_rate=_SGD_DECAY_RATE,
                decay_steps=max(ratings.n_ratings, 1),
                n_threads=n_threads,
            )
            return FMSGDSolver(ratings, model, params, rng, blocks)
        params = FMALSParams(reg_bias=reg, reg_factors=reg, n_threads=n_threads)
        return FMALSSolver(ratings, model, params, rng, blocks)

    def _training_loss(self, data_loss, model):
        if self.solver == "gibbs":
            return math.sqrt(data_loss / self._total_weight)
        penalty = float(model.biases[0] @ model.biases[0])
        penalty += float(np.sum(model.factors[0] ** 2))
        return (data_loss + self.alpha * penalty) / self._total_weight

    def _loss_bound(self, ratings):
        # A loss far above that of predicting the mean only happens when the
        # iterates run away; the +1 keeps it meaningful for a constant y.
        weights = ratings.weights if ratings.weights.size else None
        spread = float(np.average(ratings.values**2, weights=weights))
        if self.solver == "gibbs":
            return 1e2 * (math.sqrt(spread) + 1)
        return 1e4 * (spread + 1)

    def _step_name(self):
        return "epoch" if self.solver == "sgd" else "sweep"

    def _divergence_subject(self):
        if self.solver == "gibbs":
            return "The Gibbs sampler broke down"
        return f"{self.solver.upper()} diverged"

    def _divergence_hint(self):
        fix = "Bring X and y to a smaller scale (e.g. StandardScaler)"
        if self.solver == "sgd":
            return f"{fix}, lower learning_rate or use solver='als'."
        if self.solver == "gibbs":
            return f"{fix}."
        return f"{fix} or increase alpha."

    def _progress_text(self, solver):
        if self.solver != "gibbs":
            return super()._progress_text(solver)
        phase = "burn-in" if self.n_iter_ <= self.burn_in else "sample"
        return (
            f" ({phase}): training RMSE {self.loss_curve_[-1]:.5f}, noise "
            f"precision {solver.noise_precision:.3f}"
        )

    def _after_step(self, iteration, model, solver):
        if self.solver != "gibbs" or iteration <= self.burn_in:
            return
        s, k = self._n_kept, self.n_components
        kept = self._samples
        kept["bias"][s] = model.bias
        kept["noise"][s] = solver.noise_precision
        kept["coef"][:, s] = model.biases[0]
        kept["factors"][:, s * k : (s + 1) * k] = model.factors[0]
        self._n_kept += 1

    def _set_fitted_model(self, model, mean):
        if self.solver == "gibbs":
            kept = self._samples
            del self._samples, self._n_kept
            self.intercept_ = mean + float(kept["bias"].mean())
            self.coef_ = kept["coef"].mean(axis=1)
            self.factors_ = kept["factors"] / math.sqrt(self.n_samples)
            self.noise_precision_ = float(kept["noise"].mean())
        else:
            self.intercept_ = mean + float(model.bias)
            self.coef_ = model.biases[0]
            self.factors_ = model.factors[0]

    # ------------------------------------------------------------------

    def predict(self, X):
        """Predict the target of the rows of X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_rows, n_features)
            The same features as in :meth:`fit`.

        Returns
        -------
        y : ndarray of shape (n_rows,)
            The predictions (for solver='gibbs', their average over the kept
            samples).
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc", "coo"),
            dtype=np.float64,
            reset=False,
        )
        _check_x_scale(X)
        return fm_predict(X, self.intercept_, self.coef_, self.factors_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
