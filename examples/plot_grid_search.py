"""
Grid search over K, alpha and the learning rate
===============================================

Three-fold cross-validated grid search of SGD matrix factorization on
MovieLens 100K over the number of factors ``n_components`` (K), the
regularization ``alpha`` (lambda) and the initial ``learning_rate``, scored
by RMSE. The scores are drawn as one heat map of alpha by learning rate per
value of K, on one color scale, with
:class:`skmf.plot.GridSearchHeatmapDisplay`; the best cell of each is
outlined.

The 27 combinations take three fits each, on shuffled folds.
``GridSearchCV(n_jobs=-1)`` runs them in parallel, and each fit then uses its
share of the cores; :doc:`/scaling` runs the same kind of search on a Dask
cluster.

Run it with ``python examples/plot_grid_search.py [--save DIR]``.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from _helpers import load_movielens_100k, parse_args, show_or_save
from sklearn.model_selection import GridSearchCV, KFold

from skmf import MatrixFactorization
from skmf.plot import GridSearchHeatmapDisplay

args = parse_args(__doc__)
X, y, _ = load_movielens_100k(download=not args.no_download)

# %%
# The search, on shuffled folds (``cv=3`` would cut the file into blocks,
# which on a file sorted by user tests unseen users only). A step size too
# large for some combination would diverge: ``error_score=nan`` records it as
# a blank cell instead of stopping the search.
grid = {
    "n_components": [10, 50, 100],
    "alpha": [0.05, 0.1, 0.2],
    "learning_rate": [0.01, 0.02, 0.04],
}
max_iter = 40
if args.quick:
    grid = {"n_components": [2, 5], "alpha": [0.05, 0.1], "learning_rate": [0.01]}
    max_iter = 3
search = GridSearchCV(
    MatrixFactorization(max_iter=max_iter, random_state=0),
    grid,
    scoring="neg_root_mean_squared_error",
    cv=KFold(3, shuffle=True, random_state=0),
    n_jobs=None if args.quick else -1,  # processes take a second to start
    error_score=np.nan,
)
search.fit(X, y)

# %%
# Every combination, best first.
results = pd.DataFrame(search.cv_results_)
results["RMSE"] = -results["mean_test_score"]
columns = [f"param_{name}" for name in grid] + ["RMSE", "std_test_score"]
table = results.sort_values("rank_test_score")[columns]
table.columns = [*grid, "RMSE", "std"]
print(table.to_string(index=False, float_format="%.4f"))
print(f"\nBest: {search.best_params_}, RMSE {-search.best_score_:.4f}")

# %%
# One heat map per K, all on the color scale of the whole search.
limits = {"vmin": results["RMSE"].min(), "vmax": results["RMSE"].max()}
n_k = len(grid["n_components"])
fig, axes = plt.subplots(
    1, n_k, figsize=(4.5 * n_k, 4), layout="constrained", sharey=True
)
for ax, k in zip(axes, grid["n_components"], strict=True):
    GridSearchHeatmapDisplay.from_search(
        search,
        x="alpha",
        y="learning_rate",
        fixed={"n_components": k},
        ax=ax,
        imshow_kw=limits,
        values_format=".4f",
        colorbar=ax is axes[-1],
    )
fig.suptitle("Cross-validated RMSE on MovieLens 100K (lower is better)")
show_or_save({"grid_search": fig}, args.save)
