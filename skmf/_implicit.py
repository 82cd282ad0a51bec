"""Matrix factorization of implicit feedback (plays, clicks, purchases).

``X`` holds (user id, item id) pairs and ``y`` how often or how much each
happened. Following Hu, Koren & Volinsky (2008), every user x item cell gets a
preference (1 for an observed pair, 0 otherwise) and a confidence that grows
with ``y``; the weighted least squares over all cells is solved by ALS without
ever forming the dense matrix. A leaf of the factor models' base: this module
holds the confidence transform, the objective and the implicit recommending
hooks; the loop and the ids are the base's.
"""

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from ._base import _BaseFactorModel
from ._compat import Interval, StrOptions, _fit_context
from ._solvers._base import Ratings
from ._solvers.implicit_als import ImplicitALSParams, ImplicitALSSolver, fold_in_row
from .metrics import ndcg_at_k


@dataclass(frozen=True)
class _Confidence:
    """How counts become confidences, resolved for one fit."""

    kind: str  # "linear" or "log"
    scale: float
    epsilon: float

    def __call__(self, counts):
        """Confidence of observed pairs with the given (positive) counts."""
        if self.kind == "log":
            return 1 + self.scale * np.log1p(counts / self.epsilon)
        return 1 + self.scale * counts

    def in_dtype(self, counts, dtype):
        """The confidences in the model's dtype, or an error if they overflow it."""
        with np.errstate(over="ignore"):
            confidence = self(counts).astype(dtype)
        if not np.all(np.isfinite(confidence)):
            raise ValueError(
                f"The confidences overflow {np.dtype(dtype).name}: the largest "
                f"count is {counts.max():.3g} and confidence_scale is "
                f"{self.scale:g}. Use confidence='log', a smaller "
                "confidence_scale, or dtype='float64'."
            )
        return confidence


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


class ImplicitMatrixFactorization(_BaseFactorModel):
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

    cg_steps : int or None, default=3
        How each row's :math:`K \times K` system is solved, as in
        :class:`MatrixFactorization`. An int runs that many steps of conjugate
        gradient per row and half-sweep, started from the row's previous
        factors (as in the implicit library); cost per row
        :math:`O(n_{obs} K + K^2)` per step. None solves every system
        exactly, by Cholesky, :math:`O(K^3)` per row.

    solver : {"cg", "cholesky"} or None, default=None
        Deprecated spelling of ``cg_steps``: ``"cholesky"`` is
        ``cg_steps=None``, ``"cg"`` keeps ``cg_steps``. It will be removed in
        a future release.

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

    fit_time_ : float
        Seconds the last fit took, from the validated input to the fitted
        model; :meth:`summary` shows it with the model's size.

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
    [['soul', 'metal'], ['metal', 'soul']]
    >>> model.similar_items("jazz", n=1)[0].tolist()
    ['soul']
    >>> factors, _ = model.fold_in(["metal"], [9])
    >>> model.recommend_for_ratings(["metal"], [9], n=1)[0].tolist()
    ['punk']
    """

    _parameter_constraints: dict = {
        **_BaseFactorModel._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "confidence": [StrOptions({"linear", "log"})],
        "confidence_scale": [Interval(Real, 0, None, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "cg_steps": [Interval(Integral, 1, None, closed="left"), None],
        "solver": [StrOptions({"cg", "cholesky"}), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    _has_biases = False

    def __init__(
        self,
        n_components=100,
        *,
        alpha=0.01,
        confidence="linear",
        confidence_scale=1.0,
        epsilon=1.0,
        cg_steps=3,
        solver=None,
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
        self.cg_steps = cg_steps
        self.solver = solver
        self.max_iter = max_iter
        self.init_std = init_std
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self, n_train):
        """Check the rules that tie parameters together; resolve the rest."""
        cg_steps = self.cg_steps
        if self.solver is not None:
            exact = self.solver == "cholesky"
            warnings.warn(
                "ImplicitMatrixFactorization's solver parameter is deprecated: "
                f"use cg_steps={'None' if exact else self.cg_steps} instead of "
                f"solver={self.solver!r}.",
                FutureWarning,
                stacklevel=4,
            )
            if exact:
                cg_steps = None
        self._cg_steps = 0 if cg_steps is None else cg_steps
        self._dtype = np.dtype(self.dtype).type
        self._max_iter = self.max_iter
        self._confidence = _Confidence(
            self.confidence, float(self.confidence_scale), float(self.epsilon)
        )

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
        if y is None:
            pairs, _ = self._validate_pairs(X, reset=True)
            y = np.ones(len(pairs))
        else:
            pairs, y = self._validate_pairs(X, y, reset=True)
            _check_counts(y)
        return self._fit_pairs(pairs, y, None, check_random_state(self.random_state))

    def _encode_values(self, codes, y, sample_weight):
        """Confidences of the observed pairs (repeats summed), grouped by user."""
        users, items = codes
        shape = (self.users_.shape[0], self.items_.shape[0])
        counts = sp.csr_matrix((y, (users, items)), shape=shape)
        counts.sum_duplicates()
        counts.eliminate_zeros()
        if counts.nnz == 0:
            raise ValueError(
                "y has no positive value: with every count 0 no pair is observed "
                "and there is nothing to learn."
            )
        confidence = self._confidence.in_dtype(counts.data, self._dtype)
        indptr = counts.indptr.astype(np.int64)
        return Ratings(
            users=np.repeat(np.arange(shape[0], dtype=np.int32), np.diff(indptr)),
            items=counts.indices.astype(np.int32),
            values=confidence,
            weights=np.empty(0, self._dtype),
            n_users=shape[0],
            n_items=shape[1],
            indptr=indptr,
        )

    def _make_solver(self, ratings, model, rng):
        self._solver_params = ImplicitALSParams(
            reg=float(self.alpha),
            cg_steps=self._cg_steps,
            n_threads=self._fit_n_threads(ratings.n_ratings),
        )
        self._n_cells = ratings.n_users * ratings.n_items
        return ImplicitALSSolver(ratings, model, self._solver_params, rng)

    def _training_loss(self, data_loss, model):
        penalty = np.sum(model.user_factors.astype(np.float64) ** 2) + np.sum(
            model.item_factors.astype(np.float64) ** 2
        )
        return (data_loss + self.alpha * penalty) / self._n_cells

    def _loss_bound(self, ratings):
        # All factors zero cost sum(c) over the observed cells: a loss far
        # above that means the iterates are running away.
        zero = float(np.sum(ratings.values, dtype=np.float64)) / (
            ratings.n_users * ratings.n_items
        )
        return 1e4 * (zero + 1)

    def _divergence_subject(self):
        return "Implicit ALS diverged"

    def _divergence_hint(self):
        return (
            "Use dtype='float64', confidence='log' or a smaller "
            f"confidence_scale (now {self.confidence_scale:g}), or increase "
            f"alpha (now {self.alpha:g})."
        )

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

    def _user_vectors(self, codes):
        return self.user_factors_[codes], None

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
        row.sum_duplicates()
        row.eliminate_zeros()
        factors = fold_in_row(
            self.item_factors_,
            row.indices,
            self._confidence(row.data),
            self._solver_params.reg,
        )
        return factors, 0.0

    def _predict_folded(self, factors, bias, codes):
        known = codes >= 0
        out = np.zeros(codes.shape[0], dtype=np.float64)
        out[known] = self.item_factors_[codes[known]] @ factors
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags
