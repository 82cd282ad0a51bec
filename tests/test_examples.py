"""Every script in examples/ runs end to end, as a user would run it.

Each example runs as a subprocess with ``--quick`` (a few epochs, a small
grid), twice: on synthetic ratings, the fallback an example takes where
MovieLens is not in ``$SKMF_DATA_HOME`` (here an empty folder, with
``--no-download``), showing nothing as on a machine without a display; and on
the real MovieLens 100K from the team's shared folder, writing its figures
with ``--save``, when the data are there. Any warning is an error.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(
    path.name for path in EXAMPLES_DIR.glob("*.py") if not path.name.startswith("_")
)
# What each example prints, whatever the data, and the figures it draws.
PRINTS = {
    "seed_experiment.py": ["MAE", "RMSE", "matrix factorization", "median rating"],
    "plot_grid_search.py": ["n_components", "Best: {"],
    "plot_training_curve.py": ["validation RMSE", "test RMSE"],
    "plot_item_map.py": ["low end of the first axis:", "high end"],
    "plot_cross_validation.py": ["no shuffling", "shuffle=True", "unseen in fit"],
    "plot_sparse_factors.py": ["l1_ratio 0.0 ", "zero factors", "test RMSE"],
    "plot_cold_start.py": ["new movies with", "FM, genres + year", "on new movies"],
    "plot_fm_regressor.py": ["Ridge on the one-hot ids", "test RMSE", "solver='gibbs'"],
}
FIGURES = {
    "seed_experiment.py": [],
    "plot_grid_search.py": ["grid_search.png"],
    "plot_training_curve.py": ["training_curve.png"],
    "plot_item_map.py": ["item_map.png"],
    "plot_cross_validation.py": ["cross_validation.png"],
    "plot_sparse_factors.py": ["sparse_factors.png"],
    "plot_cold_start.py": ["cold_start.png"],
    "plot_fm_regressor.py": ["fm_regressor.png"],
}
pytest.importorskip("matplotlib", reason="the examples draw with matplotlib")


def run_example(name, data_home, *args):
    env = {
        **os.environ,
        "SKMF_DATA_HOME": str(data_home),
        "MPLBACKEND": "Agg",  # as on a machine without a display
        # Tiny fits: one thread each is fastest, and keeps the run quick on a
        # machine whose cores are busy with other work.
        "OMP_NUM_THREADS": "1",
    }
    result = subprocess.run(
        # Every warning is an error: a documented example runs warning-free.
        [sys.executable, "-W", "error", str(EXAMPLES_DIR / name), "--quick", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for text in PRINTS[name]:
        assert text in result.stdout, result.stdout
    return result


def test_every_example_is_tested():
    assert EXAMPLES == sorted(PRINTS) == sorted(FIGURES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_on_synthetic_data_without_display(name, tmp_path):
    result = run_example(name, tmp_path / "empty", "--no-download")
    assert "Note: MovieLens 100k is not in" in result.stdout
    assert "Using synthetic ratings" in result.stdout
    assert not list(tmp_path.rglob("*.png"))
    if FIGURES[name]:
        assert "No display: pass --save DIR" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_on_movielens_saves_figures(name, ml100k_dir, tmp_path):
    result = run_example(name, ml100k_dir.parent, "--save", str(tmp_path))
    assert "MovieLens 100K: 100,000 ratings of 1,682 movies" in result.stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == FIGURES[name]
    for figure in FIGURES[name]:
        assert (tmp_path / figure).stat().st_size > 10_000
