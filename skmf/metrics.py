"""Ranking metrics of a fitted recommender against held-out (user, item) pairs.

Each function takes a fitted skmf estimator and the held-out pairs ``X``,
asks the estimator for the top ``k`` items of every user of ``X`` (excluding
what they had in training, by default) and compares them with that user's
held-out items, the relevant ones. Every function has the signature
``(estimator, X, y=None, *, k=10, exclude_seen=True)`` of a scikit-learn
scorer, so it can be passed as ``scoring=`` as it is; :func:`make_ranking_scorer`
makes scorers with another ``k``.

With ``H_u`` the hits of user ``u`` (held-out items among the top k, ranks
``1..k``), ``n_u`` the number of distinct held-out items of ``u`` and
``m_u = min(k, n_u)`` the most hits possible:

* precision@k: :math:`\\sum_u |H_u| / \\sum_u m_u`, the share of the reachable
  held-out pairs found (the definition of the implicit library, which a
  perfect ranking scores 1 even for users with fewer than k held-out items;
  the textbook :math:`|H_u| / k` is lower for them);
* recall@k: mean over users of :math:`|H_u| / n_u`;
* MAP@k: mean over users of :math:`\\frac{1}{m_u} \\sum_{r \\in H_u}
  \\text{precision at rank } r`;
* NDCG@k: mean over users of :math:`\\sum_{r \\in H_u} 1/\\log_2(r + 1)`
  divided by its best value, :math:`\\sum_{r=1}^{m_u} 1/\\log_2(r + 1)`;
* hit rate@k: share of users with at least one hit.

Users are those of ``X``; one not seen during fit gets the estimator's
fallback ranking. Held-out items the model has not seen count in ``n_u`` but
can never be hit. Repeated pairs count once.
"""

from numbers import Integral

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_array, check_is_fitted

from ._compat import Interval, StrOptions, validate_params

__all__ = [
    "hit_rate_at_k",
    "make_ranking_scorer",
    "map_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "ranking_metrics",
    "recall_at_k",
]


def _hits(estimator, X, k, exclude_seen):
    """Hits (n_users, k') of the top k of every user of X, and their n_u."""
    check_is_fitted(estimator)
    X = check_array(X, dtype=None, ensure_all_finite=False, input_name="X")
    if X.shape[1] != 2:
        raise ValueError(
            f"X must have two columns, the user id and the item id of each "
            f"held-out pair; got {X.shape[1]}."
        )
    groups, users = pd.factorize(X[:, 0])
    if (groups < 0).any():
        raise ValueError("X has a missing user id (NaN or None).")
    any_item, _ = pd.factorize(X[:, 1], use_na_sentinel=False)
    distinct = sp.csr_matrix(
        (np.ones(X.shape[0]), (groups, any_item)),
        shape=(users.shape[0], any_item.max(initial=-1) + 1),
    )
    n_relevant = np.diff(distinct.indptr)
    # Only public API: third-party recommenders with recommend(), users_ and
    # items_ are scored the same way.
    item_index = pd.Index(estimator.items_)
    items = item_index.get_indexer(X[:, 1])
    known = items >= 0
    relevant = sp.csr_matrix(
        (np.ones(int(known.sum())), (groups[known], items[known])),
        shape=(users.shape[0], estimator.items_.shape[0]),
    )
    ids, scores = estimator.recommend(np.asarray(users), k, exclude_seen=exclude_seen)
    cols = item_index.get_indexer(ids.ravel()).reshape(ids.shape)
    rows = np.repeat(np.arange(cols.shape[0]), cols.shape[1])
    found = np.asarray(relevant[rows, cols.ravel()]).reshape(cols.shape) > 0
    return found & np.isfinite(scores), n_relevant


def _precision(hits, n_relevant, k):
    return hits.sum() / np.minimum(k, n_relevant).sum()


def _recall(hits, n_relevant, k):
    return np.mean(hits.sum(axis=1) / n_relevant)


def _average_precision(hits, n_relevant, k):
    precision = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    return np.mean((precision * hits).sum(axis=1) / np.minimum(k, n_relevant))


def _ndcg(hits, n_relevant, k):
    discount = 1 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discount)[np.minimum(k, n_relevant) - 1]
    return np.mean((hits * discount[: hits.shape[1]]).sum(axis=1) / ideal)


def _hit_rate(hits, n_relevant, k):
    return np.mean(hits.any(axis=1))


_METRICS = {
    "precision": _precision,
    "recall": _recall,
    "map": _average_precision,
    "ndcg": _ndcg,
    "hit_rate": _hit_rate,
}


def _score(metric, estimator, X, k, exclude_seen):
    hits, n_relevant = _hits(estimator, X, k, exclude_seen)
    return float(_METRICS[metric](hits, n_relevant, k))


