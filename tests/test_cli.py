"""The ``skmf`` command: ``python -m skmf [evaluate] [PATH]``."""

import gzip
import io
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from skmf._cli import main
from skmf._cli._evaluate import baseline_model
from skmf.datasets import make_ratings, read_ratings

ROW = re.compile(
    r"^(baseline|sgd|als|bayes)\s+(\d+\.\d+) ± (\d+\.\d+)\s+(\d+\.\d+) ± (\d+\.\d+)"
    r"\s+(\d+\.\d+) s$",
    re.MULTILINE,
)
# Few folds, few epochs, one thread: seconds, not minutes.
FAST = ["--folds", "2", "--max-iter", "5", "--n-components", "5", "--n-jobs", "1"]


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "skmf", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def table(stdout):
    """{model: (rmse, rmse_std, mae, mae_std, fit_time)} from the printed table."""
    return {m[0]: tuple(map(float, m[1:])) for m in ROW.findall(stdout)}


@pytest.fixture(scope="module")
def ratings():
    """A small data set as a DataFrame: user, item, rating (1..5 stars)."""
    X, y = make_ratings(300, 150, 6000, random_state=0)
    return pd.DataFrame({"user": X[:, 0], "item": X[:, 1], "rating": y.astype(int)})


def test_default_data_models_beat_the_baseline():
    result = run("--folds", "2", "--n-jobs", "1")
    assert result.returncode == 0, result.stderr
    assert "make_ratings(" in result.stdout
    assert "2-fold cross-validation" in result.stdout
    rows = table(result.stdout)
    assert list(rows) == ["baseline", "sgd", "als", "bayes"]
    for rmse, rmse_std, mae, mae_std, fit_time in rows.values():
        assert 0 < mae < rmse < 2 and rmse_std < 0.1 and mae_std < 0.1
        assert fit_time >= 0
    assert rows["sgd"][0] < rows["baseline"][0] - 0.05
    assert rows["als"][0] < rows["baseline"][0] - 0.05
    assert rows["bayes"][0] < rows["baseline"][0] - 0.05
    assert rows["als"][2] < rows["baseline"][2]


def test_evaluate_is_the_default_command(capsys):
    assert main(["evaluate", *FAST]) == 0
    explicit = table(capsys.readouterr().out)
    assert main(FAST) == 0
    bare = table(capsys.readouterr().out)
    assert list(explicit) == list(bare) == ["baseline", "sgd", "als", "bayes"]
    # Same folds, same seeds: the same scores (fit times may differ).
    assert [r[:4] for r in explicit.values()] == [r[:4] for r in bare.values()]


def test_tsv_without_header(tmp_path, ratings):
    path = tmp_path / "u.data"
    ratings.assign(timestamp=881250949).to_csv(
        path, sep="\t", header=False, index=False
    )
    result = run(path, *FAST)
    assert result.returncode == 0, result.stderr
    assert "tab-separated, no header" in result.stdout
    assert "6,000 ratings" in result.stdout
    assert set(table(result.stdout)) == {"baseline", "sgd", "als", "bayes"}


def test_csv_with_header_and_named_columns(tmp_path, ratings):
    path = tmp_path / "ratings.csv"
    frame = ratings.rename(columns={"user": "uid", "item": "movie", "rating": "stars"})
    frame.insert(0, "timestamp", 0)
    frame[["timestamp", "stars", "movie", "uid"]].to_csv(path, index=False)
    result = run(
        path,
        "--user-col",
        "uid",
        "--item-col",
        "movie",
        "--rating-col",
        "stars",
        *FAST,
    )
    assert result.returncode == 0, result.stderr
    assert "comma-separated, header line" in result.stdout
    assert "user=3 ('uid'), item=2 ('movie'), rating=1 ('stars')" in result.stdout
    assert set(table(result.stdout)) == {"baseline", "sgd", "als", "bayes"}


def test_missing_file(tmp_path):
    result = run(tmp_path / "nowhere.csv")
    assert result.returncode == 2
    assert "nowhere.csv" in result.stderr and "no such file" in result.stderr
    assert result.stdout == ""


