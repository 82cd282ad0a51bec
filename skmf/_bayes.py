"""Bayesian matrix factorization by Gibbs sampling, as a scikit-learn regressor.

The model of :class:`~skmf.MatrixFactorization` with priors instead of a
penalty (Salakhutdinov and Mnih's BPMF, with biases): the posterior is explored
by a Gibbs sampler and predictions are averaged over the samples. Input
handling, prediction and recommending are MatrixFactorization's: the averaged
samples are stored as one plain factor model whose predictions equal the
posterior average.
"""

import math
import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from ._blas import single_threaded_blas
from ._mf import MatrixFactorization, _fit_n_threads, _initial_model
from ._solvers.gibbs import GibbsParams, GibbsSampler, HyperPrior

# Noise precision beta of the first sweep, before it is first drawn (the
# prototype's value; beta settles at about 1.6 on MovieLens 100K).
_INITIAL_NOISE_PRECISION = 2.0


# Below this many ratings x (n_components + 1)^2 a fit is small (see
# _fit_n_threads): its 260 half-sweeps take milliseconds each. MovieLens 100K:
# 0.9 s per fit on one thread, 0.7-3 s on two with another job running.
_MIN_PARALLEL_WORK = 5e7

# Parameters with MatrixFactorization's meaning and constraints.
_SHARED_PARAMETERS = (
    "n_components",
    "init_std",
    "clip",
    "dtype",
    "n_jobs",
    "random_state",
    "verbose",
)


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


class BayesianMatrixFactorization(MatrixFactorization):
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
    tuned :class:`MatrixFactorization`. On MovieLens 100K the defaults reach
    a mean RMSE of 0.896 on the five canonical folds (0.914 for
    MatrixFactorization's ALS defaults), in about 1 s per fit (130 sweeps of
    about 0.007 s at K=10).

    The kept samples are stored as one factor model that predicts their
    average: ``user_factors_`` and ``item_factors_`` have
    ``n_components * n_samples`` columns (sample ``s`` scaled by
    ``1 / sqrt(n_samples)`` in columns ``s * n_components`` to ``(s + 1) *
    n_components``), so :meth:`predict`, :meth:`recommend`,
    :meth:`similar_items` and :meth:`similar_users` work as for
    MatrixFactorization and give the posterior average exactly. Mind the
    memory: ``(n_users + n_items) * n_components * n_samples`` numbers.

    Parameters
    ----------
    n_components : int, default=10
        Length K of the user and item factor vectors. On MovieLens 100K,
        larger K gives no better predictions, only slower sweeps.

    n_samples : int, default=100
        Number of samples kept after the burn-in and averaged. The accuracy
        improves quickly, then slowly: on MovieLens 100K the mean RMSE is
        0.943 with 1 sample, 0.908 with 10, 0.897 with 50, 0.8964 with 100
        and 0.8959 with 200.

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
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "burn_in": [Interval(Integral, 0, None, closed="left")],
        "prior_strength": [Interval(Real, 0, None, closed="neither")],
        "prior_dof": [Interval(Real, 0, None, closed="neither"), None],
        "prior_scale": [Interval(Real, 0, None, closed="neither")],
        "noise_shape": [Interval(Real, 0, None, closed="neither")],
        "noise_rate": [Interval(Real, 0, None, closed="neither")],
        **{
            name: MatrixFactorization._parameter_constraints[name]
            for name in _SHARED_PARAMETERS
        },
    }

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

    def _check_params(self):
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
        self._prior = HyperPrior(
            strength=float(self.prior_strength),
            dof=float(dim if self.prior_dof is None else self.prior_dof),
            scale=float(self.prior_scale),
            noise_shape=float(self.noise_shape),
            noise_rate=float(self.noise_rate),
        )

    def _n_threads(self, n_ratings):
        small = n_ratings * (self.n_components + 1) ** 2 < _MIN_PARALLEL_WORK
        return _fit_n_threads(self.n_jobs, small)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Sample the posterior of the factors and biases given rated pairs.

        Parameters
        ----------
        X : array-like of shape (n_ratings, 2)
            User id and item id of each rating, as in
            :meth:`MatrixFactorization.fit`.

        y : array-like of shape (n_ratings,)
            The ratings.

        sample_weight : array-like of shape (n_ratings,), default=None
            Non-negative weight of each rating: the rating's noise precision
            is multiplied by it, so a weight of 2 is the same as the rating
            appearing twice.

        Returns
        -------
        self : BayesianMatrixFactorization
            The fitted estimator.
        """
        X, y, sample_weight = self._validate_fit_input(X, y, sample_weight)
        rng = check_random_state(self.random_state)
        self._check_params()
        dtype = self._dtype
        ratings = self._encode_ratings(X, y, sample_weight, dtype)
        del X, y
        model = _initial_model(rng, ratings, self.n_components, self.init_std, dtype)
        sampler = GibbsSampler(
            ratings,
            model,
            GibbsParams(
                self._prior,
                _INITIAL_NOISE_PRECISION,
                self._n_threads(ratings.n_ratings),
            ),
            rng,
        )
        average = _PosteriorAverage(ratings, self.n_components, self.n_samples, dtype)
        noise_precisions = []
        self.loss_curve_ = []
        start = time.perf_counter()
        # The kernel calls LAPACK from its own threads: BLAS must not start
        # threads of its own inside them.
        with single_threaded_blas():
            for sweep in range(1, self._max_iter + 1):
                try:
                    sse = sampler.sweep()
                except FloatingPointError as exc:
                    self._diverged(sweep, str(exc))
                rmse = math.sqrt(sse / sampler.total_weight)
                if not np.isfinite(rmse):
                    self._diverged(sweep, f"the training RMSE is {rmse}")
                self.loss_curve_.append(rmse)
                self.n_iter_ = sweep
                if sweep > self.burn_in:
                    average.add(model)
                    noise_precisions.append(sampler.noise_precision)
                if self.verbose:
                    self._print_progress(sweep, start, sampler.noise_precision)
        self.user_factors_ = average.user_factors
        self.item_factors_ = average.item_factors
        self.user_bias_, self.item_bias_ = average.biases(dtype)
        self.noise_precision_ = float(np.mean(noise_precisions))
        return self

    def _diverged(self, sweep, what):
        raise ValueError(
            f"The Gibbs sampler broke down at sweep {sweep}: {what}. Use "
            "dtype='float64' or bring the ratings to a smaller scale."
        )

    def _print_progress(self, sweep, start, noise_precision):
        elapsed = time.perf_counter() - start
        eta = elapsed / sweep * (self._max_iter - sweep)
        phase = "burn-in" if sweep <= self.burn_in else "sample"
        print(
            f"Sweep {sweep}/{self._max_iter} ({phase}): training RMSE "
            f"{self.loss_curve_[-1]:.5f}, noise precision {noise_precision:.3f}, "
            f"{elapsed:.2f} s, ETA {eta:.2f} s",
            flush=True,
        )

    def _fold_in_codes(self, codes, ratings):
        raise TypeError(
            "BayesianMatrixFactorization cannot fold in a new user: its stored "
            "factors are an average of posterior samples, and a new user's "
            "posterior needs each sample's item biases and priors, which are "
            "not kept. Refit with the user's ratings, or use MatrixFactorization "
            "for fold_in, recommend_for_ratings and predict_for_ratings."
        )
