"""SGD over blocks of ratings of a biased matrix factorization, for any CPU.

The kernel itself is in ``_sgd_kernels.pxi``, shared with ``_sgd_fast_avx2``
(the same code compiled for AVX2 and FMA). This module also tells whether the
CPU can run that variant.
"""

cdef extern from *:
    """
    /* gcc and clang on x86: ask the CPU (and the OS for the AVX state). */
    #if (defined(__GNUC__) || defined(__clang__)) \
        && (defined(__x86_64__) || defined(__i386__))
    static int skmf_cpu_avx2_fma(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    #elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    #include <intrin.h>
    #include <immintrin.h>
    static int skmf_cpu_avx2_fma(void) {
        int r[4];
        __cpuid(r, 0);
        if (r[0] < 7) return 0;
        __cpuid(r, 1);
        /* FMA (bit 12), OSXSAVE (27), AVX (28) */
        if ((r[2] & ((1 << 12) | (1 << 27) | (1 << 28))) != ((1 << 12) | (1 << 27) | (1 << 28)))
            return 0;
        /* The OS saves the XMM and YMM registers. */
        if ((_xgetbv(0) & 6) != 6) return 0;
        __cpuidex(r, 7, 0);
        return (r[1] >> 5) & 1;  /* AVX2 */
    }
    #else
    static int skmf_cpu_avx2_fma(void) { return 0; }
    #endif
    """
    int skmf_cpu_avx2_fma() noexcept nogil


def cpu_has_avx2_fma():
    """Whether this CPU (and OS) can run the AVX2 + FMA variant of the kernel."""
    return bool(skmf_cpu_avx2_fma())


include "_sgd_kernels.pxi"
