"""Bayesian factorization machines on MovieLens 100K: skmf against myFM, one run.

    python benchmarks/fm_ml100k.py [--data ../shared/data/ml-100k]
        [--sweeps 200] [--burn-in 20] [--rank 10] [--folds 1 2 3 4 5]
        [--configs ids implicit extended best] [--seeds 0] [--no-cold-start]

Each configuration is fitted on the five canonical training sets (u.data minus
u1.test .. u5.test) by skmf's BayesianFactorizationMachine and, when
``pip install myfm`` has installed it, by myFM 0.4 given the same features
(each attribute column its own group in both), the same rank and the same
number of sweeps, in this one process, fold by fold (skmf, then myFM, on each
fold, so that both see the same load). Histories come from the training fold
only (the strict protocol): nothing is taken from the test fold but its own
(user, item, date) rows.

The configurations (``CONFIGS``) follow myFM's ``ml-100k-extended`` notebook:

- ``ids``: user and item one-hots;
- ``implicit``: + the items each user rated and the users who rated each item
  (``implicit_feedback="both"``; each a group, weighted ``1 / sqrt(n)``);
- ``extended``: + the notebook's side information: from ``u.user`` the age in
  ten percentile bins, the occupation and the first digit of the zip code, and
  from ``u.item`` the release year in ten percentile bins and the genres
  (multi-hot, ``1 / sqrt(n)`` each), and the day of the rating as a one-hot;
- ``best``: skmf's recommended configuration, ``extended`` plus the user's
  day (a context category ``"<user>@<day>"``: Koren's timeSVD++ day bias
  b_u,t, seen in fit for 99% of the test ratings) and a 5-sweep burn-in:
  ``BayesianFactorizationMachine(n_components=10, user_features=["age_bin",
  "occupation", "zip"], item_features=["year_bin", "genres"],
  context_features=["date", "user_day"], implicit_feedback="both",
  n_samples=195, burn_in=5)`` with the default priors (prior_shape,
  prior_rate, prior_strength 1, init_std 0.1, myFM's defaults too). myFM
  gets the same features and burn-in.

skmf runs with its defaults: a noise scale per user and per item
(``noise="both"``); the ``-shared`` configurations (``ids-shared`` ...) give
skmf myFM's single noise precision. Measured 2026-12-03 (seed 0, one thread,
quiet machine; mean of the five folds, skmf / myFM):

======================  ===============  ============================
configuration           RMSE             per fold, skmf
======================  ===============  ============================
ids                     0.8934 / 0.8976  .9025 .8939 .8887 .8903 .8918
implicit                0.8789 / 0.8830  .8863 .8767 .8749 .8799 .8769
extended                0.8756 / 0.8792  .8804 .8720 .8707 .8778 .8768
best                    0.8747 / 0.8778  .8816 .8694 .8693 .8771 .8759
======================  ===============  ============================

skmf is ahead on every fold; myFM / skmf time per sweep 2.58x, 2.32x,
2.11x, 2.10x. With ``-shared``: 0.8974, 0.8838, 0.8794, 0.8775, level with
myFM, and at ``--sweeps 1000`` both reach the same error (implicit 0.8816 /
0.8816, extended 0.8770 / 0.8771, best 0.8764 / 0.8767): one chain's
per-fold RMSE moves by 0.001-0.002 between seeds at 200 sweeps, for both
libraries. Variants with the shared precision, skmf alone, seed 0 (mean
RMSE, against 0.8794 for extended): rank 6 0.8822, rank 20 0.8801, rank 32
0.8818 (folds 1-3; myFM 0.8829), rank 32 with burn-in 100 0.892, burn-in 60
0.8806, burn-in 5 0.8787, the gender too (neutral), per-fold activity
buckets 0.8801, the month instead of the day 0.8797, day and month 0.8793,
the item's month 0.8823, numeric age, year and day 0.8811, prior_shape 10
0.8796, the user's day 0.8782.

Other rows of ``CONFIGS`` are these variants; pass their names to
``--configs``. A config's ``rank`` and ``burn_in`` override ``--rank`` and
``--burn-in``.

It first prints the cold-start figure (unless ``--no-cold-start``): 20% of
the items (a seeded choice) held out with all their ratings, predicted from
their attributes, against MatrixFactorization's fallback for unknown items.
Then, per configuration, skmf's and myFM's RMSE on each fold, their mean RMSE
and MAE, the seconds per sweep of each and the ratio. Both run on one thread
(OMP_NUM_THREADS=1 is set before they are imported) unless ``--threads``.
"""

