// Prompt processing: Y = X·Wᵀ for a batch of tokens. The weights are widened to float32 a few
// rows and 256 columns at a time into a buffer that stays in L1, then a 6-row × 16-token
// register tile of FMAs runs over it (12 accumulators hide the FMA latency). Every weight is read
// from memory once per call, every multiply is a float32 FMA, whatever the stored dtype.
#include "internal.h"

static void pack_group_generic(const float *x, long tokens, long cols, float *out) {
    for (int t = 0; t < KC_GEMM_TOKENS; t++) {
        if (t < tokens) {
            const float *row = x + t * cols;
            for (long k = 0; k < cols; k++) out[k * KC_GEMM_TOKENS + t] = row[k];
        } else {
            for (long k = 0; k < cols; k++) out[k * KC_GEMM_TOKENS + t] = 0;
        }
    }
}

#if KC_X86
/// o[j] = (v[0][j], ..., v[7][j]): an 8 × 8 transpose in registers.
KC_AVX2 static inline void transpose8(__m256 v[8]) {
    __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
    __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
    __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
    __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
    // s_j holds columns j and j + 4 of four tokens
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    v[0] = _mm256_permute2f128_ps(s0, s4, 0x20); v[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    v[1] = _mm256_permute2f128_ps(s1, s5, 0x20); v[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    v[2] = _mm256_permute2f128_ps(s2, s6, 0x20); v[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    v[3] = _mm256_permute2f128_ps(s3, s7, 0x20); v[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Packing was a strided scalar copy that the calling thread ran alone while the workers waited:
// 10% of a 128-token gemma-3-270m prompt. Eight columns of eight tokens now move as one
// register transpose.
KC_AVX2 static void pack_group_avx2(const float *x, long cols, float *out) {
    long k = 0;
    for (; k + 8 <= cols; k += 8) {
        __m256 v[8];
        for (int t = 0; t < 8; t++) v[t] = _mm256_loadu_ps(x + t * cols + k);
        transpose8(v);
        for (int j = 0; j < 8; j++) _mm256_storeu_ps(out + (k + j) * KC_GEMM_TOKENS, v[j]);
    }
    for (; k < cols; k++) {
        for (int t = 0; t < 8; t++) out[k * KC_GEMM_TOKENS + t] = x[t * cols + k];
    }
}
#endif

void kc_gemm_pack_x(const float *x, long n, long cols, float *xp) {
    long groups = (n + KC_GEMM_TOKENS - 1) / KC_GEMM_TOKENS;
    for (long g = 0; g < groups; g++) {
        const float *first = x + g * KC_GEMM_TOKENS * cols;
        float *out = xp + g * cols * KC_GEMM_TOKENS;
        long tokens = kc_min(KC_GEMM_TOKENS, n - g * KC_GEMM_TOKENS);
#if KC_X86
        if (tokens == KC_GEMM_TOKENS && kc_isa() >= KC_ISA_AVX2) { pack_group_avx2(first, cols, out); continue; }
#endif
        pack_group_generic(first, tokens, cols, out);
    }
}

// MARK: Widening weight rows

static void row_generic(const kc_weights *w, long r, long k0, long count, float *out) {
    const char *row = (const char *)w->data + r * w->row_bytes;
    switch (w->dtype) {
    case KC_W_F32: memcpy(out, (const float *)row + k0, (size_t)count * 4); break;
    case KC_W_F16: for (long i = 0; i < count; i++) out[i] = kc_half_to_float(((const uint16_t *)row)[k0 + i]); break;
    case KC_W_BF16: for (long i = 0; i < count; i++) out[i] = kc_bf16_to_float(((const uint16_t *)row)[k0 + i]); break;
    case KC_W_Q8: kc_dequantize_q8(&w->quantized, r, k0, count, out); break;
    case KC_W_Q4: kc_dequantize_q4(&w->quantized, r, k0, count, out); break;
    case KC_W_GGML: {
        // k0 is a multiple of 256, so it starts a block of either size.
        long first_block = k0 / kc_ggml_block_size(w->ggml_type);
        kc_ggml_dequantize_row(w->ggml_type, row + first_block * kc_ggml_block_bytes(w->ggml_type), count, out);
        break;
    }
    }
}

#if KC_X86
KC_AVX2 static void row_avx2(const kc_weights *w, long r, long k0, long count, float *out) {
    const char *row = (const char *)w->data + r * w->row_bytes;
    long i = 0;
    switch (w->dtype) {
    case KC_W_F16: {
        const uint16_t *p = (const uint16_t *)row + k0;
        for (; i + 8 <= count; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + i))));
        for (; i < count; i++) out[i] = kc_half_to_float(p[i]);
        return;
    }
    case KC_W_BF16: {
        const uint16_t *p = (const uint16_t *)row + k0;
        for (; i + 8 <= count; i += 8) {
            __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + i)));
            _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16)));
        }
        for (; i < count; i++) out[i] = kc_bf16_to_float(p[i]);
        return;
    }
    case KC_W_Q8: kc_dequantize_q8(&w->quantized, r, k0, count, out); return;
    case KC_W_Q4: kc_dequantize_q4(&w->quantized, r, k0, count, out); return;
    default: break;  // F32 copies; GGML: kc_ggml_dequantize_row dispatches to its AVX2 version
    }
    row_generic(w, r, k0, count, out);
}
#endif

