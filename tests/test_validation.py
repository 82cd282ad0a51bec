"""Bad input gets an error that says what is wrong, never a crash or a NaN."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from skmf import MatrixFactorization

X_OK = [[1, 10], [1, 11], [2, 10], [3, 12]]
Y_OK = [4.0, 3.0, 5.0, 2.0]


def fit(X=X_OK, y=Y_OK, **params):
    mf = MatrixFactorization(n_components=2, max_iter=2, random_state=0, **params)
    return mf.fit(X, y)


@pytest.mark.parametrize(
    "y, match",
    [
        ([4.0, np.nan, 5.0, 2.0], "y contains NaN"),
        ([4.0, np.inf, 5.0, 2.0], "y contains infinity"),
        ([4.0, "bad", 5.0, 2.0], "y must hold numeric ratings; found 'bad'"),
        (["4", "x", "5", "2"], "found 'x'"),
        (pd.Series([4, None, 5, 2], dtype="Int64"), "y contains NaN"),
    ],
)
def test_bad_ratings(y, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fit(y=y)


def test_numeric_strings_are_accepted_as_ratings():
    assert fit(y=["4", "3", "5", "2.5"]).intercept_ == pytest.approx(3.625)


def test_nan_and_inf_rejected():
    with pytest.raises(ValueError, match="missing id .* row 1"):
        fit(X=[[1, 10], [np.nan, 11], [2, 10], [3, 12]])
    with pytest.raises(ValueError, match="missing id .* row 2"):
        fit(X=np.array([[1, "a"], [1, "b"], [None, "a"], [3, "c"]], dtype=object))
    with pytest.raises(ValueError, match="infinite id"):
        fit(X=[[1, 10], [np.inf, 11], [2, 10], [3, 12]])
    with pytest.raises(ValueError, match="y contains NaN"):
        fit(y=[1, 2, np.nan, 3])
    mf = fit()
    with pytest.raises(ValueError, match="missing id"):
        mf.predict([[1, np.nan]])
    with pytest.raises(ValueError, match="infinite id"):
        mf.predict([[1, -np.inf]])


@pytest.mark.parametrize("n_columns", [1, 3])
def test_wrong_column_count(n_columns):
    X = np.arange(4 * n_columns).reshape(4, n_columns)
    with pytest.raises(ValueError, match=f"exactly two columns.*got {n_columns}"):
        fit(X=X)


def test_wrong_dimensions():
    with pytest.raises(ValueError, match="Expected 2D array"):
        fit(X=[1, 2, 3, 4])
    with pytest.raises(ValueError, match="dim 3"):
        fit(X=np.zeros((4, 2, 2)))


def test_empty_input():
    with pytest.raises(ValueError, match="0 sample"):
        fit(X=np.empty((0, 2)), y=[])
    with pytest.raises(ValueError, match="0 sample"):
        fit().predict(np.empty((0, 2)))


def test_length_mismatch():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fit(y=Y_OK[:3])


def test_y_required():
    with pytest.raises(ValueError, match="requires y"):
        MatrixFactorization().fit(X_OK, None)


@pytest.mark.parametrize(
    "weights, match",
    [
        ([1.0, -1.0, 1.0, 1.0], "Negative values in data passed to `sample_weight`"),
        ([1.0, 1.0], r"sample_weight.shape == \(2,\), expected \(4,\)"),
        ([0.0, 0.0, 0.0, 0.0], "at least one non-zero"),
        ([1.0, np.nan, 1.0, 1.0], "NaN"),
    ],
)
def test_bad_sample_weight(weights, match):
    with pytest.raises(ValueError, match=match):
        MatrixFactorization(n_components=2).fit(X_OK, Y_OK, sample_weight=weights)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 0}, "'n_components' parameter"),
        ({"solver": "adam"}, "'solver' parameter"),
        ({"alpha": -1}, "'alpha' parameter"),
        ({"learning_rate": 0}, "'learning_rate' parameter"),
        ({"learning_rate": "optimal"}, "'learning_rate' parameter"),
        ({"learning_rate_schedule": "invscaling"}, "'learning_rate_schedule'"),
        ({"decay_rate": 1.5}, "'decay_rate' parameter"),
        ({"decay_steps": 0}, "'decay_steps' parameter"),
        ({"max_iter": 0}, "'max_iter' parameter"),
        ({"loss": "huber"}, "'loss' parameter"),
        ({"validation_fraction": 1.0}, "'validation_fraction' parameter"),
        ({"dtype": "float16"}, "'dtype' parameter"),
        ({"dtype": np.int32}, "'dtype' parameter"),
        ({"n_jobs": 0}, "n_jobs == 0"),
        ({"solver": "als", "loss": "absolute_error"}, "cannot minimise"),
        ({"solver": "als", "alpha": 0}, "needs alpha > 0"),
    ],
)
def test_invalid_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        MatrixFactorization(**params).fit(X_OK, Y_OK)


def test_early_stopping_needs_training_data():
    with pytest.raises(ValueError, match="leaving none to train on"):
        fit(X=[[1, 2]], y=[3.0], early_stopping=True)


def test_incomparable_ids_in_one_column():
    import datetime

    X = np.array(
        [[1, 10], [datetime.date(2020, 1, 1), 11], [2, 10], [3, 12]], dtype=object
    )
    with pytest.raises(TypeError, match="mutually comparable"):
        fit(X=X)


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        MatrixFactorization().predict(X_OK)


def test_predict_with_other_column_names():
    frame = pd.DataFrame(X_OK, columns=["user", "item"])
    mf = fit(X=frame)
    with pytest.raises(ValueError, match="feature names"):
        mf.predict(frame.rename(columns={"item": "movie"}))
