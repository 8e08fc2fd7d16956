// The few kernels Swift cannot express well: int8 dot products (vpmaddubsw), a register-blocked
// GEMM micro-kernel, vectorised exp/erf, and a spin-then-park thread pool.
//
// Every kernel has a portable C version and, on x86-64, an AVX2+FMA+F16C version chosen at run
// time (kc_isa); the GGML GEMV also has AVX-512 VNNI versions for the types where they measured
// faster. Tests force lower levels with kc_force_isa and compare with the portable path.
// Matrices follow torch's nn.Linear: W is [rows = out features][cols = in features], row-major.
#ifndef KATARIBE_C_KERNELS_H
#define KATARIBE_C_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: CPU dispatch

enum { KC_ISA_GENERIC = 0, KC_ISA_AVX2 = 1, KC_ISA_AVX512 = 2 };

/// The instruction set the kernels use: KC_ISA_AVX2 when the CPU has AVX2, FMA and F16C;
/// KC_ISA_AVX512 when it also has AVX-512 F/BW/VL and VNNI (kernels without an AVX-512 version
/// run their AVX2 one there, so `>= KC_ISA_AVX2` tests stay valid).
int kc_isa(void);
/// The best instruction set this CPU supports (ignores kc_force_isa).
int kc_isa_detected(void);
/// Forces a lower instruction set on the calling thread only (tests); a level above the detected
/// one is ignored.
void kc_force_isa(int isa);

// MARK: Thread pool

/// Called once per task index in [0, tasks); `context` is what kc_parallel_for received.
typedef void (*kc_task_fn)(void *context, long task);

/// Runs fn(context, t) for every t in [0, tasks) on up to `threads` threads (the caller is one of
/// them) and returns when all are done. Workers persist between calls, spin briefly, then sleep.
/// Calls made from inside a task, or while another thread owns the pool, run serially.
void kc_parallel_for(int threads, long tasks, kc_task_fn fn, void *context);

// MARK: Dense GEMV, y[r] = W[r] · x + bias[r] for r in [r0, r1)

void kc_gemv_f32(const float *w, long cols, long r0, long r1, const float *x, float *y, const float *bias);
void kc_gemv_f16(const uint16_t *w, long cols, long r0, long r1, const float *x, float *y, const float *bias);
void kc_gemv_bf16(const uint16_t *w, long cols, long r0, long r1, const float *x, float *y, const float *bias);

// MARK: Block quantization
//
// Rows are cut into super-blocks of 256 weights (a row is padded with zeros to a multiple of
// 256), each made of 8 blocks of 32. Every block has a 7-bit integer scale s and every
// super-block a float32 scale D, so a weight is w = D·s·c for its code c:
//   Q8: c is an int8 in [-127, 127], s in [0, 127]; codes[padded] per row.
//   Q4: c = u - 8 for a 4-bit u, s in [-127, 127] (signed, so the extra negative code can go to
//       either sign); 32 bytes hold two blocks, byte j carries element j of the even block in its
//       low nibble and of the odd block in its high nibble; codes[padded / 2] per row.
// Block scales are integers so the int8 dot product can apply them inside vpmaddwd and sum a whole
// super-block in int32 before a single float multiply-add.
//
// Activations for these kernels use the same shape: int8 codes q, a float scale T per 256 values
// and an integer scale t in [0, 31] per 32, x ≈ T·t·q, plus the int16 sum of codes of each block
// (for Q4's offset of 8). Per-block scales keep one large activation from coarsening the other
// 224 of its super-block; products of the two 7- and 5-bit block scales fit vpmaddwd's int16
// operand and a super-block's sum stays inside int32 (8 · 2 · 127² · 127 · 31 < 2³¹).

enum { KC_BLOCK = 32, KC_SUPER = 256, KC_SUBBLOCKS = 8 };

/// Columns after padding to whole super-blocks.
static inline long kc_padded_cols(long cols) { return (cols + KC_SUPER - 1) / KC_SUPER * KC_SUPER; }

/// A quantized matrix in memory: per row, codes then scales at fixed strides.
typedef struct {
    const void *codes;           // rows × code_bytes(padded)
    const uint8_t *block_scales; // rows × padded/32 (Q4: int8 bit patterns)
    const float *super_scales;   // rows × padded/256
    long cols;                   // logical columns
    long padded;                 // kc_padded_cols(cols)
} kc_qmatrix;

/// Code bytes per row: padded for Q8, padded / 2 for Q4.
static inline long kc_q8_code_bytes(long cols) { return kc_padded_cols(cols); }
static inline long kc_q4_code_bytes(long cols) { return kc_padded_cols(cols) / 2; }