void kc_weights_row(const kc_weights *w, long r, long k0, long count, float *out) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { row_avx2(w, r, k0, count, out); return; }
#endif
    row_generic(w, r, k0, count, out);
}

// MARK: Micro-kernels: c[i][t] += Σ_k w[i][k] · xp[k][t] for 6 rows i and one or two 8-token groups

static void micro_generic(const float *xa, const float *xb, const float *w, long kc, float *ca, float *cb) {
    for (int i = 0; i < KC_GEMM_ROWS; i++) {
        const float *wi = w + i * KC_GEMM_KC;
        for (int t = 0; t < KC_GEMM_TOKENS; t++) {
            float sa = 0, sb = 0;
            for (long k = 0; k < kc; k++) {
                sa += wi[k] * xa[k * KC_GEMM_TOKENS + t];
                if (xb) sb += wi[k] * xb[k * KC_GEMM_TOKENS + t];
            }
            ca[i * KC_GEMM_TOKENS + t] += sa;
            if (cb) cb[i * KC_GEMM_TOKENS + t] += sb;
        }
    }
}

#if KC_X86
KC_AVX2 static void micro_avx2_pair(const float *xa, const float *xb, const float *w, long kc, float *ca, float *cb) {
    __m256 a0 = _mm256_loadu_ps(ca), a1 = _mm256_loadu_ps(ca + 8), a2 = _mm256_loadu_ps(ca + 16);
    __m256 a3 = _mm256_loadu_ps(ca + 24), a4 = _mm256_loadu_ps(ca + 32), a5 = _mm256_loadu_ps(ca + 40);
    __m256 b0 = _mm256_loadu_ps(cb), b1 = _mm256_loadu_ps(cb + 8), b2 = _mm256_loadu_ps(cb + 16);
    __m256 b3 = _mm256_loadu_ps(cb + 24), b4 = _mm256_loadu_ps(cb + 32), b5 = _mm256_loadu_ps(cb + 40);
    const float *w0 = w, *w1 = w + KC_GEMM_KC, *w2 = w1 + KC_GEMM_KC, *w3 = w2 + KC_GEMM_KC;
    const float *w4 = w3 + KC_GEMM_KC, *w5 = w4 + KC_GEMM_KC;
    for (long k = 0; k < kc; k++) {
        __m256 xva = _mm256_loadu_ps(xa + k * KC_GEMM_TOKENS), xvb = _mm256_loadu_ps(xb + k * KC_GEMM_TOKENS);
        __m256 v = _mm256_broadcast_ss(w0 + k);
        a0 = _mm256_fmadd_ps(v, xva, a0); b0 = _mm256_fmadd_ps(v, xvb, b0);
        v = _mm256_broadcast_ss(w1 + k);
        a1 = _mm256_fmadd_ps(v, xva, a1); b1 = _mm256_fmadd_ps(v, xvb, b1);
        v = _mm256_broadcast_ss(w2 + k);
        a2 = _mm256_fmadd_ps(v, xva, a2); b2 = _mm256_fmadd_ps(v, xvb, b2);
        v = _mm256_broadcast_ss(w3 + k);
        a3 = _mm256_fmadd_ps(v, xva, a3); b3 = _mm256_fmadd_ps(v, xvb, b3);
        v = _mm256_broadcast_ss(w4 + k);
        a4 = _mm256_fmadd_ps(v, xva, a4); b4 = _mm256_fmadd_ps(v, xvb, b4);
        v = _mm256_broadcast_ss(w5 + k);
        a5 = _mm256_fmadd_ps(v, xva, a5); b5 = _mm256_fmadd_ps(v, xvb, b5);
    }
    _mm256_storeu_ps(ca, a0); _mm256_storeu_ps(ca + 8, a1); _mm256_storeu_ps(ca + 16, a2);
    _mm256_storeu_ps(ca + 24, a3); _mm256_storeu_ps(ca + 32, a4); _mm256_storeu_ps(ca + 40, a5);
    _mm256_storeu_ps(cb, b0); _mm256_storeu_ps(cb + 8, b1); _mm256_storeu_ps(cb + 16, b2);
    _mm256_storeu_ps(cb + 24, b3); _mm256_storeu_ps(cb + 32, b4); _mm256_storeu_ps(cb + 40, b5);
}

