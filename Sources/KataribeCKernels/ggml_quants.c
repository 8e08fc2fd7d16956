// GGUF's block formats (ggml's Q8_0 ... Q6_K), computed in the form the file stores them.
//
// Dequantization reproduces gguf-py's float32 arithmetic operation for operation (same products,
// same order, no fused multiply-adds), so widened weights equal the reference bit for bit.
//
// The GEMV quantizes the activations once per call and multiplies codes in int8, as llama.cpp
// does: Q8_0-like blocks of 32 (float scale, int8 codes, the scale times the code sum for the
// formats with an offset) for the 32-weight formats, Q8_K-like blocks of 256 (float scale, int8
// codes, code sums per 16) for the K formats. Every block's integer dot product is exact and the
// same in the portable, AVX2 and AVX-512 code; only the float sum over blocks runs in another
// order (8 or 16 lanes, then a horizontal sum), so they agree within a few float ulps of
// Σ|block terms|. Dequantization has an AVX2 version (used by the prompt GEMM to widen weights)
// that is bit-identical to the portable one.
#include "internal.h"

#pragma STDC FP_CONTRACT OFF

// MARK: Activation blocks

/// 32 activations: x ≈ d·q. s = d·Σq lets the offset formats (Q4_1, Q5_1) add m·Σx per block.
typedef struct {
    float d;
    float s;
    int8_t q[32];
} a32;

/// 256 activations: x ≈ d·q, with Σq per 16 for the K formats' offsets and minimums.
typedef struct {
    float d;
    int16_t bsums[16];
    int8_t q[256];
} a256;

static int uses_a256(int type) {
    return type == KC_GGML_Q2_K || type == KC_GGML_Q3_K || type == KC_GGML_Q4_K || type == KC_GGML_Q5_K
        || type == KC_GGML_Q6_K;
}

int kc_ggml_supported(int type) {
    switch (type) {
    case KC_GGML_Q4_0: case KC_GGML_Q4_1: case KC_GGML_Q5_0: case KC_GGML_Q5_1: case KC_GGML_Q8_0:
    case KC_GGML_Q2_K: case KC_GGML_Q3_K: case KC_GGML_Q4_K: case KC_GGML_Q5_K: case KC_GGML_Q6_K:
        return 1;
    default:
        return 0;
    }
}

long kc_ggml_block_size(int type) { return uses_a256(type) ? 256 : 32; }

static inline long block_bytes(int type) {
    switch (type) {
    case KC_GGML_Q4_0: return 18;
    case KC_GGML_Q4_1: return 20;
    case KC_GGML_Q5_0: return 22;
    case KC_GGML_Q5_1: return 24;
    case KC_GGML_Q8_0: return 34;
    case KC_GGML_Q2_K: return 84;
    case KC_GGML_Q3_K: return 110;
    case KC_GGML_Q4_K: return 144;
    case KC_GGML_Q5_K: return 176;
    case KC_GGML_Q6_K: return 210;
    default: return 0;
    }
}

long kc_ggml_block_bytes(int type) { return block_bytes(type); }

size_t kc_ggml_activation_bytes(int type, long n) {
    return uses_a256(type) ? (size_t)(n / 256) * sizeof(a256) : (size_t)(n / 32) * sizeof(a32);
}

static inline uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t load_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline float load_half(const uint8_t *p) { return kc_half_to_float(load_u16(p)); }

/// Symmetric round-to-nearest-even codes in [-127, 127]; returns the scale.
static float quantize_block(const float *x, int n, int8_t *q) {
    float amax = 0;
    for (int i = 0; i < n; i++) amax = fmaxf(amax, fabsf(x[i]));
    float d = amax / 127, id = d != 0 ? 127 / amax : 0;
    for (int i = 0; i < n; i++) q[i] = (int8_t)lrintf(x[i] * id);
    return d;
}

void kc_ggml_quantize_activations(int type, const float *x, long n, void *out) {
    if (uses_a256(type)) {
        a256 *blocks = out;
        for (long b = 0; b < n / 256; b++) {
            a256 *blk = &blocks[b];
            blk->d = quantize_block(x + b * 256, 256, blk->q);
            for (int g = 0; g < 16; g++) {
                int sum = 0;
                for (int i = 0; i < 16; i++) sum += blk->q[g * 16 + i];
                blk->bsums[g] = (int16_t)sum;
            }
        }
    } else {
        a32 *blocks = out;
        for (long b = 0; b < n / 32; b++) {
            a32 *blk = &blocks[b];
            blk->d = quantize_block(x + b * 32, 32, blk->q);
            int sum = 0;
            for (int i = 0; i < 32; i++) sum += blk->q[i];
            blk->s = blk->d * (float)sum;
        }
    }
}

// MARK: Unpacking codes (shared by dequantization and the portable GEMV)

/// The 32 codes of a 32-weight block, offsets not yet subtracted (Q4_0: 0...15, Q5_x: 0...31).
/// The first 16 weights sit in the low nibbles, the last 16 in the high nibbles, so a block
/// unpacks with one shift instead of interleaving; Q5's fifth bits are one little-endian uint32.
static void unpack32(int type, const uint8_t *blk, int *q) {
    switch (type) {
    case KC_GGML_Q4_0: case KC_GGML_Q4_1: {
        const uint8_t *qs = blk + (type == KC_GGML_Q4_0 ? 2 : 4);
        for (int j = 0; j < 16; j++) { q[j] = qs[j] & 15; q[j + 16] = qs[j] >> 4; }
        break;
    }
    case KC_GGML_Q5_0: case KC_GGML_Q5_1: {
        const uint8_t *p = blk + (type == KC_GGML_Q5_0 ? 2 : 4);
        uint32_t qh = load_u32(p);
        const uint8_t *qs = p + 4;
        for (int j = 0; j < 16; j++) {
            q[j] = (qs[j] & 15) | (int)(((qh >> j) & 1) << 4);
            q[j + 16] = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
        }
        break;
    }
    case KC_GGML_Q8_0:
        for (int j = 0; j < 32; j++) q[j] = (int8_t)blk[2 + j];
        break;
    }
}

/// The 6-bit scales and minimums of Q4_K/Q5_K's 8 sub-blocks: 12 bytes hold 16 values, the
/// first four of each in the low 6 bits of bytes 0-7, the other four split into a low nibble in
/// bytes 8-11 and two high bits in the spare top bits of bytes 0-7.
static void k4_scales(const uint8_t *s, int *sc, int *mn) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (s[j + 8] & 15) | ((s[j] >> 6) << 4);
        mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
    }
}

/// Q3_K's 16 signed 6-bit scales: low nibbles in bytes 0-7 (value i: byte i % 8, nibble i / 8),
/// two high bits in bytes 8-11 (byte 8 + i % 4, bits 2·(i / 4)), stored +32.
static void k3_scales(const uint8_t *s, int *sc) {
    for (int i = 0; i < 16; i++) {
        int low = (s[i % 8] >> (4 * (i / 8))) & 15, high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
        sc[i] = (low | (high << 4)) - 32;
    }
}

