"""Model files: skmf's own safe format, and pickles that know their version.

:func:`save_model` and :func:`load_model` write and read a format of skmf's
own: a zip archive holding the fitted arrays as ``.npy`` members (read with
``allow_pickle=False``) and a JSON document describing everything else (the
estimator's class, from an allowlist of skmf estimators, its parameters, the
skmf version, the format numbers and a SHA-256 checksum of the whole). Loading
one never runs code from the file, and a file changed by even one bit since
it was saved is refused.

Pickles (``pickle``, ``joblib``) of skmf estimators keep working too: the
estimators carry the skmf version that saved them and the number of the format
of their fitted state, and refuse another format at once with
:class:`IncompatibleVersionError`. But loading a pickle runs whatever code the
file holds, so load only pickles you made yourself.

``PICKLE_FORMAT`` is raised whenever a release changes the fitted attributes in
a way an older or newer skmf could not use (a renamed, added or re-encoded
attribute that the methods rely on); both kinds of file record it. Releases
that keep the format read each other's models.
"""

import dataclasses
import hashlib
import importlib
import io
import json
import os
import secrets
import stat
import zipfile
from pathlib import Path

import numpy as np

# The format of the fitted state written by this skmf.
PICKLE_FORMAT = 1
_VERSION_KEY = "_skmf_version"
_FORMAT_KEY = "_skmf_pickle_format"


class IncompatibleVersionError(ValueError):
    """A model saved by an skmf whose fitted state this skmf cannot read."""


def _current_version():
    # Imported here: skmf/__init__.py defines __version__ after importing the
    # estimators, which import this module.
    from . import __version__

    return __version__


class VersionedStateMixin:
    """Record the skmf version in the pickled state; refuse another format.

    Put it first among the bases of an estimator; it relies on the next class
    (scikit-learn's ``BaseEstimator``) for the state itself.
    """

    def __getstate__(self):
        state = super().__getstate__()
        state[_VERSION_KEY] = _current_version()
        state[_FORMAT_KEY] = PICKLE_FORMAT
        return state

    def __setstate__(self, state):
        state = dict(state)
        saved_version = state.pop(_VERSION_KEY, None)
        saved_format = state.pop(_FORMAT_KEY, None)
        if saved_format != PICKLE_FORMAT:
            name = type(self).__name__
            if saved_version is None:
                origin = "by a development version of skmf older than 0.1"
                fix = "Fit it again with this version"
            else:
                origin = f"by skmf {saved_version} (model format {saved_format})"
                fix = (
                    f"Load it with skmf {saved_version} (e.g. pip install "
                    f'"skmf=={saved_version}") or fit it again with this version'
                )
            raise IncompatibleVersionError(
                f"This {name} was saved {origin}, which skmf {_current_version()} "
                f"cannot read: it reads model format {PICKLE_FORMAT}. {fix}."
            )
        super().__setstate__(state)


# ---------------------------------------------------------------------------
# skmf's own format

# The estimators a model file may hold, by their public name in ``skmf``.
TRUSTED_ESTIMATORS = (
    "BayesianFactorizationMachine",
    "BayesianMatrixFactorization",
    "FactorizationMachine",
    "FactorizationMachineRegressor",
    "ImplicitMatrixFactorization",
    "MatrixFactorization",
)
# Dataclasses an estimator may hold as a fitted attribute, by dotted name:
# loading builds them field by field, without calling any of their code.
TRUSTED_DATACLASSES = (
    "skmf._solvers.sgd.SGDParams",
    "skmf._solvers.als.ALSParams",
    "skmf._solvers.gibbs.GibbsParams",
    "skmf._solvers.gibbs.HyperPrior",
    "skmf._solvers.implicit_als.ImplicitALSParams",
    "skmf._solvers.fm_gibbs.FMGibbsParams",
    "skmf._solvers.fm_gibbs.FMPrior",
    "skmf._solvers.fm_als.FMALSParams",
    "skmf._solvers.fm_sgd.FMSGDParams",
    "skmf._implicit._Confidence",
)
# Plain classes an estimator may hold (e.g. the coders of a factorization
# machine's attribute columns), by dotted name. Each declares the attributes
# it is made of in ``_record_fields``; loading sets those attributes on an
# object made without calling any of the class's code.
TRUSTED_RECORDS = ("skmf._fm._ColumnCoder",)
# The layout of the file, raised when it changes.
FILE_FORMAT = 1
_MAGIC = "skmf model"
_METADATA = "skmf.json"
_ARRAY_KINDS = "biufc"  # bool, signed and unsigned ints, floats, complex
_PLAIN = (str, int, float, bool, type(None))


