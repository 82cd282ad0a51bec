"""MatrixFactorization inside scikit-learn's model selection and pipelines."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline

from skmf import MatrixFactorization

from .conftest import low_rank_ratings


@pytest.fixture(scope="module")
def frame():
    X, y = low_rank_ratings(n_users=80, n_items=60, density=0.4, rank=2)
    return pd.DataFrame(
        {
            "user": X[:, 0],
            "item": [f"movie{i}" for i in X[:, 1]],
            "timestamp": np.arange(len(y)),
            "genre": "drama",
            "rating": y,
        }
    )


def test_grid_search_in_parallel(frame):
    X, y = frame[["user", "item"]], frame["rating"]
    grid = GridSearchCV(
        MatrixFactorization(solver="sgd", max_iter=10, random_state=0),
        {
            "n_components": [2, 8],
            "alpha": [0.01, 0.1],
            "learning_rate": [0.005, 0.02],
            "solver": ["sgd", "als"],
        },
        scoring="neg_root_mean_squared_error",
        cv=3,
        n_jobs=2,
        error_score="raise",
    ).fit(X, y)
    scores = grid.cv_results_["mean_test_score"]
    assert len(scores) == 16 and np.all(np.isfinite(scores))
    assert grid.best_score_ > -0.6
    # The refitted best model is a plain fitted estimator with those parameters.
    assert grid.best_estimator_.n_components == grid.best_params_["n_components"]
    assert grid.best_estimator_.predict(X).shape == (len(y),)
    # Same search serially gives the same scores: workers are independent.
    serial = clone(grid).set_params(n_jobs=1).fit(X, y)
    np.testing.assert_allclose(serial.cv_results_["mean_test_score"], scores)


@pytest.mark.parametrize("solver", ["sgd", "als"])
def test_cross_val_score(frame, solver):
    X, y = frame[["user", "item"]], frame["rating"]
    mf = MatrixFactorization(n_components=2, solver=solver, random_state=0)
    cv = KFold(5, shuffle=True, random_state=0)
    mae = -cross_val_score(mf, X, y, cv=cv, scoring="neg_mean_absolute_error")
    baseline = -cross_val_score(
        MatrixFactorization(n_components=1, init_std=0, fit_biases=False, solver="als"),
        X, y, cv=cv, scoring="neg_mean_absolute_error",
    )  # fmt: skip
    assert mae.shape == (5,)
    assert np.all(mae < 0.5 * baseline)


def test_pipeline_selects_id_columns_from_a_wider_frame(frame):
    X, y = frame.drop(columns="rating"), frame["rating"]
    pipe = Pipeline(
        [
            ("ids", ColumnTransformer([("ids", "passthrough", ["user", "item"])])),
            ("mf", MatrixFactorization(n_components=2, solver="als", random_state=0)),
        ]
    )
    pipe.fit(X, y)
    direct = MatrixFactorization(n_components=2, solver="als", random_state=0)
    direct.fit(frame[["user", "item"]].to_numpy(dtype=object), y)
    np.testing.assert_array_equal(
        pipe.predict(X), direct.predict(frame[["user", "item"]].to_numpy(dtype=object))
    )
    assert pipe.score(X, y) > 0.9
    # Grid search reaches through the pipeline.
    grid = GridSearchCV(pipe, {"mf__alpha": [0.01, 1.0]}, cv=2).fit(X, y)
    assert grid.best_params_ == {"mf__alpha": 0.01}


def test_clone_keeps_parameters_and_drops_fit(frame):
    mf = MatrixFactorization(n_components=4, solver="als", alpha=0.3, random_state=7)
    mf.fit(frame[["user", "item"]], frame["rating"])
    copy = clone(mf)
    assert copy.get_params() == mf.get_params()
    assert not hasattr(copy, "item_factors_")
    copy.fit(frame[["user", "item"]], frame["rating"])
    np.testing.assert_array_equal(copy.item_factors_, mf.item_factors_)
