"""Behaviour of BayesianMatrixFactorization on (user, item) input.

Input validation, id encoding, prediction and recommending are inherited from
MatrixFactorization and tested there; the scikit-learn checks run on both in
tests/test_common.py. This file tests what the sampler adds: reproducibility,
the posterior average, recovery of a known model and the parameters.
"""

import pickle
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from skmf import BayesianMatrixFactorization, MatrixFactorization
from skmf._solvers import gibbs
from skmf._solvers._base import SolverBreakdown
from skmf.datasets import make_ratings

from .conftest import low_rank_ratings


def small(**params):
    defaults = dict(n_components=3, n_samples=8, burn_in=4, random_state=0)
    return BayesianMatrixFactorization(**{**defaults, **params})


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def test_fitted_attributes(ratings):
    X, y = ratings
    model = small(n_components=2, n_samples=5, burn_in=3).fit(X, y)
    n_users, n_items = len(np.unique(X[:, 0])), len(np.unique(X[:, 1]))
    assert model.user_factors_.shape == (n_users, 2 * 5)
    assert model.item_factors_.shape == (n_items, 2 * 5)
    assert model.user_bias_.shape == (n_users,)
    assert model.item_bias_.shape == (n_items,)
    assert model.n_iter_ == 8
    assert len(model.loss_curve_) == 8
    assert all(value > 0 for value in model.loss_curve_)
    assert model.noise_precision_ > 0
    assert model.user_factors_.dtype == np.float64
    # A sibling of MatrixFactorization, not a subclass that disowns its methods.
    assert not isinstance(model, MatrixFactorization)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype(ratings, dtype):
    X, y = ratings
    model = small(dtype=dtype).fit(X, y)
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        assert getattr(model, name).dtype == np.dtype(dtype)
    assert model.score(X, y) > 0.8


def test_predictions_are_the_posterior_average(ratings, monkeypatch):
    """predict equals the average of the kept samples' predictions, recorded
    independently of the stored factors."""
    X, y = ratings
    samples = []
    sweep = gibbs.GibbsSolver.step

    def recording(self):
        sse = sweep(self)
        m = self.model
        samples.append(
            [
                a.copy()
                for a in (m.user_factors, m.item_factors, m.user_bias, m.item_bias)
            ]
        )
        return sse

    monkeypatch.setattr(gibbs.GibbsSolver, "step", recording)
    model = small(clip=False, n_samples=6, burn_in=3).fit(X, y)
    assert len(samples) == 9
    users = model._user_index.get_indexer(X[:, 0])
    items = model._item_index.get_indexer(X[:, 1])
    predictions = [
        model.intercept_ + bu[users] + bi[items] + np.sum(W[users] * H[items], axis=1)
        for W, H, bu, bi in samples[3:]
    ]
    assert_allclose(model.predict(X), np.mean(predictions, axis=0), rtol=1e-12)
    clipped = small(n_samples=6, burn_in=3).fit(X, y).predict(X)
    assert_allclose(clipped, np.clip(np.mean(predictions, axis=0), y.min(), y.max()))


def test_recommend_scores_are_the_posterior_average(ratings):
    X, y = ratings
    model = small(clip=False).fit(X, y)
    user = X[0, 0]
    items, scores = model.recommend(user, n=5, exclude_seen=False)
    pairs = np.column_stack([np.full(5, user), items])
    # The taste is the prediction without its intercept and biases.
    codes = np.searchsorted(model.items_, items)
    u = np.searchsorted(model.users_, user)
    taste = model.predict(pairs) - model.intercept_ - model.user_bias_[u]
    taste -= model.item_bias_[codes]
    low, high = model.rating_range_
    expected = np.log1p(model.item_popularity_[codes]) + taste / (high - low)
    assert_allclose(scores, expected, rtol=1e-10)
    neighbours, similarity = model.similar_items(X[0, 1], n=3)
    assert neighbours.shape == (3,) and np.all(similarity <= 1 + 1e-12)


