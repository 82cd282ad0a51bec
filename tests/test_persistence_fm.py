"""Factorization machines in skmf's own model files.

Their attribute coders are records: plain objects rebuilt field by field, so
a file can name only the fields the class declares and only allow-listed
classes.
"""

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from skmf import BayesianFactorizationMachine
from skmf._persistence import _checksum, load_model, save_model


def frame(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"user": rng.integers(0, 40, n), "item": rng.integers(0, 30, n)})
    X["age"] = (X["user"] % 7) * 10.0
    X["genres"] = np.where(X["item"] % 2 == 0, "Action|Comedy", "Drama")
    X["hour"] = rng.choice(["day", "night"], n)
    y = 3 + 0.05 * X["age"] / 10 + (X["item"] % 2) - 0.5 + rng.normal(0, 0.3, n)
    return X, y.to_numpy()


def fitted():
    X, y = frame()
    model = BayesianFactorizationMachine(
        n_components=3,
        user_features=["age"],
        item_features=["genres"],
        context_features=["hour"],
        implicit_feedback="both",
        n_samples=4,
        burn_in=2,
        random_state=0,
    )
    return model.fit(X, y), X


def test_round_trip_keeps_predictions_for_known_and_new_ids(tmp_path):
    model, X = fitted()
    loaded = load_model(save_model(model, tmp_path / "fm.skmf"))
    assert type(loaded) is BayesianFactorizationMachine
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    # Users and items never seen in fit are predicted from their attributes,
    # through the loaded coders.
    new = X.head(20).assign(user=X["user"].head(20) + 1000, item=-1)
    np.testing.assert_array_equal(loaded.predict(new), model.predict(new))
    items, scores = model.recommend(X["user"].head(3).to_numpy(), n=5)
    loaded_items, loaded_scores = loaded.recommend(X["user"].head(3).to_numpy(), n=5)
    np.testing.assert_array_equal(loaded_items, items)
    np.testing.assert_array_equal(loaded_scores, scores)


def rewrite(path, out, change):
    """Apply ``change`` to the metadata and re-sign it, as an attacker could."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(members.pop("skmf.json"))
    metadata.pop("sha256")
    change(metadata)
    metadata["sha256"] = _checksum(metadata, members)
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("skmf.json", json.dumps(metadata))
        for name, data in members.items():
            archive.writestr(name, data)
    return out


def records(value):
    """Every record spec in a decoded metadata tree."""
    if isinstance(value, dict):
        if set(value) == {"record"}:
            yield value["record"]
        for item in value.values():
            yield from records(item)
    elif isinstance(value, list):
        for item in value:
            yield from records(item)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda spec: spec.__setitem__(0, "subprocess.Popen"), "not one of skmf's"),
        (lambda spec: spec[1].__setitem__("__class__", "x"), "fields of"),
    ],
    ids=["other class", "other field"],
)
def test_a_record_naming_anything_else_is_refused(tmp_path, change, message):
    model, _ = fitted()
    path = save_model(model, tmp_path / "fm.skmf")

    def tamper(metadata):
        specs = list(records(metadata["state"]))
        assert specs, "the coders are saved as records"
        change(specs[0])

    bad = rewrite(path, tmp_path / "bad.skmf", tamper)
    with pytest.raises(ValueError, match=message):
        load_model(bad)


def test_a_coder_with_an_undeclared_attribute_is_not_saved(tmp_path):
    model, _ = fitted()
    coder = next(iter(model._coders["user"]))[1]
    coder.extra = object()
    with pytest.raises(TypeError, match="extra"):
        save_model(model, tmp_path / "fm.skmf")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("solver", ["als", "sgd"])
def test_least_squares_machines_round_trip(tmp_path, solver):
    from skmf import FactorizationMachine

    X, y = frame()
    model = FactorizationMachine(
        n_components=3,
        solver=solver,
        user_features=["age"],
        item_features=["genres"],
        context_features=["hour"],
        implicit_feedback="user",
        max_iter=3,
        random_state=0,
    ).fit(X, y)
    loaded = load_model(save_model(model, tmp_path / "fm.skmf"))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.get_params() == model.get_params()
    # Fold-in reads the fitted histories: they are saved too.
    items, ratings = X.iloc[:4, 1], y[:4]
    for got, expected in zip(
        loaded.fold_in(items, ratings), model.fold_in(items, ratings), strict=True
    ):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("solver", ["als", "sgd", "gibbs"])
def test_the_regressor_round_trips(tmp_path, solver):
    import scipy.sparse as sp

    from skmf import FactorizationMachineRegressor

    rng = np.random.default_rng(0)
    X = sp.random(200, 12, density=0.3, format="csr", random_state=0)
    y = rng.normal(size=200)
    model = FactorizationMachineRegressor(
        n_components=2, solver=solver, max_iter=3, n_samples=3, burn_in=1,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    loaded = load_model(save_model(model, tmp_path / "fm.skmf"))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
