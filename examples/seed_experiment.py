"""
MovieLens 100K with absolute-error SGD, in a few lines
======================================================

The experiment of the article skmf started from: factorize MovieLens 100K's
ratings with 70% of them, trained by stochastic gradient descent on the
absolute error with an exponentially decaying learning rate, and measure the
error on the other 30%.

The step size starts at ``learning_rate`` and is multiplied by ``decay_rate``
after every epoch (``learning_rate_schedule="exponential"``), so the last of
the 40 epochs take steps about 60 times smaller than the first. The absolute
error is what the test MAE measures, and is less pulled by the odd surprising
rating than the squared error.

Run it with ``python examples/seed_experiment.py``; MovieLens is read from
``$SKMF_DATA_HOME`` (downloaded there on first use), else synthetic ratings
are used.
"""

# %%
import numpy as np
from _helpers import load_movielens_100k, parse_args
from sklearn.metrics import mean_absolute_error, root_mean_squared_error
from sklearn.model_selection import train_test_split

from skmf import MatrixFactorization

args = parse_args(__doc__)
X, y, _ = load_movielens_100k(download=not args.no_download)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

# %%
# The model: 50 factors, absolute error, step 0.05 decaying by 10% per epoch.
mf = MatrixFactorization(
    n_components=50,
    loss="absolute_error",
    learning_rate=0.05,
    learning_rate_schedule="exponential",
    decay_rate=0.9,
    max_iter=5 if args.quick else 40,
    random_state=0,
)
mf.fit(X_train, y_train)
y_pred = mf.predict(X_test)

# %%
# Test error, next to the best constant prediction for the MAE (the median).
baseline = np.full(len(y_test), np.median(y_train))
print(f"{'':24}{'MAE':>8}{'RMSE':>8}")
for name, pred in [("matrix factorization", y_pred), ("median rating", baseline)]:
    mae = mean_absolute_error(y_test, pred)
    rmse = root_mean_squared_error(y_test, pred)
    print(f"{name:24}{mae:8.4f}{rmse:8.4f}")
last_step = mf.learning_rate * mf.decay_rate ** (mf.n_iter_ - 1)
print(f"\n{mf.n_iter_} epochs; step size of the last one: {last_step:.5f}")