/// Quantizes one row of `cols` floats (codes, block scales, super-block scales as laid out above).
/// Q4 chooses each block's scale to minimise the squared error.
void kc_quantize_row_q8(const float *x, long cols, int8_t *codes, uint8_t *block_scales, float *super_scales);
void kc_quantize_row_q4(const float *x, long cols, uint8_t *codes, uint8_t *block_scales, float *super_scales);
/// Widens row r's super-blocks covering [k0, k0 + count) to floats; k0 must be a multiple of
/// 256 and `out` must have room for count rounded up to 256.
void kc_dequantize_q8(const kc_qmatrix *m, long r, long k0, long count, float *out);
void kc_dequantize_q4(const kc_qmatrix *m, long r, long k0, long count, float *out);

/// Activations quantized for the int8 kernels (n values, n a multiple of 256).
typedef struct {
    int8_t *codes;          // n
    float *super_scales;    // n / 256
    int16_t *block_scales;  // n / 32, each in [0, 31]
    int16_t *sums;          // n / 32, Σ codes of the block
    int8_t *q4_codes;       // optional (NULL: regrouped on each call), n: the codes in the order the
                            // AVX-512 Q4 GEMV reads them, filled by kc_quantize_activations
} kc_qactivations;

/// Quantizes activations x[n] (n a multiple of 256; pad with zeros).
void kc_quantize_activations(const float *x, long n, const kc_qactivations *out);

/// y[r] = W[r] · x + bias[r] for r in [r0, r1), x given as quantized activations of m->padded values.
void kc_gemv_q8(const kc_qmatrix *m, long r0, long r1, const kc_qactivations *x, float *y, const float *bias);
void kc_gemv_q4(const kc_qmatrix *m, long r0, long r1, const kc_qactivations *x, float *y, const float *bias);
/// y[b·y_stride + r] = W[r] · x[b] + bias[r] for r in [r0, r1) and b < n: n activation vectors
/// against Q8 rows read once, each result bit-identical to kc_gemv_q8's for that vector alone
/// (r0 a multiple of 4).
void kc_gemv_q8_batch(const kc_qmatrix *m, long r0, long r1, const kc_qactivations *x, long n, float *y, long y_stride,
                      const float *bias);

// MARK: GEMM, Y[t][r] = X[t] · W[r] + bias[r] for a batch of tokens
//
// X is packed once per call into groups of 8 tokens: xp[group][k][8] (missing tokens are zero).
// Each task then widens a few weight rows to floats (any dtype) and runs the micro-kernel.

enum { KC_GEMM_TOKENS = 8, KC_GEMM_ROWS = 6, KC_GEMM_KC = 256 };

/// Floats kc_gemm_pack_x writes for n tokens of `cols` values.
static inline size_t kc_gemm_packed_x_count(long n, long cols) {
    return (size_t)((n + KC_GEMM_TOKENS - 1) / KC_GEMM_TOKENS) * (size_t)cols * KC_GEMM_TOKENS;
}
void kc_gemm_pack_x(const float *x, long n, long cols, float *xp);

/// Weight dtypes the GEMM widens.
enum { KC_W_F32 = 0, KC_W_F16 = 1, KC_W_BF16 = 2, KC_W_Q8 = 3, KC_W_Q4 = 4, KC_W_GGML = 5 };

typedef struct {
    int dtype;              // KC_W_*
    const void *data;       // dense rows (F32/F16/BF16) or ggml blocks (GGML)
    long cols;
    long row_bytes;         // dense, GGML: bytes from one row to the next
    kc_qmatrix quantized;   // Q8/Q4
    int ggml_type;          // GGML: KC_GGML_*
} kc_weights;

/// Widens `count` columns from k0 (a multiple of 256) of row r into out (room for 256 values);
/// for GGML rows count is a multiple of the block size (the last chunk of a 576-column Q8_0 row
/// is 64).
void kc_weights_row(const kc_weights *w, long r, long k0, long count, float *out);

/// Y[t][r] (ldy apart) for t < n and r in [r0, r1), from packed X. `scratch` holds at least
/// KC_GEMM_ROWS * KC_GEMM_KC + n8 * KC_GEMM_ROWS floats, n8 = n rounded up to 8.
void kc_gemm_rows(const kc_weights *w, long r0, long r1, const float *xp, long n,
                  float *y, long ldy, const float *bias, float *scratch);

// MARK: Int8 GEMM for Q8/Q4 weights (prompts on AVX-512 VNNI)
//
// Tokens quantized as for the int8 GEMV (kc_quantize_activations), packed in groups of 16: codes
// + 128 as [group][k / 4][16 tokens][4], and T·t per token and block as [group][block][16].

