"""
Training loss and validation RMSE per epoch
===========================================

A learning curve over epochs: with ``early_stopping=True``,
:class:`~skmf.MatrixFactorization` holds out ``validation_fraction`` of the
training ratings, records the training objective (``loss_curve_``) and the
score on the held-out ratings (``validation_scores_``, the negative RMSE)
after every epoch, stops once the score has not improved for
``n_iter_no_change`` epochs, and keeps the factors of the best epoch.

Two models are compared: one with little regularization, whose validation
RMSE turns up while its training loss keeps falling (overfitting), and one
with the default ``alpha=0.1``. :class:`skmf.plot.TrainingCurveDisplay` draws
both curves of each; the dotted line marks the epoch that was kept. Both are
then scored on a test set they never saw.

Run it with ``python examples/plot_training_curve.py [--save DIR]``.
"""

# %%
import matplotlib.pyplot as plt
from _helpers import load_movielens_100k, parse_args, show_or_save
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import train_test_split

from skmf import MatrixFactorization
from skmf.plot import TrainingCurveDisplay

args = parse_args(__doc__)
X, y, _ = load_movielens_100k(download=not args.no_download)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for ax, alpha in zip(axes, [0.005, 0.1], strict=True):
    mf = MatrixFactorization(
        n_components=50,
        alpha=alpha,
        learning_rate=0.01,
        max_iter=6 if args.quick else 200,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=15,
        random_state=0,
    ).fit(X_train, y_train)
    rmse = [-score for score in mf.validation_scores_]
    print(f"alpha={alpha}:")
    print(" epoch  training loss  validation RMSE")
    for epoch in range(0, mf.n_iter_, max(1, mf.n_iter_ // 8)):
        print(f"{epoch + 1:6d}{mf.loss_curve_[epoch]:15.4f}{rmse[epoch]:17.4f}")
    best = rmse.index(min(rmse))
    test_rmse = root_mean_squared_error(y_test, mf.predict(X_test))
    print(
        f"  stopped after {mf.n_iter_} epochs; kept epoch {best + 1} "
        f"(validation RMSE {rmse[best]:.4f}); test RMSE {test_rmse:.4f}\n"
    )
    TrainingCurveDisplay.from_estimator(mf, ax=ax, name=f"alpha={alpha}")
fig.suptitle("SGD on MovieLens 100K: training loss and validation RMSE")
show_or_save({"training_curve": fig}, args.save)
