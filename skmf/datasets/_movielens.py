"""MovieLens 100K read from a local copy of the GroupLens archive's folder."""

from pathlib import Path

import pandas as pd

_COLUMNS = ["user", "item", "rating", "timestamp"]


def _read_ratings(path):
    return pd.read_csv(path, sep="\t", names=_COLUMNS, dtype="int64")


def load_movielens_100k_folds(path):
    """The five canonical train/test splits of MovieLens 100K.

    Test fold ``k`` is the archive's ``u{k}.test``; its training set is every
    other rating of ``u.data`` (the archive's ``u{k}.base``, rebuilt here so
    that only ``u.data`` and the test files are needed).

    Parameters
    ----------
    path : str or path-like
        Folder holding ``u.data`` and ``u1.test`` .. ``u5.test`` (the
        ``ml-100k`` folder of the GroupLens archive).

    Returns
    -------
    folds : list of (train, test) pairs of DataFrames
        Columns ``user``, ``item``, ``rating``, ``timestamp``.
    """
    path = Path(path)
    if not (path / "u.data").is_file():
        raise FileNotFoundError(
            f"{path / 'u.data'} not found: pass the ml-100k folder of the "
            "GroupLens MovieLens 100K archive."
        )
    full = _read_ratings(path / "u.data")
    folds = []
    for k in range(1, 6):
        test = _read_ratings(path / f"u{k}.test")
        in_test = full.merge(test[["user", "item"]], how="left", indicator=True)
        train = full[(in_test["_merge"] == "left_only").to_numpy()]
        folds.append((train.reset_index(drop=True), test))
    return folds
