"""Rating data sets: synthetic generators and readers of public archives."""

from ._movielens import load_movielens_100k_folds
from ._synthetic import make_ratings

__all__ = ["load_movielens_100k_folds", "make_ratings"]
