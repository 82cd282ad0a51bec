"""Build the compiled kernels: Cython with OpenMP where the compiler has it."""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _openmp_flags(compiler):
    """Return (compile, link) flags for OpenMP, or empty ones if unsupported.

    Without OpenMP the kernels still build and run, on one thread.
    """
    if sys.platform == "win32":
        return ["/openmp"], []
    flags = ["-fopenmp"]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "omp_probe.c"
        src.write_text(
            "#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n"
        )
        try:
            objs = compiler.compile([str(src)], output_dir=tmp, extra_postargs=flags)
            compiler.link_executable(
                objs, "omp_probe", output_dir=tmp, extra_postargs=flags
            )
        except Exception:
            print("skmf: the compiler has no OpenMP; kernels will run on one thread")
            return [], []
    return flags, flags


def _accepts(compiler, flags):
    """Whether the compiler builds a small C file with these flags."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "flags_probe.c"
        src.write_text("int main(void){return 0;}\n")
        try:
            compiler.compile([str(src)], output_dir=tmp, extra_postargs=flags)
        except Exception:
            return False
    return True


def _simd_flags(compiler):
    """Flags for the AVX2 + FMA build of the SGD kernel, or None if unsupported.

    The compiler only has to accept them: the build runs on any CPU, and
    ``skmf._solvers.sgd`` imports it only where the CPU has AVX2 and FMA.
    """
    if sys.platform == "win32":
        flags = ["/arch:AVX2"]
    else:
        flags = ["-mavx2", "-mfma"]
    return flags if _accepts(compiler, flags) else None


class BuildExt(build_ext):
    def build_extensions(self):
        compile_flags, link_flags = _openmp_flags(self.compiler)
        gcc_like = self.compiler.compiler_type == "unix"
        simd_flags = _simd_flags(self.compiler)
        if simd_flags is None:
            print("skmf: the compiler has no AVX2 flags; SGD runs its baseline build")
            self.extensions = [e for e in self.extensions if e.name not in _SIMD]
        for ext in self.extensions:
            ext.extra_compile_args += compile_flags
            if gcc_like:
                ext.extra_compile_args += ["-O3", *_GCC_FLAGS.get(ext.name, [])]
            if ext.name in _SIMD:
                ext.extra_compile_args += simd_flags
            ext.extra_link_args += link_flags
        super().build_extensions()


# Let the compiler reorder float sums (dot products) so that it can vectorize
# them. Only for the SGD and ALS kernels, whose results need no bit-exact
# summation order; NaN and infinity keep their meaning (no -ffinite-math-only).
_VECTORIZE_SUMS = [
    "-fno-math-errno",
    "-fassociative-math",
    "-fno-signed-zeros",
    "-fno-trapping-math",
]


_GCC_FLAGS = {
    "skmf._solvers._sgd_fast": _VECTORIZE_SUMS,
    "skmf._solvers._sgd_fast_avx2": _VECTORIZE_SUMS,
    "skmf._solvers._als_fast": _VECTORIZE_SUMS,
}


# Modules built a second time for x86-64 CPUs with AVX2 and FMA; chosen at run
# time (see skmf/_solvers/sgd.py).
_SIMD = {"skmf._solvers._sgd_fast_avx2"}


# Source included by more than one module: the SGD kernel, built twice.
_INCLUDES = {
    name: [os.path.join("skmf", "_solvers", "_sgd_kernels.pxi")]
    for name in ("_sgd_fast", "_sgd_fast_avx2")
}


def _extension(name):
    return Extension(
        f"skmf._solvers.{name}",
        [os.path.join("skmf", "_solvers", f"{name}.pyx")],
        depends=_INCLUDES.get(name, []),
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
    )


setup(
    ext_modules=cythonize(
        [
            _extension(name)
            for name in (
                "_sgd_fast",
                "_sgd_fast_avx2",
                "_als_fast",
                "_predict_fast",
                "_group_fast",
                "_implicit_fast",
                "_openmp_helpers",
            )
        ],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
