"""The abstract base of every factor model, and its one training loop.

A factor model learns a factor vector for each user and each item from
(user, item, value) triplets. What every such model shares lives here: the
shared parameter constraints, the validation of the pairs, the id encoding,
the initial factors and the training loop (timing, progress, BLAS thread
limits, divergence checks, early stopping, ``loss_curve_`` and ``n_iter_``).
A model supplies its hooks: how to check its parameters, how ``y`` becomes
the values its solver fits, which solver to build, what a step adds to the
objective, and what to tell the user when the iterates diverge.

The layers are ``_BaseFactorModel`` (here), ``_ExplicitFactorModel`` (ratings:
``predict``, fold-in, the explicit recommending hooks; in ``_explicit.py``)
and the leaf estimators, which keep only what is theirs. The loop itself is
``_TrainingLoopMixin``, which ``_BaseFactorModel`` inherits, so that an
estimator over other data (the generic factorization-machine regressor over
any X) trains through the same loop without being a factor model.
"""

import copy
import math
import time
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from ._compat import Interval, Options, StrOptions
from ._encoding import fit_ids
from ._persistence import VersionedStateMixin
from ._recommend import RecommenderMixin, seen_matrix
from ._solvers._base import FactorModel, SolverBreakdown
from ._solvers.sgd import aligned_empty
from ._threads import effective_n_threads, fit_n_threads, single_threaded_blas
from ._validation import validate_pairs

# Constraints shared by the estimators with an SGD schedule, and by those
# with early stopping (MatrixFactorization, FactorizationMachine).
_SGD_SCHEDULE_CONSTRAINTS = {
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "learning_rate_schedule": [StrOptions({"exponential", "constant"})],
    "decay_rate": [Interval(Real, 0, 1, closed="right")],
    "decay_steps": [Interval(Integral, 1, None, closed="left"), None],
}
_STOPPING_CONSTRAINTS = {
    "max_iter": [Interval(Integral, 1, None, closed="left"), None],
    "tol": [Interval(Real, 0, None, closed="left"), None],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
}


@dataclass
class _StoppingRule:
    """When to stop before ``max_iter``, resolved by the model for one fit.

    ``validation`` is None to watch the training loss, else the held-out data
    that the model's ``_validation_score`` scores after every step.
    """

    tol: float
    n_iter_no_change: int
    validation: object = None


class _TrainingLoopMixin(ABC):
    """The one training loop, for any estimator that steps a solver.

    The factor models inherit it through :class:`_BaseFactorModel`; an
    estimator that is not a user x item factor model (the generic
    factorization-machine regressor) inherits it directly. The estimator
    has ``verbose``, sets ``_max_iter`` before the loop, and implements the
    abstract hooks; ``model`` and ``ratings`` are whatever its solver
    updates and reads, passed through to the hooks untouched.
    """

    # Whether the model has early stopping, and so validation_scores_ and
    # best_validation_score_.
    _has_early_stopping = False

    @abstractmethod
    def _training_loss(self, data_loss, model):
        """The value of ``loss_curve_`` after a step whose data loss is given."""

    @abstractmethod
    def _divergence_hint(self):
        """What the user can do when the iterates diverge: a sentence or two."""

    def _loss_bound(self, ratings):
        """A training loss above this means the iterates are running away."""
        return math.inf

    def _step_name(self):
        """What one step of the loop is called in messages: epoch or sweep."""
        return "sweep"

    # An optional hook, so it does nothing unless a model overrides it.
    def _after_step(self, iteration, model, solver):  # noqa: B027
        """Called after every step (e.g. to keep a posterior sample)."""

    def _progress_text(self, solver):
        """What the verbose progress line says of the step just run."""
        return f": loss {self.loss_curve_[-1]:.5f}"

    def _validation_score(self, model, validation):
        raise NotImplementedError  # only models that support early stopping

    def _diverged(self, iteration, what):
        raise ValueError(
            f"{self._divergence_subject()} at {self._step_name()} {iteration}: "
            f"{what}. {self._divergence_hint()}"
        )

    def _divergence_subject(self):
        """The start of the divergence message, e.g. "ALS diverged"."""
        return f"{str(self.solver).upper()} diverged"

    def _train(self, solver, model, ratings, stopping=None):
        """The one training loop of every skmf estimator; returns the model to keep.

        ``stopping`` is a :class:`_StoppingRule`, or None to run ``max_iter``
        steps.
        """
        validation = None if stopping is None else stopping.validation
        bound = self._loss_bound(ratings)
        self.loss_curve_ = []
        if self._has_early_stopping:
            self.validation_scores_ = [] if validation is not None else None
            self.best_validation_score_ = None
        best, best_model, no_improvement = math.inf, None, 0
        start = time.perf_counter()
        # The kernels call BLAS/LAPACK from their own threads: BLAS must not
        # start threads of its own inside them.
        with single_threaded_blas():
            for iteration in range(1, self._max_iter + 1):
                try:
                    data_loss = solver.step()
                except SolverBreakdown as exc:
                    self._diverged(iteration, str(exc))
                loss = self._training_loss(data_loss, model)
                if not math.isfinite(loss) or loss > bound:
                    self._diverged(iteration, f"the training loss is {loss:.3g}")
                self.loss_curve_.append(loss)
                self.n_iter_ = iteration
                self._after_step(iteration, model, solver)

                stop = False
                if stopping is not None:
                    if validation is not None:
                        score = self._validation_score(model, validation)
                        self.validation_scores_.append(score)
                        criterion = -score
                    else:
                        criterion = loss
                    if criterion < best - stopping.tol:
                        no_improvement = 0
                    else:
                        no_improvement += 1
                    if criterion < best:
                        best = criterion
                        if validation is not None:
                            self.best_validation_score_ = score
                            best_model = copy.deepcopy(model)
                    stop = no_improvement >= stopping.n_iter_no_change
                if self.verbose:
                    self._print_progress(iteration, start, solver)
                if stop:
                    break
            else:
                if stopping is not None:
                    warnings.warn(
                        f"{type(self).__name__} stopped at max_iter={self._max_iter} "
                        "before converging; increase max_iter or tol.",
                        ConvergenceWarning,
                        stacklevel=4,
                    )
        return best_model if best_model is not None else model

    def _print_progress(self, iteration, start, solver):
        elapsed = time.perf_counter() - start
        eta = elapsed / iteration * (self._max_iter - iteration)
        line = (
            f"{self._step_name().capitalize()} {iteration}/{self._max_iter}"
            f"{self._progress_text(solver)}"
        )
        print(f"{line}, {elapsed:.2f} s, ETA {eta:.2f} s", flush=True)


