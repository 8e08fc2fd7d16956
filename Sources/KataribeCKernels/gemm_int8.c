// Prompt processing for Q8/Q4 weights on AVX-512 VNNI: int8 activations against int8 weight
// codes, 64 multiply-adds per vpdpbusd where the float GEMM does 16 per 512-bit FMA.
//
// Each token is quantized exactly as for the int8 GEMV (kc_quantize_activations: codes q, T per
// 256, t per 32), so a prompt sees the activations decoding sees. vpdpbusd wants one unsigned
// operand: the tokens' codes go in as q + 128 (packed once per call: 16 tokens' 4 consecutive
// bytes per 64-byte vector, so lane j is token j) and each block's accumulator starts at
// −128·Σw, which leaves exactly Σ q·w. The block's integer dot product is then scaled in float by
// (T·t)·(D·s) and fused into the token's sum, block after block in column order. The portable
// version performs the same float operations in the same order (fmaf is a correctly rounded fused
// multiply-add, as vfmadd is), so the two give the same bits.
#include "internal.h"

enum { QX_TOKENS = 16, QX_ROWS = 4 };

size_t kc_gemm_qx_bytes(long n, long cols) {
    long groups = (n + QX_TOKENS - 1) / QX_TOKENS, padded = kc_padded_cols(cols);
    return (size_t)groups * (size_t)padded * QX_TOKENS            // codes
         + (size_t)groups * (size_t)(padded / KC_BLOCK) * QX_TOKENS * sizeof(float);  // T·t
}

void kc_gemm_pack_qx(const float *x, long n, long cols, void *buffer, kc_gemm_qx *out, void *scratch) {
    const long padded = kc_padded_cols(cols), groups = (n + QX_TOKENS - 1) / QX_TOKENS, blocks = padded / KC_BLOCK;
    uint8_t *codes = buffer;
    float *scales = (float *)(codes + (size_t)groups * (size_t)padded * QX_TOKENS);
    // One token's activations at a time: padded floats, then its kc_qactivations.
    float *row = scratch;
    kc_qactivations q = {
        .codes = (int8_t *)(row + padded),
        .super_scales = (float *)((int8_t *)(row + padded) + padded),
        .block_scales = (int16_t *)((float *)((int8_t *)(row + padded) + padded) + padded / KC_SUPER),
    };
    q.sums = q.block_scales + blocks;
    for (long token = 0; token < groups * QX_TOKENS; token++) {
        long g = token / QX_TOKENS, lane = token % QX_TOKENS;
        uint8_t *gc = codes + (size_t)g * (size_t)padded * QX_TOKENS;
        float *gs = scales + (size_t)g * (size_t)blocks * QX_TOKENS;
        if (token >= n) {  // padding tokens: code 0 and scale 0 add nothing
            for (long k = 0; k < padded; k += 4) memset(gc + k * QX_TOKENS + lane * 4, 128, 4);
            for (long b = 0; b < blocks; b++) gs[b * QX_TOKENS + lane] = 0;
            continue;
        }
        memcpy(row, x + token * cols, (size_t)cols * sizeof(float));
        for (long k = cols; k < padded; k++) row[k] = 0;
        kc_quantize_activations(row, padded, &q);
        for (long k = 0; k < padded; k += 4) {
            uint8_t *o = gc + k * QX_TOKENS + lane * 4;
            for (int i = 0; i < 4; i++) o[i] = (uint8_t)(q.codes[k + i] + 128);
        }
        for (long b = 0; b < blocks; b++)
            gs[b * QX_TOKENS + lane] = q.super_scales[b / KC_SUBBLOCKS] * (float)q.block_scales[b];
    }
    out->codes = codes;
    out->scales = scales;
    out->n = n;
    out->padded = padded;
}

size_t kc_gemm_qx_scratch_bytes(long cols) {
    long padded = kc_padded_cols(cols);
    return (size_t)padded * sizeof(float) + (size_t)padded + (size_t)(padded / KC_SUPER) * sizeof(float)
         + 2 * (size_t)(padded / KC_BLOCK) * sizeof(int16_t);
}

