"""SGD over blocks of ratings, compiled for AVX2 and FMA.

Import only where ``_sgd_fast.cpu_has_avx2_fma()`` is true: the code of this
module may use those instructions anywhere. ``sgd.py`` does the check.
"""

include "_sgd_kernels.pxi"
