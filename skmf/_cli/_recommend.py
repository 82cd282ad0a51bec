"""``skmf recommend``: the top-N items for users, from a saved model."""

import argparse
import sys
import warnings

import numpy as np
import pandas as pd

from ._common import Progress, UsageError, columns, plural, positive_int
from ._files import (
    BLOCK_ROWS,
    add_id_file_arguments,
    check_table_output,
    match_ids,
    read_ids,
    shown,
    text_column,
    write_table,
)
from ._models import load

HEADER = ("user", "rank", "item", "score")


def _match_ids(texts, known):
    """Ids typed on the command line or read from a file, as the model's ids.

    See :func:`._files.match_ids`; returns the ids and the texts of those
    that matched no fitted id.
    """
    ids, unknown = match_ids(np.asarray(texts, dtype=object), known)
    return ids, [text for text, miss in zip(texts, unknown, strict=True) if miss]


def _recommend(model, users, n, exclude_seen):
    # An id of the wrong type warns in Python; here every unknown user is
    # reported by the command, in its own words.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The users given are")
        return model.recommend(users, n=n, exclude_seen=exclude_seen)


def _block(model, users, labels, n, exclude_seen):
    """The recommendations of ``users`` as a long DataFrame, best first.

    ``labels`` are what the user column shows for each user. Items a user
    cannot get (fewer candidates than ``n`` left after excluding the seen
    ones) are left out.
    """
    items, scores = _recommend(model, users, n, exclude_seen)
    keep = np.isfinite(scores)
    width = scores.shape[1]
    return pd.DataFrame(
        {
            "user": np.repeat(np.asarray(labels), width)[keep.ravel()],
            "rank": np.tile(np.arange(1, width + 1), len(users))[keep.ravel()],
            "item": items[keep],
            "score": scores[keep],
        }
    )


def _users(args, model):
    """The users asked for: (ids, texts shown, unknown ids' texts)."""
    sources = [bool(args.users), args.all, args.users_file is not None]
    if sum(sources) != 1:
        raise UsageError(
            "give the users as ids (skmf recommend MODEL USER...), or --all, or "
            "--users-file PATH: exactly one of them."
        )
    if args.all:
        return model.users_, []
    if args.users:
        texts = args.users
    else:
        texts = read_ids(args.users_file, ("user",), args)["user"]
        distinct = pd.unique(texts)
        if len(distinct) < len(texts):
            print(
                f"skmf recommend: {args.users_file} names "
                f"{plural(len(texts) - len(distinct), 'user')} more than once: "
                f"recommending once for each of its {plural(len(distinct), 'user')}.",
                file=sys.stderr,
            )
        texts = distinct
    ids, unknown = _match_ids(list(texts), model.users_)
    return ids, unknown


def run_recommend(args):
    """Write the top-N items for each user from a saved model."""
    check_table_output(args.output, "the recommendations")
    if args.all and args.users:
        raise UsageError("--all recommends for every user: give no USER ids with it.")
    model = load(args.model)
    if not hasattr(model, "recommend"):
        raise UsageError(
            f"the model in {args.model} has no recommend method: it was saved by "
            "a version of skmf without it. Fit it again with 'skmf fit'."
        )
    users, unknown = _users(args, model)
    exclude_seen = not args.include_seen
    if args.users and args.output is None and not args.tsv:
        # Ids on the command line: a table for the eye, aligned, with the ids
        # as typed.
        labels = np.asarray(args.users, dtype=object)
        frame = _block(model, users, labels, args.n, exclude_seen)
        rows = [
            (str(user), str(rank), str(item), f"{score:.4f}")
            for user, rank, item, score in frame.itertuples(index=False)
        ]
        print(columns(HEADER, rows, right=(1, 3)))
    else:
        labels = text_column(users)
        step = max(1, BLOCK_ROWS // args.n)
        quiet = args.quiet or args.output is None

        def blocks(progress):
            for start in range(0, len(users), step):
                stop = min(start + step, len(users))
                progress.begin(f"users {start + 1:,} to {stop:,}")
                yield _block(
                    model, users[start:stop], labels[start:stop], args.n, exclude_seen
                )
                progress.advance(stop - start)

        with Progress(len(users), "users", quiet=quiet) as progress:
            n_rows = write_table(
                args.output,
                blocks(progress),
                HEADER,
                tsv=args.tsv,
                what="the recommendations",
            )
        if args.output is not None and not args.quiet:
            print(
                f"skmf recommend: wrote {plural(n_rows, 'recommendation')} for "
                f"{plural(len(users), 'user')} to {args.output}",
                file=sys.stderr,
            )
    if unknown and not args.quiet:
        print(
            f"skmf recommend: {plural(len(unknown), 'user')} not in the training "
            f"data ({shown(unknown)}): they get the recommendations for an "
            "unknown user.",
            file=sys.stderr,
        )
    return 0


def add_recommend(subparsers):
    parser = subparsers.add_parser(
        "recommend",
        help="top-N items for users from a saved model",
        description="The N best-scoring items for each user, from a model saved\n"
        "by 'skmf fit': by default only items the user had not rated. The\n"
        "users are ids on the command line, every user of the model (--all)\n"
        "or the ids of a file (--users-file). Ids on the command line print an\n"
        "aligned table; otherwise the table is CSV (TSV with --tsv) on stdout,\n"
        "or a CSV, TSV or Parquet file with -o (by its extension), written a\n"
        "block of users at a time. A user unknown to the model gets the\n"
        "model's ranking for unknown users (for the rating models, items by\n"
        "popularity).",
        epilog="examples:\n"
        "  skmf recommend model.skmf 196 186 -n 5\n"
        "  skmf recommend model.skmf 196 --tsv > top10.tsv\n"
        "  skmf recommend model.skmf --all -o recs.parquet\n"
        "  skmf recommend model.skmf --users-file new_users.txt -n 20 -o recs.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model saved by 'skmf fit'")
    parser.add_argument("users", metavar="USER", nargs="*", help="user ids")
    which = parser.add_argument_group("users")
    which.add_argument(
        "--all", action="store_true", help="every user of the model, in its order"
    )
    which.add_argument(
        "--users-file",
        metavar="PATH",
        help="a file of user ids: one per line, or a column of a table "
        "(--user-col); '-' reads standard input. Repeated ids get one list.",
    )
    parser.add_argument(
        "-n",
        type=positive_int,
        default=10,
        metavar="N",
        help="items per user (default: 10)",
    )
    parser.add_argument(
        "--include-seen",
        action="store_true",
        help="also recommend items the user rated in the training data",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="write the table (user, rank, item, score) to this file: Parquet "
        "for .parquet or .pq, TSV for .tsv, else CSV",
    )
    output.add_argument(
        "--tsv",
        action="store_true",
        help="tab-separated output with a header line, for scripts",
    )
    output.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress and no notes on stderr (errors are still printed)",
    )
    add_id_file_arguments(parser, ("user",))
    parser.set_defaults(run=run_recommend)
