"""Raw ids (ints, strings, any hashable) to dense row indices and back.

Unknown ids map to -1 so that prediction can fall back to the known biases in
one vectorized pass.
"""

import warnings

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


# pandas' inferred kinds of id arrays, reduced to the two that cannot match.
_NUMBER_KINDS = {"integer", "floating", "mixed-integer-float", "decimal", "boolean"}
_TEXT_KINDS = {"string", "bytes"}


def _id_kind(values):
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in _NUMBER_KINDS:
        return "number"
    if kind in _TEXT_KINDS:
        return "string"
    return None


def encode_ids(index, values, name=None):
    """Index of each value in ``index`` (a pandas Index of fitted ids), -1 if absent.

    With a ``name`` ("users", "items"), ids of another kind than the fitted
    ones (strings for a model fitted on ints, or the reverse) warn: "1" is
    not 1, so each would silently be an unknown id.
    """
    codes = index.get_indexer(values).astype(np.int32, copy=False)
    if name is not None and len(values) and np.all(codes < 0):
        fitted, given = _id_kind(index), _id_kind(values)
        if fitted is not None and given is not None and fitted != given:
            warnings.warn(
                f"The {name} given are {given}s but the model was fitted on "
                f'{fitted} ids, so none of them is known ("1" is not 1). '
                f"Convert them to the fitted type, e.g. model.{name}_.dtype.",
                UserWarning,
                stacklevel=3,
            )
    return codes
