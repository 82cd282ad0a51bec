"""``skmf fit``: fit one model on a ratings file and save it."""

import argparse
import sys
import time
import warnings

from sklearn.exceptions import ConvergenceWarning

from .._bayes import BayesianMatrixFactorization
from .._implicit import ImplicitMatrixFactorization
from .._mf import MatrixFactorization
from ._common import (
    UsageError,
    add_data_arguments,
    add_model_arguments,
    add_verbosity_arguments,
    check_params,
    describe,
    fit_quietly_or_verbosely,
    load_ratings,
    model_params,
    nonnegative_float,
    positive_float,
    positive_int,
    print_data,
    rmse,
    say,
    step_name,
)
from ._models import check_output, save

# --model: name -> estimator.
MODELS = {
    "mf": MatrixFactorization,
    "bayes": BayesianMatrixFactorization,
    "implicit": ImplicitMatrixFactorization,
}
# The options that apply to only some models: option -> (parameter, models).
_OPTIONS = {
    "--max-iter": ("max_iter", {"mf", "implicit"}),
    "--solver": ("solver", {"mf"}),
    "--alpha": ("alpha", {"mf", "implicit"}),
    "--learning-rate": ("learning_rate", {"mf"}),
    "--early-stopping": ("early_stopping", {"mf"}),
    "--n-samples": ("n_samples", {"bayes"}),
    "--burn-in": ("burn_in", {"bayes"}),
    "--confidence": ("confidence", {"implicit"}),
    "--confidence-scale": ("confidence_scale", {"implicit"}),
}
_HINTS = {
    ("--max-iter", "bayes"): "the Gibbs sampler runs --burn-in + --n-samples sweeps",
    ("--alpha", "bayes"): "its priors learn the regularization from the data",
}


def _model(args):
    """The estimator the options describe; a UsageError for misplaced options."""
    params = model_params(args)
    for option, (name, models) in _OPTIONS.items():
        value = getattr(args, name)
        if value is None or value is False:
            continue
        if args.model not in models:
            hint = _HINTS.get((option, args.model))
            applies = " and ".join(f"--model {m}" for m in sorted(models))
            raise UsageError(
                f"{option} is for {applies}, not --model {args.model}"
                + (f": {hint}." if hint else ".")
            )
        params[name] = value
    if params.get("solver") == "als" and "learning_rate" in params:
        raise UsageError("--learning-rate is for --solver sgd; ALS has no step size.")
    model = MODELS[args.model](**params)
    check_params(model)
    return model


def _fit_line(model, ratings, fit_time):
    steps = step_name(model, model.n_iter_)
    if not hasattr(model, "predict"):
        # Implicit feedback: counts, not ratings, so no RMSE to show.
        return (
            f"fitted in {fit_time:.2f} s ({steps}); final training loss "
            f"{model.loss_curve_[-1]:.5g}"
        )
    line = (
        f"fitted in {fit_time:.2f} s ({steps}); training RMSE "
        f"{rmse(model, ratings.X, ratings.y):.4f}"
    )
    # best_validation_score_ is a negated RMSE (greater is better, as in
    # scikit-learn): shown as the RMSE it is.
    best = getattr(model, "best_validation_score_", None)
    if best is not None:
        line += f", best validation RMSE {-best:.4f}"
    return line


