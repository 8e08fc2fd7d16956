// Shared by the kernel files: target attributes, half conversion, and the dispatch helper.
#ifndef KATARIBE_C_KERNELS_INTERNAL_H
#define KATARIBE_C_KERNELS_INTERNAL_H

#include "KataribeCKernels.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define KC_X86 1
#include <immintrin.h>
// Functions with this attribute may use AVX2/FMA/F16C intrinsics; they run only after kc_isa()
// said the CPU has them, so the rest of the library stays portable.
#define KC_AVX2 __attribute__((target("avx2,fma,f16c")))
// Likewise after kc_isa() returned KC_ISA_AVX512 (AVX-512 F/BW/VL and VNNI on top of AVX2).
#define KC_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

/// How far ahead of a stream read once per token (weights, cached keys and values) the kernels
/// prefetch: on the development machine (AMD Zen, two cores) the hardware prefetchers alone left
/// these streams at about half the read bandwidth; 2 KiB was the best distance (docs/benchmarks.md).
enum { KC_PREFETCH_BYTES = 2048 };

/// Non-temporal prefetch of `bytes` bytes at `p`, one hint per cache line. Non-temporal because
/// nothing streamed is read again within the token. Prefetches past the end of a buffer are
/// harmless hints.
static inline void kc_prefetch_lines(const void *p, long bytes) {
    for (long b = 0; b < bytes; b += 64) _mm_prefetch((const char *)p + b, _MM_HINT_NTA);
}

/// Prefetch of `bytes` bytes at `p` into all cache levels, one hint per line: for what the next
/// tile of a GEMM reads while the micro-kernels run on this one.
static inline void kc_prefetch_lines_t0(const void *p, long bytes) {
    for (long b = 0; b < bytes; b += 64) _mm_prefetch((const char *)p + b, _MM_HINT_T0);
}

/// The sum of the 8 lanes of v (the kernels' final reduction of a row's accumulators).
KC_AVX2 static inline float kc_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#else
#define KC_X86 0
static inline void kc_prefetch_lines_t0(const void *p, long bytes) { (void)p; (void)bytes; }
#endif

static inline float kc_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    uint32_t bits;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else {  // subnormal: value = mantissa · 2^-24
            float f = (float)mantissa * 5.9604644775390625e-8f;
            memcpy(&bits, &f, 4);
            bits |= sign;
        }
    } else if (exponent == 31) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

/// Round to nearest even, like vcvtps2ph with rounding mode 0 and Swift's Float16(x).
static inline uint16_t kc_float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t magnitude = x & 0x7fffffff;
    if (magnitude >= 0x7f800000) {  // inf or nan
        return (uint16_t)(sign | 0x7c00 | (magnitude > 0x7f800000 ? 0x200 | ((magnitude >> 13) & 0x3ff) : 0));
    }
    if (magnitude >= 0x477ff000) return (uint16_t)(sign | 0x7c00);  // rounds to inf
    if (magnitude < 0x38800000) {  // result is subnormal or zero
        float a;
        memcpy(&a, &magnitude, 4);
        // Adding 0.5 makes the FPU round the mantissa to 2^-24 steps (nearest even).
        float shifted = a + 0.5f;
        uint32_t bits;
        memcpy(&bits, &shifted, 4);
        return (uint16_t)(sign | (bits - 0x3f000000));
    }
    uint32_t mantissaOdd = (magnitude >> 13) & 1;
    magnitude += 0xc8000fff + mantissaOdd;  // rebias exponent (-112 << 23) and round
    return (uint16_t)(sign | (magnitude >> 13));
}

static inline float kc_bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

static inline long kc_min(long a, long b) { return a < b ? a : b; }

/// Activation codes regrouped for the AVX-512 Q4 GEMV: per 128 values, blocks 0, 2, 1, 3.
void kc_q4_regroup(const int8_t *codes, long n, int8_t *out);

/// The integer codes of `count` weights of a GGML row from block `src` (count a multiple of the
/// block size), with a float scale and offset per 16 weights: weight = scale·code + offset
/// exactly as dequantization forms it (ggml_quants.c). AVX2 and portable give the same values.
void kc_ggml_codes(int type, const void *src, long count, int16_t *codes, float *scales, float *offsets);

#endif
