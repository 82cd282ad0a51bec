"""Fast matrix factorization for ratings, as a scikit-learn estimator."""

from ._mf import MatrixFactorization

__version__ = "0.1.0.dev0"

__all__ = ["MatrixFactorization", "__version__"]
