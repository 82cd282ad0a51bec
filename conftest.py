"""Collection rules for the doctests of the package itself (testpaths: skmf).

``skmf.dask`` needs the ``dask`` extra: without it the module raises an
ImportError that names the extra, which doctest collection would report as
an error rather than a skip.
"""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("dask") is None or importlib.util.find_spec(
    "distributed"
) is None:
    collect_ignore.append("skmf/dask.py")
