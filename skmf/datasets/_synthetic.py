"""Synthetic ratings with a known low-rank structure: :func:`make_ratings`.

The (user, item) pairs are drawn by successive sampling: draws with
replacement, each pair with probability ``p_user[u] * p_item[i]``, keeping each
pair the first time it is drawn, until ``n_ratings`` distinct pairs are found.
Equivalently each cell of the user x item table gets an exponential first-draw
time of rate ``p_user[u] * p_item[i]`` and the ``n_ratings`` earliest cells are
kept. Two exact samplers of that share the work:

* Poisson, for sparse tables: up to a horizon ``t`` the draws of different
  users are independent (Poisson many per user, items drawn independently), so
  each block of users is drawn, sorted by the int64 key ``user * n_items +
  item`` and deduplicated on its own, in cache; the first-draw time of a pair
  drawn ``c`` times is the earliest of ``c`` uniform times. ``t`` is chosen so
  that a few more than ``n_ratings`` distinct pairs are expected and the
  earliest ``n_ratings`` are kept.
* exhaustive, for dense tables, where the Poisson sampler would waste most of
  its draws on pairs already found: every cell gets the priority
  ``log(E) - log(p_user[u] * p_item[i])`` with ``E`` standard exponential and
  the smallest are kept (the Efraimidis-Spirakis form), a block at a time.

Both need a few tens of bytes of memory per rating, whatever the table's size.
"""

import math
from numbers import Integral, Real

import numpy as np
from scipy.special import logsumexp
from sklearn.utils import Bunch, check_random_state

from .._compat import Interval, validate_params

# Expected draws per block of users of the Poisson sampler.
_BLOCK_DRAWS = 2**22
# Cells per block of the exhaustive sampler.
_BLOCK_CELLS = 2**22
# Measured cost of one draw of the Poisson sampler over that of one cell of the
# exhaustive one: the cheaper is used.
_DRAW_COST = 5.0
# The Poisson horizon aims at this fraction more distinct pairs than needed
# (plus a few standard deviations); a second round tops up the rare shortfall.
_HORIZON_MARGIN = 0.01
# Groups of users (and of items) of similar weight when the expected number of
# distinct pairs is computed.
_N_GROUPS = 128
# Ratings per chunk when the pairs are rated and decoded.
_CHUNK = 2**20


def _generator(random_state):
    """A numpy Generator seeded from scikit-learn's ``random_state``.

    The same int, or a RandomState in the same state, gives the same data.
    """
    seed = check_random_state(random_state).randint(2**32, size=4, dtype=np.uint32)
    return np.random.default_rng(seed)


def _log_weights(n, exponent, rng):
    """Log probability of drawing each id: ``(rank + 1) ** -exponent``, normalized.

    The ranks are a random permutation of the ids, so that the popular ids are
    not the small ones.
    """
    log_w = -exponent * np.log1p(np.arange(n, dtype=np.float64))
    log_w -= logsumexp(log_w)
    return log_w[rng.permutation(n)]


def _groups(p):
    """Sizes and mean probabilities of groups of ids of similar probability.

    Groups of consecutive ranks with geometrically growing sizes, so that the
    probabilities within a group differ little.
    """
    p = np.sort(p)[::-1]
    n = p.shape[0]
    edges = np.unique(np.geomspace(1, n + 1, _N_GROUPS + 1).astype(np.int64) - 1)
    edges[-1] = n
    sizes = np.diff(edges).astype(np.float64)
    return sizes, np.add.reduceat(p, edges[:-1]) / sizes


def _expected_distinct(t, user_groups, item_groups):
    """Expected number of distinct pairs among Poisson(t) draws (approximately)."""
    (n_u, p_u), (n_i, p_i) = user_groups, item_groups
    return float(n_u @ -np.expm1(-t * np.outer(p_u, p_i)) @ n_i)


def _horizon(target, user_groups, item_groups):
    """Expected number of draws that yields ``target`` distinct pairs, or inf."""
    if target >= user_groups[0].sum() * item_groups[0].sum():
        return math.inf
    lo = hi = float(target)  # there are never more distinct pairs than draws
    while _expected_distinct(hi, user_groups, item_groups) < target:
        lo, hi = hi, 2 * hi
        if hi > 1e300:
            return math.inf
    for _ in range(50):
        mid = math.sqrt(lo * hi)
        if _expected_distinct(mid, user_groups, item_groups) < target:
            lo = mid
        else:
            hi = mid
    return hi


def _isin_sorted(values, sorted_set):
    """Boolean mask of ``values`` found in the sorted 1-d array ``sorted_set``."""
    if sorted_set.size == 0:
        return np.zeros(values.shape, dtype=bool)
    index = np.searchsorted(sorted_set, values)
    np.minimum(index, sorted_set.size - 1, out=index)
    return sorted_set[index] == values


