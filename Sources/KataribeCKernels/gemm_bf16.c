// Prompt processing for bfloat16 weights with bfloat16 activations on AVX-512 BF16, the way
// transformers runs a bfloat16 nn.Linear: inputs rounded to bfloat16 (to nearest even), products
// exact, sums in float32. vdpbf16ps does 32 multiply-adds per 512-bit instruction where the float
// GEMM's FMA does 16, and reads the weights as stored: a pair of adjacent bfloat16 weights is one
// 32-bit broadcast, so nothing is widened.
//
// Tokens are packed in groups of 16 as [group][k / 2][16 tokens][2]; lane j of a vdpbf16ps is then
// token j, and each weight pair is broadcast to all of them. The portable version sums the same
// pairs in the same order with fmaf; vdpbf16ps may round inside a pair differently, so the two
// agree to float32 rounding, not bit for bit.
#include "internal.h"

enum { BX_TOKENS = 16, BX_ROWS = 8, BX_KC = 256 };

static inline uint16_t round_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffff) > 0x7f800000) return (uint16_t)((bits >> 16) | 0x40);  // quiet NaN
    bits += 0x7fff + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

void kc_round_bf16(const float *x, float *out, long n) {
    for (long i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)round_bf16(x[i]) << 16;
        memcpy(out + i, &bits, 4);
    }
}

size_t kc_gemm_bx_count(long n, long cols) {
    return (size_t)((n + BX_TOKENS - 1) / BX_TOKENS) * (size_t)((cols + 1) / 2 * 2) * BX_TOKENS;
}

#if KC_X86
/// round_bf16 on 16 floats at once (the same integer steps, NaNs made quiet).
KC_AVX512 static inline __m256i round_bf16_avx512(__m512 v) {
    const __m512i b = _mm512_castps_si512(v);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(b, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd)), 16);
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(0x40)));
    return _mm512_cvtepi32_epi16(r);
}

/// One token's row into its lane, 16 columns per step: a scalar copy per element was ~3% of a
/// bfloat16 prompt, run by the calling thread alone.
KC_AVX512 static long pack_token_avx512(const float *x, long cols, uint32_t *lane_pairs) {
    long k = 0;
    for (; k + 16 <= cols; k += 16) {
        uint32_t pairs[8];
        _mm256_storeu_si256((__m256i *)pairs, round_bf16_avx512(_mm512_loadu_ps(x + k)));
        for (int p = 0; p < 8; p++) lane_pairs[(k / 2 + p) * BX_TOKENS] = pairs[p];
    }
    return k;
}
#endif

void kc_gemm_pack_bx(const float *x, long n, long cols, long g0, long g1, uint16_t *out) {
    const long even = (cols + 1) / 2 * 2;
    for (long token = g0 * BX_TOKENS; token < g1 * BX_TOKENS; token++) {
        uint16_t *g = out + (token / BX_TOKENS) * even * BX_TOKENS;
        long lane = token % BX_TOKENS, k = 0;
#if KC_X86
        if (token < n && kc_isa() >= KC_ISA_AVX512) k = pack_token_avx512(x + token * cols, cols, (uint32_t *)g + lane);
#endif
        for (; k < even; k++) {
            float v = token < n && k < cols ? x[token * cols + k] : 0.0f;
            g[(k / 2) * 2 * BX_TOKENS + lane * 2 + (k & 1)] = round_bf16(v);
        }
    }
}

/// The 32-bit word holding weights k and k + 1 of a row (k + 1 reads as 0 past an odd end).
static inline uint32_t weight_pair(const uint16_t *row, long k, long cols) {
    uint32_t lo = row[k], hi = k + 1 < cols ? row[k + 1] : 0;
    return lo | (hi << 16);
}

static void micro_generic(const uint16_t *xg, const uint16_t *const *w, long cols, long k0, long kc, float *c) {
    for (int i = 0; i < BX_ROWS; i++) {
        const uint16_t *row = w[i];
        for (int lane = 0; lane < BX_TOKENS; lane++) {
            float s = c[i * BX_TOKENS + lane];
            for (long k = k0; k < k0 + kc; k += 2) {
                uint32_t pair = weight_pair(row, k, cols);
                const uint16_t *xp = xg + (k / 2) * 2 * BX_TOKENS + lane * 2;
                s = fmaf(kc_bf16_to_float((uint16_t)(pair >> 16)), kc_bf16_to_float(xp[1]), s);
                s = fmaf(kc_bf16_to_float((uint16_t)pair), kc_bf16_to_float(xp[0]), s);
            }
            c[i * BX_TOKENS + lane] = s;
        }
    }
}

