"""Bayesian matrix factorization by Gibbs sampling, as a scikit-learn regressor.

The model of :class:`~skmf.MatrixFactorization` with priors instead of a
penalty (Salakhutdinov and Mnih's BPMF, with biases): the posterior is explored
by a Gibbs sampler and predictions are averaged over the samples. A leaf of the
explicit-ratings layer: the averaged samples are stored as one plain factor
model whose predictions equal the posterior average, so prediction and
recommending are the layer's.
"""

import math
from numbers import Integral, Real

import numpy as np

from ._compat import Interval
from ._explicit import _ExplicitFactorModel
from ._solvers.gibbs import GibbsParams, GibbsSolver, HyperPrior

# Noise precision beta of the first sweep, before it is first drawn (the
# prototype's value; beta settles at about 1.6 on MovieLens 100K).
_INITIAL_NOISE_PRECISION = 2.0


class _PosteriorAverage:
    """Kept samples, stored as one factor model that predicts their average.

    Sample ``s`` of ``S`` fills columns ``s K:(s + 1) K`` with its factors
    divided by ``sqrt(S)``, so that the dot product of a user row and an item
    row is ``mean_s(w_u^s . h_i^s)``; the biases are averaged.
    """

    def __init__(self, ratings, n_components, n_samples, dtype):
        self.n_components = n_components
        self.n_samples = n_samples
        width = n_components * n_samples
        self.user_factors = np.empty((ratings.n_users, width), dtype)
        self.item_factors = np.empty((ratings.n_items, width), dtype)
        self.user_bias = np.zeros(ratings.n_users, np.float64)
        self.item_bias = np.zeros(ratings.n_items, np.float64)
        self.scale = 1.0 / math.sqrt(n_samples)
        self.count = 0
        # The likelihood raised to the power s_j: a weight of 2 counts as two
        # ratings, in the training RMSE too.
        self.total_weight = (
            float(np.sum(ratings.weights, dtype=np.float64))
            if ratings.weights.size
            else float(ratings.n_ratings)
        )

    def add(self, model):
        block = slice(
            self.count * self.n_components, (self.count + 1) * self.n_components
        )
        self.user_factors[:, block] = model.user_factors * self.scale
        self.item_factors[:, block] = model.item_factors * self.scale
        self.user_bias += model.user_bias
        self.item_bias += model.item_bias
        self.count += 1

    def biases(self, dtype):
        return (
            (self.user_bias / self.count).astype(dtype),
            (self.item_bias / self.count).astype(dtype),
        )


