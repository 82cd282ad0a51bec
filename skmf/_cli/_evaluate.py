"""``skmf evaluate``: cross-validate a baseline and the factor models."""

import argparse
import sys
import time

from .._bayes import BayesianMatrixFactorization
from .._mf import MatrixFactorization
from ._common import (
    UsageError,
    add_data_arguments,
    add_model_arguments,
    columns,
    cross_validate_models,
    describe,
    describe_folds,
    load_ratings,
    mean_std,
    model_params,
    n_folds,
    print_data,
)


def baseline_model(**params):
    """Global mean plus regularized user and item biases, without factors.

    ALS from all-zero factors: with the item factors zero, a user's normal
    equations decouple into zero for the factors and the regularized least
    squares bias, and likewise for the items, so the factors stay exactly zero
    and each sweep solves the biases of the same objective, with the same
    ``alpha``, as the factor models.
    """
    params = {k: v for k, v in params.items() if k != "n_components"}
    return MatrixFactorization(n_components=1, solver="als", init_std=0.0, **params)


def _evaluate_models(args):
    params = model_params(args)
    # The Bayesian model keeps its own rank and sweep counts: --n-components
    # and --max-iter size the least-squares models.
    shared = {k: params[k] for k in ("random_state", "n_jobs") if k in params}
    return {
        "baseline": baseline_model(**params),
        "sgd": MatrixFactorization(solver="sgd", **params),
        "als": MatrixFactorization(solver="als", **params),
        "bayes": BayesianMatrixFactorization(**shared),
    }


def _format_table(results):
    rows = []
    for name, scores in results.items():
        if isinstance(scores, Exception):
            rows.append((name, "failed", "", ""))
            continue
        rows.append(
            (
                name,
                mean_std(scores.rmse.mean(), scores.rmse.std()),
                mean_std(scores.mae.mean(), scores.mae.std()),
                f"{scores.fit_time.mean():.2f} s",
            )
        )
    return columns(("model", "RMSE", "MAE", "fit time"), rows)


def run_evaluate(args):
    """Cross-validate the baseline, both solvers and the Bayesian model."""
    start = time.perf_counter()
    ratings = load_ratings(args)
    n_ratings = ratings.y.shape[0]
    if n_ratings < args.folds:
        raise UsageError(
            f"{args.folds}-fold cross-validation needs at least {args.folds} "
            f"ratings; the data has {n_ratings}."
        )
    print_data(ratings)
    models = _evaluate_models(args)
    print("models (parameters not at their defaults):")
    for name, model in models.items():
        print(f"      {name:<8}  {describe(model)}")
        if name == "baseline":
            print(
                f"      {'':<8}  = global mean + user and item biases; factors stay 0"
            )
    print(
        f"{describe_folds(args.folds, args.seed)}; mean ± std over folds, "
        "fit time per fold"
    )
    print()
    results = cross_validate_models(
        models, ratings.X, ratings.y, folds=args.folds, seed=args.seed
    )
    print(_format_table(results))
    failed = {name: exc for name, exc in results.items() if isinstance(exc, Exception)}
    for name, exc in failed.items():
        print(f"skmf evaluate: {name} failed: {exc}", file=sys.stderr)
    print()
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 1 if failed else 0


def add_evaluate(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="cross-validate a biases-only baseline, both solvers and the "
        "Bayesian model (default)",
        description="K-fold cross-validation of a biases-only baseline, of\n"
        "MatrixFactorization with solver='sgd' and solver='als', and of\n"
        "BayesianMatrixFactorization (with its own defaults: --n-components\n"
        "and --max-iter apply to the others), on a ratings file or on a\n"
        "generated data set. Prints RMSE and MAE (mean ± std over the folds)\n"
        "and the mean fit time per fold.",
        epilog="examples:\n"
        "  skmf                                  # generated data\n"
        "  skmf evaluate ml-100k/u.data          # tab-separated, no header\n"
        "  skmf ratings.csv --user-col userId --item-col movieId --rating-col rating"
        "\n  skmf ratings.csv --folds 3 --n-components 50 --max-iter 20",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_arguments(parser)
    group = parser.add_argument_group("cross-validation")
    group.add_argument(
        "--folds",
        type=n_folds,
        default=5,
        metavar="K",
        help="number of folds (default: 5)",
    )
    add_model_arguments(parser)
    parser.set_defaults(run=run_evaluate)
