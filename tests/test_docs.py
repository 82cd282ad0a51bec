"""The documentation: the site builds without a warning, and its code runs.

The site is built once per test session (about 15 s), with the example
gallery in its quick mode (``SKMF_DOCS_QUICK=1``: the examples' ``--quick``
runs) on synthetic ratings, as on a fresh machine without MovieLens. The code
the README and the home page show a new user is run as it is written, on the
real MovieLens 100K where the team's shared folder has it, with every warning
an error.
"""

import importlib.util
import os
import re
import subprocess
import sys
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
MISSING = [
    name
    for name in (
        "sphinx",
        "numpydoc",
        "myst_parser",
        "pydata_sphinx_theme",
        "sphinx_gallery",
        "matplotlib",
    )
    if importlib.util.find_spec(name) is None
]
needs_docs = pytest.mark.skipif(
    bool(MISSING),
    reason=f"building the docs needs the 'docs' extra ({', '.join(MISSING)} missing)",
)
# Words a reader has no use for: the project's tracker is not public.
INTERNAL = re.compile(r"\bissues? #?\d+|\btargets? (?:\(|met|not met)|\bnot met\b")


class _Text(HTMLParser):
    """The visible text of a page, without its scripts and styles."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def page_text(path):
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    env = {
        **os.environ,
        "SKMF_DOCS_QUICK": "1",
        # An empty data folder: the examples fall back to synthetic ratings,
        # and nothing is read from or written to the user's own folder.
        "SKMF_DATA_HOME": str(out / "data"),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
    }
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
            str(out / "doctrees"),
            str(DOCS),
            str(out / "html"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return out / "html"


@needs_docs
def test_docs_build_without_warnings(site):
    api = (site / "generated" / "skmf.datasets.fetch_movielens.html").read_text()
    assert "download_if_missing" in api  # the API pages come from the docstrings
    guide = (site / "user_guide.html").read_text()
    assert "math notranslate" in guide  # the formulas are rendered as math
    assert "pydata-sphinx-theme" in (site / "index.html").read_text()


@needs_docs
def test_api_page_links_every_public_name(site):
    import skmf.dask
    import skmf.datasets
    import skmf.metrics
    import skmf.model_selection
    import skmf.plot

    api = (site / "api.html").read_text()
    modules = (skmf, skmf.dask, skmf.datasets, skmf.metrics, skmf.model_selection)
    for module in (*modules, skmf.plot):
        for name in module.__all__:
            if name != "__version__":
                page = f"generated/{module.__name__}.{name}.html"
                assert f'href="{page}' in api, page
                assert (site / page).exists()


@needs_docs
def test_gallery_shows_outputs_and_figures(site):
    examples = sorted(
        path.stem
        for path in (REPO / "examples").glob("*.py")
        if not path.name.startswith("_")
    )
    index = (site / "auto_examples" / "index.html").read_text()
    for name in examples:
        assert f"{name}.html" in index
        page = (site / "auto_examples" / f"{name}.html").read_text()
        assert "sphx-glr-script-out" in page, name  # what the script printed
        text = page_text(site / "auto_examples" / f"{name}.html")
        # Its docstring is a rendered header, not reST source.
        assert "=====" not in text, name
        assert not re.search(r"\w+Warning: ", text), name
        if name.startswith("plot_"):  # the figure it drew, on its page
            figure = f"sphx_glr_{name}_001.png"
            assert f"_images/{figure}" in page, name
            assert (site / "_images" / figure).stat().st_size > 10_000, name


@needs_docs
def test_pages_do_not_mention_the_tracker(site):
    pages = [REPO / "README.md", *site.rglob("*.html")]
    for path in pages:
        if "_sources" in path.parts:
            continue
        text = path.read_text() if path.suffix == ".md" else page_text(path)
        found = INTERNAL.search(text)
        assert found is None, f"{path.name}: {text[found.start() - 80 : found.end()]}"


@needs_docs
def test_quick_start_shuffles_its_folds(site):
    start = page_text(site / "getting_started.html")
    assert "KFold(5, shuffle=True, random_state=0)" in start
    html = (site / "getting_started.html").read_text()
    admonition = re.search(r'<div class="admonition[^"]*">(.*?)</div>', html, re.S)
    assert admonition and "sorted by user" in admonition.group(1)
    assert "KFold(5, shuffle=True, random_state=0)" in (REPO / "README.md").read_text()


def python_blocks(path, heading=None):
    """The ```python blocks of a Markdown file, or of one of its sections."""
    text = path.read_text(encoding="utf-8")
    if heading is not None:
        text = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", text, re.S)


def run_warning_free(code, cwd):
    """Run ``code`` in ``cwd`` with every warning an error."""
    namespace = {"__name__": "__main__"}
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            exec(compile(code, "<documented example>", "exec"), namespace)
    finally:
        os.chdir(old)
    return namespace


@pytest.mark.slow
def test_readme_quick_start_runs_warning_free(ml100k_dir, monkeypatch):
    # It reads u.data from the working folder, as a user who unzipped
    # MovieLens 100K there would.
    (code,) = python_blocks(REPO / "README.md", "Quick start")
    namespace = run_warning_free(code, ml100k_dir)
    assert namespace["search"].best_score_ > -1.0


@pytest.mark.slow
def test_home_page_example_runs_warning_free(ml100k_dir, monkeypatch):
    monkeypatch.setenv("SKMF_DATA_HOME", str(ml100k_dir.parent))
    (code,) = python_blocks(DOCS / "index.md")
    namespace = run_warning_free(code, ml100k_dir)
    assert namespace["mf"].n_features_in_ == 2


@pytest.mark.slow
def test_getting_started_runs_warning_free(ml100k_dir, monkeypatch, tmp_path):
    # Its blocks follow on from each other, as in one session; the last one
    # saves a model into the working folder.
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("SKMF_DATA_HOME", str(ml100k_dir.parent))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    code = "\n".join(python_blocks(DOCS / "getting_started.md"))
    namespace = run_warning_free(code, tmp_path)
    assert (tmp_path / "model.joblib").exists()
    assert set(namespace["search"].best_params_) == {
        "n_components",
        "alpha",
        "learning_rate",
    }
