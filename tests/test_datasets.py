"""make_ratings: shapes, distinct pairs, the heavy tails, the truth, the samplers."""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from skmf import MatrixFactorization
from skmf.datasets import _synthetic, make_ratings

# (n_users, n_items, n_ratings) reaching each sampler: the exhaustive one
# (dense), the Poisson one (sparse), and the full table.
SIZES = {
    "dense": (50, 40, 1500),
    "sparse": (3000, 2000, 20_000),
    "full": (30, 20, 600),
}


def keys_of(X, n_items):
    return X[:, 0].astype(np.int64) * n_items + X[:, 1]


def truth_of(truth, X):
    u, i = X[:, 0], X[:, 1]
    interaction = np.einsum("ij,ij->i", truth.user_factors[u], truth.item_factors[i])
    return truth.intercept + truth.user_bias[u] + truth.item_bias[i] + interaction


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_shapes_dtypes_and_distinct_pairs(size):
    n_users, n_items, n_ratings = size
    X, y = make_ratings(n_users, n_items, n_ratings, random_state=0)
    assert X.shape == (n_ratings, 2) and y.shape == (n_ratings,)
    assert X.dtype == np.int32 and y.dtype == np.float32
    assert X.flags.c_contiguous
    assert 0 <= X[:, 0].min() and X[:, 0].max() < n_users
    assert 0 <= X[:, 1].min() and X[:, 1].max() < n_items
    assert np.unique(keys_of(X, n_items)).size == n_ratings


def test_rows_are_in_random_order():
    X, _ = make_ratings(random_state=0)
    keys = keys_of(X, 500)
    assert not np.all(np.diff(keys) > 0)
    # The first and second halves hold users alike, not low and high ids.
    half = X.shape[0] // 2
    assert abs(X[:half, 0].mean() - X[half:, 0].mean()) < 20


def test_reproducible_with_random_state():
    X1, y1 = make_ratings(random_state=42)
    X2, y2 = make_ratings(random_state=np.random.RandomState(42))
    X3, y3 = make_ratings(random_state=43)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("scale", [(1, 5), (0, 10), (-3, 3)])
def test_discrete_ratings_are_integers_in_the_scale(scale):
    _, y = make_ratings(rating_scale=scale, random_state=0)
    assert y.min() >= scale[0] and y.max() <= scale[1]
    np.testing.assert_array_equal(y, np.round(y))
    # Clipping puts mass at both ends, and every star in between is used.
    assert set(np.unique(y)) == set(range(scale[0], scale[1] + 1))


def test_continuous_ratings_are_in_the_scale():
    _, y = make_ratings(rating_scale=(0.5, 5.0), discrete=False, random_state=0)
    assert y.min() >= 0.5 and y.max() <= 5.0
    assert np.unique(y).size > y.size // 2


def test_heavy_tailed_activity_and_popularity():
    n_users, n_items = 2000, 1000
    X, _ = make_ratings(n_users, n_items, 50_000, random_state=0)
    per_user = np.bincount(X[:, 0], minlength=n_users)
    per_item = np.bincount(X[:, 1], minlength=n_items)
    assert per_user.max() > 10 * np.median(per_user)
    assert per_item.max() > 10 * np.median(per_item)
    # The popular ids are spread over the id range, not the smallest ones.
    top = np.argsort(per_user)[-100:]
    assert 0.3 * n_users < top.mean() < 0.7 * n_users


def test_zero_exponents_give_even_activity():
    n_users, n_items = 2000, 1000
    X, _ = make_ratings(
        n_users,
        n_items,
        50_000,
        activity_exponent=0,
        popularity_exponent=0,
        random_state=0,
    )
    per_user = np.bincount(X[:, 0], minlength=n_users)
    per_item = np.bincount(X[:, 1], minlength=n_items)
    assert per_user.max() < 2.5 * np.median(per_user)
    assert per_item.max() < 2 * np.median(per_item)


def test_steeper_exponent_concentrates_activity():
    def top_share(exponent):
        X, _ = make_ratings(activity_exponent=exponent, random_state=0)
        counts = np.sort(np.bincount(X[:, 0]))[::-1]
        return counts[:10].sum() / counts.sum()

    assert top_share(0.5) < top_share(0.8) < top_share(1.2)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_return_factors_is_the_noiseless_model(size):
    n_users, n_items, n_ratings = size
    X, y, truth = make_ratings(
        n_users,
        n_items,
        n_ratings,
        n_components=4,
        noise=0,
        discrete=False,
        rating_scale=(-50, 50),
        return_factors=True,
        random_state=0,
    )
    assert truth.user_factors.shape == (n_users, 4)
    assert truth.item_factors.shape == (n_items, 4)
    assert truth.user_bias.shape == (n_users,)
    assert truth.item_bias.shape == (n_items,)
    assert truth.intercept == 0.0
    np.testing.assert_allclose(y, truth_of(truth, X), rtol=1e-6, atol=1e-5)