/// The 256 unsigned codes of a K block, in weight order. The formats interleave bit planes so
/// that one 32-byte load plus shifts yields 32 consecutive weights:
///   Q2_K: byte l of half h holds weights 128h + 32s + l at bits 2s (s = 0...3).
///   Q3_K: the same two bits, plus a third bit for weight 32b + l at bit b of hmask[l]; the code
///         is stored +4 when that bit is 1, so u = low + 4·bit and the weight is u − 4.
///   Q4_K: byte l of chunk c holds weight 64c + l (low nibble) and 64c + 32 + l (high nibble).
///   Q5_K: as Q4_K, fifth bit of weight 32b + l at bit b of qh[l].
///   Q6_K: per half h: ql[64h + l] low/high nibble → weights 128h + l / 128h + 64 + l,
///         ql[64h + 32 + l] → 128h + 32 + l / 128h + 96 + l; the two high bits of weight
///         128h + 32s + l at bits 2s of qh[32h + l]; stored +32.
static void unpack256(int type, const uint8_t *blk, int *u) {
    switch (type) {
    case KC_GGML_Q2_K: {
        const uint8_t *qs = blk + 16;
        for (int h = 0; h < 2; h++)
            for (int s = 0; s < 4; s++)
                for (int l = 0; l < 32; l++) u[128 * h + 32 * s + l] = (qs[32 * h + l] >> (2 * s)) & 3;
        break;
    }
    case KC_GGML_Q3_K: {
        const uint8_t *hm = blk, *qs = blk + 32;
        for (int h = 0; h < 2; h++)
            for (int s = 0; s < 4; s++)
                for (int l = 0; l < 32; l++) {
                    int i = 128 * h + 32 * s + l;
                    u[i] = ((qs[32 * h + l] >> (2 * s)) & 3) | (((hm[l] >> (i / 32)) & 1) << 2);
                }
        break;
    }
    case KC_GGML_Q4_K: case KC_GGML_Q5_K: {
        const uint8_t *qs = blk + (type == KC_GGML_Q4_K ? 16 : 48), *qh = blk + 16;
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                u[64 * c + l] = qs[32 * c + l] & 15;
                u[64 * c + 32 + l] = qs[32 * c + l] >> 4;
            }
        if (type == KC_GGML_Q5_K)
            for (int i = 0; i < 256; i++) u[i] |= ((qh[i % 32] >> (i / 32)) & 1) << 4;
        break;
    }
    case KC_GGML_Q6_K: {
        const uint8_t *ql = blk, *qh = blk + 128;
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++) {
                const uint8_t *L = ql + 64 * h, H = qh[32 * h + l];
                int *o = u + 128 * h;
                o[l] = (L[l] & 15) | ((H & 3) << 4);
                o[l + 32] = (L[l + 32] & 15) | (((H >> 2) & 3) << 4);
                o[l + 64] = (L[l] >> 4) | (((H >> 4) & 3) << 4);
                o[l + 96] = (L[l + 32] >> 4) | (((H >> 6) & 3) << 4);
            }
        break;
    }
    }
}

// MARK: Dequantization

static void dequantize_block(int type, const uint8_t *blk, float *out) {
    int q[256];
    switch (type) {
    case KC_GGML_Q4_0: case KC_GGML_Q5_0: case KC_GGML_Q8_0: {
        float d = load_half(blk);
        int offset = type == KC_GGML_Q4_0 ? 8 : type == KC_GGML_Q5_0 ? 16 : 0;
        unpack32(type, blk, q);
        for (int j = 0; j < 32; j++) out[j] = d * (float)(q[j] - offset);
        break;
    }
    case KC_GGML_Q4_1: case KC_GGML_Q5_1: {
        float d = load_half(blk), m = load_half(blk + 2);
        unpack32(type, blk, q);
        for (int j = 0; j < 32; j++) {
            float scaled = d * (float)q[j];
            out[j] = scaled + m;
        }
        break;
    }
    case KC_GGML_Q2_K: {
        float d = load_half(blk + 80), dmin = load_half(blk + 82);
        unpack256(type, blk, q);
        for (int i = 0; i < 16; i++) {
            float dl = d * (float)(blk[i] & 15), ml = dmin * (float)(blk[i] >> 4);
            for (int l = 0; l < 16; l++) {
                float scaled = dl * (float)q[16 * i + l];
                out[16 * i + l] = scaled - ml;
            }
        }
        break;
    }
    case KC_GGML_Q3_K: {
        float d = load_half(blk + 108);
        int sc[16];
        k3_scales(blk + 96, sc);
        unpack256(type, blk, q);
        for (int i = 0; i < 16; i++) {
            float dl = d * (float)sc[i];
            for (int l = 0; l < 16; l++) out[16 * i + l] = dl * (float)(q[16 * i + l] - 4);
        }
        break;
    }
    case KC_GGML_Q4_K: case KC_GGML_Q5_K: {
        float d = load_half(blk), dmin = load_half(blk + 2);
        int sc[8], mn[8];
        k4_scales(blk + 4, sc, mn);
        unpack256(type, blk, q);
        for (int j = 0; j < 8; j++) {
            float dl = d * (float)sc[j], ml = dmin * (float)mn[j];
            for (int l = 0; l < 32; l++) {
                float scaled = dl * (float)q[32 * j + l];
                out[32 * j + l] = scaled - ml;
            }
        }
        break;
    }
    case KC_GGML_Q6_K: {
        float d = load_half(blk + 208);
        unpack256(type, blk, q);
        for (int i = 0; i < 16; i++) {
            float dl = d * (float)(int8_t)blk[192 + i];
            for (int l = 0; l < 16; l++) out[16 * i + l] = dl * (float)(q[16 * i + l] - 32);
        }
        break;
    }
    }
}

static void dequantize_row_generic(int type, const void *src, long n, float *out) {
    const long bs = kc_ggml_block_size(type), bytes = kc_ggml_block_bytes(type);
    for (long b = 0; b < n / bs; b++) dequantize_block(type, (const uint8_t *)src + b * bytes, out + b * bs);
}

// MARK: Portable GEMV
//
// The reference for the AVX2 code: per block an exact integer dot product of the stored
// (unsigned) codes, then
//   32-weight formats: (d_w·d_x)·Σq_w·q_x − offset·d_w·(d_x·Σq_x) for Q4_0/Q5_0 (offsets 8, 16),
//                      plus m_w·(d_x·Σq_x) for Q4_1/Q5_1, nothing more for Q8_0's signed codes;
//   K formats: (d_w·d_x)·Σ_i s_i·Σ q_w q_x − (dmin_w·d_x)·Σ_i m_i·Σq_x,
// with Q3_K/Q6_K's offsets (4, 32) folded into the integer sum through the code sums.

