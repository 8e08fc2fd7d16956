// Prompt processing for GGUF weights on AVX-512 VNNI: the weights' integer codes as stored,
// against activations rounded to 16 bits per block of 32, with vpdpwssd (32 multiply-adds per
// instruction where the float GEMM's 256-bit FMA does 8; on Zen 4, which splits 512-bit
// operations in two, measured 2.3× the FMA's multiply-adds per second).
//
// Why 16 bits and not llama.cpp's 8: scoring text through the real GGUF files agrees with
// transformers (on the dequantized weights) to 0.0008 / 0.0005 nats per token with float
// activations, where llama.cpp's 8-bit ones are 0.08 / 0.11 off; a 16-bit step is amax/32767, 258
// times finer, and measures 0.0009 / 0.0007 (RealGGUFModelTests). Weights lose nothing: every
// format is scale·code + offset with integer codes (kc_ggml_codes), so per block of 16 or 32 weights
//     Σ w·x = (d_x·scale)·Σ code·c + offset·(d_x·Σ c)        (x = d_x·c)
// with the integer sums exact. Each token's result is a fixed sequence of float operations over
// the blocks in column order, the same in the portable and AVX-512 versions (fmaf is a correctly
// rounded fused multiply-add, as vfmadd is), so they give the same bits, and a token's result
// does not depend on the tokens beside it.
#include "internal.h"

enum { WX_TOKENS = 16, WX_ROWS = 4, WX_PANEL = 16, WX_CHUNK = 256 };

/// One group of 16 tokens: codes as [k / 2][16 tokens][2] (a vpdpwssd operand per column pair),
/// d_x per block of 32 as [block][16], Σ c per 16 columns as [k / 16][16].
static inline size_t group_bytes(long cols) {
    return (size_t)cols * WX_TOKENS * sizeof(int16_t) + (size_t)(cols / 32) * WX_TOKENS * sizeof(float)
         + (size_t)(cols / 16) * WX_TOKENS * sizeof(int32_t);
}

typedef struct {
    int16_t *codes;
    float *scales;
    int32_t *sums;
} wx_group;

static inline wx_group group_at(const void *data, long cols, long g) {
    char *base = (char *)data + (size_t)g * group_bytes(cols);
    wx_group out = {(int16_t *)base, NULL, NULL};
    out.scales = (float *)(base + (size_t)cols * WX_TOKENS * sizeof(int16_t));
    out.sums = (int32_t *)(out.scales + (cols / 32) * WX_TOKENS);
    return out;
}

size_t kc_gemm_wx_bytes(long n, long cols) { return (size_t)((n + WX_TOKENS - 1) / WX_TOKENS) * group_bytes(cols); }

// MARK: Activations

/// Symmetric round-to-nearest-even codes in [−32767, 32767] for a block of 32, as
/// kc_ggml_quantize_activations does with 127. A NaN in the block makes its scale NaN, so the
/// token's results are NaN as the float product's would be (fmaxf alone would skip it).
static void pack_token_generic(const float *x, long cols, int lane, wx_group g) {
    for (long b = 0; b < cols / 32; b++) {
        const float *xb = x + b * 32;
        float amax = 0;
        int nan = 0;
        for (int i = 0; i < 32; i++) {
            nan |= isnan(xb[i]);
            amax = fmaxf(amax, fabsf(xb[i]));
        }
        if (nan) amax = NAN;
        float d = amax / 32767, id = d != 0 ? 32767 / amax : 0;
        int32_t sums[2] = {0, 0};
        for (int i = 0; i < 32; i++) {
            int c = (int)lrintf(xb[i] * id);
            g.codes[((b * 16 + i / 2) * WX_TOKENS + lane) * 2 + (i & 1)] = (int16_t)c;
            sums[i / 16] += c;
        }
        g.scales[b * WX_TOKENS + lane] = d;
        g.sums[(2 * b) * WX_TOKENS + lane] = sums[0];
        g.sums[(2 * b + 1) * WX_TOKENS + lane] = sums[1];
    }
}