# pandas dtypes an index of ids may have, besides NumPy's numbers and text.
_INDEX_DTYPES = ("object", "str", "string", "Int8", "Int16", "Int32", "Int64",
                 "UInt8", "UInt16", "UInt32", "UInt64")  # fmt: skip


def _plain_item(item):
    return item.item() if isinstance(item, np.generic) else item


class _Writer:
    """Encodes an estimator's attributes as JSON; arrays go to members.

    Every JSON object written is a tag of one key (``{"ndarray": ...}``), so
    that no value can pass for another on the way back.
    """

    def __init__(self):
        self.arrays = {}

    def array(self, value, where):
        if value.dtype.kind in _ARRAY_KINDS + "U":
            name = f"arrays/{len(self.arrays)}.npy"
            self.arrays[name] = np.ascontiguousarray(value)
            return {"ndarray": name}
        if value.dtype.kind == "O":
            items = [_plain_item(item) for item in value.ravel().tolist()]
            if all(isinstance(item, _PLAIN[:-1]) for item in items):
                # Ids of mixed or Python types: kept as JSON, type by type.
                return {"objects": [list(value.shape), items]}
        raise self.refuse(where, f"an array of dtype {value.dtype}")

    def encode(self, value, where):
        import pandas as pd
        import scipy.sparse as sp

        if isinstance(value, np.generic) and value.dtype.kind in _ARRAY_KINDS + "U":
            return {"scalar": [value.dtype.str, value.item()]}
        if isinstance(value, _PLAIN):
            return value
        if isinstance(value, (tuple, list, dict)):
            return self.container(value, where)
        if isinstance(value, type) and issubclass(value, np.generic):
            return {"scalar_type": np.dtype(value).str}
        if isinstance(value, np.dtype) and value.kind in _ARRAY_KINDS + "U":
            return {"dtype": value.str}
        if isinstance(value, np.ndarray):
            return self.array(value, where)
        if isinstance(value, pd.Index) and not isinstance(value, pd.MultiIndex):
            dtype = str(value.dtype)
            if dtype not in _INDEX_DTYPES and value.dtype.kind not in "biufU":
                raise self.refuse(where, f"a pandas Index of dtype {dtype}")
            if value.hasnans:
                raise self.refuse(where, "a pandas Index with missing values")
            values = value.to_numpy()
            if values.dtype.kind not in "biufU":
                values = values.astype(object)
            return {
                "index": [
                    self.array(values, where),
                    dtype,
                    self.encode(value.name, f"{where}.name"),
                ]
            }
        if sp.issparse(value) and value.format == "csr":
            return {
                "csr": [
                    self.array(value.data, where),
                    self.array(value.indices, where),
                    self.array(value.indptr, where),
                    list(value.shape),
                    not isinstance(value, sp.spmatrix),  # sp.sparray: scipy >= 1.11
                ]
            }
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            name = f"{type(value).__module__}.{type(value).__qualname__}"
            if name in TRUSTED_DATACLASSES:
                fields = {
                    field.name: self.encode(
                        getattr(value, field.name), f"{where}.{field.name}"
                    )
                    for field in dataclasses.fields(value)
                }
                return {"dataclass": [name, fields]}
        name = f"{type(value).__module__}.{type(value).__qualname__}"
        if name in TRUSTED_RECORDS:
            return {"record": [name, self.record(value, where)]}
        kind = f"{type(value).__module__}.{type(value).__qualname__}"
        raise self.refuse(where, f"a {kind}")

    def container(self, value, where):
        if isinstance(value, tuple):
            return {
                "tuple": [self.encode(v, f"{where}[{j}]") for j, v in enumerate(value)]
            }
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{j}]") for j, v in enumerate(value)]
        return {
            "dict": [
                [self.encode(k, where), self.encode(v, f"{where}[{k!r}]")]
                for k, v in value.items()
            ]
        }

    def record(self, value, where):
        fields = type(value)._record_fields
        extra = sorted(set(vars(value)) - set(fields))
        if extra:
            raise self.refuse(f"{where}.{extra[0]}", "not one of its record's fields")
        return {
            field: self.encode(getattr(value, field), f"{where}.{field}")
            for field in fields
            if field in vars(value)
        }

    @staticmethod
    def refuse(where, what):
        return TypeError(
            f"cannot save {where}: it is {what}, which skmf's model files do not "
            "hold (they hold only arrays of numbers, ids, pandas indexes, CSR "
            "matrices, plain Python values and skmf's own parameter records, so "
            "that loading one never runs code). Save this model with joblib.dump "
            "instead, and load it only if you trust the file."
        )


