"""MovieLens: the GroupLens archives fetched into a cache, and 100K's folds.

:func:`fetch_movielens` reads six releases, each in its own format. The
archive is looked for in ``data_home`` first, as the zip or as its extracted
folder, and downloaded only when neither is there.
"""

import csv
import io
import os
import textwrap
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.utils import Bunch

from .._compat import StrOptions, validate_params
from ._base import fetch_file, get_data_home, verify_file

# The largest member read from an archive, and the largest ratio of its size
# to its compressed size: the biggest ratings file of any release (25M's
# ratings.csv) is 678 MB and compresses about 4 to 1, while a "zip bomb"
# expands a few kilobytes into gigabytes.
_MAX_MEMBER_BYTES = 2 << 30
_MAX_RATIO = 100

_COLUMNS = ["user", "item", "rating", "timestamp"]
_DTYPES = {"user": "int64", "item": "int64", "rating": "float64", "timestamp": "int64"}
_BASE_URL = "https://files.grouplens.org/datasets/movielens/"
_LICENSE = (
    "Licence: GroupLens research licence. The data may be used for research "
    "only, must not be redistributed, and publications using it must cite "
    'F. M. Harper and J. A. Konstan, "The MovieLens Datasets: History and '
    'Context", ACM Transactions on Interactive Intelligent Systems 5(4), 2015.'
)


@dataclass(frozen=True)
class _Release:
    """One GroupLens archive: where it is, what it holds, how to read it."""

    name: str
    filename: str  # the zip, as named on the server
    sha256: str
    folders: tuple  # top folder inside the archive, then other accepted names
    ratings: str  # member holding the ratings
    movies: str  # member holding the titles
    format: str  # "100k" (tab and "|"), "dat" ("::") or "csv" (with header)
    encoding: str  # of the titles
    summary: str
    users: str = None  # member holding the users' demographics, if any

    @property
    def url(self):
        return _BASE_URL + self.filename


# SHA-256 of each archive as served by GroupLens, which itself publishes only
# MD5 files (<url>.md5). Each value was checked against at least two
# independent public sources (TensorFlow Datasets' url_checksums/movielens.txt
# for all but 10M, and loaders or data cards that also quote the MD5 that
# GroupLens publishes). "latest-small" is a rolling release: the checksum is
# that of the snapshot generated on 2018-09-26.
_RELEASES = {
    "100k": _Release(
        name="MovieLens 100K",
        filename="ml-100k.zip",
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        folders=("ml-100k",),
        ratings="u.data",
        movies="u.item",
        format="100k",
        encoding="latin-1",
        users="u.user",
        summary="MovieLens 100K (released 1998): 100,000 ratings from 1 to 5 "
        "stars by 943 users of 1,682 movies, September 1997 to April 1998. "
        "Archive: 4.9 MB.",
    ),
    "1m": _Release(
        name="MovieLens 1M",
        filename="ml-1m.zip",
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        folders=("ml-1m",),
        ratings="ratings.dat",
        movies="movies.dat",
        format="dat",
        encoding="latin-1",
        users="users.dat",
        summary="MovieLens 1M (released 2003): 1,000,209 ratings from 1 to 5 "
        "stars by 6,040 users of about 3,900 movies. Archive: 5.9 MB.",
    ),
    "latest-small": _Release(
        name="MovieLens Latest Small",
        filename="ml-latest-small.zip",
        sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        folders=("ml-latest-small",),
        ratings="ratings.csv",
        movies="movies.csv",
        format="csv",
        encoding="utf-8",
        summary="MovieLens Latest Small (the snapshot of 2018-09-26): 100,836 "
        "ratings from 0.5 to 5 stars in half stars by 610 users, across "
        "9,742 movies. Archive: 1.0 MB.",
    ),
    "10m": _Release(
        name="MovieLens 10M",
        filename="ml-10m.zip",
        sha256="813c411ccb6122564edfe752e7f80c4dcc5aa25fa94c93622f6877a7ba252862",
        folders=("ml-10M100K", "ml-10m"),
        ratings="ratings.dat",
        movies="movies.dat",
        format="dat",
        encoding="utf-8",
        summary="MovieLens 10M (released 2009): 10,000,054 ratings from 0.5 to "
        "5 stars in half stars by 71,567 users, across 10,681 movies. "
        "Archive: 65.6 MB.",
    ),
    "20m": _Release(
        name="MovieLens 20M",
        filename="ml-20m.zip",
        sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
        folders=("ml-20m",),
        ratings="ratings.csv",
        movies="movies.csv",
        format="csv",
        encoding="utf-8",
        summary="MovieLens 20M (released 2015): 20,000,263 ratings from 0.5 to "
        "5 stars in half stars by 138,493 users, across 27,278 movies. "
        "Archive: 198.7 MB.",
    ),
    "25m": _Release(
        name="MovieLens 25M",
        filename="ml-25m.zip",
        sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
        folders=("ml-25m",),
        ratings="ratings.csv",
        movies="movies.csv",
        format="csv",
        encoding="utf-8",
        summary="MovieLens 25M (released 2019): 25,000,095 ratings from 0.5 to "
        "5 stars in half stars by 162,541 users, across 62,423 movies. "
        "Archive: 262.0 MB.",
    ),
}


