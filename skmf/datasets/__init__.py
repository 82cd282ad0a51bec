"""Rating data sets: synthetic generators and readers of public archives."""

from ._base import clear_data_home, get_data_home
from ._movielens import fetch_movielens, load_movielens_100k_folds
from ._pairs import pairs_from_sparse, sparse_from_pairs
from ._ratings_file import read_ratings
from ._synthetic import make_ratings

__all__ = [
    "clear_data_home",
    "fetch_movielens",
    "get_data_home",
    "load_movielens_100k_folds",
    "make_ratings",
    "pairs_from_sparse",
    "read_ratings",
    "sparse_from_pairs",
]