class _BaseFactorModel(
    VersionedStateMixin, RecommenderMixin, _TrainingLoopMixin, BaseEstimator, ABC
):
    """Abstract base of the factor models: parameters, ids and the loop.

    Subclasses set ``_has_biases`` and implement the hooks marked abstract.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "init_std": [Interval(Real, 0, None, closed="left")],
        "dtype": [
            StrOptions({"float32", "float64"}),
            Options(type, {np.float32, np.float64}),
        ],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # Whether the model learns user and item biases (MatrixFactorization's
    # b_u and b_i); without, the bias arrays are empty.
    _has_biases = True

    # ------------------------------------------------------------------
    # Hooks of the leaf estimators.

    @abstractmethod
    def _check_params(self, n_train):
        """Check the rules tying parameters together; resolve them for a fit.

        Sets ``_dtype`` and ``_max_iter``; public parameters are never
        modified.
        """

    @abstractmethod
    def _make_solver(self, ratings, model, rng):
        """The :class:`~skmf._solvers._base.Solver` of this fit.

        Builds the solver's parameters, kept as ``_solver_params``.
        """

    @abstractmethod
    def _encode_values(self, codes, y, sample_weight):
        """Ratings (a ``Ratings``) from encoded pairs, ``y`` and the weights.

        ``codes`` is ``(users, items)`` as int32 indices. Sets the fitted
        attributes that describe ``y`` (e.g. ``intercept_``).
        """

    def _parallel_work(self, n_ratings):
        """Arithmetic of one kernel call, to decide whether a fit is small."""
        return math.inf

    def _stopping_rule(self, validation):
        """A :class:`_StoppingRule`, or None to run exactly ``max_iter`` steps."""
        return None

    def _encode_validation(self, validation):
        """Held-out data in the form :meth:`_validation_score` reads."""
        return validation

    def _factors_text(self):
        """What one row of the factors holds, for :meth:`summary`."""
        return f"{self.n_components} factors per row"

    # ------------------------------------------------------------------
    # The shared skeleton of fit.

    def _validate_pairs(self, X, y="no_validation", *, reset):
        return validate_pairs(self, X, y, reset=reset)

    def _fit_n_threads(self, n_ratings):
        return fit_n_threads(self.n_jobs, self._parallel_work(n_ratings))

    def _predict_n_threads(self):
        return effective_n_threads(self.n_jobs)

    def _encode_ratings(self, pairs, y, sample_weight):
        """Learn the ids; return the ratings by user, with the seen pairs.

        Sets ``users_``, ``items_``, ``item_popularity_`` and whatever
        :meth:`_encode_values` sets.
        """
        self.users_, users = fit_ids(pairs.users)
        self.items_, items = fit_ids(pairs.items)
        # The lookups of the fitted ids are built now, so that predict and
        # recommend leave the estimator's state as fit left it.
        self._id_index("users_")
        self._id_index("items_")
        ratings = self._encode_values((users, items), y, sample_weight)
        self._seen = seen_matrix(ratings.indptr, ratings.items, ratings.n_items)
        self.item_popularity_ = np.bincount(ratings.items, minlength=ratings.n_items)
        return ratings

    def _initial_model(self, rng, ratings):
        """Normal random factors of standard deviation init_std, zero biases."""
        # numpy's Generator draws float32 normals directly, 2x faster than the
        # legacy RandomState that sklearn's random_state resolves to. Drawn in
        # float32 whatever the dtype, so that float32 and float64 fits start
        # from the same point.
        init_rng = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
        dtype = self._dtype
        shape = (ratings.n_users, ratings.n_items)
        # Allocated on a cache line, as parallel SGD needs (see the SGD
        # solver), so that it does not copy them.
        factors = [aligned_empty((n, self.n_components), dtype) for n in shape]
        for side in factors:
            if side.dtype == np.float32:
                init_rng.standard_normal(out=side, dtype=np.float32)
            else:
                side[...] = init_rng.standard_normal(side.shape, dtype=np.float32)
            side *= self.init_std
        biases = [aligned_empty((n if self._has_biases else 0,), dtype) for n in shape]
        for bias in biases:
            bias[:] = 0
        return FactorModel(*factors, *biases)

    def _set_fitted_model(self, model):
        self.user_factors_ = model.user_factors
        self.item_factors_ = model.item_factors
        if self._has_biases:
            self.user_bias_ = model.user_bias
            self.item_bias_ = model.item_bias

    def _fit_pairs(self, pairs, y, sample_weight, rng, validation=None):
        """Everything of fit after validation: encode, train, keep the model.

        A fit that fails or is interrupted (Ctrl-C) leaves the estimator
        unfitted, never with the ids of one fit and the factors of another.
        """
        try:
            return self._fit_encoded(pairs, y, sample_weight, rng, validation)
        except BaseException:
            self._forget_fit()
            raise

    def _forget_fit(self):
        for name in list(vars(self)):
            if name.endswith("_") and not name.startswith("__"):
                delattr(self, name)
        for name in ("_seen", "_id_indexes"):
            self.__dict__.pop(name, None)

    def _fit_encoded(self, pairs, y, sample_weight, rng, validation):
        start = time.perf_counter()
        self._check_params(len(pairs))
        ratings = self._encode_ratings(pairs, y, sample_weight)
        del pairs, y
        if validation is not None:
            validation = self._encode_validation(validation)
        stopping = self._stopping_rule(validation)
        model = self._initial_model(rng, ratings)
        solver = self._make_solver(ratings, model, rng)
        model = self._train(solver, model, ratings, stopping)
        self._set_fitted_model(model)
        self.fit_time_ = time.perf_counter() - start
        return self

    def summary(self):
        """A short description of the fitted model: its data, size and training.

        Returns
        -------
        text : str
            A few lines: the estimator, the numbers of users, items and
            training pairs, the memory of the learned arrays, the number of
            steps run, the final training loss and the fit time.

        Examples
        --------
        >>> from skmf import MatrixFactorization
        >>> X = [["ann", "up"], ["ann", "jaws"], ["bob", "up"], ["cat", "jaws"]]
        >>> mf = MatrixFactorization(n_components=2, random_state=0)
        >>> print(mf.fit(X, [5, 1, 4, 2]).summary())  # doctest: +ELLIPSIS
        MatrixFactorization(n_components=2, random_state=0)
          3 users, 2 items, 4 training pairs
          learned arrays: ... kB (2 factors per row, float32)
          40 epochs in ... s, final training loss ...
        """
        check_is_fitted(self)
        arrays = [self.user_factors_, self.item_factors_]
        arrays += [getattr(self, name, None) for name in ("user_bias_", "item_bias_")]
        size = sum(a.nbytes for a in arrays if a is not None)
        unit, scale = ("MB", 1e6) if size >= 1e6 else ("kB", 1e3)
        users, items = len(self.users_), len(self.items_)
        pairs = self._seen.nnz
        steps = f"{self.n_iter_} {self._step_name()}{'s' if self.n_iter_ != 1 else ''}"
        return "\n".join(
            [
                repr(self),
                f"  {users:,} user{'s' * (users != 1)}, {items:,} "
                f"item{'s' * (items != 1)}, {pairs:,} training "
                f"pair{'s' * (pairs != 1)}",
                f"  learned arrays: {size / scale:.1f} {unit} "
                f"({self._factors_text()}, {self.user_factors_.dtype.name})",
                f"  {steps} in {self.fit_time_:.2f} s, final training loss "
                f"{self.loss_curve_[-1]:.5g}",
            ]
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags
