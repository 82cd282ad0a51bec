"""
A map of the movies by their factors
====================================

Each movie's factor vector says how it is rated by each kind of user, so
movies close in factor space are liked by the same people. Here ALS learns
20 factors per movie of MovieLens 100K; the map shows them projected on
their first two principal components, with the 20 most rated movies named,
drawn by :class:`skmf.plot.ItemMapDisplay`. The movies at the two ends of
the first axis show what it separates.

A model with ``n_components=2`` can be drawn as it is instead, with
``ItemMapDisplay.from_estimator(mf, projection="factors")``, at a cost in
accuracy.

Run it with ``python examples/plot_item_map.py [--save DIR]``.
"""

# %%
import numpy as np
from _helpers import load_movielens_100k, parse_args, show_or_save

from skmf import MatrixFactorization
from skmf.plot import ItemMapDisplay

args = parse_args(__doc__)
X, y, titles = load_movielens_100k(download=not args.no_download)
mf = MatrixFactorization(
    n_components=20, solver="als", max_iter=3 if args.quick else 15, random_state=0
)
mf.fit(X, y)

# %%
display = ItemMapDisplay.from_estimator(mf, labels=titles, n_labels=20)
display.figure_.set_size_inches(10, 8)
display.ax_.set_title("MovieLens 100K: ALS item factors, 20 most rated movies")

# %%
# The ends of the first axis, among movies with at least 50 ratings (the
# factors of rarely rated movies are mostly noise and regularization).
n_ratings = X["item"].value_counts().reindex(mf.items_, fill_value=0).to_numpy()
first_axis = display.scatter_.get_offsets()[:, 0]
often = np.flatnonzero(n_ratings >= 50)
order = often[np.argsort(first_axis[often])]
for side, rows in [("low", order[:6]), ("high", order[::-1][:6])]:
    print(f"{side} end of the first axis:")
    for row in rows:
        print(f"  {first_axis[row]:6.2f}  {titles.get(mf.items_[row])}")
show_or_save({"item_map": display.figure_}, args.save)