def test_random_state_reproducible(ratings):
    X, y = ratings
    first = small(random_state=5).fit(X, y)
    second = small(random_state=5).fit(X, y)
    assert_array_equal(first.user_factors_, second.user_factors_)
    assert_array_equal(first.predict(X), second.predict(X))
    assert first.loss_curve_ == second.loss_curve_
    other = small(random_state=6).fit(X, y)
    assert not np.array_equal(other.predict(X), first.predict(X))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_jobs", [2, -1, None])
def test_n_jobs_gives_identical_results(dtype, n_jobs):
    X, y = low_rank_ratings(n_users=300, n_items=200, density=0.2)
    reference = small(n_jobs=1, dtype=dtype).fit(X, y)
    model = small(n_jobs=n_jobs, dtype=dtype).fit(X, y)
    assert_array_equal(model.user_factors_, reference.user_factors_)
    assert_array_equal(model.item_bias_, reference.item_bias_)
    assert model.noise_precision_ == reference.noise_precision_


@pytest.mark.parametrize("n_components", [3, 10])
def test_recovers_a_low_rank_truth_better_than_least_squares(n_components):
    """Against the noiseless rank-3 model, on every (user, item) pair.

    Noise of 0.5 on 15 000 ratings of 300 x 200 pairs (a quarter of them,
    with heavy-tailed activity): without tuning, the posterior average
    is within 0.39 of the truth with K = 3 and with K = 10, where ALS with
    its default alpha is off by 0.48 and 0.49 (and by 0.37 at best, with
    alpha = 0.01 chosen knowing the truth and K = 3; 0.56 at K = 10).
    Predicting the mean is off by 1.26.
    """
    X, y, truth = make_ratings(
        n_users=300, n_items=200, n_ratings=15_000, n_components=3, noise=0.5,
        discrete=False, random_state=0, return_factors=True,
    )  # fmt: skip
    users, items = (a.ravel() for a in np.meshgrid(np.arange(300), np.arange(200)))
    pairs = np.column_stack([users, items])
    true = (
        truth.intercept + truth.user_bias[users] + truth.item_bias[items]
        + np.sum(truth.user_factors[users] * truth.item_factors[items], axis=1)
    )  # fmt: skip
    bayes = BayesianMatrixFactorization(
        n_components=n_components, n_samples=40, burn_in=20, clip=False,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    als = MatrixFactorization(
        n_components=n_components, solver="als", clip=False, random_state=0
    ).fit(X, y)
    error = rmse(bayes.predict(pairs), true)
    assert error < 0.4
    assert error < 0.85 * rmse(als.predict(pairs), true)
    # The noise precision is learned: 1 / 0.5**2 = 4.
    assert 3.2 < bayes.noise_precision_ < 4.8


def test_weight_two_equals_duplicated_rating(ratings):
    X, y = ratings
    weights = np.ones(len(y))
    weights[:10] = 2
    doubled = small(n_jobs=1).fit(X, y, sample_weight=weights)
    repeated = small(n_jobs=1).fit(np.vstack([X, X[:10]]), np.append(y, y[:10]))
    assert_allclose(doubled.predict(X), repeated.predict(X), rtol=1e-6)


def test_sample_weight_changes_the_fit(ratings):
    X, y = ratings
    weights = np.linspace(0.5, 2, len(y))
    plain = small().fit(X, y).predict(X)
    assert not np.allclose(small().fit(X, y, sample_weight=weights).predict(X), plain)


@pytest.mark.parametrize(
    "param, value",
    [
        ("n_components", 4),
        ("n_samples", 9),
        ("burn_in", 5),
        ("prior_strength", 20.0),
        ("prior_dof", 10.0),
        ("prior_scale", 0.1),
        ("noise_shape", 100.0),
        ("noise_rate", 100.0),
        ("init_std", 0.5),
        ("clip", False),
        ("dtype", "float32"),
        ("random_state", 1),
    ],
)
def test_every_parameter_changes_the_result(param, value):
    X, y = low_rank_ratings(noise=0.5)
    # Every pair, rated or not: some predictions leave the training range.
    pairs = np.column_stack([a.ravel() for a in np.meshgrid(*map(np.unique, X.T))])
    reference = small().fit(X, y).predict(pairs)
    changed = small(**{param: value}).fit(X, y).predict(pairs)
    assert not np.allclose(changed, reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(n_samples=0), InvalidParameterError, "n_samples"),
        (dict(burn_in=-1), InvalidParameterError, "burn_in"),
        (dict(prior_strength=0), InvalidParameterError, "prior_strength"),
        (dict(prior_dof=3), ValueError, "prior_dof must exceed n_components=3"),
        (dict(prior_scale=-1.0), InvalidParameterError, "prior_scale"),
        (dict(noise_rate=0), InvalidParameterError, "noise_rate"),
        (dict(dtype="float16"), InvalidParameterError, "dtype"),
        (dict(n_jobs=0), ValueError, "n_jobs == 0"),
    ],
)
def test_bad_parameters(ratings, params, error, match):
    with pytest.raises(error, match=match):
        small(**params).fit(*ratings)