#if KC_X86
#define KC_AVX512BF16 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512bf16")))

/// Eight rows against two token groups over columns [k0, k0 + kc) (kc even): 16 accumulators.
KC_AVX512BF16 static void micro_avx512(const uint16_t *xa, const uint16_t *xb, const uint16_t *const *w,
                                       long k0, long kc, float *ca, float *cb) {
    __m512 a[BX_ROWS], b[BX_ROWS];
    for (int i = 0; i < BX_ROWS; i++) {
        a[i] = _mm512_loadu_ps(ca + i * BX_TOKENS);
        b[i] = _mm512_loadu_ps(cb + i * BX_TOKENS);
    }
    for (long k = k0; k < k0 + kc; k += 2) {
        __m512bh va = (__m512bh)_mm512_loadu_si512(xa + k * BX_TOKENS);
        __m512bh vb = (__m512bh)_mm512_loadu_si512(xb + k * BX_TOKENS);
        for (int i = 0; i < BX_ROWS; i++) {
            uint32_t pair;
            memcpy(&pair, w[i] + k, 4);
            __m512bh wv = (__m512bh)_mm512_set1_epi32((int)pair);
            a[i] = _mm512_dpbf16_ps(a[i], wv, va);
            b[i] = _mm512_dpbf16_ps(b[i], wv, vb);
        }
    }
    for (int i = 0; i < BX_ROWS; i++) {
        _mm512_storeu_ps(ca + i * BX_TOKENS, a[i]);
        _mm512_storeu_ps(cb + i * BX_TOKENS, b[i]);
    }
}
#endif

void kc_gemm_bf16_rows(const uint16_t *w, long cols, long r0, long r1, const uint16_t *xp, long n,
                       float *y, long ldy, const float *bias, float *scratch) {
    const long groups = (n + BX_TOKENS - 1) / BX_TOKENS, even = (cols + 1) / 2 * 2, tile = BX_ROWS * BX_TOKENS;
#if KC_X86
    const int fast = kc_gemm_bf16_available() && (cols % 2) == 0;
#else
    const int fast = 0;
#endif
    for (long rb = r0; rb < r1; rb += BX_ROWS) {
        long rows = kc_min(BX_ROWS, r1 - rb);
        // Short tiles repeat their first row (never stored), so the kernels always read 8 rows.
        const uint16_t *base[BX_ROWS];
        for (long i = 0; i < BX_ROWS; i++) base[i] = w + (rb + (i < rows ? i : 0)) * cols;
        float *c = scratch;
        memset(c, 0, sizeof(float) * (size_t)(groups * tile));
        for (long k0 = 0; k0 < even; k0 += BX_KC) {
            long kc = kc_min(BX_KC, even - k0);
            long g = 0;
#if KC_X86
            if (fast) {
                for (; g + 2 <= groups; g += 2)
                    micro_avx512(xp + g * even * BX_TOKENS, xp + (g + 1) * even * BX_TOKENS, base, k0, kc,
                                 c + g * tile, c + (g + 1) * tile);
                if (g < groups) {
                    float spare[BX_ROWS * BX_TOKENS];
                    memcpy(spare, c + g * tile, sizeof spare);
                    micro_avx512(xp + g * even * BX_TOKENS, xp + g * even * BX_TOKENS, base, k0, kc,
                                 c + g * tile, spare);
                    g++;
                }
            }
#endif
            for (; g < groups; g++) micro_generic(xp + g * even * BX_TOKENS, base, cols, k0, kc, c + g * tile);
        }
        for (long t = 0; t < n; t++) {
            float *out = y + t * ldy + rb;
            const float *ct = c + (t / BX_TOKENS) * tile + t % BX_TOKENS;
            for (long i = 0; i < rows; i++) out[i] = ct[i * BX_TOKENS] + (bias ? bias[rb + i] : 0);
        }
    }
}
