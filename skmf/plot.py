"""Plots of fitted skmf models, in scikit-learn's ``*Display`` style.

A Display holds the data of a plot and draws it with :meth:`plot`, which
returns the Display with the matplotlib objects it made (``ax_``,
``figure_``, and ``lines_``, ``im_`` or ``scatter_``); ``from_estimator`` or
``from_search`` builds and plots one in a call. matplotlib is only needed to
draw: ``pip install matplotlib``.
"""

import functools
import numbers
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["GridSearchHeatmapDisplay", "ItemMapDisplay", "TrainingCurveDisplay"]

_ERRORS = {"squared_error": "RMSE", "absolute_error": "MAE"}


def _pyplot(what):
    """matplotlib.pyplot, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{what} needs matplotlib, an optional dependency of skmf: "
            "pip install matplotlib"
        ) from exc
    return plt


def _format_value(value):
    """A parameter value as a short tick label."""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return f"{value:g}"
    return str(value)


def _tick_labels(values):
    """Tick labels of parameter values, with as few digits as tell them apart.

    Values of a random search (``0.001479581634542288``) get three digits or
    so, instead of the six of ``"g"``; each label stays within 1% of its
    value, so a grid's ``0.25`` is never shown as ``0.2``.
    """
    values = [value.item() if isinstance(value, np.generic) else value
              for value in values]  # fmt: skip
    reals = [
        isinstance(value, numbers.Real)
        and not isinstance(value, numbers.Integral)
        and np.isfinite(value)
        for value in values
    ]
    labels = [_format_value(value) for value in values]
    for digits in range(1, 7):
        short = [
            format(value, f".{digits}g") if real else label
            for value, real, label in zip(values, reals, labels, strict=True)
        ]
        close = all(
            abs(float(label) - value) <= 0.01 * abs(value)
            for value, real, label in zip(values, reals, short, strict=True)
            if real
        )
        if close and len(set(short)) == len(short):
            return short
    return labels


# Characters of x tick labels (each as wide as the widest, with one of space)
# that fit side by side under a heat map on a figure of the default size.
_TICK_CHARACTERS = 60


def _distinct(values):
    """The distinct values, sorted when they can be, else as first seen."""
    found = []
    for value in values:
        if isinstance(value, np.generic):
            value = value.item()  # cv_results_ may hold numpy scalars
        if not any(_same(value, other) for other in found):
            found.append(value)
    try:
        return sorted(found)
    except TypeError:
        return found


def _same(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


def _position(values, value):
    return next(i for i, other in enumerate(values) if _same(value, other))


def _searched_parameters(search):
    """The parameters in ``cv_results_``, in the order of the search's grid."""
    found = [key[len("param_") :] for key in search.cv_results_ if
             key.startswith("param_")]  # fmt: skip
    grid = getattr(search, "param_grid", getattr(search, "param_distributions", None))
    grids = [grid] if isinstance(grid, Mapping) else grid
    order = []
    if isinstance(grids, Sequence):
        for one in grids:
            if isinstance(one, Mapping):
                order += [name for name in one if name in found and name not in order]
    return order + [name for name in found if name not in order]


def _text_colors(image, values):
    """Black or white, whichever reads better on each cell of ``image``."""
    colors = np.full(values.shape, "black", dtype=object)
    finite = np.isfinite(values)
    if finite.any():
        rgba = image.cmap(image.norm(values[finite]))
        luminance = rgba[:, :3] @ np.array([0.299, 0.587, 0.114])
        colors[finite] = np.where(luminance > 0.5, "black", "white")
    # The "nan" of blank cells recedes: the scores are what a reader reads.
    colors[~finite] = "0.55"
    return colors


@functools.cache
def _before_draw_class():
    """An invisible Artist that calls ``callback(renderer)`` as its axes draw.

    Layouts that depend on sizes in pixels (where labels fit, how large cell
    annotations can be) are only right once the figure has its final size
    and layout, which ``plot`` does not know: a caller may resize the figure
    or use a layout engine afterwards. Drawn first (lowest zorder), this
    artist lays them out again at every draw, from the geometry of that draw.
    Defined on first use, because matplotlib is optional.
    """
    from matplotlib.artist import Artist

    class _BeforeDraw(Artist):
        def __init__(self, callback):
            super().__init__()
            self._callback = callback
            self.set_zorder(-1e9)
            self.set_in_layout(False)  # no extent: it draws nothing

        def draw(self, renderer):
            if self.get_visible():
                self._callback(renderer)
            self.stale = False

    return _BeforeDraw


def _set_if_changed(artist, **properties):
    """Set properties that differ; an unchanged artist stays not stale.

    Marking artists stale during a draw would make interactive backends
    draw again, forever; a layout that has settled changes nothing.
    """
    changed = {
        name: value
        for name, value in properties.items()
        if getattr(artist, f"get_{name}")() != value
    }
    if changed:
        artist.set(**changed)


def _overlaps(boxes, others):
    """Whether each of ``boxes`` (k, 4) intersects any of ``others`` (n, 4)."""
    if others.shape[0] == 0:
        return np.zeros(boxes.shape[0], dtype=bool)
    return (
        (boxes[:, None, 0] < others[None, :, 2])
        & (others[None, :, 0] < boxes[:, None, 2])
        & (boxes[:, None, 1] < others[None, :, 3])
        & (others[None, :, 1] < boxes[:, None, 3])
    ).any(axis=1)


# The smallest annotation worth drawing, in points.
_MIN_FONTSIZE = 4.0


