// The two halves of attention for one head over its KV cache: q·k for every cached position,
// then the probability-weighted sum of values. Keys and values may be float16 to halve the
// bytes each generated token reads at long contexts.
#include "internal.h"

static void scores_generic(const float *q, const void *keys, int kv_f16, long dim, long count, float scale, float *scores) {
    for (long j = 0; j < count; j++) {
        float s = 0;
        if (kv_f16) {
            const uint16_t *k = (const uint16_t *)keys + j * dim;
            for (long c = 0; c < dim; c++) s += q[c] * kc_half_to_float(k[c]);
        } else {
            const float *k = (const float *)keys + j * dim;
            for (long c = 0; c < dim; c++) s += q[c] * k[c];
        }
        scores[j] = s * scale;
    }
}

static void values_generic(const float *p, const void *values, int kv_f16, long dim, long count, float *out, int accumulate) {
    if (!accumulate) for (long c = 0; c < dim; c++) out[c] = 0;
    for (long j = 0; j < count; j++) {
        if (kv_f16) {
            const uint16_t *v = (const uint16_t *)values + j * dim;
            for (long c = 0; c < dim; c++) out[c] += p[j] * kc_half_to_float(v[c]);
        } else {
            const float *v = (const float *)values + j * dim;
            for (long c = 0; c < dim; c++) out[c] += p[j] * v[c];
        }
    }
}

#if KC_X86
KC_AVX2 static inline __m256 load8(const void *base, int kv_f16, long index) {
    if (kv_f16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + index)));
    return _mm256_loadu_ps((const float *)base + index);
}

KC_AVX2 static void scores_avx2(const float *q, const void *keys, int kv_f16, long dim, long count, float scale, float *scores) {
    const long rowBytes = dim * (kv_f16 ? 2 : 4), ahead = (KC_PREFETCH_BYTES + rowBytes - 1) / rowBytes;
    for (long j = 0; j < count; j++) {
        kc_prefetch_lines((const char *)keys + (j + ahead) * rowBytes, rowBytes);
        __m256 a = _mm256_setzero_ps(), b = a;
        long c = 0, row = j * dim;
        for (; c + 16 <= dim; c += 16) {
            a = _mm256_fmadd_ps(_mm256_loadu_ps(q + c), load8(keys, kv_f16, row + c), a);
            b = _mm256_fmadd_ps(_mm256_loadu_ps(q + c + 8), load8(keys, kv_f16, row + c + 8), b);
        }
        for (; c + 8 <= dim; c += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + c), load8(keys, kv_f16, row + c), a);
        a = _mm256_add_ps(a, b);
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        float total = _mm_cvtss_f32(s);
        for (; c < dim; c++) {
            float k = kv_f16 ? kc_half_to_float(((const uint16_t *)keys)[row + c]) : ((const float *)keys)[row + c];
            total += q[c] * k;
        }
        scores[j] = total * scale;
    }
}

