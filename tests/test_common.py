"""scikit-learn's estimator checks, run on both solvers and the Bayesian model.

The checks that cannot run on (user, item) input are listed, with the reason
and the test of ours for the same property, in tests/_expected_failures.py.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skmf import BayesianMatrixFactorization, MatrixFactorization

from . import test_estimator, test_validation
from ._expected_failures import expected_failed_checks, missing_counterparts

ESTIMATORS = [
    MatrixFactorization(n_components=3, solver=solver, max_iter=5, random_state=0)
    for solver in ("sgd", "als")
] + [
    BayesianMatrixFactorization(n_components=3, n_samples=3, burn_in=2, random_state=0)
]


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=expected_failed_checks("explicit")
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_every_expected_failure_has_a_counterpart():
    assert not missing_counterparts("explicit", (test_estimator, test_validation))
