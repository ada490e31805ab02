#pragma once
// Kernels built twice, for AVX2 and for the baseline, the better one chosen when first called.
// GCC's target_clones does the same with an ifunc resolver that runs before the program starts,
// which ThreadSanitizer builds cannot run (the resolver is instrumented too); a plain check of
// the processor at the first call works under every sanitizer.
//
// A kernel writes its body once as an always-inline template, wraps it in a CLE_AVX2 function
// and a plain one, and picks between them with cpu::hasAvx2(). A body that uses AVX2 and FMA
// intrinsics is included twice instead, once between `#pragma GCC push_options` /
// `#pragma GCC target("avx2,fma")` and `pop_options`, and chosen with cpu::hasAvx2Fma().

namespace cle::core::cpu {

/// True when the processor runs AVX2 instructions (checked once).
inline bool hasAvx2() {
#if defined(__x86_64__) || defined(__i386__)
    static const bool avx2 = __builtin_cpu_supports("avx2");
    return avx2;
#else
    return false;
#endif
}

/// True when the processor runs AVX2 and FMA instructions (checked once).
inline bool hasAvx2Fma() {
#if defined(__x86_64__) || defined(__i386__)
    static const bool avx2Fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return avx2Fma;
#else
    return false;
#endif
}

}  // namespace cle::core::cpu

#define CLE_ALWAYS_INLINE inline __attribute__((always_inline))
#if defined(__x86_64__) || defined(__i386__)
#define CLE_AVX2 __attribute__((target("avx2")))
#else
#define CLE_AVX2
#endif
