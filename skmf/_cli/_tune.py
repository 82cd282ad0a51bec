"""``skmf tune``: grid search with cross-validation."""

import argparse
import sys
import time

from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

from .._mf import MatrixFactorization
from ._common import (
    Progress,
    UsageError,
    add_data_arguments,
    add_model_arguments,
    add_verbosity_arguments,
    check_folds,
    check_params,
    columns,
    cross_validate_models,
    describe,
    describe_folds,
    error_line,
    fit_quietly_or_verbosely,
    list_of,
    load_ratings,
    mean_std,
    model_params,
    n_folds,
    nonnegative_float,
    plural,
    positive_float,
    positive_int,
    print_data,
    say,
)
from ._models import check_output, save

# Grid searched when a parameter's values are not given.
DEFAULT_GRID = {
    "n_components": [10, 50, 100],
    "alpha": [0.01, 0.05, 0.1],
    "learning_rate": [0.005, 0.01, 0.02],
}


def _grid_table(candidates, results, grid):
    """The grid's rows, best first: parameters, RMSE and MAE, fit time."""
    names = list(grid)
    header = ("rank", *names, "RMSE", "MAE", "fit time")
    scored = [
        (key, scores)
        for key, scores in results.items()
        if not isinstance(scores, Exception)
    ]
    # Ties share the better rank, as in GridSearchCV's rank_test_score.
    scored.sort(key=lambda pair: pair[1].rmse.mean())
    rows = []
    rank = 0
    previous = None
    for position, (key, scores) in enumerate(scored, 1):
        mean = scores.rmse.mean()
        if mean != previous:
            rank, previous = position, mean
        rows.append(
            (
                str(rank),
                *(f"{candidates[key][name]:g}" for name in names),
                mean_std(mean, scores.rmse.std()),
                mean_std(scores.mae.mean(), scores.mae.std()),
                f"{scores.fit_time.mean():.2f} s",
            )
        )
    for key, scores in results.items():
        if isinstance(scores, Exception):
            params = [f"{candidates[key][name]:g}" for name in names]
            rows.append(("-", *params, "failed", "", ""))
    return columns(header, rows), scored


def run_tune(args):
    """Grid search with K-fold cross-validation; print the table."""
    start = time.perf_counter()
    check_output(args.output)
    grid = {
        "n_components": args.n_components_grid or DEFAULT_GRID["n_components"],
        "alpha": args.alpha_grid or DEFAULT_GRID["alpha"],
    }
    if args.solver == "sgd":
        grid["learning_rate"] = args.learning_rate_grid or DEFAULT_GRID["learning_rate"]
    elif args.learning_rate_grid:
        raise UsageError("--learning-rate is for --solver sgd; ALS has no step size.")
    model = MatrixFactorization(solver=args.solver, **model_params(args))
    # Every combination is checked by the estimator before any fit, so that a
    # bad one (e.g. ALS with alpha 0) is a bad argument, not a failed fit.
    candidates = {}
    for params in ParameterGrid(grid):
        candidate = clone(model).set_params(**params)
        check_params(candidate)
        candidates[len(candidates)] = params
    ratings = load_ratings(args)
    check_folds(ratings, args.folds)
    n_fits = len(candidates) * args.folds
    if not args.quiet:
        print_data(ratings)
        print(f"model: {describe(model)}")
        print(
            "grid: "
            + "; ".join(
                f"{name} {', '.join(f'{v:g}' for v in values)}"
                for name, values in grid.items()
            )
        )
        folds = describe_folds(args.folds, args.seed)
        print(
            f"{folds}, {plural(len(candidates), 'candidate')}, "
            f"{plural(n_fits, 'fit')}; mean ± std over folds"
        )
        print()
        sys.stdout.flush()
    labels = {
        key: f"candidate {key + 1}/{len(candidates)} ("
        + ", ".join(f"{name}={params[name]:g}" for name in grid)
        + ")"
        for key, params in candidates.items()
    }
    with Progress(n_fits, "fits", quiet=args.quiet, bar=not args.verbose) as progress:
        results = cross_validate_models(
            {
                key: clone(model).set_params(**params)
                for key, params in candidates.items()
            },
            ratings.X,
            ratings.y,
            folds=args.folds,
            seed=args.seed,
            progress=progress,
            labels=labels,
            fold_lines=args.verbose,
            model_lines=True,
            verbose=args.verbose,
        )
    failures = [exc for exc in results.values() if isinstance(exc, Exception)]
    if len(failures) == len(results):
        print(f"skmf tune: the fits failed: {error_line(failures[0])}", file=sys.stderr)
        return 1
    table, scored = _grid_table(candidates, results, grid)
    print(table)
    print()
    if failures:
        print(
            f"failed: the fit raised {error_line(failures[0])} "
            f"({plural(len(failures), 'candidate')})"
        )
    best_key, best_scores = scored[0]
    best = candidates[best_key]
    print(
        "best: "
        + ", ".join(f"{name}={best[name]:g}" for name in grid)
        + f" (RMSE {best_scores.rmse.mean():.4f})"
    )
    if args.output:
        best_model = clone(model).set_params(**best)
        if args.verbose:
            best_model.set_params(verbose=1)
        with Progress(1, "fit", quiet=args.quiet) as progress:
            progress.begin("refitting the best candidate on all the ratings")
            try:
                fit_quietly_or_verbosely(best_model, ratings.X, ratings.y, args.verbose)
            except (ValueError, ArithmeticError) as exc:
                progress.advance()
                print(
                    f"skmf tune: the refit failed: {error_line(exc)}",
                    file=sys.stderr,
                )
                return 1
            progress.advance()
        if args.verbose:
            best_model.set_params(verbose=0)
        save(best_model, args.output)
        say(
            args, f"saved the best model, refitted on all the ratings, to {args.output}"
        )
    say(args, f"done in {time.perf_counter() - start:.1f} s")
    return 0