static float dot_row_generic(int type, const uint8_t *row, long cols, const void *xq) {
    float total = 0;
    int q[256];
    if (!uses_a256(type)) {
        const a32 *x = xq;
        const long bytes = block_bytes(type);
        const int offset = type == KC_GGML_Q4_0 ? 8 : type == KC_GGML_Q5_0 ? 16 : 0;
        const int has_min = type == KC_GGML_Q4_1 || type == KC_GGML_Q5_1;
        for (long b = 0; b < cols / 32; b++) {
            const uint8_t *blk = row + b * bytes;
            unpack32(type, blk, q);
            int32_t dot = 0;
            for (int j = 0; j < 32; j++) dot += q[j] * x[b].q[j];
            float term = (load_half(blk) * x[b].d) * (float)dot;
            if (offset) term -= (float)offset * load_half(blk) * x[b].s;
            if (has_min) term += load_half(blk + 2) * x[b].s;
            total += term;
        }
        return total;
    }
    const a256 *x = xq;
    const long bytes = block_bytes(type);
    for (long b = 0; b < cols / 256; b++) {
        const uint8_t *blk = row + b * bytes;
        const a256 *a = &x[b];
        unpack256(type, blk, q);
        int32_t dot = 0, mins = 0;
        switch (type) {
        case KC_GGML_Q2_K:
            for (int i = 0; i < 16; i++) {
                int32_t s = 0;
                for (int l = 0; l < 16; l++) s += q[16 * i + l] * a->q[16 * i + l];
                dot += (blk[i] & 15) * s;
                mins += (blk[i] >> 4) * a->bsums[i];
            }
            total += (load_half(blk + 80) * a->d) * (float)dot - (load_half(blk + 82) * a->d) * (float)mins;
            break;
        case KC_GGML_Q3_K: case KC_GGML_Q6_K: {
            int sc[16];
            if (type == KC_GGML_Q3_K) k3_scales(blk + 96, sc);
            else for (int i = 0; i < 16; i++) sc[i] = (int8_t)blk[192 + i];
            const int offset = type == KC_GGML_Q3_K ? 4 : 32;
            for (int i = 0; i < 16; i++) {
                int32_t s = 0;
                for (int l = 0; l < 16; l++) s += q[16 * i + l] * a->q[16 * i + l];
                dot += sc[i] * (s - offset * a->bsums[i]);
            }
            total += (load_half(blk + (type == KC_GGML_Q3_K ? 108 : 208)) * a->d) * (float)dot;
            break;
        }
        case KC_GGML_Q4_K: case KC_GGML_Q5_K: {
            int sc[8], mn[8];
            k4_scales(blk + 4, sc, mn);
            for (int j = 0; j < 8; j++) {
                int32_t s = 0;
                for (int l = 0; l < 32; l++) s += q[32 * j + l] * a->q[32 * j + l];
                dot += sc[j] * s;
                mins += mn[j] * (a->bsums[2 * j] + a->bsums[2 * j + 1]);
            }
            total += (load_half(blk) * a->d) * (float)dot - (load_half(blk + 2) * a->d) * (float)mins;
            break;
        }
        }
    }
    return total;
}

static void gemv_generic(int type, const uint8_t *w, long row_bytes, long cols, long r0, long r1,
                         const void *xq, float *y, const float *bias) {
    for (long r = r0; r < r1; r++) y[r] = dot_row_generic(type, w + r * row_bytes, cols, xq) + (bias ? bias[r] : 0);
}

// MARK: AVX2 GEMV
//
// vpmaddubsw needs one unsigned operand: the weights' unsigned codes go in directly and their
// offsets come out through the activations' code sums (integer for the K formats, the float
// d_x·Σq_x for Q4_0/Q5_0, three vector instructions per block fewer than making the codes
// signed); Q8_0's signed codes move their sign onto the activation, |w|·sign(x, w). Pair sums
// stay inside int16 before vpmaddwd widens them: 2·128·127 (Q8_0), 2·63·127 (Q6_K).
// One row at a time so each row is one linear stream, prefetched KC_PREFETCH_BYTES ahead like
// gemv_quant.c.

#if KC_X86

KC_AVX2 static inline float half_avx2(const uint8_t *p) { return _cvtsh_ss(load_u16(p)); }

/// 16 bytes → 32 nibbles in weight order (low nibbles first).
KC_AVX2 static inline __m256i nibbles32(const uint8_t *p) {
    __m128i b = _mm_loadu_si128((const __m128i *)p);
    __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(15));
}

/// Bit j of `bits` → 0x10 in byte j. Each byte takes the source byte holding its bit, then ORs in
/// every other bit: only bytes whose own bit was set become 0xff.
KC_AVX2 static inline __m256i fifth_bits(uint32_t bits) {
    const __m256i spread = _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL, 0x0101010101010101LL, 0);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread);
    bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfeLL));
    return _mm256_and_si256(_mm256_cmpeq_epi8(bytes, _mm256_set1_epi8(-1)), _mm256_set1_epi8(0x10));
}

/// Σ pairs of signed w·x in int32 lanes (w of magnitude ≤ 128).
KC_AVX2 static inline __m256i dot_signed(__m256i w, __m256i x) {
    __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/// One block's integer dot product in 8 int32 lanes; adds the block's offset term to *mins.
KC_AVX2 static inline __attribute__((always_inline)) __m256i block32_avx2(int type, const uint8_t *blk, const a32 *x,
                                                                         float *mins) {
    __m256i xq = _mm256_loadu_si256((const __m256i *)x->q);
    const __m256i ones = _mm256_set1_epi16(1);
    switch (type) {
    case KC_GGML_Q4_0:  // unsigned codes, then −8·d_w·(d_x·Σq_x)
        *mins -= 8 * half_avx2(blk) * x->s;
        return _mm256_madd_epi16(_mm256_maddubs_epi16(nibbles32(blk + 2), xq), ones);
    case KC_GGML_Q5_0: {  // as Q4_0, offset 16
        *mins -= 16 * half_avx2(blk) * x->s;
        __m256i q = _mm256_or_si256(nibbles32(blk + 6), fifth_bits(load_u32(blk + 2)));
        return _mm256_madd_epi16(_mm256_maddubs_epi16(q, xq), ones);
    }
    case KC_GGML_Q8_0:
        return dot_signed(_mm256_loadu_si256((const __m256i *)(blk + 2)), xq);
    case KC_GGML_Q4_1:
        *mins += half_avx2(blk + 2) * x->s;
        return _mm256_madd_epi16(_mm256_maddubs_epi16(nibbles32(blk + 4), xq), ones);
    default: {  // Q5_1
        *mins += half_avx2(blk + 2) * x->s;
        __m256i q = _mm256_or_si256(nibbles32(blk + 8), fifth_bits(load_u32(blk + 4)));
        return _mm256_madd_epi16(_mm256_maddubs_epi16(q, xq), ones);
    }
    }
}

/// The loop of a row of 32-weight blocks, for a block function returning the block's 8 int32
/// partial sums (AVX2 or VNNI): two blocks per step into two accumulators, so consecutive blocks'
/// float multiply-adds do not wait on each other.
#define KC_ROW32_LOOP(BLOCK_FN)                                                                              \
    const long bytes = block_bytes(type), blocks = cols / 32;                                               \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();                                          \
    float mins0 = 0, mins1 = 0;                                                                             \
    long b = 0;                                                                                             \
    for (; b + 2 <= blocks; b += 2) {                                                                       \
        const uint8_t *blk = row + b * bytes;                                                               \
        _mm_prefetch((const char *)blk + KC_PREFETCH_BYTES, _MM_HINT_NTA);                                  \
        __m256i s0 = BLOCK_FN(type, blk, &x[b], &mins0);                                                    \
        __m256i s1 = BLOCK_FN(type, blk + bytes, &x[b + 1], &mins1);                                        \
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(half_avx2(blk) * x[b].d), _mm256_cvtepi32_ps(s0), acc0);     \
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(half_avx2(blk + bytes) * x[b + 1].d), _mm256_cvtepi32_ps(s1), acc1); \
    }                                                                                                       \
    if (b < blocks) {                                                                                       \
        const uint8_t *blk = row + b * bytes;                                                               \
        __m256i s0 = BLOCK_FN(type, blk, &x[b], &mins0);                                                    \
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(half_avx2(blk) * x[b].d), _mm256_cvtepi32_ps(s0), acc0);     \
    }                                                                                                       \
    return kc_hsum8(_mm256_add_ps(acc0, acc1)) + (mins0 + mins1);

