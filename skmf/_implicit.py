"""Matrix factorization of implicit feedback (plays, clicks, purchases).

``X`` holds (user id, item id) pairs and ``y`` how often or how much each
happened. Following Hu, Koren & Volinsky (2008), every user x item cell gets a
preference (1 for an observed pair, 0 otherwise) and a confidence that grows
with ``y``; the weighted least squares over all cells is solved by ALS without
ever forming the dense matrix. This module owns validation, the confidence
transform and the sweep loop; the compiled kernel solves the rows.
"""

import time
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import validate_data

from ._blas import single_threaded_blas
from ._encoding import fit_ids
from ._mf import _check_ids, _check_ratings, _effective_n_threads
from ._persistence import VersionedStateMixin
from ._recommend import RecommenderMixin, seen_matrix
from ._solvers._base import FactorModel, Ratings, SolverBreakdown
from ._solvers.implicit_als import ImplicitALSParams, ImplicitALSSolver, fold_in_row
from .metrics import ndcg_at_k


@dataclass
class _Params:
    """Parameters resolved for one fit (public parameters are never modified)."""

    reg: float
    confidence: str
    scale: float
    epsilon: float
    cg_steps: int  # 0: exact Cholesky solves
    n_threads: int


def _confidence(counts, params):
    """Confidence of observed pairs with the given (positive) counts."""
    if params.confidence == "log":
        return 1 + params.scale * np.log1p(counts / params.epsilon)
    return 1 + params.scale * counts


def _check_counts(y):
    """y as float64 counts, or an error for a negative or infinite one."""
    if not np.all(np.isfinite(y)):
        raise ValueError("y has a NaN or infinite value; counts must be finite.")
    if np.any(y < 0):
        raise ValueError(
            f"y must hold non-negative counts or weights; found {y.min():g}. "
            "A pair that did not happen is simply left out of X."
        )
    return y


