"""Hostile and odd ratings input: nothing lost, nothing merged, nothing unbounded.

Most cases run the real ``skmf`` command in a child process, limited in memory
and time, so that a regression shows as a failure rather than as a machine
out of memory.
"""

import gzip
import os
import resource
import subprocess
import sys
import threading

import numpy as np
import pytest

from skmf.datasets import make_ratings, read_ratings

# Child processes may use this much address space: far more than reading a
# few thousand ratings needs, far less than reading /dev/zero to its end.
_MEMORY_LIMIT = 4 << 30
FAST = ["--max-iter", "1", "--n-components", "2", "--n-jobs", "1"]


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_LIMIT, _MEMORY_LIMIT))


def skmf(*args, stdin=None, input=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "skmf", *map(str, args)],
        capture_output=True,
        stdin=stdin,
        input=input,
        timeout=timeout,
        preexec_fn=_limit_memory,
    )


def ratings_bytes(n_ratings=20_000):
    X, y = make_ratings(2000, 500, n_ratings, random_state=0)
    lines = [f"{u}\t{i}\t{r:g}\n" for (u, i), r in zip(X, y, strict=True)]
    return "".join(lines).encode()


def one_line_error(result):
    err = result.stderr.decode()
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err


# Pipes, FIFOs and standard input are read once, with no row lost.


@pytest.mark.parametrize("path", ["/dev/stdin", "-"])
def test_piped_input_keeps_every_row(tmp_path, path):
    data = ratings_bytes()
    result = skmf("fit", path, "-o", tmp_path / "m.skmf", *FAST, input=data)
    assert result.returncode == 0, result.stderr.decode()
    assert "20,000 ratings" in result.stdout.decode()


def test_compressed_pipe_keeps_every_row(tmp_path):
    data = gzip.compress(ratings_bytes())
    result = skmf("fit", "-", "-o", tmp_path / "m.skmf", *FAST, input=data)
    assert result.returncode == 0, result.stderr.decode()
    assert "20,000 ratings" in result.stdout.decode()


def test_fifo_keeps_every_row(tmp_path):
    fifo = tmp_path / "ratings.fifo"
    os.mkfifo(fifo)
    data = ratings_bytes()

    def write():
        try:
            with open(fifo, "wb") as file:
                for start in range(0, len(data), 4096):  # a slow producer
                    file.write(data[start : start + 4096])
        except BrokenPipeError:
            pass  # the reader closed the FIFO early: the test fails below

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        result = skmf("fit", fifo, "-o", tmp_path / "m.skmf", *FAST, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("skmf waited for a second writer: it opened the FIFO twice")
    finally:
        if writer.is_alive():  # unblock the writer if the reader never came
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(timeout=10)
    assert result.returncode == 0, result.stderr.decode()
    assert "20,000 ratings" in result.stdout.decode()


# Ids are the file's text: never merged, never missing by spelling.


def test_undecodable_bytes_are_refused_naming_the_option(tmp_path):
    path = tmp_path / "ratings.tsv"
    path.write_bytes(b"caf\xe9\t1\t4\ncaf\xe8\t1\t3\nbar\t2\t5\n")
    result = skmf(path)
    assert result.returncode == 2
    assert "--encoding" in one_line_error(result)


def test_an_encoding_keeps_distinct_ids_distinct(tmp_path):
    path = tmp_path / "ratings.tsv"
    path.write_bytes(b"caf\xe9\t1\t4\ncaf\xe8\t1\t3\nbar\t2\t5\n")
    ratings = read_ratings(path, encoding="latin-1")
    assert ratings.data[:, 0].tolist() == ["café", "cafè", "bar"]


@pytest.mark.parametrize("spelling", ["NA", "null", "None", "nan", "N/A", "NULL"])
def test_ids_spelled_like_missing_values_are_ids(tmp_path, spelling):
    path = tmp_path / "ratings.csv"
    path.write_text(f"user,item,rating\n{spelling},a,4\nb,{spelling},3\nb,a,5\n")
    result = skmf("fit", path, "-o", tmp_path / "m.skmf", *FAST)
    assert result.returncode == 0, result.stderr.decode()
    assert "3 ratings, 2 users, 2 items" in result.stdout.decode()


def test_ids_are_not_merged_through_numbers(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\n7,1,4\n007,1,3\n7.0,2,5\n+7,2,1\n")
    ratings = read_ratings(path)
    assert ratings.data[:, 0].tolist() == ["7", "007", "7.0", "+7"]
    # Plainly written integers stay integers, as a model fitted on them expects.
    path.write_text("user,item,rating\n7,-1,4\n0,12,3\n")
    assert read_ratings(path).data.tolist() == [[7, -1], [0, 12]]


def test_an_empty_id_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\na,x,4\n,y,3\n")
    result = skmf(path)
    assert result.returncode == 2
    err = one_line_error(result)
    assert "line 3" in err and "no user id" in err


# Input without bound is refused, not read until the memory runs out.


def test_dev_zero_is_refused():
    result = skmf("/dev/zero", timeout=60)
    assert result.returncode == 2
    assert "binary" in one_line_error(result)


def test_a_line_without_end_is_refused(tmp_path):
    # 8 MB of digits and no line end: a stream, so that it cannot be measured.
    result = skmf("-", input=b"1" * (8 << 20), timeout=60)
    assert result.returncode == 2
    assert "longer than" in one_line_error(result)


def test_a_long_line_after_good_ones_is_refused(tmp_path):
    path = tmp_path / "ratings.csv"
    with open(path, "wb") as file:
        file.write(b"1,2,3\n" * 1000 + b"4,5," + b"6" * (2 << 20) + b"\n")
    with pytest.raises(ValueError, match="longer than"):
        read_ratings(path)


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "ratings.csv"
    rng = np.random.default_rng(0)
    path.write_bytes(b"1,2,3\n" + rng.bytes(1 << 16))
    result = skmf(path)
    assert result.returncode == 2
    one_line_error(result)
