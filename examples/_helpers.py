"""What the examples share: their command line, the data and the figures.

Every example runs as ``python examples/NAME.py`` and takes the same options:

``--save DIR``
    Write the example's figures to DIR as PNG files. Without it the figures
    are shown in a window where there is a display, and not drawn at all
    where there is none (a server, CI).
``--no-download``
    Never download MovieLens: use it only if it is already in the data folder.
``--quick``
    A much shorter run (fewer epochs, a smaller grid), to check that the
    example works; its numbers mean little.

MovieLens 100K is read by :func:`skmf.datasets.fetch_movielens` from the data
folder, ``$SKMF_DATA_HOME`` (else ``~/skmf_data``), as ``ml-100k.zip`` or the
extracted ``ml-100k/`` folder, and downloaded there on first use. Where it can
be neither read nor downloaded, the examples say so and run on synthetic
ratings of the same shape from :func:`skmf.datasets.make_ratings`.
"""

import argparse
import os
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from skmf.datasets import fetch_movielens, make_ratings

# matplotlib backends that draw to files only: plt.show() would do nothing.
_NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def parse_args(doc):
    """The examples' command line, described by the example's docstring."""
    lines = [line for line in (doc or "").strip().splitlines() if line.strip("= ")]
    parser = argparse.ArgumentParser(description=lines[0] if lines else None)
    parser.add_argument(
        "--save",
        metavar="DIR",
        help="write the figures to DIR as PNG files instead of showing them",
    )
    parser.add_argument(
        "--no-download",
        action="store_true",
        help="use MovieLens only if it is already in $SKMF_DATA_HOME",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a much shorter run, to check that the example works",
    )
    # In a notebook (the gallery's download), sys.argv is the kernel's
    # command line, not the example's.
    args = parser.parse_args([] if "ipykernel" in sys.modules else None)
    if args.quick:
        # A few epochs are meant to stop before convergence.
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
    if args.save is not None:
        import matplotlib

        matplotlib.use("Agg")  # draw to files only, never open a window
    return args


def load_movielens_100k(download=True):
    """MovieLens 100K as ``(X, y, titles)``, or synthetic ratings like it.

    ``X`` is a DataFrame of (user, item) ids, ``y`` the ratings and
    ``titles`` a Series of movie titles indexed by item id.
    """
    try:
        ratings = fetch_movielens("100k", download_if_missing=download)
    except OSError as exc:
        print(
            textwrap.fill(
                f"Note: {exc} Using synthetic ratings of the same shape from "
                "skmf.datasets.make_ratings instead: the numbers below are not "
                "MovieLens's.",
                79,
                break_long_words=False,
                break_on_hyphens=False,
            )
            + "\n"
        )
        X, y = make_ratings(943, 1682, 100_000, random_state=0)
        X = pd.DataFrame(X, columns=["user", "item"])
        items = np.arange(1682)
        titles = pd.Series([f"item {item}" for item in items], index=items)
        return X, pd.Series(y, name="rating"), titles
    print(
        f"MovieLens 100K: {len(ratings.target):,} ratings of "
        f"{ratings.data['item'].nunique():,} movies by "
        f"{ratings.data['user'].nunique():,} users.\n"
    )
    return ratings.data, ratings.target, ratings.movies["title"]


def load_movielens_100k_with_genres(download=True):
    """MovieLens 100K's ratings with each movie's genres and year as columns.

    Returns a DataFrame with the columns ``user``, ``item``, ``genres``
    ("|"-separated) and ``year``, and the ratings. Where MovieLens is absent,
    synthetic ratings whose "genres" are the signs of the bias and the first
    two factors that generated each item, so that they say something of the
    ratings.
    """
    try:
        ratings = fetch_movielens("100k", download_if_missing=download)
    except OSError as exc:
        print(
            textwrap.fill(
                f"Note: {exc} Using synthetic ratings from "
                "skmf.datasets.make_ratings instead, with made-up genres: the "
                "numbers below are not MovieLens's.",
                79,
                break_long_words=False,
                break_on_hyphens=False,
            )
            + "\n"
        )
        X, y, truth = make_ratings(
            943, 1682, 100_000, return_factors=True, random_state=0
        )
        signs = np.column_stack([truth.item_bias, truth.item_factors[:, :2]]) > 0
        names = np.array(["A", "B", "C"])
        genres = np.array(["|".join(names[row]) or "none" for row in signs])
        X = pd.DataFrame(X, columns=["user", "item"])
        X["genres"] = genres[X["item"]]
        X["year"] = 1990
        return X, pd.Series(y, name="rating")
    movies = ratings.movies
    # One movie has no release date: give it the median year.
    year = movies["year"].fillna(movies["year"].median()).astype("int64")
    X = ratings.data.join(movies["genres"], on="item").join(year, on="item")
    print(
        f"MovieLens 100K: {len(ratings.target):,} ratings of "
        f"{ratings.data['item'].nunique():,} movies with their genres and year.\n"
    )
    return X, ratings.target


def show_or_save(figures, save):
    """Write ``{name: figure}`` to the folder ``save``, else show them.

    Nothing is shown with a non-interactive backend (no display).
    """
    import matplotlib
    import matplotlib.pyplot as plt

    if "sphinx_gallery" in sys.modules:
        # The documentation's gallery collects the open figures after each
        # cell: closing them here would leave its page without them.
        return
    if save is not None:
        os.makedirs(save, exist_ok=True)
        for name, figure in figures.items():
            path = os.path.join(save, f"{name}.png")
            figure.savefig(path, dpi=100)
            print(f"Wrote {path}")
    elif matplotlib.get_backend().lower() not in _NON_INTERACTIVE:
        plt.show()
    else:
        print("No display: pass --save DIR to write the figures.", file=sys.stderr)
    plt.close("all")
