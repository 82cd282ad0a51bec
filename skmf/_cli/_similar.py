"""``skmf similar``: the nearest items or users by their factors, from a model."""

import argparse

import numpy as np
import pandas as pd

from ._common import UsageError, columns, plural, positive_int
from ._files import (
    add_id_file_arguments,
    check_table_output,
    match_ids,
    read_ids,
    shown,
    text_column,
    write_table,
)
from ._models import load


def _queries(args):
    """("items" or "users", the ids' texts) of the one source given."""
    given = {
        "--items": args.items,
        "--users": args.users,
        "--items-file": args.items_file,
        "--users-file": args.users_file,
    }
    chosen = [option for option, value in given.items() if value]
    if len(chosen) != 1:
        raise UsageError(
            "give the ids to find neighbours of with exactly one of --items, "
            f"--users, --items-file and --users-file; got {len(chosen) or 'none'}"
            + (f" ({', '.join(chosen)})" if chosen else "")
            + "."
        )
    option = chosen[0]
    kind = "items" if option.startswith("--items") else "users"
    if option.endswith("-file"):
        role = kind[:-1]
        texts = read_ids(given[option], (role,), args)[role]
        return kind, list(pd.unique(texts))
    return kind, given[option]


def run_similar(args):
    """Write the ``n`` nearest neighbours of each id by cosine similarity."""
    check_table_output(args.output, "the neighbours")
    model = load(args.model)
    kind, texts = _queries(args)
    method = getattr(model, f"similar_{kind}", None)
    if method is None:
        raise UsageError(
            f"the model in {args.model} has no similar_{kind} method: it was "
            "saved by a version of skmf without it. Fit it again with 'skmf fit'."
        )
    ids, unknown = match_ids(
        np.asarray(texts, dtype=object), getattr(model, f"{kind}_")
    )
    if unknown.any():
        missing = [text for text, miss in zip(texts, unknown, strict=True) if miss]
        raise UsageError(
            f"{plural(len(missing), kind[:-1])} not in the training data: "
            f"{shown(missing)}. Only fitted {kind} have factors to compare."
        )
    neighbours, scores = method(ids, n=args.n)
    width = scores.shape[1]
    query = kind[:-1]
    frame = pd.DataFrame(
        {
            query: np.repeat(text_column(ids), width),
            "rank": np.tile(np.arange(1, width + 1), len(ids)),
            "neighbour": neighbours.ravel(),
            "similarity": scores.ravel(),
        }
    )
    header = (query, "rank", "neighbour", "similarity")
    if args.output is None and not args.tsv:
        labels = np.repeat(np.asarray(texts, dtype=object), width)
        rows = [
            (str(label), str(rank), str(other), f"{score:.4f}")
            for label, rank, other, score in zip(
                labels, frame["rank"], frame["neighbour"], frame["similarity"],
                strict=True,
            )
        ]  # fmt: skip
        print(columns(header, rows, right=(1, 3)))
        return 0
    write_table(args.output, [frame], header, tsv=args.tsv, what="the neighbours")
    return 0


def add_similar(subparsers):
    parser = subparsers.add_parser(
        "similar",
        help="nearest items or users by their factors, from a saved model",
        description="The N items (or users) whose factors are the closest in\n"
        "cosine similarity to each one given, from a model saved by 'skmf\n"
        "fit'; an id is never its own neighbour. The ids must be in the\n"
        "model's training data. Ids on the command line print an aligned\n"
        "table; --tsv or -o write CSV, TSV or Parquet (by -o's extension).",
        epilog="examples:\n"
        "  skmf similar model.skmf --items 50 181 -n 5\n"
        "  skmf similar model.skmf --users 196 --tsv\n"
        "  skmf similar model.skmf --items-file favourites.txt -o neighbours.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model saved by 'skmf fit'")
    which = parser.add_argument_group("ids (exactly one)")
    which.add_argument("--items", nargs="+", metavar="ITEM", help="item ids")
    which.add_argument("--users", nargs="+", metavar="USER", help="user ids")
    which.add_argument(
        "--items-file",
        metavar="PATH",
        help="a file of item ids: one per line, or a column of a table "
        "(--item-col); '-' reads standard input",
    )
    which.add_argument(
        "--users-file",
        metavar="PATH",
        help="a file of user ids, read as --items-file (--user-col)",
    )
    parser.add_argument(
        "-n",
        type=positive_int,
        default=10,
        metavar="N",
        help="neighbours per id (default: 10)",
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
    add_id_file_arguments(parser, ("item", "user"))
    parser.set_defaults(run=run_similar)
