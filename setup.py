"""Build the compiled kernels: Cython with OpenMP where the compiler has it.

Every extension is one row of ``KERNELS``. The package metadata lives in
``pyproject.toml``.
"""

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from Cython.Compiler import Options
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SOLVERS = Path("skmf", "_solvers")


@dataclass(frozen=True)
class Kernel:
    """One compiled module of ``skmf._solvers``.

    Parameters
    ----------
    name : str
        Module name inside ``skmf._solvers``, and the stem of its ``.pyx``.
    includes : tuple of str
        ``.pxi`` files the ``.pyx`` includes; a change to one rebuilds it, as
        does a change to any ``.pxd`` file of ``skmf/_solvers``.
    vectorize_sums : bool
        Let the compiler reorder floating-point sums so that it can vectorize
        dot products. Only for kernels whose results need no bit-exact
        summation order.
    simd : bool
        The AVX2 + FMA variant of a kernel. It is left out where the compiler
        has no such flags, and imported only on CPUs that have them.
    """

    name: str
    includes: tuple = ()
    vectorize_sums: bool = False
    simd: bool = False

    def extension(self):
        return Extension(
            f"skmf._solvers.{self.name}",
            [str(SOLVERS / f"{self.name}.pyx")],
            # Listed dependencies also go into the sdist: the .pxd files are
            # there whether or not a kernel cimports them yet.
            depends=[
                *(str(SOLVERS / name) for name in self.includes),
                *(str(path) for path in sorted(SOLVERS.glob("*.pxd"))),
            ],
            include_dirs=[np.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        )


KERNELS = (
    # The SGD kernel, built twice from one source: for any CPU, and for x86-64
    # CPUs with AVX2 and FMA (chosen at run time, see skmf/_solvers/sgd.py).
    Kernel("_sgd_fast", includes=("_sgd_kernels.pxi",), vectorize_sums=True),
    Kernel(
        "_sgd_fast_avx2",
        includes=("_sgd_kernels.pxi",),
        vectorize_sums=True,
        simd=True,
    ),
    Kernel("_als_fast", vectorize_sums=True),
    Kernel("_implicit_fast"),
    Kernel("_predict_fast"),
    Kernel("_group_fast"),
    Kernel("_fm_fast"),
    Kernel("_fm_sgd_fast"),
    Kernel("_openmp_helpers"),
)


# NaN and infinity keep their meaning (no -ffinite-math-only).
_VECTORIZE_SUMS = [
    "-fno-math-errno",
    "-fassociative-math",
    "-fno-signed-zeros",
    "-fno-trapping-math",
]

# -g0 drops the debug info that Python's own CFLAGS (-g) asks for: it is about
# 80% of each module's size. SKMF_DEBUG=1 keeps it, for gdb or perf.
_DEBUG = os.environ.get("SKMF_DEBUG", "") not in ("", "0")


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


def _cpu_count():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        # The modules are independent: compile them side by side unless the
        # caller chose (``--parallel N`` or ``-j N``).
        if not self.parallel:
            self.parallel = _cpu_count()

    def build_extensions(self):
        kernels = {f"skmf._solvers.{kernel.name}": kernel for kernel in KERNELS}
        compile_flags, link_flags = _openmp_flags(self.compiler)
        gcc_like = self.compiler.compiler_type == "unix"
        simd_flags = _simd_flags(self.compiler)
        if simd_flags is None:
            print("skmf: the compiler has no AVX2 flags; SGD runs its baseline build")
            self.extensions = [e for e in self.extensions if not kernels[e.name].simd]
        for ext in self.extensions:
            kernel = kernels[ext.name]
            ext.extra_compile_args += compile_flags
            if gcc_like:
                ext.extra_compile_args += ["-O3"]
                if not _DEBUG:
                    ext.extra_compile_args += ["-g0"]
                if kernel.vectorize_sums:
                    ext.extra_compile_args += _VECTORIZE_SUMS
            if kernel.simd:
                ext.extra_compile_args += simd_flags
            ext.extra_link_args += link_flags
        super().build_extensions()


# A Cython warning marks code whose meaning is not what it reads as (negative
# indices under wraparound=False, for one): stop the build on it.
Options.warning_errors = True

setup(
    ext_modules=cythonize(
        [kernel.extension() for kernel in KERNELS],
        # .pxd files under skmf/_solvers are found by their package path
        # (``from skmf._solvers._linalg cimport ...``) from the project root.
        include_path=["."],
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