class _Reader:
    """Decodes what _Writer wrote; any surprise is a ValueError."""

    def __init__(self, arrays, path):
        self.arrays = arrays  # member name -> bytes, checksum verified
        self.path = path

    def fail(self, why):
        return ValueError(f"{self.path} is not a valid skmf model file: {why}.")

    def array(self, spec):
        if not isinstance(spec, dict) or len(spec) != 1:
            raise self.fail("an array is described wrongly")
        ((tag, value),) = spec.items()
        if tag == "objects":
            shape, items = value
            if not all(isinstance(item, _PLAIN[:-1]) for item in items):
                raise self.fail("an array of ids holds other values")
            array = np.empty(len(items), dtype=object)
            array[:] = items
            return array.reshape(shape)
        if tag != "ndarray" or value not in self.arrays:
            raise self.fail(f"no array member {value!r}")
        data = self.arrays[value]
        try:
            array = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise self.fail(f"cannot read {value} ({exc})") from None
        if array.dtype.kind not in _ARRAY_KINDS + "U":
            raise self.fail(f"{value} holds an array of dtype {array.dtype}")
        return array

    def decode(self, value):
        if isinstance(value, _PLAIN):
            return value
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict) or len(value) != 1:
            raise self.fail("an attribute is described wrongly")
        ((tag, body),) = value.items()
        if tag in ("ndarray", "objects"):
            return self.array(value)
        if tag == "tuple":
            return tuple(self.decode(v) for v in body)
        if tag == "dict":
            return {self.decode(k): self.decode(v) for k, v in body}
        if tag == "scalar":
            dtype = self.dtype(body[0])
            return dtype.type(body[1])
        if tag == "scalar_type":
            return self.dtype(body).type
        if tag == "dtype":
            return self.dtype(body)
        if tag == "index":
            import pandas as pd

            values, dtype, name = body
            if dtype not in _INDEX_DTYPES:
                self.dtype(dtype)
            return pd.Index(
                self.array(values), dtype=str(dtype), name=self.decode(name)
            )
        if tag == "csr":
            import scipy.sparse as sp

            data, indices, indptr, shape, is_array = body
            cls = sp.csr_array if is_array else sp.csr_matrix
            arrays = (self.array(data), self.array(indices), self.array(indptr))
            try:
                return cls(arrays, shape=tuple(shape))
            except (ValueError, TypeError) as exc:
                raise self.fail(f"a sparse matrix is inconsistent ({exc})") from None
        if tag == "dataclass":
            name, fields = body
            return self.dataclass(name, fields)
        if tag == "record":
            name, fields = body
            return self.record(name, fields)
        raise self.fail(f"unknown value type {tag!r}")

    def dtype(self, text):
        try:
            dtype = np.dtype(str(text))
        except TypeError:
            raise self.fail(f"unknown dtype {text!r}") from None
        if dtype.kind not in _ARRAY_KINDS + "U":
            raise self.fail(f"dtype {text!r} is not one of numbers or text")
        return dtype

    def dataclass(self, name, fields):
        if name not in TRUSTED_DATACLASSES:
            raise self.fail(f"{name!r} is not one of skmf's parameter records")
        module, _, qualname = name.rpartition(".")
        cls = getattr(importlib.import_module(module), qualname)
        names = {field.name for field in dataclasses.fields(cls)}
        if set(fields) != names:
            raise self.fail(f"the fields of {name} are not {sorted(names)}")
        # Built field by field: no __init__ or __post_init__ runs.
        record = object.__new__(cls)
        for field, value in fields.items():
            object.__setattr__(record, field, self.decode(value))
        return record

    def record(self, name, fields):
        if name not in TRUSTED_RECORDS:
            raise self.fail(f"{name!r} is not one of skmf's records")
        module, _, qualname = name.rpartition(".")
        cls = getattr(importlib.import_module(module), qualname)
        if not isinstance(fields, dict) or not set(fields) <= set(cls._record_fields):
            raise self.fail(f"the fields of {name} are not among {cls._record_fields}")
        record = object.__new__(cls)
        for field, value in fields.items():
            record.__dict__[field] = self.decode(value)
        return record


