"""
Predicting ratings of new movies from their genres
==================================================

A movie added to the catalogue after the fit has no ratings, so a matrix
factorization knows nothing of it: :class:`~skmf.MatrixFactorization`
predicts the global mean plus the user's bias, the same for every new movie.
A factorization machine also learns a factor vector for each *attribute* of
a movie. :class:`~skmf.BayesianFactorizationMachine` with
``item_features=["genres", "year"]`` predicts a new movie's ratings from its
genres and year, combined with what it learned of each user's taste for
them.

This example holds out a fifth of MovieLens 100K's movies with all their
ratings (synthetic ratings with made-up genres when MovieLens is absent),
fits both models on the rest, and compares their RMSE on the held-out movies,
and on the known movies for reference. The side tables come from
:func:`~skmf.datasets.fetch_movielens` (``movies`` holds each movie's genres
and year, ``users`` each user's age, gender and occupation).

Run it with ``python examples/plot_cold_start.py [--save DIR]``.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from _helpers import load_movielens_100k_with_genres, parse_args, show_or_save
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from skmf import BayesianFactorizationMachine, MatrixFactorization

args = parse_args(__doc__)
X, y = load_movielens_100k_with_genres(download=not args.no_download)

# A fifth of the movies, with every one of their ratings, are never seen in
# fit: they are the new movies.
split = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=0)
known, new = next(split.split(X, y, groups=X["item"]))
X_train, X_known, y_train, y_known = train_test_split(
    X.iloc[known], y.iloc[known], test_size=0.1, random_state=0
)
X_new, y_new = X.iloc[new], y.iloc[new]
print(f"{X_new['item'].nunique()} new movies with {len(y_new):,} ratings held out")

# %%
# The matrix factorization sees only the (user, movie) pairs; the
# factorization machine also sees each movie's genres and year.
sweeps = {"burn_in": 5, "n_samples": 10} if args.quick else {}
models = {
    "MatrixFactorization": MatrixFactorization(solver="als", random_state=0),
    "FM, genres + year": BayesianFactorizationMachine(
        item_features=["genres", "year"], random_state=0, **sweeps
    ),
}
columns = {"MatrixFactorization": ["user", "item"]}
scores = {}
for name, model in models.items():
    cols = columns.get(name, list(X.columns))
    model.fit(X_train[cols], y_train)
    scores[name] = [
        root_mean_squared_error(y_known, model.predict(X_known[cols])),
        root_mean_squared_error(y_new, model.predict(X_new[cols])),
    ]
    print(
        f"{name:<20} RMSE on known movies {scores[name][0]:.4f}, "
        f"on new movies {scores[name][1]:.4f}"
    )

# %%
# On the known movies the factorization machine is a little better (it is
# also a Bayesian model); on the new ones the genres and the year are all
# there is to go by, and they say much of who will like a movie.
fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
width = 0.38
for k, (name, values) in enumerate(scores.items()):
    bars = ax.bar(np.arange(2) + (k - 0.5) * width, values, width, label=name)
    ax.bar_label(bars, fmt="%.3f", fontsize="small")
ax.set_xticks(np.arange(2), ["known movies", "new movies (cold start)"])
ax.set_ylabel("test RMSE (lower is better)")
ax.set_ylim(0.8, max(max(v) for v in scores.values()) + 0.08)
ax.legend(loc="upper left")
show_or_save({"cold_start": fig}, args.save)
