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
#include <stdlib.h>

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

/// A vpermw index vector: int16 element e takes multiplier `first` for e < 16, `second` after,
/// so one 512-bit product covers two 32-code blocks with their own multipliers.
KC_AVX512 static inline __m512i block_pair_pick(int first, int second) {
    int16_t index[32];
    for (int e = 0; e < 32; e++) index[e] = (int16_t)(e < 16 ? first : second);
    return _mm512_loadu_si512(index);
}

/// Q4 rows with 512-bit registers and VNNI, bit-identical to gemv_q4_avx2: every int32 lane j of
/// a super-block still sums s·t·(u·x over bytes 4j..4j+3) of each of its eight blocks, and the
/// same −8·Σ s·t·Σx correction lands in lanes 0-3, so after the two 256-bit halves are added the
/// float work is the AVX2 kernel's, operation for operation. 64 code bytes hold blocks 4c...4c+3
/// (low nibbles: 4c and 4c+2, high: 4c+1 and 4c+3), so the activations are first regrouped in
/// that order (`xp`, once per call) and each nibble vector meets one contiguous 64-byte load;
/// vpdpwssd fuses the AVX2 kernel's vpmaddwd + vpaddd.
KC_AVX512 static void gemv_q4_avx512(const kc_qmatrix *m, long r0, long r1, const kc_qactivations *xa,
                                     const int8_t *xp, float *y, const float *bias) {
    const float *xs = xa->super_scales;
    const long supers = m->padded / KC_SUPER, blocks = m->padded / KC_BLOCK, rowBytes = m->padded / 2;
    const __m512i low = _mm512_set1_epi8(0x0f);
    // Multipliers of the nibble vectors: (low, high) of chunk 0 use blocks (0, 2) and (1, 3), of
    // chunk 1 (4, 6) and (5, 7); int16 element e takes the first block for e < 16.
    __m512i pick[4];
    for (int v = 0; v < 4; v++) {
        int first = (v >> 1) * 4 + (v & 1);
        pick[v] = block_pair_pick(first, first + 2);
    }
    for (long r = r0; r < r1; r++) {
        const uint8_t *w = (const uint8_t *)m->codes + r * rowBytes;
        const uint8_t *s = m->block_scales + r * blocks;
        const float *D = m->super_scales + r * supers;
        __m256 acc = _mm256_setzero_ps();
        for (long sb = 0; sb < supers; sb++) {
            const uint8_t *ws = w + sb * (KC_SUPER / 2);
            kc_prefetch_lines(ws + KC_PREFETCH_BYTES, KC_SUPER / 2);
            const __m128i scale = _mm_mullo_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(s + sb * 8))),
                                                  _mm_loadu_si128((const __m128i *)(xa->block_scales + sb * 8)));
            const __m128i offset = _mm_slli_epi32(_mm_madd_epi16(scale, _mm_loadu_si128((const __m128i *)(xa->sums + sb * 8))), 3);
            __m512i sum = _mm512_zextsi128_si512(_mm_sub_epi32(_mm_setzero_si128(), offset));
            const __m512i c = _mm512_castsi128_si512(scale);
            const int8_t *xg = xp + sb * KC_SUPER;
            for (int k = 0; k < 2; k++) {
                __m512i codes = _mm512_loadu_si512(ws + 64 * k);
                __m512i even = _mm512_and_si512(codes, low), odd = _mm512_and_si512(_mm512_srli_epi16(codes, 4), low);
                sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(even, _mm512_loadu_si512(xg + 128 * k)),
                                          _mm512_permutexvar_epi16(pick[2 * k], c));
                sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(odd, _mm512_loadu_si512(xg + 128 * k + 64)),
                                          _mm512_permutexvar_epi16(pick[2 * k + 1], c));
            }
            __m256i lanes = _mm256_add_epi32(_mm512_castsi512_si256(sum), _mm512_extracti64x4_epi64(sum, 1));
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), _mm256_set1_ps(D[sb] * xs[sb]), acc);
        }
        y[r] = kc_hsum8(acc) + (bias ? bias[r] : 0);
    }
}

void kc_q4_regroup(const int8_t *x, long n, int8_t *out) {
    for (long g = 0; g < n; g += 4 * KC_BLOCK) {
        memcpy(out + g, x + g, KC_BLOCK);
        memcpy(out + g + KC_BLOCK, x + g + 2 * KC_BLOCK, KC_BLOCK);
        memcpy(out + g + 2 * KC_BLOCK, x + g + KC_BLOCK, KC_BLOCK);
        memcpy(out + g + 3 * KC_BLOCK, x + g + 3 * KC_BLOCK, KC_BLOCK);
    }
}

