// Vectorised exp, GELU and softmax. The scalar libm calls they replace cost ~4 ms per token at
// open-calm-1b size (196k erff per token, 16 heads × context exps per layer). Coefficients come
// from tools/kernels/fit_coefficients.py: erf within 4e-7, exp within 1e-7 relative.
#include "internal.h"

static const float ERF_P[7] = {1.128379160e+00f, 1.871138116e-01f, 4.884206682e-02f, 3.168372659e-03f,
                               1.302261766e-04f, -1.941843655e-06f, 2.070834390e-08f};
static const float ERF_Q[5] = {1.000000000e+00f, 4.991581405e-01f, 1.096746608e-01f, 1.325117075e-02f,
                               8.309415443e-04f};
static const float ERF_LIMIT = 3.92f;  // erf rounds to ±1 in float32 beyond
static const float EXP_C[5] = {4.999998859e-01f, 1.666651844e-01f, 4.166953340e-02f, 8.368919081e-03f,
                               1.375140818e-03f};
static const float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
static const float EXP_MIN = -87.3f, EXP_MAX = 88.7f;

static inline float erf_scalar(float x) {
    x = fminf(fmaxf(x, -ERF_LIMIT), ERF_LIMIT);
    float t = x * x;
    float p = ERF_P[6];
    for (int i = 5; i >= 0; i--) p = p * t + ERF_P[i];
    float q = ERF_Q[4];
    for (int i = 3; i >= 0; i--) q = q * t + ERF_Q[i];
    return x * p / q;
}

static inline float exp_scalar(float x) {
    x = fminf(fmaxf(x, EXP_MIN), EXP_MAX);
    float n = nearbyintf(x * LOG2E);
    float r = (x - n * LN2_HI) - n * LN2_LO;
    float p = EXP_C[4];
    for (int i = 3; i >= 0; i--) p = p * r + EXP_C[i];
    p = (p * r + 1.0f) * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

#if KC_X86
KC_AVX2 static inline __m256 erf8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-ERF_LIMIT)), _mm256_set1_ps(ERF_LIMIT));
    __m256 t = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(ERF_P[6]);
    for (int i = 5; i >= 0; i--) p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(ERF_P[i]));
    __m256 q = _mm256_set1_ps(ERF_Q[4]);
    for (int i = 3; i >= 0; i--) q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(ERF_Q[i]));
    return _mm256_div_ps(_mm256_mul_ps(x, p), q);
}

KC_AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_MIN)), _mm256_set1_ps(EXP_MAX));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(EXP_C[4]);
    for (int i = 3; i >= 0; i--) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C[i]));
    p = _mm256_fmadd_ps(_mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f)), r, _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

KC_AVX2 static void gelu_erf_avx2(float *x, long n) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), invSqrt2 = _mm256_set1_ps(0.70710678118654752f);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = erf8(_mm256_mul_ps(v, invSqrt2));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, e)));
    }
    for (; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erf_scalar(x[i] * 0.70710678118654752f));
}

KC_AVX2 static void gelu_tanh_avx2(float *x, long n) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    const __m256 c = _mm256_set1_ps(0.79788456080286536f), k = _mm256_set1_ps(0.044715f);
    const __m256 lo = _mm256_set1_ps(-10.0f), hi = _mm256_set1_ps(10.0f);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 u = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_mul_ps(k, v), _mm256_mul_ps(v, v), v));
        u = _mm256_min_ps(_mm256_max_ps(u, lo), hi);
        // tanh(u) = 1 - 2 / (exp(2u) + 1)
        __m256 th = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(exp8(_mm256_mul_ps(two, u)), one)));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, th)));
    }
    for (; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    }
}

KC_AVX2 static void exp_avx2(const float *x, float *out, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, exp8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) out[i] = exp_scalar(x[i]);
}

KC_AVX2 static void softmax_avx2(float *x, long n) {
    long i = 0;
    __m256 m8 = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) m8 = _mm256_max_ps(m8, _mm256_loadu_ps(x + i));
    float tmp[8];
    _mm256_storeu_ps(tmp, m8);
    float maximum = -INFINITY;
    for (int j = 0; j < 8; j++) maximum = fmaxf(maximum, tmp[j]);
    for (; i < n; i++) maximum = fmaxf(maximum, x[i]);
    __m256 m = _mm256_set1_ps(maximum), total8 = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(x + i, e);
        total8 = _mm256_add_ps(total8, e);
    }
    _mm256_storeu_ps(tmp, total8);
    float total = 0;
    for (int j = 0; j < 8; j++) total += tmp[j];
    for (; i < n; i++) {
        x[i] = exp_scalar(x[i] - maximum);
        total += x[i];
    }
    __m256 scale = _mm256_set1_ps(1.0f / total);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), scale));
    for (; i < n; i++) x[i] *= 1.0f / total;
}
#endif

void kc_gelu_erf(float *x, long n) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { gelu_erf_avx2(x, n); return; }
#endif
    for (long i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erf_scalar(x[i] * 0.70710678118654752f));
}

void kc_gelu_tanh(float *x, long n) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { gelu_tanh_avx2(x, n); return; }
#endif
    for (long i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    }
}

void kc_exp(const float *x, float *out, long n) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { exp_avx2(x, out, n); return; }
#endif
    for (long i = 0; i < n; i++) out[i] = exp_scalar(x[i]);
}

void kc_softmax(float *x, long n) {
    if (n <= 0) return;
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { softmax_avx2(x, n); return; }
#endif
    float maximum = -INFINITY, total = 0;
    for (long i = 0; i < n; i++) maximum = fmaxf(maximum, x[i]);
    for (long i = 0; i < n; i++) {
        x[i] = exp_scalar(x[i] - maximum);
        total += x[i];
    }
    for (long i = 0; i < n; i++) x[i] *= 1.0f / total;
}