def _fit_in_cells(ax, texts, sizes, renderer):
    """Shrink the cell annotations of a heat map until the widest fits a cell.

    ``sizes`` are the font sizes asked for, the largest allowed. When even
    the smallest readable size does not fit, the annotations are hidden:
    the colors still show the values.
    """
    (x0, y0), (x1, y1) = ax.transData.transform([(0, 0), (1, 1)])
    cell_width, cell_height = abs(x1 - x0), abs(y1 - y0)
    # Text extents grow in proportion to the font size: measure at the size
    # drawn last, scale to the size asked for.
    scale = np.inf
    for text, size in zip(texts, sizes, strict=True):
        extent = _text_extent(text, renderer)
        grow = size / text.get_fontsize()
        scale = min(
            scale,
            0.9 * cell_width / max(extent.width * grow, 1e-9),
            0.9 * cell_height / max(extent.height * grow, 1e-9),
        )
    for text, size in zip(texts, sizes, strict=True):
        # Half points, so that a settled size is found again exactly.
        fitted = min(size, np.floor(2 * size * scale) / 2)
        visible = fitted >= _MIN_FONTSIZE
        _set_if_changed(text, visible=visible)
        if visible:
            _set_if_changed(text, fontsize=fitted)


def _text_extent(text, renderer):
    """The box of a Text alone (without an Annotation's arrow), even if hidden.

    matplotlib measures a hidden text as a unit box; a label hidden at the
    last draw is measured through a visible copy, which belongs to no figure
    and so marks nothing stale.
    """
    from matplotlib.text import Text

    if not text.get_visible():
        probe = Text()
        probe.update_from(text)
        probe.set(text=text.get_text(), visible=True, figure=text.get_figure())
        text = probe
    return Text.get_window_extent(text, renderer)


# In points: the clearance around labels and labelled points, and how far a
# label may go from its point.
_CLEARANCE = 1.5
_REACH = 80.0


def _place_labels(ax, texts, points, order, marker_size, renderer):
    """Move each annotation to the nearest spot free of the others.

    A greedy search in display coordinates: in ``order`` (the most important
    first), each label takes, among boxes on a fine grid around its point,
    the one nearest the point that stays inside the axes and meets neither a
    label placed before nor a labelled point. A label away from its point
    gets a leader line; a label with no free spot within reach is hidden.
    """
    frame = ax.get_window_extent(renderer)
    pixels = renderer.points_to_pixels(1.0)
    clearance, reach = _CLEARANCE * pixels, _REACH * pixels
    xy = ax.transData.transform(points)
    radius = np.sqrt(marker_size) / 2 * pixels
    markers = np.column_stack(
        [xy - (radius + clearance)[:, None], xy + (radius + clearance)[:, None]]
    )
    inside = (
        (xy[:, 0] >= frame.x0)
        & (xy[:, 0] <= frame.x1)
        & (xy[:, 1] >= frame.y0)
        & (xy[:, 1] <= frame.y1)
    )
    placed = np.empty((0, 4))
    for i in order:
        text = texts[i]
        if not inside[i]:
            continue  # matplotlib clips an annotation of a point out of view
        # The text alone, without its leader line, with room around it.
        extent = _text_extent(text, renderer)
        width = extent.width + 2 * clearance
        height = extent.height + 2 * clearance
        # Lower-left corners of the candidate boxes, relative to the point.
        left, bottom = np.meshgrid(
            np.arange(-width - reach, reach, 2 * pixels),
            np.arange(-height - reach, reach, 1.5 * pixels),
        )
        left, bottom = left.ravel(), bottom.ravel()
        boxes = np.column_stack(
            [left, bottom, left + width, bottom + height]
        ) + np.tile(xy[i], 2)
        gap = np.hypot(
            np.maximum(0, np.maximum(left, -left - width)),
            np.maximum(0, np.maximum(bottom, -bottom - height)),
        )
        free = (
            (gap <= reach)
            & (boxes[:, 0] >= frame.x0)
            & (boxes[:, 2] <= frame.x1)
            & (boxes[:, 1] >= frame.y0)
            & (boxes[:, 3] <= frame.y1)
        )
        # Only the obstacles within reach can meet a candidate: checking
        # those alone keeps a draw with a hundred labels to a fraction of a
        # second.
        for obstacles in (placed, markers[inside]):
            if not free.any():
                break
            region = np.r_[boxes[free, :2].min(0), boxes[free, 2:].max(0)]
            near = obstacles[_overlaps(obstacles, region[None, :])]
            free[free] = ~_overlaps(boxes[free], near)
        if not free.any():
            _set_if_changed(text, visible=False)
            continue
        # Nearest first; of the boxes as near, the one centred on the point.
        spots = np.flatnonzero(free)
        centre = np.hypot(left[spots] + width / 2, bottom[spots] + height / 2)
        cost = gap[spots] + 0.05 * centre
        # A label as near another labelled point as its own would read as
        # that point's: it needs a leader line, and other spots come first.
        others = xy[inside & (np.arange(xy.shape[0]) != i)]
        ambiguous = np.zeros(spots.shape[0], dtype=bool)
        if others.shape[0]:
            box = boxes[spots][:, None, :]
            nearest = np.hypot(
                np.maximum(0, np.maximum(box[..., 0] - others[:, 0],
                                         others[:, 0] - box[..., 2])),
                np.maximum(0, np.maximum(box[..., 1] - others[:, 1],
                                         others[:, 1] - box[..., 3])),
            ).min(axis=1)  # fmt: skip
            ambiguous = nearest < gap[spots] + 2 * clearance
        k = int(np.argmin(cost + ambiguous * 15 * pixels))
        j = spots[k]
        _set_if_changed(
            text,
            visible=True,
            position=(
                (left[j] + clearance) / pixels,
                (bottom[j] + clearance) / pixels,
            ),
            horizontalalignment="left",
            verticalalignment="bottom",
        )
        if text.arrow_patch is not None:
            beside = gap[j] <= radius[i] + 3 * clearance
            _set_if_changed(text.arrow_patch, visible=ambiguous[k] or not beside)
        placed = np.vstack([placed, boxes[j]])


