"""The ``skmf fit``, ``skmf recommend`` and ``skmf tune`` commands."""

import re

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, cross_val_score

from skmf import (
    BayesianMatrixFactorization,
    ImplicitMatrixFactorization,
    MatrixFactorization,
    _persistence,
)
from skmf._cli import main
from skmf._persistence import load_model, save_model

from .test_cli import run

# Small and fast: few factors and epochs, one thread, a fixed seed.
FAST = ["--max-iter", "3", "--n-jobs", "1", "--seed", "0"]
needs_recommend = pytest.mark.skipif(
    not hasattr(MatrixFactorization, "recommend"),
    reason="MatrixFactorization.recommend (issue 4) is not there yet",
)


@pytest.fixture(scope="module")
def ratings_csv(tmp_path_factory):
    """300 users, 150 items, 6,000 ratings, with MovieLens-like header names."""
    from skmf.datasets import make_ratings

    X, y = make_ratings(300, 150, 6000, random_state=0)
    path = tmp_path_factory.mktemp("data") / "ratings.csv"
    pd.DataFrame({"userId": X[:, 0], "movieId": X[:, 1], "rating": y}).to_csv(
        path, index=False
    )
    return path


def read_back(path):
    frame = pd.read_csv(path)
    return frame[["userId", "movieId"]].to_numpy(), frame["rating"].to_numpy()


