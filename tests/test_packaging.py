"""The packages the wheel ships are every package of the source tree.

The test suite runs on an editable install, which imports the source tree and
so cannot notice a subpackage that pyproject.toml forgets to ship; a wheel
without it fails at import (``skmf`` the command, for instance).
"""

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs 3.11")

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_shipped():
    pyproject = ROOT / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("no pyproject.toml beside the tests (an installed test suite)")
    listed = set(tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "skmf").rglob("__init__.py")
    }
    assert found == listed, f"missing {found - listed}, extra {listed - found}"
