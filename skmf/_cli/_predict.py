"""``skmf predict``: predicted ratings of (user, item) pairs, from a saved model."""

import argparse
import sys
import warnings

import numpy as np
import pandas as pd

from ._common import Progress, UsageError, plural
from ._files import (
    BLOCK_ROWS,
    add_id_file_arguments,
    check_table_output,
    match_ids,
    read_ids,
    text_column,
    write_table,
)
from ._models import load

HEADER = ("user", "item", "prediction")


def _pairs(model, texts):
    """The pairs as the model's ids, and which rows have an unknown id."""
    columns, unknown = [], np.zeros(len(texts["user"]), dtype=bool)
    for role, known in (("user", model.users_), ("item", model.items_)):
        ids, missing = match_ids(texts[role], known)
        columns.append(ids)
        unknown |= missing
    X = np.empty((len(unknown), 2), dtype=object)
    X[:, 0], X[:, 1] = columns
    return X, unknown, columns


def run_predict(args):
    """Write the model's prediction for every pair of the file, in its order."""
    check_table_output(args.output, "the predictions")
    model = load(args.model)
    if not hasattr(model, "predict"):
        raise UsageError(
            f"the model in {args.model} is a {type(model).__name__}, which ranks "
            "items but predicts no ratings; use 'skmf recommend' with it."
        )
    texts = read_ids(args.pairs, ("user", "item"), args)
    X, unknown, (users, items) = _pairs(model, texts)
    users, items = text_column(users), text_column(items)
    n_pairs = X.shape[0]
    quiet = args.quiet or args.output is None

    def blocks(progress):
        for start in range(0, n_pairs, BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, n_pairs)
            progress.begin(f"pairs {start + 1:,} to {stop:,}")
            with warnings.catch_warnings():
                # Unknown ids are reported below, by the command.
                warnings.filterwarnings("ignore", message="The (users|items) given")
                prediction = model.predict(X[start:stop])
            yield pd.DataFrame(
                {
                    "user": users[start:stop],
                    "item": items[start:stop],
                    "prediction": prediction,
                }
            )
            progress.advance(stop - start)

    with Progress(n_pairs, "pairs", quiet=quiet) as progress:
        write_table(
            args.output, blocks(progress), HEADER, tsv=args.tsv, what="the predictions"
        )
    if args.quiet:
        return 0
    if args.output is not None:
        print(
            f"skmf predict: wrote {plural(n_pairs, 'prediction')} to {args.output}",
            file=sys.stderr,
        )
    n_unknown = int(unknown.sum())
    if n_unknown:
        print(
            f"skmf predict: {plural(n_unknown, 'pair')} of {n_pairs:,} "
            f"{'has' if n_unknown == 1 else 'have'} a user or an item not in the "
            "training data (e.g. line "
            f"{int(np.flatnonzero(unknown)[0]) + 1} of the pairs): predicted from "
            "the mean rating and the biases that are known.",
            file=sys.stderr,
        )
    return 0


def add_predict(subparsers):
    parser = subparsers.add_parser(
        "predict",
        help="predicted ratings of (user, item) pairs from a saved model",
        description="Predict the rating of every (user, item) pair of a file,\n"
        "with a model saved by 'skmf fit' (mf or bayes). The file holds a user\n"
        "and an item column (more columns are ignored: a ratings file such as\n"
        "MovieLens u1.test will do). Writes user, item, prediction in the\n"
        "file's order: CSV (TSV with --tsv) on stdout, or a CSV, TSV or\n"
        "Parquet file with -o (by its extension). A user or item unknown to\n"
        "the model is predicted from the mean rating and the known biases.",
        epilog="examples:\n"
        "  skmf predict model.skmf ml-100k/u1.test -o predictions.csv\n"
        "  skmf predict model.skmf pairs.tsv --user-col userId --item-col movieId\n"
        "  cut -f1,2 ml-100k/u1.test | skmf predict model.skmf - > p.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model saved by 'skmf fit'")
    parser.add_argument(
        "pairs",
        metavar="PAIRS",
        help="file of (user, item) pairs: CSV, TSV, whitespace-separated, "
        "compressed or Parquet; '-' reads standard input",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="write the table to this file: Parquet for .parquet or .pq, TSV "
        "for .tsv, else CSV",
    )
    output.add_argument(
        "--tsv", action="store_true", help="tab-separated output on stdout"
    )
    output.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress and no notes on stderr (errors are still printed)",
    )
    add_id_file_arguments(parser, ("user", "item"))
    parser.set_defaults(run=run_predict)
