// Block quantization of weights (once, at load) and of activations (once per matrix product).
// The layouts are described in KataribeCKernels.h.
#include "internal.h"

static inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/// The 256 values of super-block `sb` of a row of `cols`, zero past the end.
static void load_super(const float *x, long cols, long sb, float *out) {
    long start = sb * KC_SUPER;
    for (int i = 0; i < KC_SUPER; i++) out[i] = start + i < cols ? x[start + i] : 0.0f;
}

void kc_quantize_row_q8(const float *x, long cols, int8_t *codes, uint8_t *block_scales, float *super_scales) {
    float values[KC_SUPER];
    for (long sb = 0; sb < kc_padded_cols(cols) / KC_SUPER; sb++) {
        load_super(x, cols, sb, values);
        float wanted[KC_SUBBLOCKS], largest = 0;
        for (int b = 0; b < KC_SUBBLOCKS; b++) {
            float amax = 0;
            for (int j = 0; j < KC_BLOCK; j++) amax = fmaxf(amax, fabsf(values[b * KC_BLOCK + j]));
            wanted[b] = amax / 127.0f;
            largest = fmaxf(largest, wanted[b]);
        }
        float D = largest / 127.0f;
        super_scales[sb] = D;
        for (int b = 0; b < KC_SUBBLOCKS; b++) {
            // Rounding the block scale up never clips the block's largest weight.
            int s = D > 0 ? clamp_int((int)ceilf(wanted[b] / D - 1e-4f), 0, 127) : 0;
            block_scales[sb * KC_SUBBLOCKS + b] = (uint8_t)s;
            float scale = D * (float)s, inverse = scale > 0 ? 1.0f / scale : 0;
            for (int j = 0; j < KC_BLOCK; j++) {
                int c = clamp_int((int)lrintf(values[b * KC_BLOCK + j] * inverse), -127, 127);
                codes[sb * KC_SUPER + b * KC_BLOCK + j] = (int8_t)c;
            }
        }
    }
}

/// For a Q4 block and a candidate scale d: the squared error of rounding to codes in [-8, 7],
/// and Σx·c, Σc² for the least-squares scale of those codes. Sums run in 8 lanes (element j in
/// lane j % 8) added in lane order, so the AVX2 version gets bit-identical results and both
/// builds pick the same scales.
typedef struct { float error, xc, cc; } q4_fit;

static q4_fit q4_evaluate_generic(const float *xb, float d) {
    float inverse = 1.0f / d, e[8] = {0}, xc[8] = {0}, cc[8] = {0};
    for (int j = 0; j < KC_BLOCK; j++) {
        float c = fminf(fmaxf(nearbyintf(xb[j] * inverse), -8.0f), 7.0f);
        float r = xb[j] - d * c;
        float rr = r * r, xcj = xb[j] * c, ccj = c * c;
        e[j % 8] = e[j % 8] + rr;
        xc[j % 8] = xc[j % 8] + xcj;
        cc[j % 8] = cc[j % 8] + ccj;
    }
    q4_fit fit = {0, 0, 0};
    for (int l = 0; l < 8; l++) { fit.error += e[l]; fit.xc += xc[l]; fit.cc += cc[l]; }
    return fit;
}