def add_tune(subparsers):
    parser = subparsers.add_parser(
        "tune",
        help="grid search over K, λ and the learning rate",
        description="Grid search of MatrixFactorization's number of factors K,\n"
        "regularization λ (alpha) and, for SGD, learning rate, with K-fold\n"
        "cross-validation. Prints RMSE and MAE (mean ± std over the folds) for\n"
        "every combination, best first, on stdout, and the progress of every\n"
        "candidate on stderr. Values are comma-separated lists; the\n"
        "defaults are "
        + "; ".join(
            f"{name} {','.join(map(str, values))}"
            for name, values in DEFAULT_GRID.items()
        )
        + ".",
        epilog="examples:\n"
        "  skmf tune ml-100k/u.data\n"
        "  skmf tune ratings.csv --n-components 20,50 --alpha 0.02,0.05,0.1 \\\n"
        "      --learning-rate 0.01 --folds 3 -o best.skmf\n"
        "  skmf tune ratings.csv --solver als --alpha 0.05,0.1,0.2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_arguments(parser)
    group = parser.add_argument_group("grid")
    group.add_argument(
        "--n-components",
        dest="n_components_grid",
        type=list_of(positive_int),
        metavar="K,K,...",
        help="factor lengths",
    )
    group.add_argument(
        "--alpha",
        dest="alpha_grid",
        type=list_of(nonnegative_float),
        metavar="λ,λ,...",
        help="regularization strengths",
    )
    group.add_argument(
        "--learning-rate",
        dest="learning_rate_grid",
        type=list_of(positive_float),
        metavar="η,η,...",
        help="SGD step sizes (SGD only)",
    )
    group.add_argument(
        "--folds",
        type=n_folds,
        default=3,
        metavar="K",
        help="number of cross-validation folds (default: 3)",
    )
    group.add_argument(
        "-o",
        "--output",
        metavar="MODEL",
        help="refit the best combination on all the ratings and save it here",
    )
    model = add_model_arguments(parser, n_components=False)
    model.add_argument(
        "--solver", choices=("sgd", "als"), default="sgd", help="(default: sgd)"
    )
    add_verbosity_arguments(
        parser,
        "also print every fold, and the estimators' own line for every epoch or "
        "sweep (on stderr)",
    )
    parser.set_defaults(run=run_tune)
