"""The data cache folder and checked, atomic downloads into it.

Follows scikit-learn's convention: :func:`get_data_home` names the folder
(``data_home``, else the ``SKMF_DATA_HOME`` environment variable, else
``~/skmf_data``), and a download is written to a temporary file beside its
destination, checked against its SHA-256 and only then renamed into place, so
that an interrupted or corrupt download never leaves a file that a later call
would take for the real one.
"""

import hashlib
import http.client
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

# Environment variable naming the cache folder when data_home is not given.
DATA_HOME_ENV = "SKMF_DATA_HOME"
_DEFAULT_DATA_HOME = Path("~") / "skmf_data"
# Bytes read from the network at a time.
_CHUNK = 1 << 20
# Attempts at a download that fails with a network error, and the pause
# between two attempts in seconds.
_N_ATTEMPTS = 3
_RETRY_DELAY = 2.0
# Seconds between two updates of the progress line.
_PROGRESS_INTERVAL = 0.5
# Seconds a single read from the network may wait.
_TIMEOUT = 60
# A whole download must average at least _MIN_RATE bytes per second after
# _GRACE seconds, so that a server trickling bytes cannot hold a fetch for long.
_GRACE = 60.0
_MIN_RATE = 50_000
# Bytes assumed when the server sends no length and the caller knows none.
_UNKNOWN_SIZE = 300_000_000
# Cached files already checked by this process: (path, size, mtime, inode).
_VERIFIED = set()


