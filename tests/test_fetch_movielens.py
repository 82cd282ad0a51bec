"""fetch_movielens on small archives built here in each release's real format.

No test touches the network: ``urlopen`` is replaced by a fake server, or by a
function that fails the test, in every test of this module.
"""

import dataclasses
import hashlib
import http.server
import io
import os
import threading
import time
import zipfile
from urllib.error import HTTPError, URLError

import numpy as np
import pandas as pd
import pytest

from skmf.datasets import _base, _movielens, fetch_movielens, get_data_home

# Three ratings of each release, as (user, item, rating, timestamp).
RATINGS = {
    "100k": [(196, 242, 3, 881250949), (186, 302, 3, 891717742), (22, 1, 1, 8)],
    "1m": [(1, 1193, 5, 978300760), (1, 661, 3, 978302109), (2, 1, 4, 978298413)],
    "10m": [(1, 122, 5, 838985046), (1, 185, 4.5, 838983525), (7, 1, 0.5, 1)],
    "csv": [(1, 1, 4.0, 964982703), (1, 3, 4.5, 964981247), (610, 11, 0.5, 7)],
}
# Titles chosen to trip a careless parser: accents in the release's encoding,
# quotes, commas, "|" in CSV and a "::" inside a .dat title.
TITLES = {
    "100k": {1: "Toy Story (1995)", 242: "Kolya (1996)", 302: 'L.A. "Noir" (1997)'},
    "1m": {1: "Toy Story (1995)", 661: "Misérables, Les (1995)", 1193: "One: Two"},
    "10m": {1: "Toy Story (1995)", 122: "Boomerang (1992)", 185: "Net:: The (1995)"},
    "csv": {1: "Toy Story (1995)", 3: "Amélie (2001)", 11: 'President, The "(1995)"'},
}
GENRES_100K = ["unknown", "Action", "Comedy", "Drama"]


def _100k_files():
    ratings = "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in RATINGS["100k"])
    genres = "".join(f"{name}|{j}\n" for j, name in enumerate(GENRES_100K)) + "\n"
    flags = {1: "0|0|1|0", 242: "0|0|1|1", 302: "0|1|0|1"}
    items = "".join(
        f"{item}|{title}|01-Jan-1995||http://us.imdb.com/M/x|{flags[item]}\n"
        for item, title in TITLES["100k"].items()
    )
    return {
        "u.data": ratings.encode(),
        "u.item": items.encode("latin-1"),
        "u.genre": genres.encode(),
        "u.user": "".join(f"{u}|{a}|{g}|{o}|{z}\n" for u, a, g, o, z in USERS).encode(),
    }


# Users of the 100k fixture (its format), and of 1M's users.dat: gender, age
# bracket, occupation code, zip.
USERS = [(22, 25, "M", "writer", "40206"), (186, 39, "F", "executive", "00000"),
         (196, 49, "M", "writer", "55105")]  # fmt: skip
USERS_1M = "1::F::1::10::48067\n2::M::56::16::70072\n"


def _dat_files(key, encoding):
    ratings = "".join(f"{u}::{i}::{r}::{t}\n" for u, i, r, t in RATINGS[key])
    movies = "".join(
        f"{item}::{title}::Comedy|Drama\n" for item, title in TITLES[key].items()
    )
    files = {"ratings.dat": ratings.encode(), "movies.dat": movies.encode(encoding)}
    if key == "1m":
        files["users.dat"] = USERS_1M.encode()
    return files


def _csv_files():
    ratings = "userId,movieId,rating,timestamp\n" + "".join(
        f"{u},{i},{r},{t}\n" for u, i, r, t in RATINGS["csv"]
    )
    movies = "movieId,title,genres\n" + "".join(
        f'{item},"{title.replace(chr(34), 2 * chr(34))}",(no genres listed)\n'
        for item, title in TITLES["csv"].items()
    )
    return {"ratings.csv": ratings.encode(), "movies.csv": movies.encode()}


