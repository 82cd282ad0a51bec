"""Tests of FactorizationMachineRegressor, the factorization machine over any X."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmf import _fm_regressor as fm_regressor
from skmf._fm_regressor import FactorizationMachineRegressor
from skmf._solvers._base import SolverBreakdown

SOLVERS = ("als", "sgd", "gibbs")

# Checks that a solver cannot pass by its nature, with the reason. The default
# solver ("als") has none.
EXPECTED_FAILED = {
    "als": {},
    "sgd": {
        "check_sample_weight_equivalence_on_dense_data": (
            "SGD visits the samples in a random order drawn per sample, so a "
            "repeated row is not the same as a weight of 2 step by step; "
            "test_sgd_weights_match_repeats_on_average checks the objective."
        ),
        "check_sample_weight_equivalence_on_sparse_data": (
            "SGD visits the samples in a random order drawn per sample; see "
            "test_sgd_weights_match_repeats_on_average."
        ),
    },
    "gibbs": {},
}


def _expected_failed(estimator):
    return EXPECTED_FAILED[estimator.solver]


@parametrize_with_checks(
    [FactorizationMachineRegressor(random_state=0)]
    + [
        FactorizationMachineRegressor(solver=solver, random_state=0)
        for solver in ("sgd", "gibbs")
    ],
    expected_failed_checks=_expected_failed,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# ----------------------------------------------------------------------
# A plain NumPy reference of the prediction.


def _reference_predict(X, w0, w, V):
    """The definition: w0 + sum_j w_j x_j + sum_{j < j'} <v_j, v_j'> x_j x_j'."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    out = np.full(X.shape[0], w0) + X @ w
    n_features = X.shape[1]
    for j in range(n_features):
        for k in range(j + 1, n_features):
            out += (V[j] @ V[k]) * X[:, j] * X[:, k]
    return out


def _small_data(seed=0, n=60, n_features=6):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    X[rng.uniform(size=X.shape) < 0.3] = 0.0
    y = X[:, 0] * X[:, 1] - X[:, 2] + 0.1 * rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("sparse", [False, True])
def test_predict_matches_the_definition(solver, sparse):
    X, y = _small_data()
    fm = FactorizationMachineRegressor(
        n_components=3, solver=solver, n_samples=10, burn_in=5, random_state=0
    ).fit(sp.csr_matrix(X) if sparse else X, y)
    X_new = _small_data(seed=1)[0]
    expected = _reference_predict(X_new, fm.intercept_, fm.coef_, fm.factors_)
    got = fm.predict(sp.csc_matrix(X_new) if sparse else X_new)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_gibbs_predicts_the_average_of_its_samples():
    X, y = _small_data()
    k, s = 2, 7
    fm = FactorizationMachineRegressor(
        n_components=k, solver="gibbs", n_samples=s, burn_in=3, random_state=0
    ).fit(X, y)
    assert fm.factors_.shape == (X.shape[1], k * s)
    # factors_ holds each sample's factors divided by sqrt(n_samples).
    samples = [fm.factors_[:, i * k : (i + 1) * k] * np.sqrt(s) for i in range(s)]
    average = np.mean(
        [_reference_predict(X, fm.intercept_, fm.coef_, V) for V in samples], axis=0
    )
    np.testing.assert_allclose(fm.predict(X), average, rtol=1e-10, atol=1e-10)
    assert fm.n_iter_ == len(fm.loss_curve_) == 3 + s


# ----------------------------------------------------------------------
# What a linear model cannot learn.


def _product_of_categories(n, seed):
    """y = a * b for two categories a, b in {-2, ..., 2}: no additive part."""
    rng = np.random.RandomState(seed)
    a = rng.randint(-2, 3, size=n)
    b = rng.randint(-2, 3, size=n)
    return np.column_stack([a, b]), (a * b).astype(np.float64)


@pytest.mark.parametrize("solver", SOLVERS)
def test_learns_an_interaction_that_ridge_cannot(solver):
    X, y = _product_of_categories(400, seed=0)
    X_test, y_test = _product_of_categories(200, seed=1)
    fm = make_pipeline(
        OneHotEncoder(),
        FactorizationMachineRegressor(
            n_components=4, solver=solver, alpha=0.1, max_iter=200, random_state=0
        ),
    )
    ridge = make_pipeline(OneHotEncoder(), Ridge(alpha=0.1))
    assert fm.fit(X, y).score(X_test, y_test) > 0.95
    assert ridge.fit(X, y).score(X_test, y_test) < 0.1


# ----------------------------------------------------------------------
# Reproducibility and the scikit-learn machinery.


@pytest.mark.parametrize("solver", SOLVERS)
def test_deterministic_for_a_seed_and_any_n_jobs(solver):
    X, y = _small_data(n=200)
    params = dict(n_components=3, solver=solver, n_samples=10, burn_in=5)
    # Several two-thread fits: SGD's lock-free threads gave a different fit
    # about every other time.
    fits = [
        FactorizationMachineRegressor(**params, random_state=7, n_jobs=n_jobs)
        .fit(X, y)
        .predict(X)
        for n_jobs in (1, 1, 2, 2, 2, 2, 2)
    ]
    for other in fits[1:]:
        np.testing.assert_array_equal(other, fits[0])
    other = FactorizationMachineRegressor(**params, random_state=8).fit(X, y)
    assert not np.array_equal(other.predict(X), fits[0])


@pytest.mark.parametrize("solver", SOLVERS)
def test_clone_and_pickle(solver):
    X, y = _small_data()
    fm = FactorizationMachineRegressor(
        n_components=2, solver=solver, n_samples=5, burn_in=2, random_state=0
    )
    assert clone(fm).get_params() == fm.get_params()
    fm.fit(X, y)
    again = pickle.loads(pickle.dumps(fm))
    np.testing.assert_array_equal(again.predict(X), fm.predict(X))
    assert not hasattr(clone(fm), "coef_")


def _frame(n, seed):
    rng = np.random.RandomState(seed)
    colour = rng.choice(["red", "green", "blue", "grey"], size=n)
    size = rng.choice(["S", "M", "L"], size=n)
    weight = rng.normal(size=n)
    effect = {"red": 1.0, "green": -1.0, "blue": 0.5, "grey": -0.5}
    scale = {"S": -1.0, "M": 0.0, "L": 1.0}
    y = (
        np.array([effect[c] for c in colour]) * np.array([scale[s] for s in size])
        + 0.3 * weight
    )
    return pd.DataFrame({"colour": colour, "size": size, "weight": weight}), y


def test_pipeline_with_column_transformer_and_grid_search():
    X, y = _frame(300, seed=0)
    columns = ColumnTransformer(
        [
            ("categories", OneHotEncoder(), ["colour", "size"]),
            ("numbers", StandardScaler(), ["weight"]),
        ]
    )
    pipe = make_pipeline(
        columns, FactorizationMachineRegressor(n_components=2, random_state=0)
    )
    search = GridSearchCV(
        pipe,
        {
            "factorizationmachineregressor__n_components": [1, 4],
            "factorizationmachineregressor__alpha": [0.01, 100.0],
        },
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    assert search.best_params_["factorizationmachineregressor__alpha"] == 0.01
    X_test, y_test = _frame(200, seed=1)
    assert search.score(X_test, y_test) > 0.9
    scores = cross_val_score(clone(pipe), X, y, cv=3)
    assert np.all(scores > 0.9)


def test_feature_names_from_a_dataframe():
    X, y = _small_data()
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    fm = FactorizationMachineRegressor(n_components=2, random_state=0).fit(frame, y)
    assert list(fm.feature_names_in_) == list(frame.columns)
    assert fm.n_features_in_ == X.shape[1]
    assert fm.coef_.shape == (X.shape[1],)
    assert fm.factors_.shape == (X.shape[1], 2)


# ----------------------------------------------------------------------
# The objective, weights and stopping.


def _objective(fm, X, y, sample_weight=None):
    weights = np.ones_like(y) if sample_weight is None else sample_weight
    errors = y - fm.predict(X)
    penalty = np.sum(fm.coef_**2) + np.sum(fm.factors_**2)
    return (weights @ errors**2 + fm.alpha * penalty) / weights.sum()


def test_als_never_increases_its_objective():
    X, y = _small_data(n=100)
    fm = FactorizationMachineRegressor(
        n_components=3, alpha=0.5, tol=None, max_iter=30, random_state=0
    ).fit(X, y)
    curve = np.asarray(fm.loss_curve_)
    assert fm.n_iter_ == 30
    assert np.all(np.diff(curve) <= 1e-12 * curve[:-1])
    # loss_curve_ is the objective of the fitted model.
    np.testing.assert_allclose(curve[-1], _objective(fm, X, y), rtol=1e-9)


@pytest.mark.parametrize("solver", ("als", "gibbs"))
def test_integer_weights_are_repeated_rows(solver):
    X, y = _small_data(n=40)
    weights = np.random.RandomState(1).randint(0, 4, size=len(y))
    params = dict(n_components=2, solver=solver, n_samples=10, burn_in=5)
    weighted = FactorizationMachineRegressor(**params, random_state=0)
    weighted.fit(X, y, sample_weight=weights)
    repeated = FactorizationMachineRegressor(**params, random_state=0)
    repeated.fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-7)


def test_sgd_weights_match_repeats_on_average():
    X, y = _small_data(n=100)
    weights = np.random.RandomState(1).randint(1, 4, size=len(y))
    params = dict(
        n_components=2, solver="sgd", alpha=0.5, max_iter=200, learning_rate=0.02
    )
    X_rep, y_rep = np.repeat(X, weights, axis=0), np.repeat(y, weights)
    weighted = FactorizationMachineRegressor(**params, random_state=0)
    weighted.fit(X, y, sample_weight=weights)
    repeated = FactorizationMachineRegressor(**params, random_state=0)
    repeated.fit(X_rep, y_rep)
    # Both minimise the same objective: they reach about the same value of it.
    a = _objective(weighted, X, y, weights)
    b = _objective(repeated, X, y, weights)
    assert abs(a - b) < 0.05 * max(a, b)


def test_zero_weights_ignore_their_rows():
    X, y = _small_data(n=40)
    weights = np.ones(len(y))
    weights[::3] = 0
    y_bad = y.copy()
    y_bad[::3] = 1e3
    fm = FactorizationMachineRegressor(n_components=2, random_state=0)
    fm.fit(X, y_bad, sample_weight=weights)
    kept = FactorizationMachineRegressor(n_components=2, random_state=0)
    kept.fit(X[weights > 0], y[weights > 0])
    np.testing.assert_allclose(fm.predict(X), kept.predict(X), rtol=1e-7)


def test_convergence_warning_at_max_iter():
    X, y = _small_data()
    fm = FactorizationMachineRegressor(max_iter=2, tol=1e-12, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        fm.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        FactorizationMachineRegressor(max_iter=2, tol=None).fit(X, y)


@pytest.mark.parametrize(
    "param, values",
    [
        ("n_components", (2, 5)),
        ("alpha", (0.01, 10.0)),
        ("init_std", (0.01, 0.5)),
        ("max_iter", (3, 30)),
    ],
)
def test_every_parameter_changes_the_fit(param, values):
    X, _ = _small_data()
    # Interactions of rank above 2, so that the rank matters at the optimum.
    y = X[:, 0] * X[:, 1] + X[:, 2] * X[:, 3] - X[:, 4] * X[:, 5]
    predictions = [
        FactorizationMachineRegressor(**{param: value}, tol=None, random_state=0)
        .fit(X, y)
        .predict(X)
        for value in values
    ]
    assert not np.allclose(*predictions)


@pytest.mark.parametrize(
    "param, values",
    [("n_samples", (3, 20)), ("burn_in", (0, 10))],
)
def test_every_gibbs_parameter_changes_the_fit(param, values):
    X, y = _small_data()
    predictions = [
        FactorizationMachineRegressor(solver="gibbs", **{param: value}, random_state=0)
        .fit(X, y)
        .predict(X)
        for value in values
    ]
    assert not np.allclose(*predictions)


def test_verbose_prints_one_line_per_sweep(capsys):
    X, y = _small_data()
    FactorizationMachineRegressor(max_iter=3, tol=None, verbose=1).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("Sweep 1/3: loss")


# ----------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "infinity")])
@pytest.mark.parametrize("where", ["fit", "predict"])
def test_non_finite_x_is_a_clear_error(value, word, where):
    X, y = _small_data()
    bad = X.copy()
    bad[3, 2] = value
    fm = FactorizationMachineRegressor(n_components=2, random_state=0)
    if where == "predict":
        fm.fit(X, y)
    with pytest.raises(ValueError, match=word):
        fm.fit(bad, y) if where == "fit" else fm.predict(bad)


def test_non_finite_sparse_x_is_a_clear_error():
    X, y = _small_data()
    bad = sp.csr_matrix(X)
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FactorizationMachineRegressor().fit(bad, y)


def test_wrong_number_of_features_at_predict():
    X, y = _small_data()
    fm = FactorizationMachineRegressor(n_components=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features, but .* is expecting 6"):
        fm.predict(X[:, :5])


def test_bad_y_and_weights_are_clear_errors():
    X, y = _small_data()
    fm = FactorizationMachineRegressor()
    with pytest.raises(ValueError, match="NaN"):
        fm.fit(X, np.where(np.arange(len(y)) == 2, np.nan, y))
    with pytest.raises(ValueError, match="[Nn]egative"):
        fm.fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="non-zero"):
        fm.fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fm.fit(X, y[:-1])


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("where", ["fit", "predict"])
def test_huge_x_is_a_clear_error_not_nan(solver, where):
    X, y = _small_data()
    fm = FactorizationMachineRegressor(n_components=2, solver=solver, random_state=0)
    if where == "predict":
        fm.fit(X, y)
    huge = X * 1e100
    with pytest.raises(ValueError, match="StandardScaler"):
        fm.fit(huge, y) if where == "fit" else fm.predict(sp.csr_matrix(huge))


@pytest.mark.parametrize("solver", SOLVERS)
def test_large_x_fits_or_is_a_clear_error(solver):
    # Large, but within the scale check: either a finite fit or the loop's
    # divergence error, which names the fix; never NaN.
    X, y = _small_data()
    fm = FactorizationMachineRegressor(
        n_components=2, solver=solver, alpha=0.0, learning_rate=1.0, random_state=0
    )
    try:
        fm.fit(X * 1e30, y)
    except ValueError as exc:
        assert "StandardScaler" in str(exc)
    else:
        assert np.all(np.isfinite(fm.predict(X * 1e30)))


@pytest.mark.parametrize(
    "solver, name",
    [("als", "FMALSSolver"), ("sgd", "FMSGDSolver"), ("gibbs", "FMGibbsSolver")],
)
def test_a_breakdown_is_a_clear_error_and_leaves_no_state(solver, name, monkeypatch):
    def broken(self):
        raise SolverBreakdown("no positive definite system")

    monkeypatch.setattr(getattr(fm_regressor, name), "step", broken)
    X, y = _small_data()
    fm = FactorizationMachineRegressor(solver=solver, random_state=0)
    with pytest.raises(ValueError, match="at (sweep|epoch) 1: no positive definite"):
        fm.fit(X, y)
    # A failed fit leaves no fitted attribute and no scratch state (only the
    # resolved _max_iter, as after any fit).
    assert set(vars(fm)) - set(fm.get_params()) == {"_max_iter"}


@pytest.mark.parametrize("solver", SOLVERS)
def test_features_far_from_one_start_from_small_interactions(solver):
    # Features near 100: factors drawn as for one-hot columns started the
    # pairwise terms near 10^4 * init_std^2 = 100, which the solvers did not
    # undo in max_iter sweeps (R^2 of -47 for ALS, -49 for Gibbs). Coordinate
    # descent still needs centred features to learn the linear part (the
    # docstring's note), but the fit must not be worse than the mean.
    rng = np.random.RandomState(0)
    X = rng.normal(loc=100, size=(200, 2))
    y = X[:, 0] - X[:, 1] + 0.1 * rng.normal(size=200)
    fm = FactorizationMachineRegressor(solver=solver, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert fm.fit(X, y).score(X, y) > -0.05
    # Standardized, the same features are learned.
    X = StandardScaler().fit_transform(X)
    assert fm.fit(X, y).score(X, y) > 0.95
