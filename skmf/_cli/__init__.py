"""The ``skmf`` command (also ``python -m skmf``).

``skmf evaluate [PATH]`` cross-validates a biases-only baseline,
:class:`~skmf.MatrixFactorization` with both solvers and
:class:`~skmf.BayesianMatrixFactorization` (or those ``--models`` names), on
a ratings file or, with no PATH, on a generated data set, and prints RMSE,
MAE and fit time (the default command: ``skmf [PATH]`` does the same).
``skmf fit`` trains any of the estimators and saves it; with a saved model,
``skmf predict`` predicts the ratings of pairs from a file, ``skmf recommend``
writes top-N items for users (named, from a file, or all of them) and ``skmf
similar`` the nearest items or users. ``skmf tune`` grid-searches the number
of factors, the regularization and the learning rate.

Results go to stdout (or to ``-o`` files), progress and notes to stderr, so
that pipes get the results only.

Each command lives in its own module, which adds its sub-parser and sets the
function that runs it; ``COMMANDS`` lists them. A command line that does not
start with a command name runs ``evaluate``. What the commands share (reading
ratings, the model options, tables, the cross-validation loop) is in
``_common``.

Exit codes: 0 on success, 2 for bad arguments or unreadable input (nothing was
computed: paths are checked before any work), 1 when the computation itself
failed (e.g. a diverging fit), 130 after Ctrl-C and 141 when the reader of the
output went away (a closed pipe); each failure is one line on stderr.
"""

import argparse
import os
import sys

from .. import __version__
from ._common import UsageError
from ._evaluate import add_evaluate
from ._fit import add_fit
from ._predict import add_predict
from ._recommend import add_recommend
from ._similar import add_similar
from ._tune import add_tune

DEFAULT_COMMAND = "evaluate"
# Each command: name -> function adding its sub-parser (which sets `run`).
COMMANDS = {
    "evaluate": add_evaluate,
    "fit": add_fit,
    "predict": add_predict,
    "recommend": add_recommend,
    "similar": add_similar,
    "tune": add_tune,
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skmf",
        description="Matrix factorization of ratings from the command line.",
        epilog=f"Without a command, skmf runs '{DEFAULT_COMMAND}': 'skmf' "
        f"evaluates on a generated data set and 'skmf PATH' on a ratings file. "
        "'skmf COMMAND --help' describes a command.",
    )
    parser.add_argument("--version", action="version", version=f"skmf {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add_command in COMMANDS.values():
        add_command(subparsers)
    return parser


def main(argv=None):
    """Run the ``skmf`` command; return the exit code.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    code : int
        0 on success, 2 for bad arguments or unreadable data, 1 when the
        computation failed.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help", "--version"):
        argv = [DEFAULT_COMMAND, *argv]
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"skmf {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"skmf {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output left (e.g. '| head'): stop quietly, as
        # the tools a pipe is made of do. Python's own flush at exit would
        # fail again, so stdout now leads nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141