/// Two blocks per step (see KC_ROW32_LOOP): a few percent on the development machine; the ~20
/// instructions per block are the limit.
KC_AVX2 static inline __attribute__((always_inline)) float row32_avx2(int type, const uint8_t *row, long cols,
                                                                     const a32 *x) {
    KC_ROW32_LOOP(block32_avx2)
}

// The K formats' integer scales are widened to int16 once per super-block and handed to
// vpmaddwd by byte shuffles (one per 32 weights) instead of scalar extracts and broadcasts;
// minimum and offset terms go through the activations' code sums with two vpmaddwd per
// super-block and stay in vector accumulators until the row ends.

/// Int16 multipliers for weights 32k...32k + 31, made of groups of 16 with the signed byte
/// scales 2k and 2k + 1 of `scales`: the low lane gets scale 2k, the high lane 2k + 1. Shuffling
/// bytes, then widening: two instructions (broadcasting int16 words within lanes took three).
KC_AVX2 static inline __attribute__((always_inline)) __m256i pair_scales(__m128i scales, int k) {
    const char a = (char)(2 * k), b = (char)(2 * k + 1);
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, _mm_setr_epi8(a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b)));
}

/// Word j of `scales` in every int16 of both lanes.
KC_AVX2 static inline __attribute__((always_inline)) __m256i single_scale(__m256i scales, int j) {
    return _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)((2 * j + 1) << 8 | 2 * j)));
}

/// Σ pairs of u·x (u unsigned) weighted by int16 multipliers, in int32 lanes.
KC_AVX2 static inline __m256i weighted(__m256i u, const int8_t *x, __m256i multipliers) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)x)), multipliers);
}

/// Σ_i s_i · bsums_i in int32 lanes, for 16 int16 scales in two halves.
KC_AVX2 static inline __m128i scaled_bsums(__m128i lo, __m128i hi, const int16_t *bsums) {
    return _mm_add_epi32(_mm_madd_epi16(lo, _mm_loadu_si128((const __m128i *)bsums)),
                         _mm_madd_epi16(hi, _mm_loadu_si128((const __m128i *)(bsums + 8))));
}

KC_AVX2 static inline __m256i widen128(__m128i v) { return _mm256_inserti128_si256(_mm256_setzero_si256(), v, 0); }

KC_AVX2 static inline __attribute__((always_inline)) float row256_avx2(int type, const uint8_t *row, long cols, const a256 *x) {
    const long bytes = block_bytes(type), blocks = cols / 256;
    const __m256i low4 = _mm256_set1_epi8(15), low2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    __m128 mins = _mm_setzero_ps();
    for (long b = 0; b < blocks; b++) {
        const uint8_t *blk = row + b * bytes;
        const a256 *a = &x[b];
        kc_prefetch_lines(blk + KC_PREFETCH_BYTES, bytes);
        __m256i sum = _mm256_setzero_si256();
        float d;
        switch (type) {
        case KC_GGML_Q2_K: {
            __m128i packed = _mm_loadu_si128((const __m128i *)blk);
            __m128i sc = _mm_and_si128(packed, _mm_set1_epi8(15)), mn = _mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(15));
            for (int h = 0; h < 2; h++) {
                __m256i Q = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * h));
                for (int s = 0; s < 4; s++) {
                    __m256i u = _mm256_and_si256(_mm256_srli_epi16(Q, 2 * s), low2);
                    sum = _mm256_add_epi32(sum, weighted(u, a->q + 128 * h + 32 * s, pair_scales(sc, 4 * h + s)));
                }
            }
            d = half_avx2(blk + 80) * a->d;
            __m128i m = scaled_bsums(_mm_cvtepu8_epi16(mn), _mm_cvtepu8_epi16(_mm_srli_si128(mn, 8)), a->bsums);
            mins = _mm_fnmadd_ps(_mm_set1_ps(half_avx2(blk + 82) * a->d), _mm_cvtepi32_ps(m), mins);
            break;
        }
        case KC_GGML_Q3_K: {
            // k3_scales four at a time: low nibbles from words a, b (scales 0-7 low nibbles, 8-15
            // high), two high bits from word c at shifts 0, 2, 4, 6 for scales 0-3, 4-7, 8-11, 12-15.
            uint32_t wa = load_u32(blk + 96), wb = load_u32(blk + 100), wc = load_u32(blk + 104);
            __m128i scales = _mm_sub_epi8(_mm_setr_epi32(
                (int)((wa & 0x0f0f0f0fu) | ((wc << 4) & 0x30303030u)), (int)((wb & 0x0f0f0f0fu) | ((wc << 2) & 0x30303030u)),
                (int)(((wa >> 4) & 0x0f0f0f0fu) | (wc & 0x30303030u)), (int)(((wb >> 4) & 0x0f0f0f0fu) | ((wc >> 2) & 0x30303030u))),
                _mm_set1_epi8(32));
            __m128i lo128 = _mm_cvtepi8_epi16(scales), hi128 = _mm_cvtepi8_epi16(_mm_srli_si128(scales, 8));
            __m256i H = _mm256_loadu_si256((const __m256i *)blk);
            for (int h = 0; h < 2; h++) {
                __m256i Q = _mm256_loadu_si256((const __m256i *)(blk + 32 + 32 * h));
                for (int s = 0; s < 4; s++) {
                    __m256i hb = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 4 * h + s), one), 2);
                    __m256i u = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(Q, 2 * s), low2), hb);
                    sum = _mm256_add_epi32(sum, weighted(u, a->q + 128 * h + 32 * s, pair_scales(scales, 4 * h + s)));
                }
            }
            // Codes are stored +4: subtract 4·Σ_i s_i·Σq_x.
            sum = _mm256_sub_epi32(sum, widen128(_mm_slli_epi32(scaled_bsums(lo128, hi128, a->bsums), 2)));
            d = half_avx2(blk + 108) * a->d;
            break;
        }
        case KC_GGML_Q6_K: {
            __m128i packed = _mm_loadu_si128((const __m128i *)(blk + 192));
            __m128i lo128 = _mm_cvtepi8_epi16(packed), hi128 = _mm_cvtepi8_epi16(_mm_srli_si128(packed, 8));
            for (int h = 0; h < 2; h++) {
                __m256i L0 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h));
                __m256i L1 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h + 32));
                __m256i H = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
                __m256i u0 = _mm256_or_si256(_mm256_and_si256(L0, low4), _mm256_slli_epi16(_mm256_and_si256(H, low2), 4));
                __m256i u1 = _mm256_or_si256(_mm256_and_si256(L1, low4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 2), low2), 4));
                __m256i u2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L0, 4), low4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 4), low2), 4));
                __m256i u3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L1, 4), low4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 6), low2), 4));
                const int8_t *xq = a->q + 128 * h;
                sum = _mm256_add_epi32(sum, weighted(u0, xq, pair_scales(packed, 4 * h)));
                sum = _mm256_add_epi32(sum, weighted(u1, xq + 32, pair_scales(packed, 4 * h + 1)));
                sum = _mm256_add_epi32(sum, weighted(u2, xq + 64, pair_scales(packed, 4 * h + 2)));
                sum = _mm256_add_epi32(sum, weighted(u3, xq + 96, pair_scales(packed, 4 * h + 3)));
            }
            // Codes are stored +32: subtract 32·Σ_i s_i·Σq_x.
            sum = _mm256_sub_epi32(sum, widen128(_mm_slli_epi32(scaled_bsums(lo128, hi128, a->bsums), 5)));
            d = half_avx2(blk + 208) * a->d;
            break;
        }
        default: {  // Q4_K, Q5_K: unpack the 6-bit scales and minimums four bytes at a time
            uint32_t w0 = load_u32(blk + 4), w1 = load_u32(blk + 8), w2 = load_u32(blk + 12);
            uint32_t scales_lo = w0 & 0x3f3f3f3fu, scales_hi = (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u);
            uint32_t mins_lo = w1 & 0x3f3f3f3fu, mins_hi = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u);
            __m128i packed = _mm_setr_epi32((int)scales_lo, (int)scales_hi, (int)mins_lo, (int)mins_hi);
            __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(packed));
            // Minimums apply per 32 weights = two code sums: add the sums pairwise first.
            __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)a->bsums), _mm_loadu_si128((const __m128i *)(a->bsums + 8)));
            __m128i m = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(packed, 8)), pairs);
            const uint8_t *qs = blk + (type == KC_GGML_Q4_K ? 16 : 48);
            __m256i H = type == KC_GGML_Q5_K ? _mm256_loadu_si256((const __m256i *)(blk + 16)) : _mm256_setzero_si256();
            for (int c = 0; c < 4; c++) {
                __m256i Q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
                __m256i lo = _mm256_and_si256(Q, low4), hi = _mm256_and_si256(_mm256_srli_epi16(Q, 4), low4);
                if (type == KC_GGML_Q5_K) {
                    lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 2 * c), one), 4));
                    hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 2 * c + 1), one), 4));
                }
                sum = _mm256_add_epi32(sum, weighted(lo, a->q + 64 * c, single_scale(sc, 2 * c)));
                sum = _mm256_add_epi32(sum, weighted(hi, a->q + 64 * c + 32, single_scale(sc, 2 * c + 1)));
            }
            d = half_avx2(blk) * a->d;
            mins = _mm_fnmadd_ps(_mm_set1_ps(half_avx2(blk + 2) * a->d), _mm_cvtepi32_ps(m), mins);
            break;
        }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sum), acc);
    }
    __m128 total = _mm_add_ps(mins, _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)));
    total = _mm_add_ps(total, _mm_movehl_ps(total, total));
    return _mm_cvtss_f32(_mm_add_ss(total, _mm_movehdup_ps(total)));
}