#if KC_X86
/// pack_token_generic's operations 16 lanes at a time (vcvtps2dq rounds to nearest even, as
/// lrintf does in the default rounding mode).
KC_AVX512 static void pack_token_avx512(const float *x, long cols, int lane, wx_group g) {
    for (long b = 0; b < cols / 32; b++) {
        __m512 v0 = _mm512_loadu_ps(x + b * 32), v1 = _mm512_loadu_ps(x + b * 32 + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        if (_mm512_cmp_ps_mask(v0, v0, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(v1, v1, _CMP_UNORD_Q)) amax = NAN;
        float d = amax / 32767, id = d != 0 ? 32767 / amax : 0;
        __m512i c0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, _mm512_set1_ps(id)));
        __m512i c1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, _mm512_set1_ps(id)));
        uint32_t pairs[16];
        _mm256_storeu_si256((__m256i *)pairs, _mm512_cvtepi32_epi16(c0));
        _mm256_storeu_si256((__m256i *)(pairs + 8), _mm512_cvtepi32_epi16(c1));
        uint32_t *out = (uint32_t *)g.codes + b * 16 * WX_TOKENS + lane;
        for (int p = 0; p < 16; p++) out[p * WX_TOKENS] = pairs[p];
        g.scales[b * WX_TOKENS + lane] = d;
        g.sums[(2 * b) * WX_TOKENS + lane] = _mm512_reduce_add_epi32(c0);
        g.sums[(2 * b + 1) * WX_TOKENS + lane] = _mm512_reduce_add_epi32(c1);
    }
}
#endif

void kc_gemm_pack_wx(const float *x, long n, long cols, long g0, long g1, void *buffer) {
    for (long gi = g0; gi < g1; gi++) {
        wx_group g = group_at(buffer, cols, gi);
        for (int lane = 0; lane < WX_TOKENS; lane++) {
            long t = gi * WX_TOKENS + lane;
            if (t >= n) {  // padding tokens: codes, scales and sums 0 add nothing
                for (long p = 0; p < cols / 2; p++) memset(g.codes + (p * WX_TOKENS + lane) * 2, 0, 4);
                for (long b = 0; b < cols / 32; b++) g.scales[b * WX_TOKENS + lane] = 0;
                for (long s = 0; s < cols / 16; s++) g.sums[s * WX_TOKENS + lane] = 0;
                continue;
            }
#if KC_X86
            if (kc_isa() >= KC_ISA_AVX512) { pack_token_avx512(x + t * cols, cols, lane, g); continue; }
#endif
            pack_token_generic(x + t * cols, cols, lane, g);
        }
    }
}

// MARK: Weights

/// WX_PANEL rows × up to WX_CHUNK columns as integer codes, with a scale and an offset per 16.
typedef struct {
    int16_t codes[WX_PANEL][WX_CHUNK];
    float scales[WX_PANEL][WX_CHUNK / 16];
    float offsets[WX_PANEL][WX_CHUNK / 16];
} w_tile;

/// Columns sharing one scale: 16 for the formats with a scale per 16 weights, else 32.
static int sub_block(int type) { return type == KC_GGML_Q2_K || type == KC_GGML_Q3_K || type == KC_GGML_Q6_K ? 16 : 32; }
static int has_offsets(int type) {
    return type == KC_GGML_Q4_1 || type == KC_GGML_Q5_1 || type == KC_GGML_Q2_K || type == KC_GGML_Q4_K || type == KC_GGML_Q5_K;
}

size_t kc_gemm_ggml_scratch_bytes(long n) {
    return sizeof(w_tile) + (size_t)((n + WX_TOKENS - 1) / WX_TOKENS) * WX_PANEL * WX_TOKENS * sizeof(float);
}

// MARK: Micro-kernels: c[i][lane] over one chunk for WX_ROWS rows and one or two token groups

/// The reference: per row and token, over the chunk's blocks of `sub` columns in order,
///   total = fma(Σ code·c, d_x·scale, total);  total = fma(offset, d_x·Σ c, total) if offsets.
static void micro_generic(wx_group x, long k0, long kc, const w_tile *t, int row0, int sub, int offsets, float *c) {
    for (int i = 0; i < WX_ROWS; i++) {
        const int16_t *w = t->codes[row0 + i];
        for (int lane = 0; lane < WX_TOKENS; lane++) {
            float total = c[i * WX_TOKENS + lane];
            for (long j = 0; j < kc; j += sub) {
                int32_t dot = 0, sum = 0;
                for (long k = j; k < j + sub; k++)
                    dot += (int32_t)x.codes[(((k0 + k) / 2) * WX_TOKENS + lane) * 2 + (k & 1)] * w[k];
                for (long s = j; s < j + sub; s += 16) sum += x.sums[((k0 + s) / 16) * WX_TOKENS + lane];
                float dx = x.scales[((k0 + j) / 32) * WX_TOKENS + lane];
                total = fmaf((float)dot, dx * t->scales[row0 + i][j / 16], total);
                if (offsets) total = fmaf(t->offsets[row0 + i][j / 16], dx * (float)sum, total);
            }
            c[i * WX_TOKENS + lane] = total;
        }
    }
}

