"""Tests of BayesianFactorizationMachine and its relation-block Gibbs kernel."""

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from skmf._solvers._fm_fast import draw_block

from skmf import BayesianFactorizationMachine, FactorizationMachine
from skmf._solvers.fm_gibbs import Block, FMParameters, predict_blocks

from .reference import fm_predict, materialize

# ----------------------------------------------------------------------
# Plain NumPy references over the materialized feature matrix.


def _reference_draws(X, y, w0, w, V, offset, n_features, groups, f, linear, prior,
                     alpha, noise):  # fmt: skip
    """Coordinate-wise Gibbs draws of one block, feature by feature, from the
    full residuals recomputed before each draw (libFM's rule, materialized)."""
    w, V = w.copy(), V.copy()
    mean, precision = prior
    for local in range(n_features):
        j = offset + local
        g = groups[local]
        e = y - fm_predict(X, w0, w, V)
        x = X[:, j].toarray().ravel()
        if linear:
            h, old = x, w[j]
        else:
            h, old = x * (X @ V[:, f] - V[j, f] * x), V[j, f]
        lam = precision[g] + alpha * (h @ h)
        new = (precision[g] * mean[g] + alpha * (e @ h + old * (h @ h))) / lam
        new += noise[local] / np.sqrt(lam)
        if linear:
            w[j] = new
        else:
            V[j, f] = new
    return w, V


def _random_blocks(seed=0, n_ratings=150, n_users=12, n_items=9):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n_ratings)
    items = rng.integers(0, n_items, n_ratings)

    def matrix(n, p):
        # Rows share features (as genres do), and every row has one.
        return sp.random(n, p, density=0.4, random_state=seed) + sp.eye(n, p)

    return rng, [
        Block(matrix(n_users, 6), users, [0, 0, 0, 1, 1, 1]),
        Block(matrix(n_items, 5), items, [2] * 5),
        Block(matrix(n_ratings, 4), np.arange(n_ratings), [3] * 4),
    ]


def test_predict_blocks_matches_materialized():
    rng, blocks = _random_blocks()
    params = FMParameters(
        0.3,
        [rng.normal(size=b.n_features) for b in blocks],
        [rng.normal(size=(b.n_features, 3)) for b in blocks],
    )
    X = materialize(blocks)
    expected = fm_predict(
        X, 0.3, np.concatenate(params.biases), np.concatenate(params.factors)
    )
    np.testing.assert_allclose(predict_blocks(blocks, params), expected, atol=1e-12)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("linear", [True, False])
@pytest.mark.parametrize("k", [0, 1, 2])
def test_draw_block_matches_reference(k, linear, n_threads):
    """The relation-block draws (per-row sums) equal the materialized ones, and
    the residuals and sums they leave equal those of the new parameters."""
    rng, blocks = _random_blocks()
    assert blocks[2].identity and not blocks[0].identity
    K, f = 3, 1
    w = [rng.normal(size=b.n_features) for b in blocks]
    V = [rng.normal(size=(b.n_features, K)) for b in blocks]
    X = materialize(blocks)
    y = rng.normal(size=X.shape[0])
    w_all, V_all = np.concatenate(w), np.concatenate(V)
    prior = (rng.normal(size=4), rng.uniform(1, 3, size=4))
    alpha = 1.7
    block = blocks[k]
    noise = rng.normal(size=block.n_features)
    offset = sum(b.n_features for b in blocks[:k])

    ref_w, ref_V = _reference_draws(
        X, y, 0.1, w_all, V_all, offset, block.n_features, block.groups, f,
        linear, prior, alpha, noise,
    )  # fmt: skip

    e = y - fm_predict(X, 0.1, w_all, V_all)
    q = np.asarray(X @ V_all[:, f]).ravel()
    theta = (w[k] if linear else V[k][:, f]).copy()
    draw_block(
        block.indptr, block.order, *block.csr, *block.csc, block.groups, theta,
        linear, *prior, alpha, noise, q, e, n_threads, block.identity,
    )  # fmt: skip
    expected = ref_w if linear else ref_V[:, f]
    np.testing.assert_allclose(theta, expected[offset : offset + len(theta)])
    np.testing.assert_allclose(e, y - fm_predict(X, 0.1, ref_w, ref_V), atol=1e-10)
    if not linear:
        np.testing.assert_allclose(q, X @ ref_V[:, f], atol=1e-10)