/// One loop per type and instruction set, so the type's switch inside the row functions folds away
/// at compile time: NAME(rows, cols, ...) for the function, TARGET its target attribute.
#define KC_GGML_ROWS(TARGET, NAME, TYPE, ROW_FN, BLOCK)                                                 \
    TARGET static void NAME(const uint8_t *w, long row_bytes, long cols, long r0, long r1,              \
                            const void *xq, float *y, const float *bias) {                             \
        for (long r = r0; r < r1; r++)                                                                 \
            y[r] = ROW_FN(KC_GGML_##TYPE, w + r * row_bytes, cols, (const BLOCK *)xq) + (bias ? bias[r] : 0); \
    }
#define KC_GGML_ROWS_AVX2(TYPE, ROW_FN, BLOCK) KC_GGML_ROWS(KC_AVX2, rows_##TYPE, TYPE, ROW_FN, BLOCK)
KC_GGML_ROWS_AVX2(Q4_0, row32_avx2, a32)
KC_GGML_ROWS_AVX2(Q4_1, row32_avx2, a32)
KC_GGML_ROWS_AVX2(Q5_0, row32_avx2, a32)
KC_GGML_ROWS_AVX2(Q5_1, row32_avx2, a32)
KC_GGML_ROWS_AVX2(Q8_0, row32_avx2, a32)
KC_GGML_ROWS_AVX2(Q2_K, row256_avx2, a256)
KC_GGML_ROWS_AVX2(Q3_K, row256_avx2, a256)
KC_GGML_ROWS_AVX2(Q4_K, row256_avx2, a256)
KC_GGML_ROWS_AVX2(Q5_K, row256_avx2, a256)
KC_GGML_ROWS_AVX2(Q6_K, row256_avx2, a256)

// MARK: AVX2 dequantization
//
// Widening weights for the prompt GEMM (gemm.c) runs once per weight per call, so the scalar
// unpacking above cost a large share of prompt time. These do the same float32 operations as
// dequantize_block eight lanes at a time: codes become exact int32, the per-block factors are the
// same scalar products computed in the same order, and multiply and add stay separate
// instructions (no FMA) — so every output is bit for bit the portable one.

enum { DQ_SCALE = 0, DQ_PLUS = 1, DQ_MINUS = 2 };

/// 8 int32 codes (offset already subtracted) → d·q, d·q + m or d·q − m.
KC_AVX2 static inline __attribute__((always_inline)) void dq8(__m256i q, __m256 d, __m256 m, int mode, float *out) {
    __m256 v = _mm256_mul_ps(d, _mm256_cvtepi32_ps(q));
    if (mode == DQ_PLUS) v = _mm256_add_ps(v, m);
    if (mode == DQ_MINUS) v = _mm256_sub_ps(v, m);
    _mm256_storeu_ps(out, v);
}

/// 16 unsigned byte codes, minus `offset`, with one scale (and minimum).
KC_AVX2 static inline __attribute__((always_inline)) void dq16(__m128i u, int offset, float d, float m, int mode, float *out) {
    const __m256i off = _mm256_set1_epi32(offset);
    const __m256 dv = _mm256_set1_ps(d), mv = _mm256_set1_ps(m);
    dq8(_mm256_sub_epi32(_mm256_cvtepu8_epi32(u), off), dv, mv, mode, out);
    dq8(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(u, 8)), off), dv, mv, mode, out + 8);
}

/// 32 unsigned byte codes with one scale.
KC_AVX2 static inline __attribute__((always_inline)) void dq32(__m256i u, int offset, float d, float m, int mode, float *out) {
    dq16(_mm256_castsi256_si128(u), offset, d, m, mode, out);
    dq16(_mm256_extracti128_si256(u, 1), offset, d, m, mode, out + 16);
}

/// 32 unsigned byte codes, the first 16 with (d0, m0), the last 16 with (d1, m1).
KC_AVX2 static inline __attribute__((always_inline)) void dq32_pair(__m256i u, int offset, float d0, float m0, float d1,
                                                                    float m1, int mode, float *out) {
    dq16(_mm256_castsi256_si128(u), offset, d0, m0, mode, out);
    dq16(_mm256_extracti128_si256(u, 1), offset, d1, m1, mode, out + 16);
}