# variant -> (key of RATINGS and TITLES, files of the release)
RELEASES = {
    "100k": ("100k", _100k_files()),
    "1m": ("1m", _dat_files("1m", "latin-1")),
    "10m": ("10m", _dat_files("10m", "utf-8")),
    "latest-small": ("csv", _csv_files()),
    "20m": ("csv", _csv_files()),
    "25m": ("csv", _csv_files()),
}


def zip_bytes(variant):
    """The release's archive: its files in its top folder, as GroupLens ships."""
    folder = _movielens._RELEASES[variant].folders[0]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{folder}/", "")
        for name, content in RELEASES[variant][1].items():
            archive.writestr(f"{folder}/{name}", content)
        archive.writestr(f"{folder}/README", "fixture")
    return buffer.getvalue()


def zip_bytes_compressed(variant):
    folder = _movielens._RELEASES[variant].folders[0]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in RELEASES[variant][1].items():
            archive.writestr(f"{folder}/{name}", content * 50)
    return buffer.getvalue()


def put_archive(data_home, variant):
    path = data_home / _movielens._RELEASES[variant].filename
    path.write_bytes(zip_bytes(variant))
    return path


def put_folder(data_home, variant, folder=None):
    folder = data_home / (folder or _movielens._RELEASES[variant].folders[0])
    folder.mkdir()
    for name, content in RELEASES[variant][1].items():
        (folder / name).write_bytes(content)
    return folder


