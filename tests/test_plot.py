"""skmf.plot, drawn headless with matplotlib's Agg backend."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from skmf import ImplicitMatrixFactorization, MatrixFactorization
from skmf.datasets import make_ratings
from skmf.plot import GridSearchHeatmapDisplay, ItemMapDisplay, TrainingCurveDisplay

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


def test_legend_covers_neither_curve():
    # A falling loss, and a validation error that turns up into the top right
    # corner, where the legend used to be.
    loss = np.linspace(1.0, 0.1, 30)
    error = np.r_[np.linspace(1.0, 0.5, 10), np.linspace(0.5, 2.0, 20)]
    display = TrainingCurveDisplay(loss_curve=loss, validation_scores=-error).plot()
    display.figure_.canvas.draw()
    legend = display.ax_.get_legend()
    box = legend.get_window_extent()
    for line in display.lines_:
        path = line.get_transform().transform_path(line.get_path())
        assert not path.intersects_bbox(box, filled=False), line.get_label()
    # The axes of the legend are drawn last: no curve is drawn over it.
    assert display.ax_.get_zorder() > display.ax_validation_.get_zorder()
    # The best epoch is marked on the curve too.
    best = display.ax_validation_.lines[1]
    assert (best.get_xdata(), best.get_ydata()) == ([10], [0.5])


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


@pytest.mark.parametrize(
    "display",
    [
        TrainingCurveDisplay(loss_curve=[1.0]),
        GridSearchHeatmapDisplay(
            scores=[[1.0]], x_values=[1], y_values=[1], x_name="x", y_name="y"
        ),
        ItemMapDisplay(coordinates=[[0.0, 0.0]]),
    ],
    ids=lambda display: type(display).__name__,
)
def test_without_matplotlib(monkeypatch, display):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="needs matplotlib.*pip install matplotlib"):
        display.plot()


# GridSearchHeatmapDisplay ---------------------------------------------------


@pytest.fixture(scope="module")
def search(ratings):
    from sklearn.model_selection import GridSearchCV

    return GridSearchCV(
        MatrixFactorization(solver="als", max_iter=3, random_state=0),
        {"n_components": [1, 4], "alpha": [0.01, 0.1, 1.0], "init_std": [0.0, 0.1]},
        scoring="neg_root_mean_squared_error",
        cv=2,
    ).fit(*ratings)


def _cells(search, x, y, keep=None):
    """{(x value, y value): [mean test score of each matching candidate]}."""
    results = search.cv_results_
    cells = {}
    for i, params in enumerate(results["params"]):
        if keep is None or keep(params):
            key = params[x], params[y]
            cells.setdefault(key, []).append(results["mean_test_score"][i])
    return cells


def test_heatmap_from_search_shows_the_best_error_over_other_parameters(search):
    display = GridSearchHeatmapDisplay.from_search(search, x="alpha", y="n_components")
    assert display.x_values == [0.01, 0.1, 1.0] and display.y_values == [1, 4]
    assert display.score_name == "RMSE" and not display.greater_is_better
    expected = np.empty((2, 3))
    for (alpha, k), scores in _cells(search, "alpha", "n_components").items():
        expected[[1, 4].index(k), [0.01, 0.1, 1.0].index(alpha)] = -max(scores)
    np.testing.assert_allclose(display.scores, expected)
    np.testing.assert_allclose(display.im_.get_array(), expected)
    assert display.text_[0, 0].get_text() == format(expected[0, 0], ".4g")
    # The best cell is the smallest error: the search's best candidate.
    row, column = display.best_index_
    assert display.y_values[row] == search.best_params_["n_components"]
    assert display.x_values[column] == search.best_params_["alpha"]
    outline = display.ax_.patches[-1]
    assert outline.get_xy() == (column - 0.5, row - 0.5)
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == ["0.01", "0.1", "1"]
    assert display.ax_.get_xlabel() == "alpha"
    assert display.ax_.get_ylabel() == "n_components"
    assert display.colorbar_.ax.get_ylabel() == "RMSE"
    assert display.im_.get_cmap().name == "viridis_r"  # the best is bright
    assert display.figure_ is display.ax_.figure and display.ax_.get_title() == ""


def test_heatmap_fixed_parameters_select_candidates(search):
    fig, axes = plt.subplots(1, 2)
    for ax, init_std in zip(axes, [0.0, 0.1], strict=True):
        display = GridSearchHeatmapDisplay.from_search(
            search,
            x="n_components",
            y="alpha",
            fixed={"init_std": init_std},
            ax=ax,
            colorbar=False,
            imshow_kw={"vmin": 0.5, "vmax": 1.5},
        )
        cells = _cells(
            search,
            "n_components",
            "alpha",
            lambda params, value=init_std: params["init_std"] == value,
        )
        for (k, alpha), (score,) in cells.items():
            row, column = [0.01, 0.1, 1.0].index(alpha), [1, 4].index(k)
            assert display.scores[row, column] == pytest.approx(-score)
        assert display.ax_ is ax and display.colorbar_ is None
        assert ax.get_title() == f"init_std={init_std:g}"
        assert display.im_.get_clim() == (0.5, 1.5)


def test_heatmap_multimetric_search(ratings):
    from sklearn.model_selection import GridSearchCV

    search = GridSearchCV(
        MatrixFactorization(solver="als", max_iter=2, random_state=0),
        {"n_components": [1, 2], "alpha": [0.1, 1.0]},
        scoring={"mae": "neg_mean_absolute_error", "r2": "r2"},
        refit="mae",
        cv=2,
    ).fit(*ratings)
    by_refit = GridSearchHeatmapDisplay.from_search(search, x="alpha", y="n_components")
    assert by_refit.score_name == "mae" and by_refit.greater_is_better
    # Multi-metric names are the user's keys: shown as they are.
    assert by_refit.scores.max() < 0
    r2 = GridSearchHeatmapDisplay.from_search(
        search, x="alpha", y="n_components", score="r2"
    )
    np.testing.assert_allclose(
        np.sort(r2.scores.ravel()), np.sort(search.cv_results_["mean_test_r2"])
    )
    with pytest.raises(ValueError, match=r"pass score= one of \['mae', 'r2'\]"):
        GridSearchHeatmapDisplay.from_search(
            search, x="alpha", y="n_components", score="rmse"
        )


def test_heatmap_from_search_errors(search):
    from sklearn.exceptions import NotFittedError
    from sklearn.model_selection import GridSearchCV

    with pytest.raises(ValueError, match=r"'K' is not a parameter.*\['alpha', "):
        GridSearchHeatmapDisplay.from_search(search, x="K", y="alpha")
    with pytest.raises(ValueError, match="No candidate of the search has"):
        GridSearchHeatmapDisplay.from_search(
            search, x="n_components", y="alpha", fixed={"init_std": 7.0}
        )
    with pytest.raises(ValueError, match="this search has one: leave score=None"):
        GridSearchHeatmapDisplay.from_search(
            search, x="n_components", y="alpha", score="r2"
        )
    with pytest.raises(NotFittedError):
        GridSearchHeatmapDisplay.from_search(
            GridSearchCV(MatrixFactorization(), {"alpha": [1]}), x="alpha", y="alpha"
        )


class _FakeSearch(BaseEstimator):
    """A fitted search as far as the display can tell, with chosen results."""

    scoring = None
    multimetric_ = False

    def __init__(self, params, scores):
        names = sorted({name for candidate in params for name in candidate})
        self.cv_results_ = {"params": params, "mean_test_score": np.array(scores)}
        for name in names:
            self.cv_results_[f"param_{name}"] = np.ma.masked_array(
                [candidate.get(name) for candidate in params],
                mask=[name not in candidate for candidate in params],
                dtype=object,
            )

    def fit(self):  # check_is_fitted wants an estimator
        return self


def test_heatmap_of_a_list_of_grids_with_failed_fits():
    # Two grids, as GridSearchCV(param_grid=[...]) takes them: "als" has no
    # learning rate, so its candidates are left out of a learning-rate axis;
    # a failed fit (error_score=nan) and a pair not searched are blank.
    params = [
        {"solver": "als", "alpha": 0.1},
        {"solver": "sgd", "alpha": 0.1, "learning_rate": 0.01},
        {"solver": "sgd", "alpha": 0.1, "learning_rate": 0.1},
        {"solver": "sgd", "alpha": 1.0, "learning_rate": 0.01},
    ]
    search = _FakeSearch(params, [0.9, 0.5, np.nan, 0.7])
    with pytest.warns(UserWarning, match="1 of the 4 candidates has no 'learning_"):
        display = GridSearchHeatmapDisplay.from_search(
            search, x="learning_rate", y="alpha"
        )
    np.testing.assert_array_equal(display.scores, [[0.5, np.nan], [0.7, np.nan]])
    assert display.score_name == "score" and display.greater_is_better
    assert display.best_index_ == (1, 0)
    assert [t.get_text() for t in display.text_[:, 1]] == ["nan", "nan"]
    # Values that cannot be sorted keep the order of the search.
    by_solver = GridSearchHeatmapDisplay.from_search(search, x="solver", y="alpha")
    assert by_solver.x_values == ["als", "sgd"]
    np.testing.assert_array_equal(by_solver.scores, [[0.9, 0.5], [np.nan, 0.7]])


def test_heatmap_infers_the_two_parameters_of_the_grid(ratings):
    from sklearn.model_selection import GridSearchCV

    # init_std has one value: it is not an axis.
    grid = {"n_components": [1, 3], "alpha": [0.1, 1.0, 3.0], "init_std": [0.1]}
    search = GridSearchCV(
        MatrixFactorization(solver="als", max_iter=2, random_state=0), grid, cv=2
    ).fit(*ratings)
    inferred = GridSearchHeatmapDisplay.from_search(search)
    named = GridSearchHeatmapDisplay.from_search(search, x="n_components", y="alpha")
    # The first parameter of the grid is on the horizontal axis.
    assert (inferred.x_name, inferred.y_name) == ("n_components", "alpha")
    assert inferred.x_values == [1, 3] and inferred.y_values == [0.1, 1.0, 3.0]
    np.testing.assert_array_equal(inferred.scores, named.scores)
    assert inferred.ax_.get_xlabel() == "n_components"
    # One axis given: the other is the one parameter left.
    flipped = GridSearchHeatmapDisplay.from_search(search, y="n_components")
    assert (flipped.x_name, flipped.y_name) == ("alpha", "n_components")
    np.testing.assert_array_equal(flipped.scores, named.scores.T)


def test_heatmap_cannot_infer_axes_from_more_or_fewer_parameters(search):
    # The search fixture varies three parameters.
    with pytest.raises(
        ValueError,
        match=r"varies 3 parameters, \['n_components', 'alpha', 'init_std'\]: "
        r"pass x= and y= to choose",
    ):
        GridSearchHeatmapDisplay.from_search(search)
    with pytest.raises(
        ValueError, match=r"varies 2 parameters besides 'alpha', \['n_components', "
    ):
        GridSearchHeatmapDisplay.from_search(search, x="alpha")
    # Holding the third parameter leaves two.
    held = GridSearchHeatmapDisplay.from_search(search, fixed={"init_std": 0.1})
    assert (held.x_name, held.y_name) == ("n_components", "alpha")
    assert held.ax_.get_title() == "init_std=0.1"
    with pytest.raises(ValueError, match=r"varies 1 parameter\(s\) besides "
                       r"'init_std', 'n_components', \['alpha'\], and a heat map "
                       r"needs 2 more"):  # fmt: skip
        GridSearchHeatmapDisplay.from_search(
            search, fixed={"init_std": 0.1, "n_components": 4}
        )
    with pytest.raises(ValueError, match="x and y are both 'alpha'"):
        GridSearchHeatmapDisplay.from_search(search, x="alpha", y="alpha")
    with pytest.raises(ValueError, match=r"'K' is not a parameter.*\['alpha', "):
        GridSearchHeatmapDisplay.from_search(search, fixed={"K": 1})


def test_heatmap_of_a_list_of_grids(ratings):
    from sklearn.model_selection import GridSearchCV

    grids = [
        {"solver": ["als"], "alpha": [0.1, 1.0]},
        {"solver": ["sgd"], "alpha": [0.1, 1.0], "learning_rate": [0.01, 0.02]},
    ]
    search = GridSearchCV(
        MatrixFactorization(max_iter=2, random_state=0), grids, cv=2
    ).fit(*ratings)
    # Three parameters vary over the two grids: the error names them.
    with pytest.raises(ValueError, match=r"\['solver', 'alpha', 'learning_rate'\]"):
        GridSearchHeatmapDisplay.from_search(search)
    # One grid, chosen with fixed=, varies two: they are the axes, and no
    # candidate is left out.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sgd = GridSearchHeatmapDisplay.from_search(search, fixed={"solver": "sgd"})
    assert (sgd.x_name, sgd.y_name) == ("alpha", "learning_rate")
    expected = np.empty((2, 2))
    for params, score in zip(
        search.cv_results_["params"], search.cv_results_["mean_test_score"],
        strict=True,
    ):  # fmt: skip
        if params["solver"] == "sgd":
            row = [0.01, 0.02].index(params["learning_rate"])
            expected[row, [0.1, 1.0].index(params["alpha"])] = score
    np.testing.assert_array_equal(sgd.scores, expected)
    # Without fixed=, the candidates of the grid without the learning rate
    # cannot be placed: they are left out, and the warning says so.
    with pytest.warns(UserWarning, match="2 of the 6 candidates have no 'learning_"):
        mixed = GridSearchHeatmapDisplay.from_search(
            search, x="alpha", y="learning_rate"
        )
    np.testing.assert_array_equal(mixed.scores, expected)


def test_heatmap_axes_from_different_grids():
    search = _FakeSearch([{"a": 1}, {"a": 2}, {"b": 1}, {"b": 2}], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="has both 'a' and 'b': they are param"):
        GridSearchHeatmapDisplay.from_search(search)


def test_heatmap_plot_from_data():
    display = GridSearchHeatmapDisplay(
        scores=[[1.0, 2.0], [3.0, 4.0]],
        x_values=["a", "b"],
        y_values=[None, 10],
        x_name="x",
        y_name="y",
        greater_is_better=False,
        title="errors",
    ).plot(values_format=".1f", text_kw={"fontsize": 7})
    assert display.best_index_ == (0, 0)
    assert display.text_[1, 1].get_text() == "4.0"
    assert display.text_[1, 1].get_fontsize() == 7
    # Dark cells get white text: with viridis_r the largest error is darkest.
    assert display.text_[1, 1].get_color() == "white"
    assert display.text_[0, 0].get_color() == "black"
    assert [t.get_text() for t in display.ax_.get_yticklabels()] == ["None", "10"]
    assert display.ax_.get_title() == "errors"
    every_nan = GridSearchHeatmapDisplay(
        scores=[[np.nan]], x_values=[1], y_values=[2], x_name="x", y_name="y"
    ).plot()
    assert every_nan.best_index_ is None and every_nan.text_[0, 0].get_text() == "nan"
    with pytest.raises(ValueError, match=r"shape \(1, 2\); got shape \(2, 1\)"):
        GridSearchHeatmapDisplay(
            scores=[[1.0], [2.0]],
            x_values=[1, 2],
            y_values=[3],
            x_name="x",
            y_name="y",
        ).plot()


def _cell_boxes(display):
    """Display-space boxes of each shown annotation and of its cell."""
    display.figure_.canvas.draw()
    renderer = display.figure_.canvas.get_renderer()
    boxes = []
    for (row, column), text in np.ndenumerate(display.text_):
        if text.get_visible():
            corners = [(column - 0.5, row - 0.5), (column + 0.5, row + 0.5)]
            cell = display.ax_.transData.transform(corners)
            boxes.append((text.get_window_extent(renderer), cell))
    return boxes


def test_heatmap_annotations_fit_their_cells():
    rng = np.random.default_rng(0)
    display = GridSearchHeatmapDisplay(
        scores=rng.uniform(0.9, 1.3, size=(8, 12)),
        x_values=list(range(12)),
        y_values=list(range(8)),
        x_name="x",
        y_name="y",
    ).plot(text_kw={"fontsize": 12})
    boxes = _cell_boxes(display)
    assert len(boxes) == 96
    for box, ((x0, y0), (x1, y1)) in boxes:
        assert x0 <= box.x0 and box.x1 <= x1 and y0 <= box.y0 and box.y1 <= y1
    small = display.text_[0, 0].get_fontsize()
    assert small < 12
    # The size asked for is the largest: a big figure gets it back.
    display.figure_.set_size_inches(16, 10)
    assert all(box.width > 0 for box, _ in _cell_boxes(display))
    assert {text.get_fontsize() for text in display.text_.ravel()} == {12}
    # Too small to read: hidden, the colors still show the values.
    display.figure_.set_size_inches(2, 1.5)
    assert _cell_boxes(display) == []
    display.figure_.canvas.draw()
    assert not display.figure_.stale


def test_heatmap_tick_labels_of_a_random_search_are_short_and_apart():
    rng = np.random.default_rng(0)
    alphas = 10 ** rng.uniform(-3, 0, size=12)
    params = [
        {"alpha": alpha, "n_components": int(k)}
        for alpha, k in zip(alphas, rng.integers(2, 30, size=12), strict=True)
    ]
    display = GridSearchHeatmapDisplay.from_search(
        _FakeSearch(params, rng.uniform(size=12))
    )
    display.figure_.canvas.draw()
    ticks = display.ax_.get_xticklabels()
    # Three digits, within 1% of the value, instead of "g"'s six.
    for tick, alpha in zip(ticks, sorted(alphas), strict=True):
        assert float(tick.get_text()) == pytest.approx(alpha, rel=0.01)
        assert len(tick.get_text().lstrip("0.")) <= 3
    boxes = [tick.get_window_extent() for tick in ticks]
    for k, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[k + 1 :])
    # Inside the figure, with the axis label, on the figure the display made.
    figure = display.figure_.bbox
    label = display.ax_.xaxis.label.get_window_extent()
    assert all(figure.y0 <= box.y0 for box in [*boxes, label])


# ItemMapDisplay -------------------------------------------------------------


@pytest.fixture(scope="module")
def mf4(ratings):
    return MatrixFactorization(
        n_components=4, solver="als", max_iter=3, random_state=0
    ).fit(*ratings)


def test_item_map_pca_names_the_most_rated_items(ratings, mf4):
    from sklearn.decomposition import PCA

    X, _ = ratings
    titles = {item: f"movie {item}" for item in mf4.items_[:-1]}  # one missing
    display = ItemMapDisplay.from_estimator(mf4, labels=titles, n_labels=6)
    expected = PCA(n_components=2).fit_transform(mf4.item_factors_.astype(float))
    np.testing.assert_allclose(display.coordinates, expected)
    np.testing.assert_allclose(display.scatter_.get_offsets(), expected)
    counts = pd.Series(X[:, 1]).value_counts().reindex(mf4.items_).to_numpy()
    most = np.argsort(-counts, kind="stable")[:6]
    named = [i for i, label in enumerate(display.labels) if label is not None]
    assert sorted(named) == sorted(most)
    assert [t.get_text() for t in display.texts_] == [
        titles.get(mf4.items_[i], str(mf4.items_[i])) for i in sorted(most)
    ]
    np.testing.assert_allclose(display.texts_[0].xy, expected[sorted(most)[0]])
    colors = display.scatter_.get_facecolors()
    assert len({tuple(c) for c in colors[most]}) == 1
    assert not np.allclose(colors[most[0]], colors[np.setdiff1d(range(100), most)[0]])
    assert display.ax_.get_xlabel().startswith("principal component 1 (")
    assert display.ax_.get_title() == "MatrixFactorization"


def test_item_map_factors_given_items_and_label_sequence(mf4):
    labels = [f"#{item}" for item in mf4.items_]
    display = ItemMapDisplay.from_estimator(
        mf4,
        labels=labels,
        items=[mf4.items_[3], mf4.items_[0]],
        projection="factors",
        name="factors",
        scatter_kw={"color": "k"},
    )
    np.testing.assert_allclose(display.coordinates, mf4.item_factors_[:, :2])
    assert [t.get_text() for t in display.texts_] == [labels[0], labels[3]]
    assert (display.ax_.get_xlabel(), display.ax_.get_ylabel()) == (
        "factor 1",
        "factor 2",
    )
    assert len({tuple(c) for c in display.scatter_.get_facecolors()}) == 1
    none = ItemMapDisplay.from_estimator(mf4, n_labels=0)
    assert none.texts_ == []
    # Ids that a mapping does not name are named by themselves.
    unnamed = ItemMapDisplay.from_estimator(mf4, n_labels=3, labels={})
    assert [t.get_text() for t in unnamed.texts_] == [
        str(item)
        for item, label in zip(mf4.items_, unnamed.labels, strict=True)
        if label
    ]


def test_item_map_of_implicit_model_uses_its_popularity(ratings):
    X, y = ratings
    model = ImplicitMatrixFactorization(n_components=3, max_iter=2).fit(X, y)
    display = ItemMapDisplay.from_estimator(model, n_labels=3)
    most = np.argsort(-model.item_popularity_, kind="stable")[:3]
    assert [t.get_text() for t in display.texts_] == [
        str(model.items_[i]) for i in sorted(most)
    ]


def test_item_map_without_popularity_names_the_outermost_items():
    class Factors(BaseEstimator):
        def fit(self):
            return self

    model = Factors()
    model.item_factors_ = np.array([[0, 0], [5, 0], [0, 1], [-1, 0], [0, -9.0]])
    model.items_ = np.array(["a", "b", "c", "d", "e"])
    display = ItemMapDisplay.from_estimator(model, n_labels=2, projection="factors")
    assert [t.get_text() for t in display.texts_] == ["b", "e"]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"items": [10_000]}, ValueError, r"items \[10000\] are not items"),
        ({"labels": ["x", "y"]}, ValueError, "labels has 2 entries but the model"),
        ({"projection": "tsne"}, ValueError, "projection must be 'pca' or"),
        ({"n_labels": -1}, ValueError, "n_labels must be an int >= 0"),
    ],
)
def test_item_map_invalid_arguments(mf4, kwargs, error, match):
    with pytest.raises(error, match=match):
        ItemMapDisplay.from_estimator(mf4, **kwargs)


def test_item_map_unsuitable_models(ratings):
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LinearRegression

    with pytest.raises(NotFittedError):
        ItemMapDisplay.from_estimator(MatrixFactorization())
    with pytest.raises(TypeError, match="has no item_factors_"):
        ItemMapDisplay.from_estimator(LinearRegression().fit([[0], [1]], [0, 1]))
    one = MatrixFactorization(n_components=1, solver="als", max_iter=1).fit(*ratings)
    with pytest.raises(ValueError, match="at least two factors.*n_components=1"):
        ItemMapDisplay.from_estimator(one)


def test_item_map_plot_from_data():
    display = ItemMapDisplay(
        coordinates=[[0, 0], [1, 1], [2, 0]],
        labels=["a", None, ""],
        xlabel="u",
        ylabel="v",
    ).plot(text_kw={"fontsize": 5})
    assert [t.get_text() for t in display.texts_] == ["a"]
    assert display.texts_[0].get_fontsize() == 5
    assert display.ax_.get_xlabel() == "u" and display.ax_.get_title() == ""
    with pytest.raises(ValueError, match=r"shape \(n_items, 2\).*\(3,\)"):
        ItemMapDisplay(coordinates=[1, 2, 3]).plot()
    with pytest.raises(ValueError, match="labels has 1 entries but coordinates"):
        ItemMapDisplay(coordinates=[[0, 0], [1, 1]], labels=["a"]).plot()


def _text_boxes(display):
    """Display-space boxes of the visible labels, without their leader lines."""
    from matplotlib.text import Text

    display.figure_.canvas.draw()
    renderer = display.figure_.canvas.get_renderer()
    return [
        Text.get_window_extent(text, renderer)
        for text in display.texts_
        if text.get_visible()
    ]


def _assert_apart_and_inside(boxes, ax):
    frame = ax.get_window_extent()
    for k, box in enumerate(boxes):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1
        for other in boxes[k + 1 :]:
            assert not box.overlaps(other), (box, other)


def _assert_beside_its_own_point(display):
    """A label without a leader line is nearer its point than any other."""
    from matplotlib.text import Text

    renderer = display.figure_.canvas.get_renderer()
    points = display.ax_.transData.transform([text.xy for text in display.texts_])
    for k, text in enumerate(display.texts_):
        if text.get_visible() and not text.arrow_patch.get_visible():
            box = Text.get_window_extent(text, renderer)
            gaps = np.hypot(
                np.maximum(0, np.maximum(box.x0 - points[:, 0], points[:, 0] - box.x1)),
                np.maximum(0, np.maximum(box.y0 - points[:, 1], points[:, 1] - box.y1)),
            )
            assert gaps[k] < np.delete(gaps, k).min(), text.get_text()


def _crowded_map(**kwargs):
    """300 items in a tight cloud, 40 of them with long labels."""
    rng = np.random.default_rng(0)
    coordinates = rng.normal(scale=0.1, size=(300, 2))
    labels = [f"a rather long title {i}" if i % 7 == 0 else None for i in range(300)]
    return ItemMapDisplay(coordinates=coordinates, labels=labels, **kwargs)


def test_item_map_labels_do_not_overlap_on_a_crowded_map():
    priority = np.arange(300.0)  # the last items matter most
    display = _crowded_map(priority=priority).plot()
    boxes = _text_boxes(display)
    assert len(display.texts_) == 43 and len(boxes) >= 15
    _assert_apart_and_inside(boxes, display.ax_)
    # The label of the highest priority always finds room, and none covers a
    # labelled point.
    assert display.texts_[-1].get_visible()
    labelled = display.ax_.transData.transform(display.coordinates[::7])
    for box in boxes:
        assert not box.count_contains(labelled)
    _assert_beside_its_own_point(display)
    # Without the placement, the same labels overlap: the test has teeth.
    crowded = _crowded_map().plot(avoid_overlap=False)
    boxes = _text_boxes(crowded)
    assert len(boxes) == 43
    assert any(a.overlaps(b) for k, a in enumerate(boxes) for b in boxes[k + 1 :])


def test_item_map_labels_are_placed_again_when_the_figure_changes():
    display = _crowded_map().plot()
    _assert_apart_and_inside(_text_boxes(display), display.ax_)
    # Smaller: fewer fit, still apart; bigger: all fit, each beside its point.
    display.figure_.set_size_inches(4, 3)
    _assert_apart_and_inside(_text_boxes(display), display.ax_)
    display.figure_.set_size_inches(16, 12)
    boxes = _text_boxes(display)
    assert len(boxes) == 43
    _assert_apart_and_inside(boxes, display.ax_)
    # A settled layout changes nothing at the next draw (an interactive
    # backend would otherwise redraw forever).
    display.figure_.canvas.draw()
    assert not display.figure_.stale


def test_item_map_labels_do_not_shrink_a_constrained_layout():
    # Labels of points at the right edge start out across it; placed inside
    # at draw time, they must not make the layout engine shrink the axes.
    coordinates = np.column_stack([np.linspace(0, 1, 50), np.linspace(0, 1, 50)])
    widths = []
    for labels in [None, ["a long label of an item"] * 50]:
        display = ItemMapDisplay(coordinates=coordinates, labels=labels).plot()
        display.figure_.canvas.draw()
        widths.append(display.ax_.get_window_extent().width)
    assert widths[1] == pytest.approx(widths[0])


def test_item_map_labelled_points_are_drawn_on_top():
    # Item 1 is labelled, item 2 sits on it: the labelled point stays visible.
    display = ItemMapDisplay(
        coordinates=[[0, 0], [1, 1], [1, 1]], labels=[None, "a", None]
    ).plot()
    top = display.ax_.collections[-1]
    assert top is not display.scatter_
    assert top.get_zorder() > display.scatter_.get_zorder()
    np.testing.assert_array_equal(top.get_offsets(), [[1, 1]])


def test_item_map_priority_is_checked():
    with pytest.raises(ValueError, match=r"priority has shape \(2,\) but coordin"):
        ItemMapDisplay(coordinates=[[0, 0]], priority=[1, 2]).plot()
    with pytest.raises(ValueError, match="priority contains NaN"):
        ItemMapDisplay(coordinates=[[0, 0]], priority=[np.nan]).plot()


@pytest.mark.slow
def test_item_map_of_movielens_names_the_20_most_rated_apart(ml100k_dir):
    ratings = pd.read_csv(
        ml100k_dir / "u.data", sep="\t", names=["user", "item", "rating", "time"]
    )
    items = pd.read_csv(ml100k_dir / "u.item", sep="|", header=None, encoding="latin-1")
    titles = pd.Series(items[1].to_numpy(), index=items[0].to_numpy())
    mf = MatrixFactorization(
        n_components=20, solver="als", max_iter=5, random_state=0
    ).fit(ratings[["user", "item"]], ratings["rating"])
    display = ItemMapDisplay.from_estimator(mf, labels=titles, n_labels=20)
    boxes = _text_boxes(display)
    assert len(boxes) == 20  # on the default 6.4 x 4.8 inch figure
    _assert_apart_and_inside(boxes, display.ax_)
    _assert_beside_its_own_point(display)
    assert "Star Wars (1977)" in [text.get_text() for text in display.texts_]
