"""skmf.plot, drawn headless with matplotlib's Agg backend."""

import numpy as np
import pytest

from skmf import ImplicitMatrixFactorization, MatrixFactorization
from skmf.datasets import make_ratings
from skmf.plot import TrainingCurveDisplay

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"  # short fits on purpose
)
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def ratings():
    return make_ratings(200, 100, 4000, random_state=0)


def test_from_estimator_with_early_stopping(ratings):
    mf = MatrixFactorization(
        n_components=5, max_iter=12, early_stopping=True, n_iter_no_change=3,
        random_state=0,
    ).fit(*ratings)  # fmt: skip
    display = TrainingCurveDisplay.from_estimator(mf)
    loss_line, validation_line = display.lines_
    epochs = np.arange(1, mf.n_iter_ + 1)
    np.testing.assert_array_equal(loss_line.get_xdata(), epochs)
    np.testing.assert_array_equal(loss_line.get_ydata(), mf.loss_curve_)
    np.testing.assert_array_equal(
        validation_line.get_ydata(), -np.asarray(mf.validation_scores_)
    )
    assert display.ax_validation_.get_ylabel() == "validation RMSE"
    assert validation_line.axes is display.ax_validation_
    assert display.ax_.get_title() == "MatrixFactorization"
    assert display.figure_ is display.ax_.figure
    # The kept epoch is marked: the one with the best validation score.
    assert mf.validation_scores_[display.best_epoch_ - 1] == (mf.best_validation_score_)
    marker = display.ax_validation_.lines[-1]
    assert list(marker.get_xdata()) == [display.best_epoch_] * 2
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert legend == ["training loss", "validation RMSE"]


def test_without_validation_and_on_given_axes(ratings):
    mf = MatrixFactorization(n_components=3, solver="als", max_iter=4).fit(*ratings)
    fig, (left, right) = plt.subplots(1, 2)
    display = TrainingCurveDisplay.from_estimator(
        mf, ax=right, name="ALS", loss_kw={"color": "k", "marker": "o"}
    )
    assert display.ax_ is right and display.figure_ is fig
    assert len(display.lines_) == 1 and display.ax_validation_ is None
    assert display.best_epoch_ is None
    assert display.lines_[0].get_color() == "k"
    assert right.get_title() == "ALS" and not left.lines


def test_absolute_error_is_mae(ratings):
    mf = MatrixFactorization(
        n_components=3, loss="absolute_error", max_iter=4, early_stopping=True,
        random_state=0,
    ).fit(*ratings)  # fmt: skip
    display = TrainingCurveDisplay.from_estimator(mf)
    assert display.ax_validation_.get_ylabel() == "validation MAE"


def test_implicit_estimator(ratings):
    X, y = ratings
    model = ImplicitMatrixFactorization(n_components=3, max_iter=3).fit(X, y)
    display = TrainingCurveDisplay.from_estimator(model)
    np.testing.assert_array_equal(display.lines_[0].get_ydata(), model.loss_curve_)


def test_plot_from_data_renders(tmp_path):
    display = TrainingCurveDisplay(
        loss_curve=[1.0, 0.8, 0.7], validation_scores=[-1.1, -0.95, -0.97]
    ).plot()
    assert display.best_epoch_ == 2
    display.figure_.savefig(tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"loss_curve": []}, ValueError, "non-empty 1-D"),
        ({"loss_curve": [1, 2], "validation_scores": [1]}, ValueError, "one of each"),
        ({"loss_curve": [1], "loss": "hinge"}, ValueError, "loss must be one of"),
    ],
)
def test_invalid_data(params, error, match):
    with pytest.raises(error, match=match):
        TrainingCurveDisplay(**params).plot()


def test_unfitted_or_unsuitable_estimators():
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LinearRegression

    with pytest.raises(NotFittedError):
        TrainingCurveDisplay.from_estimator(MatrixFactorization())
    fitted = LinearRegression().fit([[0], [1]], [0, 1])
    with pytest.raises(TypeError, match="has no loss_curve_"):
        TrainingCurveDisplay.from_estimator(fitted)


def test_without_matplotlib(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="needs matplotlib.*pip install matplotlib"):
        TrainingCurveDisplay(loss_curve=[1.0]).plot()