KC_AVX2 static void values_avx2(const float *p, const void *values, int kv_f16, long dim, long count, float *out, int accumulate) {
    // 64 output columns at a time stay in 8 registers while a run of cached positions streams by;
    // the runs are short enough (8 KiB of float16 rows) that the other column passes over the
    // same run find it in L1, so every row comes from memory once. Per output column the sum
    // still runs over j in order.
    enum { POSITIONS_PER_RUN = 32 };
    const long element = kv_f16 ? 2 : 4, rowBytes = dim * element;
    const long ahead = (KC_PREFETCH_BYTES + rowBytes - 1) / rowBytes;
    if (!accumulate) for (long c = 0; c < dim; c++) out[c] = 0;
    for (long j0 = 0; j0 < count; j0 += POSITIONS_PER_RUN) {
        const long j1 = j0 + POSITIONS_PER_RUN < count ? j0 + POSITIONS_PER_RUN : count;
        long c = 0;
        for (; c + 64 <= dim; c += 64) {
            __m256 a0 = _mm256_loadu_ps(out + c), a1 = _mm256_loadu_ps(out + c + 8);
            __m256 a2 = _mm256_loadu_ps(out + c + 16), a3 = _mm256_loadu_ps(out + c + 24);
            __m256 a4 = _mm256_loadu_ps(out + c + 32), a5 = _mm256_loadu_ps(out + c + 40);
            __m256 a6 = _mm256_loadu_ps(out + c + 48), a7 = _mm256_loadu_ps(out + c + 56);
            for (long j = j0; j < j1; j++) {
                if (c == 0) kc_prefetch_lines((const char *)values + (j + ahead) * rowBytes, rowBytes);
                __m256 w = _mm256_broadcast_ss(p + j);
                long row = j * dim + c;
                a0 = _mm256_fmadd_ps(w, load8(values, kv_f16, row), a0);
                a1 = _mm256_fmadd_ps(w, load8(values, kv_f16, row + 8), a1);
                a2 = _mm256_fmadd_ps(w, load8(values, kv_f16, row + 16), a2);
                a3 = _mm256_fmadd_ps(w, load8(values, kv_f16, row + 24), a3);
                a4 = _mm256_fmadd_ps(w, load8(values, kv_f16, row + 32), a4);
                a5 = _mm256_fmadd_ps(w, load8(values, kv_f16, row + 40), a5);
                a6 = _mm256_fmadd_ps(w, load8(values, kv_f16, row + 48), a6);
                a7 = _mm256_fmadd_ps(w, load8(values, kv_f16, row + 56), a7);
            }
            _mm256_storeu_ps(out + c, a0); _mm256_storeu_ps(out + c + 8, a1);
            _mm256_storeu_ps(out + c + 16, a2); _mm256_storeu_ps(out + c + 24, a3);
            _mm256_storeu_ps(out + c + 32, a4); _mm256_storeu_ps(out + c + 40, a5);
            _mm256_storeu_ps(out + c + 48, a6); _mm256_storeu_ps(out + c + 56, a7);
        }
        for (; c + 8 <= dim; c += 8) {
            __m256 a = _mm256_loadu_ps(out + c);
            for (long j = j0; j < j1; j++) a = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), load8(values, kv_f16, j * dim + c), a);
            _mm256_storeu_ps(out + c, a);
        }
        for (; c < dim; c++) {
            float s = out[c];
            for (long j = j0; j < j1; j++) {
                float v = kv_f16 ? kc_half_to_float(((const uint16_t *)values)[j * dim + c]) : ((const float *)values)[j * dim + c];
                s += p[j] * v;
            }
            out[c] = s;
        }
    }
}

KC_AVX2 static void f32_to_f16_avx2(const float *x, uint16_t *out, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128((__m128i *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++) out[i] = kc_float_to_half(x[i]);
}

KC_AVX2 static void f16_to_f32_avx2(const uint16_t *x, float *out, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) out[i] = kc_half_to_float(x[i]);
}
#endif

void kc_attention_scores(const float *q, const void *keys, int kv_f16, long dim, long count, float scale, float *scores) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { scores_avx2(q, keys, kv_f16, dim, count, scale, scores); return; }
#endif
    scores_generic(q, keys, kv_f16, dim, count, scale, scores);
}

void kc_attention_values(const float *p, const void *values, int kv_f16, long dim, long count, float *out, int accumulate) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { values_avx2(p, values, kv_f16, dim, count, out, accumulate); return; }
#endif
    values_generic(p, values, kv_f16, dim, count, out, accumulate);
}

void kc_f32_to_f16(const float *x, uint16_t *out, long n) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { f32_to_f16_avx2(x, out, n); return; }
#endif
    for (long i = 0; i < n; i++) out[i] = kc_float_to_half(x[i]);
}

void kc_f16_to_f32(const uint16_t *x, float *out, long n) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { f16_to_f32_avx2(x, out, n); return; }
#endif
    for (long i = 0; i < n; i++) out[i] = kc_half_to_float(x[i]);
}
