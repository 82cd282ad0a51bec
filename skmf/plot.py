"""Plots of fitted skmf models, in scikit-learn's ``*Display`` style.

A Display holds the data of a plot and draws it with :meth:`plot`, which
returns the Display with the matplotlib objects it made (``ax_``,
``figure_``, ``lines_``); ``from_estimator`` builds and plots one in a call.
matplotlib is only needed to draw: ``pip install matplotlib``.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["TrainingCurveDisplay"]

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
        loss_curve, scores = self._check()
        if ax is None:
            _, ax = plt.subplots()
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
            twin.axvline(self.best_epoch_, color="0.5", linestyle=":", linewidth=1)
            self.ax_validation_ = twin
        ax.legend(handles=lines, loc="upper right")
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