import argparse
import os
import sys
import time
from pathlib import Path

DEFAULT_DATA = (
    Path(
        os.environ.get(
            "SKMF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    / "ml-100k"
)

GENRES = (
    "unknown Action Adventure Animation Children Comedy Crime Documentary Drama "
    "Fantasy Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()

_NOTEBOOK_USER = ["age_bin", "occupation", "zip"]
_NOTEBOOK_ITEM = ["year_bin", "genres"]


def _config(
    implicit="both", user=(), item=(), context=(), rank=None, burn_in=None,
    skmf=None, **priors,
):  # fmt: skip
    """A configuration; ``priors`` are skmf's names (``prior_shape`` etc.),
    ``skmf`` parameters that myFM has no counterpart of."""
    return {
        "priors": priors,
        "skmf": dict(skmf or {}),
        "burn_in": burn_in,
        "implicit": implicit,
        "user": list(user),
        "item": list(item),
        "context": list(context),
        "rank": rank,
    }


_EXTENDED = {"user": _NOTEBOOK_USER, "item": _NOTEBOOK_ITEM, "context": ["date"]}
CONFIGS = {
    "ids": _config(implicit="none"),
    "implicit": _config(),
    "extended": _config(**_EXTENDED),
    "extended-g": _config(
        user=[*_NOTEBOOK_USER, "gender"], item=_NOTEBOOK_ITEM, context=["date"]
    ),
    # The encodings of the previous version of this script: one category per
    # age and per year, and the gender.
    "extended-raw": _config(
        user=["age", "gender", "occupation", "zip"],
        item=["year", "genres"],
        context=["date"],
    ),
    "extended-month": _config(
        user=_NOTEBOOK_USER, item=_NOTEBOOK_ITEM, context=["month"]
    ),
    "extended-date-month": _config(
        user=_NOTEBOOK_USER, item=_NOTEBOOK_ITEM, context=["date", "month"]
    ),
    "extended-activity": _config(
        user=[*_NOTEBOOK_USER, "activity", "mean_day"],
        item=[*_NOTEBOOK_ITEM, "popularity"],
        context=["date"],
    ),
    "extended-user-day": _config(
        user=_NOTEBOOK_USER, item=_NOTEBOOK_ITEM, context=["date", "user_day"]
    ),
    # Age, release year and date as standardized numbers.
    "extended-numeric": _config(
        user=["age_number", "occupation", "zip"],
        item=["year_number", "genres"],
        context=["day_number"],
    ),
    "extended-date-number": _config(
        user=_NOTEBOOK_USER, item=_NOTEBOOK_ITEM, context=["date", "day_number"]
    ),
    "extended-user-day-item-month": _config(
        user=_NOTEBOOK_USER,
        item=_NOTEBOOK_ITEM,
        context=["date", "user_day", "item_month"],
    ),
    "extended-user-history": _config(**_EXTENDED, implicit="user"),
    "extended-r6": _config(**_EXTENDED, rank=6),
    "extended-r8": _config(**_EXTENDED, rank=8),
    "extended-shape10": _config(**_EXTENDED, prior_shape=10.0),
    "extended-rate10": _config(**_EXTENDED, prior_rate=10.0),
    "extended-init03": _config(**_EXTENDED, init_std=0.3),
    "extended-r16": _config(**_EXTENDED, rank=16),
    "extended-r20": _config(**_EXTENDED, rank=20),
    "extended-b5": _config(**_EXTENDED, burn_in=5),
    "extended-b10": _config(**_EXTENDED, burn_in=10),
    "extended-b60": _config(**_EXTENDED, burn_in=60),
    "extended-r20-b60": _config(**_EXTENDED, rank=20, burn_in=60),
    "extended-r32-b100": _config(**_EXTENDED, rank=32, burn_in=100),
    "extended-r32": _config(**_EXTENDED, rank=32),
    "best": _config(
        user=_NOTEBOOK_USER,
        item=_NOTEBOOK_ITEM,
        context=["date", "user_day"],
        burn_in=5,
    ),
}
# Each configuration again with one noise precision shared by every rating
# (skmf's "noise" parameter; myFM has only this one).
CONFIGS.update(
    {
        f"{name}-shared": {**CONFIGS[name], "skmf": {"noise": "shared"}}
        for name in ("ids", "implicit", "extended", "best")
    }
)
DEFAULT_CONFIGS = ("ids", "implicit", "extended", "best")


def _percentile_bins(values, n_percentiles=10):
    """myFM's ``BinningEncoder``: the bin of each value among the percentiles."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    known = ~np.isnan(values)
    edges = np.unique(
        np.percentile(values[known], np.linspace(0, 100, n_percentiles + 2)[1:-1])
    )
    bins = (values[:, None] > edges[None, :]).sum(axis=1)
    return np.where(known, bins.astype(str), "NaN").astype(object)


def read_side_tables(folder):
    """``u.user`` and ``u.item`` as frames of categorical attributes.

    Every attribute is computed from the side tables alone (the percentile
    bins over all users or items), never from the ratings.
    """
    import numpy as np
    import pandas as pd

    users = pd.read_csv(
        folder / "u.user",
        sep="|",
        names=["user", "age", "gender", "occupation", "zip"],
        encoding="latin-1",
    )
    users["age_bin"] = _percentile_bins(users["age"])
    users["age_number"] = users["age"].astype(float)
    users["age"] = users["age"].astype(str)
    users["zip"] = users["zip"].str[0]
    items = pd.read_csv(
        folder / "u.item",
        sep="|",
        names=["item", "title", "release", "video", "url", *GENRES],
        encoding="latin-1",
    )
    flags = items[GENRES].to_numpy().astype(bool)
    items["genres"] = [
        "|".join(g for g, f in zip(GENRES, row, strict=True) if f) for row in flags
    ]
    year = pd.to_datetime(items["release"], format="%d-%b-%Y").dt.year
    items["year_bin"] = _percentile_bins(year.to_numpy(dtype=np.float64))
    items["year_number"] = year.fillna(year.median()).astype(float)
    items["year"] = year.fillna(0).astype(int).astype(str)
    return (
        users[["user", "age", "age_bin", "age_number", "gender", "occupation", "zip"]],
        items[["item", "year", "year_bin", "year_number", "genres"]],
    )


def with_side(frame, users, items, train):
    """The ratings with their attribute and context columns, in their order.

    ``train`` is the training fold: the per-user and per-item activity
    attributes are counted on it alone.
    """
    import pandas as pd

    out = frame.merge(users, on="user", how="left").merge(items, on="item", how="left")
    day = out["timestamp"] // 86400
    out["date"] = day.astype(str)
    out["day_number"] = day.astype(float)
    # The user's day (Koren's timeSVD++ b_{u,t}): a category seen in fit when
    # the user also rated on that day in the training fold.
    out["user_day"] = out["user"].astype(str) + "@" + out["date"]
    out["month"] = pd.to_datetime(out["timestamp"], unit="s").dt.strftime("%Y-%m")
    # The item's month (timeSVD++'s b_i,Bin(t)).
    out["item_month"] = out["item"].astype(str) + "@" + out["month"]
    counts = train.groupby("user").size()
    out["activity"] = _log2_bin(out["user"].map(counts))
    mean_day = (train["timestamp"] // 86400).groupby(train["user"]).mean()
    out["mean_day"] = (out["user"].map(mean_day).fillna(-1) // 30).astype(str)
    popularity = train.groupby("item").size()
    out["popularity"] = _log2_bin(out["item"].map(popularity))
    return out


def _log2_bin(counts):
    import numpy as np

    values = counts.fillna(0).to_numpy(dtype=np.float64)
    return np.floor(np.log2(values + 1)).astype(int).astype(str).astype(object)


def skmf_fit_predict(spec, train, test, sweeps, burn_in, rank, n_jobs, seed):
    from skmf import BayesianFactorizationMachine

    columns = ["user", "item", *spec["user"], *spec["item"], *spec["context"]]
    model = BayesianFactorizationMachine(
        n_components=rank,
        user_features=spec["user"],
        item_features=spec["item"],
        context_features=spec["context"],
        implicit_feedback=spec["implicit"],
        n_samples=sweeps - burn_in,
        burn_in=burn_in,
        n_jobs=n_jobs,
        random_state=seed,
        **spec["priors"],
        **spec["skmf"],
    )
    start = time.perf_counter()
    model.fit(train[columns], train["rating"])
    fit_s = time.perf_counter() - start
    return model.predict(test[columns]), fit_s


def _encode(values, categories):
    """One-hot rows of ``values`` over ``categories``; a value with ``|`` is
    several categories, each worth ``1 / sqrt(n)`` (myFM's
    ``MultipleValuesToSparseEncoder(normalize=True)``). Unknown: no feature."""
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

    if isinstance(categories, _Numeric):
        column = (np.asarray(values, dtype=np.float64) - categories.mean) / (
            categories.scale
        )
        return sp.csr_matrix(column[:, None])
    parts = pd.Series(np.asarray(values, dtype=object)).str.split("|").explode()
    codes = categories.get_indexer(parts.to_numpy())
    rows = parts.index.to_numpy()
    counts = np.bincount(rows, minlength=len(values))
    keep = codes >= 0
    return sp.csr_matrix(
        (1 / np.sqrt(counts[rows[keep]]), (rows[keep], codes[keep])),
        shape=(len(values), len(categories)),
    )


class _Numeric:
    """A numeric column as one feature, standardized as skmf does."""

    def __init__(self, values):
        self.mean, self.scale = float(values.mean()), float(values.std()) or 1.0

    def __len__(self):
        return 1


def _categories(values):
    import numpy as np
    import pandas as pd

    if pd.api.types.is_float_dtype(values.dtype):
        return _Numeric(values.to_numpy(dtype=np.float64))

    tokens = pd.Series(np.asarray(values, dtype=object)).str.split("|").explode()
    return pd.Index(np.unique(tokens.to_numpy().astype(str)))


def myfm_fit_predict(spec, train, test, sweeps, burn_in, rank, seed):
    """myFM as its ``ml-100k-extended`` notebook configures it, same features.

    The categories of each column are those of the training fold, as in
    skmf, and each column is its own group.
    """
    import myfm
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp
    from myfm import RelationBlock

    start = time.perf_counter()
    index = {side: pd.Index(np.unique(train[side])) for side in ("user", "item")}
    tr_u = index["user"].get_indexer(train["user"])
    tr_i = index["item"].get_indexer(train["item"])
    seen = sp.csr_matrix(
        (np.ones(len(train)), (tr_u, tr_i)),
        shape=(len(index["user"]), len(index["item"])),
    )

    def normalized(matrix):
        matrix = matrix.tocsr().astype(np.float64)
        counts = np.diff(matrix.indptr)
        matrix.data /= np.sqrt(np.repeat(np.maximum(counts, 1), counts))
        return matrix

    histories = {"user": normalized(seen), "item": normalized(seen.T)}
    # A side's numeric columns are standardized over its training ids, as
    # skmf does (not over the ratings).
    categories = {
        name: _categories(train.drop_duplicates(side)[name])
        for side in ("user", "item")
        for name in spec[side]
    }
    for name in spec["context"]:
        categories[name] = _categories(train[name])

    def block(frame, side):
        """The relation block of the distinct ids of a frame, its groups."""
        ids, inverse, first = _unique(frame[side].to_numpy())
        rows = frame.iloc[first]
        codes = index[side].get_indexer(ids)
        parts = [_encode(ids.astype(str), index[side].astype(str))]
        shapes = [len(index[side])]
        for name in spec[side]:
            parts.append(_encode(rows[name].to_numpy(), categories[name]))
            shapes.append(len(categories[name]))
        if spec["implicit"] in (side, "both"):
            known = codes >= 0
            history = histories[side][np.where(known, codes, 0)]
            parts.append(sp.diags(known.astype(float)) @ history)
            shapes.append(history.shape[1])
        return RelationBlock(inverse, sp.hstack(parts, format="csr")), shapes

    def features(frame):
        blocks, shapes = [], []
        for name in spec["context"]:
            shapes.append(len(categories[name]))
        main = [
            _encode(frame[name].to_numpy(), categories[name])
            for name in spec["context"]
        ]
        main = sp.hstack(main, format="csr") if main else sp.csr_matrix((len(frame), 0))
        for side in ("user", "item"):
            rel, group = block(frame, side)
            blocks.append(rel)
            shapes += group
        return main, blocks, shapes

    tr_main, tr_blocks, shapes = features(train)
    fm = myfm.MyFMRegressor(
        rank=rank,
        random_seed=seed,
        **{_MYFM_PRIORS[name]: value for name, value in spec["priors"].items()},
    )
    fm.fit(
        tr_main,
        train["rating"].to_numpy(dtype=np.float64),
        X_rel=tr_blocks,
        n_iter=sweeps,
        n_kept_samples=sweeps - burn_in,
        group_shapes=shapes,
    )
    fit_s = time.perf_counter() - start
    te_main, te_blocks, _ = features(test)
    prediction = fm.predict(te_main, te_blocks)
    return np.clip(prediction, train["rating"].min(), train["rating"].max()), fit_s


# skmf's names of the hyper-priors and of the initialization, and myFM's.
_MYFM_PRIORS = {
    "prior_shape": "alpha_0",
    "prior_rate": "beta_0",
    "prior_strength": "gamma_0",
    "init_std": "init_stdev",
}


def _unique(values):
    import numpy as np

    ids, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    return ids, inverse, first


def cold_start(data, users, items, sweeps, burn_in, rank, n_jobs):
    """RMSE on 20% of the items held out with all their ratings (seeded).

    skmf's factorization machine with the item attributes, against the
    fallback of MatrixFactorization for unknown items (global mean plus the
    user's bias).
    """
    import numpy as np
    import pandas as pd

    from skmf import BayesianFactorizationMachine, MatrixFactorization

    ratings = pd.read_csv(
        data / "u.data", sep="\t", names=["user", "item", "rating", "timestamp"]
    )
    rng = np.random.default_rng(0)
    all_items = np.unique(ratings["item"])
    held = rng.choice(all_items, size=len(all_items) // 5, replace=False)
    test_mask = ratings["item"].isin(held).to_numpy()
    ratings = with_side(ratings, users, items, ratings[~test_mask])
    train, test = ratings[~test_mask], ratings[test_mask]
    columns = ["user", "item", *_NOTEBOOK_ITEM]
    fm = BayesianFactorizationMachine(
        n_components=rank,
        item_features=_NOTEBOOK_ITEM,
        n_samples=sweeps - burn_in,
        burn_in=burn_in,
        n_jobs=n_jobs,
        random_state=0,
    ).fit(train[columns], train["rating"])
    mf = MatrixFactorization(random_state=0).fit(
        train[["user", "item"]], train["rating"]
    )
    truth = test["rating"].to_numpy()
    return {
        "fm": float(np.sqrt(np.mean((fm.predict(test[columns]) - truth) ** 2))),
        "mf": float(
            np.sqrt(np.mean((mf.predict(test[["user", "item"]]) - truth) ** 2))
        ),
        "n_items": len(held),
        "n_ratings": int(test_mask.sum()),
    }


def _scores(prediction, truth):
    import numpy as np

    error = prediction - truth
    return float(np.sqrt(np.mean(error**2))), float(np.mean(np.abs(error)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sweeps", type=int, default=200)
    parser.add_argument("--burn-in", type=int, default=20)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--folds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument(
        "--configs", nargs="+", default=list(DEFAULT_CONFIGS), choices=list(CONFIGS)
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="fit each fold once per seed; a fold's figures are the means",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-myfm", action="store_true")
    parser.add_argument("--no-cold-start", action="store_true")
    parser.add_argument(
        "--cold-start-only", action="store_true", help="run only the cold start"
    )
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    # myFM draws a progress bar per fit on stderr; the per-fold lines suffice.
    os.environ.setdefault("TQDM_DISABLE", "1")

    import numpy as np

    from skmf.datasets import load_movielens_100k_folds

    if not (args.data / "u.data").is_file():
        sys.exit(f"MovieLens 100K not found in {args.data}: pass --data.")
    folds = load_movielens_100k_folds(args.data)
    users, items = read_side_tables(args.data)
    try:
        import myfm  # noqa: F401

        have_myfm = not args.no_myfm
    except ImportError:
        print("myFM is not installed (pip install myfm): its rows are missing.")
        have_myfm = False

    print(
        f"MovieLens 100K, folds {args.folds}, {args.sweeps} sweeps ({args.burn_in} "
        f"burn-in), seeds {args.seeds}, {args.threads} thread(s), "
        f"{time.strftime('%Y-%m-%d')}"
    )
    if not args.no_cold_start or args.cold_start_only:
        cold = cold_start(
            args.data, users, items, args.sweeps, args.burn_in, args.rank,
            args.threads,
        )  # fmt: skip
        print(
            f"Cold start, {cold['n_items']} items held out with their "
            f"{cold['n_ratings']} ratings: RMSE factorization machine with item "
            f"attributes {cold['fm']:.4f}, MatrixFactorization fallback (mean + "
            f"user bias) {cold['mf']:.4f}, difference {cold['mf'] - cold['fm']:+.4f}",
            flush=True,
        )
    if args.cold_start_only:
        return
    libs = ("skmf", "myfm") if have_myfm else ("skmf",)
    results = {}
    for name in args.configs:
        spec = CONFIGS[name]
        rank = spec["rank"] or args.rank
        burn_in = args.burn_in if spec["burn_in"] is None else spec["burn_in"]
        found = {lib: {"rmse": [], "mae": [], "fit": []} for lib in libs}
        for k in args.folds:
            train, test = folds[k - 1]
            train, test = (with_side(f, users, items, train) for f in (train, test))
            truth = test["rating"].to_numpy()
            line = f"  {name:20s} rank {rank:2d} burn-in {burn_in} fold {k}:"
            runs = {lib: [] for lib in libs}
            # Seed by seed, skmf then myFM, so that both see the same load.
            for seed in args.seeds:
                for lib in libs:
                    run = skmf_fit_predict if lib == "skmf" else myfm_fit_predict
                    extra = (args.threads,) if lib == "skmf" else ()
                    pred, fit_s = run(
                        spec, train, test, args.sweeps, burn_in, rank, *extra,
                        seed,
                    )  # fmt: skip
                    runs[lib].append((*_scores(pred, truth), fit_s))
            for lib in libs:
                rmse, mae, fit_s = np.mean(runs[lib], axis=0)
                found[lib]["rmse"].append(rmse)
                found[lib]["mae"].append(mae)
                found[lib]["fit"].append(fit_s)
                line += f" {lib} {rmse:.4f} ({fit_s:.1f} s)"
                if len(args.seeds) > 1:
                    line += " [" + " ".join(f"{r[0]:.4f}" for r in runs[lib]) + "]"
            print(line, flush=True)
        results[name] = (rank, found)

    print()
    print(
        "| config | rank | lib | RMSE | MAE | s per sweep | myFM / skmf time | "
        "per-fold RMSE | folds no worse than myFM |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (rank, found) in results.items():
        for lib in libs:
            r = found[lib]
            sweep = np.mean(r["fit"]) / args.sweeps
            ratio, better = "", ""
            if have_myfm and lib == "skmf":
                ratio = f"{np.mean(found['myfm']['fit']) / np.mean(r['fit']):.2f}x"
                wins = np.array(r["rmse"]) <= np.array(found["myfm"]["rmse"])
                better = f"{int(wins.sum())}/{len(wins)}"
            per_fold = ", ".join(f"{x:.4f}" for x in r["rmse"])
            print(
                f"| {name} | {rank} | {lib} | {np.mean(r['rmse']):.4f} | "
                f"{np.mean(r['mae']):.4f} | {sweep:.4f} | {ratio} | {per_fold} | "
                f"{better} |"
            )
    if have_myfm:
        print()
        for name, (rank, found) in results.items():
            s, m = found["skmf"], found["myfm"]
            worst = max(a - b for a, b in zip(s["rmse"], m["rmse"], strict=True))
            print(
                f"{name} (rank {rank}): mean RMSE skmf - myFM = "
                f"{np.mean(s['rmse']) - np.mean(m['rmse']):+.4f}, worst fold "
                f"{worst:+.4f}; myFM / skmf time per sweep = "
                f"{np.mean(m['fit']) / np.mean(s['fit']):.2f}x"
            )


if __name__ == "__main__":
    main()
