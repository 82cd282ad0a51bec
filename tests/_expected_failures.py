"""scikit-learn's estimator checks that cannot run on (user, item) input.

Most checks feed random X with 3 to 30 feature columns. skmf's estimators read
exactly two columns (user id, item id) and reject anything else, so those
checks cannot run as written. Each one is listed here with the number of
columns it uses and the test of ours that checks the same property on
(user, item) input: for the explicit models (tests/test_estimator.py or
tests/test_validation.py) and for the implicit one (tests/test_implicit.py;
None where the check does not apply to it). The common tests make sure those
tests exist.
"""

import inspect

TWO_COLUMNS = "X must hold exactly two id columns (user, item); the check uses {}"

# check name -> (columns it uses, explicit counterpart, implicit counterpart)
EXPECTED_FAILED = {
    "check_fit_score_takes_y": (
        "3 feature columns",
        "test_fit_and_score_take_y",
        "test_fit_and_score_take_y",
    ),
    "check_dont_overwrite_parameters": (
        "3 feature columns",
        "test_fit_does_not_change_parameters",
        "test_fit_does_not_change_parameters",
    ),
    "check_dict_unchanged": (
        "3 feature columns",
        "test_predict_does_not_change_state",
        "test_recommend_does_not_change_state",
    ),
    "check_n_features_in_after_fitting": (
        "4 feature columns",
        "test_n_features_in_and_column_count_at_predict",
        "test_n_features_in",
    ),
    "check_positive_only_tag_during_fit": (
        "3 feature columns",
        "test_negative_ids_and_ratings",
        "test_negative_ids",
    ),
    "check_estimators_dtypes": (
        "5 feature columns",
        "test_id_and_rating_dtypes",
        "test_id_and_count_dtypes",
    ),
    "check_sample_weights_list": ("3 feature columns", "test_sample_weight_list", None),
    "check_all_zero_sample_weights_error": (
        "20 feature columns",
        "test_all_zero_sample_weights_error",
        None,
    ),
    "check_sample_weight_equivalence_on_dense_data": (
        "30 feature columns",
        "test_als_weight_two_equals_duplicated_rating",
        None,
    ),
    "check_dtype_object": (
        "10 feature columns",
        "test_object_and_string_ids",
        "test_object_and_string_ids",
    ),
    "check_pipeline_consistency": (
        "3 feature columns",
        "test_pipeline_consistency",
        "test_pipeline_consistency",
    ),
    "check_estimators_nan_inf": (
        "3 feature columns",
        "test_nan_and_inf_rejected",
        "test_nan_and_inf_rejected",
    ),
    "check_estimators_pickle": (
        "3 feature columns",
        "test_pickle_round_trip",
        "test_pickle_round_trip",
    ),
    "check_f_contiguous_array_estimator": (
        "3 feature columns",
        "test_f_contiguous_input",
        "test_f_contiguous_input",
    ),
    "check_regressors_train": (
        "10 feature columns",
        "test_learns_low_rank_ratings",
        None,
    ),
    "check_regressor_data_not_an_array": (
        "10 feature columns",
        "test_list_and_dataframe_input_agree",
        None,
    ),
    "check_regressors_no_decision_function": (
        "4 feature columns",
        "test_no_decision_function",
        None,
    ),
    "check_supervised_y_2d": ("3 feature columns", "test_column_vector_y", None),
    "check_regressors_int": ("10 feature columns", "test_integer_ratings", None),
    "check_non_transformer_estimators_n_iter": (
        "4 feature columns",
        "test_n_iter",
        None,
    ),
    "check_methods_sample_order_invariance": (
        "3 feature columns",
        "test_predict_sample_order_invariance",
        "test_recommend_order_invariance",
    ),
    "check_methods_subset_invariance": (
        "3 feature columns",
        "test_predict_subset_invariance",
        "test_recommend_subset_invariance",
    ),
    "check_fit2d_1sample": (
        "10 feature columns",
        "test_fit_one_rating",
        "test_fit_one_pair",
    ),
    "check_fit2d_predict1d": (
        "3 feature columns",
        "test_predict_1d_rejected",
        "test_score_1d_rejected",
    ),
}

# Without a max_iter parameter the check has nothing to check, and passes.
NO_MAX_ITER = {"check_non_transformer_estimators_n_iter"}


def expected_failed_checks(kind):
    """The ``expected_failed_checks`` callable for "explicit" or "implicit"."""
    column = {"explicit": 1, "implicit": 2}[kind]

    def failed(estimator):
        return {
            name: TWO_COLUMNS.format(entry[0])
            for name, entry in EXPECTED_FAILED.items()
            if entry[column] is not None
            and ("max_iter" in estimator.get_params() or name not in NO_MAX_ITER)
        }

    return failed


def missing_counterparts(kind, modules):
    """Checks whose counterpart test is not a function of any of ``modules``."""
    column = {"explicit": 1, "implicit": 2}[kind]
    return [
        f"{name} -> {entry[column]}"
        for name, entry in EXPECTED_FAILED.items()
        if entry[column] is not None
        and not any(
            inspect.isfunction(getattr(m, entry[column], None)) for m in modules
        )
    ]
