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


def _clean_sigint():
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path):
    # The generated data set, a grid long enough to be interrupted: about a
    # minute uninterrupted (2000 epochs a fit), so that a test process slowed
    # by a busy machine still sends the signal before the work ends (with the
    # default epochs the whole grid took 1.4 s and a loaded run lost the race,
    # exiting 0). The first progress line on stderr (flushed, unlike stdout
    # through a pipe) says that the work has started.
    process = subprocess.Popen(
        [sys.executable, "-m", "skmf", "tune", "--n-components", "5,10,20",
         "--alpha", "0.01,0.05,0.1", "--max-iter", "2000", "--n-jobs", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As a shell starts it: SIGINT neither blocked nor ignored. A child
        # inherits both from the test process, whose state earlier tests'
        # libraries may have changed (in two full runs the signal never
        # reached the command, which then finished and exited 0).
        preexec_fn=_clean_sigint,
    )  # fmt: skip
    first = process.stderr.readline()
    assert first.startswith("candidate 1/27 (")
    process.send_signal(signal.SIGINT)
    stderr = process.stderr.read()
    code = process.wait(timeout=120)
    assert code == 130
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert lines[-1] == "skmf tune: interrupted"
    assert all(line.startswith("candidate ") for line in lines[:-1])
    assert "\r" not in stderr  # no progress bar through a pipe


def test_a_closed_pipe_is_quiet_when_recommending_for_all(model_file):
    process = subprocess.Popen(
        [sys.executable, "-m", "skmf", "recommend", str(model_file), "--all",
         "-n", "150"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    head = [process.stdout.readline() for _ in range(2)]
    process.stdout.close()
    stderr = process.stderr.read()
    code = process.wait(timeout=120)
    assert head[0].strip() == "user,rank,item,score"
    assert code in (0, 141) and stderr == ""


@pytest.mark.parametrize("command", ["fit", "tune"])
def test_a_bad_output_path_is_found_before_any_work(ratings_csv, tmp_path, command):
    result = skmf(command, ratings_csv, "-o", tmp_path / "no" / "m.skmf", *FAST)
    assert result.returncode == 2
    assert "no folder" in one_line_error(result)
    assert result.stdout == ""  # nothing read, nothing fitted


@pytest.mark.parametrize(
    "argv, what",
    [
        (["predict", "MODEL", "PAIRS"], "the predictions"),
        (["recommend", "MODEL", "--all"], "the recommendations"),
        (["similar", "MODEL", "--items", "1"], "the neighbours"),
    ],
)
def test_a_bad_table_path_is_found_before_any_work(tmp_path, argv, what):
    # Neither the model nor the pairs exist: the output path is checked first.
    argv = [str(tmp_path / "none") if a in ("MODEL", "PAIRS") else a for a in argv]
    result = skmf(*argv, "-o", tmp_path / "no" / "out.csv")
    assert result.returncode == 2
    assert f"cannot save {what} to" in one_line_error(result)
    assert "no folder" in result.stderr and result.stdout == ""


# Every verb: bad arguments exit 2 with one line on stderr, before any work.
BAD_ARGUMENTS = [
    ["evaluate", "--folds", "1"],
    ["evaluate", "--models", "svd"],
    ["evaluate", "--n-components", "0"],
    ["evaluate", "--quiet", "--verbose"],
    ["fit", "RATINGS"],  # no -o
    ["fit", "RATINGS", "-o", "OUT", "--solver", "als", "--alpha", "0"],
    ["fit", "RATINGS", "-o", "OUT", "--model", "bayes", "--alpha", "0.1"],
    ["fit", "RATINGS", "-o", "OUT", "--max-iter", "x"],
    ["tune", "RATINGS", "--solver", "als", "--alpha", "0,0.1"],
    ["tune", "RATINGS", "--n-components", "0,2"],
    ["predict", "MODEL"],  # no pairs
    ["predict", "MODEL", "RATINGS", "--user-col", "nope"],
    ["predict", "MODEL", "MISSING"],
    ["predict", "RATINGS", "RATINGS"],  # a ratings file is not a model
    ["recommend", "MODEL"],  # no users
    ["recommend", "MODEL", "1", "-n", "0"],
    ["recommend", "MODEL", "--all", "--users-file", "RATINGS"],
    ["recommend", "MODEL", "--users-file", "MISSING"],
    ["similar", "MODEL"],
    ["similar", "MODEL", "--items", "no-such-item"],
    ["similar", "MODEL", "--items", "1", "-n", "-3"],
    ["similar", "MODEL", "--users-file", "RATINGS", "--user-col", "9"],
]


@pytest.mark.parametrize("argv", BAD_ARGUMENTS, ids=" ".join)
def test_bad_arguments_exit_2_on_every_verb(ratings_csv, model_file, tmp_path, argv):
    names = {
        "RATINGS": ratings_csv,
        "MODEL": model_file,
        "OUT": tmp_path / "out.skmf",
        "MISSING": tmp_path / "missing.txt",
    }
    result = skmf(*(names.get(a, a) for a in argv))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"skmf {argv[0]}: error:")
    assert result.stdout == ""  # nothing was computed
    assert not (tmp_path / "out.skmf").exists()


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