def _draw_block(users, lam, n_items, p_item, rng):
    """Sorted distinct keys of the draws of ``users`` and how often each was drawn.

    ``lam`` is the expected number of draws of each user.
    """
    counts = rng.poisson(lam)
    keys = np.repeat(users, counts)
    keys *= n_items
    # Independent items: the multiset of items drawn, in random order.
    items = np.repeat(
        np.arange(n_items, dtype=np.int32 if n_items < 2**31 else np.int64),
        rng.multinomial(keys.size, p_item),
    )
    rng.shuffle(items)
    keys += items
    del items
    keys.sort(kind="stable")  # timsort: the keys come in runs of one user
    first = np.empty(keys.size, dtype=bool)
    first[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return keys[starts], np.diff(starts, append=keys.size)


def _earliest(times_list, n):
    """Masks, one per block, of the ``n`` earliest times over all blocks."""
    all_times = np.concatenate(times_list)
    all_times.partition(n - 1)
    cut = all_times[n - 1]
    del all_times
    masks = [times < cut for times in times_list]
    missing = n - sum(int(mask.sum()) for mask in masks)
    for mask, times in zip(masks, times_list, strict=True):  # ties at the cut, if any
        if missing == 0:
            break
        tied = np.flatnonzero(times == cut)[:missing]
        mask[tied] = True
        missing -= tied.size
    return masks


def _sample_poisson(n_ratings, n_items, p_user, p_item, horizon, rng):
    """Sorted keys of ``n_ratings`` pairs by the Poisson sampler."""
    n_users = p_user.shape[0]
    expected = np.cumsum(horizon * p_user)
    steps = np.arange(_BLOCK_DRAWS, expected[-1], _BLOCK_DRAWS)
    edges = np.unique(
        np.concatenate(([0], np.searchsorted(expected, steps), [n_users]))
    )
    keys_list = [np.empty(0, dtype=np.int64)] * (edges.size - 1)
    times_list = [np.empty(0, dtype=np.float64)] * (edges.size - 1)
    user_groups, item_groups = _groups(p_user), _groups(p_item)
    n_found, start = 0, 0.0
    while True:
        span = horizon - start
        for b in range(edges.size - 1):
            users = np.arange(edges[b], edges[b + 1], dtype=np.int64)
            keys, counts = _draw_block(
                users, span * p_user[users], n_items, p_item, rng
            )
            if start > 0:
                new = ~_isin_sorted(keys, keys_list[b])
                keys, counts = keys[new], counts[new]
            n_found += keys.size
            # Earliest of `counts` uniform times in (start, horizon].
            times = start - span * np.expm1(np.log1p(-rng.random(keys.size)) / counts)
            if start > 0:  # merge with the pairs found before
                keys = np.concatenate((keys_list[b], keys))
                times = np.concatenate((times_list[b], times))
                order = np.argsort(keys, kind="stable")
                keys, times = keys[order], times[order]
            keys_list[b], times_list[b] = keys, times
        if n_found >= n_ratings:
            break
        # A rare shortfall: draw on past the horizon for the pairs still missing.
        target = _expected_distinct(horizon, user_groups, item_groups)
        target += 1.2 * (n_ratings - n_found) + 4 * math.sqrt(n_ratings)
        start, horizon = horizon, _horizon(target, user_groups, item_groups)
        if not math.isfinite(horizon):  # cannot happen with n_ratings <= n_cells
            raise RuntimeError("the Poisson sampler ran out of pairs")
    masks = _earliest(times_list, n_ratings)
    del times_list
    return np.concatenate(
        [keys[mask] for keys, mask in zip(keys_list, masks, strict=True)]
    )


def _sample_exhaustive(n_ratings, n_items, log_p_user, log_p_item, rng):
    """Sorted keys of ``n_ratings`` pairs by the exhaustive sampler.

    Streams over blocks of users and keeps only the cells whose priority is
    under the ``n_ratings``-th smallest so far.
    """
    n_users = log_p_user.shape[0]
    rows = max(1, _BLOCK_CELLS // n_items)
    best_keys = np.empty(0, dtype=np.int64)
    best_priority = np.empty(0, dtype=np.float64)
    pending_keys, pending_priority, n_pending = [], [], 0
    cut = np.inf
    for start in range(0, n_users, rows):
        stop = min(n_users, start + rows)
        with np.errstate(divide="ignore"):
            priority = np.log(rng.standard_exponential((stop - start, n_items)))
        priority -= log_p_user[start:stop, None]
        priority -= log_p_item
        priority = priority.ravel()
        candidates = np.flatnonzero(priority < cut)
        pending_keys.append(candidates + start * n_items)
        pending_priority.append(priority[candidates])
        n_pending += candidates.size
        if n_pending >= max(n_ratings, _BLOCK_CELLS) or stop == n_users:
            keys = np.concatenate([best_keys, *pending_keys])
            priority = np.concatenate([best_priority, *pending_priority])
            pending_keys, pending_priority, n_pending = [], [], 0
            if keys.size >= n_ratings:
                keep = np.argpartition(priority, n_ratings - 1)[:n_ratings]
                keys, priority = keys[keep], priority[keep]
                cut = priority.max()
            best_keys, best_priority = keys, priority
    best_keys.sort()
    return best_keys


def _sample_pairs(n_ratings, n_users, n_items, log_p_user, log_p_item, rng):
    """Sorted int64 keys ``user * n_items + item`` of ``n_ratings`` distinct pairs."""
    p_user, p_item = np.exp(log_p_user), np.exp(log_p_item)
    target = n_ratings * (1 + _HORIZON_MARGIN) + 4 * math.sqrt(n_ratings)
    horizon = _horizon(target, _groups(p_user), _groups(p_item))
    if _DRAW_COST * horizon < n_users * n_items:
        return _sample_poisson(n_ratings, n_items, p_user, p_item, horizon, rng)
    return _sample_exhaustive(n_ratings, n_items, log_p_user, log_p_item, rng)


@validate_params(
    {
        "n_users": [Interval(Integral, 1, None, closed="left")],
        "n_items": [Interval(Integral, 1, None, closed="left")],
        "n_ratings": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "rating_scale": ["array-like"],
        "discrete": ["boolean"],
        "activity_exponent": [Interval(Real, 0, None, closed="left")],
        "popularity_exponent": [Interval(Real, 0, None, closed="left")],
        "return_factors": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_ratings(
    n_users=1000,
    n_items=500,
    n_ratings=20_000,
    *,
    n_components=10,
    noise=0.5,
    rating_scale=(1, 5),
    discrete=True,
    activity_exponent=0.8,
    popularity_exponent=0.8,
    return_factors=False,
    random_state=None,
):
    r"""Generate ratings of items by users from a biased low-rank model.

    The true rating of item ``i`` by user ``u`` is

    .. math::

        r_{ui} = \mu + b_u + b_i + w_u^\top h_i + \varepsilon_{ui}

    where :math:`\mu` is the middle of ``rating_scale``, the biases
    :math:`b_u, b_i` are normal with standard deviation 0.5, the factor vectors
    :math:`w_u, h_i` of length ``n_components`` are normal with standard
    deviation ``n_components ** -0.25`` (so that :math:`w_u^\top h_i` has
    standard deviation 1 whatever ``n_components``) and the noise
    :math:`\varepsilon_{ui}` is normal with standard deviation ``noise``. The
    rating is then clipped to ``rating_scale`` and, when ``discrete``, rounded
    to the nearest integer.

    Each (user, item) pair is rated at most once. User activity and item
    popularity are heavy-tailed: every user gets a random rank ``r`` (0 for
    the most active) and is drawn with probability proportional to
    ``(r + 1) ** -activity_exponent``, and likewise for the items with
    ``popularity_exponent``. Pairs are drawn with probability proportional to
    the product of the two, without replacement.

    Parameters
    ----------
    n_users : int, default=1000
        Number of users; their ids are ``0, ..., n_users - 1``. Users that are
        never drawn have no rating.

    n_items : int, default=500
        Number of items; their ids are ``0, ..., n_items - 1``.

    n_ratings : int, default=20_000
        Number of ratings, at most ``n_users * n_items``.

    n_components : int, default=10
        Rank of the interaction term :math:`w_u^\top h_i`.

    noise : float, default=0.5
        Standard deviation of the Gaussian noise added to every rating.

    rating_scale : tuple of (float, float), default=(1, 5)
        Lowest and highest rating; :math:`\mu` is their mean. Both must be
        integers when ``discrete=True``.

    discrete : bool, default=True
        Round the ratings to integers, like stars.

    activity_exponent : float, default=0.8
        Exponent of the power law of user activity; 0 makes every user as
        likely to rate as any other.

    popularity_exponent : float, default=0.8
        Exponent of the power law of item popularity; 0 makes it uniform.

    return_factors : bool, default=False
        Also return the true model.

    random_state : int, RandomState instance or None, default=None
        Determines all random draws. Pass an int for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_ratings, 2)
        User id and item id of each rating, in random order. The dtype is
        int32, or int64 when ``n_users`` or ``n_items`` exceeds ``2**31 - 1``.

    y : ndarray of shape (n_ratings,), dtype float32
        The ratings. float32 halves the memory of large data sets and holds
        integer ratings exactly.

    truth : :class:`~sklearn.utils.Bunch`
        Only returned when ``return_factors=True``. The noiseless, unclipped
        model :math:`\mu + b_u + b_i + w_u^\top h_i`, as float64 arrays:

        user_factors : ndarray of shape (n_users, n_components)
            :math:`w_u`, one row per user id.
        item_factors : ndarray of shape (n_items, n_components)
            :math:`h_i`, one row per item id.
        user_bias : ndarray of shape (n_users,)
            :math:`b_u`.
        item_bias : ndarray of shape (n_items,)
            :math:`b_i`.
        intercept : float
            :math:`\mu`, the middle of ``rating_scale``.

    Notes
    -----
    The pairs are distinct and drawn by successive sampling, exactly: by
    rejection of repeated pairs for sparse tables and by exponential
    priorities over all cells for dense ones. Working memory stays within a
    few tens of bytes per rating, so ten million ratings over 200,000 users
    and 50,000 items take a few seconds.

    Examples
    --------
    >>> from skmf.datasets import make_ratings
    >>> X, y = make_ratings(n_users=100, n_items=50, n_ratings=1000, random_state=0)
    >>> X.shape, X.dtype, y.dtype
    ((1000, 2), dtype('int32'), dtype('float32'))
    >>> sorted(set(y.tolist()))
    [1.0, 2.0, 3.0, 4.0, 5.0]
    >>> X, y, truth = make_ratings(
    ...     n_ratings=1000, noise=0, discrete=False, rating_scale=(-50, 50),
    ...     return_factors=True, random_state=0)
    >>> u, i = X[0]
    >>> expected = (truth.intercept + truth.user_bias[u] + truth.item_bias[i]
    ...             + truth.user_factors[u] @ truth.item_factors[i])
    >>> bool(abs(y[0] - expected) < 1e-5)
    True
    """
    n_cells = n_users * n_items
    if n_ratings > n_cells:
        raise ValueError(
            f"n_ratings={n_ratings} exceeds the number of distinct (user, item) "
            f"pairs, n_users * n_items = {n_users} * {n_items} = {n_cells}. Ask "
            "for fewer ratings or more users or items."
        )
    if n_cells > np.iinfo(np.int64).max:
        raise ValueError(
            f"n_users * n_items = {n_cells} does not fit in int64; use fewer users "
            "or items."
        )
    try:
        low, high = (float(bound) for bound in rating_scale)
    except (TypeError, ValueError):
        raise ValueError(
            f"rating_scale must be a pair of numbers (lowest, highest); got "
            f"{rating_scale!r}."
        ) from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(
            f"rating_scale must be two finite numbers with lowest < highest; got "
            f"{rating_scale!r}."
        )
    if discrete and not (low.is_integer() and high.is_integer()):
        raise ValueError(
            f"discrete=True rounds ratings to integers, so rating_scale must be "
            f"two integers; got {rating_scale!r}. Use discrete=False."
        )

    rng = _generator(random_state)
    scale = n_components**-0.25
    truth = Bunch(
        user_factors=rng.normal(0.0, scale, (n_users, n_components)),
        item_factors=rng.normal(0.0, scale, (n_items, n_components)),
        user_bias=rng.normal(0.0, 0.5, n_users),
        item_bias=rng.normal(0.0, 0.5, n_items),
        intercept=(low + high) / 2,
    )
    log_p_user = _log_weights(n_users, activity_exponent, rng)
    log_p_item = _log_weights(n_items, popularity_exponent, rng)
    keys = _sample_pairs(n_ratings, n_users, n_items, log_p_user, log_p_item, rng)

    # Rate the pairs in key order, where the factor rows are read in sequence,
    # then shuffle pairs and ratings together.
    rated = np.empty(n_ratings, dtype=[("key", np.int64), ("rating", np.float32)])
    rated["key"] = keys
    del keys
    for start in range(0, n_ratings, _CHUNK):
        stop = min(n_ratings, start + _CHUNK)
        users, items = np.divmod(rated["key"][start:stop], n_items)
        rating = np.einsum(
            "ij,ij->i", truth.user_factors[users], truth.item_factors[items]
        )
        rating += truth.intercept + truth.user_bias[users] + truth.item_bias[items]
        if noise > 0:
            rating += noise * rng.standard_normal(stop - start)
        if discrete:
            np.rint(rating, out=rating)
        np.clip(rating, low, high, out=rating)
        rated["rating"][start:stop] = rating
    rng.shuffle(rated)

    id_dtype = np.int32 if max(n_users, n_items) < 2**31 else np.int64
    X = np.empty((n_ratings, 2), dtype=id_dtype)
    for start in range(0, n_ratings, _CHUNK):
        stop = min(n_ratings, start + _CHUNK)
        X[start:stop, 0], X[start:stop, 1] = np.divmod(
            rated["key"][start:stop], n_items
        )
    y = rated["rating"].copy()
    del rated

    if return_factors:
        return X, y, truth
    return X, y
