"""Model files for the commands: save and load, errors as usage errors."""

from .._persistence import load_model, save_model
from ._common import UsageError


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