def _checksum(metadata, arrays):
    """SHA-256 of the metadata (without its checksum) and of every array."""
    digest = hashlib.sha256()
    digest.update(json.dumps(metadata, sort_keys=True).encode())
    for name in sorted(arrays):
        digest.update(name.encode() + b"\0" + hashlib.sha256(arrays[name]).digest())
    return digest.hexdigest()


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def check_output_path(path, what="the model"):
    """Raise if ``path`` cannot take a new file; return it, resolved.

    Checked before any work, so that a bad path costs nothing: the folder
    must exist and be writable, and an existing ``path`` must be a regular
    file (a FIFO, a device or a directory is never replaced). A symbolic link
    is followed: its target is replaced, the link kept.

    Raises
    ------
    FileNotFoundError, NotADirectoryError, PermissionError, IsADirectoryError
        Each with a message naming the path and the problem.
    """
    path = Path(os.path.realpath(Path(path).expanduser()))
    folder = path.parent
    if not folder.exists():
        raise FileNotFoundError(f"cannot save {what} to {path}: no folder {folder}.")
    if not folder.is_dir():
        raise NotADirectoryError(
            f"cannot save {what} to {path}: {folder} is not a folder."
        )
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(f"cannot save {what} to {path}: it is a directory.")
    if mode is not None and not stat.S_ISREG(mode):
        raise FileExistsError(
            f"cannot save {what} to {path}: it is a special file (a FIFO, a "
            "device or a socket), which is never replaced. Give a file name."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot save {what} to {path}: no permission to write in {folder}."
        )
    return path


def _stale_parts(path):
    """Temporary files of saves to ``path`` by processes no longer running."""
    for candidate in path.parent.glob(f".{path.name}.*.part"):
        try:
            pid = int(candidate.name[len(path.name) + 2 :].split(".")[0])
            os.kill(pid, 0)
        except (ValueError, IndexError):
            continue  # not one of ours
        except ProcessLookupError:
            yield candidate
        except PermissionError:
            continue  # a running process of another user