/// The AVX2 kernel's arithmetic against n activation vectors, each row's blocks loaded and their
/// magnitudes taken once for all of them (the same lanes and operations, so the same bits).
KC_AVX2 static void gemv_q8_batch_avx2(const kc_qmatrix *m, long r0, long r1, const kc_qactivations *xa, long n,
                                      float *y, long y_stride, const float *bias) {
    enum { GROUP = 16 };
    const long supers = m->padded / KC_SUPER, blocks = m->padded / KC_BLOCK, rowBytes = m->padded;
    const long prefetch = KC_PREFETCH_BYTES * (n < 4 ? 1 : 4);
    for (long b0 = 0; b0 < n; b0 += GROUP) {
        const long count = n - b0 < GROUP ? n - b0 : GROUP;
        for (long r = r0; r < r1; r++) {
            const int8_t *w = (const int8_t *)m->codes + r * rowBytes;
            const uint8_t *s = m->block_scales + r * blocks;
            const float *D = m->super_scales + r * supers;
            __m256 acc[GROUP];
            for (long j = 0; j < count; j++) acc[j] = _mm256_setzero_ps();
            for (long sb = 0; sb < supers; sb++) {
                const int8_t *ws = w + sb * KC_SUPER;
                kc_prefetch_lines(ws + prefetch, KC_SUPER);
                __m256i magnitude[KC_SUBBLOCKS];
                for (int b = 0; b < KC_SUBBLOCKS; b++) {
                    __m256i v = _mm256_loadu_si256((const __m256i *)(ws + b * KC_BLOCK));
                    magnitude[b] = _mm256_sign_epi8(v, v);
                }
                const __m128i scales = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(s + sb * 8)));
                for (long j = 0; j < count; j++) {
                    const kc_qactivations *x = xa + b0 + j;
                    int16_t c[8];
                    block_multipliers(scales, x->block_scales + sb * 8, c);
                    const int8_t *xs = x->codes + sb * KC_SUPER;
                    __m256i sum = _mm256_setzero_si256();
                    for (int b = 0; b < KC_SUBBLOCKS; b++) {
                        __m256i v = _mm256_loadu_si256((const __m256i *)(xs + b * KC_BLOCK));
                        __m256i signs = _mm256_loadu_si256((const __m256i *)(ws + b * KC_BLOCK));
                        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude[b], _mm256_sign_epi8(v, signs)),
                                                                      _mm256_set1_epi16(c[b])));
                    }
                    acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_set1_ps(D[sb] * x->super_scales[sb]), acc[j]);
                }
            }
            for (long j = 0; j < count; j++) y[(b0 + j) * y_stride + r] = kc_hsum8(acc[j]) + (bias ? bias[r] : 0);
        }
    }
}

