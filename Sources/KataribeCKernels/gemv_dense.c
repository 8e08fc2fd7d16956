// y = W·x for one token with float32, float16 or bfloat16 weights. Decoding is bound by how fast
// the weights stream from memory. Float32 rows are read four at once (four independent streams
// keep the hardware prefetchers busy and every load of x serves all four). Float16 and bfloat16
// rows are read one at a time with a software prefetch instead: on the development machine
// (AMD Zen, two cores) that was 20-25% faster for them in the model (f16 6.6 → 8.1 tok/s on the
// open-calm-1b shape), and 10% slower for float32, which already streamed at the read limit.
// Rows wider than 4096 columns go back to four at once on AVX-512 machines (KC_PREFETCH_FOUR_ROWS says why).
#include "internal.h"

typedef float (*load1_fn)(const void *row, long k);

static float load_f32(const void *row, long k) { return ((const float *)row)[k]; }
static float load_f16(const void *row, long k) { return kc_half_to_float(((const uint16_t *)row)[k]); }
static float load_bf16(const void *row, long k) { return kc_bf16_to_float(((const uint16_t *)row)[k]); }

static void gemv_generic(const void *w, long row_bytes, long cols, long r0, long r1, const float *x, float *y,
                         const float *bias, load1_fn load) {
    for (long r = r0; r < r1; r++) {
        const char *row = (const char *)w + r * row_bytes;
        float sum = 0;
        for (long k = 0; k < cols; k++) sum += load(row, k) * x[k];
        y[r] = sum + (bias ? bias[r] : 0);
    }
}

#if KC_X86

// One macro body per dtype: LOAD8(p, k) widens 8 weights at column k of row pointer p.
#define KC_GEMV_BODY(T, LOAD8, LOAD1, PREFETCH)                                                  \
    long r = r0;                                                                                 \
    for (; r + 4 <= r1; r += 4) {                                                                \
        const T *w0 = w + r * cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;           \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                              \
        __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;                                               \
        long k = 0;                                                                              \
        for (; k + 16 <= cols; k += 16) {                                                        \
            PREFETCH(k)                                                                          \
            __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);                 \
            a0 = _mm256_fmadd_ps(LOAD8(w0, k), x0, a0);                                          \
            a1 = _mm256_fmadd_ps(LOAD8(w1, k), x0, a1);                                          \
            a2 = _mm256_fmadd_ps(LOAD8(w2, k), x0, a2);                                          \
            a3 = _mm256_fmadd_ps(LOAD8(w3, k), x0, a3);                                          \
            b0 = _mm256_fmadd_ps(LOAD8(w0, k + 8), x1, b0);                                      \
            b1 = _mm256_fmadd_ps(LOAD8(w1, k + 8), x1, b1);                                      \
            b2 = _mm256_fmadd_ps(LOAD8(w2, k + 8), x1, b2);                                      \
            b3 = _mm256_fmadd_ps(LOAD8(w3, k + 8), x1, b3);                                      \
        }                                                                                        \
        for (; k + 8 <= cols; k += 8) {                                                          \
            __m256 x0 = _mm256_loadu_ps(x + k);                                                  \
            a0 = _mm256_fmadd_ps(LOAD8(w0, k), x0, a0);                                          \
            a1 = _mm256_fmadd_ps(LOAD8(w1, k), x0, a1);                                          \
            a2 = _mm256_fmadd_ps(LOAD8(w2, k), x0, a2);                                          \
            a3 = _mm256_fmadd_ps(LOAD8(w3, k), x0, a3);                                          \
        }                                                                                        \
        float s0 = kc_hsum8(_mm256_add_ps(a0, b0)), s1 = kc_hsum8(_mm256_add_ps(a1, b1));                \
        float s2 = kc_hsum8(_mm256_add_ps(a2, b2)), s3 = kc_hsum8(_mm256_add_ps(a3, b3));                \
        for (; k < cols; k++) {                                                                  \
            s0 += LOAD1(w0[k]) * x[k];                                                           \
            s1 += LOAD1(w1[k]) * x[k];                                                           \
            s2 += LOAD1(w2[k]) * x[k];                                                           \
            s3 += LOAD1(w3[k]) * x[k];                                                           \
        }                                                                                        \
        if (bias) { s0 += bias[r]; s1 += bias[r + 1]; s2 += bias[r + 2]; s3 += bias[r + 3]; }   \
        y[r] = s0; y[r + 1] = s1; y[r + 2] = s2; y[r + 3] = s3;                                  \
    }                                                                                            \
    for (; r < r1; r++) {                                                                        \
        const T *w0 = w + r * cols;                                                              \
        __m256 a0 = _mm256_setzero_ps();                                                         \
        long k = 0;                                                                              \
        for (; k + 8 <= cols; k += 8) a0 = _mm256_fmadd_ps(LOAD8(w0, k), _mm256_loadu_ps(x + k), a0); \
        float s0 = kc_hsum8(a0);                                                                     \
        for (; k < cols; k++) s0 += LOAD1(w0[k]) * x[k];                                         \
        y[r] = s0 + (bias ? bias[r] : 0);                                                        \
    }