def test_relation_blocks_match_materialized_context_path():
    """A user block drawn as a relation block and the same features drawn as a
    per-rating (context) block give the same draws."""
    rng, blocks = _random_blocks(seed=3)
    user = blocks[0]
    as_context = Block(user.matrix()[user.rows], np.arange(len(user.rows)),
                       user.groups)  # fmt: skip
    theta = rng.normal(size=user.n_features)
    y = rng.normal(size=len(user.rows))
    results = []
    for block in (user, as_context):
        X = block.matrix()[block.rows]
        V = np.column_stack([theta, np.zeros_like(theta)])
        e = y - fm_predict(X, 0.0, np.zeros_like(theta), V)
        q = np.asarray(X @ theta).ravel()
        out = theta.copy()
        draw_block(
            block.indptr, block.order, *block.csr, *block.csc, block.groups,
            out, False, np.zeros(2), np.ones(2), 2.0, np.zeros(len(theta)), q, e,
            1, block.identity,
        )  # fmt: skip
        results.append(out)
    np.testing.assert_allclose(results[0], results[1])


# ----------------------------------------------------------------------
# The estimator.


def _table(seed=0, n_users=40, n_items=30, n_ratings=700):
    """Ratings driven by the item's genre and the user's group."""
    rng = np.random.default_rng(seed)
    genres = np.array(["Action", "Comedy", "Drama"])[rng.integers(0, 3, n_items)]
    effect = {"Action": 1.0, "Comedy": -1.0, "Drama": 0.0}
    group = np.array(["x", "y"])[rng.integers(0, 2, n_users)]
    pairs = np.unique(
        np.column_stack(
            [rng.integers(0, n_users, n_ratings), rng.integers(0, n_items, n_ratings)]
        ),
        axis=0,
    )
    users, items = pairs[:, 0], pairs[:, 1]
    y = 3 + np.vectorize(effect.get)(genres[items]) + 0.3 * (group[users] == "x")
    y = y + rng.normal(scale=0.2, size=y.shape)
    X = pd.DataFrame(
        {
            "user": users,
            "item": items,
            "group": group[users],
            "genre": genres[items],
            "hour": rng.integers(0, 24, len(users)).astype(str),
        }
    )
    return X, np.clip(y, 1, 5)


def _model(**params):
    defaults = dict(n_components=3, n_samples=15, burn_in=5, random_state=0)
    return BayesianFactorizationMachine(**{**defaults, **params})


def test_ids_only_learns_and_is_finite():
    X, y = _table()
    fm = _model().fit(X[["user", "item"]], y)
    pred = fm.predict(X[["user", "item"]])
    assert np.all(np.isfinite(pred))
    assert np.sqrt(np.mean((pred - y) ** 2)) < 0.6 * np.std(y)
    assert fm.groups_ == ["user id", "item id"]
    assert fm.n_iter_ == 20 and len(fm.loss_curve_) == 20


