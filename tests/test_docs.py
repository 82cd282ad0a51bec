"""The documentation site builds without a warning, as the README says."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
MISSING = [
    name
    for name in ("sphinx", "numpydoc", "myst_parser")
    if importlib.util.find_spec(name) is None
]


@pytest.mark.skipif(
    bool(MISSING),
    reason=f"building the docs needs the 'docs' extra ({', '.join(MISSING)} missing)",
)
def test_docs_build_without_warnings(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    html = tmp_path / "html"
    api = (html / "generated" / "skmf.datasets.fetch_movielens.html").read_text()
    assert "download_if_missing" in api  # the API pages come from the docstrings
    guide = (html / "user_guide.html").read_text()
    assert "math notranslate" in guide  # the formulas are rendered as math
