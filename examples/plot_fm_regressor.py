"""
A factorization machine in a scikit-learn pipeline
==================================================

:class:`~skmf.FactorizationMachineRegressor` is an ordinary scikit-learn
regressor over any numeric X, dense or sparse. Each column is a feature with
a bias and a factor vector, and every pair of features interacts through the
inner product of their factors. Here X is the one-hot code of a rating's user
and movie, made by a :class:`~sklearn.compose.ColumnTransformer`: on those
two features a factorization machine is biased matrix factorization, and a
linear model on the same columns (:class:`~sklearn.linear_model.Ridge`) is
the biases alone, the user's and the movie's offsets without any taste.

The example fits both on 80% of MovieLens 100K (synthetic ratings when it is
absent) and plots the test RMSE of the factorization machine against its
number of factors, with the linear baseline and the Bayesian model
(``solver="gibbs"``). On MovieLens every rank beats the biases alone; with
one fixed penalty (``alpha=10``) the ALS fit is best near 4 factors and
overfits beyond, which a grid search over ``alpha`` would correct, while the
Bayesian model, which learns its priors and averages its samples, needs no
penalty and is the most accurate.

Run it with ``python examples/plot_fm_regressor.py [--save DIR]``.
"""

# %%
import matplotlib.pyplot as plt
from _helpers import load_movielens_100k, parse_args, show_or_save
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from skmf import FactorizationMachineRegressor

args = parse_args(__doc__)
X, y, _ = load_movielens_100k(download=not args.no_download)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
# A user or movie first seen at test time has no column: it adds nothing.
one_hot = ColumnTransformer(
    [("ids", OneHotEncoder(handle_unknown="ignore"), ["user", "item"])]
)


def test_rmse(regressor):
    model = make_pipeline(one_hot, regressor).fit(X_train, y_train)
    return root_mean_squared_error(y_test, model.predict(X_test))


# %%
# The linear baseline, then the factorization machine for several ranks.
linear = test_rmse(Ridge(alpha=10.0))
print(f"Ridge on the one-hot ids (biases only): test RMSE {linear:.4f}")
ranks = [1, 4] if args.quick else [1, 2, 4, 8, 16]
als = []
for rank in ranks:
    fm = FactorizationMachineRegressor(
        n_components=rank, alpha=10.0, max_iter=5 if args.quick else 50, random_state=0
    )
    als.append(test_rmse(fm))
    print(f"n_components={rank:<2} (solver='als'): test RMSE {als[-1]:.4f}")
gibbs = test_rmse(
    FactorizationMachineRegressor(
        n_components=8,
        solver="gibbs",
        n_samples=10 if args.quick else 100,
        burn_in=5 if args.quick else 20,
        random_state=0,
    )
)
print(f"Bayesian (solver='gibbs', n_components=8): test RMSE {gibbs:.4f}")

# %%
fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
ax.plot(ranks, als, "o-", label="solver='als', alpha=10")
ax.axhline(gibbs, color="C2", linestyle="--", label="solver='gibbs', 8 factors")
ax.axhline(linear, color="C1", linestyle=":", label="Ridge (biases only)")
ax.set_xscale("log", base=2)
ax.set_xticks(ranks, [str(rank) for rank in ranks])
ax.set_xlabel("n_components")
ax.set_ylabel("test RMSE (lower is better)")
ax.set_title("FactorizationMachineRegressor on one-hot (user, movie)")
ax.legend()
show_or_save({"fm_regressor": fig}, args.save)
