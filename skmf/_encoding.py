"""Raw ids (ints, strings, any hashable) to dense row indices and back.

Unknown ids map to -1 so that prediction can fall back to the known biases in
one vectorized pass.
"""

import numpy as np
import pandas as pd


def fit_ids(values):
    """Return the sorted distinct ids and the index of each value among them.

    Sorting makes the factor rows, and so a seeded fit, independent of the
    order of the rows.
    """
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError as exc:
        raise TypeError(
            "The ids in one column of X must be mutually comparable (all numbers "
            f"or all strings); got a mix ({exc}). Convert the column to one type, "
            "e.g. X.astype(str)."
        ) from exc
    return np.asarray(uniques), codes.astype(np.int32, copy=False)


def encode_ids(index, values):
    """Index of each value in ``index`` (a pandas Index of fitted ids), -1 if absent."""
    return index.get_indexer(values).astype(np.int32, copy=False)