def test_factor_scales():
    _, _, truth = make_ratings(
        5000, 5000, 1000, n_components=16, return_factors=True, random_state=0
    )
    interaction = np.einsum("ij,ij->i", truth.user_factors, truth.item_factors)
    assert abs(interaction.std() - 1) < 0.1
    assert abs(truth.user_bias.std() - 0.5) < 0.05
    assert truth.intercept == 3.0


def test_noise_is_the_residual_of_the_truth():
    X, y, truth = make_ratings(
        noise=0.7,
        discrete=False,
        rating_scale=(-50, 50),
        return_factors=True,
        random_state=0,
    )
    residual = y - truth_of(truth, X)
    assert abs(residual.std() - 0.7) < 0.02
    assert abs(residual.mean()) < 0.02


def test_als_recovers_the_generated_model():
    X, y, truth = make_ratings(
        400,
        200,
        20_000,
        n_components=5,
        noise=0.5,
        discrete=False,
        rating_scale=(-20, 20),
        return_factors=True,
        random_state=0,
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=0
    )
    mf = MatrixFactorization(
        n_components=5, solver="als", alpha=0.05, max_iter=15, random_state=0
    )
    mf.fit(X_train, y_train)
    error = mf.predict(X_test) - y_test
    rmse = np.sqrt(np.mean(error**2))
    mean_rmse = np.sqrt(np.mean((y_test - y_train.mean()) ** 2))
    assert rmse < 0.5 * mean_rmse
    assert rmse < 1.3 * 0.5  # near the noise level
    # The predictions are close to the noiseless truth.
    assert np.sqrt(np.mean((mf.predict(X_test) - truth_of(truth, X_test)) ** 2)) < 0.4


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_users=10, n_items=10, n_ratings=101), "exceeds the number of distinct"),
        (dict(rating_scale=(5, 1)), "lowest < highest"),
        (dict(rating_scale=(1, 1)), "lowest < highest"),
        (dict(rating_scale=(1, float("inf"))), "finite"),
        (dict(rating_scale=("a", "b")), "pair of numbers"),
        (dict(rating_scale=(1, 2, 3)), "pair of numbers"),
        (dict(rating_scale=(0.5, 5)), "two integers"),
        (dict(noise=-1), "'noise' parameter"),
        (dict(n_ratings=0), "'n_ratings' parameter"),
        (dict(activity_exponent=-0.5), "'activity_exponent' parameter"),
        (dict(n_components=0), "'n_components' parameter"),
    ],
)
def test_invalid_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        make_ratings(**params)


def test_the_samplers_agree_with_successive_sampling():
    """Both samplers, and the Poisson one with a top-up round, draw pairs with
    the probabilities of successive sampling (draw with replacement, keep each
    new pair) simulated naively."""
    n_users, n_items, n = 12, 10, 60
    rng = np.random.default_rng(0)
    log_p_user = _synthetic._log_weights(n_users, 1.0, rng)
    log_p_item = _synthetic._log_weights(n_items, 0.6, rng)
    p_user, p_item = np.exp(log_p_user), np.exp(log_p_item)
    groups = _synthetic._groups(p_user), _synthetic._groups(p_item)
    n_repeats = 400

    def naive(rng):
        seen = {}
        while len(seen) < n:
            users = rng.choice(n_users, 500, p=p_user)
            items = rng.choice(n_items, 500, p=p_item)
            for key in (users * n_items + items).tolist():
                seen.setdefault(key, None)
                if len(seen) == n:
                    break
        return np.fromiter(seen, np.int64)

    samplers = {
        "naive": naive,
        "exhaustive": lambda rng: _synthetic._sample_exhaustive(
            n, n_items, log_p_user, log_p_item, rng
        ),
        "poisson": lambda rng: _synthetic._sample_poisson(
            n, n_items, p_user, p_item, _synthetic._horizon(1.05 * n, *groups), rng
        ),
        # A horizon far too short forces rounds of top-up draws.
        "poisson, topped up": lambda rng: _synthetic._sample_poisson(
            n, n_items, p_user, p_item, _synthetic._horizon(0.5 * n, *groups), rng
        ),
    }
    frequency = {}
    for name, sample in samplers.items():
        counts = np.zeros(n_users * n_items)
        for seed in range(n_repeats):
            keys = sample(np.random.default_rng([seed, len(name)]))
            assert keys.size == n and np.unique(keys).size == n
            counts[keys] += 1
        frequency[name] = counts / n_repeats
    reference = frequency.pop("naive")
    variance = np.maximum(reference * (1 - reference), 1 / n_repeats) / n_repeats
    for name, freq in frequency.items():
        z2 = (freq - reference) ** 2 / (2 * variance)
        assert z2.mean() < 1.5, name


def test_sparse_request_uses_the_poisson_sampler(monkeypatch):
    calls = []
    original = _synthetic._sample_poisson
    monkeypatch.setattr(
        _synthetic,
        "_sample_poisson",
        lambda *args: calls.append(1) or original(*args),
    )
    make_ratings(*SIZES["sparse"], random_state=0)
    assert calls
    calls.clear()
    make_ratings(*SIZES["dense"], random_state=0)
    assert not calls
