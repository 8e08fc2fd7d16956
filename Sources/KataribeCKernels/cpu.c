#include "internal.h"
#include <stdlib.h>
#include <string.h>

// Per thread, so a test forcing the portable kernels does not change what other threads run.
static _Thread_local int forced = -1;
static int detected = -1;

int kc_isa_detected(void) {
    if (detected < 0) {
#if KC_X86 && (defined(__GNUC__) || defined(__clang__))
        __builtin_cpu_init();
        detected = (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
            ? KC_ISA_AVX2 : KC_ISA_GENERIC;
        // VNNI's vpdpbusd replaces vpmaddubsw + vpmaddwd in the int8 GEMV, and BW/VL give byte
        // operations on 512 and 256 bits; without all four the AVX2 kernels are used.
        if (detected == KC_ISA_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
            detected = KC_ISA_AVX512;
#else
        detected = KC_ISA_GENERIC;
#endif
        // KATARIBE_ISA=portable|avx2 caps the level, to measure what a CPU without the newer
        // instructions gets (benchmarks); it never raises it.
        const char *cap = getenv("KATARIBE_ISA");
        if (cap && strcmp(cap, "portable") == 0) detected = KC_ISA_GENERIC;
        if (cap && strcmp(cap, "avx2") == 0 && detected > KC_ISA_AVX2) detected = KC_ISA_AVX2;
    }
    return detected;
}

int kc_isa(void) {
    int best = kc_isa_detected();
    return forced >= 0 && forced < best ? forced : best;
}

void kc_force_isa(int isa) { forced = isa; }

int kc_gemm_bf16_available(void) {
    // Detected once, like the level: products ask for every matrix.
    static int bf16 = -1;
    if (bf16 < 0) {
#if KC_X86 && (defined(__GNUC__) || defined(__clang__))
        __builtin_cpu_init();
        bf16 = __builtin_cpu_supports("avx512bf16") ? 1 : 0;
#else
        bf16 = 0;
#endif
    }
    return bf16 && kc_isa() >= KC_ISA_AVX512;
}