/// One super-block of QX_ROWS weight rows as the micro-kernels take it: codes as int8, the
/// correction −128·Σw and the float D·s of each block.
typedef struct {
    int8_t codes[QX_ROWS][KC_SUPER];
    int32_t correction[QX_ROWS][KC_SUBBLOCKS];
    float ds[QX_ROWS][KC_SUBBLOCKS];
} q_tile;

static void load_tile(const kc_weights *w, long rb, long rows, long sb, q_tile *tile) {
    const kc_qmatrix *m = &w->quantized;
    const long blocksPerRow = m->padded / KC_BLOCK, supersPerRow = m->padded / KC_SUPER;
    for (long i = 0; i < QX_ROWS; i++) {
        long r = rb + (i < rows ? i : 0);  // short tiles repeat their first row; never stored
        const uint8_t *s = m->block_scales + r * blocksPerRow + sb * KC_SUBBLOCKS;
        float D = m->super_scales[r * supersPerRow + sb];
        if (w->dtype == KC_W_Q8) {
            memcpy(tile->codes[i], (const int8_t *)m->codes + r * m->padded + sb * KC_SUPER, KC_SUPER);
        } else {
            const uint8_t *pairs = (const uint8_t *)m->codes + r * (m->padded / 2) + sb * (KC_SUPER / 2);
            for (int b = 0; b < KC_SUBBLOCKS; b++) {
                const uint8_t *pair = pairs + (b / 2) * KC_BLOCK;
                int shift = (b & 1) ? 4 : 0;
                for (int j = 0; j < KC_BLOCK; j++) tile->codes[i][b * KC_BLOCK + j] = (int8_t)(((pair[j] >> shift) & 0xf) - 8);
            }
        }
        for (int b = 0; b < KC_SUBBLOCKS; b++) {
            int sum = 0;
            for (int j = 0; j < KC_BLOCK; j++) sum += tile->codes[i][b * KC_BLOCK + j];
            tile->correction[i][b] = -128 * sum;
            float scale = w->dtype == KC_W_Q8 ? (float)s[b] : (float)(int8_t)s[b];
            tile->ds[i][b] = D * scale;
        }
    }
}

#if KC_X86
/// The sum of the 32 bytes of v read as unsigned.
KC_AVX2 static inline int sum_u8(__m256i v) {
    __m256i s = _mm256_sad_epu8(v, _mm256_setzero_si256());
    __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return (int)(_mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1));
}

/// load_tile with the codes unpacked and summed 32 at a time (same values).
KC_AVX2 static void load_tile_avx2(const kc_weights *w, long rb, long rows, long sb, q_tile *tile) {
    const kc_qmatrix *m = &w->quantized;
    const long blocksPerRow = m->padded / KC_BLOCK, supersPerRow = m->padded / KC_SUPER;
    const __m256i low = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(8), bias = _mm256_set1_epi8((char)0x80);
    for (long i = 0; i < QX_ROWS; i++) {
        long r = rb + (i < rows ? i : 0);
        const uint8_t *s = m->block_scales + r * blocksPerRow + sb * KC_SUBBLOCKS;
        float D = m->super_scales[r * supersPerRow + sb];
        int sums[KC_SUBBLOCKS];
        if (w->dtype == KC_W_Q8) {
            const int8_t *codes = (const int8_t *)m->codes + r * m->padded + sb * KC_SUPER;
            for (int b = 0; b < KC_SUBBLOCKS; b++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(codes + b * KC_BLOCK));
                _mm256_storeu_si256((__m256i *)&tile->codes[i][b * KC_BLOCK], v);
                sums[b] = sum_u8(_mm256_xor_si256(v, bias)) - 128 * KC_BLOCK;
            }
        } else {
            const uint8_t *pairs = (const uint8_t *)m->codes + r * (m->padded / 2) + sb * (KC_SUPER / 2);
            for (int b = 0; b < KC_SUBBLOCKS; b += 2) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(pairs + (b / 2) * KC_BLOCK));
                __m256i even = _mm256_and_si256(v, low), odd = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
                _mm256_storeu_si256((__m256i *)&tile->codes[i][b * KC_BLOCK], _mm256_sub_epi8(even, eight));
                _mm256_storeu_si256((__m256i *)&tile->codes[i][(b + 1) * KC_BLOCK], _mm256_sub_epi8(odd, eight));
                sums[b] = sum_u8(even) - 8 * KC_BLOCK;
                sums[b + 1] = sum_u8(odd) - 8 * KC_BLOCK;
            }
        }
        for (int b = 0; b < KC_SUBBLOCKS; b++) {
            tile->correction[i][b] = -128 * sums[b];
            tile->ds[i][b] = D * (w->dtype == KC_W_Q8 ? (float)s[b] : (float)(int8_t)s[b]);
        }
    }
}
#endif