KC_AVX2 static void micro_avx2_single(const float *xa, const float *w, long kc, float *ca) {
    __m256 a0 = _mm256_loadu_ps(ca), a1 = _mm256_loadu_ps(ca + 8), a2 = _mm256_loadu_ps(ca + 16);
    __m256 a3 = _mm256_loadu_ps(ca + 24), a4 = _mm256_loadu_ps(ca + 32), a5 = _mm256_loadu_ps(ca + 40);
    const float *w0 = w, *w1 = w + KC_GEMM_KC, *w2 = w1 + KC_GEMM_KC, *w3 = w2 + KC_GEMM_KC;
    const float *w4 = w3 + KC_GEMM_KC, *w5 = w4 + KC_GEMM_KC;
    for (long k = 0; k < kc; k++) {
        __m256 xva = _mm256_loadu_ps(xa + k * KC_GEMM_TOKENS);
        a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w0 + k), xva, a0);
        a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(w1 + k), xva, a1);
        a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(w2 + k), xva, a2);
        a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(w3 + k), xva, a3);
        a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(w4 + k), xva, a4);
        a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(w5 + k), xva, a5);
    }
    _mm256_storeu_ps(ca, a0); _mm256_storeu_ps(ca + 8, a1); _mm256_storeu_ps(ca + 16, a2);
    _mm256_storeu_ps(ca + 24, a3); _mm256_storeu_ps(ca + 32, a4); _mm256_storeu_ps(ca + 40, a5);
}
#endif

static void micro(const float *xa, const float *xb, const float *w, long kc, float *ca, float *cb) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) {
        if (xb) micro_avx2_pair(xa, xb, w, kc, ca, cb); else micro_avx2_single(xa, w, kc, ca);
        return;
    }
#endif
    micro_generic(xa, xb, w, kc, ca, cb);
}

