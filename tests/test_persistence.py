"""Saving and loading fitted models with joblib, across processes and versions."""

import copy
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from sklearn.base import clone

import skmf
from skmf import MatrixFactorization
from skmf._persistence import PICKLE_FORMAT, IncompatibleVersionError
from skmf.datasets import make_ratings

# Fits a small model in a fresh interpreter and saves it with its predictions;
# {patch} may pretend to be another skmf.
SAVE = """
import joblib, numpy as np
import skmf, skmf._persistence
{patch}
from skmf import MatrixFactorization
from skmf.datasets import make_ratings
X, y = make_ratings(100, 50, 1500, random_state=0)
model = MatrixFactorization(n_components=3, solver="{solver}", max_iter=4,
                            n_jobs=1, random_state=0).fit(X, y)
joblib.dump(model, r"{path}")
np.save(r"{path}.npy", model.predict(X))
"""


def python(code):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("solver", ["sgd", "als"])
def test_joblib_round_trip_across_processes(tmp_path, solver):
    path = tmp_path / "model.joblib"
    python(SAVE.format(patch="", solver=solver, path=path))
    model = joblib.load(path)
    X, _ = make_ratings(100, 50, 1500, random_state=0)
    np.testing.assert_array_equal(model.predict(X), np.load(f"{path}.npy"))
    assert model.get_params()["solver"] == solver
    # The loaded model refits: its state is the estimator's, nothing added.
    assert "_skmf_version" not in vars(model)
    clone(model).fit(X, model.predict(X))


def test_model_saved_by_an_incompatible_version_fails_clearly(tmp_path):
    path = tmp_path / "future.joblib"
    patch = (
        "skmf.__version__ = '9.1.0'; "
        f"skmf._persistence.PICKLE_FORMAT = {PICKLE_FORMAT + 1}"
    )
    python(SAVE.format(patch=patch, solver="als", path=path))
    with pytest.raises(IncompatibleVersionError) as info:
        joblib.load(path)
    message = str(info.value)
    assert "MatrixFactorization was saved by skmf 9.1.0" in message
    assert f"(model format {PICKLE_FORMAT + 1})" in message
    assert f"skmf {skmf.__version__} cannot read" in message
    assert 'pip install "skmf==9.1.0"' in message and "fit it again" in message
    assert isinstance(info.value, ValueError)


def test_another_version_with_the_same_format_loads(tmp_path):
    path = tmp_path / "other.joblib"
    python(SAVE.format(patch="skmf.__version__ = '0.2.0'", solver="sgd", path=path))
    assert joblib.load(path).n_components == 3


def test_state_without_a_version_is_refused():
    model = MatrixFactorization(n_components=2)
    state = model.__getstate__()
    assert state["_skmf_version"] == skmf.__version__
    assert state["_skmf_pickle_format"] == PICKLE_FORMAT
    del state["_skmf_version"], state["_skmf_pickle_format"]
    with pytest.raises(IncompatibleVersionError, match="older than 0.1"):
        MatrixFactorization().__setstate__(state)


def test_copies_and_pickles_in_process():
    X, y = make_ratings(60, 30, 600, random_state=1)
    model = MatrixFactorization(n_components=2, max_iter=2, random_state=0).fit(X, y)
    for loaded in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