typedef struct {
    const uint8_t *codes;
    const float *scales;
    long n;        // tokens
    long padded;   // kc_padded_cols(cols)
} kc_gemm_qx;

/// Bytes of the packed tokens, and of the scratch kc_gemm_pack_qx needs, for n tokens of `cols`.
size_t kc_gemm_qx_bytes(long n, long cols);
size_t kc_gemm_qx_scratch_bytes(long cols);
/// Quantizes and packs x[n][cols] into `buffer` (kc_gemm_qx_bytes, 64-byte aligned) and fills `out`.
void kc_gemm_pack_qx(const float *x, long n, long cols, void *buffer, kc_gemm_qx *out, void *scratch);
/// Y[t][r] (ldy apart) for t < x->n and r in [r0, r1) with w a KC_W_Q8 or KC_W_Q4 matrix.
/// `scratch` holds 4 · 16 · ceil(n / 16) floats. AVX-512 VNNI and portable versions give the same
/// bits; a token's result does not depend on the other tokens.
void kc_gemm_q_rows(const kc_weights *w, long r0, long r1, const kc_gemm_qx *x, float *y, long ldy,
                    const float *bias, float *scratch);

// MARK: GEMM for GGUF weights with 16-bit activations (prompts on AVX-512 VNNI)
//
// The weights' integer codes as stored (no widening to float) against each token rounded to
// int16 per block of 32 (d_x = amax / 32767), multiplied with vpdpwssd; see gemm_ggml.c for the
// arithmetic. Tokens packed in groups of 16.

/// Bytes of the packed tokens (64-byte aligned buffer) for n tokens of `cols` (a multiple of 32).
size_t kc_gemm_wx_bytes(long n, long cols);
/// Packs token groups [g0, g1) of x[n][cols] (groups of 16 tokens; ranges may be packed in parallel).
void kc_gemm_pack_wx(const float *x, long n, long cols, long g0, long g1, void *buffer);
/// Scratch bytes kc_gemm_ggml_rows needs for n tokens.
size_t kc_gemm_ggml_scratch_bytes(long n);
/// Y[t][r] (ldy apart) for t < n and r in [r0, r1) with w a KC_W_GGML matrix and xp packed by
/// kc_gemm_pack_wx. AVX-512 VNNI and portable versions give the same bits; a token's result does
/// not depend on the other tokens.
void kc_gemm_ggml_rows(const kc_weights *w, long r0, long r1, const void *xp, long n, float *y, long ldy,
                       const float *bias, void *scratch);

// MARK: bfloat16 GEMM with bfloat16 activations (AVX-512 BF16)
//
// For models run in bfloat16 (`--dtype bf16`): inputs rounded to bfloat16, exact products, float32
// sums, like a bfloat16 nn.Linear. Tokens packed in groups of 16 as [group][k / 2][16][2].

/// 1 when the CPU has AVX-512 BF16 (and the AVX-512 level is not capped).
int kc_gemm_bf16_available(void);
/// uint16 elements kc_gemm_pack_bx writes for n tokens of `cols`.
size_t kc_gemm_bx_count(long n, long cols);
/// Packs token groups [g0, g1) of x[n][cols] (groups of 16; ranges may be packed in parallel).
void kc_gemm_pack_bx(const float *x, long n, long cols, long g0, long g1, uint16_t *out);
/// out[i] = x[i] rounded to the nearest bfloat16 (ties to even), as a float.
void kc_round_bf16(const float *x, float *out, long n);
/// Y[t][r] (ldy apart) for t < n and r in [r0, r1) from bfloat16 rows w[rows][cols]; `scratch`
/// holds 8 · 16 · ceil(n / 16) floats.
void kc_gemm_bf16_rows(const uint16_t *w, long cols, long r0, long r1, const uint16_t *xp, long n,
                       float *y, long ldy, const float *bias, float *scratch);

