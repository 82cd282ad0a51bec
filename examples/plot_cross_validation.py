"""
Cross-validation on a file sorted by user: shuffle
==================================================

Many rating files list each user's ratings together: MovieLens 1M's
``ratings.dat`` and ml-latest-small's ``ratings.csv`` are sorted by user.
``cv=5`` in :func:`~sklearn.model_selection.cross_val_score` or
:class:`~sklearn.model_selection.GridSearchCV` means
``KFold(5)`` *without shuffling*: on such a file each test fold is a block of
whole users who have no rating in its training part. Every test prediction is
then a cold-start one (the global mean plus the item's bias), and the score
measures that fallback, not the model.

``KFold(5, shuffle=True, random_state=0)`` mixes every user's ratings into all
five folds, which is what a test of rating prediction needs. This example
sorts MovieLens 100K by user (its ``u.data`` is in random order) and
cross-validates the same model both ways.

Run it with ``python examples/plot_cross_validation.py [--save DIR]``.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from _helpers import load_movielens_100k, parse_args, show_or_save
from sklearn.model_selection import KFold, cross_val_score

from skmf import MatrixFactorization

args = parse_args(__doc__)
X, y, _ = load_movielens_100k(download=not args.no_download)

# %%
# The same ratings, listed user by user as in many rating files.
order = np.argsort(X["user"].to_numpy(), kind="stable")
X_sorted = X.iloc[order].reset_index(drop=True)
y_sorted = y.iloc[order].reset_index(drop=True)

# %%
# Five-fold cross-validated RMSE, without and with shuffling. In the
# unshuffled folds, count the test users that the training part has never
# seen.
model = MatrixFactorization(max_iter=5 if args.quick else 40, random_state=0)
splitters = {
    "cv=5 (KFold(5), no shuffling)": KFold(5),
    "KFold(5, shuffle=True, random_state=0)": KFold(5, shuffle=True, random_state=0),
}
rmse = {}
for name, cv in splitters.items():
    # skmf warns when most pairs to predict have users it has never seen:
    # record the warnings to show them instead of letting them scroll by.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = cross_val_score(
            model, X_sorted, y_sorted, cv=cv, scoring="neg_root_mean_squared_error"
        )
    rmse[name] = -scores
    print(f"{name:40} RMSE per fold {np.round(-scores, 3)}, mean {-scores.mean():.4f}")
    cold = [w for w in caught if "not seen in fit" in str(w.message)]
    if cold:
        print(f"  {len(cold)} folds warned: {str(cold[0].message)[:150]}...")

users = X_sorted["user"].to_numpy()
unseen = [
    np.isin(users[test], users[train], invert=True).mean()
    for train, test in KFold(5).split(X_sorted)
]
print("\nWithout shuffling, share of each test fold's ratings by users unseen in fit:")
print(np.round(unseen, 2))

# %%
# The two scores fold by fold.
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
folds = np.arange(1, 6)
for offset, (name, values) in zip((-0.2, 0.2), rmse.items(), strict=True):
    bars = ax.bar(folds + offset, values, width=0.4, label=name)
    ax.bar_label(bars, fmt="%.2f", fontsize="small")
ax.set_xticks(folds, [f"fold {k}" for k in folds])
ax.set_ylabel("test RMSE (lower is better)")
ax.set_title("The same model, cross-validated on ratings sorted by user")
fig.legend(loc="outside lower center", ncols=2, fontsize="small")
show_or_save({"cross_validation": fig}, args.save)