class TrainingCurveDisplay:
    """Training loss and validation error after each epoch of a fit.

    The learning curve over epochs of
    :class:`~skmf.MatrixFactorization` (and of any estimator with a
    ``loss_curve_``): the training objective on the left axis and, when the
    model was fitted with ``early_stopping=True``, the error on the held-out
    ratings (RMSE, or MAE for ``loss="absolute_error"``) on a right axis of
    its own, with the epoch whose factors were kept marked. Rising validation
    error under a still falling training loss is overfitting.

    Not to be confused with scikit-learn's
    :class:`~sklearn.model_selection.LearningCurveDisplay`, whose x-axis is the
    size of the training set.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training objective after each epoch, e.g. ``loss_curve_``.

    validation_scores : array-like of shape (n_epochs,), default=None
        Validation score after each epoch, higher is better, e.g.
        ``validation_scores_`` (the negative RMSE or MAE). Plotted as the
        error, the negative of the score.

    loss : {"squared_error", "absolute_error"}, default="squared_error"
        The loss the model was fitted with: names the validation error.

    estimator_name : str, default=None
        Name of the estimator, for the title. None shows no title.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes of the training loss.

    ax_validation_ : matplotlib Axes or None
        The right-hand axes of the validation error (a twin of ``ax_``), or
        None without validation scores.

    figure_ : matplotlib Figure
        The figure holding the axes.

    lines_ : list of matplotlib Line2D
        The training loss curve, then the validation error curve if any.

    best_epoch_ : int or None
        The epoch (from 1) of the best validation score, or None.

    See Also
    --------
    skmf.MatrixFactorization : Its ``loss_curve_`` and ``validation_scores_``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skmf import MatrixFactorization
    >>> from skmf.datasets import make_ratings
    >>> from skmf.plot import TrainingCurveDisplay
    >>> X, y = make_ratings(200, 100, 4000, random_state=0)
    >>> mf = MatrixFactorization(n_components=5, max_iter=100, early_stopping=True,
    ...                          n_iter_no_change=3, random_state=0).fit(X, y)
    >>> display = TrainingCurveDisplay.from_estimator(mf)
    >>> len(display.lines_), display.ax_.get_xlabel()
    (2, 'epoch')
    >>> display.ax_validation_.get_ylabel()
    'validation RMSE'
    """

    def __init__(
        self,
        *,
        loss_curve,
        validation_scores=None,
        loss="squared_error",
        estimator_name=None,
    ):
        self.loss_curve = loss_curve
        self.validation_scores = validation_scores
        self.loss = loss
        self.estimator_name = estimator_name

    def _check(self):
        loss_curve = np.asarray(self.loss_curve, dtype=np.float64)
        if loss_curve.ndim != 1 or loss_curve.shape[0] == 0:
            raise ValueError(
                "loss_curve must be a non-empty 1-D sequence of losses, one per "
                f"epoch; got shape {loss_curve.shape}."
            )
        if self.loss not in _ERRORS:
            raise ValueError(
                f"loss must be one of {sorted(_ERRORS)}, got {self.loss!r}."
            )
        scores = None
        if self.validation_scores is not None:
            scores = np.asarray(self.validation_scores, dtype=np.float64)
            if scores.shape != loss_curve.shape:
                raise ValueError(
                    f"validation_scores has {scores.shape[0] if scores.ndim else 0} "
                    f"values but loss_curve has {loss_curve.shape[0]}: there must "
                    "be one of each per epoch."
                )
        return loss_curve, scores

    def plot(self, ax=None, *, loss_kw=None, validation_kw=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw the training loss on; the validation error gets a
            twin axes on its right. None makes a new figure.

        loss_kw : dict, default=None
            Keyword arguments of ``ax.plot`` for the training loss.

        validation_kw : dict, default=None
            Keyword arguments of ``plot`` for the validation error.

        Returns
        -------
        display : TrainingCurveDisplay
            This object, with ``ax_``, ``ax_validation_``, ``figure_``,
            ``lines_`` and ``best_epoch_`` set.
        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        from matplotlib.lines import Line2D

        loss_curve, scores = self._check()
        if ax is None:
            _, ax = plt.subplots(layout="constrained")
        epochs = np.arange(1, loss_curve.shape[0] + 1)
        loss_kw = {"color": "C0", "label": "training loss", **(loss_kw or {})}
        lines = ax.plot(epochs, loss_curve, **loss_kw)
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss", color=lines[0].get_color())
        ax.set_xlim(0.5, epochs[-1] + 0.5)
        self.ax_validation_ = self.best_epoch_ = None
        if scores is not None:
            error = _ERRORS[self.loss]
            twin = ax.twinx()
            validation_kw = {
                "color": "C1",
                "label": f"validation {error}",
                **(validation_kw or {}),
            }
            lines += twin.plot(epochs, -scores, **validation_kw)
            twin.set_ylabel(f"validation {error}", color=lines[-1].get_color())
            self.best_epoch_ = int(np.nanargmax(scores)) + 1
            twin.plot(
                self.best_epoch_,
                -scores[self.best_epoch_ - 1],
                "o",
                color=lines[-1].get_color(),
                markersize=4,
                clip_on=False,  # whole, even at the last epoch, on the edge
            )
            twin.axvline(self.best_epoch_, color="0.5", linestyle=":", linewidth=1)
            # The twin is drawn after ax, over ax's legend: draw ax last
            # instead, on the twin's background.
            twin.patch.set_facecolor(ax.patch.get_facecolor())
            twin.patch.set_visible(True)
            ax.patch.set_visible(False)
            ax.set_zorder(twin.get_zorder() + 1)
            # loc="best" avoids only the lines of the legend's axes: an
            # invisible copy of the validation curve, in the twin's
            # coordinates, makes it avoid that curve too.
            ax.add_artist(
                Line2D(epochs, -scores, transform=twin.transData, alpha=0)
            ).set_in_layout(False)
            self.ax_validation_ = twin
        ax.legend(handles=lines, loc="best")
        if self.estimator_name is not None:
            ax.set_title(self.estimator_name)
        self.ax_, self.figure_, self.lines_ = ax, ax.figure, lines
        return self

    @classmethod
    def from_estimator(
        cls, estimator, *, ax=None, name=None, loss_kw=None, validation_kw=None
    ):
        """Plot the training curves of a fitted estimator.

        Parameters
        ----------
        estimator : fitted estimator
            A model with ``loss_curve_``, such as
            :class:`~skmf.MatrixFactorization`; its ``validation_scores_``
            are plotted when present (fits with ``early_stopping=True``).

        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        name : str, default=None
            Title of the plot; None uses the estimator's class name.

        loss_kw, validation_kw : dict, default=None
            Keyword arguments of the two ``plot`` calls, as in :meth:`plot`.

        Returns
        -------
        display : TrainingCurveDisplay
            The Display, plotted.
        """
        _pyplot(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        if not hasattr(estimator, "loss_curve_"):
            raise TypeError(
                f"{type(estimator).__name__} has no loss_curve_: only estimators "
                "that record their training loss per epoch can be plotted."
            )
        display = cls(
            loss_curve=estimator.loss_curve_,
            validation_scores=getattr(estimator, "validation_scores_", None),
            loss=getattr(estimator, "loss", "squared_error"),
            estimator_name=name or type(estimator).__name__,
        )
        return display.plot(ax=ax, loss_kw=loss_kw, validation_kw=validation_kw)


# Errors that scikit-learn scores as their negative, by scorer name.
_SCORER_ERRORS = {
    "neg_root_mean_squared_error": "RMSE",
    "neg_mean_absolute_error": "MAE",
    "neg_mean_squared_error": "MSE",
}


class GridSearchHeatmapDisplay:
    """Cross-validated scores of a grid search over two parameters, as a heat map.

    One cell per pair of values of two parameters of a search such as
    :class:`~sklearn.model_selection.GridSearchCV`, colored by the mean
    cross-validated score and annotated with it; the best cell is outlined.
    Scores that scikit-learn negates (``scoring="neg_..."``) are shown as the
    error itself, e.g. the RMSE, where lower is better.

    Parameters
    ----------
    scores : array-like of shape (n_y_values, n_x_values)
        The value of each cell: row ``i`` for ``y_values[i]``, column ``j``
        for ``x_values[j]``. NaN leaves a cell blank (a failed fit, or a pair
        that was not searched).

    x_values, y_values : sequence
        The values of the parameters on the horizontal and vertical axes.

    x_name, y_name : str
        The names of the two parameters.

    score_name : str, default="score"
        What ``scores`` are, for the color bar.

    greater_is_better : bool, default=True
        Whether the best cell is the one with the largest value (scores) or
        the smallest (errors).

    title : str, default=None
        Title of the plot; None shows none.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes of the heat map.

    figure_ : matplotlib Figure
        The figure holding the axes.

    im_ : matplotlib AxesImage
        The heat map.

    text_ : ndarray of matplotlib Text, shape (n_y_values, n_x_values)
        The annotation of each cell.

    colorbar_ : matplotlib Colorbar or None
        The color bar, or None when drawn without.

    best_index_ : tuple of (int, int) or None
        ``(row, column)`` of the best cell, or None when every cell is NaN.

    See Also
    --------
    sklearn.model_selection.GridSearchCV : The search whose results are drawn.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skmf import MatrixFactorization
    >>> from skmf.datasets import make_ratings
    >>> from skmf.plot import GridSearchHeatmapDisplay
    >>> X, y = make_ratings(200, 100, 4000, random_state=0)
    >>> search = GridSearchCV(
    ...     MatrixFactorization(solver="als", max_iter=5, random_state=0),
    ...     {"n_components": [2, 5, 10], "alpha": [0.03, 0.1]},
    ...     scoring="neg_root_mean_squared_error", cv=2,
    ... ).fit(X, y)
    >>> display = GridSearchHeatmapDisplay.from_search(search)
    >>> display.x_name, display.y_name
    ('n_components', 'alpha')
    >>> display.text_.shape, display.colorbar_.ax.get_ylabel()
    ((2, 3), 'RMSE')
    >>> row, column = display.best_index_
    >>> best = search.best_params_
    >>> display.y_values[row] == best["alpha"]
    True
    >>> display.x_values[column] == best["n_components"]
    True
    """

    def __init__(
        self,
        *,
        scores,
        x_values,
        y_values,
        x_name,
        y_name,
        score_name="score",
        greater_is_better=True,
        title=None,
    ):
        self.scores = scores
        self.x_values = x_values
        self.y_values = y_values
        self.x_name = x_name
        self.y_name = y_name
        self.score_name = score_name
        self.greater_is_better = greater_is_better
        self.title = title

    def _check(self):
        scores = np.asarray(self.scores, dtype=np.float64)
        shape = (len(self.y_values), len(self.x_values))
        if scores.shape != shape or 0 in shape:
            raise ValueError(
                f"scores must have one row per y value and one column per x value, "
                f"shape {shape}; got shape {scores.shape}."
            )
        return scores

    def plot(
        self,
        ax=None,
        *,
        cmap=None,
        values_format=".4g",
        colorbar=True,
        imshow_kw=None,
        text_kw=None,
    ):
        """Draw the heat map.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        cmap : str or matplotlib Colormap, default=None
            The colors; None means ``"viridis"``, reversed when lower is
            better, so that the best cells are the brightest either way.

        values_format : str, default=".4g"
            Format specification of the cell annotations.

        colorbar : bool, default=True
            Whether to draw a color bar.

        imshow_kw : dict, default=None
            Keyword arguments of ``ax.imshow``, e.g. ``vmin`` and ``vmax`` to
            give several heat maps one color scale.

        text_kw : dict, default=None
            Keyword arguments of ``ax.text`` for the annotations. Their
            ``fontsize`` is the largest used: each time the figure is drawn,
            the annotations shrink until the widest fits its cell, and are
            hidden when that would take less than 4 points (the colors still
            show the values). A bigger figure or a shorter ``values_format``
            keeps them readable.

        Returns
        -------
        display : GridSearchHeatmapDisplay
            This object, with ``ax_``, ``figure_``, ``im_``, ``text_``,
            ``colorbar_`` and ``best_index_`` set.
        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        scores = self._check()
        if ax is None:
            _, ax = plt.subplots(layout="constrained")
        if cmap is None:
            cmap = "viridis" if self.greater_is_better else "viridis_r"
        imshow_kw = {
            "cmap": cmap,
            "origin": "lower",
            "aspect": "auto",
            **(imshow_kw or {}),
        }
        image = ax.imshow(np.ma.masked_invalid(scores), **imshow_kw)
        ax.set_facecolor("0.9")  # shows through the blank (NaN) cells
        colors = _text_colors(image, scores)
        text = np.empty(scores.shape, dtype=object)
        for (row, column), value in np.ndenumerate(scores):
            label = "nan" if np.isnan(value) else format(value, values_format)
            kw = {"ha": "center", "va": "center", "color": colors[row, column]}
            text[row, column] = ax.text(column, row, label, **kw | (text_kw or {}))
        texts = list(text.ravel())
        sizes = [one.get_fontsize() for one in texts]
        ax.add_artist(
            _before_draw_class()(
                lambda renderer: _fit_in_cells(ax, texts, sizes, renderer)
            )
        )
        x_labels = _tick_labels(self.x_values)
        ax.set_xticks(range(len(self.x_values)), labels=x_labels)
        ax.set_yticks(range(len(self.y_values)), labels=_tick_labels(self.y_values))
        widest = max(len(label) for label in x_labels)
        if (widest + 1) * len(x_labels) > _TICK_CHARACTERS:
            # Side by side they would run into each other on a figure of the
            # default size; upright, each needs only a line's height.
            ax.tick_params(axis="x", labelrotation=90)
        ax.set_xlabel(self.x_name)
        ax.set_ylabel(self.y_name)
        self.best_index_ = None
        if not np.isnan(scores).all():
            best = np.nanargmax(scores if self.greater_is_better else -scores)
            row, column = np.unravel_index(best, scores.shape)
            self.best_index_ = (int(row), int(column))
            outline = plt.Rectangle(
                (column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="red", lw=2
            )
            ax.add_patch(outline)
        self.colorbar_ = None
        if colorbar:
            self.colorbar_ = ax.figure.colorbar(image, ax=ax, label=self.score_name)
        if self.title is not None:
            ax.set_title(self.title)
        self.ax_, self.figure_, self.im_, self.text_ = ax, ax.figure, image, text
        return self

    @staticmethod
    def _score_of(search, score):
        """The key of the scores in ``cv_results_`` and the scorer's name."""
        results = search.cv_results_
        if not getattr(search, "multimetric_", False):
            if score is not None:
                raise ValueError(
                    f"score={score!r} names one metric of a search with several "
                    "scorers; this search has one: leave score=None."
                )
            scoring = search.scoring if isinstance(search.scoring, str) else None
            return "mean_test_score", scoring
        metrics = sorted(key[len("mean_test_") :] for key in results if
                         key.startswith("mean_test_"))  # fmt: skip
        if score is None and isinstance(search.refit, str):
            score = search.refit
        if score not in metrics:
            raise ValueError(
                f"The search has several scorers: pass score= one of {metrics}, "
                f"got {score!r}."
            )
        return f"mean_test_{score}", score

    @staticmethod
    def _axes_of(search, x, y, fixed):
        """``(x, y)``: the axes given, or the parameters the search varies."""
        results = search.cv_results_
        names = _searched_parameters(search)
        for name in (x, y, *fixed):
            if name is not None and name not in names:
                raise ValueError(
                    f"{name!r} is not a parameter of the search; its parameters "
                    f"are {sorted(names)}."
                )
        if x is not None and x == y:
            raise ValueError(
                f"x and y are both {x!r}: a heat map needs two different parameters."
            )
        if x is not None and y is not None:
            return x, y
        # Only a parameter with several values can make an axis.
        varying = [
            name
            for name in names
            if name not in (x, y, *fixed)
            and len(_distinct(np.ma.asarray(results[f"param_{name}"]).compressed())) > 1
        ]
        given = [name for name in (x, y) if name is not None]
        missing = [axis for axis, name in (("x", x), ("y", y)) if name is None]
        if len(varying) != len(missing):
            besides = " besides " + ", ".join(map(repr, [*fixed, *given]))
            besides = besides if fixed or given else ""
            how = " and ".join(f"{axis}=" for axis in missing)
            if len(varying) > len(missing):
                raise ValueError(
                    f"The search varies {len(varying)} parameters{besides}, "
                    f"{varying}: pass {how} to choose the axes (each cell then "
                    "shows the best score over the others), or fixed= to hold "
                    "the others at one value."
                )
            raise ValueError(
                f"The search varies {len(varying)} parameter(s){besides}, "
                f"{varying}, and a heat map needs {len(missing)} more with "
                f"several values each: pass {how} to name the axes (a parameter "
                "with one value makes a single row or column)."
            )
        chosen = iter(varying)
        x = next(chosen) if x is None else x
        y = next(chosen) if y is None else y
        return x, y

    @classmethod
    def from_search(
        cls,
        search,
        *,
        x=None,
        y=None,
        score=None,
        fixed=None,
        ax=None,
        cmap=None,
        values_format=".4g",
        colorbar=True,
        imshow_kw=None,
        text_kw=None,
    ):
        """Plot the scores of a fitted search over two of its parameters.

        Each cell shows the best mean cross-validated score over the values
        of the parameters on neither axis, unless ``fixed`` sets them: with a
        third parameter, draw one heat map per value of it by passing
        ``fixed={name: value}`` and ``ax=`` for each.

        Parameters
        ----------
        search : fitted GridSearchCV or RandomizedSearchCV
            Any fitted search with ``cv_results_``.

        x, y : str, default=None
            The parameters on the horizontal and vertical axes, as named in
            the parameter grid (e.g. ``"alpha"``, ``"model__alpha"``). None
            infers the axis when the search varies exactly two parameters
            besides ``fixed`` (or one besides ``fixed`` and the other axis):
            the first in the order of the grid goes on the horizontal axis.
            With more, name the axes.

        score : str, default=None
            With several scorers, the one to show; None means the one named
            by ``refit``. Must be None for a search with one scorer.

        fixed : dict, default=None
            Values of other parameters: only the candidates with these values
            are shown.

        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        cmap, values_format, colorbar, imshow_kw, text_kw
            As in :meth:`plot`.

        Returns
        -------
        display : GridSearchHeatmapDisplay
            The Display, plotted. Its title names the ``fixed`` values.

        Warns
        -----
        UserWarning
            When the grid is a list of grids and some candidates, of a grid
            without ``x`` or ``y``, have no place on the axes: they are left
            out, and the warning says how many. ``fixed`` can select the
            grids that have both.
        """
        _pyplot(f"{cls.__name__}.from_search")
        check_is_fitted(search, "cv_results_")
        results = search.cv_results_
        key, scoring = cls._score_of(search, score)
        scores = np.asarray(results[key], dtype=np.float64)
        fixed = dict(fixed or {})
        x, y = cls._axes_of(search, x, y, fixed)
        keep = np.ones(scores.shape[0], dtype=bool)
        for name, value in fixed.items():
            keep &= ~np.ma.getmaskarray(results[f"param_{name}"])
            column = np.ma.getdata(results[f"param_{name}"])
            keep &= np.array([_same(other, value) for other in column], dtype=bool)
        if not keep.any():
            raise ValueError(f"No candidate of the search has {fixed}.")
        placed = keep.copy()
        for name in (x, y):
            placed &= ~np.ma.getmaskarray(results[f"param_{name}"])
        if not placed.any():
            raise ValueError(
                f"No candidate of the search{' with ' + str(fixed) if fixed else ''} "
                f"has both {x!r} and {y!r}: they are parameters of different "
                "grids of the search. Choose two parameters of the same grid."
            )
        left_out = int(keep.sum() - placed.sum())
        if left_out:
            absent = [
                repr(name)
                for name in (x, y)
                if np.ma.getmaskarray(results[f"param_{name}"])[keep].any()
            ]
            warnings.warn(
                f"{left_out} of the {keep.sum()} candidates "
                f"{'has' if left_out == 1 else 'have'} no {' or '.join(absent)} "
                "(their grid does not search it) and cannot be shown; pass "
                "fixed= to select the grids that search both axes.",
                UserWarning,
                stacklevel=2,
            )
        keep = placed
        x_column = np.ma.getdata(results[f"param_{x}"])[keep]
        y_column = np.ma.getdata(results[f"param_{y}"])[keep]
        x_values, y_values = _distinct(x_column), _distinct(y_column)
        grid = np.full((len(y_values), len(x_values)), np.nan)
        for x_value, y_value, value in zip(
            x_column, y_column, scores[keep], strict=True
        ):
            cell = _position(y_values, y_value), _position(x_values, x_value)
            grid[cell] = np.fmax(grid[cell], value)  # the best, ignoring NaN
        greater_is_better = True
        score_name = scoring or "score"
        if scoring is not None and scoring.startswith("neg_"):
            grid, greater_is_better = -grid, False
            score_name = _SCORER_ERRORS.get(scoring, scoring[len("neg_") :])
        title = ", ".join(f"{k}={_format_value(v)}" for k, v in fixed.items())
        display = cls(
            scores=grid,
            x_values=x_values,
            y_values=y_values,
            x_name=x,
            y_name=y,
            score_name=score_name,
            greater_is_better=greater_is_better,
            title=title or None,
        )
        return display.plot(
            ax=ax,
            cmap=cmap,
            values_format=values_format,
            colorbar=colorbar,
            imshow_kw=imshow_kw,
            text_kw=text_kw,
        )


def _item_popularity(estimator):
    """Training ratings of each item, in ``items_`` order, or None if unknown."""
    popularity = getattr(estimator, "item_popularity_", None)
    return None if popularity is None else np.asarray(popularity)


def _item_labels(labels, ids):
    """The label of each id: from a mapping, a sequence in id order, or the id."""
    if labels is None:
        return [str(item) for item in ids]
    if hasattr(labels, "get"):
        # A dict or a pandas Series, looked up by item id.
        found = [labels.get(item) for item in ids]
        return [
            str(item) if label is None or label != label else str(label)
            for item, label in zip(ids, found, strict=True)
        ]
    return [str(label) for label in labels]


class ItemMapDisplay:
    """Items placed in two dimensions by their factor vectors, some named.

    Items whose factor vectors are close are rated alike by the same users,
    so a map of the vectors groups similar items: with a model of
    ``n_components=2`` the factors themselves, otherwise their projection on
    the two principal components. Items with a label (e.g. the most rated
    movies, by title) are marked and annotated, each label beside its point
    where it covers no other label; the others are grey dots.

    Parameters
    ----------
    coordinates : array-like of shape (n_items, 2)
        Position of each item.

    labels : sequence of str or None, length n_items, default=None
        Annotation of each item; items whose label is None or ``""`` are
        drawn without one. None annotates no item.

    priority : array-like of shape (n_items,), default=None
        Which labels are placed first when they compete for room, the
        largest first (e.g. the number of ratings of each item); when the
        map is too crowded, the labels of the lowest priority are the ones
        hidden. None places them in the order of ``labels``.

    xlabel, ylabel : str, default="component 1", "component 2"
        Names of the axes.

    estimator_name : str, default=None
        Title of the plot; None shows none.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes of the map.

    figure_ : matplotlib Figure
        The figure holding the axes.

    scatter_ : matplotlib PathCollection
        One point per item, in the order of ``coordinates``.

    texts_ : list of matplotlib Annotation
        The labels, in the order of the labelled items. Where each one goes,
        and whether it is shown, is settled each time the figure is drawn
        (see ``avoid_overlap`` in :meth:`plot`).

    See Also
    --------
    skmf.MatrixFactorization.similar_items : The nearest items of an item.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skmf import MatrixFactorization
    >>> from skmf.datasets import make_ratings
    >>> from skmf.plot import ItemMapDisplay
    >>> X, y = make_ratings(200, 100, 4000, random_state=0)
    >>> mf = MatrixFactorization(n_components=5, solver="als", max_iter=5,
    ...                          random_state=0).fit(X, y)
    >>> titles = {item: f"movie {item}" for item in range(100)}
    >>> display = ItemMapDisplay.from_estimator(mf, labels=titles, n_labels=5)
    >>> len(display.texts_), display.scatter_.get_offsets().shape
    (5, (100, 2))
    >>> display.ax_.get_xlabel()
    'principal component 1 (...% of variance)'
    """

    def __init__(
        self,
        *,
        coordinates,
        labels=None,
        priority=None,
        xlabel="component 1",
        ylabel="component 2",
        estimator_name=None,
    ):
        self.coordinates = coordinates
        self.labels = labels
        self.priority = priority
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.estimator_name = estimator_name

    def _check(self):
        coordinates = np.asarray(self.coordinates, dtype=np.float64)
        if coordinates.ndim != 2 or coordinates.shape[1] != 2:
            raise ValueError(
                "coordinates must have shape (n_items, 2), one (x, y) per item; "
                f"got shape {coordinates.shape}."
            )
        labels = [None] * coordinates.shape[0]
        if self.labels is not None:
            labels = list(self.labels)
            if len(labels) != coordinates.shape[0]:
                raise ValueError(
                    f"labels has {len(labels)} entries but coordinates has "
                    f"{coordinates.shape[0]} rows: there must be one per item."
                )
        priority = None
        if self.priority is not None:
            priority = np.asarray(self.priority, dtype=np.float64)
            if priority.shape != coordinates.shape[:1]:
                raise ValueError(
                    f"priority has shape {priority.shape} but coordinates has "
                    f"{coordinates.shape[0]} rows: give one number per item."
                )
            if np.isnan(priority).any():
                raise ValueError("priority contains NaN: give a number per item.")
        return coordinates, labels, priority

    def plot(self, ax=None, *, scatter_kw=None, text_kw=None, avoid_overlap=True):
        """Draw the map.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        scatter_kw : dict, default=None
            Keyword arguments of ``ax.scatter``. Giving ``c`` or ``color``
            colors every item alike.

        text_kw : dict, default=None
            Keyword arguments of ``ax.annotate`` for the labels.

        avoid_overlap : bool, default=True
            Whether to keep the labels apart. Each time the figure is drawn
            (so after any resizing or layout), the labels are placed in
            order of ``priority``, each at the nearest spot around its point
            where it stays inside the axes and covers no label placed before
            and no labelled point, with a leader line when it is not next to
            its point; a label that finds no free spot is hidden (its
            ``get_visible()`` is False). A bigger figure or fewer labels
            shows them all. False draws every label at ``text_kw``'s
            ``xytext``, overlapping or not.

        Returns
        -------
        display : ItemMapDisplay
            This object, with ``ax_``, ``figure_``, ``scatter_`` and
            ``texts_`` set.
        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        coordinates, labels, priority = self._check()
        if ax is None:
            _, ax = plt.subplots(layout="constrained")
        named = np.array([label not in (None, "") for label in labels], dtype=bool)
        scatter_kw = {
            "s": np.where(named, 24, 8),
            "linewidths": 0,
            **(scatter_kw or {}),
        }
        highlight = "c" not in scatter_kw and "color" not in scatter_kw
        if highlight:
            scatter_kw["c"] = np.where(named, "C1", "0.7")
        scatter = ax.scatter(coordinates[:, 0], coordinates[:, 1], **scatter_kw)
        text_kw = {
            "xytext": (3, 3),
            "textcoords": "offset points",
            "fontsize": "small",
            **(text_kw or {}),
        }
        if highlight and named.any():
            # Points are drawn in item order, so grey dots of later items would
            # cover labelled ones: draw the labelled points again, on top.
            ax.scatter(
                coordinates[named, 0],
                coordinates[named, 1],
                s=np.broadcast_to(scatter_kw["s"], named.shape)[named],
                c="C1",
                edgecolors="white",
                linewidths=0.5,
                zorder=scatter.get_zorder() + 0.1,
            )
        if avoid_overlap:
            text_kw = {
                "bbox": {"boxstyle": "square,pad=0.1", "facecolor": "white",
                         "alpha": 0.6, "linewidth": 0},
                "arrowprops": {"arrowstyle": "-", "color": "0.4",
                               "linewidth": 0.6, "shrinkA": 0, "shrinkB": 3},
                **text_kw,
            }  # fmt: skip
        texts = [
            ax.annotate(labels[i], coordinates[i], **text_kw)
            for i in np.flatnonzero(named)
        ]
        if avoid_overlap and texts:
            for text in texts:
                # Placed inside the axes at draw time: where they are before
                # that must not make a layout engine shrink the axes.
                text.set_in_layout(False)
            rows = np.flatnonzero(named)
            if priority is None:
                order = np.arange(len(texts))
            else:
                order = np.argsort(-priority[rows], kind="stable")
            sizes = np.broadcast_to(scatter_kw.get("s", 24), named.shape)[rows]
            ax.add_artist(
                _before_draw_class()(
                    lambda renderer: _place_labels(
                        ax, texts, coordinates[rows], order, sizes, renderer
                    )
                )
            )
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        if self.estimator_name is not None:
            ax.set_title(self.estimator_name)
        self.ax_, self.figure_ = ax, ax.figure
        self.scatter_, self.texts_ = scatter, texts
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        labels=None,
        n_labels=20,
        items=None,
        projection="pca",
        ax=None,
        name=None,
        scatter_kw=None,
        text_kw=None,
        avoid_overlap=True,
    ):
        """Map the items of a fitted model and name the most rated ones.

        Parameters
        ----------
        estimator : fitted estimator
            A model with ``item_factors_`` and ``items_``, such as
            :class:`~skmf.MatrixFactorization` or
            :class:`~skmf.ImplicitMatrixFactorization`.

        labels : dict, pandas Series or sequence of str, default=None
            The name of each item: a dict or Series is looked up by item id
            (e.g. ``fetch_movielens("100k").movies["title"]``), a sequence
            is in the order of ``estimator.items_``. Items it does not name,
            and every item when None, are named by their id.

        n_labels : int, default=20
            Number of items to annotate: those with the most training
            ratings (for an estimator that does not record them, those
            farthest from the centre of the map).

        items : array-like of item ids, default=None
            The items to annotate, instead of ``n_labels`` chosen ones.

        projection : {"pca", "factors"}, default="pca"
            ``"pca"``: the first two principal components of
            ``item_factors_``, the plane that shows most of their spread.
            ``"factors"``: the first two factors as they are, the whole
            model when it has ``n_components=2``.

        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        name : str, default=None
            Title of the plot; None uses the estimator's class name.

        scatter_kw, text_kw, avoid_overlap
            As in :meth:`plot`. The labels are placed most rated first (or
            in the order of ``items``), so that when room runs out the
            labels hidden are those of the least rated items.

        Returns
        -------
        display : ItemMapDisplay
            The Display, plotted.
        """
        _pyplot(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        if not hasattr(estimator, "item_factors_"):
            raise TypeError(
                f"{type(estimator).__name__} has no item_factors_: only factor "
                "models can be mapped."
            )
        factors = np.asarray(estimator.item_factors_, dtype=np.float64)
        ids = np.asarray(estimator.items_)
        if factors.shape[1] < 2:
            raise ValueError(
                f"A map needs at least two factors per item; the model has "
                f"n_components={factors.shape[1]}."
            )
        if projection == "pca":
            from sklearn.decomposition import PCA

            pca = PCA(n_components=2).fit(factors)
            coordinates = pca.transform(factors)
            xlabel, ylabel = (
                f"principal component {k} ({share:.0%} of variance)"
                for k, share in enumerate(pca.explained_variance_ratio_, start=1)
            )
        elif projection == "factors":
            coordinates, xlabel, ylabel = factors[:, :2], "factor 1", "factor 2"
        else:
            raise ValueError(
                f"projection must be 'pca' or 'factors', got {projection!r}."
            )
        if items is not None:
            chosen = cls._positions(ids, items)
            # The first items given are placed first.
            weight = np.zeros(ids.shape[0])
            weight[chosen[::-1]] = np.arange(1, chosen.shape[0] + 1)
        else:
            if not isinstance(n_labels, numbers.Integral) or n_labels < 0:
                raise ValueError(f"n_labels must be an int >= 0, got {n_labels!r}.")
            weight = _item_popularity(estimator)
            if weight is None:
                weight = np.linalg.norm(coordinates - coordinates.mean(0), axis=1)
            weight = np.asarray(weight, dtype=np.float64)
            chosen = np.argsort(-weight, kind="stable")[:n_labels]
        names = _item_labels(labels, ids)
        if len(names) != ids.shape[0]:
            raise ValueError(
                f"labels has {len(names)} entries but the model has "
                f"{ids.shape[0]} items: give one per item of items_, or a "
                "dict or Series indexed by item id."
            )
        shown = [None] * ids.shape[0]
        for i in chosen:
            shown[i] = names[i]
        display = cls(
            coordinates=coordinates,
            labels=shown,
            priority=weight,
            xlabel=xlabel,
            ylabel=ylabel,
            estimator_name=name or type(estimator).__name__,
        )
        return display.plot(
            ax=ax, scatter_kw=scatter_kw, text_kw=text_kw, avoid_overlap=avoid_overlap
        )

    @staticmethod
    def _positions(ids, items):
        """Rows of ``items`` in ``ids``; an unknown item is an error."""
        import pandas as pd

        items = np.asarray(items, dtype=None if hasattr(items, "dtype") else object)
        positions = pd.Index(ids).get_indexer(items.ravel())
        if (positions < 0).any():
            unknown = items.ravel()[positions < 0][:5].tolist()
            raise ValueError(f"items {unknown} are not items of the model.")
        return positions