// One row at a time: a task's rows are one linear stream, prefetched KC_PREFETCH_BYTES ahead.
#define KC_GEMV_ONE_ROW(T, LOAD8, LOAD1)                                                         \
    enum { AHEAD = KC_PREFETCH_BYTES / sizeof(T) };                                              \
    for (long r = r0; r < r1; r++) {                                                             \
        const T *w0 = w + r * cols;                                                              \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                              \
        long k = 0;                                                                              \
        for (; k + 32 <= cols; k += 32) {                                                        \
            kc_prefetch_lines(w0 + k + AHEAD, 32 * sizeof(T));                                  \
            a0 = _mm256_fmadd_ps(LOAD8(w0, k), _mm256_loadu_ps(x + k), a0);                      \
            a1 = _mm256_fmadd_ps(LOAD8(w0, k + 8), _mm256_loadu_ps(x + k + 8), a1);              \
            a2 = _mm256_fmadd_ps(LOAD8(w0, k + 16), _mm256_loadu_ps(x + k + 16), a2);            \
            a3 = _mm256_fmadd_ps(LOAD8(w0, k + 24), _mm256_loadu_ps(x + k + 24), a3);            \
        }                                                                                        \
        for (; k + 8 <= cols; k += 8) a0 = _mm256_fmadd_ps(LOAD8(w0, k), _mm256_loadu_ps(x + k), a0); \
        float s0 = kc_hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));            \
        for (; k < cols; k++) s0 += LOAD1(w0[k]) * x[k];                                         \
        y[r] = s0 + (bias ? bias[r] : 0);                                                        \
    }

// Wide float16/bfloat16 rows (more than 4096 columns) go through KC_GEMV_BODY too, with a
// prefetch per row stream: their float32 x (16 KiB and up) no longer sits in L1 beside the
// weights, and one x load then serves four rows. On the development machine (AMD EPYC Zen 4, two
// threads) 8192-column f16 rows went from 25 to 29-34 GB/s this way, while 2048-column rows
// stayed fastest one at a time (33-41 GB/s).
#define KC_NO_PREFETCH(k)
#define KC_PREFETCH_FOUR_ROWS(k)                                                                 \
    if (((k) & 31) == 0) {                                                                       \
        enum { AHEAD = KC_PREFETCH_BYTES / sizeof(uint16_t) };                                   \
        kc_prefetch_lines(w0 + (k) + AHEAD, 64);                                                 \
        kc_prefetch_lines(w1 + (k) + AHEAD, 64);                                                 \
        kc_prefetch_lines(w2 + (k) + AHEAD, 64);                                                 \
        kc_prefetch_lines(w3 + (k) + AHEAD, 64);                                                 \
    }

#define F32_LOAD8(p, k) _mm256_loadu_ps((p) + (k))
#define F32_LOAD1(v) (v)
#define F16_LOAD8(p, k) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((p) + (k))))
#define F16_LOAD1(v) kc_half_to_float(v)
#define BF16_LOAD8(p, k) _mm256_castsi256_ps(_mm256_slli_epi32(                                  \
    _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((p) + (k)))), 16))
#define BF16_LOAD1(v) kc_bf16_to_float(v)

KC_AVX2 static void gemv_f32_avx2(const float *w, long cols, long r0, long r1, const float *x, float *y, const float *bias) {
    KC_GEMV_BODY(float, F32_LOAD8, F32_LOAD1, KC_NO_PREFETCH)
}
// Only where it was measured (an AVX-512 Zen 4): AVX2-only CPUs keep the one-row kernel that
// the first round measured fastest there.
enum { KC_WIDE_ROW = 4096 };
static inline int four_rows_pay(long cols) { return cols > KC_WIDE_ROW && kc_isa() >= KC_ISA_AVX512; }

KC_AVX2 static void gemv_f16_avx2(const uint16_t *w, long cols, long r0, long r1, const float *x, float *y, const float *bias) {
    if (four_rows_pay(cols)) { KC_GEMV_BODY(uint16_t, F16_LOAD8, F16_LOAD1, KC_PREFETCH_FOUR_ROWS) return; }
    KC_GEMV_ONE_ROW(uint16_t, F16_LOAD8, F16_LOAD1)
}
KC_AVX2 static void gemv_bf16_avx2(const uint16_t *w, long cols, long r0, long r1, const float *x, float *y, const float *bias) {
    if (four_rows_pay(cols)) { KC_GEMV_BODY(uint16_t, BF16_LOAD8, BF16_LOAD1, KC_PREFETCH_FOUR_ROWS) return; }
    KC_GEMV_ONE_ROW(uint16_t, BF16_LOAD8, BF16_LOAD1)
}
#endif

void kc_gemv_f32(const float *w, long cols, long r0, long r1, const float *x, float *y, const float *bias) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { gemv_f32_avx2(w, cols, r0, r1, x, y, bias); return; }
#endif
    gemv_generic(w, cols * 4, cols, r0, r1, x, y, bias, load_f32);
}

void kc_gemv_f16(const uint16_t *w, long cols, long r0, long r1, const float *x, float *y, const float *bias) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { gemv_f16_avx2(w, cols, r0, r1, x, y, bias); return; }
#endif
    gemv_generic(w, cols * 2, cols, r0, r1, x, y, bias, load_f16);
}

void kc_gemv_bf16(const uint16_t *w, long cols, long r0, long r1, const float *x, float *y, const float *bias) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { gemv_bf16_avx2(w, cols, r0, r1, x, y, bias); return; }
#endif
    gemv_generic(w, cols * 2, cols, r0, r1, x, y, bias, load_bf16);
}
