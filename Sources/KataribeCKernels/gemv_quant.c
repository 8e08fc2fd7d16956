// y = W·x with Q8 or Q4 weights against int8 activations. vpmaddubsw forms 32 products per
// block, vpmaddwd applies the product of the weight's and the activation's integer block scales
// while widening to int32, and a super-block's eight blocks are summed in int32 before one float
// multiply-add with D·T. Per 32 weights that leaves two multiplies on the integer unit and no
// float work (see docs/benchmarks.md for what that buys on AVX2).
//
// The AVX2 kernels also prefetch each row stream KC_PREFETCH_BYTES ahead (internal.h), one cache
// line at a time: without it the hardware prefetchers of the development machine (AMD Zen, two
// cores) left the int8 loops waiting on memory at about half the bandwidth a plain read reaches
// (q8: 10 → 19.7 GB/s, q4: 6.3 → 12.4 GB/s of codes with two threads; the distance was swept from
// 0.5 to 4 KiB, on 2048- and 8192-column rows). The non-temporal hint was 1.5-2% faster than T0
// in the model's sequence of products.
#include "internal.h"

static void gemv_generic(const kc_qmatrix *m, int q4, long r0, long r1, const kc_qactivations *x,
                         float *y, const float *bias) {
    const int8_t *xq = x->codes;
    const long supers = m->padded / KC_SUPER, blocks = m->padded / KC_BLOCK;
    for (long r = r0; r < r1; r++) {
        const uint8_t *scales = m->block_scales + r * blocks;
        const float *D = m->super_scales + r * supers;
        float total = 0;
        for (long sb = 0; sb < supers; sb++) {
            // One accumulator for the whole super-block (the AVX2 code spreads it over 8 lanes,
            // each far from overflowing); 64 bits keep the single sum exact too.
            int64_t acc = 0;
            for (int b = 0; b < KC_SUBBLOCKS; b++) {
                long block = sb * KC_SUBBLOCKS + b, base = block * KC_BLOCK;
                int32_t dot = 0;
                if (q4) {
                    const uint8_t *pair = (const uint8_t *)m->codes + r * (m->padded / 2) + (block / 2) * 32;
                    int shift = (block & 1) ? 4 : 0;
                    for (int j = 0; j < KC_BLOCK; j++) dot += ((pair[j] >> shift) & 0xf) * xq[base + j];
                    dot -= 8 * x->sums[block];  // codes are stored +8
                    acc += (int64_t)dot * (int8_t)scales[block] * x->block_scales[block];
                } else {
                    const int8_t *codes = (const int8_t *)m->codes + r * m->padded;
                    for (int j = 0; j < KC_BLOCK; j++) dot += codes[base + j] * xq[base + j];
                    acc += (int64_t)dot * scales[block] * x->block_scales[block];
                }
            }
            total += D[sb] * x->super_scales[sb] * (float)acc;
        }
        y[r] = total + (bias ? bias[r] : 0);
    }
}

#if KC_X86

/// Σ over one block of w·x with its scale, as 8 int32 lanes. vpmaddubsw needs one unsigned
/// operand: |w| against x carrying w's sign; |w|, |x| <= 127 keep its int16 pair sums exact.
KC_AVX2 static inline __m256i q8_block(__m256i w, __m256i x, __m256i scale) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)), scale);
}

/// The 8 block multipliers s·t of one super-block, as int16 in memory for vpbroadcastw.
KC_AVX2 static inline void block_multipliers(__m128i s, const int16_t *t, int16_t *out) {
    _mm_storeu_si128((__m128i *)out, _mm_mullo_epi16(s, _mm_loadu_si128((const __m128i *)t)));
}

/// One row at a time, so the codes of a task's rows are read as one linear stream (the 2-row
/// version read two interleaved ones and was 4-6% slower in the model; x stays in L1 either way).
KC_AVX2 static void gemv_q8_avx2(const kc_qmatrix *m, long r0, long r1, const kc_qactivations *xa,
                                 float *y, const float *bias) {
    const int8_t *xq = xa->codes;
    const float *xs = xa->super_scales;
    const long supers = m->padded / KC_SUPER, blocks = m->padded / KC_BLOCK, rowBytes = m->padded;
    for (long r = r0; r < r1; r++) {
        const int8_t *w = (const int8_t *)m->codes + r * rowBytes;
        const uint8_t *s = m->block_scales + r * blocks;
        const float *D = m->super_scales + r * supers;
        __m256 acc = _mm256_setzero_ps();
        for (long sb = 0; sb < supers; sb++) {
            // Block multipliers computed once per super-block, then broadcast from memory per block.
            int16_t c[8];
            block_multipliers(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(s + sb * 8))), xa->block_scales + sb * 8, c);
            __m256i sum = _mm256_setzero_si256();
            for (int b = 0; b < KC_SUBBLOCKS; b++) {
                long o = sb * KC_SUPER + b * KC_BLOCK;
                if ((b & 1) == 0) kc_prefetch_lines(w + o + KC_PREFETCH_BYTES, 64);
                sum = _mm256_add_epi32(sum, q8_block(_mm256_loadu_si256((const __m256i *)(w + o)),
                                                     _mm256_loadu_si256((const __m256i *)(xq + o)), _mm256_set1_epi16(c[b])));
            }
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(D[sb] * xs[sb]), acc);
        }
        y[r] = kc_hsum8(acc) + (bias ? bias[r] : 0);
    }
}