/// Q8 rows against n activation vectors at once, each row's weights read once for all of them:
/// batched decoding. AVX-512 does two blocks per instruction, takes |w| and w's signs once per
/// row for every activation, and fuses vpmaddwd + vpaddd into VNNI's vpdpwssd. It gives exactly
/// the AVX2 kernel's bits: every int32 lane j of a super-block still sums s·t·(w·x over bytes
/// 4j..4j+3) over its eight blocks (integer sums are exact in any order, and wrap alike), and the
/// float work per super-block and the final sum are the same operations in the same order.
KC_AVX512 static void gemv_q8_batch_avx512(const kc_qmatrix *m, long r0, long r1, const kc_qactivations *xa, long n,
                                          float *y, long y_stride, const float *bias) {
    enum { GROUP = 16 };
    // Each super-block now takes many times the one-row kernel's work, so the stream is fetched
    // further ahead for memory latency to stay hidden (swept on the development machine: see
    // docs/benchmarks.md).
    const long BATCH_PREFETCH_BYTES = KC_PREFETCH_BYTES * (n < 4 ? 1 : 4);
    const long supers = m->padded / KC_SUPER, blocks = m->padded / KC_BLOCK, rowBytes = m->padded;
    // For block pair k: int16 element e of the multiplier vector is c[2k] (e < 16) or c[2k + 1].
    __m512i pick[4];
    for (int k = 0; k < 4; k++) pick[k] = block_pair_pick(2 * k, 2 * k + 1);
    const __m512i zero = _mm512_setzero_si512();
    for (long b0 = 0; b0 < n; b0 += GROUP) {
        const long count = n - b0 < GROUP ? n - b0 : GROUP;
        for (long r = r0; r < r1; r++) {
            const int8_t *w = (const int8_t *)m->codes + r * rowBytes;
            const uint8_t *s = m->block_scales + r * blocks;
            const float *D = m->super_scales + r * supers;
            __m256 acc[GROUP];
            for (long j = 0; j < count; j++) acc[j] = _mm256_setzero_ps();
            for (long sb = 0; sb < supers; sb++) {
                const int8_t *ws = w + sb * KC_SUPER;
                kc_prefetch_lines(ws + BATCH_PREFETCH_BYTES, KC_SUPER);
                __m512i magnitude[4];
                __mmask64 negative[4];
                for (int k = 0; k < 4; k++) {
                    __m512i v = _mm512_loadu_si512(ws + 64 * k);
                    negative[k] = _mm512_movepi8_mask(v);
                    magnitude[k] = _mm512_abs_epi8(v);
                }
                const __m128i scales = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(s + sb * 8)));
                for (long j = 0; j < count; j++) {
                    const kc_qactivations *x = xa + b0 + j;
                    const __m512i c = _mm512_castsi128_si512(
                        _mm_mullo_epi16(scales, _mm_loadu_si128((const __m128i *)(x->block_scales + sb * 8))));
                    const int8_t *xs = x->codes + sb * KC_SUPER;
                    __m512i sum = zero;
                    for (int k = 0; k < 4; k++) {
                        __m512i v = _mm512_loadu_si512(xs + 64 * k);
                        __m512i signed_x = _mm512_mask_sub_epi8(v, negative[k], zero, v);
                        sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(magnitude[k], signed_x), _mm512_permutexvar_epi16(pick[k], c));
                    }
                    __m256i lanes = _mm256_add_epi32(_mm512_castsi512_si256(sum), _mm512_extracti64x4_epi64(sum, 1));
                    acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), _mm256_set1_ps(D[sb] * x->super_scales[sb]), acc[j]);
                }
            }
            for (long j = 0; j < count; j++) y[(b0 + j) * y_stride + r] = kc_hsum8(acc[j]) + (bias ? bias[r] : 0);
        }
    }
}
#endif

void kc_gemv_q8_batch(const kc_qmatrix *m, long r0, long r1, const kc_qactivations *x, long n, float *y, long y_stride,
                      const float *bias) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX512) { gemv_q8_batch_avx512(m, r0, r1, x, n, y, y_stride, bias); return; }
    if (kc_isa() >= KC_ISA_AVX2) { gemv_q8_batch_avx2(m, r0, r1, x, n, y, y_stride, bias); return; }
#endif
    // The portable kernel runs per activation over a few rows at a time, which then come from
    // L1 for the others.
    for (long t0 = r0; t0 < r1; t0 += 4) {
        long t1 = t0 + 4 < r1 ? t0 + 4 : r1;
        for (long b = 0; b < n; b++) kc_gemv_q8(m, t0, t1, x + b, y + b * y_stride, bias);
    }
}

void kc_gemv_q8(const kc_qmatrix *m, long r0, long r1, const kc_qactivations *x, float *y, const float *bias) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { gemv_q8_avx2(m, r0, r1, x, y, bias); return; }
#endif
    gemv_generic(m, 0, r0, r1, x, y, bias);
}

void kc_gemv_q4(const kc_qmatrix *m, long r0, long r1, const kc_qactivations *x, float *y, const float *bias) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX512) {
        // Activations quantized with a q4_codes buffer come regrouped once per product; others
        // are regrouped here (a few KiB: on the stack below 64 KiB of columns, else the heap).
        if (x->q4_codes) { gemv_q4_avx512(m, r0, r1, x, x->q4_codes, y, bias); return; }
        enum { STACK_BYTES = 1 << 16 };
        int8_t local[STACK_BYTES] __attribute__((aligned(64)));
        int8_t *xp = m->padded <= STACK_BYTES ? local : malloc((size_t)m->padded);
        if (xp) {
            kc_q4_regroup(x->codes, m->padded, xp);
            gemv_q4_avx512(m, r0, r1, x, xp, y, bias);
            if (xp != local) free(xp);
            return;
        }
    }
    if (kc_isa() >= KC_ISA_AVX2) { gemv_q4_avx2(m, r0, r1, x, y, bias); return; }
#endif
    gemv_generic(m, 1, r0, r1, x, y, bias);
}