/// c[i][lane] += Σ_b (Σ q·w over block b) · (T·t)[lane][b] · (D·s)[i][b] for one group of 16 tokens.
static void micro_generic(const uint8_t *xc, const float *xs, const q_tile *tile, float *c) {
    for (int i = 0; i < QX_ROWS; i++) {
        for (int lane = 0; lane < QX_TOKENS; lane++) {
            float total = c[i * QX_TOKENS + lane];
            for (int b = 0; b < KC_SUBBLOCKS; b++) {
                int32_t dot = tile->correction[i][b];
                for (int k = b * KC_BLOCK; k < (b + 1) * KC_BLOCK; k++)
                    dot += (int32_t)xc[(k / 4) * 64 + lane * 4 + k % 4] * tile->codes[i][k];
                total = fmaf((float)dot, xs[b * QX_TOKENS + lane] * tile->ds[i][b], total);
            }
            c[i * QX_TOKENS + lane] = total;
        }
    }
}

#if KC_X86
/// Two token groups (a, b) against the tile: 8 block accumulators, 8 float sums, 2 token vectors.
KC_AVX512 static void micro_avx512(const uint8_t *xa, const uint8_t *xb, const float *sa, const float *sb,
                                   const q_tile *tile, float *ca, float *cb) {
    __m512 fa[QX_ROWS], fb[QX_ROWS];
    for (int i = 0; i < QX_ROWS; i++) {
        fa[i] = _mm512_loadu_ps(ca + i * QX_TOKENS);
        fb[i] = _mm512_loadu_ps(cb + i * QX_TOKENS);
    }
    for (int b = 0; b < KC_SUBBLOCKS; b++) {
        __m512i da[QX_ROWS], db[QX_ROWS];
        for (int i = 0; i < QX_ROWS; i++) da[i] = db[i] = _mm512_set1_epi32(tile->correction[i][b]);
        for (int kk = 0; kk < KC_BLOCK / 4; kk++) {
            long o = (long)(b * (KC_BLOCK / 4) + kk) * 64;
            __m512i va = _mm512_loadu_si512(xa + o), vb = _mm512_loadu_si512(xb + o);
            for (int i = 0; i < QX_ROWS; i++) {
                int32_t four;
                memcpy(&four, &tile->codes[i][b * KC_BLOCK + kk * 4], 4);
                __m512i wv = _mm512_set1_epi32(four);
                da[i] = _mm512_dpbusd_epi32(da[i], va, wv);
                db[i] = _mm512_dpbusd_epi32(db[i], vb, wv);
            }
        }
        __m512 ta = _mm512_loadu_ps(sa + b * QX_TOKENS), tb = _mm512_loadu_ps(sb + b * QX_TOKENS);
        for (int i = 0; i < QX_ROWS; i++) {
            __m512 d = _mm512_set1_ps(tile->ds[i][b]);
            fa[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(da[i]), _mm512_mul_ps(ta, d), fa[i]);
            fb[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(db[i]), _mm512_mul_ps(tb, d), fb[i]);
        }
    }
    for (int i = 0; i < QX_ROWS; i++) {
        _mm512_storeu_ps(ca + i * QX_TOKENS, fa[i]);
        _mm512_storeu_ps(cb + i * QX_TOKENS, fb[i]);
    }
}
#endif

