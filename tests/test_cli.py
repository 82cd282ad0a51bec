"""The ``skmf`` command: ``python -m skmf [evaluate] [PATH]``."""

import gzip
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
