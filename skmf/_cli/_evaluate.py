"""``skmf evaluate``: cross-validate a baseline and the factor models."""

import argparse
import sys
import time

from sklearn.base import clone

from .._bayes import BayesianMatrixFactorization
from .._mf import MatrixFactorization
from ._common import (
    Progress,
    add_data_arguments,
    add_model_arguments,
    add_verbosity_arguments,
    check_folds,
    columns,
    cross_validate_models,
    describe,
    describe_folds,
    load_ratings,
    mean_std,
    model_params,
    n_folds,
    plural,
    print_data,
    say,
)

# The models evaluate can run, in the order of its table.
MODEL_NAMES = ("baseline", "sgd", "als", "bayes")
MODEL_HELP = {
    "baseline": "global mean + user and item biases, no factors",
    "sgd": "MatrixFactorization(solver='sgd')",
    "als": "MatrixFactorization(solver='als')",
    "bayes": "BayesianMatrixFactorization, the costliest",
}


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


def model_names(text):
    """--models: comma-separated names of MODEL_NAMES, in the table's order."""
    names = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(names - set(MODEL_NAMES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown model {', '.join(map(repr, unknown))}; choose among "
            f"{','.join(MODEL_NAMES)}"
            if unknown
            else f"no model names in {text!r}"
        )
    return [name for name in MODEL_NAMES if name in names]


def _evaluate_models(args):
    params = model_params(args)
    # The Bayesian model keeps its own rank and sweep counts: --n-components
    # and --max-iter size the least-squares models.
    shared = {k: params[k] for k in ("random_state", "n_jobs") if k in params}
    models = {
        "baseline": lambda: baseline_model(**params),
        "sgd": lambda: MatrixFactorization(solver="sgd", **params),
        "als": lambda: MatrixFactorization(solver="als", **params),
        "bayes": lambda: BayesianMatrixFactorization(**shared),
    }
    return {name: models[name]() for name in args.models}


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
    """Cross-validate the chosen models: by default all of MODEL_NAMES."""
    start = time.perf_counter()
    models = _evaluate_models(args)
    ratings = load_ratings(args)
    check_folds(ratings, args.folds)
    if not args.quiet:
        print_data(ratings)
        print("models (parameters not at their defaults):")
        for name, model in models.items():
            print(f"      {name:<8}  {describe(model)}")
            if name == "baseline":
                print(
                    f"      {'':<8}  = global mean + user and item biases; "
                    "factors stay 0"
                )
        print(
            f"{describe_folds(args.folds, args.seed)}; mean ± std over folds, "
            "fit time per fold"
        )
        print()
        # The description is read before the long wait, even through a pipe.
        sys.stdout.flush()
    n_fits = len(models) * args.folds
    with Progress(n_fits, "fits", quiet=args.quiet, bar=not args.verbose) as progress:
        results = cross_validate_models(
            {name: clone(model) for name, model in models.items()},
            ratings.X,
            ratings.y,
            folds=args.folds,
            seed=args.seed,
            progress=progress,
            verbose=args.verbose,
        )
    print(_format_table(results))
    failed = {name: exc for name, exc in results.items() if isinstance(exc, Exception)}
    for name, exc in failed.items():
        print(f"skmf evaluate: {name} failed: {exc}", file=sys.stderr)
    say(
        args,
        "",
        f"done in {time.perf_counter() - start:.1f} s ({plural(n_fits, 'fit')})",
    )
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
        "and the mean fit time per fold on stdout, and the progress of every\n"
        "fold on stderr (with a progress bar when stderr is a terminal).",
        epilog="models (--models):\n"
        + "".join(f"  {name:<9} {text}\n" for name, text in MODEL_HELP.items())
        + "\nexamples:\n"
        "  skmf                                  # generated data\n"
        "  skmf evaluate ml-100k/u.data          # tab-separated, no header\n"
        "  skmf evaluate ml-100k/u.data --models sgd,als --quiet\n"
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
    model = add_model_arguments(parser)
    model.add_argument(
        "--models",
        type=model_names,
        default=list(MODEL_NAMES),
        metavar="NAME,...",
        help=f"the models to evaluate, comma-separated, among {','.join(MODEL_NAMES)}"
        " (default: all)",
    )
    add_verbosity_arguments(
        parser,
        "also print the estimators' own line for every epoch or sweep (on stderr)",
    )
    parser.set_defaults(run=run_evaluate)