/// A block's unsigned codes (before the format's offset) as 32-byte vectors in weight order,
/// u[i] = weights 32i ... 32i + 31: one vector for the 32-weight formats, eight for the K formats.
/// Shared by dequantization and kc_ggml_codes.
KC_AVX2 static inline __attribute__((always_inline)) void unsigned_codes_avx2(int type, const uint8_t *blk, __m256i u[8]) {
    const __m256i low4 = _mm256_set1_epi8(15), low2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    switch (type) {
    case KC_GGML_Q8_0: u[0] = _mm256_loadu_si256((const __m256i *)(blk + 2)); break;
    case KC_GGML_Q4_0: u[0] = nibbles32(blk + 2); break;
    case KC_GGML_Q5_0: u[0] = _mm256_or_si256(nibbles32(blk + 6), fifth_bits(load_u32(blk + 2))); break;
    case KC_GGML_Q4_1: u[0] = nibbles32(blk + 4); break;
    case KC_GGML_Q5_1: u[0] = _mm256_or_si256(nibbles32(blk + 8), fifth_bits(load_u32(blk + 4))); break;
    case KC_GGML_Q2_K:
        for (int h = 0; h < 2; h++) {
            __m256i Q = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * h));
            for (int s = 0; s < 4; s++) u[4 * h + s] = _mm256_and_si256(_mm256_srli_epi16(Q, 2 * s), low2);
        }
        break;
    case KC_GGML_Q3_K: {
        __m256i H = _mm256_loadu_si256((const __m256i *)blk);
        for (int h = 0; h < 2; h++) {
            __m256i Q = _mm256_loadu_si256((const __m256i *)(blk + 32 + 32 * h));
            for (int s = 0; s < 4; s++) {
                __m256i hb = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 4 * h + s), one), 2);
                u[4 * h + s] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(Q, 2 * s), low2), hb);
            }
        }
        break;
    }
    case KC_GGML_Q4_K: case KC_GGML_Q5_K: {
        const uint8_t *qs = blk + (type == KC_GGML_Q4_K ? 16 : 48);
        __m256i H = type == KC_GGML_Q5_K ? _mm256_loadu_si256((const __m256i *)(blk + 16)) : _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i Q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            __m256i lo = _mm256_and_si256(Q, low4), hi = _mm256_and_si256(_mm256_srli_epi16(Q, 4), low4);
            if (type == KC_GGML_Q5_K) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 2 * c), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 2 * c + 1), one), 4));
            }
            u[2 * c] = lo;
            u[2 * c + 1] = hi;
        }
        break;
    }
    case KC_GGML_Q6_K:
        for (int h = 0; h < 2; h++) {
            __m256i L0 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h));
            __m256i L1 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h + 32));
            __m256i H = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
            u[4 * h] = _mm256_or_si256(_mm256_and_si256(L0, low4), _mm256_slli_epi16(_mm256_and_si256(H, low2), 4));
            u[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(L1, low4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 2), low2), 4));
            u[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L0, 4), low4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 4), low2), 4));
            u[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L1, 4), low4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(H, 6), low2), 4));
        }
        break;
    }
}

KC_AVX2 static inline __attribute__((always_inline)) void dequantize_block_avx2(int type, const uint8_t *blk, float *out) {
    __m256i u[8];
    unsigned_codes_avx2(type, blk, u);
    switch (type) {
    case KC_GGML_Q8_0: {
        const __m256 d = _mm256_set1_ps(load_half(blk)), zero = _mm256_setzero_ps();
        for (int j = 0; j < 32; j += 8)
            dq8(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(blk + 2 + j))), d, zero, DQ_SCALE, out + j);
        break;
    }
    case KC_GGML_Q4_0: dq32(u[0], 8, load_half(blk), 0, DQ_SCALE, out); break;
    case KC_GGML_Q5_0: dq32(u[0], 16, load_half(blk), 0, DQ_SCALE, out); break;
    case KC_GGML_Q4_1: case KC_GGML_Q5_1: dq32(u[0], 0, load_half(blk), load_half(blk + 2), DQ_PLUS, out); break;
    case KC_GGML_Q2_K: {
        const float d = load_half(blk + 80), dmin = load_half(blk + 82);
        float dl[16], ml[16];
        for (int i = 0; i < 16; i++) { dl[i] = d * (float)(blk[i] & 15); ml[i] = dmin * (float)(blk[i] >> 4); }
        for (int v = 0; v < 8; v++) dq32_pair(u[v], 0, dl[2 * v], ml[2 * v], dl[2 * v + 1], ml[2 * v + 1], DQ_MINUS, out + 32 * v);
        break;
    }
    case KC_GGML_Q3_K: {
        const float d = load_half(blk + 108);
        int sc[16];
        k3_scales(blk + 96, sc);
        float dl[16];
        for (int i = 0; i < 16; i++) dl[i] = d * (float)sc[i];
        for (int v = 0; v < 8; v++) dq32_pair(u[v], 4, dl[2 * v], 0, dl[2 * v + 1], 0, DQ_SCALE, out + 32 * v);
        break;
    }
    case KC_GGML_Q4_K: case KC_GGML_Q5_K: {
        const float d = load_half(blk), dmin = load_half(blk + 2);
        int sc[8], mn[8];
        k4_scales(blk + 4, sc, mn);
        for (int j = 0; j < 8; j++) dq32(u[j], 0, d * (float)sc[j], dmin * (float)mn[j], DQ_MINUS, out + 32 * j);
        break;
    }
    case KC_GGML_Q6_K: {
        const float d = load_half(blk + 208);
        float dl[16];
        for (int i = 0; i < 16; i++) dl[i] = d * (float)(int8_t)blk[192 + i];
        for (int v = 0; v < 8; v++) dq32_pair(u[v], 32, dl[2 * v], 0, dl[2 * v + 1], 0, DQ_SCALE, out + 32 * v);
        break;
    }
    }
}