#if KC_X86
/// micro_generic for two token groups a and b at once: 8 integer and 8 float accumulators.
KC_AVX512 static inline __attribute__((always_inline)) void micro_avx512_body(
    wx_group xa, wx_group xb, long k0, long kc, const w_tile *t, int row0, const int sub, const int offsets,
    float *ca, float *cb) {
    __m512 fa[WX_ROWS], fb[WX_ROWS];
    for (int i = 0; i < WX_ROWS; i++) {
        fa[i] = _mm512_loadu_ps(ca + i * WX_TOKENS);
        fb[i] = _mm512_loadu_ps(cb + i * WX_TOKENS);
    }
    for (long j = 0; j < kc; j += sub) {
        __m512i da[WX_ROWS], db[WX_ROWS];
        for (int i = 0; i < WX_ROWS; i++) da[i] = db[i] = _mm512_setzero_si512();
        for (long p = j / 2; p < (j + sub) / 2; p++) {
            long o = ((k0 / 2) + p) * WX_TOKENS * 2;
            __m512i va = _mm512_loadu_si512(xa.codes + o), vb = _mm512_loadu_si512(xb.codes + o);
            for (int i = 0; i < WX_ROWS; i++) {
                int32_t pair;
                memcpy(&pair, &t->codes[row0 + i][2 * p], 4);
                __m512i w = _mm512_set1_epi32(pair);
                da[i] = _mm512_dpwssd_epi32(da[i], va, w);
                db[i] = _mm512_dpwssd_epi32(db[i], vb, w);
            }
        }
        long block = (k0 + j) / 32, s16 = (k0 + j) / 16;
        __m512 sa = _mm512_loadu_ps(xa.scales + block * WX_TOKENS), sb = _mm512_loadu_ps(xb.scales + block * WX_TOKENS);
        __m512 oa = _mm512_setzero_ps(), ob = _mm512_setzero_ps();
        if (offsets) {
            __m512i qa = _mm512_loadu_si512(xa.sums + s16 * WX_TOKENS), qb = _mm512_loadu_si512(xb.sums + s16 * WX_TOKENS);
            if (sub == 32) {
                qa = _mm512_add_epi32(qa, _mm512_loadu_si512(xa.sums + (s16 + 1) * WX_TOKENS));
                qb = _mm512_add_epi32(qb, _mm512_loadu_si512(xb.sums + (s16 + 1) * WX_TOKENS));
            }
            oa = _mm512_mul_ps(sa, _mm512_cvtepi32_ps(qa));
            ob = _mm512_mul_ps(sb, _mm512_cvtepi32_ps(qb));
        }
        for (int i = 0; i < WX_ROWS; i++) {
            __m512 scale = _mm512_set1_ps(t->scales[row0 + i][j / 16]);
            fa[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(da[i]), _mm512_mul_ps(sa, scale), fa[i]);
            fb[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(db[i]), _mm512_mul_ps(sb, scale), fb[i]);
            if (offsets) {
                __m512 offset = _mm512_set1_ps(t->offsets[row0 + i][j / 16]);
                fa[i] = _mm512_fmadd_ps(offset, oa, fa[i]);
                fb[i] = _mm512_fmadd_ps(offset, ob, fb[i]);
            }
        }
    }
    for (int i = 0; i < WX_ROWS; i++) {
        _mm512_storeu_ps(ca + i * WX_TOKENS, fa[i]);
        _mm512_storeu_ps(cb + i * WX_TOKENS, fb[i]);
    }
}

// One function per (block size, offsets) so the block loops unroll with constants.
#define KC_WX_MICRO(NAME, SUB, OFFSETS)                                                                             \
    KC_AVX512 static void NAME(wx_group xa, wx_group xb, long k0, long kc, const w_tile *t, int row0, float *ca,   \
                               float *cb) {                                                                         \
        micro_avx512_body(xa, xb, k0, kc, t, row0, SUB, OFFSETS, ca, cb);                                           \
    }
KC_WX_MICRO(micro_avx512_32, 32, 0)
KC_WX_MICRO(micro_avx512_32_offsets, 32, 1)
KC_WX_MICRO(micro_avx512_16, 16, 0)
KC_WX_MICRO(micro_avx512_16_offsets, 16, 1)
#endif

