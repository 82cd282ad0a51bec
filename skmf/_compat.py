"""Every private scikit-learn name that skmf uses, imported in one place.

scikit-learn does not promise that its private helpers keep their names or
signatures. Importing them here only means that a new scikit-learn release
that moves one breaks one module, which the test matrix (the oldest and the
newest supported scikit-learn) runs on.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import _check_sample_weight, _check_y

__all__ = [
    "HasMethods",
    "Interval",
    "Options",
    "StrOptions",
    "_check_sample_weight",
    "_check_y",
    "_fit_context",
    "validate_params",
]