#if KC_X86
KC_AVX2 static q4_fit q4_evaluate_avx2(const float *xb, float d) {
    const __m256 lo = _mm256_set1_ps(-8.0f), hi = _mm256_set1_ps(7.0f);
    __m256 dv = _mm256_set1_ps(d), inverse = _mm256_set1_ps(1.0f / d);
    __m256 e = _mm256_setzero_ps(), xc = e, cc = e;
    for (int j = 0; j < KC_BLOCK; j += 8) {
        __m256 x = _mm256_loadu_ps(xb + j);
        __m256 c = _mm256_min_ps(_mm256_max_ps(
            _mm256_round_ps(_mm256_mul_ps(x, inverse), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), lo), hi);
        // No FMA: the same roundings as the portable version.
        __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(dv, c));
        e = _mm256_add_ps(e, _mm256_mul_ps(r, r));
        xc = _mm256_add_ps(xc, _mm256_mul_ps(x, c));
        cc = _mm256_add_ps(cc, _mm256_mul_ps(c, c));
    }
    float el[8], xl[8], cl[8];
    _mm256_storeu_ps(el, e);
    _mm256_storeu_ps(xl, xc);
    _mm256_storeu_ps(cl, cc);
    q4_fit fit = {0, 0, 0};
    for (int l = 0; l < 8; l++) { fit.error += el[l]; fit.xc += xl[l]; fit.cc += cl[l]; }
    return fit;
}
#endif

static q4_fit q4_evaluate(const float *xb, float d) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) return q4_evaluate_avx2(xb, d);
#endif
    return q4_evaluate_generic(xb, d);
}

/// The (signed) scale for one Q4 block: candidates that map the largest magnitude onto the code
/// range, each refined once by least squares for the codes it chose; the smallest error wins.
static float q4_block_scale(const float *xb) {
    float extreme = 0;
    for (int j = 0; j < KC_BLOCK; j++) if (fabsf(xb[j]) > fabsf(extreme)) extreme = xb[j];
    if (extreme == 0) return 0;
    static const float targets[] = {-8.0f, -7.5f, 7.0f};
    float best = 0, bestError = INFINITY;
    for (unsigned i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        float d = extreme / targets[i];
        q4_fit fit = q4_evaluate(xb, d);
        if (fit.error < bestError) { bestError = fit.error; best = d; }
        if (fit.cc > 0 && fit.xc != 0) {
            float refined = fit.xc / fit.cc;
            q4_fit again = q4_evaluate(xb, refined);
            if (again.error < bestError) { bestError = again.error; best = refined; }
        }
    }
    return best;
}

void kc_quantize_row_q4(const float *x, long cols, uint8_t *codes, uint8_t *block_scales, float *super_scales) {
    float values[KC_SUPER];
    for (long sb = 0; sb < kc_padded_cols(cols) / KC_SUPER; sb++) {
        load_super(x, cols, sb, values);
        float wanted[KC_SUBBLOCKS], largest = 0;
        for (int b = 0; b < KC_SUBBLOCKS; b++) {
            wanted[b] = q4_block_scale(values + b * KC_BLOCK);
            largest = fmaxf(largest, fabsf(wanted[b]));
        }
        float D = largest / 127.0f;
        super_scales[sb] = D;
        uint8_t *pairs = codes + sb * (KC_SUPER / 2);
        for (int b = 0; b < KC_SUBBLOCKS; b++) {
            int s = D > 0 ? clamp_int((int)lrintf(wanted[b] / D), -127, 127) : 0;
            block_scales[sb * KC_SUBBLOCKS + b] = (uint8_t)(int8_t)s;
            // Codes are chosen for the scale actually stored.
            float scale = D * (float)s, inverse = scale != 0 ? 1.0f / scale : 0;
            uint8_t *pair = pairs + (b / 2) * 32;
            int shift = (b & 1) ? 4 : 0;
            for (int j = 0; j < KC_BLOCK; j++) {
                int u = clamp_int((int)lrintf(values[b * KC_BLOCK + j] * inverse), -8, 7) + 8;
                pair[j] = (uint8_t)((pair[j] & ~(0xf << shift)) | (u << shift));
            }
        }
    }
}

