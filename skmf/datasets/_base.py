"""The data cache folder and checked, atomic downloads into it.

Follows scikit-learn's convention: :func:`get_data_home` names the folder
(``data_home``, else the ``SKMF_DATA_HOME`` environment variable, else
``~/skmf_data``), and a download is written to a temporary file beside its
destination, checked against its SHA-256 and only then renamed into place, so
that an interrupted or corrupt download never leaves a file that a later call
would take for the real one.
"""

import hashlib
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
_TIMEOUT = 60


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


def _download_once(url, path, sha256):
    """One attempt: stream ``url`` to a temporary file, check it, rename it."""
    temporary = tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
    )
    digest = hashlib.sha256()
    progress = None
    try:
        with temporary, urlopen(url, timeout=_TIMEOUT) as response:
            length = (
                response.headers.get("Content-Length") if response.headers else None
            )
            progress = _Progress(path.name, int(length) if length else None)
            for block in iter(lambda: response.read(_CHUNK), b""):
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


def fetch_file(url, path, sha256):
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

    Returns
    -------
    path : pathlib.Path
        ``path``, now holding the checked file.
    """
    path = Path(path)
    for attempt in range(1, _N_ATTEMPTS + 1):
        try:
            _download_once(url, path, sha256)
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