/// Bytes of row r from column k0 to k0 + count as stored (dense, GGML blocks or Q8/Q4 codes).
static void stored_span(const kc_weights *w, long r, long k0, long count, const char **start, long *bytes) {
    switch (w->dtype) {
    case KC_W_F32: *start = (const char *)w->data + r * w->row_bytes + k0 * 4; *bytes = count * 4; return;
    case KC_W_F16: case KC_W_BF16: *start = (const char *)w->data + r * w->row_bytes + k0 * 2; *bytes = count * 2; return;
    case KC_W_Q8: *start = (const char *)w->quantized.codes + r * w->quantized.padded + k0; *bytes = count; return;
    case KC_W_Q4: *start = (const char *)w->quantized.codes + r * (w->quantized.padded / 2) + k0 / 2; *bytes = count / 2; return;
    default: {
        const long bs = kc_ggml_block_size(w->ggml_type), bb = kc_ggml_block_bytes(w->ggml_type);
        *start = (const char *)w->data + r * w->row_bytes + k0 / bs * bb;
        *bytes = (count + bs - 1) / bs * bb;
        return;
    }
    }
}

/// Asks for what the next widening reads (the rows' next chunk, or the next rows' first) while
/// the micro-kernels run: six short streams, which the hardware prefetchers follow late.
static void prefetch_next_chunk(const kc_weights *w, long rb, long rows, long k0, long r1) {
    long next = k0 + KC_GEMM_KC, first = rb;
    if (next >= w->cols) {
        next = 0;
        first = rb + KC_GEMM_ROWS;
        rows = kc_min(KC_GEMM_ROWS, r1 - first);
    }
    for (long i = 0; i < rows; i++) {
        const char *start;
        long bytes;
        stored_span(w, first + i, next, kc_min(KC_GEMM_KC, w->cols - next), &start, &bytes);
        kc_prefetch_lines_t0(start, bytes);
    }
}

void kc_gemm_rows(const kc_weights *w, long r0, long r1, const float *xp, long n,
                  float *y, long ldy, const float *bias, float *scratch) {
    const long cols = w->cols, groups = (n + KC_GEMM_TOKENS - 1) / KC_GEMM_TOKENS;
    const long tile = KC_GEMM_ROWS * KC_GEMM_TOKENS;
    float *wide = scratch, *c = scratch + KC_GEMM_ROWS * KC_GEMM_KC;
    for (long rb = r0; rb < r1; rb += KC_GEMM_ROWS) {
        long rows = kc_min(KC_GEMM_ROWS, r1 - rb);
        memset(c, 0, sizeof(float) * (size_t)(groups * tile));
        for (long k0 = 0; k0 < cols; k0 += KC_GEMM_KC) {
            long kc = kc_min(KC_GEMM_KC, cols - k0);
            for (long i = 0; i < KC_GEMM_ROWS; i++) {
                // Short row blocks repeat their first row; those results are never stored.
                kc_weights_row(w, rb + (i < rows ? i : 0), k0, kc, wide + i * KC_GEMM_KC);
            }
            prefetch_next_chunk(w, rb, rows, k0, r1);
            long g = 0;
            for (; g + 2 <= groups; g += 2) {
                micro(xp + g * cols * KC_GEMM_TOKENS + k0 * KC_GEMM_TOKENS,
                      xp + (g + 1) * cols * KC_GEMM_TOKENS + k0 * KC_GEMM_TOKENS, wide, kc, c + g * tile, c + (g + 1) * tile);
            }
            if (g < groups) micro(xp + g * cols * KC_GEMM_TOKENS + k0 * KC_GEMM_TOKENS, NULL, wide, kc, c + g * tile, NULL);
        }
        for (long g = 0; g < groups; g++) {
            for (long t = 0; t < KC_GEMM_TOKENS && g * KC_GEMM_TOKENS + t < n; t++) {
                float *out = y + (g * KC_GEMM_TOKENS + t) * ldy + rb;
                for (long i = 0; i < rows; i++) out[i] = c[g * tile + i * KC_GEMM_TOKENS + t] + (bias ? bias[rb + i] : 0);
            }
        }
    }
}
