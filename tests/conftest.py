"""Shared fixtures: small synthetic ratings and the real data sets when present."""

import os
from pathlib import Path

import numpy as np
import pytest

from skmf.datasets import load_movielens_100k_folds

# The real data sets may not be redistributed: they are read from the team's
# shared folder (or SKMF_DATA), never from the repository.
DATA_DIR = Path(
    os.environ.get("SKMF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture(scope="session")
def ml100k_dir():
    path = DATA_DIR / "ml-100k"
    if not (path / "u.data").exists():
        pytest.skip(
            f"MovieLens 100K not found in {path}: set SKMF_DATA to the folder "
            "holding ml-100k/ to run this test"
        )
    return path


@pytest.fixture(scope="session")
def ml100k_folds(ml100k_dir):
    """The five canonical (train, test) folds: train = u.data minus ui.test."""
    return load_movielens_100k_folds(ml100k_dir)


def low_rank_ratings(n_users=60, n_items=40, density=0.5, rank=3, noise=0.1, seed=0):
    """Small ratings table with a known low-rank structure, ids as ints."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n_users, rank))
    h = rng.normal(size=(n_items, rank))
    bu = rng.normal(scale=0.5, size=n_users)
    bi = rng.normal(scale=0.5, size=n_items)
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    y = 3 + bu[users] + bi[items] + np.sum(w[users] * h[items], axis=1)
    y += rng.normal(scale=noise, size=y.shape)
    X = np.column_stack([users, items])
    perm = rng.permutation(len(y))
    return X[perm], y[perm]


@pytest.fixture
def ratings():
    return low_rank_ratings()


# scikit-learn runs its array API check on every estimator and skips it with
# "SCIPY_ARRAY_API is not set", which tells a reader nothing about skmf.
_ARRAY_API_SKIP = pytest.mark.skip(
    reason="scikit-learn's array API check: skmf's estimators compute with NumPy "
    "and compiled kernels, not in other array API namespaces"
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "check_array_api_input" in item.nodeid:
            item.add_marker(_ARRAY_API_SKIP)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line per reason of the expected failures, instead of one per test."""
    reports = terminalreporter.stats.get("xfailed", [])
    if not reports:
        return
    reasons = {}
    for report in reports:
        reason = getattr(report, "wasxfail", "") or "no reason given"
        reasons[reason] = reasons.get(reason, 0) + 1
    terminalreporter.section("expected failures (scikit-learn checks), by reason")
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        terminalreporter.line(f"{count:4d}  {reason}")
