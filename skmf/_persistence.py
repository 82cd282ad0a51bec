"""Pickles that know which skmf wrote them.

An estimator saved with pickle or joblib carries the skmf version that saved
it and the number of the format of its fitted state. Loading it in an skmf that
reads another format fails at once, with a message naming both versions and
what to do, rather than later with an obscure AttributeError or, worse, wrong
predictions.

``PICKLE_FORMAT`` is raised whenever a release changes the fitted attributes in
a way an older or newer skmf could not use (a renamed, added or re-encoded
attribute that the methods rely on). Releases that keep the format read each
other's models.
"""

import os
import tempfile
from pathlib import Path

# The format of the fitted state written by this skmf.
PICKLE_FORMAT = 1
_VERSION_KEY = "_skmf_version"
_FORMAT_KEY = "_skmf_pickle_format"


class IncompatibleVersionError(ValueError):
    """A model saved by an skmf whose fitted state this skmf cannot read."""


def _current_version():
    # Imported here: skmf/__init__.py defines __version__ after importing the
    # estimators, which import this module.
    from . import __version__

    return __version__


class VersionedStateMixin:
    """Record the skmf version in the pickled state; refuse another format.

    Put it first among the bases of an estimator; it relies on the next class
    (scikit-learn's ``BaseEstimator``) for the state itself.
    """

    def __getstate__(self):
        state = super().__getstate__()
        state[_VERSION_KEY] = _current_version()
        state[_FORMAT_KEY] = PICKLE_FORMAT
        return state

    def __setstate__(self, state):
        state = dict(state)
        saved_version = state.pop(_VERSION_KEY, None)
        saved_format = state.pop(_FORMAT_KEY, None)
        if saved_format != PICKLE_FORMAT:
            name = type(self).__name__
            if saved_version is None:
                origin = "by a development version of skmf older than 0.1"
                fix = "Fit it again with this version"
            else:
                origin = f"by skmf {saved_version} (model format {saved_format})"
                fix = (
                    f"Load it with skmf {saved_version} (e.g. pip install "
                    f'"skmf=={saved_version}") or fit it again with this version'
                )
            raise IncompatibleVersionError(
                f"This {name} was saved {origin}, which skmf {_current_version()} "
                f"cannot read: it reads model format {PICKLE_FORMAT}. {fix}."
            )
        super().__setstate__(state)


def save_model(model, path):
    """Write ``model`` to ``path`` with joblib, atomically.

    The model is dumped to a temporary file beside ``path`` and renamed over
    it, so that an interrupted save never leaves a truncated model behind.
    """
    import joblib

    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot save the model to {path}: no folder {folder}.")
    if path.is_dir():
        raise IsADirectoryError(f"cannot save the model to {path}: it is a directory.")
    descriptor, temporary = tempfile.mkstemp(
        dir=folder, prefix=f".{path.name}.", suffix=".part"
    )
    os.close(descriptor)
    try:
        joblib.dump(model, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_model(path):
    """A model saved by ``skmf fit`` (or any joblib/pickle file of one)."""
    import joblib

    path = Path(path)
    if not path.is_file():
        what = "a directory" if path.is_dir() else "no such file"
        raise FileNotFoundError(f"cannot load a model from {path}: {what}.")
    try:
        model = joblib.load(path)
    except IncompatibleVersionError:
        raise
    except Exception as exc:  # unpickling raises anything the file leads to
        raise ValueError(f"cannot load a model from {path}: {exc}") from None
    if not hasattr(model, "users_") or not hasattr(model, "items_"):
        raise ValueError(
            f"{path} does not hold a fitted skmf model (it holds a "
            f"{type(model).__name__}); make one with 'skmf fit'."
        )
    return model