class FakeResponse(io.BytesIO):
    """What urlopen returns: a readable body with headers."""

    def __init__(self, content, fail_after=None):
        super().__init__(content)
        self.headers = {"Content-Length": str(len(content))}
        self.fail_after = fail_after

    def read(self, size=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(size if self.fail_after is None else 4)


@pytest.fixture(autouse=True)
def fixture_checksums(monkeypatch):
    """The checksums of the fixture archives, as if GroupLens served them."""
    for variant, release in list(_movielens._RELEASES.items()):
        checked = dataclasses.replace(
            release, sha256=hashlib.sha256(zip_bytes(variant)).hexdigest()
        )
        monkeypatch.setitem(_movielens._RELEASES, variant, checked)
    monkeypatch.setattr(_base, "_VERIFIED", set(), raising=False)


@pytest.fixture
def no_network(monkeypatch):
    def urlopen(*args, **kwargs):
        pytest.fail("fetch_movielens touched the network")

    monkeypatch.setattr(_base, "urlopen", urlopen)


@pytest.fixture
def server(monkeypatch):
    """A fake GroupLens: serves each variant's fixture archive, counts requests.

    The expected checksums are those of the fixture archives.
    """
    archives = {}
    for variant, release in _movielens._RELEASES.items():
        content = zip_bytes(variant)
        archives[release.url] = content
        checked = dataclasses.replace(
            release, sha256=hashlib.sha256(content).hexdigest()
        )
        monkeypatch.setitem(_movielens._RELEASES, variant, checked)
    requests = []

    def urlopen(url, timeout=None):
        requests.append(url)
        return FakeResponse(archives[url])

    monkeypatch.setattr(_base, "urlopen", urlopen)
    monkeypatch.setattr(_base, "_RETRY_DELAY", 0)
    return requests


def check_bunch(bunch, variant):
    key = RELEASES[variant][0]
    expected = pd.DataFrame(RATINGS[key], columns=["user", "item", "rating", "ts"])
    frame = bunch.frame
    assert list(frame.columns) == ["user", "item", "rating", "timestamp"]
    assert frame.dtypes.tolist() == ["int64", "int64", "float64", "int64"]
    np.testing.assert_array_equal(frame.to_numpy(), expected.to_numpy())
    pd.testing.assert_frame_equal(bunch.data, frame[["user", "item"]])
    pd.testing.assert_series_equal(bunch.target, frame["rating"])
    pd.testing.assert_series_equal(bunch.timestamp, frame["timestamp"])
    assert bunch.movies["title"].to_dict() == TITLES[key]
    assert bunch.movies.index.name == "item"
    assert bunch.feature_names == ["user", "item"]
    assert bunch.target_names == ["rating"]
    assert "Harper and" in bunch.DESCR and "research" in bunch.DESCR


@pytest.mark.parametrize("variant", RELEASES)
def test_reads_each_release_from_its_archive(tmp_path, no_network, variant):
    put_archive(tmp_path, variant)
    check_bunch(fetch_movielens(variant, data_home=tmp_path), variant)


@pytest.mark.parametrize("variant", RELEASES)
def test_reads_each_release_from_its_extracted_folder(tmp_path, no_network, variant):
    folder = put_folder(tmp_path, variant)
    bunch = fetch_movielens(variant, data_home=str(tmp_path))
    check_bunch(bunch, variant)
    assert str(folder) in bunch.DESCR.replace("\n", " ")


def test_genres_of_each_format(tmp_path, no_network):
    put_archive(tmp_path, "100k")
    genres = fetch_movielens("100k", data_home=tmp_path).movies["genres"]
    # u.item's flags in the order of u.genre.
    assert genres.to_dict() == {1: "Comedy", 242: "Comedy|Drama", 302: "Action|Drama"}
    put_archive(tmp_path, "1m")
    assert set(fetch_movielens("1m", data_home=tmp_path).movies["genres"]) == {
        "Comedy|Drama"
    }
    put_archive(tmp_path, "25m")
    assert set(fetch_movielens("25m", data_home=tmp_path).movies["genres"]) == {
        "(no genres listed)"
    }


def test_side_tables_of_users_and_movie_years(tmp_path, no_network):
    for variant in RELEASES:
        put_archive(tmp_path, variant)
    bunch = fetch_movielens("100k", data_home=tmp_path)
    expected = pd.DataFrame(
        USERS, columns=["user", "age", "gender", "occupation", "zip"]
    ).set_index("user")
    pd.testing.assert_frame_equal(bunch.users, expected, check_dtype=False)
    assert bunch.users["age"].dtype == "int64"
    # The zip code stays text: "00000" is not the number 0.
    assert bunch.users.loc[186, "zip"] == "00000"
    assert bunch.movies["year"].tolist() == [1995, 1995, 1995]
    assert str(bunch.movies["year"].dtype) == "Int64"

    bunch = fetch_movielens("1m", data_home=tmp_path)
    assert bunch.users.loc[1].tolist() == [1, "F", "K-12 student", "48067"]
    assert bunch.users.loc[2, "occupation"] == "self-employed"
    assert bunch.users.loc[2, "age"] == 56
    years = bunch.movies["year"]
    assert years.loc[1] == 1995 and years.loc[661] == 1995
    assert years.isna().loc[1193]  # "One: Two" gives no year
    for variant in ("10m", "latest-small"):
        assert fetch_movielens(variant, data_home=tmp_path).users is None


def test_a_damaged_users_file_names_the_file(tmp_path, no_network):
    folder = put_folder(tmp_path, "100k")
    (folder / "u.user").write_bytes(b"1|24|M|technician\n")
    with pytest.raises(ValueError, match=r"u\.user.*not a MovieLens users file"):
        fetch_movielens("100k", data_home=tmp_path)


def test_10m_folder_may_also_be_named_ml_10m(tmp_path, no_network):
    put_folder(tmp_path, "10m", folder="ml-10m")
    check_bunch(fetch_movielens("10m", data_home=tmp_path), "10m")


def test_titles_fall_back_to_latin1(tmp_path, no_network):
    # A release documented as UTF-8 with one title that is not: the ratings
    # are still read and the title decoded as latin-1.
    folder = put_folder(tmp_path, "10m")
    (folder / "movies.dat").write_bytes("1::Amélie (2001)::Comedy\n".encode("latin-1"))
    movies = fetch_movielens("10m", data_home=tmp_path).movies
    assert movies.loc[1, "title"] == "Amélie (2001)"


@pytest.mark.parametrize("as_frame", [True, False])
def test_return_X_y(tmp_path, no_network, as_frame):
    put_archive(tmp_path, "1m")
    X, y = fetch_movielens("1m", data_home=tmp_path, as_frame=as_frame, return_X_y=True)
    assert isinstance(X, pd.DataFrame if as_frame else np.ndarray)
    assert isinstance(y, pd.Series if as_frame else np.ndarray)
    np.testing.assert_array_equal(np.asarray(X), [[1, 1193], [1, 661], [2, 1]])
    np.testing.assert_array_equal(np.asarray(y), [5.0, 3.0, 4.0])


def test_as_frame_false(tmp_path, no_network):
    put_archive(tmp_path, "latest-small")
    bunch = fetch_movielens("latest-small", data_home=tmp_path, as_frame=False)
    assert bunch.frame is None
    assert bunch.data.shape == (3, 2) and bunch.data.dtype == np.int64
    np.testing.assert_array_equal(bunch.target, [4.0, 4.5, 0.5])
    np.testing.assert_array_equal(bunch.timestamp, [964982703, 964981247, 7])


def test_downloads_once_then_reads_the_cache(tmp_path, server, capsys):
    check_bunch(fetch_movielens("100k", data_home=tmp_path), "100k")
    url = _movielens._RELEASES["100k"].url
    assert server == [url]
    assert sorted(os.listdir(tmp_path)) == ["ml-100k.zip"]
    assert (tmp_path / "ml-100k.zip").read_bytes() == zip_bytes("100k")
    err = capsys.readouterr().err
    assert "Downloading ml-100k.zip" in err and "Downloaded ml-100k.zip" in err

    check_bunch(fetch_movielens("100k", data_home=tmp_path), "100k")
    assert server == [url]  # no second request


def test_data_home_from_the_environment(tmp_path, server, monkeypatch):
    monkeypatch.setenv("SKMF_DATA_HOME", str(tmp_path / "cache"))
    assert get_data_home() == str(tmp_path / "cache")
    fetch_movielens("latest-small")
    assert (tmp_path / "cache" / "ml-latest-small.zip").is_file()
    # An explicit data_home wins over the environment.
    fetch_movielens("latest-small", data_home=tmp_path / "other")
    assert (tmp_path / "other" / "ml-latest-small.zip").is_file()


def test_default_data_home_is_in_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SKMF_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == str(tmp_path / "skmf_data")
    assert (tmp_path / "skmf_data").is_dir()
    assert get_data_home("~/elsewhere") == str(tmp_path / "elsewhere")


def test_checksum_mismatch_keeps_nothing(tmp_path, server, monkeypatch):
    release = _movielens._RELEASES["1m"]
    monkeypatch.setitem(
        _movielens._RELEASES, "1m", dataclasses.replace(release, sha256="0" * 64)
    )
    with pytest.raises(OSError, match="SHA-256") as info:
        fetch_movielens("1m", data_home=tmp_path)
    message = str(info.value)
    assert "0" * 64 in message and str(tmp_path / "ml-1m.zip") in message
    assert release.url in message  # says what to download by hand
    assert os.listdir(tmp_path) == []  # no archive, no temporary file


def test_interrupted_download_is_retried_then_keeps_nothing(tmp_path, monkeypatch):
    calls = []

    def urlopen(url, timeout=None):
        calls.append(url)
        return FakeResponse(zip_bytes("100k"), fail_after=8)

    monkeypatch.setattr(_base, "urlopen", urlopen)
    monkeypatch.setattr(_base, "_RETRY_DELAY", 0)
    with pytest.raises(OSError, match="Could not download .* tried 3 times") as info:
        fetch_movielens("100k", data_home=tmp_path)
    assert str(tmp_path / "ml-100k.zip") in str(info.value)
    assert len(calls) == _base._N_ATTEMPTS
    assert os.listdir(tmp_path) == []


def test_retry_succeeds_after_a_network_error(tmp_path, server, monkeypatch):
    serve = _base.urlopen
    failures = [URLError("temporary failure in name resolution")]

    def flaky(url, timeout=None):
        if failures:
            raise failures.pop()
        return serve(url, timeout)

    monkeypatch.setattr(_base, "urlopen", flaky)
    check_bunch(fetch_movielens("1m", data_home=tmp_path), "1m")


def test_http_client_error_is_not_retried(tmp_path, monkeypatch):
    calls = []

    def urlopen(url, timeout=None):
        calls.append(url)
        raise HTTPError(url, 404, "Not Found", {}, None)

    monkeypatch.setattr(_base, "urlopen", urlopen)
    with pytest.raises(OSError, match="Not Found"):
        fetch_movielens("20m", data_home=tmp_path)
    assert len(calls) == 1
    assert os.listdir(tmp_path) == []


def test_keyboard_interrupt_keeps_nothing(tmp_path, monkeypatch):
    class Interrupted(FakeResponse):
        def read(self, size=-1):
            raise KeyboardInterrupt

    monkeypatch.setattr(_base, "urlopen", lambda url, timeout=None: Interrupted(b""))
    with pytest.raises(KeyboardInterrupt):
        fetch_movielens("100k", data_home=tmp_path)
    assert os.listdir(tmp_path) == []


def test_offline_without_the_data_says_what_to_do(tmp_path, no_network):
    with pytest.raises(FileNotFoundError) as info:
        fetch_movielens("10m", data_home=tmp_path, download_if_missing=False)
    message = str(info.value)
    for expected in (
        "ml-10m.zip",
        "ml-10M100K/",
        "download_if_missing=True",
        "https://files.grouplens.org/datasets/movielens/ml-10m.zip",
    ):
        assert expected in message


def test_corrupt_archive_in_data_home(tmp_path, no_network):
    (tmp_path / "ml-25m.zip").write_bytes(b"<html>not found</html>")
    with pytest.raises(OSError, match="is not the archive it should be.*Delete it"):
        fetch_movielens("25m", data_home=tmp_path)


def test_wrong_archive_in_data_home(tmp_path, no_network):
    # The right name, other content: refused for its checksum, not read.
    (tmp_path / "ml-1m.zip").write_bytes(zip_bytes("latest-small"))
    with pytest.raises(OSError, match="ml-1m.zip is not the archive") as info:
        fetch_movielens("1m", data_home=tmp_path)
    assert "clear_data_home" in str(info.value)


def test_a_cached_archive_is_checked_once_per_process(
    tmp_path, no_network, monkeypatch
):
    put_archive(tmp_path, "100k")
    calls = []
    sha256 = _base._sha256
    monkeypatch.setattr(
        _base, "_sha256", lambda path: calls.append(path) or sha256(path)
    )
    fetch_movielens("100k", data_home=tmp_path)
    fetch_movielens("100k", data_home=tmp_path)
    assert len(calls) == 1
    # Changed since: checked again, and refused.
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(zip_bytes("100k").replace(b"Kolya", b"Kolyb"))
    with pytest.raises(OSError, match="not the archive"):
        fetch_movielens("100k", data_home=tmp_path)


def test_a_damaged_member_names_the_file(tmp_path, no_network, monkeypatch):
    data = bytearray(zip_bytes_compressed("1m"))
    start = data.index(b"ratings.dat") + len(b"ratings.dat") + 4
    for j in range(start, start + 20):
        data[j] ^= 0xFF
    archive = tmp_path / "ml-1m.zip"
    archive.write_bytes(bytes(data))
    release = dataclasses.replace(
        _movielens._RELEASES["1m"], sha256=hashlib.sha256(data).hexdigest()
    )
    monkeypatch.setitem(_movielens._RELEASES, "1m", release)
    with pytest.raises(ValueError, match=r"ratings.dat in .*ml-1m.zip is damaged"):
        fetch_movielens("1m", data_home=tmp_path)


def test_a_zip_bomb_member_is_not_expanded(tmp_path, no_network, monkeypatch):
    folder = _movielens._RELEASES["100k"].folders[0]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in RELEASES["100k"][1].items():
            if name != "u.data":
                archive.writestr(f"{folder}/{name}", content)
        archive.writestr(f"{folder}/u.data", b"\0" * (50 << 20))  # 50 MB of zeros
    data = buffer.getvalue()
    (tmp_path / "ml-100k.zip").write_bytes(data)
    release = dataclasses.replace(
        _movielens._RELEASES["100k"], sha256=hashlib.sha256(data).hexdigest()
    )
    monkeypatch.setitem(_movielens._RELEASES, "100k", release)
    with pytest.raises(ValueError, match="u.data in .* would expand to 52,428,800"):
        fetch_movielens("100k", data_home=tmp_path)


def test_unexpected_csv_columns(tmp_path, no_network):
    folder = put_folder(tmp_path, "20m")
    (folder / "ratings.csv").write_text("user,movie,stars,when\n1,2,3.0,4\n")
    with pytest.raises(ValueError, match="not a MovieLens ratings file"):
        fetch_movielens("20m", data_home=tmp_path)


def test_unknown_variant():
    with pytest.raises(ValueError, match="variant.*'100k'"):
        fetch_movielens("100m")


def test_live_progress(monkeypatch, capsys):
    monkeypatch.setattr(_base, "_PROGRESS_INTERVAL", 0)
    progress = _base._Progress("ml-1m.zip", 4_000_000)
    progress.live = True
    progress.update(1_000_000)
    progress.close(ok=True)
    err = capsys.readouterr().err
    assert "\r  1.0 MB of 4.0 MB (25%)" in err and "s left" in err


def test_real_movielens_100k(ml100k_dir, no_network):
    bunch = fetch_movielens(
        "100k", data_home=ml100k_dir.parent, download_if_missing=False
    )
    frame = bunch.frame
    assert frame.shape == (100_000, 4)
    assert frame["user"].nunique() == 943 and frame["item"].nunique() == 1682
    assert set(frame["rating"]) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert bunch.movies.shape[0] == 1682
    assert bunch.movies.loc[50, "title"] == "Star Wars (1977)"
    assert bunch.movies.loc[50, "year"] == 1977
    assert bunch.movies["year"].isna().sum() == 1  # "unknown", item 267
    users = bunch.users
    assert users.shape == (943, 4) and users.index.name == "user"
    assert users.loc[1].tolist() == [24, "M", "technician", "85711"]
    assert set(users["gender"]) == {"F", "M"}
    assert users["occupation"].nunique() == 21


# A real HTTP server on 127.0.0.1: the download's deadline and size bound.


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""
    length = None  # the Content-Length sent; None sends none
    pause = 0.0  # seconds between two chunks of 16 bytes

    def do_GET(self):
        self.send_response(200)
        if self.length is not None:
            self.send_header("Content-Length", str(self.length))
        self.end_headers()
        try:
            for start in range(0, len(self.body), 16):
                self.wfile.write(self.body[start : start + 16])
                self.wfile.flush()
                time.sleep(self.pause)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    servers = []

    def serve(body, length, pause):
        handler = type("Handler", (_Handler,), {"body": body, "length": length,
                                                 "pause": pause})  # fmt: skip
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/ml-100k.zip"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_trickling_server_meets_the_deadline(tmp_path, local_server, monkeypatch):
    content = zip_bytes("100k")
    url = local_server(content, len(content), pause=0.05)  # 320 bytes/s
    monkeypatch.setattr(_base, "_GRACE", 1.0, raising=False)
    start = time.monotonic()
    with pytest.raises(OSError, match="too slow") as info:
        _base.fetch_file(
            url, tmp_path / "ml-100k.zip", hashlib.sha256(content).hexdigest()
        )
    assert time.monotonic() - start < 10  # not the minutes the bytes would take
    assert str(tmp_path / "ml-100k.zip") in str(info.value)
    assert os.listdir(tmp_path) == []


def test_a_server_sending_too_much_is_cut_off(tmp_path, local_server):
    content = zip_bytes("100k")
    url = local_server(content * 4, None, pause=0.0)  # no length, 4 times the size
    with pytest.raises(OSError, match="sent more than"):
        _base.fetch_file(url, tmp_path / "x.zip", "0" * 64, size=len(content))
    assert os.listdir(tmp_path) == []


def test_a_local_download_succeeds(tmp_path, local_server):
    content = zip_bytes("100k")
    url = local_server(content, len(content), pause=0.0)
    path = _base.fetch_file(
        url, tmp_path / "a.zip", hashlib.sha256(content).hexdigest()
    )
    assert path.read_bytes() == content