def test_bad_column(tmp_path, ratings):
    path = tmp_path / "ratings.csv"
    ratings.to_csv(path, index=False)
    result = run(path, "--rating-col", "score")
    assert result.returncode == 2
    assert "no column named 'score'" in result.stderr
    assert "'user', 'item', 'rating'" in result.stderr  # the columns there are
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    "option, message",
    [
        (["--item-col", "7"], "out of range"),
        (["--user-col", "1"], "must differ"),
        (["--rating-col", "-1"], "no column named '-1'"),
    ],
)
def test_bad_column_in_process(tmp_path, ratings, capsys, option, message):
    path = tmp_path / "ratings.csv"
    ratings.to_csv(path, index=False)
    assert main([str(path), *option]) == 2
    assert message in capsys.readouterr().err


def test_unparsable_rating(tmp_path, ratings):
    path = tmp_path / "ratings.csv"
    frame = ratings.astype({"rating": object})
    frame.loc[41, "rating"] = "five"
    frame.to_csv(path, index=False)
    result = run(path)
    assert result.returncode == 2
    assert "'five'" in result.stderr and "data row 42 (line 43)" in result.stderr


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--folds", "1"])
    assert exit_info.value.code == 2
    assert "--folds" in capsys.readouterr().err


def test_help(capsys):
    for argv in (["--help"], ["evaluate", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "evaluate" in out
    for option in ("--user-col", "--no-header", "--folds", "--n-components"):
        assert option in out


# In-process tests of the pieces.


def test_misspelled_command_is_hinted(capsys):
    assert main(["evalute"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_the_baseline_is_biases_only(ratings):
    X, y = ratings[["user", "item"]].to_numpy(), ratings["rating"].to_numpy()
    model = baseline_model(n_components=50, max_iter=10, random_state=0).fit(X, y)
    assert model.n_components == 1
    assert not model.user_factors_.any() and not model.item_factors_.any()
    assert model.user_bias_.any() and model.item_bias_.any()


@pytest.mark.parametrize(
    "sep, header, name",
    [
        ("\t", False, "tab"),
        (",", True, "comma"),
        (";", True, "semicolon"),
        ("|", False, "pipe"),
        ("::", False, "'::'"),
        (" ", False, "whitespace"),
    ],
)
def test_separator_and_header_detection(tmp_path, ratings, sep, header, name):
    path = tmp_path / "ratings.txt"
    lines = ratings.astype(str).apply(sep.join, axis=1).tolist()
    if header:
        lines.insert(0, sep.join(ratings.columns))
    path.write_text("\n".join(lines) + "\n")
    result = read_ratings(path)
    np.testing.assert_array_equal(result.data, ratings[["user", "item"]].to_numpy())
    np.testing.assert_array_equal(result.target, ratings["rating"].to_numpy())
    assert f"{name}-separated" in result.DESCR
    assert ("header line" if header else "no header") in result.DESCR


def test_string_ids_header_names_and_compression(tmp_path, ratings):
    path = tmp_path / "ratings.csv.gz"
    frame = pd.DataFrame(
        {
            "Timestamp": 0,
            "Rating": ratings["rating"],
            "movieId": "m" + ratings["item"].astype(str),
            "userId": "u" + ratings["user"].astype(str),
        }
    )
    with gzip.open(path, "wt") as file:
        frame.to_csv(file, index=False, lineterminator="\r\n")
    result = read_ratings(path)
    assert "header line" in result.DESCR
    assert result.data[0].tolist() == [frame["userId"][0], frame["movieId"][0]]
    np.testing.assert_array_equal(result.target, ratings["rating"].to_numpy())


def test_forced_header_options(tmp_path, ratings):
    path = tmp_path / "ratings.tsv"
    ratings.to_csv(path, sep="\t", index=False, header=False)
    assert read_ratings(path, header=True).target.shape[0] == len(ratings) - 1
    with pytest.raises(ValueError, match="holds no column names"):
        read_ratings(path, rating_col="rating")
    with pytest.raises(ValueError, match="only 1 column.*--sep"):
        read_ratings(path, sep=",", header=False)
    assert read_ratings(path, sep="tab").target.shape[0] == len(ratings)


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("user,item,rating\n", "no ratings"),
        ("onlyonecolumn\n1\n2\n", "pass --sep"),
        ("1,2,5\n1,3\n", "no rating"),
        ("1,2,5\n,3,4\n", "no user id"),
    ],
)
def test_unreadable_files(tmp_path, content, message):
    path = tmp_path / "ratings.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_ratings(path)


# Progress, --quiet, --verbose and --models.

FOLD_LINE = re.compile(
    r"^fold (\d)/(\d) of (\w+): RMSE (\d+\.\d{4}), MAE (\d+\.\d{4}), (\d+\.\d+) s$",
    re.MULTILINE,
)


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


def test_evaluate_prints_every_fold_on_stderr(capsys):
    assert main(["evaluate", *FAST, "--models", "sgd,als"]) == 0
    out, err = capsys.readouterr()
    folds = FOLD_LINE.findall(err)
    assert [(f[0], f[2]) for f in folds] == [
        ("1", "sgd"),
        ("2", "sgd"),
        ("1", "als"),
        ("2", "als"),
    ]
    assert not FOLD_LINE.search(out) and "\r" not in err  # no bar off a terminal
    # The table's means are the means of the folds' figures.
    rows = table(out)
    for name in ("sgd", "als"):
        rmses = [float(f[3]) for f in folds if f[2] == name]
        assert 0 < rmses[0] < 2
        assert rows[name][0] == pytest.approx(np.mean(rmses), abs=1e-4)


def test_a_progress_bar_only_on_a_terminal(monkeypatch, capsys):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["evaluate", *FAST, "--models", "sgd"]) == 0
    err = terminal.getvalue()
    assert "\r[" in err and "2/2 fits" in err and "fold 2/2 of sgd" in err
    # The bar is wiped before the results: the last output on stderr is blank.
    assert err.endswith("\r") and err.rsplit("\r", 2)[-2].strip() == ""
    assert "\r" not in capsys.readouterr().out


def test_quiet_prints_only_the_table(capsys):
    assert main(["evaluate", *FAST, "--models", "baseline,sgd", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["model", "RMSE", "MAE", "fit", "time"]
    assert len(lines) == 3 and list(table(out)) == ["baseline", "sgd"]


def test_verbose_adds_the_estimators_lines_on_stderr(capsys):
    assert main(["evaluate", *FAST, "--models", "sgd,als", "--verbose"]) == 0
    out, err = capsys.readouterr()
    assert "Epoch 5/5: loss" in err  # SGD epochs
    assert "Sweep 5/5: loss" in err  # ALS sweeps, not epochs
    assert "Epoch" not in out and "Sweep" not in out
    assert len(FOLD_LINE.findall(err)) == 4


def test_models_picks_the_models_in_the_tables_order(capsys):
    assert main(["evaluate", *FAST, "--models", "bayes,baseline,bayes"]) == 0
    out = capsys.readouterr().out
    assert list(table(out)) == ["baseline", "bayes"]
    assert "      sgd " not in out  # nor described
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--models", "sgd,svd"])
    assert info.value.code == 2
    assert "unknown model 'svd'; choose among baseline,sgd,als,bayes" in (
        capsys.readouterr().err
    )


def test_tune_prints_every_candidate_on_stderr(capsys):
    argv = ["tune", "--n-components", "2,3", "--alpha", "0.05", "--learning-rate"]
    argv += ["0.01", "--folds", "2", "--max-iter", "5", "--n-jobs", "1"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    lines = re.findall(
        r"^candidate (\d)/2 \(n_components=(\d), alpha=0.05, learning_rate=0.01\): "
        r"RMSE (\d\.\d{4}) ± \d\.\d{4}, \d+\.\d+ s$",
        err,
        re.M,
    )
    assert [line[:2] for line in lines] == [("1", "2"), ("2", "3")]
    printed = dict(re.findall(r"^\d\s+(\d)\s+0.05\s+0.01\s+(\d\.\d{4}) ±", out, re.M))
    assert {k: rmse for _, k, rmse in lines} == printed  # positive, as the table
    assert "fold " not in err  # per fold only with --verbose
    assert main([*argv, "--verbose"]) == 0
    err = capsys.readouterr().err
    assert len(re.findall(r"^fold \d/2 of candidate \d/2 \(.*\): RMSE", err, re.M)) == 4
    assert "Epoch 5/5" in err


def test_counts_in_messages_have_the_right_number(tmp_path, capsys):
    path = tmp_path / "one.csv"
    path.write_text("user,item,rating\n7,1,4\n7,2,3\n7,3,5\n")
    assert main(["fit", str(path), "-o", str(tmp_path / "m.skmf"), *FAST[2:]]) == 0
    assert "3 ratings, 1 user, 3 items" in capsys.readouterr().out
    path.write_text("user,item,rating\n7,1,4\n")
    assert main([str(path)]) == 2
    assert "the data has 1 rating." in capsys.readouterr().err