// MARK: GGML block formats
//
// Weights as GGUF files store them, multiplied without converting. Types use ggml's numbering
// (the ids GGUF stores). A row is a run of blocks, each self-contained, which is what lets a
// memory-mapped file be used in place: blocks of 32 weights (Q4_0 ... Q8_0) or super-blocks of
// 256 (the K formats), fp16 scales inside. Layouts, byte offsets within a block:
//   Q4_0 (18): d, 16 bytes of 4-bit codes (weight j in the low nibble of byte j, weight 16 + j
//              in its high nibble), w = d·(q − 8). Halves rather than interleaving so one shift
//              and mask yield 16 consecutive weights.
//   Q4_1 (20): d, m, codes as Q4_0, w = d·q + m (an offset instead of symmetric range).
//   Q5_0 (22): d, 32 fifth bits as a little-endian uint32 (bit j for weight j), low nibbles as
//              Q4_0; w = d·(q − 16).   Q5_1 (24): d, m, the same bits, w = d·q + m.
//   Q8_0 (34): d, 32 int8 codes, w = d·q.
//   Q4_K (144): d, dmin, 12 bytes of eight 6-bit scales s_j and minimums m_j (one per 32
//              weights), 128 bytes of nibbles (byte l of chunk c: weight 64c + l low, 64c + 32 + l
//              high); w = d·s_j·q − dmin·m_j. Scales as integers under one fp16 pair keep the
//              overhead at 0.5 bit per weight and let the dot product sum a super-block in int32.
//   Q5_K (176): d, dmin, scales as Q4_K, 32 bytes of fifth bits (weight 32b + l: bit b of byte
//              l), nibbles as Q4_K.
//   Q6_K (210): 128 bytes of low nibbles, 64 bytes of high bit pairs, 16 int8 scales (one per 16
//              weights), d; w = d·s_i·(q − 32).
//   Q2_K (84), Q3_K (110): 2-bit codes (+ a third bit for Q3_K) with 4-bit scale/min pairs or
//              signed 6-bit scales per 16 weights.
// ggml_quants.c spells out the bit positions where it unpacks them.

enum {
    KC_GGML_Q4_0 = 2, KC_GGML_Q4_1 = 3, KC_GGML_Q5_0 = 6, KC_GGML_Q5_1 = 7, KC_GGML_Q8_0 = 8,
    KC_GGML_Q2_K = 10, KC_GGML_Q3_K = 11, KC_GGML_Q4_K = 12, KC_GGML_Q5_K = 13, KC_GGML_Q6_K = 14,
};

/// 1 when the kernels below handle this ggml type.
int kc_ggml_supported(int type);
/// Weights per block (32 or 256) and bytes per block of a supported type.
long kc_ggml_block_size(int type);
long kc_ggml_block_bytes(int type);

/// Widens n weights (a multiple of the block size) starting at the block `src` points to, with
/// exactly gguf-py's float32 operations (d·s computed first, no fused multiply-add). The AVX2
/// version (chosen by kc_isa) gives the same bits; the prompt GEMM widens through it.
void kc_ggml_dequantize_row(int type, const void *src, long n, float *out);

/// Bytes of the quantized activations for n inputs (n a multiple of the type's block size).
/// Activations are quantized to int8 once per product so the inner loop is an integer dot
/// product: blocks of 32 with a float scale (32-weight types) or of 256 with code sums per 16
/// (K types), like llama.cpp's Q8_0/Q8_1/Q8_K but with float32 scales.
size_t kc_ggml_activation_bytes(int type, long n);
void kc_ggml_quantize_activations(int type, const float *x, long n, void *out);

/// y[r] = W[r] · x + bias[r] for r in [r0, r1); row r starts at w + r·row_bytes, x is
/// quantized by kc_ggml_quantize_activations(type, ...). The AVX-512 (VNNI), AVX2 and portable
/// versions form the same integer sum per block and differ only in the order their float terms are added
/// (relative difference ~1e-6 of Σ|block terms|).
void kc_ggml_gemv(int type, const void *w, long row_bytes, long cols, long r0, long r1, const void *xq,
                  float *y, const float *bias);

// MARK: Vector math (float32)

/// Exact-erf GELU, x/2·(1 + erf(x/√2)), in place; |error| of erf below 5e-7.
void kc_gelu_erf(float *x, long n);
/// x/2·(1 + tanh(√(2/π)(x + 0.044715x³))), in place.
void kc_gelu_tanh(float *x, long n);
/// Softmax of x[n] in place.
void kc_softmax(float *x, long n);
/// out[i] = exp(x[i]).
void kc_exp(const float *x, float *out, long n);

// MARK: Attention over a KV cache
//
// Keys and values of one head: [positions][dim], float32 or float16 (kv_f16 != 0).

/// scores[j] = scale · q · k_j for j < count.
void kc_attention_scores(const float *q, const void *keys, int kv_f16, long dim, long count, float scale, float *scores);
/// out[dim] = Σ_j p[j] · v_j, or out += Σ_j p[j] · v_j when `accumulate` is non-zero. Per output
/// column the sum runs over j in order, so a cache split in two segments (a shared prompt prefix,
/// then a sequence's own positions) summed by two calls gives the bits of one call.
void kc_attention_values(const float *p, const void *values, int kv_f16, long dim, long count, float *out, int accumulate);
/// Rounds floats to float16 bits.
void kc_f32_to_f16(const float *x, uint16_t *out, long n);
void kc_f16_to_f32(const uint16_t *x, float *out, long n);

#ifdef __cplusplus
}
#endif
#endif