_PARAMS = {
    "estimator": [object],
    "X": ["array-like"],
    "y": ["array-like", None],
    "k": [Interval(Integral, 1, None, closed="left")],
    "exclude_seen": ["boolean"],
}


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def ranking_metrics(estimator, X, y=None, *, k=10, exclude_seen=True):
    """All five ranking metrics at k, from one pass of recommendations.

    Parameters
    ----------
    estimator : fitted MatrixFactorization or ImplicitMatrixFactorization
        The model to evaluate.

    X : array-like of shape (n_pairs, 2)
        Held-out (user id, item id) pairs: the relevant items of each user.

    y : None
        Ignored (every held-out pair is equally relevant); present for the
        scorer signature.

    k : int, default=10
        Length of the recommendation lists.

    exclude_seen : bool, default=True
        Leave the users' training items out of their recommendations.

    Returns
    -------
    metrics : dict
        ``{"precision", "recall", "map", "ndcg", "hit_rate"}`` to floats in
        [0, 1], defined in the module's documentation.

    Examples
    --------
    >>> from skmf import ImplicitMatrixFactorization
    >>> from skmf.metrics import ranking_metrics
    >>> X = [[0, "a"], [0, "b"], [1, "b"], [1, "c"], [2, "a"], [2, "c"]]
    >>> model = ImplicitMatrixFactorization(n_components=2, random_state=0)
    >>> model = model.fit(X)
    >>> ranking_metrics(model, [[0, "c"], [1, "a"]], k=1)
    {'precision': 1.0, 'recall': 1.0, 'map': 1.0, 'ndcg': 1.0, 'hit_rate': 1.0}
    """
    hits, n_relevant = _hits(estimator, X, k, exclude_seen)
    return {name: float(f(hits, n_relevant, k)) for name, f in _METRICS.items()}


def _metric(name, doc):
    """A public metric function: ``ranking_metrics`` narrowed to one value."""

    @validate_params(_PARAMS, prefer_skip_nested_validation=True)
    def metric(estimator, X, y=None, *, k=10, exclude_seen=True):
        return _score(name, estimator, X, k, exclude_seen)

    metric.__name__ = metric.__qualname__ = f"{name}_at_k"
    parameters = ranking_metrics.__doc__.split("    Parameters\n")[1].split(
        "    Returns"
    )[0]
    metric.__doc__ = f"""{doc}

    See the module's documentation for the definition.

    Parameters
{parameters}    Returns
    -------
    score : float
        In [0, 1], higher is better.
    """
    return metric


precision_at_k = _metric("precision", "Share of reachable held-out pairs in the top k.")
recall_at_k = _metric(
    "recall", "Mean share of each user's held-out items in the top k."
)
map_at_k = _metric("map", "Mean average precision of the top k.")
ndcg_at_k = _metric("ndcg", "Normalized discounted cumulative gain of the top k.")
hit_rate_at_k = _metric("hit_rate", "Share of users with a held-out item in the top k.")


class _RankingScorer:
    """Scorer ``(estimator, X, y=None)`` for one ranking metric at k."""

    def __init__(self, metric, k, exclude_seen):
        self.metric = metric
        self.k = k
        self.exclude_seen = exclude_seen

    def __call__(self, estimator, X, y=None, **kwargs):
        return _score(self.metric, estimator, X, self.k, self.exclude_seen)

    def __repr__(self):
        return (
            f"make_ranking_scorer({self.metric!r}, k={self.k}, "
            f"exclude_seen={self.exclude_seen})"
        )


@validate_params(
    {
        "metric": [StrOptions(set(_METRICS))],
        "k": [Interval(Integral, 1, None, closed="left")],
        "exclude_seen": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_ranking_scorer(metric="ndcg", *, k=10, exclude_seen=True):
    """A scorer for ``scoring=`` in GridSearchCV or cross_val_score.

    Works for both estimators: the test fold's pairs are the held-out items.
    Pair it with :class:`skmf.model_selection.PerUserHoldout` so that every
    test user also has training pairs.

    Parameters
    ----------
    metric : {"precision", "recall", "map", "ndcg", "hit_rate"}, default="ndcg"
        The metric, defined in the module's documentation.

    k : int, default=10
        Length of the recommendation lists.

    exclude_seen : bool, default=True
        Leave the users' training items out of their recommendations.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None)`` returning the metric (higher is
        better).

    Examples
    --------
    >>> from skmf.metrics import make_ranking_scorer
    >>> make_ranking_scorer("precision", k=5)
    make_ranking_scorer('precision', k=5, exclude_seen=True)
    """
    return _RankingScorer(metric, k, exclude_seen)