/// Asks for the blocks the panel unpacks next (the next chunk of its rows, or the next panel's
/// first) while the micro-kernels run: unpacking 16 rows at a time is 16 short streams, which the
/// hardware prefetchers left waiting on memory for 8% of a gemma-3-270m prompt.
static void prefetch_next_chunk(const kc_weights *w, long pb, long rows, long k0, long r1) {
    const long bs = kc_ggml_block_size(w->ggml_type), bytes = kc_ggml_block_bytes(w->ggml_type);
    long next = k0 + WX_CHUNK, first = pb;
    if (next >= w->cols) {
        next = 0;
        first = pb + WX_PANEL;
        rows = kc_min(WX_PANEL, r1 - first);
    }
    const long length = kc_min(WX_CHUNK, w->cols - next) / bs * bytes;
    for (long i = 0; i < rows; i++) kc_prefetch_lines_t0((const char *)w->data + (first + i) * w->row_bytes + next / bs * bytes, length);
}

void kc_gemm_ggml_rows(const kc_weights *w, long r0, long r1, const void *xp, long n, float *y, long ldy,
                       const float *bias, void *scratch) {
    const int type = w->ggml_type, sub = sub_block(type), offsets = has_offsets(type);
    const long cols = w->cols, groups = (n + WX_TOKENS - 1) / WX_TOKENS;
    const long bs = kc_ggml_block_size(type), bytes = kc_ggml_block_bytes(type);
    const long panelFloats = WX_PANEL * WX_TOKENS;
    w_tile *t = scratch;
    float *c = (float *)((char *)scratch + sizeof(w_tile));  // [group][panel row][16]
#if KC_X86
    void (*vnni)(wx_group, wx_group, long, long, const w_tile *, int, float *, float *) = NULL;
    if (kc_isa() >= KC_ISA_AVX512)
        vnni = sub == 32 ? (offsets ? micro_avx512_32_offsets : micro_avx512_32) : (offsets ? micro_avx512_16_offsets : micro_avx512_16);
#endif
    for (long pb = r0; pb < r1; pb += WX_PANEL) {
        const long rows = kc_min(WX_PANEL, r1 - pb), quads = (rows + WX_ROWS - 1) / WX_ROWS;
        memset(c, 0, sizeof(float) * (size_t)(groups * panelFloats));
        for (long k0 = 0; k0 < cols; k0 += WX_CHUNK) {
            const long kc = kc_min(WX_CHUNK, cols - k0);
            for (long i = 0; i < quads * WX_ROWS; i++) {
                // Short panels repeat their first row; those results are never stored.
                const char *row = (const char *)w->data + (pb + (i < rows ? i : 0)) * w->row_bytes;
                kc_ggml_codes(type, row + (k0 / bs) * bytes, kc, t->codes[i], t->scales[i], t->offsets[i]);
            }
            prefetch_next_chunk(w, pb, rows, k0, r1);
            for (long g = 0; g < groups; g++) {
                wx_group xa = group_at(xp, cols, g);
#if KC_X86
                if (vnni) {
                    // Pairs of groups; an odd last group runs beside itself and the copy's sums are discarded.
                    int paired = g + 1 < groups;
                    wx_group xb = paired ? group_at(xp, cols, g + 1) : xa;
                    for (long q = 0; q < quads; q++) {
                        float spare[WX_ROWS * WX_TOKENS];
                        float *ca = c + g * panelFloats + q * WX_ROWS * WX_TOKENS;
                        float *cb = paired ? ca + panelFloats : spare;
                        if (!paired) memcpy(spare, ca, sizeof spare);
                        vnni(xa, xb, k0, kc, t, (int)(q * WX_ROWS), ca, cb);
                    }
                    g += paired;
                    continue;
                }
#endif
                for (long q = 0; q < quads; q++)
                    micro_generic(xa, k0, kc, t, (int)(q * WX_ROWS), sub, offsets, c + g * panelFloats + q * WX_ROWS * WX_TOKENS);
            }
        }
        for (long tk = 0; tk < n; tk++) {
            float *out = y + tk * ldy + pb;
            const float *ct = c + (tk / WX_TOKENS) * panelFloats + tk % WX_TOKENS;
            for (long i = 0; i < rows; i++) out[i] = ct[i * WX_TOKENS] + (bias ? bias[pb + i] : 0);
        }
    }
}