/// Asks for the codes the next tile reads (the rows' next super-block, or the next rows' first)
/// while the micro-kernels run on this one: four short streams, which the hardware prefetchers
/// left load_tile waiting on memory for ~10% of a q8 prompt.
static void prefetch_next_tile(const kc_weights *w, long rb, long rows, long sb, long r1) {
    const kc_qmatrix *m = &w->quantized;
    const long supers = m->padded / KC_SUPER, q8 = w->dtype == KC_W_Q8;
    long next = sb + 1, first = rb;
    if (next >= supers) {
        next = 0;
        first = rb + QX_ROWS;
        rows = kc_min(QX_ROWS, r1 - first);
    }
    const long bytes = q8 ? KC_SUPER : KC_SUPER / 2, stride = q8 ? m->padded : m->padded / 2;
    for (long i = 0; i < rows; i++) kc_prefetch_lines_t0((const char *)m->codes + (first + i) * stride + next * bytes, bytes);
}

void kc_gemm_q_rows(const kc_weights *w, long r0, long r1, const kc_gemm_qx *x, float *y, long ldy,
                    const float *bias, float *scratch) {
    const long n = x->n, padded = x->padded, groups = (n + QX_TOKENS - 1) / QX_TOKENS;
    const long blocks = padded / KC_BLOCK, tileFloats = QX_ROWS * QX_TOKENS;
    q_tile tile;
    float *c = scratch;  // groups × QX_ROWS × 16
#if KC_X86
    const int vnni = kc_isa() >= KC_ISA_AVX512;
#else
    const int vnni = 0;
#endif
    for (long rb = r0; rb < r1; rb += QX_ROWS) {
        long rows = kc_min(QX_ROWS, r1 - rb);
        memset(c, 0, sizeof(float) * (size_t)(groups * tileFloats));
        for (long sb = 0; sb < padded / KC_SUPER; sb++) {
#if KC_X86
            if (kc_isa() >= KC_ISA_AVX2) load_tile_avx2(w, rb, rows, sb, &tile); else
#endif
            load_tile(w, rb, rows, sb, &tile);
            prefetch_next_tile(w, rb, rows, sb, r1);
            for (long g = 0; g < groups; g++) {
                const uint8_t *xc = x->codes + ((size_t)g * padded + (size_t)sb * KC_SUPER) * QX_TOKENS;
                const float *xs = x->scales + ((size_t)g * blocks + (size_t)sb * KC_SUBBLOCKS) * QX_TOKENS;
#if KC_X86
                if (vnni && g + 1 < groups) {
                    micro_avx512(xc, xc + (size_t)padded * QX_TOKENS, xs, xs + (size_t)blocks * QX_TOKENS, &tile,
                                 c + g * tileFloats, c + (g + 1) * tileFloats);
                    g++;
                    continue;
                }
                if (vnni) {  // an odd last group runs beside itself; the copy's sums are discarded
                    float spare[QX_ROWS * QX_TOKENS];
                    memcpy(spare, c + g * tileFloats, sizeof spare);
                    micro_avx512(xc, xc, xs, xs, &tile, c + g * tileFloats, spare);
                    continue;
                }
#endif
                micro_generic(xc, xs, &tile, c + g * tileFloats);
            }
        }
        for (long t = 0; t < n; t++) {
            float *out = y + t * ldy + rb;
            const float *ct = c + (t / QX_TOKENS) * tileFloats + t % QX_TOKENS;
            for (long i = 0; i < rows; i++) out[i] = ct[i * QX_TOKENS] + (bias ? bias[rb + i] : 0);
        }
    }
}
