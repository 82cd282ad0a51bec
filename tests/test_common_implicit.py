"""scikit-learn's estimator checks, run on ImplicitMatrixFactorization.

As for the explicit models (tests/test_common.py), the checks that cannot run
on (user, item) input are listed in tests/_expected_failures.py with the test
of tests/test_implicit.py that checks the same property.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skmf import ImplicitMatrixFactorization

from . import test_implicit
from ._expected_failures import expected_failed_checks, missing_counterparts

ESTIMATORS = [
    ImplicitMatrixFactorization(
        n_components=3, cg_steps=cg_steps, max_iter=3, random_state=0
    )
    for cg_steps in (3, None)
]


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=expected_failed_checks("implicit")
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_every_expected_failure_has_a_counterpart():
    assert not missing_counterparts("implicit", (test_implicit,))