def _decode(data, encoding):
    """Text of a titles file.

    Falls back to latin-1, which decodes any bytes, should a release hold a
    title that is not valid in its documented encoding: titles are for people
    to read, and one odd character must not make the ratings unreadable.
    """
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return data.decode("latin-1")


class _Source:
    """The files of one release: its extracted folder or its zip archive."""

    def __init__(self, path, release):
        self.path = path
        self.release = release
        self._zip = None
        if path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise OSError(
                    f"{path} is not a readable zip archive ({exc}); it may be a "
                    "partial or corrupt copy. Delete it and call fetch_movielens "
                    f"again to download it, or replace it with {release.url}."
                ) from exc

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self._zip is not None:
            self._zip.close()

    def open(self, member):
        """The member as a binary file, at any depth of the archive."""
        if self._zip is None:
            path = self.path / member
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} not found: {self.path} should be the folder extracted "
                    f"from {self.release.filename} ({self.release.url})."
                )
            return open(path, "rb")
        names = [
            name
            for name in self._zip.namelist()
            if name == member or name.endswith("/" + member)
        ]
        if not names:
            raise OSError(
                f"{self.path} has no file named {member}: it is not the archive "
                f"{self.release.url}. Delete it and call fetch_movielens again."
            )
        info = self._zip.getinfo(min(names, key=len))
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _MAX_MEMBER_BYTES or ratio > _MAX_RATIO:
            raise ValueError(
                f"{info.filename} in {self.path} would expand to "
                f"{info.file_size:,} bytes ({ratio:.0f} times its compressed "
                "size): it is not a MovieLens file. Delete the archive and call "
                "fetch_movielens again."
            )
        return self._zip.open(info)

    def damaged(self, member, exc):
        return ValueError(
            f"{member} in {self.path} is damaged ({exc}). Delete {self.path} (or "
            "call skmf.datasets.clear_data_home()) and call fetch_movielens "
            f"again, or replace it with {self.release.url}."
        )

    def read(self, member):
        """The bytes of a member, with the member named in any error."""
        with self.open(member) as file:
            try:
                return file.read()
            except (zlib.error, zipfile.BadZipFile, EOFError) as exc:
                raise self.damaged(member, exc) from None

    def read_csv(self, member, **kwargs):
        """pandas.read_csv of a member, with the member named in any error."""
        with self.open(member) as file:
            try:
                return pd.read_csv(file, **kwargs)
            except (zlib.error, zipfile.BadZipFile, EOFError) as exc:
                raise self.damaged(member, exc) from None
            except (ValueError, pd.errors.ParserError) as exc:
                raise ValueError(
                    f"Cannot parse {member} in {self.path}: {exc}"
                ) from exc


def _read_ratings(source, release):
    """The ratings as a DataFrame with the columns of _COLUMNS."""
    member = release.ratings
    if release.format == "csv":
        frame = source.read_csv(member)
        expected = ["userId", "movieId", "rating", "timestamp"]
        if list(frame.columns) != expected:
            raise ValueError(
                f"{member} in {source.path} has the columns {list(frame.columns)}, "
                f"not {expected}: it is not a MovieLens ratings file."
            )
        frame.columns = _COLUMNS
        try:
            return frame.astype(_DTYPES)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"Cannot parse {member} in {source.path}: {exc}") from exc
    data = source.read(member)
    if release.format == "dat":
        # pandas' fast parser takes one-character separators only.
        data = data.replace(b"::", b"\t")
    return pd.read_csv(
        io.BytesIO(data),
        sep="\t",
        names=_COLUMNS,
        dtype=_DTYPES,
        quoting=csv.QUOTE_NONE,
    )