class ImplicitMatrixFactorization(VersionedStateMixin, RecommenderMixin, BaseEstimator):
    r"""Matrix factorization of implicit feedback by weighted ALS.

    The weighted alternating least squares of Hu, Koren & Volinsky (2008).
    Every user x item cell has a preference :math:`p_{ui}`, 1 if the pair
    occurs in ``X`` with a positive ``y`` and 0 otherwise, and a confidence

    .. math::

        c_{ui} = 1 + \alpha_c\, r_{ui} \quad \text{(``confidence="linear"``)}
        \qquad
        c_{ui} = 1 + \alpha_c \log(1 + r_{ui} / \epsilon)
        \quad \text{(``confidence="log"``)}

    where :math:`r_{ui}` is the summed ``y`` of the pair (0 for unobserved
    cells, whose confidence is 1) and :math:`\alpha_c` is
    ``confidence_scale``. The factors minimise, over **all** cells,

    .. math::

        \sum_{u, i} c_{ui} (p_{ui} - x_u^\top y_i)^2
        + \lambda \left( \sum_u \|x_u\|^2 + \sum_i \|y_i\|^2 \right)

    with :math:`\lambda` = ``alpha``. Each half-sweep solves every user (then
    every item) with the others fixed; the dense matrix is never formed: the
    unobserved cells enter through :math:`Y^\top Y`, computed once per
    half-sweep. Items are ranked for a user by :math:`x_u^\top y_i`.

    **Meaning of the parameters next to the implicit library.** implicit's
    ``AlternatingLeastSquares(factors, regularization, alpha, iterations)``
    is ``ImplicitMatrixFactorization(n_components, alpha, confidence_scale,
    max_iter)``: ``alpha`` here is the unweighted :math:`\lambda I` penalty
    (implicit's ``regularization``), and ``confidence_scale`` is implicit's
    ``alpha``. implicit (0.7) uses :math:`c_{ui} = \alpha_c r_{ui}` for
    observed pairs, without the 1 of Hu et al.; for :math:`\alpha_c r \gg 1`
    the two agree.

    Parameters
    ----------
    n_components : int, default=100
        Length of the user and item factor vectors.

    alpha : float, default=0.01
        Regularization strength :math:`\lambda`. Unlike
        :class:`MatrixFactorization`'s ``alpha`` it is not multiplied by the
        number of ratings of a user or item (all cells count for everyone).

    confidence : {"linear", "log"}, default="linear"
        How ``y`` becomes confidence, see the formulas above.

    confidence_scale : float, default=1.0
        :math:`\alpha_c`, the extra confidence per unit of ``y``.

    epsilon : float, default=1.0
        :math:`\epsilon` of the log scaling. Only used when
        ``confidence="log"``.

    solver : {"cg", "cholesky"}, default="cg"
        ``"cg"``: ``cg_steps`` steps of conjugate gradient per row, started
        from the row's previous factors (as in the implicit library); cost per
        row :math:`O(n_{obs} K + K^2)` per step. ``"cholesky"``: the exact
        solve of each row's :math:`K \times K` system, :math:`O(K^3)`.

    cg_steps : int, default=3
        Conjugate-gradient steps per row and half-sweep. Only used when
        ``solver="cg"``.

    max_iter : int, default=15
        Number of sweeps (one user and one item half-sweep each).

    init_std : float, default=0.01
        Standard deviation of the normal distribution the factors start from.

    dtype : {"float32", "float64"}, default="float32"
        Floating point type of the factors and of the computation.

    n_jobs : int or None, default=None
        Number of threads of the compiled kernel, as in
        :class:`MatrixFactorization`.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial factors. Pass an int for reproducible fits.

    verbose : int, default=0
        Print one line of progress per sweep when positive.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, n_components)
        Factor vector of each user, in the order of ``users_``.

    item_factors_ : ndarray of shape (n_items, n_components)
        Factor vector of each item, in the order of ``items_``.

    users_ : ndarray of shape (n_users,)
        The raw user ids, sorted, in factor-row order.

    items_ : ndarray of shape (n_items,)
        The raw item ids, sorted, in factor-row order.

    item_popularity_ : ndarray of shape (n_items,)
        Number of training users of each item (pairs with positive ``y``):
        the ranking shown to users not seen during fit.

    n_iter_ : int
        Number of sweeps run.

    loss_curve_ : list of float
        The objective above after each sweep, divided by the number of cells
        (users x items).

    n_features_in_ : int
        Number of columns of X seen during fit (always 2).

    feature_names_in_ : ndarray of shape (2,)
        Column names of X when it was a DataFrame with string column names.

    See Also
    --------
    MatrixFactorization : Explicit ratings (stars), by SGD or ALS.
    skmf.metrics.ndcg_at_k : The metric of :meth:`score`.

    References
    ----------
    Y. Hu, Y. Koren and C. Volinsky, "Collaborative filtering for implicit
    feedback datasets", ICDM 2008.

    G. Takács, I. Pilászy and D. Tikk, "Applications of the conjugate gradient
    method for implicit feedback collaborative filtering", RecSys 2011.

    Examples
    --------
    >>> from skmf import ImplicitMatrixFactorization
    >>> X = [["ann", "jazz"], ["ann", "blues"], ["bob", "jazz"], ["bob", "blues"],
    ...      ["bob", "soul"], ["cat", "metal"], ["cat", "punk"], ["dan", "punk"]]
    >>> plays = [12, 3, 8, 1, 4, 20, 7, 5]
    >>> model = ImplicitMatrixFactorization(n_components=2, random_state=0)
    >>> model.fit(X, plays)
    ImplicitMatrixFactorization(n_components=2, random_state=0)
    >>> ids, scores = model.recommend(["ann", "dan"], n=2)
    >>> ids.tolist()
    [['soul', 'punk'], ['metal', 'blues']]
    >>> model.similar_items("jazz", n=1)[0].tolist()
    ['blues']
    >>> factors, _ = model.fold_in(["metal"], [9])
    >>> model.recommend_for_ratings(["metal"], [9], n=1)[0].tolist()
    ['punk']
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "confidence": [StrOptions({"linear", "log"})],
        "confidence_scale": [Interval(Real, 0, None, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "solver": [StrOptions({"cg", "cholesky"})],
        "cg_steps": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "init_std": [Interval(Real, 0, None, closed="left")],
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
        alpha=0.01,
        confidence="linear",
        confidence_scale=1.0,
        epsilon=1.0,
        solver="cg",
        cg_steps=3,
        max_iter=15,
        init_std=0.01,
        dtype="float32",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.confidence = confidence
        self.confidence_scale = confidence_scale
        self.epsilon = epsilon
        self.solver = solver
        self.cg_steps = cg_steps
        self.max_iter = max_iter
        self.init_std = init_std
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        """Check the rules that tie parameters together; resolve the rest."""
        self._dtype = np.dtype(self.dtype).type
        self._params = _Params(
            reg=float(self.alpha),
            confidence=self.confidence,
            scale=float(self.confidence_scale),
            epsilon=float(self.epsilon),
            cg_steps=self.cg_steps if self.solver == "cg" else 0,
            n_threads=_effective_n_threads(self.n_jobs),
        )

    def _validate_pairs(self, X, y=None, *, reset):
        """validate_data for a table of ids and optional counts."""
        kwargs = dict(dtype=None, ensure_all_finite=False, reset=reset)
        if y is None:
            X = validate_data(self, X, **kwargs)
        else:
            y = _check_ratings(y)
            X, y = validate_data(self, X, y, y_numeric=True, **kwargs)
            y = _check_counts(y.astype(np.float64, copy=False))
        _check_ids(X)
        return X, y

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn user and item factors from (user, item) interactions.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2)
            User id and item id of each interaction, as in
            :meth:`MatrixFactorization.fit`.

        y : array-like of shape (n_pairs,), default=None
            Non-negative count or weight of each pair (plays, clicks, ...).
            Repeated pairs add up; a pair whose total is 0 counts as
            unobserved (but its user and item are known). None means 1 for
            every pair.

        Returns
        -------
        self : ImplicitMatrixFactorization
            The fitted estimator.
        """
        X, y = self._validate_pairs(X, y, reset=True)
        if y is None:
            y = np.ones(X.shape[0])
        self._check_params()
        rng = check_random_state(self.random_state)
        dtype = self._dtype

        self.users_, users = fit_ids(X[:, 0])
        self.items_, items = fit_ids(X[:, 1])
        self._user_index = pd.Index(self.users_)
        self._item_index = pd.Index(self.items_)
        shape = (self.users_.shape[0], self.items_.shape[0])
        counts = sp.csr_matrix((y, (users, items)), shape=shape)
        counts.eliminate_zeros()
        if counts.nnz == 0:
            raise ValueError(
                "y has no positive value: with every count 0 no pair is observed "
                "and there is nothing to learn."
            )
        self._seen = seen_matrix(counts.indptr, counts.indices, shape[1])
        self.item_popularity_ = np.bincount(counts.indices, minlength=shape[1])
        confidence = counts.copy()
        confidence.data = _confidence(counts.data, self._params)

        user_factors, item_factors = (
            rng.normal(0, self.init_std, (n, self.n_components)).astype(dtype)
            for n in shape
        )
        p = self._params
        no_bias = np.empty(0, dtype)
        solver = ImplicitALSSolver(
            Ratings(
                users=np.repeat(
                    np.arange(shape[0], dtype=np.int32), np.diff(confidence.indptr)
                ),
                items=confidence.indices.astype(np.int32),
                values=confidence.data.astype(dtype),
                weights=no_bias,
                n_users=shape[0],
                n_items=shape[1],
                indptr=confidence.indptr.astype(np.int64),
            ),
            FactorModel(user_factors, item_factors, no_bias, no_bias),
            ImplicitALSParams(p.reg, p.cg_steps, p.n_threads),
            rng,
        )
        cells = shape[0] * shape[1]
        self.loss_curve_ = []
        start = time.perf_counter()
        # The kernel calls BLAS from its own threads: BLAS must not start
        # threads of its own inside them.
        with single_threaded_blas():
            for sweep in range(1, self.max_iter + 1):
                data = solver.step()
                penalty = p.reg * sum(
                    np.sum(f.astype(np.float64) ** 2)
                    for f in (user_factors, item_factors)
                )
                self.loss_curve_.append((data + penalty) / cells)
                if self.verbose:
                    elapsed = time.perf_counter() - start
                    print(
                        f"Sweep {sweep}/{self.max_iter}: loss "
                        f"{self.loss_curve_[-1]:.6g}, {elapsed:.2f} s",
                        flush=True,
                    )
        self.n_iter_ = self.max_iter
        self.user_factors_ = user_factors
        self.item_factors_ = item_factors
        return self

    def score(self, X, y=None):
        """NDCG@10 of the recommendations against held-out pairs.

        Each user of ``X`` gets 10 recommendations, excluding the items they
        had in training; the pairs of ``X`` are the relevant items. See
        :func:`skmf.metrics.ndcg_at_k` for the definition. Scoring the
        training pairs themselves gives 0, since they are excluded.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2)
            Held-out (user, item) pairs.

        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        score : float
            NDCG@10 averaged over the users of ``X``, in [0, 1].
        """
        return ndcg_at_k(self, X)

    # Hooks of RecommenderMixin.

    def _scores(self, factors, bias, cols):
        return (factors @ self.item_factors_[cols].T).astype(np.float64)

    def _unknown_user_scores(self, cols):
        return self.item_popularity_[cols].astype(np.float64)

    def _fold_in_codes(self, codes, ratings):
        _check_counts(ratings)
        row = sp.csr_matrix(
            (ratings, (np.zeros_like(codes), codes)),
            shape=(1, self.items_.shape[0]),
        )
        row.eliminate_zeros()
        row.data = _confidence(row.data, self._params)
        try:
            factors = fold_in_row(
                self.item_factors_, row.indices, row.data, self._params.reg
            )
        except SolverBreakdown as exc:
            raise ValueError(
                f"fold_in failed: {exc}. Increase alpha or use dtype='float64'."
            ) from None
        return factors, 0.0

    def _predict_folded(self, factors, bias, codes):
        known = codes >= 0
        out = np.zeros(codes.shape[0], dtype=np.float64)
        out[known] = self.item_factors_[codes[known]] @ factors
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.target_tags.required = False
        return tags
