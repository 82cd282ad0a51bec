"""Fast matrix factorization for ratings, as a scikit-learn estimator."""

from ._bayes import BayesianMatrixFactorization
from ._implicit import ImplicitMatrixFactorization
from ._mf import MatrixFactorization
from ._recommend import RecommenderMixin

__version__ = "0.1.0.dev0"

__all__ = [
    "BayesianMatrixFactorization",
    "ImplicitMatrixFactorization",
    "MatrixFactorization",
    "RecommenderMixin",
    "__version__",
]
