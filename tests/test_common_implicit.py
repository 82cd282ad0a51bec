"""scikit-learn's estimator checks, run on ImplicitMatrixFactorization.

As for MatrixFactorization (tests/test_common.py), the checks that feed X with
3 to 10 feature columns cannot run on an estimator that reads exactly two id
columns. Each sits in COUNTERPARTS with the test of tests/test_implicit.py
that checks the same property on (user, item) input (the reason, the number
of columns the check uses, comes from tests/test_common.py);
``test_every_expected_failure_has_a_counterpart`` makes sure it exists.
"""

import inspect

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmf import ImplicitMatrixFactorization

from . import test_implicit
from .test_common import EXPECTED_FAILED, TWO_COLUMNS

# check name -> the test of ours for the same property; the checks (and so the
# number of columns they use) are those MatrixFactorization cannot pass either.
COUNTERPARTS = {
    "check_fit_score_takes_y": "test_fit_and_score_take_y",
    "check_dont_overwrite_parameters": "test_fit_does_not_change_parameters",
    "check_dict_unchanged": "test_recommend_does_not_change_state",
    "check_n_features_in_after_fitting": "test_n_features_in",
    "check_positive_only_tag_during_fit": "test_negative_ids",
    "check_estimators_dtypes": "test_id_and_count_dtypes",
    "check_dtype_object": "test_object_and_string_ids",
    "check_pipeline_consistency": "test_pipeline_consistency",
    "check_estimators_nan_inf": "test_nan_and_inf_rejected",
    "check_estimators_pickle": "test_pickle_round_trip",
    "check_f_contiguous_array_estimator": "test_f_contiguous_input",
    "check_fit2d_1sample": "test_fit_one_pair",
    "check_fit2d_predict1d": "test_score_1d_rejected",
    "check_methods_sample_order_invariance": "test_recommend_order_invariance",
    "check_methods_subset_invariance": "test_recommend_subset_invariance",
}
EXPECTED_FAILURES = {
    name: TWO_COLUMNS.format(EXPECTED_FAILED[name][0]) for name in COUNTERPARTS
}

ESTIMATORS = [
    ImplicitMatrixFactorization(
        n_components=3, cg_steps=cg_steps, max_iter=3, random_state=0
    )
    for cg_steps in (3, None)
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda _: EXPECTED_FAILURES)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("check_name", sorted(COUNTERPARTS))
def test_every_expected_failure_has_a_counterpart(check_name):
    counterpart = COUNTERPARTS[check_name]
    assert inspect.isfunction(getattr(test_implicit, counterpart, None)), (
        f"{check_name} has no counterpart test named {counterpart}"
    )
