"""Saving and loading fitted models: skmf's own files, and joblib pickles."""

import copy
import os
import pickle
import stat
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


# skmf's own model files: no code runs on load, damage is found, files are safe.

from skmf import BayesianMatrixFactorization, ImplicitMatrixFactorization  # noqa: E402
from skmf._persistence import load_model, save_model  # noqa: E402

MODELS = {
    "sgd": lambda: MatrixFactorization(n_components=3, max_iter=3, random_state=0),
    "als": lambda: MatrixFactorization(
        n_components=3, solver="als", max_iter=2, early_stopping=True, random_state=0
    ),
    "bayes": lambda: BayesianMatrixFactorization(
        n_components=2, n_samples=5, burn_in=2, random_state=0
    ),
    "implicit": lambda: ImplicitMatrixFactorization(
        n_components=3, max_iter=2, random_state=0
    ),
}


def string_ids(X):
    return np.array([[f"u{u}", f"i{i}"] for u, i in X], dtype=object)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("ids", ["int", "str", "mixed"])
def test_safe_round_trip(tmp_path, name, ids):
    X, y = make_ratings(80, 40, 1200, random_state=0)
    if ids == "str":
        X = string_ids(X)
    elif ids == "mixed":  # int users next to string items
        X = np.column_stack([X[:, 0].astype(object), string_ids(X)[:, 1]])
    model = MODELS[name]().fit(X, y)
    loaded = load_model(save_model(model, tmp_path / "m.skmf"))
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    assert sorted(vars(loaded)) == sorted(vars(model))
    np.testing.assert_array_equal(loaded.users_, model.users_)
    if hasattr(model, "predict"):
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    items, scores = model.recommend(X[:5, 0], n=4)
    loaded_items, loaded_scores = loaded.recommend(X[:5, 0], n=4)
    np.testing.assert_array_equal(loaded_items, items)
    np.testing.assert_array_equal(loaded_scores, scores)
    clone(loaded).fit(X, y)  # and it refits


