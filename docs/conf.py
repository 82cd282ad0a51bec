"""Sphinx configuration of the skmf documentation.

Build it with ``python -m sphinx -W -b html docs docs/_build/html`` (the
``docs`` extra installs what it needs). The pages are Markdown (MyST); the API
reference is generated from the docstrings by autosummary and numpydoc into
``docs/generated/``, and the example gallery is made by sphinx-gallery from the
scripts in ``examples/`` into ``docs/auto_examples/``, running them: both are
rebuilt at every build and never committed.

The gallery never downloads anything: the examples run with ``--no-download``,
on MovieLens 100K where the data folder has it (``$SKMF_DATA_HOME``, else the
team's shared folder ``../shared/data`` or ``$SKMF_DATA``, else
``~/skmf_data``), and on synthetic ratings where it does not. With
``SKMF_DOCS_QUICK=1`` they run with ``--quick`` (a few epochs, a small grid),
which is how the test suite builds the site.
"""

import importlib
import os
import re
import sys
from pathlib import Path

from sphinx.util import logging

import skmf

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(DOCS / "sphinxext"))

project = "skmf"
author = "the skmf developers"
copyright = "the skmf developers"
version = release = skmf.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/*.examples", "auto_examples/*.ipynb"]

# Markdown: $...$ and $$...$$ math, ::: fences, anchors for ## headings.
myst_enable_extensions = ["amsmath", "colon_fence", "dollarmath"]
myst_heading_anchors = 3

# API reference: one page per public name, listed by hand in api.rst (checked
# against each module's __all__ below, so that a new name cannot be forgotten).
autosummary_generate = True
autosummary_ignore_module_all = False
autodoc_default_options = {"inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# A long signature lists one parameter per line instead of one long line.
python_maximum_signature_line_length = 88

# No intersphinx: the site is built offline (CI has no network access), and
# an unreachable inventory is a warning.

# --- The example gallery ---------------------------------------------------

if "SKMF_DATA_HOME" not in os.environ:
    _shared = Path(os.environ.get("SKMF_DATA", REPO.parent / "shared" / "data"))
    if (_shared / "ml-100k" / "u.data").exists():
        os.environ["SKMF_DATA_HOME"] = str(_shared)
sphinx_gallery_conf = {
    "examples_dirs": str(REPO / "examples"),
    "gallery_dirs": "auto_examples",
    # Every script is an example, and runs; _helpers.py is their shared code.
    "filename_pattern": r".*\.py$",
    "ignore_pattern": r"(^|/)_",
    "reset_argv": "skmf_gallery.reset_argv",
    "within_subsection_order": "skmf_gallery.ExampleOrder",
    # Printed output only: no HTML repr of the estimator a cell ends with.
    "capture_repr": (),
    # The examples' code links to the API pages of the skmf names it uses,
    # and each API page lists the examples that use its name.
    "doc_module": ("skmf",),
    "reference_url": {"skmf": None},
    "backreferences_dir": "generated/backreferences",
    # A failing example fails the build instead of becoming a page with a
    # traceback.
    "abort_on_example_error": True,
    # Run every example at every build: sphinx-gallery would otherwise keep
    # the output of a script whose source has not changed, made by an older
    # skmf, another _helpers.py or the other (quick or full) mode.
    "run_stale_examples": True,
    "write_computation_times": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "show_memory": False,
    "plot_gallery": "True",
}

# --- The theme -------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skmf {release}"
html_static_path = ["_static"]
html_css_files = ["skmf.css"]
# "fit()" rather than "MatrixFactorization.fit()" in a page's table of contents.
toc_object_entries_show_parents = "hide"
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 5,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "show_prev_next": True,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {
    # One-page sections: no empty left column.
    "index": [],
    "getting_started": [],
    "api": [],
    "benchmarks": [],
    "changelog": [],
}

# Pages another part of the project writes, listed in a table of contents:
# until one exists, it is left out of the table (and said so) instead of
# failing the build.
OPTIONAL_PAGES = ["contributing"]
_logger = logging.getLogger(__name__)


def _leave_out_missing_pages(app, docname, source):
    for page in OPTIONAL_PAGES:
        if (
            f"\n{page}\n" in source[0]
            and not (Path(app.srcdir) / f"{page}.md").exists()
        ):
            source[0] = source[0].replace(f"\n{page}\n", "\n")
            _logger.info(f"docs/{page}.md does not exist yet: left out of {docname}")


# Methods inherited from scikit-learn (score, fit_predict, ...) bring docstrings
# that cross-reference scikit-learn's own site: their :ref: and :term: roles
# become plain text here.
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^>]*>)?`")


def _plain_sklearn_roles(app, what, name, obj, options, lines):
    if (getattr(obj, "__module__", None) or "").startswith("sklearn"):
        lines[:] = [_SKLEARN_ROLE.sub(r"\1", line) for line in lines]


API_MODULES = [
    "skmf",
    "skmf.datasets",
    "skmf.metrics",
    "skmf.model_selection",
    "skmf.plot",
]


def _check_api_lists_every_name(app):
    """Warn (an error under -W) about a public name the API page leaves out."""
    text = (Path(app.srcdir) / "api.rst").read_text(encoding="utf-8")
    listed = set()
    module = None
    for line in text.splitlines():
        match = re.match(r"\.\. (?:current)?module:: (\S+)", line)
        if match:
            module = match.group(1)
        elif module and re.match(r"   [A-Za-z_]\w*$", line):
            listed.add(f"{module}.{line.strip()}")
    for name in API_MODULES:
        for public in importlib.import_module(name).__all__:
            if public != "__version__" and f"{name}.{public}" not in listed:
                _logger.warning(f"api.rst: {name}.{public} is public but not listed")


def _ignore_generated_files(app):
    # The gallery is written into the source folder, as autosummary's pages
    # are; a .gitignore inside it keeps it out of `git status` and commits.
    gallery = Path(app.srcdir) / "auto_examples"
    gallery.mkdir(exist_ok=True)
    (gallery / ".gitignore").write_text("*\n")


def setup(app):
    app.connect("builder-inited", _ignore_generated_files, priority=100)
    app.connect("builder-inited", _check_api_lists_every_name)
    app.connect("source-read", _leave_out_missing_pages)
    app.connect("autodoc-process-docstring", _plain_sklearn_roles)