def run_fit(args):
    """Fit one model on the ratings and save it."""
    start = time.perf_counter()
    check_output(args.output)
    model = _model(args)
    ratings = load_ratings(args)
    if args.model == "implicit" and ratings.y.min() < 0:
        raise UsageError(
            f"--model implicit reads counts (plays, clicks), which cannot be "
            f"negative; the data has {ratings.y.min():g}. Is --rating-col right?"
        )
    if not args.quiet:
        print_data(ratings, "counts" if args.model == "implicit" else "ratings")
        print(f"model: {describe(model)}")
        sys.stdout.flush()
    if args.verbose:
        model.set_params(verbose=1)
    fit_start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            fit_quietly_or_verbosely(model, ratings.X, ratings.y, args.verbose)
        except (ValueError, ArithmeticError) as exc:
            print(f"skmf fit: the fit failed: {exc}", file=sys.stderr)
            return 1
    fit_time = time.perf_counter() - fit_start
    for warning in caught:
        print(f"skmf fit: warning: {warning.message}", file=sys.stderr)
    say(args, _fit_line(model, ratings, fit_time))
    save(model, args.output)
    print(f"saved to {args.output}")
    say(args, f"done in {time.perf_counter() - start:.1f} s")
    return 0


def add_fit(subparsers):
    parser = subparsers.add_parser(
        "fit",
        help="fit a model on a ratings file and save it",
        description="Fit one of skmf's estimators on a ratings file (or, without\n"
        "one, on a generated data set) and save the fitted model in skmf's\n"
        "model format, which loads without running code. Load it in Python\n"
        "with skmf.load_model(path), or use it with 'skmf predict', 'skmf\n"
        "recommend' and 'skmf similar'.\n\n"
        "models (--model):\n"
        "  mf        MatrixFactorization: SGD or ALS (default)\n"
        "  bayes     BayesianMatrixFactorization: Gibbs sampling, no λ to tune\n"
        "  implicit  ImplicitMatrixFactorization: weighted ALS of counts\n"
        "            (plays, clicks) in the rating column",
        epilog="examples:\n"
        "  skmf fit ml-100k/u.data -o model.skmf\n"
        "  skmf fit ratings.csv --user-col userId --item-col movieId -o m.skmf \\\n"
        "      --solver als --n-components 50 --alpha 0.05 --verbose\n"
        "  skmf fit ratings.parquet -o m.skmf --early-stopping\n"
        "  skmf fit ml-100k/u.data -o bayes.skmf --model bayes --n-samples 50\n"
        "  skmf fit lastfm/user_artists.dat -o plays.skmf --model implicit \\\n"
        "      --confidence log --confidence-scale 2",
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
    group.description = (
        "Parameters of the estimator; omitted ones keep its defaults. Each "
        "option says the models it applies to."
    )
    for action in group._group_actions:
        if action.dest == "max_iter":
            action.help = "epochs (SGD) or sweeps (ALS, implicit); mf and implicit"
    group.add_argument(
        "--model",
        choices=tuple(MODELS),
        default="mf",
        help="the estimator (default: mf)",
    )
    group.add_argument(
        "--solver", choices=("sgd", "als"), help="mf: the solver (default: sgd)"
    )
    group.add_argument(
        "--alpha",
        type=nonnegative_float,
        metavar="λ",
        help="mf, implicit: regularization strength",
    )
    group.add_argument(
        "--learning-rate",
        type=positive_float,
        metavar="η",
        help="mf with --solver sgd: initial step size",
    )
    group.add_argument(
        "--early-stopping",
        action="store_true",
        help="mf: hold out 10%% of the ratings and keep the best epoch or sweep",
    )
    group.add_argument(
        "--n-samples",
        type=positive_int,
        metavar="S",
        help="bayes: posterior samples kept and averaged",
    )
    group.add_argument(
        "--burn-in",
        type=_nonnegative_int,
        metavar="B",
        help="bayes: sweeps run before the samples are kept",
    )
    group.add_argument(
        "--confidence",
        choices=("linear", "log"),
        help="implicit: how a count becomes confidence (default: linear)",
    )
    group.add_argument(
        "--confidence-scale",
        type=nonnegative_float,
        metavar="A",
        help="implicit: extra confidence per unit of count",
    )
    add_verbosity_arguments(
        parser,
        "print the loss, time and ETA of every epoch or sweep (on stderr)",
    )
    parser.set_defaults(run=run_fit)


def _nonnegative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value