def get_data_home(data_home=None):
    """Return the path of the skmf data folder, creating it if needed.

    Fetched data sets are kept in this folder so that each is downloaded only
    once. It is, by priority: ``data_home`` when given, else the folder named
    by the ``SKMF_DATA_HOME`` environment variable, else ``skmf_data`` in the
    user's home folder. A leading ``~`` is expanded.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use; None applies the rules above.

    Returns
    -------
    data_home : str
        The path of the folder.

    Examples
    --------
    >>> import os, tempfile
    >>> from skmf.datasets import get_data_home
    >>> folder = os.path.join(tempfile.mkdtemp(), "cache")
    >>> get_data_home(folder) == folder
    True
    >>> os.path.isdir(folder)
    True
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or _DEFAULT_DATA_HOME
    data_home = Path(data_home).expanduser()
    data_home.mkdir(parents=True, exist_ok=True)
    return str(data_home)


def clear_data_home(data_home=None):
    """Delete the skmf data folder and everything in it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to delete; None means :func:`get_data_home`'s default.

    Examples
    --------
    >>> import os, tempfile
    >>> from skmf.datasets import clear_data_home, get_data_home
    >>> folder = get_data_home(os.path.join(tempfile.mkdtemp(), "cache"))
    >>> clear_data_home(folder)
    >>> os.path.exists(folder)
    False
    """
    shutil.rmtree(get_data_home(data_home))


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _megabytes(n_bytes):
    return f"{n_bytes / 1e6:.1f} MB"


class _Progress:
    """Download progress on stderr.

    A line when the download starts and one when it ends, always; in between,
    where someone watches (a terminal or a notebook), one line rewritten in
    place with the share done, the speed and the time left.
    """

    def __init__(self, name, total):
        self.name = name
        self.total = total
        self.done = 0
        self.start = self.shown = time.perf_counter()
        stream = sys.stderr
        self.live = "ipykernel" in sys.modules or (
            hasattr(stream, "isatty") and stream.isatty()
        )
        size = f" ({_megabytes(total)})" if total else ""
        self._write(f"Downloading {name}{size}\n")

    @staticmethod
    def _write(text):
        sys.stderr.write(text)
        sys.stderr.flush()

    def update(self, n_bytes):
        self.done += n_bytes
        now = time.perf_counter()
        if not self.live or now - self.shown < _PROGRESS_INTERVAL:
            return
        self.shown = now
        speed = self.done / max(now - self.start, 1e-9)
        line = f"  {_megabytes(self.done)}"
        if self.total:
            left = max(self.total - self.done, 0) / max(speed, 1e-9)
            line += (
                f" of {_megabytes(self.total)} ({100 * self.done / self.total:.0f}%)"
                f", {_megabytes(speed)}/s, {left:.0f} s left"
            )
        else:
            line += f", {_megabytes(speed)}/s"
        self._write(f"\r{line}   ")

    def close(self, ok):
        elapsed = time.perf_counter() - self.start
        if self.live and self.done:
            self._write("\n")
        if ok:
            self._write(
                f"Downloaded {self.name}: {_megabytes(self.done)} in {elapsed:.1f} s\n"
            )


def _deadline_error(url, path, done, seconds):
    return OSError(
        f"The download of {url} was too slow: {_megabytes(done)} in {seconds:.0f} "
        f"s, below {_megabytes(_MIN_RATE)}/s. Nothing was kept. Try again later, "
        f"or download it by hand and save it as {path}."
    )


def _download_once(url, path, sha256, size=None):
    """One attempt: stream ``url`` to a temporary file, check it, rename it."""
    temporary = tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
    )
    digest = hashlib.sha256()
    progress = None
    start = time.monotonic()
    try:
        with temporary, urlopen(url, timeout=_TIMEOUT) as response:
            length = (
                response.headers.get("Content-Length") if response.headers else None
            )
            length = int(length) if length and length.isdecimal() else None
            expected = length or size or _UNKNOWN_SIZE
            deadline = start + _GRACE + expected / _MIN_RATE
            # No more than announced (or twice the known size): a server that
            # never stops must not fill the disk.
            limit = length if length is not None else 2 * expected
            progress = _Progress(path.name, length)
            # read1 returns what one read from the socket gives, so that the
            # deadline is checked between reads even when bytes trickle in.
            read = (
                response.read1
                if isinstance(response, http.client.HTTPResponse)
                else response.read
            )
            while True:
                block = read(_CHUNK)
                if not block:
                    break
                if time.monotonic() > deadline:
                    raise _deadline_error(
                        url, path, progress.done, time.monotonic() - start
                    )
                if progress.done + len(block) > limit:
                    raise OSError(
                        f"{url} sent more than the {_megabytes(limit)} expected; "
                        "nothing was kept. Download it by hand, check it and "
                        f"save it as {path}."
                    )
                temporary.write(block)
                digest.update(block)
                progress.update(len(block))
        found = digest.hexdigest()
        if found != sha256:
            raise OSError(
                f"The file downloaded from {url} has SHA-256 {found}, not the "
                f"expected {sha256}: the download was corrupted or the archive "
                f"has changed. It was not kept. Try again; if it fails again, "
                f"download {url} by hand, check it, and save it as {path}."
            )
        os.replace(temporary.name, path)
    except BaseException:
        Path(temporary.name).unlink(missing_ok=True)
        if progress is not None:
            progress.close(ok=False)
        raise
    progress.close(ok=True)
    _VERIFIED.add(_identity(path))


def _identity(path):
    info = os.stat(path)
    return (str(Path(path).resolve()), info.st_size, info.st_mtime_ns, info.st_ino)


def verify_file(path, sha256, url):
    """Check a cached file against its SHA-256, once per process per version.

    A file found in the cache is not trusted for its name: a partial copy,
    another release saved under the same name or a damaged disk would
    otherwise be read as the real data. The check is repeated whenever the
    file changes (its size, modification time or inode).

    Raises
    ------
    OSError
        When the file's SHA-256 is not ``sha256``: the message names the file
        and says what to do.
    """
    path = Path(path)
    identity = _identity(path)
    if identity in _VERIFIED:
        return path
    found = _sha256(path)
    if found != sha256:
        raise OSError(
            f"{path} is not the archive it should be: its SHA-256 is {found}, not "
            f"{sha256}. It may be a partial or damaged copy, or another file saved "
            "under its name. Delete it (or call skmf.datasets.clear_data_home() to "
            f"empty the whole cache) and fetch it again, or replace it with {url}."
        )
    _VERIFIED.add(identity)
    return path


def fetch_file(url, path, sha256, size=None):
    """Download ``url`` to ``path`` unless absent; check its SHA-256.

    Network errors are retried a few times. Whatever goes wrong, nothing is
    left at ``path`` (nor any temporary file beside it), and the error says
    how to put the file there by hand.

    Parameters
    ----------
    url : str
        Where to download from.
    path : path-like
        Where to save the file; its folder must exist.
    sha256 : str
        Expected SHA-256 of the file, in lowercase hexadecimal.
    size : int, default=None
        Expected size in bytes, used for the deadline when the server does
        not send one: a download must average 50 kB/s after its first
        minute, and may not exceed twice this size.

    Returns
    -------
    path : pathlib.Path
        ``path``, now holding the checked file.
    """
    path = Path(path)
    for attempt in range(1, _N_ATTEMPTS + 1):
        try:
            _download_once(url, path, sha256, size)
        except (URLError, TimeoutError, ConnectionError) as exc:
            client_error = isinstance(exc, HTTPError) and exc.code < 500
            if client_error or attempt == _N_ATTEMPTS:
                reason = getattr(exc, "reason", exc)
                tries = "" if client_error else f"; tried {attempt} times"
                raise OSError(
                    f"Could not download {url} ({reason}{tries}). Without network "
                    f"access, download it on another machine and copy it to {path}."
                ) from exc
            sys.stderr.write(
                f"Download of {url} failed ({exc}); trying again in "
                f"{_RETRY_DELAY:g} s\n"
            )
            time.sleep(_RETRY_DELAY)
        else:
            return path