def test_known_pairs_predict_like_the_recommender_factors():
    """user_factors_ / item_factors_ / biases reproduce predict on known pairs,
    so recommend and similar_items rank by the posterior average."""
    X, y = _table()
    fm = _model(implicit_feedback="both", user_features=["group"],
                item_features=["genre"]).fit(X.drop(columns="hour"), y)  # fmt: skip
    Xp = X.drop(columns="hour")
    users = fm._user_index.get_indexer(Xp["user"]).astype(np.int32)
    items = fm._item_index.get_indexer(Xp["item"]).astype(np.int32)
    via_factors = fm._predict_indices(fm._fitted_model(), users, items)
    np.testing.assert_allclose(fm.predict(Xp), via_factors, atol=1e-8)
    assert len(fm.recommend(X["user"].iloc[0], n=3)[0]) == 3
    assert len(fm.similar_items(X["item"].iloc[0], n=2)[0]) == 2
    # The kept samples' priors are not stored: no fold-in, and a clear reason.
    assert not hasattr(fm, "fold_in")
    with pytest.raises(AttributeError, match="predict_for_ratings") as error:
        fm.predict_for_ratings([X["item"].iloc[0]], [4.0], [X["item"].iloc[1]])
    assert "cannot fold in" in str(error.value.__cause__)


def test_cold_start_items_are_predicted_from_their_attributes():
    X, y = _table()
    fm = _model(item_features=["genre"], n_samples=30).fit(
        X[["user", "item", "genre"]], y
    )
    new = pd.DataFrame(
        {
            "user": [0, 0, 0],
            "item": [999, 999, 999],
            "genre": ["Action", "Comedy", "Drama"],
        }  # fmt: skip
    )
    action, comedy, drama = fm.predict(new)
    assert np.all(np.isfinite([action, comedy, drama]))
    # The genre effects were +1, -1 and 0.
    assert action > drama + 0.5 > comedy + 1.0


def test_histories_come_from_training_pairs_only():
    """Predictions of a row do not depend on the other rows given to predict:
    the pairs to predict never enter the histories."""
    X, y = _table()
    train, test = X.iloc[:500], X.iloc[500:]
    fm = _model(implicit_feedback="both", context_features=["hour"],
                user_features=["group"], item_features=["genre"])  # fmt: skip
    fm.fit(train, y[:500])
    history = fm._history["user"]
    assert history.nnz == len(train)
    together = fm.predict(test)
    alone = np.concatenate([fm.predict(test.iloc[[i]]) for i in range(len(test))])
    np.testing.assert_allclose(together, alone, atol=1e-10)
    # Fitting again after predicting leaves the same model.
    again = clone(fm).fit(train, y[:500])
    np.testing.assert_array_equal(again.predict(test), together)


def test_context_and_implicit_change_the_model():
    X, y = _table()
    base = _model(context_features=["hour"], user_features=["group"],
                  item_features=["genre"])  # fmt: skip
    plain = clone(base).fit(X, y).predict(X)
    implicit = clone(base).set_params(implicit_feedback="user").fit(X, y).predict(X)
    assert not np.allclose(plain, implicit)


def test_threads_do_not_change_the_fit():
    X, y = _table()
    params = dict(implicit_feedback="both", item_features=["genre"],
                  user_features=["group"], context_features=["hour"])  # fmt: skip
    one = _model(n_jobs=1, **params).fit(X, y).predict(X)
    two = _model(n_jobs=2, **params).fit(X, y).predict(X)
    np.testing.assert_allclose(one, two, rtol=1e-10, atol=1e-10)


def test_clone_pickle_and_grid_search_over_feature_groups():
    X, y = _table()
    X = X[["user", "item", "genre"]]
    fm = _model(item_features=["genre"]).fit(X, y)
    restored = pickle.loads(pickle.dumps(fm))
    np.testing.assert_array_equal(restored.predict(X), fm.predict(X))
    grid = GridSearchCV(
        _model(),
        {"implicit_feedback": ["none", "user"], "n_components": [2, 3]},
        cv=KFold(2, shuffle=True, random_state=0),
    )
    grid.fit(X.drop(columns="genre"), y)
    assert set(grid.best_params_) == {"implicit_feedback", "n_components"}


