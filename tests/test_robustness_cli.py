"""The ``skmf`` command under faults: pipes, interrupts, bad paths, hostile files.

Each case runs the real command in a child process and checks what a user
sees: the exit code, one line on stderr and no traceback, and that nothing
was computed when the arguments were bad.
"""

import os
import pickle
import signal
import stat
import subprocess
import sys

import pandas as pd
import pytest

from skmf.datasets import make_ratings

FAST = ["--max-iter", "2", "--n-components", "2", "--n-jobs", "1"]


def skmf(*args, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 300)
    return subprocess.run([sys.executable, "-m", "skmf", *map(str, args)], **kwargs)


def one_line_error(result):
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def ratings_csv(tmp_path_factory):
    X, y = make_ratings(400, 200, 8000, random_state=0)
    path = tmp_path_factory.mktemp("data") / "ratings.csv"
    pd.DataFrame({"user": X[:, 0], "item": X[:, 1], "rating": y}).to_csv(
        path, index=False
    )
    return path


@pytest.fixture(scope="module")
def model_file(ratings_csv, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.skmf"
    result = skmf("fit", ratings_csv, "-o", path, *FAST)
    assert result.returncode == 0, result.stderr
    return path


def test_a_closed_pipe_is_quiet(model_file):
    users = [str(u) for u in range(400)]
    process = subprocess.Popen(
        [sys.executable, "-m", "skmf", "recommend", str(model_file), *users,
         "-n", "150"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    head = [process.stdout.readline() for _ in range(2)]  # as '| head -2'
    process.stdout.close()
    stderr = process.stderr.read()
    code = process.wait(timeout=120)
    assert head[0].split() == ["user", "rank", "item", "score"]
    assert code in (0, 141) and stderr == ""


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path):
    # The generated data set, a grid long enough to be interrupted.
    process = subprocess.Popen(
        [sys.executable, "-m", "skmf", "tune", "--n-components", "5,10,20",
         "--alpha", "0.01,0.05,0.1", "--n-jobs", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    for line in process.stdout:
        if line.startswith("grid:"):
            break
    process.send_signal(signal.SIGINT)
    stderr = process.stderr.read()
    code = process.wait(timeout=120)
    assert code == 130
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines() == ["skmf tune: interrupted"]


@pytest.mark.parametrize("command", ["fit", "tune"])
def test_a_bad_output_path_is_found_before_any_work(ratings_csv, tmp_path, command):
    result = skmf(command, ratings_csv, "-o", tmp_path / "no" / "m.skmf", *FAST)
    assert result.returncode == 2
    assert "no folder" in one_line_error(result)
    assert result.stdout == ""  # nothing read, nothing fitted


def test_output_at_a_fifo_is_refused_and_kept(ratings_csv, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = skmf("fit", ratings_csv, "-o", fifo, *FAST, timeout=60)
    assert result.returncode == 2
    assert "special file" in one_line_error(result) and result.stdout == ""
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_output_at_a_directory_is_refused(ratings_csv, tmp_path):
    result = skmf("fit", ratings_csv, "-o", tmp_path, *FAST)
    assert result.returncode == 2
    assert "directory" in one_line_error(result) and result.stdout == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_output_at_a_device_is_refused_and_kept(ratings_csv, tmp_path):
    device = tmp_path / "null"  # a twin of /dev/null, so that none is at risk
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    result = skmf("fit", ratings_csv, "-o", device, *FAST)
    assert result.returncode == 2
    assert "special file" in one_line_error(result)
    assert stat.S_ISCHR(os.stat(device).st_mode)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in any folder")
def test_an_unwritable_folder_is_refused(ratings_csv, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    result = skmf("fit", ratings_csv, "-o", folder / "m.skmf", *FAST)
    assert result.returncode == 2
    assert "permission" in one_line_error(result) and result.stdout == ""


def test_a_parameter_the_estimator_refuses_exits_2(ratings_csv, tmp_path):
    result = skmf("fit", ratings_csv, "-o", tmp_path / "m.skmf", "--solver", "als",
                  "--alpha", "0", *FAST)  # fmt: skip
    assert result.returncode == 2
    assert "alpha > 0" in one_line_error(result) and result.stdout == ""


def test_recommend_on_a_ratings_file_says_so(ratings_csv):
    result = skmf("recommend", ratings_csv, "1")
    assert result.returncode == 2
    error = one_line_error(result)
    assert "not an skmf model file" in error and "pop from empty" not in error


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_crafted_model_file_runs_no_code(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "model.joblib").write_bytes(pickle.dumps(_Payload(str(marker))))
    result = skmf("recommend", tmp_path / "model.joblib", "1")
    assert not marker.exists()
    assert result.returncode == 2
    assert "pickle" in one_line_error(result)


def test_a_saved_model_follows_the_umask(ratings_csv, tmp_path):
    path = tmp_path / "m.skmf"
    result = skmf("fit", ratings_csv, "-o", path, *FAST,
                  preexec_fn=lambda: os.umask(0o022))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o664)  # a re-save keeps the file's own mode
    assert skmf("fit", ratings_csv, "-o", path, *FAST).returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o664
    assert sorted(os.listdir(tmp_path)) == ["m.skmf"]  # no .part left behind


def test_a_corrupted_model_is_refused(model_file, tmp_path):
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0x10
    (tmp_path / "bad.skmf").write_bytes(bytes(data))
    result = skmf("recommend", tmp_path / "bad.skmf", "1")
    assert result.returncode == 2
    assert "bad.skmf" in one_line_error(result)
