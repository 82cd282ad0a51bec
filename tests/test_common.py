"""scikit-learn's estimator checks, run on both solvers and the Bayesian model.

Most checks feed random X with 3 to 30 feature columns. MatrixFactorization
reads exactly two columns (user id, item id) and rejects anything else, so those
checks cannot run as written. Each one sits in EXPECTED_FAILED with the reason
and the name of the test in this suite that checks the same property on
(user, item) input; ``test_every_expected_failure_has_a_counterpart`` makes sure
those tests exist.
"""

import inspect

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmf import BayesianMatrixFactorization, MatrixFactorization

from . import test_estimator, test_validation

TWO_COLUMNS = "X must hold exactly two id columns (user, item); the check uses {}"

# check name -> (why it cannot pass, the test of ours for the same property)
EXPECTED_FAILED = {
    "check_fit_score_takes_y": ("3 feature columns", "test_fit_and_score_take_y"),
    "check_dont_overwrite_parameters": (
        "3 feature columns",
        "test_fit_does_not_change_parameters",
    ),
    "check_dict_unchanged": ("3 feature columns", "test_predict_does_not_change_state"),
    "check_n_features_in_after_fitting": (
        "4 feature columns",
        "test_n_features_in_and_column_count_at_predict",
    ),
    "check_positive_only_tag_during_fit": (
        "3 feature columns",
        "test_negative_ids_and_ratings",
    ),
    "check_estimators_dtypes": ("5 feature columns", "test_id_and_rating_dtypes"),
    "check_sample_weights_list": ("3 feature columns", "test_sample_weight_list"),
    "check_all_zero_sample_weights_error": (
        "20 feature columns",
        "test_all_zero_sample_weights_error",
    ),
    "check_sample_weight_equivalence_on_dense_data": (
        "30 feature columns",
        "test_als_weight_two_equals_duplicated_rating",
    ),
    "check_dtype_object": ("10 feature columns", "test_object_and_string_ids"),
    "check_pipeline_consistency": ("3 feature columns", "test_pipeline_consistency"),
    "check_estimators_nan_inf": ("3 feature columns", "test_nan_and_inf_rejected"),
    "check_estimators_pickle": ("3 feature columns", "test_pickle_round_trip"),
    "check_f_contiguous_array_estimator": (
        "3 feature columns",
        "test_f_contiguous_input",
    ),
    "check_regressors_train": ("10 feature columns", "test_learns_low_rank_ratings"),
    "check_regressor_data_not_an_array": (
        "10 feature columns",
        "test_list_and_dataframe_input_agree",
    ),
    "check_regressors_no_decision_function": (
        "4 feature columns",
        "test_no_decision_function",
    ),
    "check_supervised_y_2d": ("3 feature columns", "test_column_vector_y"),
    "check_regressors_int": ("10 feature columns", "test_integer_ratings"),
    "check_non_transformer_estimators_n_iter": ("4 feature columns", "test_n_iter"),
    "check_methods_sample_order_invariance": (
        "3 feature columns",
        "test_predict_sample_order_invariance",
    ),
    "check_methods_subset_invariance": (
        "3 feature columns",
        "test_predict_subset_invariance",
    ),
    "check_fit2d_1sample": ("10 feature columns", "test_fit_one_rating"),
    "check_fit2d_predict1d": ("3 feature columns", "test_predict_1d_rejected"),
}

ESTIMATORS = [
    MatrixFactorization(n_components=3, solver=solver, max_iter=5, random_state=0)
    for solver in ("sgd", "als")
] + [
    BayesianMatrixFactorization(n_components=3, n_samples=3, burn_in=2, random_state=0)
]


# Without a max_iter parameter the check has nothing to check, and passes.
NO_MAX_ITER = {"check_non_transformer_estimators_n_iter"}


def _expected_failed_checks(estimator):
    return {
        name: TWO_COLUMNS.format(columns)
        for name, (columns, _) in EXPECTED_FAILED.items()
        if "max_iter" in estimator.get_params() or name not in NO_MAX_ITER
    }


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("check_name", sorted(EXPECTED_FAILED))
def test_every_expected_failure_has_a_counterpart(check_name):
    counterpart = EXPECTED_FAILED[check_name][1]
    modules = (test_estimator, test_validation)
    found = [m for m in modules if inspect.isfunction(getattr(m, counterpart, None))]
    assert found, f"{check_name} has no counterpart test named {counterpart}"
