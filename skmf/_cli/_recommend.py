"""``skmf recommend``: the top-N items for users, from a saved model."""

import argparse
import sys

import numpy as np

from ._common import UsageError, columns, positive_int
from ._models import load


def _match_ids(texts, known):
    """Ids typed on the command line, as the model's ids where they match.

    An id matches a fitted id whose text is the same ("42" is the int 42 of a
    model fitted on ints); an id that matches none is passed on as typed, and
    the model ranks for it as for any unknown user.
    """
    by_text = {str(value): value for value in known.tolist()}
    ids = [by_text.get(text, text) for text in texts]
    unknown = [text for text in texts if text not in by_text]
    return np.array(ids, dtype=object), unknown


def run_recommend(args):
    """Print the top-N items for each user from a saved model."""
    model = load(args.model)
    if not hasattr(model, "recommend"):
        raise UsageError(
            f"the model in {args.model} has no recommend method: it was saved by "
            "a version of skmf without it. Fit it again with 'skmf fit'."
        )
    users, unknown = _match_ids(args.users, model.users_)
    items, scores = model.recommend(users, n=args.n, exclude_seen=not args.include_seen)
    header = ("user", "rank", "item", "score")
    rows = [
        (str(user), str(rank), str(item), f"{score:.4f}")
        for user, user_items, user_scores in zip(args.users, items, scores, strict=True)
        for rank, (item, score) in enumerate(
            zip(user_items, user_scores, strict=True), 1
        )
        if np.isfinite(score)
    ]
    if args.tsv:
        print("\t".join(header))
        print("\n".join("\t".join(row) for row in rows))
    else:
        print(columns(header, rows, right=(1, 3)))
    for user in unknown:
        print(
            f"skmf recommend: user {user!r} was not in the training data: these "
            "are the recommendations for an unknown user.",
            file=sys.stderr,
        )
    return 0


def add_recommend(subparsers):
    parser = subparsers.add_parser(
        "recommend",
        help="top-N items for users from a saved model",
        description="Print the N best-scoring items for each user, from a model\n"
        "saved by 'skmf fit': by default only items the user had not rated.\n"
        "A user unknown to the model gets the model's ranking for unknown users\n"
        "(for MatrixFactorization: the items with the highest bias).",
        epilog="examples:\n"
        "  skmf recommend model.skmf 196 186 -n 5\n"
        "  skmf recommend model.skmf 196 --tsv > top10.tsv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model saved by 'skmf fit'")
    parser.add_argument("users", metavar="USER", nargs="+", help="user ids")
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
    parser.add_argument(
        "--tsv",
        action="store_true",
        help="tab-separated output with a header line, for scripts",
    )
    parser.set_defaults(run=run_recommend)
