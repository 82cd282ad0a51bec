"""Sphinx configuration of the skmf documentation.

Build it with ``python -m sphinx -W -b html docs docs/_build/html`` (the
``docs`` extra installs what it needs). The pages are Markdown (MyST); the API
reference is generated from the docstrings by autosummary and numpydoc into
``docs/generated/``, which is rebuilt at every build and not committed.
"""

import re
from pathlib import Path

from sphinx.util import logging

import skmf

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
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/*.examples"]

# Markdown: $...$ and $$...$$ math, ::: fences, anchors for ## headings.
myst_enable_extensions = ["amsmath", "colon_fence", "dollarmath"]
myst_heading_anchors = 3

# API reference: one page per public name, from each module's __all__.
autosummary_generate = True
autosummary_ignore_module_all = False
autodoc_default_options = {"inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# No intersphinx: the site is built offline (CI has no network access), and
# an unreachable inventory is a warning.

html_theme = "alabaster"
html_title = f"skmf {release}"
html_theme_options = {
    "description": "Matrix factorization for ratings, as scikit-learn estimators",
    "fixed_sidebar": True,
}

# Pages written under other issues, listed in the index's table of contents:
# until one exists, it is left out of the table (and said so) instead of
# failing the build.
OPTIONAL_PAGES = ["recommending", "benchmarks"]
_logger = logging.getLogger(__name__)


def _leave_out_missing_pages(app, docname, source):
    if docname != root_doc:
        return
    for page in OPTIONAL_PAGES:
        if not (Path(app.srcdir) / f"{page}.md").exists():
            source[0] = source[0].replace(f"\n{page}\n", "\n")
            _logger.info(f"docs/{page}.md does not exist yet: left out of the index")


# Methods inherited from scikit-learn (score, fit_predict, ...) bring docstrings
# that cross-reference scikit-learn's own site: their :ref: and :term: roles
# become plain text here.
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^>]*>)?`")


def _plain_sklearn_roles(app, what, name, obj, options, lines):
    if (getattr(obj, "__module__", None) or "").startswith("sklearn"):
        lines[:] = [_SKLEARN_ROLE.sub(r"\1", line) for line in lines]


def setup(app):
    app.connect("source-read", _leave_out_missing_pages)
    app.connect("autodoc-process-docstring", _plain_sklearn_roles)