KC_AVX2 static void gemv_q4_avx2(const kc_qmatrix *m, long r0, long r1, const kc_qactivations *xa,
                                 float *y, const float *bias) {
    const int8_t *xq = xa->codes;
    const float *xs = xa->super_scales;
    const long supers = m->padded / KC_SUPER, blocks = m->padded / KC_BLOCK, rowBytes = m->padded / 2;
    const __m256i low = _mm256_set1_epi8(0x0f);
    long r = r0;
    for (; r + 2 <= r1; r += 2) {
        const uint8_t *w0 = (const uint8_t *)m->codes + r * rowBytes, *w1 = w0 + rowBytes;
        const uint8_t *s0 = m->block_scales + r * blocks, *s1 = s0 + blocks;
        const float *D0 = m->super_scales + r * supers, *D1 = D0 + supers;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;
        for (long sb = 0; sb < supers; sb++) {
            __m128i t = _mm_loadu_si128((const __m128i *)(xa->block_scales + sb * 8));
            __m128i scale0 = _mm_mullo_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(s0 + sb * 8))), t);
            __m128i scale1 = _mm_mullo_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(s1 + sb * 8))), t);
            int16_t c0[8], c1[8];
            _mm_storeu_si128((__m128i *)c0, scale0);
            _mm_storeu_si128((__m128i *)c1, scale1);
            // Codes are stored +8: subtract 8·Σ_b s_b·t_b·Σq_b for the whole super-block at once.
            __m128i sums = _mm_loadu_si128((const __m128i *)(xa->sums + sb * 8));
            __m256i i0 = _mm256_inserti128_si256(_mm256_setzero_si256(), _mm_slli_epi32(_mm_madd_epi16(scale0, sums), 3), 0);
            __m256i i1 = _mm256_inserti128_si256(_mm256_setzero_si256(), _mm_slli_epi32(_mm_madd_epi16(scale1, sums), 3), 0);
            i0 = _mm256_sub_epi32(_mm256_setzero_si256(), i0);
            i1 = _mm256_sub_epi32(_mm256_setzero_si256(), i1);
            for (int b = 0; b < KC_SUBBLOCKS; b += 2) {
                long o = sb * KC_SUPER + b * KC_BLOCK, pair = (sb * KC_SUPER + b * KC_BLOCK) / 2;
                if ((b & 3) == 0) {  // 32 code bytes per step: every other step starts a line
                    kc_prefetch_lines(w0 + pair + KC_PREFETCH_BYTES, 64);
                    kc_prefetch_lines(w1 + pair + KC_PREFETCH_BYTES, 64);
                }
                __m256i xe = _mm256_loadu_si256((const __m256i *)(xq + o));
                __m256i xo = _mm256_loadu_si256((const __m256i *)(xq + o + KC_BLOCK));
                __m256i p0 = _mm256_loadu_si256((const __m256i *)(w0 + pair));
                __m256i p1 = _mm256_loadu_si256((const __m256i *)(w1 + pair));
                // Unsigned codes 0...15 go straight into vpmaddubsw; sums stay below 2·15·127.
                __m256i e0 = _mm256_and_si256(p0, low), h0 = _mm256_and_si256(_mm256_srli_epi16(p0, 4), low);
                __m256i e1 = _mm256_and_si256(p1, low), h1 = _mm256_and_si256(_mm256_srli_epi16(p1, 4), low);
                i0 = _mm256_add_epi32(i0, _mm256_madd_epi16(_mm256_maddubs_epi16(e0, xe), _mm256_set1_epi16(c0[b])));
                i0 = _mm256_add_epi32(i0, _mm256_madd_epi16(_mm256_maddubs_epi16(h0, xo), _mm256_set1_epi16(c0[b + 1])));
                i1 = _mm256_add_epi32(i1, _mm256_madd_epi16(_mm256_maddubs_epi16(e1, xe), _mm256_set1_epi16(c1[b])));
                i1 = _mm256_add_epi32(i1, _mm256_madd_epi16(_mm256_maddubs_epi16(h1, xo), _mm256_set1_epi16(c1[b + 1])));
            }
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i0), _mm256_set1_ps(D0[sb] * xs[sb]), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i1), _mm256_set1_ps(D1[sb] * xs[sb]), a1);
        }
        y[r] = kc_hsum8(a0) + (bias ? bias[r] : 0);
        y[r + 1] = kc_hsum8(a1) + (bias ? bias[r + 1] : 0);
    }
    if (r < r1) gemv_generic(m, 1, r, r1, xa, y, bias);
}
#endif

void kc_gemv_q8(const kc_qmatrix *m, long r0, long r1, const kc_qactivations *x, float *y, const float *bias) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { gemv_q8_avx2(m, r0, r1, x, y, bias); return; }
#endif
    gemv_generic(m, 0, r0, r1, x, y, bias);
}

void kc_gemv_q4(const kc_qmatrix *m, long r0, long r1, const kc_qactivations *x, float *y, const float *bias) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { gemv_q4_avx2(m, r0, r1, x, y, bias); return; }
#endif
    gemv_generic(m, 1, r0, r1, x, y, bias);
}
