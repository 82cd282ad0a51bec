"""``skmf fit``: fit one model on a ratings file and save it."""

import argparse
import sys
import time
import warnings

from sklearn.exceptions import ConvergenceWarning

from .._mf import MatrixFactorization
from ._common import (
    add_data_arguments,
    add_model_arguments,
    check_params,
    describe,
    load_ratings,
    model_params,
    nonnegative_float,
    positive_float,
    print_data,
    rmse,
)
from ._models import check_output, save


def run_fit(args):
    """Fit one model on the ratings and save it."""
    start = time.perf_counter()
    check_output(args.output)
    params = model_params(args)
    params["solver"] = args.solver
    for name in ("alpha", "learning_rate"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    if args.early_stopping:
        params["early_stopping"] = True
    if args.verbose:
        params["verbose"] = 1
    model = MatrixFactorization(**params)
    check_params(model)
    ratings = load_ratings(args)
    print_data(ratings)
    print(f"model: {describe(model)}")
    fit_start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            model.fit(ratings.X, ratings.y)
        except ValueError as exc:
            print(f"skmf fit: the fit failed: {exc}", file=sys.stderr)
            return 1
    fit_time = time.perf_counter() - fit_start
    for warning in caught:
        print(f"skmf fit: warning: {warning.message}", file=sys.stderr)
    print(
        f"fitted in {fit_time:.2f} s ({model.n_iter_} iterations); training RMSE "
        f"{rmse(model, ratings.X, ratings.y):.4f}"
        + (
            f", best validation RMSE {-model.best_validation_score_:.4f}"
            if model.best_validation_score_ is not None
            else ""
        )
    )
    save(model, args.output)
    print(f"saved to {args.output}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def add_fit(subparsers):
    parser = subparsers.add_parser(
        "fit",
        help="fit a model on a ratings file and save it",
        description="Fit MatrixFactorization on a ratings file (or, without one,\n"
        "on a generated data set) and save the fitted model in skmf's model\n"
        "format, which loads without running code. Load it in Python with\n"
        "skmf.load_model(path), or use it with 'skmf recommend'.",
        epilog="examples:\n"
        "  skmf fit ml-100k/u.data -o model.skmf\n"
        "  skmf fit ratings.csv --user-col userId --item-col movieId -o m.skmf \\\n"
        "      --solver als --n-components 50 --alpha 0.05 --verbose\n"
        "  skmf fit ratings.parquet -o m.skmf --early-stopping",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_arguments(parser)
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="MODEL",
        help="file to save the fitted model to (replaced if it exists)",
    )
    group = add_model_arguments(parser)
    group.add_argument(
        "--solver", choices=("sgd", "als"), default="sgd", help="(default: sgd)"
    )
    group.add_argument(
        "--alpha", type=nonnegative_float, metavar="λ", help="regularization"
    )
    group.add_argument(
        "--learning-rate",
        type=positive_float,
        metavar="η",
        help="initial SGD step size (SGD only)",
    )
    group.add_argument(
        "--early-stopping",
        action="store_true",
        help="hold out 10%% of the ratings and keep the best epoch",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print the loss, time and ETA of every epoch",
    )
    parser.set_defaults(run=run_fit)