def write_atomically(path, write, what="the model"):
    """Write a file with ``write(binary_file)``: all of it, or nothing.

    The file is written to a temporary file beside ``path`` (named
    ``.NAME.PID.RANDOM.part``) and renamed over ``path`` only once complete,
    so that an interrupted save leaves the old file as it was. The temporary
    file is removed whatever happens; one left by a killed process (SIGKILL
    cannot be caught) is removed by the next save to the same path. A new
    file gets the permissions the umask gives; a replaced file keeps its own.
    """
    path = check_output_path(path, what)
    for stale in _stale_parts(path):
        stale.unlink(missing_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = None
    temporary = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part"
    try:
        # 0o666 minus the umask, as for any new file.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def save_model(model, path):
    """Save a fitted skmf estimator to a file that loads without running code.

    The file is a zip archive of the fitted arrays (as ``.npy``) and a JSON
    document of everything else: the estimator's class, its parameters, the
    skmf version and a SHA-256 checksum that :func:`load_model` verifies. It
    is written atomically: an interrupted save leaves any older file at
    ``path`` intact.

    Only plain data can be saved: arrays of numbers or of ids, pandas
    indexes, CSR matrices, Python numbers, strings and containers of them,
    and skmf's own parameter records. A model holding anything else (e.g. a
    ``numpy.random.RandomState`` as ``random_state``) raises TypeError; pass
    an int as ``random_state``, or save it with joblib.

    Parameters
    ----------
    model : estimator
        A fitted skmf estimator: MatrixFactorization,
        BayesianMatrixFactorization, ImplicitMatrixFactorization or a
        factorization machine.
    path : str or path-like
        The file to write (``.skmf`` by convention). An existing regular file
        is replaced and keeps its permissions; a directory, FIFO or device is
        never replaced.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    TypeError
        When the model is not an skmf estimator, or holds a value the format
        does not take (the message names the attribute).
    OSError
        When the file cannot be written there (the message says why).

    See Also
    --------
    load_model : Load a model saved by this function.

    Examples
    --------
    >>> import os, tempfile
    >>> from skmf import MatrixFactorization
    >>> from skmf._persistence import load_model, save_model
    >>> X, y = [[1, 10], [1, 20], [2, 10]], [5.0, 3.0, 4.0]
    >>> model = MatrixFactorization(n_components=2, max_iter=3, random_state=0)
    >>> model = model.fit(X, y)
    >>> path = save_model(model, os.path.join(tempfile.mkdtemp(), "m.skmf"))
    >>> bool((load_model(path).predict(X) == model.predict(X)).all())
    True
    """
    import skmf

    name = type(model).__name__
    if name not in TRUSTED_ESTIMATORS or getattr(skmf, name, None) is not type(model):
        raise TypeError(
            f"save_model saves skmf's estimators ({', '.join(TRUSTED_ESTIMATORS)}), "
            f"not a {type(model).__module__}.{name}. Save it with joblib.dump."
        )
    writer = _Writer()
    state = {
        attribute: writer.encode(value, f"{name}.{attribute}")
        for attribute, value in vars(model).items()
    }
    params = {
        key: writer.encode(value, f"{name}.{key}")
        for key, value in model.get_params(deep=False).items()
    }
    arrays = {member: _npy_bytes(array) for member, array in writer.arrays.items()}
    metadata = {
        "magic": _MAGIC,
        "file_format": FILE_FORMAT,
        "state_format": PICKLE_FORMAT,
        "skmf_version": _current_version(),
        "estimator": name,
        "params": params,
        "state": state,
        "arrays": sorted(arrays),
    }
    metadata["sha256"] = _checksum(metadata, arrays)

    def write(file):
        # Stored, not compressed: factors hardly compress, and the size of
        # every member is then bounded by the size of the file.
        with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(_METADATA, json.dumps(metadata, indent=1, sort_keys=True))
            for member, data in arrays.items():
                archive.writestr(member, data)

    return write_atomically(path, write)


def _sniff(path, head):
    """Why a file that is not a model file is not one, for the message."""
    if head[:1] == b"\x80" or head[:2] in (b"x\x9c", b"x\xda"):
        return (
            "it is a pickle (e.g. written by joblib.dump), which loads by running "
            "the code it holds, so skmf does not load it here. If you made it "
            "yourself, load it in Python with joblib.load and save it again with "
            "skmf.save_model"
        )
    if head and all(32 <= byte < 127 or byte in b"\t\r\n" for byte in head[:512]):
        return "it is a text file (a ratings file?); make a model with 'skmf fit'"
    return "it is not a zip archive"


def load_model(path):
    """Load a model saved by :func:`save_model`, without running any code.

    The file's checksum is verified, the estimator's class must be one of
    skmf's, and every value is rebuilt from plain data: arrays are read with
    ``allow_pickle=False``. A file changed since it was saved (even by one
    bit), written by an skmf whose model format this one cannot read, or
    holding anything else is refused.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model` (or ``skmf fit``).

    Returns
    -------
    model : estimator
        The fitted estimator, as it was saved.

    Raises
    ------
    FileNotFoundError
        When there is no file at ``path``.
    ValueError
        When the file is not a valid skmf model file, or fails its checksum;
        :class:`IncompatibleVersionError` (a ValueError) when it was saved by
        an skmf with another model format.

    See Also
    --------
    save_model : Save a fitted model.
    """
    import skmf

    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise IsADirectoryError(f"cannot load a model from {path}: a directory.")
        raise FileNotFoundError(f"cannot load a model from {path}: no such file.")
    with open(path, "rb") as file:
        head = file.read(4096)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not an skmf model file: {_sniff(path, head)}.")
    try:
        with zipfile.ZipFile(path) as archive:
            return _load(archive, path, skmf)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        # A damaged header makes zipfile seek or decompress nonsense.
        raise ValueError(
            f"{path} is a damaged skmf model file ({exc}); save the model again."
        ) from None
    except (RecursionError, KeyError, IndexError) as exc:
        raise ValueError(f"{path} is not a valid skmf model file ({exc!r}).") from None


def _load(archive, path, skmf):
    reader = _Reader({}, path)
    infos = {info.filename: info for info in archive.infolist()}
    if _METADATA not in infos:
        raise ValueError(f"{path} is a zip archive, but not an skmf model file.")
    for info in infos.values():
        if info.compress_type != zipfile.ZIP_STORED:
            raise reader.fail(f"{info.filename} is compressed")
    try:
        metadata = json.loads(archive.read(_METADATA))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise reader.fail(f"its {_METADATA} is not JSON ({exc})") from None
    if not isinstance(metadata, dict) or metadata.get("magic") != _MAGIC:
        raise ValueError(f"{path} is a zip archive, but not an skmf model file.")
    version = metadata.get("skmf_version")
    file_format, state_format = (
        metadata.get("file_format"),
        metadata.get("state_format"),
    )
    if file_format != FILE_FORMAT or state_format != PICKLE_FORMAT:
        raise IncompatibleVersionError(
            f"{path} was saved by skmf {version} (model format {state_format}, "
            f"file format {file_format}), which skmf {_current_version()} cannot "
            f"read: it reads model format {PICKLE_FORMAT}, file format "
            f"{FILE_FORMAT}. Load it with skmf {version} (e.g. pip install "
            f'"skmf=={version}") or fit it again with this version.'
        )
    members = metadata.get("arrays")
    if not isinstance(members, list) or set(members) != set(infos) - {_METADATA}:
        raise reader.fail("its arrays are not the ones its metadata lists")
    arrays = {member: archive.read(member) for member in members}
    expected = metadata.pop("sha256", None)
    if _checksum(metadata, arrays) != expected:
        raise ValueError(
            f"{path} fails its SHA-256 checksum: it was changed or damaged after "
            "it was saved. Save the model again, or restore the file from a copy."
        )
    reader.arrays = arrays
    name = metadata.get("estimator")
    if name not in TRUSTED_ESTIMATORS:
        raise reader.fail(f"{name!r} is not one of skmf's estimators")
    cls = getattr(skmf, name)
    state = metadata.get("state")
    if not isinstance(state, dict):
        raise reader.fail("it holds no fitted state")
    model = cls.__new__(cls)
    for attribute, value in state.items():
        if not isinstance(attribute, str) or not attribute.isidentifier():
            raise reader.fail(f"{attribute!r} is not an attribute name")
        # Plain attributes, as unpickling sets them: no setter or code runs.
        model.__dict__[attribute] = reader.decode(value)
    return model