@pytest.mark.parametrize(
    "params, columns, message",
    [
        ({"item_features": ["genres"]}, ["user", "item", "genre"], "not a column"),
        ({}, ["user", "item", "genre"], "has no role"),
        (
            {"item_features": ["genre"], "user_features": ["genre"]},
            ["user", "item", "genre"],
            "both",
        ),  # fmt: skip
        ({"item_features": ["item"]}, ["user", "item"], "id column"),
    ],
)
def test_bad_column_roles_are_clear_errors(params, columns, message):
    X, y = _table()
    with pytest.raises(ValueError, match=message):
        _model(**params).fit(X[columns], y)


def test_missing_attribute_is_a_clear_error():
    X, y = _table()
    X = X[["user", "item", "genre"]].copy()
    X.loc[3, "genre"] = None
    with pytest.raises(ValueError, match="'genre' of X has a missing value"):
        _model(item_features=["genre"]).fit(X, y)
    fm = _model(item_features=["genre"]).fit(X.drop(index=3), np.delete(y, 3))
    with pytest.raises(ValueError, match="missing value"):
        fm.predict(X)


def test_mismatched_columns_between_fit_and_predict():
    X, y = _table()
    fm = _model(item_features=["genre"]).fit(X[["user", "item", "genre"]], y)
    with pytest.raises(ValueError, match="feature names|features"):
        fm.predict(X[["user", "item", "group"]])
    with pytest.raises(ValueError):
        fm.predict(X[["user", "item"]])


def test_inconsistent_user_attributes_are_an_error():
    X, y = _table()
    X = X[["user", "item", "group"]].copy()
    first = X.index[X["user"] == X["user"].iloc[0]]
    X.loc[first[:1], "group"] = "z"
    if len(first) < 2:
        pytest.skip("the first user has one rating")
    with pytest.raises(ValueError, match="different values of 'group'"):
        _model(user_features=["group"]).fit(X, y)


def test_a_weight_of_two_is_a_repeated_rating():
    """Weights scale each rating's terms in the sampler: weight 2 draws the
    same chain as the rating given twice (the draws do not depend on the
    number of ratings)."""
    X, y = _table()
    X = X[["user", "item", "group", "genre"]]
    params = dict(user_features=["group"], item_features=["genre"])
    twice = np.arange(len(y)) % 3 == 0
    weights = np.where(twice, 2.0, 1.0)
    weighted = _model(**params).fit(X, y, sample_weight=weights)
    rows = np.concatenate([np.arange(len(y)), np.flatnonzero(twice)])
    repeated = _model(**params).fit(X.iloc[rows], y[rows])
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), atol=1e-8)
    unweighted = _model(**params).fit(X, y)
    assert np.abs(weighted.predict(X) - unweighted.predict(X)).max() > 1e-3


def test_bad_weights_are_refused_clearly():
    X, y = _table()
    with pytest.raises(ValueError, match="sample_weight"):
        _model().fit(X[["user", "item"]], y, sample_weight=-np.ones(len(y)))


def test_multi_valued_column():
    X, y = _table()
    X = X[["user", "item", "genre"]].copy()
    X.loc[X["item"] < 5, "genre"] = "Action|Comedy"
    fm = _model(item_features=["genre"]).fit(X, y)
    coder = dict(fm._coders["item"])["genre"]
    assert list(coder.categories) == ["Action", "Comedy", "Drama"]
    assert np.all(np.isfinite(fm.predict(X)))


def test_movielens_fold_with_implicit_feedback(ml100k_folds):
    """On a real fold, implicit feedback improves on the ids alone."""
    train, test = ml100k_folds[0]
    scores = {}
    for implicit in ("none", "both"):
        fm = BayesianFactorizationMachine(
            implicit_feedback=implicit, n_samples=40, burn_in=10, random_state=0
        ).fit(train[["user", "item"]], train["rating"])
        error = fm.predict(test[["user", "item"]]) - test["rating"]
        scores[implicit] = float(np.sqrt(np.mean(error**2)))
    assert scores["both"] < scores["none"] - 0.005
    assert scores["both"] < 0.91


