"""Model files for the commands: save and load, errors as usage errors."""

from .._persistence import check_output_path, load_model, save_model
from ._common import UsageError


def check_output(path):
    """Refuse a bad output path before any work is done."""
    if path is None:
        return
    try:
        check_output_path(path)
    except OSError as exc:
        raise UsageError(str(exc)) from None


def save(model, path):
    try:
        save_model(model, path)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def load(path):
    try:
        return load_model(path)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