#define KC_GGML_DEQUANT_AVX2(TYPE)                                                                     \
    KC_AVX2 static void dequantize_##TYPE(const uint8_t *src, long blocks, float *out) {               \
        const long bs = kc_ggml_block_size(KC_GGML_##TYPE), bytes = block_bytes(KC_GGML_##TYPE);       \
        for (long b = 0; b < blocks; b++) dequantize_block_avx2(KC_GGML_##TYPE, src + b * bytes, out + b * bs); \
    }
KC_GGML_DEQUANT_AVX2(Q4_0)
KC_GGML_DEQUANT_AVX2(Q4_1)
KC_GGML_DEQUANT_AVX2(Q5_0)
KC_GGML_DEQUANT_AVX2(Q5_1)
KC_GGML_DEQUANT_AVX2(Q8_0)
KC_GGML_DEQUANT_AVX2(Q2_K)
KC_GGML_DEQUANT_AVX2(Q3_K)
KC_GGML_DEQUANT_AVX2(Q4_K)
KC_GGML_DEQUANT_AVX2(Q5_K)
KC_GGML_DEQUANT_AVX2(Q6_K)

static void dequantize_row_avx2(int type, const uint8_t *src, long blocks, float *out) {
    switch (type) {
    case KC_GGML_Q4_0: dequantize_Q4_0(src, blocks, out); break;
    case KC_GGML_Q4_1: dequantize_Q4_1(src, blocks, out); break;
    case KC_GGML_Q5_0: dequantize_Q5_0(src, blocks, out); break;
    case KC_GGML_Q5_1: dequantize_Q5_1(src, blocks, out); break;
    case KC_GGML_Q8_0: dequantize_Q8_0(src, blocks, out); break;
    case KC_GGML_Q2_K: dequantize_Q2_K(src, blocks, out); break;
    case KC_GGML_Q3_K: dequantize_Q3_K(src, blocks, out); break;
    case KC_GGML_Q4_K: dequantize_Q4_K(src, blocks, out); break;
    case KC_GGML_Q5_K: dequantize_Q5_K(src, blocks, out); break;
    case KC_GGML_Q6_K: dequantize_Q6_K(src, blocks, out); break;
    }
}

static void gemv_avx2(int type, const uint8_t *w, long row_bytes, long cols, long r0, long r1,
                      const void *xq, float *y, const float *bias) {
    switch (type) {
    case KC_GGML_Q4_0: rows_Q4_0(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    case KC_GGML_Q4_1: rows_Q4_1(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    case KC_GGML_Q5_0: rows_Q5_0(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    case KC_GGML_Q5_1: rows_Q5_1(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    case KC_GGML_Q8_0: rows_Q8_0(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    case KC_GGML_Q2_K: rows_Q2_K(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    case KC_GGML_Q3_K: rows_Q3_K(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    case KC_GGML_Q4_K: rows_Q4_K(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    case KC_GGML_Q5_K: rows_Q5_K(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    case KC_GGML_Q6_K: rows_Q6_K(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    }
}

// MARK: AVX-512 GEMV (F/BW/VL + VNNI)
//
// The same integer block sums as the AVX2 code with fewer instructions, which is what limits the
// GEMV once the weights stream at full speed. Kept only where it measured faster on the
// development machine (AMD EPYC Zen 4, 512-bit operations issued as two 256-bit halves;
// 2048×8192, one thread):
//   - Q6_K in 512 bits (0.53 → 0.45 ms): 128 codes assembled from ql/qh with two vpternlog,
//     vpermw hands the int16 scales to their 16 weights, vpdpwssd folds the scale multiply
//     into the accumulation;
//   - Q4_0/Q4_1/Q5_0/Q5_1 in 256 bits (Q5_0 0.89 → 0.70 ms, Q4_0 0.62 → 0.57): vpdpbusd does
//     vpmaddubsw + vpmaddwd in one, a byte mask gives Q5's fifth bits in one masked add.
// Measured slower and so left on AVX2: the 32-weight formats two blocks per 512-bit vector
// (10-30%: building the two-scale vector costs more than it saves), Q4_K/Q5_K in 512 bits (13%),
// Q8_0 with 256-bit vpdpbusd (|w|·sign(x, w), 1.7× slower for reasons not found). Float factors,
// offsets and minimums are the AVX2 code's.

/// vpermw indices: words 8q...8q + 7 ← word j + q (Q6_K: one scale per 16 weights = 8 words).
KC_AVX512 static inline __m512i scale_index16(int j) {
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_setr_epi16((short)j, (short)j, (short)j, (short)j, (short)j, (short)j, (short)j, (short)j,
                                                 (short)(j + 1), (short)(j + 1), (short)(j + 1), (short)(j + 1),
                                                 (short)(j + 1), (short)(j + 1), (short)(j + 1), (short)(j + 1))),
        _mm256_setr_epi16((short)(j + 2), (short)(j + 2), (short)(j + 2), (short)(j + 2), (short)(j + 2), (short)(j + 2),
                          (short)(j + 2), (short)(j + 2), (short)(j + 3), (short)(j + 3), (short)(j + 3), (short)(j + 3),
                          (short)(j + 3), (short)(j + 3), (short)(j + 3), (short)(j + 3)), 1);
}

/// Σ u·x over 64 codes, each pair sum (≤ 2·63·127, inside int16) times its int16 multiplier,
/// added to `sum`.
KC_AVX512 static inline __m512i weighted512(__m512i sum, __m512i u, const int8_t *x, __m512i multipliers) {
    return _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(u, _mm512_loadu_si512(x)), multipliers);
}

/// Q6_K only (Q4_K/Q5_K in 512 bits measured 13% slower than their AVX2 rows).
KC_AVX512 static inline __attribute__((always_inline)) float row256_avx512(int type, const uint8_t *row, long cols,
                                                                          const a256 *x) {
    const long bytes = block_bytes(type), blocks = cols / 256;
    const __m512i low4 = _mm512_set1_epi8(15), high2 = _mm512_set1_epi8(0x30);
    __m512 acc = _mm512_setzero_ps();
    for (long b = 0; b < blocks; b++) {
        const uint8_t *blk = row + b * bytes;
        const a256 *a = &x[b];
        kc_prefetch_lines(blk + KC_PREFETCH_BYTES, bytes);
        __m512i sum = _mm512_setzero_si512();
        __m128i packed = _mm_loadu_si128((const __m128i *)(blk + 192));
        __m512i sc = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(packed));
        for (int h = 0; h < 2; h++) {
            // Low nibbles of ql[64h...64h + 63] are weights 128h + 0...63 in order, high
            // nibbles 128h + 64...127; their two high bits are bits 0-1, 2-3 (low nibbles)
            // and 4-5, 6-7 (high nibbles) of qh[32h + l]: [H | H >> 2] lines them up.
            __m512i L = _mm512_loadu_si512(blk + 64 * h);
            __m256i H = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
            __m512i HH = _mm512_inserti64x4(_mm512_castsi256_si512(H), _mm256_srli_epi16(H, 2), 1);
            // (L & 15) | high bits in one vpternlog: A·C + B is truth table 0xEC.
            __m512i u0 = _mm512_ternarylogic_epi32(L, _mm512_and_si512(_mm512_slli_epi16(HH, 4), high2), low4, 0xEC);
            __m512i u1 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(L, 4), _mm512_and_si512(HH, high2), low4, 0xEC);
            sum = weighted512(sum, u0, a->q + 128 * h, _mm512_permutexvar_epi16(scale_index16(8 * h), sc));
            sum = weighted512(sum, u1, a->q + 128 * h + 64, _mm512_permutexvar_epi16(scale_index16(8 * h + 4), sc));
        }
        // Codes are stored +32: subtract 32·Σ_i s_i·Σq_x.
        __m128i lo128 = _mm_cvtepi8_epi16(packed), hi128 = _mm_cvtepi8_epi16(_mm_srli_si128(packed, 8));
        sum = _mm512_sub_epi32(sum, _mm512_zextsi128_si512(_mm_slli_epi32(scaled_bsums(lo128, hi128, a->bsums), 5)));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(half_avx2(blk + 208) * a->d), _mm512_cvtepi32_ps(sum), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

/// One block's integer dot product in 8 int32 lanes with 256-bit VNNI: vpdpbusd does the AVX2
/// code's vpmaddubsw + vpmaddwd in one instruction, and Q5's fifth bits come from a byte mask
/// (one masked add instead of five instructions spreading bits to bytes).
KC_AVX512 static inline __attribute__((always_inline)) __m256i block32_vnni(int type, const uint8_t *blk, const a32 *x,
                                                                           float *mins) {
    const __m256i xq = _mm256_loadu_si256((const __m256i *)x->q), zero = _mm256_setzero_si256();
    switch (type) {
    case KC_GGML_Q4_0:
        *mins -= 8 * half_avx2(blk) * x->s;
        return _mm256_dpbusd_epi32(zero, nibbles32(blk + 2), xq);
    case KC_GGML_Q5_0: {
        *mins -= 16 * half_avx2(blk) * x->s;
        __m256i u = nibbles32(blk + 6);
        u = _mm256_mask_add_epi8(u, (__mmask32)load_u32(blk + 2), u, _mm256_set1_epi8(16));
        return _mm256_dpbusd_epi32(zero, u, xq);
    }
    case KC_GGML_Q4_1:
        *mins += half_avx2(blk + 2) * x->s;
        return _mm256_dpbusd_epi32(zero, nibbles32(blk + 4), xq);
    default: {  // Q5_1
        *mins += half_avx2(blk + 2) * x->s;
        __m256i u = nibbles32(blk + 8);
        u = _mm256_mask_add_epi8(u, (__mmask32)load_u32(blk + 4), u, _mm256_set1_epi8(16));
        return _mm256_dpbusd_epi32(zero, u, xq);
    }
    }
}

/// row32_avx2's loop over block32_vnni.
KC_AVX512 static inline __attribute__((always_inline)) float row32_vnni(int type, const uint8_t *row, long cols,
                                                                       const a32 *x) {
    KC_ROW32_LOOP(block32_vnni)
}

#define KC_GGML_ROWS_AVX512(TYPE, ROW_FN, BLOCK) KC_GGML_ROWS(KC_AVX512, rows512_##TYPE, TYPE, ROW_FN, BLOCK)
KC_GGML_ROWS_AVX512(Q4_0, row32_vnni, a32)
KC_GGML_ROWS_AVX512(Q4_1, row32_vnni, a32)
KC_GGML_ROWS_AVX512(Q5_0, row32_vnni, a32)
KC_GGML_ROWS_AVX512(Q5_1, row32_vnni, a32)
KC_GGML_ROWS_AVX512(Q6_K, row256_avx512, a256)

static void gemv_avx512(int type, const uint8_t *w, long row_bytes, long cols, long r0, long r1,
                        const void *xq, float *y, const float *bias) {
    switch (type) {
    case KC_GGML_Q4_0: rows512_Q4_0(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    case KC_GGML_Q4_1: rows512_Q4_1(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    case KC_GGML_Q5_0: rows512_Q5_0(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    case KC_GGML_Q5_1: rows512_Q5_1(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    case KC_GGML_Q6_K: rows512_Q6_K(w, row_bytes, cols, r0, r1, xq, y, bias); break;
    default: gemv_avx2(type, w, row_bytes, cols, r0, r1, xq, y, bias); break;  // measured no faster here
    }
}
#endif

void kc_ggml_gemv(int type, const void *w, long row_bytes, long cols, long r0, long r1, const void *xq,
                  float *y, const float *bias) {
#if KC_X86
    int isa = kc_isa();
    if (isa >= KC_ISA_AVX512) { gemv_avx512(type, w, row_bytes, cols, r0, r1, xq, y, bias); return; }
    if (isa >= KC_ISA_AVX2) { gemv_avx2(type, w, row_bytes, cols, r0, r1, xq, y, bias); return; }
#endif
    gemv_generic(type, w, row_bytes, cols, r0, r1, xq, y, bias);
}

void kc_ggml_dequantize_row(int type, const void *src, long n, float *out) {
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) { dequantize_row_avx2(type, src, n / kc_ggml_block_size(type), out); return; }
#endif
    dequantize_row_generic(type, src, n, out);
}

// MARK: Integer codes for the 16-bit-activation prompt GEMM (gemm_ggml.c)
//
// Every format's weight is scale·code + offset with an integer code: the offset subtracted from
// the stored code where the format has one (Q4_0 8, Q5_0 16, Q3_K 4, Q6_K 32), the scale and
// offset the same scalar products dequantize_block forms (offset = −minimum for Q2_K/Q4_K/Q5_K,
// +m for Q4_1/Q5_1, 0 for the symmetric formats). One scale and offset per 16 weights, repeated
// for the formats that have one per 32.

/// The offset subtracted from a format's stored codes.
static int code_offset(int type) {
    switch (type) {
    case KC_GGML_Q4_0: return 8;
    case KC_GGML_Q5_0: return 16;
    case KC_GGML_Q3_K: return 4;
    case KC_GGML_Q6_K: return 32;
    default: return 0;
    }
}

/// A block's scale and offset per 16 weights (dequantize_block's factors).
static void block_factors(int type, const uint8_t *blk, float *scales, float *offsets) {
    switch (type) {
    case KC_GGML_Q4_0: case KC_GGML_Q5_0: case KC_GGML_Q8_0: case KC_GGML_Q4_1: case KC_GGML_Q5_1: {
        int plus = type == KC_GGML_Q4_1 || type == KC_GGML_Q5_1;
        scales[0] = scales[1] = load_half(blk);
        offsets[0] = offsets[1] = plus ? load_half(blk + 2) : 0;
        break;
    }
    case KC_GGML_Q2_K: {
        float d = load_half(blk + 80), dmin = load_half(blk + 82);
        for (int i = 0; i < 16; i++) {
            scales[i] = d * (float)(blk[i] & 15);
            offsets[i] = -(dmin * (float)(blk[i] >> 4));
        }
        break;
    }
    case KC_GGML_Q3_K: {
        float d = load_half(blk + 108);
        int sc[16];
        k3_scales(blk + 96, sc);
        for (int i = 0; i < 16; i++) { scales[i] = d * (float)sc[i]; offsets[i] = 0; }
        break;
    }
    case KC_GGML_Q4_K: case KC_GGML_Q5_K: {
        float d = load_half(blk), dmin = load_half(blk + 2);
        int sc[8], mn[8];
        k4_scales(blk + 4, sc, mn);
        for (int j = 0; j < 8; j++) {
            scales[2 * j] = scales[2 * j + 1] = d * (float)sc[j];
            offsets[2 * j] = offsets[2 * j + 1] = -(dmin * (float)mn[j]);
        }
        break;
    }
    case KC_GGML_Q6_K: {
        float d = load_half(blk + 208);
        for (int i = 0; i < 16; i++) { scales[i] = d * (float)(int8_t)blk[192 + i]; offsets[i] = 0; }
        break;
    }
    }
}

static void codes_block(int type, const uint8_t *blk, int16_t *codes, float *scales, float *offsets) {
    int q[256];
    const int n = (int)kc_ggml_block_size(type), offset = code_offset(type);
    if (n == 32) unpack32(type, blk, q); else unpack256(type, blk, q);
    for (int j = 0; j < n; j++) codes[j] = (int16_t)(q[j] - offset);
    block_factors(type, blk, scales, offsets);
}

#if KC_X86
/// codes_block with the codes unpacked 32 at a time (unsigned_codes_avx2).
KC_AVX2 static void codes_block_avx2(int type, const uint8_t *blk, int16_t *codes, float *scales, float *offsets) {
    __m256i u[8];
    unsigned_codes_avx2(type, blk, u);
    const __m256i offset = _mm256_set1_epi8((char)code_offset(type));
    for (int v = 0; v < (int)kc_ggml_block_size(type) / 32; v++) {
        __m256i c = _mm256_sub_epi8(u[v], offset);
        _mm256_storeu_si256((__m256i *)(codes + 32 * v), _mm256_cvtepi8_epi16(_mm256_castsi256_si128(c)));
        _mm256_storeu_si256((__m256i *)(codes + 32 * v + 16), _mm256_cvtepi8_epi16(_mm256_extracti128_si256(c, 1)));
    }
    block_factors(type, blk, scales, offsets);
}
#endif

void kc_ggml_codes(int type, const void *src, long count, int16_t *codes, float *scales, float *offsets) {
    const long bs = kc_ggml_block_size(type), bytes = block_bytes(type);
    const uint8_t *blocks = src;
#if KC_X86
    if (kc_isa() >= KC_ISA_AVX2) {
        for (long b = 0; b < count / bs; b++)
            codes_block_avx2(type, blocks + b * bytes, codes + b * bs, scales + b * bs / 16, offsets + b * bs / 16);
        return;
    }
#endif
    for (long b = 0; b < count / bs; b++) codes_block(type, blocks + b * bytes, codes + b * bs, scales + b * bs / 16, offsets + b * bs / 16);
}