def _read_movies(source, release):
    """Title and genres ("|"-separated names) of each movie, indexed by item."""
    if release.format == "csv":
        movies = source.read_csv(
            release.movies,
            dtype={"movieId": "int64", "title": str, "genres": str},
            keep_default_na=False,
            encoding=release.encoding,
        )
        movies = movies.rename(columns={"movieId": "item"})[["item", "title", "genres"]]
    else:
        lines = _decode(source.read(release.movies), release.encoding).splitlines()
        if release.format == "100k":
            # u.item: id|title|release date|video release date|IMDb URL|19 flags
            # in the order of u.genre's "name|position" lines.
            genre_lines = _decode(source.read("u.genre"), release.encoding).splitlines()
            genres = dict(
                reversed(line.rsplit("|", 1)) for line in genre_lines if line.strip()
            )
            names = [genres[str(j)] for j in range(len(genres))]
            rows, release_dates = [], []
            for line in filter(None, lines):
                fields = line.split("|")
                release_dates.append(fields[2])
                flags = fields[-len(names) :]
                rows.append(
                    (
                        int(fields[0]),
                        fields[1],
                        "|".join(
                            name
                            for name, flag in zip(names, flags, strict=True)
                            if flag == "1"
                        ),
                    )
                )
        else:
            # movies.dat: id::title::genres; a title may itself hold "::".
            rows = []
            for line in filter(None, lines):
                item, rest = line.split("::", 1)
                title, genres = rest.rsplit("::", 1)
                rows.append((int(item), title, genres))
        movies = pd.DataFrame(rows, columns=["item", "title", "genres"])
    movies["year"] = _years(movies["title"])
    if release.format == "100k":
        # Its release dates ("01-Jan-1995") are more complete than its titles.
        dates = pd.Series(release_dates, index=movies.index)
        movies["year"] = _years(dates, r"(\d{4})$").fillna(movies["year"])
    return movies.set_index("item").sort_index()


def _years(text, pattern=r"\((\d{4})(?:[-–]\d{0,4})?\)\s*$"):
    """The four-digit year at the end of each string, or <NA>."""
    return pd.to_numeric(text.str.extract(pattern, expand=False)).astype("Int64")