def test_fold_in_is_hidden(ratings):
    """hasattr tells the truth: the model cannot fold in, so it has no fold_in."""
    X, y = ratings
    model = small().fit(X, y)
    for name in ("fold_in", "recommend_for_ratings", "predict_for_ratings"):
        assert not hasattr(model, name)
        with pytest.raises(AttributeError, match=name) as error:
            getattr(model, name)
        assert "cannot fold in a new user" in str(error.value.__cause__)
    assert hasattr(model, "recommend") and hasattr(model, "similar_items")


def test_unknown_ids_fall_back_to_known_biases(ratings):
    X, y = ratings
    model = small(clip=False).fit(X, y)
    user, item = X[0]
    code = model._item_index.get_loc(item)
    predictions = model.predict([[10_000, item], [10_000, 10_001]])
    assert_allclose(predictions, [model.intercept_ + model.item_bias_[code], y.mean()])
    assert model.predict([[user, 10_001]])[0] == pytest.approx(
        model.intercept_ + model.user_bias_[model._user_index.get_loc(user)]
    )


def test_clone_pickle_and_grid_search(ratings):
    X, y = ratings
    model = small().fit(X, y)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "user_factors_")
    restored = pickle.loads(pickle.dumps(model))
    assert_array_equal(restored.predict(X), model.predict(X))
    grid = GridSearchCV(
        small(), {"n_components": [1, 3], "n_samples": [2, 8]}, cv=3
    ).fit(X, y)
    assert grid.best_params_["n_components"] == 3
    assert (
        grid.best_estimator_.user_factors_.shape[1]
        == 3 * grid.best_params_["n_samples"]
    )


def test_verbose_prints_progress(ratings, capsys):
    small(n_samples=2, burn_in=1, verbose=1).fit(*ratings)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert re.match(
        r"Sweep 1/3 \(burn-in\): training RMSE \d+\.\d+, noise precision "
        r"\d+\.\d+, .* s, ETA .* s",
        lines[0],
    )
    assert "(sample)" in lines[1]


def test_silent_by_default(ratings, capsys):
    small().fit(*ratings)
    assert capsys.readouterr().out == ""


def test_sampler_breakdown_is_an_error_naming_the_fix(ratings, monkeypatch):
    def broken(self):
        raise SolverBreakdown("row 3's conditional posterior precision is not")

    monkeypatch.setattr(gibbs.GibbsSolver, "step", broken)
    with pytest.raises(ValueError, match="broke down at sweep 1: row 3.*float64"):
        small().fit(*ratings)


def test_wishart_draws_have_the_right_mean():
    rng = np.random.default_rng(0)
    scale = np.array([[1.0, 0.3], [0.3, 0.5]])
    draws = [gibbs.sample_wishart(scale, 5.0, rng) for _ in range(4000)]
    assert_allclose(np.mean(draws, axis=0), 5.0 * scale, atol=0.1)


def test_small_fits_use_one_thread_unless_asked():
    """A half-sweep of a small fit takes milliseconds: not worth a barrier."""
    from skmf._threads import effective_n_threads

    assert BayesianMatrixFactorization()._fit_n_threads(80_000) == 1
    assert BayesianMatrixFactorization(n_jobs=2)._fit_n_threads(80_000) == 2
    budget = effective_n_threads(None)
    assert BayesianMatrixFactorization()._fit_n_threads(10**7) == budget
