"""Fast matrix factorization for ratings, as a scikit-learn estimator."""

from ._bayes import BayesianMatrixFactorization
from ._fm import BayesianFactorizationMachine, FactorizationMachine
from ._fm_regressor import FactorizationMachineRegressor
from ._implicit import ImplicitMatrixFactorization
from ._mf import MatrixFactorization
from ._persistence import IncompatibleVersionError, load_model, save_model
from ._recommend import RecommenderMixin

__version__ = "0.1.0.dev0"

__all__ = [
    "BayesianFactorizationMachine",
    "BayesianMatrixFactorization",
    "FactorizationMachine",
    "FactorizationMachineRegressor",
    "ImplicitMatrixFactorization",
    "IncompatibleVersionError",
    "MatrixFactorization",
    "RecommenderMixin",
    "__version__",
    "load_model",
    "save_model",
]
