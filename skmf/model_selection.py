"""Cross-validation splitters for recommender evaluation."""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state

__all__ = ["PerUserHoldout"]


class PerUserHoldout(BaseCrossValidator):
    """Hold out a share of every user's pairs, keeping the rest for training.

    Each of the ``n_splits`` splits draws, independently for every user, a
    random ``test_size`` share of that user's pairs as test pairs (rounded,
    at least one) and leaves at least one pair in training, so that every test
    user is known to the model fitted on the training part, as ranking
    evaluation needs. A user with a single pair is never in a test set. The
    splits are independent draws, like :class:`~sklearn.model_selection.
    ShuffleSplit`, not disjoint folds. Use it as ``cv=`` with the scorers of
    :mod:`skmf.metrics`.

    Parameters
    ----------
    n_splits : int, default=5
        Number of splits.

    test_size : float, default=0.2
        Share of each user's pairs held out, in (0, 1).

    random_state : int, RandomState instance or None, default=None
        Seeds the draws. Pass an int for the same splits at every call.

    Examples
    --------
    >>> import numpy as np
    >>> from skmf.model_selection import PerUserHoldout
    >>> X = np.array([[0, 10], [0, 11], [0, 12], [0, 13], [1, 10], [1, 12],
    ...               [2, 11]])
    >>> cv = PerUserHoldout(n_splits=2, test_size=0.25, random_state=0)
    >>> for train, test in cv.split(X):
    ...     print(sorted(X[test, 0].tolist()), len(train))
    [0, 1] 5
    [0, 1] 5
    """

    def __init__(self, n_splits=5, *, test_size=0.2, random_state=None):
        if not isinstance(n_splits, Integral) or n_splits < 1:
            raise ValueError(f"n_splits must be an int >= 1, got {n_splits!r}.")
        if not isinstance(test_size, Real) or not 0 < test_size < 1:
            raise ValueError(
                f"test_size must be a share of each user's pairs in (0, 1), got "
                f"{test_size!r}."
            )
        self.n_splits = n_splits
        self.test_size = test_size
        self.random_state = random_state

    def _iter_test_masks(self, X=None, y=None, groups=None):
        users = X.iloc[:, 0] if hasattr(X, "iloc") else np.asarray(X)[:, 0]
        codes, uniques = pd.factorize(np.asarray(users), use_na_sentinel=False)
        counts = np.bincount(codes, minlength=uniques.shape[0])
        n_test = np.clip(np.round(self.test_size * counts), 1, counts - 1)
        start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            order = np.lexsort((rng.random(codes.shape[0]), codes))
            rank = np.arange(codes.shape[0]) - start[codes[order]]
            mask = np.zeros(codes.shape[0], dtype=bool)
            mask[order] = rank < n_test[codes[order]]
            yield mask

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits.

        Parameters
        ----------
        X, y, groups : object
            Ignored; present for the scikit-learn API.

        Returns
        -------
        n_splits : int
            The ``n_splits`` parameter.
        """
        return self.n_splits