def test_histories_leave_the_training_ratings_in_their_order():
    """The seen matrix shares its index array with the training ratings: the
    implicit-feedback matrices must not sort it in place (that scrambled which
    item each rating was of, and cost 0.1 RMSE on MovieLens)."""
    from skmf._fm import _normalized_history
    from skmf._recommend import seen_matrix

    items = np.array([3, 1, 2, 0, 2, 1], dtype=np.int32)
    indptr = np.array([0, 3, 6], dtype=np.int64)
    before = items.copy()
    seen = seen_matrix(indptr, items, 4)
    history = _normalized_history(seen)
    Block(history, np.array([0, 1], dtype=np.int32), np.zeros(4, np.int32))
    np.testing.assert_array_equal(items, before)
    np.testing.assert_allclose(history.toarray().sum(axis=1), [3 / np.sqrt(3)] * 2)


def test_predict_blocks_in_chunks_matches_one_pass(monkeypatch):
    """Chunked (bounded scratch for 10M ratings), the same predictions."""
    import skmf._solvers.fm_gibbs as fm_gibbs

    rng = np.random.default_rng(3)
    n_ratings, n_users = 500, 20
    users = rng.integers(0, n_users, n_ratings)
    blocks = [
        Block(sp.random(n_users, 6, density=0.5, random_state=1), users, np.zeros(6)),
        Block(sp.random(n_ratings, 4, density=0.5, random_state=2),
              np.arange(n_ratings), np.zeros(4)),
    ]  # fmt: skip
    params = FMParameters(
        bias=0.3,
        biases=[rng.normal(size=6), rng.normal(size=4)],
        factors=[rng.normal(size=(6, 3)), rng.normal(size=(4, 3))],
    )
    whole = predict_blocks(blocks, params)
    monkeypatch.setattr(fm_gibbs, "_PREDICT_CHUNK", 37)
    np.testing.assert_allclose(predict_blocks(blocks, params), whole, rtol=1e-13)


def test_fitted_factors_are_the_same_in_groups_of_ids(monkeypatch):
    """user_factors_ and the biases of the least-squares machine are built in
    bounded groups of ids."""
    import skmf._fm as fm_module

    X, y = _table()
    params = dict(user_features=["group"], item_features=["genre"],
                  implicit_feedback="both", n_components=3, random_state=0)  # fmt: skip
    columns = ["user", "item", "group", "genre"]
    whole = FactorizationMachine(**params).fit(X[columns], y)
    monkeypatch.setattr(fm_module, "_PREDICT_NUMBERS", 7 * 3)
    grouped = FactorizationMachine(**params).fit(X[columns], y)
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        np.testing.assert_allclose(
            getattr(grouped, name), getattr(whole, name), rtol=1e-12, atol=1e-14
        )


@pytest.mark.parametrize("noise", ["both", "shared"])
def test_the_samplers_fitted_parts_are_those_of_the_kept_samples(noise):
    """The Bayesian machine keeps each sample's user and item parts from the
    sweep's own row sums; they equal the parts computed afterwards from the
    kept samples (the least-squares machines' way)."""
    from skmf._fm import _BaseFactorizationMachine

    X, y = _table()
    fm = _model(
        user_features=["group"], item_features=["genre"], context_features=["hour"],
        implicit_feedback="both", noise=noise,
    ).fit(X, y)  # fmt: skip
    sides = _BaseFactorizationMachine._side_parts(fm)
    np.testing.assert_allclose(fm.user_factors_, sides["user"][0], atol=1e-10)
    np.testing.assert_allclose(fm.item_factors_, sides["item"][0], atol=1e-10)
    np.testing.assert_allclose(fm.user_bias_, sides["user"][1], atol=1e-10)
    np.testing.assert_allclose(
        fm.item_bias_, sides["item"][1] + fm.bias_samples_.mean(), atol=1e-10
    )