class BayesianMatrixFactorization(_ExplicitFactorModel):
    r"""Bayesian biased matrix factorization, sampled by Gibbs sampling.

    The ratings follow the model of :class:`MatrixFactorization`,

    .. math::

        r_{ui} \sim \mathcal N\left(\mu + b_u + b_i + w_u^\top h_i,\;
        (\beta s_{ui})^{-1}\right),

    with the global mean :math:`\mu`, sample weights :math:`s_{ui}` and an
    unknown noise precision :math:`\beta`. Instead of a penalty, each user's
    row :math:`x_u = [w_u, b_u]` and each item's row :math:`y_i = [h_i, b_i]`
    (``n_components + 1`` coordinates) has a Gaussian prior whose mean and
    precision matrix are themselves unknown, with a Normal-Wishart
    hyper-prior, and :math:`\beta` has a Gamma prior (Bayesian probabilistic
    matrix factorization, Salakhutdinov and Mnih, with the biases as an extra
    coordinate):

    .. math::

        x_u \sim \mathcal N(m_U, \Lambda_U^{-1}), \quad
        \Lambda_U \sim \mathcal W(W_0, \nu_0), \quad
        m_U \sim \mathcal N(0, (\beta_0 \Lambda_U)^{-1}), \quad
        \beta \sim \Gamma(a_0, b_0),

    and likewise for the items. A Gibbs sampler draws, in turn, the users'
    hyper-parameters and rows, the items' hyper-parameters and rows, and
    :math:`\beta`, each from its conditional posterior. After ``burn_in``
    sweeps, the next ``n_samples`` sweeps are kept and the prediction is the
    average of their predictions (then clipped):

    .. math::

        \hat r_{ui} = \mu + \frac1S \sum_{s=1}^S
        \left(b_u^s + b_i^s + {w_u^s}^\top h_i^s\right).

    No regularization strength needs tuning: the priors learn how much to
    shrink from the data, and averaging over the posterior rather than using
    one point estimate is what makes the model more accurate than the best
    tuned :class:`MatrixFactorization` (see the benchmarks page of the
    documentation for the figures).

    The kept samples are stored as one factor model that predicts their
    average: ``user_factors_`` and ``item_factors_`` have
    ``n_components * n_samples`` columns (sample ``s`` scaled by
    ``1 / sqrt(n_samples)`` in columns ``s * n_components`` to ``(s + 1) *
    n_components``), so :meth:`predict`, :meth:`recommend`,
    :meth:`similar_items` and :meth:`similar_users` work as for
    MatrixFactorization and give the posterior average exactly. Mind the
    memory: ``(n_users + n_items) * n_components * n_samples`` numbers.

    A new user cannot be folded in: the stored factors are an average of
    posterior samples, and a new user's posterior needs each sample's item
    factors and priors, which are not kept. The model therefore has no
    ``fold_in``, ``recommend_for_ratings`` or ``predict_for_ratings``; refit
    with the user's ratings, or use :class:`MatrixFactorization` for them.

    Parameters
    ----------
    n_components : int, default=10
        Length K of the user and item factor vectors. On MovieLens 100K,
        larger K gives no better predictions, only slower sweeps (see the user
        guide).

    n_samples : int, default=100
        Number of samples kept after the burn-in and averaged. The accuracy
        improves quickly with the first tens of samples, then slowly (the
        user guide shows the curve on MovieLens 100K).

    burn_in : int, default=30
        Number of sweeps run before the first kept sample.

    prior_strength : float, default=2.0
        :math:`\beta_0`: how many rows' worth of confidence the prior of the
        row mean :math:`m` has in its mean 0.

    prior_dof : float or None, default=None
        :math:`\nu_0`: degrees of freedom of the Wishart prior of the row
        precision; must exceed ``n_components``. None means ``n_components +
        1``, the dimension of a row, the weakest proper prior.

    prior_scale : float, default=1.0
        The scale matrix of the Wishart prior is ``prior_scale`` times the
        identity: its prior mean for the row precision is ``prior_dof *
        prior_scale`` times the identity.

    noise_shape : float, default=1.0
        :math:`a_0`, shape of the Gamma prior of the noise precision.

    noise_rate : float, default=1.0
        :math:`b_0`, rate of the Gamma prior of the noise precision.

    init_std : float, default=0.1
        Standard deviation of the normal distribution the factors start from.
        Biases start at zero.

    clip : bool, default=True
        Clip predictions (the posterior average) to the range of the training
        ratings.

    dtype : {"float32", "float64"}, default="float64"
        Floating point type of the factors and of the sampler's linear algebra.

    n_jobs : int or None, default=None
        Number of threads of the compiled kernels; None means all cores,
        except for small data sets (fewer than ``5e7 / (n_components + 1)**2``
        ratings), which run on one thread. The fitted model does not depend on
        it: every random number is drawn in Python.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial factors and the sampler. Pass an int for
        reproducible fits.

    verbose : int, default=0
        Print one line of progress per sweep when positive.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, n_components * n_samples)
        The kept samples of each user's factors, side by side, each divided
        by ``sqrt(n_samples)``, in the order of ``users_``.

    item_factors_ : ndarray of shape (n_items, n_components * n_samples)
        The same for the items, in the order of ``items_``.

    user_bias_ : ndarray of shape (n_users,)
        Posterior mean (average over the kept samples) of each user's bias.

    item_bias_ : ndarray of shape (n_items,)
        Posterior mean of each item's bias.

    intercept_ : float
        The global mean :math:`\mu`: the weighted mean of the training ratings.

    noise_precision_ : float
        Average of the noise precision :math:`\beta` over the kept samples;
        ``1 / sqrt(noise_precision_)`` estimates the noise in the ratings.

    users_ : ndarray of shape (n_users,)
        The raw user ids, sorted, in factor-row order.

    items_ : ndarray of shape (n_items,)
        The raw item ids, sorted, in factor-row order.

    rating_range_ : tuple of float
        Smallest and largest training rating; predictions are clipped to it
        when ``clip=True``.

    n_iter_ : int
        Number of sweeps run: ``burn_in + n_samples``.

    loss_curve_ : list of float
        Training RMSE (weighted by the sample weights) of each sweep's sample.

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
    MatrixFactorization : The same model fitted by regularized least squares.

    References
    ----------
    R. Salakhutdinov and A. Mnih, "Bayesian probabilistic matrix factorization
    using Markov chain Monte Carlo", ICML 2008.

    Examples
    --------
    >>> from skmf import BayesianMatrixFactorization
    >>> from skmf.datasets import make_ratings
    >>> X, y = make_ratings(
    ...     n_users=50, n_items=40, n_ratings=1000, random_state=0
    ... )[:2]
    >>> model = BayesianMatrixFactorization(
    ...     n_components=3, n_samples=20, burn_in=10, random_state=0
    ... ).fit(X, y)
    >>> model.user_factors_.shape  # 20 samples of 3 factors
    (50, 60)
    >>> model.n_iter_
    30
    """

    _parameter_constraints: dict = {
        **_ExplicitFactorModel._parameter_constraints,
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "burn_in": [Interval(Integral, 0, None, closed="left")],
        "prior_strength": [Interval(Real, 0, None, closed="neither")],
        "prior_dof": [Interval(Real, 0, None, closed="neither"), None],
        "prior_scale": [Interval(Real, 0, None, closed="neither")],
        "noise_shape": [Interval(Real, 0, None, closed="neither")],
        "noise_rate": [Interval(Real, 0, None, closed="neither")],
    }

    _can_fold_in = False

    def __init__(
        self,
        n_components=10,
        *,
        n_samples=100,
        burn_in=30,
        prior_strength=2.0,
        prior_dof=None,
        prior_scale=1.0,
        noise_shape=1.0,
        noise_rate=1.0,
        init_std=0.1,
        clip=True,
        dtype="float64",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.n_samples = n_samples
        self.burn_in = burn_in
        self.prior_strength = prior_strength
        self.prior_dof = prior_dof
        self.prior_scale = prior_scale
        self.noise_shape = noise_shape
        self.noise_rate = noise_rate
        self.init_std = init_std
        self.clip = clip
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self, n_train):
        """Check the rules that tie parameters together; resolve the rest."""
        dim = self.n_components + 1
        if self.prior_dof is not None and self.prior_dof <= dim - 1:
            raise ValueError(
                f"prior_dof must exceed n_components={self.n_components} for the "
                f"Wishart prior of the {dim} x {dim} row precision to exist; got "
                f"{self.prior_dof}. Use None for n_components + 1."
            )
        self._dtype = np.dtype(self.dtype).type
        self._max_iter = self.burn_in + self.n_samples

    def _parallel_work(self, n_ratings):
        return n_ratings * (self.n_components + 1) ** 2

    def _make_solver(self, ratings, model, rng):
        dim = self.n_components + 1
        self._solver_params = GibbsParams(
            prior=HyperPrior(
                strength=float(self.prior_strength),
                dof=float(dim if self.prior_dof is None else self.prior_dof),
                scale=float(self.prior_scale),
                noise_shape=float(self.noise_shape),
                noise_rate=float(self.noise_rate),
            ),
            initial_noise_precision=_INITIAL_NOISE_PRECISION,
            n_threads=self._fit_n_threads(ratings.n_ratings),
        )
        self._average = _PosteriorAverage(
            ratings, self.n_components, self.n_samples, self._dtype
        )
        self._noise_precisions = []
        return GibbsSolver(ratings, model, self._solver_params, rng)

    def _training_loss(self, data_loss, model):
        # The training RMSE of the sweep's sample: the model has no penalty.
        return math.sqrt(data_loss / self._average.total_weight)

    def _after_step(self, iteration, model, solver):
        if iteration > self.burn_in:
            self._average.add(model)
            self._noise_precisions.append(solver.noise_precision)

    def _set_fitted_model(self, model):
        average = self._average
        self.user_factors_ = average.user_factors
        self.item_factors_ = average.item_factors
        self.user_bias_, self.item_bias_ = average.biases(self._dtype)
        self.noise_precision_ = float(np.mean(self._noise_precisions))
        del self._average, self._noise_precisions

    def _factors_text(self):
        return f"{self.n_components} factors x {self.n_samples} samples per row"

    def _divergence_subject(self):
        return "The Gibbs sampler broke down"

    def _divergence_hint(self):
        return "Use dtype='float64' or bring the ratings to a smaller scale."

    def _progress_text(self, solver):
        phase = "burn-in" if self.n_iter_ <= self.burn_in else "sample"
        return (
            f" ({phase}): training RMSE {self.loss_curve_[-1]:.5f}, noise "
            f"precision {solver.noise_precision:.3f}"
        )