static void dequantize_generic(const kc_qmatrix *m, int q4, long r, long k0, long count, float *out) {
    long blocksPerRow = m->padded / KC_BLOCK, supersPerRow = m->padded / KC_SUPER;
    const uint8_t *scales = m->block_scales + r * blocksPerRow;
    const float *supers = m->super_scales + r * supersPerRow;
    long end = kc_min(m->padded, (k0 + count + KC_SUPER - 1) / KC_SUPER * KC_SUPER);
    for (long k = k0; k < end; k++) {
        long b = k / KC_BLOCK;
        float c;
        if (q4) {
            const uint8_t *row = (const uint8_t *)m->codes + r * (m->padded / 2);
            uint8_t byte = row[(b / 2) * 32 + k % KC_BLOCK];
            c = (float)(((b & 1) ? byte >> 4 : byte & 0xf) - 8);
            out[k - k0] = supers[k / KC_SUPER] * (float)(int8_t)scales[b] * c;
        } else {
            c = (float)((const int8_t *)m->codes)[r * m->padded + k];
            out[k - k0] = supers[k / KC_SUPER] * (float)scales[b] * c;
        }
    }
}

#if KC_X86
KC_AVX2 static void dequantize_avx2(const kc_qmatrix *m, int q4, long r, long k0, long count, float *out) {
    long blocksPerRow = m->padded / KC_BLOCK, supersPerRow = m->padded / KC_SUPER;
    const uint8_t *scales = m->block_scales + r * blocksPerRow;
    const float *supers = m->super_scales + r * supersPerRow;
    long end = kc_min(m->padded, (k0 + count + KC_SUPER - 1) / KC_SUPER * KC_SUPER);
    const __m256i low = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(8);
    for (long k = k0; k < end; k += KC_BLOCK) {
        long b = k / KC_BLOCK;
        __m256i codes;
        float scale;
        if (q4) {
            const uint8_t *row = (const uint8_t *)m->codes + r * (m->padded / 2);
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(row + (b / 2) * 32));
            if (b & 1) bytes = _mm256_srli_epi16(bytes, 4);
            codes = _mm256_sub_epi8(_mm256_and_si256(bytes, low), eight);
            scale = supers[k / KC_SUPER] * (float)(int8_t)scales[b];
        } else {
            codes = _mm256_loadu_si256((const __m256i *)((const int8_t *)m->codes + r * m->padded + k));
            scale = supers[k / KC_SUPER] * (float)scales[b];
        }
        __m256 d = _mm256_set1_ps(scale);
        __m128i lo = _mm256_castsi256_si128(codes), hi = _mm256_extracti128_si256(codes, 1);
        float *o = out + (k - k0);
        _mm256_storeu_ps(o, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d));
        _mm256_storeu_ps(o + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d));
        _mm256_storeu_ps(o + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d));
        _mm256_storeu_ps(o + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d));
    }
}
#endif

void kc_dequantize_q8(const kc_qmatrix *m, long r, long k0, long count, float *out) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { dequantize_avx2(m, 0, r, k0, count, out); return; }
#endif
    dequantize_generic(m, 0, r, k0, count, out);
}

void kc_dequantize_q4(const kc_qmatrix *m, long r, long k0, long count, float *out) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { dequantize_avx2(m, 1, r, k0, count, out); return; }
#endif
    dequantize_generic(m, 1, r, k0, count, out);
}

/// Per super-block: T = amax/(127·31) and, per block, t = ceil(31·amax_b/amax) so the block's
/// scale T·t covers its largest value (codes never clip).
static float activation_scales(const float *blockMax, float amax, int16_t *t) {
    float T = amax / (127.0f * 31.0f);
    for (int b = 0; b < KC_SUBBLOCKS; b++) {
        t[b] = amax > 0 ? (int16_t)clamp_int((int)ceilf(31.0f * blockMax[b] / amax - 1e-4f), 0, 31) : 0;
        if (blockMax[b] > 0 && t[b] == 0) t[b] = 1;
    }
    return T;
}

