"""Bayesian factorization machines on MovieLens 100K: skmf against myFM, one run.

    python benchmarks/fm_ml100k.py [--data ../shared/data/ml-100k]
        [--sweeps 200] [--burn-in 20] [--folds 1 2 3 4 5] [--configs ...]

Each configuration is fitted on the five canonical training sets (u.data minus
u1.test .. u5.test) by skmf's BayesianFactorizationMachine and, when
``pip install myfm`` has installed it, by myFM 0.4 given the same features,
the same rank and the same number of sweeps, in this one process. The
configurations follow myFM's MovieLens notebook:

- ``ids``: user and item one-hots (separate priors per group);
- ``implicit``: + the items each user rated and the users who rated each item,
  from the training fold only (the strict protocol);
- ``extended``: + user attributes (age, gender, occupation, first digit of the
  zip code) and item attributes (release year, genres) from ``u.user`` and
  ``u.item``, and the date of the rating as a one-hot.

It first prints the cold-start figure: 20% of the items (a seeded choice)
held out with all their ratings, predicted from their attributes, against
MatrixFactorization's fallback for unknown items. Then per-fold RMSE, the
mean RMSE and MAE, the fit time and the seconds per sweep of both libraries,
and their ratios. Both run on one thread
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

CONFIGS = ("ids", "implicit", "extended")
GENRES = (
    "unknown Action Adventure Animation Children Comedy Crime Documentary Drama "
    "Fantasy Film-Noir Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()


def read_side_tables(folder):
    """``u.user`` and ``u.item`` as frames of categorical attributes."""
    import pandas as pd

    users = pd.read_csv(
        folder / "u.user",
        sep="|",
        names=["user", "age", "gender", "occupation", "zip"],
        encoding="latin-1",
    )
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
    items["year"] = pd.to_datetime(items["release"], format="%d-%b-%Y").dt.year
    items["year"] = items["year"].fillna(0).astype(int).astype(str)
    return users[["user", "age", "gender", "occupation", "zip"]], items[
        ["item", "year", "genres"]
    ]


USER_COLUMNS = ["age", "gender", "occupation", "zip"]
ITEM_COLUMNS = ["year", "genres"]


def with_side(frame, users, items):
    """The ratings with their attribute columns and date, in their order."""
    out = frame.merge(users, on="user", how="left").merge(items, on="item", how="left")
    out["date"] = (out["timestamp"] // 86400).astype(str)
    return out


def skmf_fit_predict(config, train, test, sweeps, burn_in, rank, n_jobs):
    from skmf import BayesianFactorizationMachine

    columns = ["user", "item"]
    params = {}
    if config in ("implicit", "extended"):
        params["implicit_feedback"] = "both"
    if config == "extended":
        columns += USER_COLUMNS + ITEM_COLUMNS + ["date"]
        params.update(
            user_features=USER_COLUMNS,
            item_features=ITEM_COLUMNS,
            context_features=["date"],
        )
    model = BayesianFactorizationMachine(
        n_components=rank,
        n_samples=sweeps - burn_in,
        burn_in=burn_in,
        n_jobs=n_jobs,
        random_state=0,
        **params,
    )
    start = time.perf_counter()
    model.fit(train[columns], train["rating"])
    fit_s = time.perf_counter() - start
    return model.predict(test[columns]), fit_s


def _one_hot(values, categories):
    import numpy as np
    import scipy.sparse as sp

    codes = categories.get_indexer(values)
    rows = np.flatnonzero(codes >= 0)
    return sp.csr_matrix(
        (np.ones(rows.shape[0]), (rows, codes[rows])),
        shape=(len(values), len(categories)),
    )


def _multi_hot(values, categories):
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

    parts = pd.Series(values).str.split("|").explode()
    codes = categories.get_indexer(parts.to_numpy())
    rows = parts.index.to_numpy()
    counts = np.bincount(rows, minlength=len(values))
    keep = codes >= 0
    return sp.csr_matrix(
        (1 / np.sqrt(counts[rows[keep]]), (rows[keep], codes[keep])),
        shape=(len(values), len(categories)),
    )


def myfm_fit_predict(config, train, test, sweeps, burn_in, rank, users, items):
    """myFM as its MovieLens notebook configures it, on the same features."""
    import myfm
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp
    from myfm import RelationBlock

    start = time.perf_counter()
    user_ids = pd.Index(np.unique(train["user"]))
    item_ids = pd.Index(np.unique(train["item"]))
    tr_u = user_ids.get_indexer(train["user"])
    tr_i = item_ids.get_indexer(train["item"])
    seen = sp.csr_matrix(
        (np.ones(len(train)), (tr_u, tr_i)), shape=(len(user_ids), len(item_ids))
    )

    def normalized(matrix):
        matrix = matrix.tocsr().astype(np.float64)
        counts = np.diff(matrix.indptr)
        matrix.data /= np.sqrt(np.repeat(np.maximum(counts, 1), counts))
        return matrix

    histories = (normalized(seen), normalized(seen.T))
    attr_cats = {}
    if config == "extended":
        for name in USER_COLUMNS:
            attr_cats[name] = pd.Index(np.unique(users[name].astype(str)))
        attr_cats["year"] = pd.Index(np.unique(items["year"]))
        attr_cats["genres"] = pd.Index(GENRES)
        dates = pd.Index(np.unique(train["date"]))

    def block(side, ids):
        """Block rows and group shapes for the distinct ids of a frame."""
        table = users if side == "user" else items
        index = user_ids if side == "user" else item_ids
        codes = index.get_indexer(ids)
        parts = [_one_hot(ids, index)]
        shapes = [len(index)]
        if config == "extended":
            attrs = table.set_index(side).loc[ids]
            for name in USER_COLUMNS if side == "user" else ITEM_COLUMNS:
                maker = _multi_hot if name == "genres" else _one_hot
                parts.append(maker(attrs[name].to_numpy(), attr_cats[name]))
                shapes.append(len(attr_cats[name]))
        if config in ("implicit", "extended"):
            history = histories[0 if side == "user" else 1]
            known = codes >= 0
            rows = history[np.where(known, codes, 0)]
            parts.append(sp.diags(known.astype(float)) @ rows)
            shapes.append(history.shape[1])
        return sp.hstack(parts, format="csr"), shapes

    def relations(frame):
        blocks, shapes = [], []
        for side in ("user", "item"):
            ids, index = np.unique(frame[side].to_numpy(), return_inverse=True)
            matrix, group = block(side, ids)
            blocks.append(RelationBlock(index, matrix))
            shapes += group
        return blocks, shapes

    def main(frame):
        if config != "extended":
            return sp.csr_matrix((len(frame), 0)), []
        return _one_hot(frame["date"].to_numpy(), dates), [len(dates)]

    tr_blocks, rel_shapes = relations(train)
    tr_main, main_shapes = main(train)
    fm = myfm.MyFMRegressor(rank=rank, random_seed=0)
    fm.fit(
        tr_main,
        train["rating"].to_numpy(dtype=np.float64),
        X_rel=tr_blocks,
        n_iter=sweeps,
        n_kept_samples=sweeps - burn_in,
        group_shapes=main_shapes + rel_shapes,
    )
    fit_s = time.perf_counter() - start
    te_blocks, _ = relations(test)
    te_main, _ = main(test)
    prediction = fm.predict(te_main, te_blocks)
    return np.clip(prediction, 1, 5), fit_s


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
    ratings = with_side(ratings, users, items)
    rng = np.random.default_rng(0)
    all_items = np.unique(ratings["item"])
    held = rng.choice(all_items, size=len(all_items) // 5, replace=False)
    test_mask = ratings["item"].isin(held).to_numpy()
    train, test = ratings[~test_mask], ratings[test_mask]
    columns = ["user", "item", *ITEM_COLUMNS]
    fm = BayesianFactorizationMachine(
        n_components=rank,
        item_features=ITEM_COLUMNS,
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sweeps", type=int, default=200)
    parser.add_argument("--burn-in", type=int, default=20)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--folds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-myfm", action="store_true")
    parser.add_argument(
        "--cold-start-only", action="store_true", help="run only the cold start"
    )
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

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
        f"MovieLens 100K, folds {args.folds}, rank {args.rank}, {args.sweeps} "
        f"sweeps ({args.burn_in} burn-in), {args.threads} thread(s), "
        f"{time.strftime('%Y-%m-%d')}"
    )
    cold = cold_start(
        args.data, users, items, args.sweeps, args.burn_in, args.rank, args.threads
    )
    print(
        f"Cold start, {cold['n_items']} items held out with their "
        f"{cold['n_ratings']} ratings: RMSE factorization machine with item "
        f"attributes {cold['fm']:.4f}, MatrixFactorization fallback (mean + user "
        f"bias) {cold['mf']:.4f}, difference {cold['mf'] - cold['fm']:+.4f}",
        flush=True,
    )
    if args.cold_start_only:
        return
    rows = []
    for config in args.configs:
        for lib in ("skmf", "myfm") if have_myfm else ("skmf",):
            rmse, mae, fit = [], [], []
            for k in args.folds:
                train, test = (with_side(f, users, items) for f in folds[k - 1])
                if lib == "skmf":
                    pred, fit_s = skmf_fit_predict(
                        config, train, test, args.sweeps, args.burn_in, args.rank,
                        args.threads,
                    )  # fmt: skip
                else:
                    pred, fit_s = myfm_fit_predict(
                        config, train, test, args.sweeps, args.burn_in, args.rank,
                        users, items,
                    )  # fmt: skip
                error = pred - test["rating"].to_numpy()
                rmse.append(float(np.sqrt(np.mean(error**2))))
                mae.append(float(np.mean(np.abs(error))))
                fit.append(fit_s)
                print(
                    f"  {config:9s} {lib:5s} fold {k}: RMSE {rmse[-1]:.4f} "
                    f"fit {fit_s:.2f} s",
                    flush=True,
                )
            rows.append((config, lib, np.mean(rmse), np.mean(mae), np.mean(fit), rmse))
    print()
    print("| model | RMSE | MAE | fit s / fold | s per sweep | per fold |")
    print("|---|---|---|---|---|---|")
    for config, lib, rmse, mae, fit, per_fold in rows:
        folds_text = ", ".join(f"{r:.4f}" for r in per_fold)
        print(
            f"| {lib} {config} | {rmse:.4f} | {mae:.4f} | {fit:.2f} | "
            f"{fit / args.sweeps:.4f} | {folds_text} |"
        )
    if have_myfm:
        print()
        by = {(c, lib): (r, f) for c, lib, r, _, f, _ in rows}
        for config in args.configs:
            (r_s, f_s), (r_m, f_m) = by[config, "skmf"], by[config, "myfm"]
            print(
                f"{config}: RMSE skmf - myFM = {r_s - r_m:+.4f}; myFM / skmf "
                f"time per sweep = {f_m / f_s:.2f}x"
            )


if __name__ == "__main__":
    main()