# The occupations of MovieLens 1M's users.dat, by code (from its README).
_OCCUPATIONS_1M = (
    "other", "academic/educator", "artist", "clerical/admin",
    "college/grad student", "customer service", "doctor/health care",
    "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
    "programmer", "retired", "sales/marketing", "scientist", "self-employed",
    "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip


def _read_users(source, release):
    """Age, gender, occupation and zip code of each user, indexed by user."""
    if release.users is None:
        return None
    text = _decode(source.read(release.users), release.encoding)
    sep = "|" if release.format == "100k" else "::"
    rows = [line.split(sep) for line in text.splitlines() if line.strip()]
    if release.format == "100k":  # id|age|gender|occupation|zip
        columns = ["user", "age", "gender", "occupation", "zip"]
    else:  # id::gender::age::occupation::zip, age and occupation as codes
        columns = ["user", "gender", "age", "occupation", "zip"]
    if any(len(row) != len(columns) for row in rows):
        raise ValueError(
            f"{release.users} in {source.path} does not have the {len(columns)} "
            f"fields {columns} on every line: it is not a MovieLens users file."
        )
    users = pd.DataFrame(rows, columns=columns)
    try:
        users[["user", "age"]] = users[["user", "age"]].astype("int64")
        if release.format != "100k":
            codes = users["occupation"].astype("int64")
            users["occupation"] = [_OCCUPATIONS_1M[code] for code in codes]
    except (ValueError, IndexError) as exc:
        raise ValueError(
            f"Cannot parse {release.users} in {source.path}: {exc}"
        ) from exc
    users = users[["user", "age", "gender", "occupation", "zip"]]
    return users.set_index("user").sort_index()


def _describe(release, source):
    title = f"{release.name} ({release.filename})"
    paragraphs = [
        release.summary,
        "frame: one row per rating, with the columns user (user id), item "
        "(movie id), rating (float) and timestamp (seconds since 1970-01-01 "
        "UTC). movies: the title, genres ('|'-separated) and release year of "
        "each movie, indexed by movie id."
        + (
            " users: the age, gender, occupation and zip code of each user, "
            "indexed by user id."
            if release.users
            else ""
        ),
        f"Read from {source}. Source: {release.url} (SHA-256 {release.sha256}).",
        _LICENSE,
    ]
    return "\n\n".join(
        [f"{title}\n{'=' * len(title)}"]
        + [
            textwrap.fill(p, 79, break_long_words=False, break_on_hyphens=False)
            for p in paragraphs
        ]
    )


def _locate(release, home):
    """The release's extracted folder or zip in ``home``, or None."""
    for folder in release.folders:
        if (home / folder / release.ratings).is_file():
            return home / folder
    archive = home / release.filename
    return archive if archive.is_file() else None


@validate_params(
    {
        "variant": [StrOptions(set(_RELEASES))],
        "data_home": [str, os.PathLike, None],
        "download_if_missing": ["boolean"],
        "as_frame": ["boolean"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def fetch_movielens(
    variant="100k",
    *,
    data_home=None,
    download_if_missing=True,
    as_frame=True,
    return_X_y=False,
):
    """Load a MovieLens rating data set, downloading it on first use.

    The GroupLens archive is looked for in ``data_home``, either as the zip
    (e.g. ``ml-100k.zip``) or as the folder extracted from it (e.g.
    ``ml-100k/``); only when neither is there is it downloaded, with progress
    shown on stderr, checked against its SHA-256 and saved there as the zip.
    Files already in ``data_home`` are read without touching the network, so
    that a machine without network access can be given the archive by hand.
    A zip found there is checked against its SHA-256 on its first use in each
    process (and again whenever it changes); an extracted folder is read as
    it is, since no checksum of its files is published.

    ============  ==========  =======  =======  ========  ========
    variant       ratings     users    movies   scale     archive
    ============  ==========  =======  =======  ========  ========
    100k          100,000     943      1,682    1 to 5    4.9 MB
    1m            1,000,209   6,040    ~3,900   1 to 5    5.9 MB
    latest-small  100,836     610      9,742    0.5 to 5  1.0 MB
    10m           10,000,054  71,567   10,681   0.5 to 5  65.6 MB
    20m           20,000,263  138,493  27,278   0.5 to 5  198.7 MB
    25m           25,000,095  162,541  62,423   0.5 to 5  262.0 MB
    ============  ==========  =======  =======  ========  ========

    The data may be used for research only and not redistributed; see
    ``DESCR`` for the citation GroupLens asks for.

    Parameters
    ----------
    variant : {"100k", "1m", "latest-small", "10m", "20m", "25m"}, \
            default="100k"
        The release. "latest-small" is the snapshot of 2018-09-26, the one
        whose checksum is known.

    data_home : str or path-like, default=None
        Folder to read the archive from and download it to. None means
        :func:`get_data_home`: the ``SKMF_DATA_HOME`` environment variable,
        else ``~/skmf_data``.

    download_if_missing : bool, default=True
        When False, raise :class:`FileNotFoundError` instead of downloading a
        release that is not in ``data_home``.

    as_frame : bool, default=True
        When True, ``data`` is a DataFrame, ``target`` and ``timestamp``
        Series and ``frame`` the whole table; when False they are NumPy arrays
        and ``frame`` is None.

    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : DataFrame of shape (n_ratings, 2) or ndarray
            The ``user`` and ``item`` id of each rating (int64): ``X`` for
            :class:`~skmf.MatrixFactorization`.
        target : Series of shape (n_ratings,) or ndarray
            The ratings (float64).
        timestamp : Series of shape (n_ratings,) or ndarray
            When each rating was given, in seconds since 1970-01-01 UTC.
        frame : DataFrame of shape (n_ratings, 4) or None
            Columns ``user``, ``item``, ``rating``, ``timestamp``, in the
            archive's order. None when ``as_frame=False``.
        movies : DataFrame
            ``title``, ``genres`` ("|"-separated names) and ``year`` (Int64,
            the release year; <NA> where the archive gives none) of every
            movie of the release, indexed by movie id (``item``).
        users : DataFrame or None
            ``age``, ``gender``, ``occupation`` and ``zip`` of every user,
            indexed by user id (``user``), for the releases that have them
            (100k and 1m; in 1m ``age`` is the lower end of an age bracket);
            None for the others. With ``movies``, these are the side
            features of :class:`~skmf.BayesianFactorizationMachine`.
        feature_names : list of str
            ``["user", "item"]``.
        target_names : list of str
            ``["rating"]``.
        DESCR : str
            Description of the release and its licence.

    (data, target) : tuple if ``return_X_y`` is True
        As in the Bunch.

    Raises
    ------
    FileNotFoundError
        When the release is not in ``data_home`` and ``download_if_missing``
        is False.
    OSError
        When the download fails, is too slow or does not match its checksum
        (nothing is left behind), or the archive in ``data_home`` does not
        match its checksum (the message says which file to delete).
    ValueError
        When a member of the archive is damaged or too large, or a file does
        not have the release's format; the message names the file.

    See Also
    --------
    load_movielens_100k_folds : The five canonical splits of MovieLens 100K.
    make_ratings : Synthetic ratings with a known low-rank structure.

    Examples
    --------
    Without network access the release must already be in ``data_home``:

    >>> import tempfile
    >>> from skmf.datasets import fetch_movielens
    >>> fetch_movielens("1m", data_home=tempfile.mkdtemp(),
    ...                 download_if_missing=False)
    Traceback (most recent call last):
        ...
    FileNotFoundError: MovieLens 1m is not in ...

    With it (or with ``ml-100k.zip`` already in ``data_home``)::

        from skmf import MatrixFactorization
        ratings = fetch_movielens("100k")
        mf = MatrixFactorization(solver="als").fit(ratings.data, ratings.target)
        ratings.movies.loc[[50, 181], "title"]  # Star Wars (1977), Return ...
    """
    release = _RELEASES[variant]
    home = Path(get_data_home(data_home))
    path = _locate(release, home)
    if path is None:
        archive = home / release.filename
        if not download_if_missing:
            folders = " or ".join(f"{folder}/" for folder in release.folders)
            raise FileNotFoundError(
                f"MovieLens {variant} is not in {home} (looked for "
                f"{release.filename} and {folders}) and download_if_missing is "
                f"False. Pass download_if_missing=True to download it, or save "
                f"{release.url} as {archive}."
            )
        path = fetch_file(release.url, archive, release.sha256)
    elif path.is_file():
        verify_file(path, release.sha256, release.url)
    with _Source(path, release) as source:
        frame = _read_ratings(source, release)
        movies = _read_movies(source, release)
        users = _read_users(source, release)

    data, target = frame[["user", "item"]], frame["rating"]
    timestamp = frame["timestamp"]
    if not as_frame:
        data, target = data.to_numpy(), target.to_numpy()
        timestamp, frame = timestamp.to_numpy(), None
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        timestamp=timestamp,
        frame=frame,
        movies=movies,
        users=users,
        feature_names=["user", "item"],
        target_names=["rating"],
        DESCR=_describe(release, path),
    )


def _read_fold(path):
    return pd.read_csv(path, sep="\t", names=_COLUMNS, dtype="int64")


def load_movielens_100k_folds(path):
    """The five canonical train/test splits of MovieLens 100K.

    Test fold ``k`` is the archive's ``u{k}.test``; its training set is every
    other rating of ``u.data`` (the archive's ``u{k}.base``, rebuilt here so
    that only ``u.data`` and the test files are needed).

    Parameters
    ----------
    path : str or path-like
        Folder holding ``u.data`` and ``u1.test`` .. ``u5.test`` (the
        ``ml-100k`` folder of the GroupLens archive).

    Returns
    -------
    folds : list of (train, test) pairs of DataFrames
        Columns ``user``, ``item``, ``rating``, ``timestamp``.
    """
    path = Path(path)
    if not (path / "u.data").is_file():
        raise FileNotFoundError(
            f"{path / 'u.data'} not found: pass the ml-100k folder of the "
            "GroupLens MovieLens 100K archive."
        )
    full = _read_fold(path / "u.data")
    folds = []
    for k in range(1, 6):
        test = _read_fold(path / f"u{k}.test")
        in_test = full.merge(test[["user", "item"]], how="left", indicator=True)
        train = full[(in_test["_merge"] == "left_only").to_numpy()]
        folds.append((train.reset_index(drop=True), test))
    return folds
