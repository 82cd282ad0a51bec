"""The command line sphinx-gallery gives the examples when it runs them.

It lives in a module rather than in ``conf.py`` because sphinx-gallery
imports it by name: a function defined in ``conf.py`` cannot be pickled with
the build environment, which Sphinx warns about (an error under ``-W``).
"""

import os


def quick():
    """Whether ``SKMF_DOCS_QUICK`` asks for the examples' short runs."""
    return os.environ.get("SKMF_DOCS_QUICK", "") not in ("", "0")


def reset_argv(gallery_conf, script_vars):
    """``--no-download`` always (the build never downloads), ``--quick`` if asked."""
    return ["--no-download", *(["--quick"] if quick() else [])]


# The gallery's order: from the first fit to model selection, then what a
# fitted model shows. A new example goes last until it is placed here.
ORDER = [
    "seed_experiment.py",
    "plot_cross_validation.py",
    "plot_grid_search.py",
    "plot_training_curve.py",
    "plot_item_map.py",
]


class ExampleOrder:
    """Sort key of the examples in a gallery folder: their place in ORDER."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        return (ORDER.index(filename) if filename in ORDER else len(ORDER), filename)