@pytest.fixture(scope="module")
def model_path(ratings_csv, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "model.skmf"
    code = main(["fit", str(ratings_csv), "-o", str(path), "--n-components", "4"])
    assert code == 0
    return path


# fit


def test_fit_saves_the_model_the_options_describe(ratings_csv, tmp_path):
    output = tmp_path / "als.skmf"
    result = run(
        "fit",
        ratings_csv,
        "-o",
        output,
        "--solver",
        "als",
        "--alpha",
        "0.05",
        "--n-components",
        "3",
        *FAST,
    )
    assert result.returncode == 0, result.stderr
    assert f"saved to {output}" in result.stdout
    assert "6,000 ratings, 300 users, 150 items" in result.stdout
    model = load_model(output)
    expected = MatrixFactorization(
        n_components=3, solver="als", alpha=0.05, max_iter=3, n_jobs=1, random_state=0
    )
    assert model.get_params() == expected.get_params()
    # The same fit as in Python, on the same ratings.
    X, y = read_back(ratings_csv)
    np.testing.assert_allclose(model.predict(X), expected.fit(X, y).predict(X))
    training_rmse = float(re.search(r"training RMSE (\d\.\d+)", result.stdout)[1])
    assert training_rmse == pytest.approx(
        np.sqrt(np.mean((model.predict(X) - y) ** 2)), abs=1e-4
    )


def test_fit_verbose_shows_epochs_and_early_stopping(ratings_csv, tmp_path, capsys):
    output = tmp_path / "m.skmf"
    argv = ["fit", str(ratings_csv), "-o", str(output), "-v", "--early-stopping"]
    assert main([*argv, "--learning-rate", "0.01", *FAST]) == 0
    out, err = capsys.readouterr()
    # The epochs are progress: on stderr, so that stdout keeps the results.
    assert "Epoch 1/3: loss" in err and "Epoch 3/3" in err and "ETA" in err
    assert "Epoch" not in out
    assert "skmf fit: warning: MatrixFactorization stopped at max_iter=3" in err
    assert "best validation RMSE" in out
    model = load_model(output)
    assert model.early_stopping and model.learning_rate == 0.01
    assert model.verbose == 1  # kept: set verbose=0 before refitting quietly


def test_fit_reads_parquet(ratings_csv, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    frame = pd.read_csv(ratings_csv).rename(columns={"rating": "stars"})
    frame.insert(0, "when", 0)
    frame.to_parquet(tmp_path / "ratings.parquet")
    output = tmp_path / "m.skmf"
    argv = ["fit", str(tmp_path / "ratings.parquet"), "-o", str(output)]
    assert main([*argv, "--rating-col", "stars", *FAST]) == 0
    out = capsys.readouterr().out
    assert "Parquet; columns user='userId', item='movieId', rating='stars'" in out
    assert load_model(output).users_.shape == (300,)


def test_fit_errors(ratings_csv, tmp_path, capsys):
    output = str(tmp_path / "m.skmf")
    assert main(["fit", str(tmp_path / "none.csv"), "-o", output]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["fit", str(ratings_csv), "-o", str(tmp_path / "no/m.skmf")]) == 2
    assert "no folder" in capsys.readouterr().err
    # Diverging SGD: the command ran and failed, so 1; nothing is saved.
    argv = ["fit", str(ratings_csv), "-o", output, "--learning-rate", "50"]
    assert main([*argv, *FAST]) == 1
    assert "diverged" in capsys.readouterr().err
    assert not (tmp_path / "m.skmf").exists()
    for bad in (["--alpha", "-1"], ["--learning-rate", "0"], ["--solver", "x"], []):
        with pytest.raises(SystemExit) as info:
            main(["fit", str(ratings_csv), *bad, *(["-o", output] if bad else [])])
        assert info.value.code == 2
    err = capsys.readouterr().err
    assert "must be 0 or more" in err and "must be above 0" in err
    assert "-o/--output" in err  # required


@pytest.mark.parametrize(
    "options, estimator, params, steps",
    [
        (["--solver", "als"], MatrixFactorization, {"solver": "als"}, "3 sweeps"),
        ([], MatrixFactorization, {"solver": "sgd"}, "3 epochs"),
        (
            ["--model", "bayes", "--n-samples", "4", "--burn-in", "1"],
            BayesianMatrixFactorization,
            {"n_samples": 4, "burn_in": 1},
            "5 sweeps",
        ),
        (
            ["--model", "implicit", "--alpha", "0.5", "--confidence", "log",
             "--confidence-scale", "2"],
            ImplicitMatrixFactorization,
            {"alpha": 0.5, "confidence": "log", "confidence_scale": 2.0},
            "3 sweeps",
        ),
    ],
)  # fmt: skip
def test_fit_every_estimator(ratings_csv, tmp_path, capsys, options, estimator,
                             params, steps):  # fmt: skip
    output = tmp_path / "m.skmf"
    fast = FAST if estimator is not BayesianMatrixFactorization else FAST[2:]
    argv = ["fit", str(ratings_csv), "-o", str(output), "--n-components", "3"]
    assert main([*argv, *options, *fast]) == 0
    out = capsys.readouterr().out
    model = load_model(output)
    assert type(model) is estimator
    expected = estimator(n_components=3, n_jobs=1, random_state=0, **params)
    if estimator is not BayesianMatrixFactorization:
        expected.set_params(max_iter=3)
    assert model.get_params() == expected.get_params()
    assert f"({steps})" in out
    if estimator is ImplicitMatrixFactorization:
        assert "6,000 counts" in out and "final training loss" in out
    else:
        assert "training RMSE" in out


@pytest.mark.parametrize(
    "options, message",
    [
        (["--model", "bayes", "--learning-rate", "0.1"],
         "--learning-rate is for --model mf, not --model bayes"),
        (["--model", "bayes", "--max-iter", "3"],
         "the Gibbs sampler runs --burn-in + --n-samples sweeps"),
        (["--model", "implicit", "--solver", "als"], "--solver is for --model mf"),
        (["--model", "mf", "--n-samples", "3"], "--n-samples is for --model bayes"),
        (["--model", "implicit", "--alpha", "0"], "alpha"),
        (["--solver", "als", "--learning-rate", "0.1"], "ALS has no step size"),
        (["--model", "svd"], "invalid choice: 'svd'"),
        (["--model", "bayes", "--burn-in", "-1"], "must be 0 or more"),
    ],
)  # fmt: skip
def test_fit_options_of_another_model_exit_2(ratings_csv, tmp_path, capsys,
                                             options, message):  # fmt: skip
    argv = ["fit", str(ratings_csv), "-o", str(tmp_path / "m.skmf"), *options]
    try:
        code = main(argv)
    except SystemExit as exc:  # refused by argparse
        code = exc.code
    assert code == 2
    out, err = capsys.readouterr()
    assert message in err and out == ""  # refused before reading the data
    assert not (tmp_path / "m.skmf").exists()


def test_fit_implicit_refuses_negative_counts(tmp_path, capsys):
    path = tmp_path / "plays.csv"
    path.write_text("user,item,rating\n1,1,3\n1,2,-1\n2,1,1\n")
    assert main(["fit", str(path), "-o", str(tmp_path / "m.skmf"),
                 "--model", "implicit"]) == 2  # fmt: skip
    assert "cannot be negative; the data has -1" in capsys.readouterr().err


def test_fit_on_generated_data(tmp_path):
    output = tmp_path / "m.skmf"
    assert main(["fit", "-o", str(output), "--n-components", "2", *FAST]) == 0
    assert load_model(output).n_components == 2


# recommend


@needs_recommend
def test_recommend_prints_the_models_top_n(model_path, ratings_csv):
    result = run("recommend", model_path, "0", "7", "-n", "4", "--tsv")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(pd.io.common.StringIO(result.stdout), sep="\t")
    assert list(table.columns) == ["user", "rank", "item", "score"]
    model = load_model(model_path)
    items, scores = model.recommend([0, 7], n=4)
    np.testing.assert_array_equal(table["item"].to_numpy(), items.ravel())
    np.testing.assert_allclose(table["score"], scores.ravel(), atol=1e-4)
    assert table["rank"].tolist() == [1, 2, 3, 4] * 2
    # Only items the user had not rated.
    X, _ = read_back(ratings_csv)
    rated = set(X[X[:, 0] == 0, 1])
    assert not rated & set(table.loc[table["user"] == 0, "item"])


@needs_recommend
def test_recommend_include_seen_and_unknown_users(model_path, capsys):
    assert main(["recommend", str(model_path), "0", "ghost", "-n", "150"]) == 0
    captured = capsys.readouterr()
    assert "1 user not in the training data ('ghost')" in captured.err
    lines = captured.out.splitlines()
    assert lines[0].split() == ["user", "rank", "item", "score"]
    n_unseen = sum(line.split()[0] == "0" for line in lines[1:])
    n_ghost = sum(line.split()[0] == "ghost" for line in lines[1:])
    assert n_ghost == 150 and n_unseen < 150  # seen items left out for user 0
    assert main(["recommend", str(model_path), "0", "-n", "150", "--include-seen"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 151


def test_recommend_errors(model_path, ratings_csv, tmp_path, capsys, monkeypatch):
    assert main(["recommend", str(tmp_path / "none.skmf"), "1"]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "junk.skmf").write_bytes(b"\x00\x01not a model")
    assert main(["recommend", str(tmp_path / "junk.skmf"), "1"]) == 2
    assert "not an skmf model file" in capsys.readouterr().err
    assert main(["recommend", str(ratings_csv), "1"]) == 2  # a ratings file
    assert "a ratings file?" in capsys.readouterr().err
    joblib.dump({"a": 1}, tmp_path / "dict.joblib")
    assert main(["recommend", str(tmp_path / "dict.joblib"), "1"]) == 2
    assert "it is a pickle" in capsys.readouterr().err
    model = load_model(model_path)
    with monkeypatch.context() as patch:  # saved by an incompatible skmf
        patch.setattr(_persistence, "PICKLE_FORMAT", _persistence.PICKLE_FORMAT + 1)
        save_model(model, tmp_path / "future.skmf")
    assert main(["recommend", str(tmp_path / "future.skmf"), "1"]) == 2
    assert "which skmf" in capsys.readouterr().err
    assert main(["recommend", str(model_path)]) == 2  # no user
    assert "exactly one of them" in capsys.readouterr().err


# tune


def test_tune_table_matches_cross_validation(ratings_csv, tmp_path, capsys):
    output = tmp_path / "best.skmf"
    argv = ["tune", str(ratings_csv), "--n-components", "3,2", "--alpha", "0.05"]
    argv += ["--learning-rate", "0.01", "--folds", "2", "-o", str(output), *FAST]
    assert main(argv) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^(\d)\s+(\d)\s+0.05\s+0.01\s+(\d\.\d{4}) ± ", out, re.M)
    assert len(rows) == 2 and [r[0] for r in rows] == ["1", "2"]
    X, y = read_back(ratings_csv)
    cv = KFold(n_splits=2, shuffle=True, random_state=0)
    for _, k, rmse in rows:
        model = MatrixFactorization(
            n_components=int(k),
            alpha=0.05,
            learning_rate=0.01,
            max_iter=3,
            n_jobs=1,
            random_state=0,
        )
        scores = cross_val_score(
            model, X, y, cv=cv, scoring="neg_root_mean_squared_error"
        )
        assert float(rmse) == pytest.approx(-scores.mean(), abs=1e-4)
    best_k = int(rows[0][1])
    assert f"best: n_components={best_k}, alpha=0.05, learning_rate=0.01" in out
    assert load_model(output).n_components == best_k


def test_tune_reports_failed_combinations(ratings_csv, capsys):
    argv = ["tune", str(ratings_csv), "--n-components", "2", "--alpha", "0.1"]
    argv += ["--folds", "2", *FAST]
    assert main([*argv, "--learning-rate", "0.01,50"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^-\s+2\s+0.1\s+50\s+failed$", out, re.M)
    assert "failed: the fit raised ValueError: SGD diverged" in out
    assert main([*argv, "--learning-rate", "50"]) == 1
    assert "the fits failed: ValueError: SGD diverged" in capsys.readouterr().err


def test_tune_argument_errors(ratings_csv, capsys):
    argv = ["tune", str(ratings_csv), "--solver", "als"]
    assert main([*argv, "--learning-rate", "0.01"]) == 2
    assert "ALS has no step size" in capsys.readouterr().err
    assert main([*argv, "--alpha", "0,0.1"]) == 2
    assert "needs alpha > 0" in capsys.readouterr().err  # the estimator's words
    with pytest.raises(SystemExit):
        main(["tune", str(ratings_csv), "--n-components", "2,x"])
    assert "not an integer: 'x'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command, options",
    [
        ("fit", ["--output", "--solver", "--alpha", "--learning-rate", "--verbose"]),
        ("recommend", ["MODEL", "USER", "--include-seen", "--tsv"]),
        ("tune", ["--n-components", "--alpha", "--learning-rate", "--folds"]),
    ],
)
def test_help(command, options, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    for option in options:
        assert option in out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert command in capsys.readouterr().out


# predict


def test_predict_writes_every_pair_in_its_order(model_path, tmp_path, capsys):
    pairs = tmp_path / "pairs.csv"
    # Ids as text match the int ids of the model; "007" is not 7; ghost is new.
    pairs.write_text("userId,movieId\n7,3\n0,1\n007,3\nghost,2\n7,3\n")
    assert main(["predict", str(model_path), str(pairs)]) == 0
    out, err = capsys.readouterr()
    table = pd.read_csv(pd.io.common.StringIO(out), dtype={"user": str})
    assert list(table.columns) == ["user", "item", "prediction"]
    assert table["user"].tolist() == ["7", "0", "007", "ghost", "7"]
    model = load_model(model_path)
    X = np.array([[7, 3], [0, 1], ["007", 3], ["ghost", 2], [7, 3]], dtype=object)
    np.testing.assert_allclose(table["prediction"], model.predict(X), rtol=1e-6)
    # 7 is the known user 7: not the prediction for an unknown user.
    assert table["prediction"][0] != pytest.approx(table["prediction"][2])
    assert "2 pairs of 5 have a user or an item not in the training data" in err


@pytest.mark.parametrize("name", ["p.parquet", "p.tsv", "p.csv"])
def test_predict_output_format_follows_the_extension(
    model_path, ratings_csv, tmp_path, capsys, name
):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    output = tmp_path / name
    # A ratings file will do as pairs: its rating column is not read.
    assert main(["predict", str(model_path), str(ratings_csv), "-o", str(output)]) == 0
    assert f"wrote 6,000 predictions to {output}" in capsys.readouterr().err
    if name.endswith(".parquet"):
        table = pd.read_parquet(output)
        assert table["user"].dtype == np.int64  # typed ids stay typed
    else:
        table = pd.read_csv(output, sep="\t" if name.endswith(".tsv") else ",")
    X, _ = read_back(ratings_csv)
    np.testing.assert_array_equal(table[["user", "item"]].to_numpy(), X)
    np.testing.assert_allclose(
        table["prediction"], load_model(model_path).predict(X), rtol=1e-6
    )


def test_predict_streams_in_blocks(model_path, ratings_csv, tmp_path, monkeypatch):
    from skmf._cli import _predict

    whole = tmp_path / "whole.csv"
    assert main(["predict", str(model_path), str(ratings_csv), "-o", str(whole)]) == 0
    monkeypatch.setattr(_predict, "BLOCK_ROWS", 1000)
    calls = []
    original = MatrixFactorization.predict
    monkeypatch.setattr(
        MatrixFactorization,
        "predict",
        lambda self, X: calls.append(len(X)) or original(self, X),
    )
    blocks = tmp_path / "blocks.csv"
    assert main(["predict", str(model_path), str(ratings_csv), "-o", str(blocks)]) == 0
    assert calls == [1000] * 6
    assert blocks.read_text() == whole.read_text()


def test_predict_refuses_what_it_cannot_do(ratings_csv, tmp_path, capsys):
    implicit = tmp_path / "implicit.skmf"
    argv = ["fit", str(ratings_csv), "-o", str(implicit), "--model", "implicit"]
    assert main([*argv, *FAST]) == 0
    capsys.readouterr()
    assert main(["predict", str(implicit), str(ratings_csv)]) == 2
    assert "predicts no ratings; use 'skmf recommend'" in capsys.readouterr().err
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("user,item\n1,2\n,3\n")
    assert main(["predict", str(implicit), str(pairs)]) == 2  # the model first
    model = tmp_path / "mf.skmf"
    assert main(["fit", str(ratings_csv), "-o", str(model), *FAST]) == 0
    capsys.readouterr()
    assert main(["predict", str(model), str(pairs)]) == 2
    assert "data row 2 (line 3), column 0 ('user') has no user id" in (
        capsys.readouterr().err
    )
    pairs.write_text("1\n2\n")
    assert main(["predict", str(model), str(pairs)]) == 2
    assert "cannot tell how the columns of" in capsys.readouterr().err
    assert main(["predict", str(model), str(pairs), "--sep", ","]) == 2
    assert "has only 1 column; it needs a user column and an item column" in (
        capsys.readouterr().err
    )


# recommend for many users


@needs_recommend
def test_recommend_all_users_to_parquet(model_path, tmp_path, capsys, monkeypatch):
    pytest.importorskip("pyarrow")
    from skmf._cli import _recommend

    monkeypatch.setattr(_recommend, "BLOCK_ROWS", 200)  # blocks of 50 users
    sizes = []
    original = MatrixFactorization.recommend
    monkeypatch.setattr(
        MatrixFactorization,
        "recommend",
        lambda self, users, **kw: (
            sizes.append(len(users)) or original(self, users, **kw)
        ),
    )
    output = tmp_path / "recs.parquet"
    assert (
        main(["recommend", str(model_path), "--all", "-n", "4", "-o", str(output)]) == 0
    )
    assert "wrote 1,200 recommendations for 300 users" in capsys.readouterr().err
    assert sizes == [50] * 6  # never every user at once
    table = pd.read_parquet(output)
    assert list(table.columns) == ["user", "rank", "item", "score"]
    model = load_model(model_path)
    items, scores = original(model, model.users_, n=4)
    np.testing.assert_array_equal(table["user"], np.repeat(model.users_, 4))
    np.testing.assert_array_equal(table["rank"], np.tile([1, 2, 3, 4], 300))
    np.testing.assert_array_equal(table["item"], items.ravel())
    np.testing.assert_allclose(table["score"], scores.ravel())


@needs_recommend
def test_recommend_users_from_a_file(model_path, tmp_path, capsys):
    users = tmp_path / "users.txt"
    users.write_text("7\n0\nghost\n7\n")  # one repeat, one unknown
    argv = ["recommend", str(model_path), "--users-file", str(users), "-n", "3"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    table = pd.read_csv(pd.io.common.StringIO(out), dtype={"user": str})
    assert table["user"].tolist() == ["7"] * 3 + ["0"] * 3 + ["ghost"] * 3
    model = load_model(model_path)
    expected, _ = model.recommend(np.array([7, 0, "ghost"], dtype=object), n=3)
    np.testing.assert_array_equal(table["item"], expected.ravel())
    assert "names 1 user more than once: recommending once for each of its 3" in err
    assert "1 user not in the training data ('ghost')" in err
    # The same table as a file; a column of a table chosen by its name.
    ratings = tmp_path / "r.csv"
    ratings.write_text("movieId,userId\n1,7\n2,0\n3,ghost\n")
    output = tmp_path / "recs.csv"
    argv = ["recommend", str(model_path), "--users-file", str(ratings), "-n", "3"]
    assert main([*argv, "--user-col", "userId", "-o", str(output)]) == 0
    assert output.read_text() == out


@needs_recommend
@pytest.mark.parametrize(
    "options",
    [["7", "--all"], ["--all", "--users-file", "u.txt"], ["7", "--users-file", "x"],
     []],
)  # fmt: skip
def test_recommend_needs_one_source_of_users(model_path, capsys, options):
    assert main(["recommend", str(model_path), *options]) == 2
    err = capsys.readouterr().err
    assert "exactly one of them" in err or "give no USER ids with it" in err


# similar


def test_similar_items_and_users(model_path, tmp_path, capsys):
    model = load_model(model_path)
    assert main(["similar", str(model_path), "--items", "3", "5", "-n", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["item", "rank", "neighbour", "similarity"]
    expected, scores = model.similar_items([3, 5], n=2)
    assert [line.split()[2] for line in lines[1:]] == [str(i) for i in expected.ravel()]
    assert [float(line.split()[3]) for line in lines[1:]] == pytest.approx(
        scores.ravel(), abs=1e-4
    )
    users = tmp_path / "users.txt"
    users.write_text("user\n7\n0\n")
    output = tmp_path / "n.csv"
    argv = ["similar", str(model_path), "--users-file", str(users), "-o", str(output)]
    assert main(argv) == 0
    table = pd.read_csv(output)
    expected, _ = model.similar_users([7, 0], n=10)
    assert table["user"].tolist() == [7] * 10 + [0] * 10
    np.testing.assert_array_equal(table["neighbour"], expected.ravel())


@pytest.mark.parametrize(
    "options, message",
    [
        (["--items", "3", "999", "nope"], "2 items not in the training data: '999'"),
        ([], "exactly one of --items, --users"),
        (["--items", "3", "--users", "1"], "got 2 (--items, --users)"),
    ],
)
def test_similar_errors(model_path, capsys, options, message):
    assert main(["similar", str(model_path), *options]) == 2
    out, err = capsys.readouterr()
    assert message in err and out == ""