class _Payload:
    """Unpickling this runs code: it creates the file named by ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    joblib.dump(_Payload(str(marker)), tmp_path / "model.joblib")
    with pytest.raises(ValueError, match="is a pickle"):
        load_model(tmp_path / "model.joblib")
    assert not marker.exists()
    # And the command line, which loads models only this way.
    result = subprocess.run(
        [sys.executable, "-m", "skmf", "recommend", tmp_path / "model.joblib", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not marker.exists()


def test_no_flipped_bit_loads_a_different_model(tmp_path):
    X, y = make_ratings(30, 20, 300, random_state=0)
    model = MatrixFactorization(n_components=2, max_iter=2, random_state=0).fit(X, y)
    path = save_model(model, tmp_path / "m.skmf")
    expected = model.predict(X)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    n_refused = 0
    for position in rng.choice(len(data), size=200, replace=False):
        bit = 1 << int(rng.integers(8))
        data[position] ^= bit
        path.write_bytes(bytes(data))
        data[position] ^= bit
        try:
            loaded = load_model(path)
        except ValueError as exc:
            assert str(path) in str(exc)
            n_refused += 1
            continue
        # Only bits the zip format ignores (e.g. a timestamp) may pass.
        np.testing.assert_array_equal(loaded.predict(X), expected)
        assert loaded.get_params() == model.get_params()
    assert n_refused > 150


def test_a_changed_value_fails_the_checksum(tmp_path):
    X, y = make_ratings(30, 20, 300, random_state=0)
    model = MatrixFactorization(n_components=2, max_iter=2, random_state=0).fit(X, y)
    model.item_bias_[3] = 4.5e35  # as a flipped exponent bit would make it
    path = save_model(model, tmp_path / "m.skmf")
    # Rewrite the archive with the array changed but the metadata kept.
    import zipfile

    honest = MatrixFactorization(n_components=2, max_iter=2, random_state=0).fit(X, y)
    other = save_model(honest, tmp_path / "honest.skmf")
    with zipfile.ZipFile(path) as bad, zipfile.ZipFile(other) as good:
        members = {name: bad.read(name) for name in bad.namelist()}
        members["skmf.json"] = good.read("skmf.json")
    with zipfile.ZipFile(tmp_path / "mixed.skmf", "w") as mixed:
        for name, content in members.items():
            mixed.writestr(name, content)
    with pytest.raises(ValueError, match="fails its SHA-256 checksum"):
        load_model(tmp_path / "mixed.skmf")


def test_unsafe_attributes_are_refused_by_name(tmp_path):
    X, y = make_ratings(30, 20, 300, random_state=0)
    model = MatrixFactorization(
        n_components=2, max_iter=2, random_state=np.random.RandomState(0)
    ).fit(X, y)
    with pytest.raises(TypeError, match=r"random_state.*joblib"):
        save_model(model, tmp_path / "m.skmf")
    assert not list(tmp_path.iterdir())  # nothing written, nothing left
    with pytest.raises(TypeError, match="skmf's estimators"):
        save_model(clone, tmp_path / "m.skmf")


def test_another_model_format_is_refused(tmp_path, monkeypatch):
    X, y = make_ratings(30, 20, 300, random_state=0)
    model = MatrixFactorization(n_components=2, max_iter=2, random_state=0).fit(X, y)
    monkeypatch.setattr(skmf._persistence, "PICKLE_FORMAT", PICKLE_FORMAT + 1)
    monkeypatch.setattr(skmf._persistence, "_current_version", lambda: "9.1.0")
    path = save_model(model, tmp_path / "future.skmf")
    monkeypatch.undo()
    with pytest.raises(IncompatibleVersionError, match='pip install "skmf==9.1.0"'):
        load_model(path)


# Writing files: atomic, with the permissions a user expects.


def small_model():
    X, y = make_ratings(30, 20, 300, random_state=0)
    return MatrixFactorization(n_components=2, max_iter=2, random_state=0).fit(X, y)


@pytest.mark.parametrize(
    "umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)]
)
def test_new_files_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = save_model(small_model(), tmp_path / "m.skmf")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_a_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "m.skmf"
    path.write_text("old")
    path.chmod(0o640)
    save_model(small_model(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert load_model(path).n_components == 2


def test_an_interrupted_save_keeps_the_old_file_and_leaves_nothing(
    tmp_path, monkeypatch
):
    import zipfile

    path = save_model(small_model(), tmp_path / "m.skmf")
    before = path.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(zipfile.ZipFile, "writestr", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_model(small_model(), path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.skmf"]


def test_a_killed_save_is_cleaned_up_by_the_next(tmp_path):
    path = tmp_path / "m.skmf"
    # The temporary file of a save whose process was killed (SIGKILL).
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    (tmp_path / f".m.skmf.{dead}.0badc0de.part").write_bytes(b"partial")
    (tmp_path / ".m.skmf.notes.part").write_bytes(b"not ours")
    save_model(small_model(), path)
    assert sorted(os.listdir(tmp_path)) == [".m.skmf.notes.part", "m.skmf"]


@pytest.mark.parametrize("kind", ["directory", "fifo", "device"])
def test_special_files_are_never_replaced(tmp_path, kind):
    if kind == "directory":
        target = tmp_path / "folder"
        target.mkdir()
    elif kind == "fifo":
        target = tmp_path / "fifo"
        os.mkfifo(target)
    else:
        target = "/dev/null"
    with pytest.raises(OSError, match=str(target)):
        save_model(small_model(), target)
    assert os.path.exists("/dev/null") and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_symbolic_link_is_followed(tmp_path):
    real = tmp_path / "real.skmf"
    save_model(small_model(), real)
    (tmp_path / "link.skmf").symlink_to(real)
    save_model(small_model(), tmp_path / "link.skmf")
    assert (tmp_path / "link.skmf").is_symlink()
    assert load_model(tmp_path / "link.skmf").n_components == 2