static void quantize_activations_generic(const float *x, long n, const kc_qactivations *out) {
    for (long sb = 0; sb < n / KC_SUPER; sb++) {
        const float *xs = x + sb * KC_SUPER;
        float blockMax[KC_SUBBLOCKS], amax = 0;
        for (int b = 0; b < KC_SUBBLOCKS; b++) {
            blockMax[b] = 0;
            for (int j = 0; j < KC_BLOCK; j++) blockMax[b] = fmaxf(blockMax[b], fabsf(xs[b * KC_BLOCK + j]));
            amax = fmaxf(amax, blockMax[b]);
        }
        int16_t *t = out->block_scales + sb * KC_SUBBLOCKS;
        float T = activation_scales(blockMax, amax, t);
        out->super_scales[sb] = T;
        for (int b = 0; b < KC_SUBBLOCKS; b++) {
            float scale = T * (float)t[b], inverse = scale > 0 ? 1.0f / scale : 0;
            int sum = 0;
            for (int j = 0; j < KC_BLOCK; j++) {
                int v = clamp_int((int)nearbyintf(xs[b * KC_BLOCK + j] * inverse), -127, 127);
                out->codes[sb * KC_SUPER + b * KC_BLOCK + j] = (int8_t)v;
                sum += v;
            }
            out->sums[sb * KC_SUBBLOCKS + b] = (int16_t)sum;
        }
    }
}

#if KC_X86
KC_AVX2 static void quantize_activations_avx2(const float *x, long n, const kc_qactivations *out) {
    const __m256 signMask = _mm256_set1_ps(-0.0f);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    for (long sb = 0; sb < n / KC_SUPER; sb++) {
        const float *xs = x + sb * KC_SUPER;
        float blockMax[KC_SUBBLOCKS], amax = 0;
        for (int b = 0; b < KC_SUBBLOCKS; b++) {
            const float *xb = xs + b * KC_BLOCK;
            __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(signMask, _mm256_loadu_ps(xb)),
                                                   _mm256_andnot_ps(signMask, _mm256_loadu_ps(xb + 8))),
                                     _mm256_max_ps(_mm256_andnot_ps(signMask, _mm256_loadu_ps(xb + 16)),
                                                   _mm256_andnot_ps(signMask, _mm256_loadu_ps(xb + 24))));
            __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
            h = _mm_max_ps(h, _mm_movehl_ps(h, h));
            h = _mm_max_ss(h, _mm_movehdup_ps(h));
            blockMax[b] = _mm_cvtss_f32(h);
            amax = fmaxf(amax, blockMax[b]);
        }
        int16_t *t = out->block_scales + sb * KC_SUBBLOCKS;
        float T = activation_scales(blockMax, amax, t);
        out->super_scales[sb] = T;
        for (int b = 0; b < KC_SUBBLOCKS; b++) {
            const float *xb = xs + b * KC_BLOCK;
            float scale = T * (float)t[b];
            __m256 inverse = _mm256_set1_ps(scale > 0 ? 1.0f / scale : 0);
            // Same rounding as nearbyintf (to nearest even) in the generic path, same clamp.
            __m256i i0 = _mm256_min_epi32(hi, _mm256_max_epi32(lo, _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xb), inverse))));
            __m256i i1 = _mm256_min_epi32(hi, _mm256_max_epi32(lo, _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xb + 8), inverse))));
            __m256i i2 = _mm256_min_epi32(hi, _mm256_max_epi32(lo, _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xb + 16), inverse))));
            __m256i i3 = _mm256_min_epi32(hi, _mm256_max_epi32(lo, _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xb + 24), inverse))));
            __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
            __m128i v = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
            v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
            out->sums[sb * KC_SUBBLOCKS + b] = (int16_t)_mm_cvtsi128_si32(v);
            // 32 int32 -> 32 int8; the packs work within 128-bit lanes, so undo the interleave.
            __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
            bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(out->codes + sb * KC_SUPER + b * KC_BLOCK), bytes);
        }
    }
}
#endif

void kc_quantize_activations(const float *x, long n, const kc_qactivations *out) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) quantize_activations_avx2(x, n, out); else
#endif
    quantize_activations_generic(x, n, out);
    if (out->q4_codes) kc_q4_regroup(out->codes, n, out->q4_codes);
}
