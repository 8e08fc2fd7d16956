import KataribeCKernels

/// Splits matrix products across threads and calls the C kernels. One token (decoding) streams
/// the weights through a GEMV; a batch (prompt processing) goes through the blocked GEMM, which
/// reads every weight once for the whole batch.
enum MatrixProducts {
    /// Rows per task: enough work that handing out a task (an atomic add) is noise, while many
    /// tasks per thread keep both cores busy when one is interrupted.
    static func minimumRows(columns: Int) -> Int { max(4, 65_536 / max(1, columns)) }

    static func denseGEMV(
        _ tensor: RawTensor, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
        _ bias: UnsafePointer<Float>?, _ parallelism: Parallelism
    ) {
        let rows = tensor.shape[0], columns = tensor.shape[1], dtype = tensor.dtype
        let w = SendableRawPointer(tensor.baseAddress), xs = SendableRawPointer(UnsafeRawPointer(x)), ys = SendablePointer(y)
        let b = bias.map { SendableRawPointer(UnsafeRawPointer($0)) }
        parallelism.forEachChunk(of: rows, minimumChunk: minimumRows(columns: columns), granularity: 4, chunksPerThread: 8) { range in
            let x = xs.pointer.assumingMemoryBound(to: Float.self)
            let bias = b?.pointer.assumingMemoryBound(to: Float.self)
            let r0 = range.lowerBound, r1 = range.upperBound
            switch dtype {
            case .float16: kc_gemv_f16(w.pointer.assumingMemoryBound(to: UInt16.self), columns, r0, r1, x, ys.pointer, bias)
            case .bfloat16: kc_gemv_bf16(w.pointer.assumingMemoryBound(to: UInt16.self), columns, r0, r1, x, ys.pointer, bias)
            default: kc_gemv_f32(w.pointer.assumingMemoryBound(to: Float.self), columns, r0, r1, x, ys.pointer, bias)
            }
        }
    }

    static func quantizedGEMV(
        _ matrix: QuantizedMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
        _ bias: UnsafePointer<Float>?, _ parallelism: Parallelism
    ) {
        let columns = matrix.columns, padded = matrix.paddedColumns
        // x quantized once for all rows: codes, a scale per 256, a code sum per 32.
        let activations = QuantizedActivations(padded: padded, format: matrix.format)
        defer { activations.deallocate() }
        activations.quantize(x, count: columns)
        let input = SendableQuantizedActivations(activations), ys = SendablePointer(y)
        let b = bias.map { SendableRawPointer(UnsafeRawPointer($0)) }
        let format = matrix.format, rows = matrix.rows
        var m = matrix.kernelMatrix
        withUnsafePointer(to: &m) { pointer in
            let mp = SendableRawPointer(pointer)
            parallelism.forEachChunk(of: rows, minimumChunk: minimumRows(columns: columns), granularity: 4, chunksPerThread: 8) { range in
                let bias = b?.pointer.assumingMemoryBound(to: Float.self)
                let m = mp.pointer.assumingMemoryBound(to: kc_qmatrix.self)
                withUnsafePointer(to: input.value.kernelForm) { a in
                    if format == .q8 {
                        kc_gemv_q8(m, range.lowerBound, range.upperBound, a, ys.pointer, bias)
                    } else {
                        kc_gemv_q4(m, range.lowerBound, range.upperBound, a, ys.pointer, bias)
                    }
                }
            }
        }
    }

    static func ggmlGEMV(
        _ matrix: GGMLMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
        _ bias: UnsafePointer<Float>?, _ parallelism: Parallelism
    ) {
        let columns = matrix.columns, rows = matrix.rows, rowBytes = matrix.rowBytes, type = Int32(matrix.type.rawValue)
        // x quantized once for all rows, into int8 blocks matching the weights' block size.
        let activations = UnsafeMutableRawPointer.allocate(byteCount: max(1, kc_ggml_activation_bytes(type, columns)), alignment: 64)
        defer { activations.deallocate() }
        kc_ggml_quantize_activations(type, x, columns, activations)
        let xq = SendableRawPointer(UnsafeRawPointer(activations)), w = SendableRawPointer(matrix.data.baseAddress)
        let ys = SendablePointer(y), b = bias.map { SendableRawPointer(UnsafeRawPointer($0)) }
        parallelism.forEachChunk(of: rows, minimumChunk: minimumRows(columns: columns), granularity: 4, chunksPerThread: 8) { range in
            kc_ggml_gemv(type, w.pointer, rowBytes, columns, range.lowerBound, range.upperBound, xq.pointer, ys.pointer,
                         b?.pointer.assumingMemoryBound(to: Float.self))
        }
    }

    /// `y[b] = W · x[b] (+ bias)` for each of `n` activation rows with exactly the arithmetic of a
    /// one-row GEMV, so a row's result never depends on which other rows share the step (batched
    /// decoding's promise), while W still comes from memory once: each task walks its rows in tiles
    /// small enough to stay in L1/L2, and every activation row passes over a tile before the next.
    /// Tiles start at multiples of 4 rows, where the kernels' row groups start in a plain GEMV too.
    static func rowwiseGEMV(
        _ matrix: WeightMatrix, _ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>,
        _ bias: UnsafePointer<Float>?, _ parallelism: Parallelism
    ) {
        let rows = matrix.rows, columns = matrix.columns
        let tile = max(4, min(64, tileBytes / max(1, matrix.byteCount / max(1, rows))) & ~3)
        let ys = SendablePointer(y), b = bias.map { SendableRawPointer(UnsafeRawPointer($0)) }
        func walk(_ kernel: @escaping @Sendable (_ r0: Int, _ r1: Int, _ row: Int, _ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>?) -> Void) {
            parallelism.forEachChunk(of: rows, minimumChunk: max(tile, minimumRows(columns: columns)), granularity: 4,
                                     chunksPerThread: 8) { range in
                let bias = b?.pointer.assumingMemoryBound(to: Float.self)
                var r0 = range.lowerBound
                while r0 < range.upperBound {
                    let r1 = min(r0 + tile, range.upperBound)
                    for row in 0..<n { kernel(r0, r1, row, ys.pointer + row * rows, bias) }
                    r0 = r1
                }
            }
        }
        switch matrix.storage {
        case .dense(let tensor):
            let w = SendableRawPointer(tensor.baseAddress), xs = SendablePointer(UnsafeMutablePointer(mutating: x))
            let dtype = tensor.dtype
            walk { r0, r1, row, y, bias in
                let x = UnsafePointer(xs.pointer + row * columns)
                switch dtype {
                case .float16: kc_gemv_f16(w.pointer.assumingMemoryBound(to: UInt16.self), columns, r0, r1, x, y, bias)
                case .bfloat16: kc_gemv_bf16(w.pointer.assumingMemoryBound(to: UInt16.self), columns, r0, r1, x, y, bias)
                default: kc_gemv_f32(w.pointer.assumingMemoryBound(to: Float.self), columns, r0, r1, x, y, bias)
                }
            }
        case .quantized(let quantized):
            let activations = (0..<n).map { row in
                let a = QuantizedActivations(padded: quantized.paddedColumns, format: quantized.format)
                a.quantize(x + row * columns, count: columns)
                return a
            }
            defer { for a in activations { a.deallocate() } }
            let forms = activations.map(\.kernelForm)
            forms.withUnsafeBufferPointer { formBuffer in
                let inputs = SendableRawPointer(UnsafeRawPointer(formBuffer.baseAddress!))
                var m = quantized.kernelMatrix
                withUnsafePointer(to: &m) { pointer in
                    let mp = SendableRawPointer(pointer), q8 = quantized.format == .q8
                    if q8 {
                        // One kernel call per chunk takes every activation row (see kc_gemv_q8_batch).
                        parallelism.forEachChunk(of: rows, minimumChunk: minimumRows(columns: columns), granularity: 4,
                                                 chunksPerThread: 8) { range in
                            kc_gemv_q8_batch(mp.pointer.assumingMemoryBound(to: kc_qmatrix.self), range.lowerBound, range.upperBound,
                                             inputs.pointer.assumingMemoryBound(to: kc_qactivations.self), n, ys.pointer, rows,
                                             b?.pointer.assumingMemoryBound(to: Float.self))
                        }
                        return
                    }
                    walk { r0, r1, row, y, bias in
                        let m = mp.pointer.assumingMemoryBound(to: kc_qmatrix.self)
                        let a = inputs.pointer.assumingMemoryBound(to: kc_qactivations.self) + row
                        if q8 { kc_gemv_q8(m, r0, r1, a, y, bias) } else { kc_gemv_q4(m, r0, r1, a, y, bias) }
                    }
                }
            }
        case .ggml(let ggml):
            let type = Int32(ggml.type.rawValue), stride = max(1, kc_ggml_activation_bytes(type, columns))
            let activations = UnsafeMutableRawPointer.allocate(byteCount: n * stride, alignment: 64)
            defer { activations.deallocate() }
            for row in 0..<n { kc_ggml_quantize_activations(type, x + row * columns, columns, activations + row * stride) }
            let xq = SendableRawPointer(UnsafeRawPointer(activations)), w = SendableRawPointer(ggml.data.baseAddress)
            let rowBytes = ggml.rowBytes
            walk { r0, r1, row, y, bias in
                kc_ggml_gemv(type, w.pointer, rowBytes, columns, r0, r1, xq.pointer + row * stride, y, bias)
            }
        }
    }

    /// Weight bytes per tile of `rowwiseGEMV`: within a 32 KiB L1 beside the activations.
    static let tileBytes = 16 << 10

    /// Runs `body` on ranges of the token groups a GEMM packs its input in, shared by the cores:
    /// groups pack independently, and on the calling thread alone packing left the workers
    /// waiting (~4% of a gemma-3-270m prompt for the float GEMM, ~3% of a bfloat16 one).
    static func forEachTokenGroupRange(
        _ n: Int, tokensPerGroup: Int, _ parallelism: Parallelism, _ body: @Sendable (Range<Int>) -> Void
    ) {
        let groups = (n + tokensPerGroup - 1) / tokensPerGroup
        parallelism.forEachChunk(of: groups, minimumChunk: max(1, 16 / tokensPerGroup), chunksPerThread: 1, body)
    }

    static func gemm(
        _ weights: kc_weights, rows: Int, _ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>,
        _ bias: UnsafePointer<Float>?, _ parallelism: Parallelism
    ) {
        if usesInt8GEMM(weights) { return int8GEMM(weights, rows: rows, x, n, y, bias, parallelism) }
        if usesInt16GEMM(weights) { return int16GEMM(weights, rows: rows, x, n, y, bias, parallelism) }
        let columns = weights.cols
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: kc_gemm_packed_x_count(n, columns))
        defer { packed.deallocate() }
        let groups = (n + Int(KC_GEMM_TOKENS) - 1) / Int(KC_GEMM_TOKENS)
        let source = SendableRawPointer(UnsafeRawPointer(x)), target = SendablePointer(packed)
        forEachTokenGroupRange(n, tokensPerGroup: Int(KC_GEMM_TOKENS), parallelism) { range in
            let first = range.lowerBound * Int(KC_GEMM_TOKENS), end = min(n, range.upperBound * Int(KC_GEMM_TOKENS))
            kc_gemm_pack_x(source.pointer.assumingMemoryBound(to: Float.self) + first * columns, end - first, columns,
                           target.pointer + first * columns)
        }
        let scratchCount = Int(KC_GEMM_ROWS) * Int(KC_GEMM_KC) + groups * Int(KC_GEMM_TOKENS) * Int(KC_GEMM_ROWS)
        let xp = SendablePointer(packed), ys = SendablePointer(y), b = bias.map { SendableRawPointer(UnsafeRawPointer($0)) }
        var w = weights
        let minimum = max(Int(KC_GEMM_ROWS), 2 * Int(KC_GEMM_ROWS) * 64 / max(1, n))
        withUnsafePointer(to: &w) { pointer in
            let wp = SendableRawPointer(pointer)
            parallelism.forEachChunk(of: rows, minimumChunk: minimum, granularity: Int(KC_GEMM_ROWS), chunksPerThread: 8) { range in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
                defer { scratch.deallocate() }
                kc_gemm_rows(wp.pointer.assumingMemoryBound(to: kc_weights.self), range.lowerBound, range.upperBound,
                             xp.pointer, n, ys.pointer, rows, b?.pointer.assumingMemoryBound(to: Float.self), scratch)
            }
        }
    }
}

extension MatrixProducts {
    /// Q8/Q4 prompts go through the int8 GEMM where the CPU has AVX-512 VNNI (2-2.7× the float
    /// GEMM's multiply-adds per second there); elsewhere the float GEMM widens the codes, which
    /// AVX2's integer products would not beat.
    static func usesInt8GEMM(_ weights: kc_weights) -> Bool {
        (weights.dtype == Int32(KC_W_Q8) || weights.dtype == Int32(KC_W_Q4)) && kc_isa() >= Int32(KC_ISA_AVX512)
    }

    /// `Y = X · Wᵀ` with every token quantized as the int8 GEMV quantizes it (kc_gemm_q_rows).
    static func int8GEMM(
        _ weights: kc_weights, rows: Int, _ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>,
        _ bias: UnsafePointer<Float>?, _ parallelism: Parallelism
    ) {
        let columns = weights.cols
        let packed = UnsafeMutableRawPointer.allocate(byteCount: kc_gemm_qx_bytes(n, columns), alignment: 64)
        let packScratch = UnsafeMutableRawPointer.allocate(byteCount: kc_gemm_qx_scratch_bytes(columns), alignment: 64)
        defer { packed.deallocate(); packScratch.deallocate() }
        var qx = kc_gemm_qx()
        kc_gemm_pack_qx(x, n, columns, packed, &qx, packScratch)
        let scratchCount = 4 * 16 * ((n + 15) / 16)
        let ys = SendablePointer(y), b = bias.map { SendableRawPointer(UnsafeRawPointer($0)) }
        var w = weights
        withUnsafePointer(to: &w) { wPointer in
            withUnsafePointer(to: &qx) { xPointer in
                let wp = SendableRawPointer(wPointer), xp = SendableRawPointer(xPointer)
                parallelism.forEachChunk(of: rows, minimumChunk: 16, granularity: 4, chunksPerThread: 8) { range in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
                    defer { scratch.deallocate() }
                    kc_gemm_q_rows(wp.pointer.assumingMemoryBound(to: kc_weights.self), range.lowerBound, range.upperBound,
                                   xp.pointer.assumingMemoryBound(to: kc_gemm_qx.self), ys.pointer, rows,
                                   b?.pointer.assumingMemoryBound(to: Float.self), scratch)
                }
            }
        }
    }
}

extension MatrixProducts {
    /// GGUF weights' prompts go through the 16-bit-activation GEMM where the CPU has AVX-512
    /// VNNI: their integer codes as stored against tokens rounded to 16 bits per block of 32
    /// (gemm_ggml.c). A gemma-3-270m prompt runs 1.4× faster than through the float GEMM, and
    /// scoring moves from 0.0008 / 0.0005 to 0.0009 / 0.0007 nats from transformers (8-bit
    /// activations: 0.08 / 0.11). Elsewhere the float GEMM widens the blocks exactly.
    static func usesInt16GEMM(_ weights: kc_weights) -> Bool {
        weights.dtype == Int32(KC_W_GGML) && kc_isa() >= Int32(KC_ISA_AVX512)
    }

    /// `Y = X · Wᵀ` for a GGML matrix with every token rounded to 16 bits (kc_gemm_ggml_rows).
    static func int16GEMM(
        _ weights: kc_weights, rows: Int, _ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>,
        _ bias: UnsafePointer<Float>?, _ parallelism: Parallelism
    ) {
        let columns = weights.cols
        let packed = UnsafeMutableRawPointer.allocate(byteCount: kc_gemm_wx_bytes(n, columns), alignment: 64)
        defer { packed.deallocate() }
        let source = SendableRawPointer(UnsafeRawPointer(x)), target = SendableRawPointer(UnsafeRawPointer(packed))
        forEachTokenGroupRange(n, tokensPerGroup: 16, parallelism) { range in
            kc_gemm_pack_wx(source.pointer.assumingMemoryBound(to: Float.self), n, columns, range.lowerBound, range.upperBound,
                            UnsafeMutableRawPointer(mutating: target.pointer))
        }
        let scratchBytes = kc_gemm_ggml_scratch_bytes(n)
        let ys = SendablePointer(y), b = bias.map { SendableRawPointer(UnsafeRawPointer($0)) }
        var w = weights
        withUnsafePointer(to: &w) { wPointer in
            let wp = SendableRawPointer(wPointer)
            parallelism.forEachChunk(of: rows, minimumChunk: 16, granularity: 16, chunksPerThread: 8) { range in
                let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
                defer { scratch.deallocate() }
                kc_gemm_ggml_rows(wp.pointer.assumingMemoryBound(to: kc_weights.self), range.lowerBound, range.upperBound,
                                  target.pointer, n, ys.pointer, rows, b?.pointer.assumingMemoryBound(to: Float.self), scratch)
            }
        }
    }

    /// `Y = X · Wᵀ` for bfloat16 weights with the inputs rounded to bfloat16, on AVX-512 BF16
    /// (kc_gemm_bf16_rows).
    static func bfloat16GEMM(
        _ tensor: RawTensor, _ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>,
        _ bias: UnsafePointer<Float>?, _ parallelism: Parallelism
    ) {
        let rows = tensor.shape[0], columns = tensor.shape[1]
        let packed = UnsafeMutablePointer<UInt16>.allocate(capacity: kc_gemm_bx_count(n, columns))
        defer { packed.deallocate() }
        let source = SendableRawPointer(UnsafeRawPointer(x)), target = SendablePointer(packed)
        forEachTokenGroupRange(n, tokensPerGroup: 16, parallelism) { range in
            kc_gemm_pack_bx(source.pointer.assumingMemoryBound(to: Float.self), n, columns, range.lowerBound, range.upperBound,
                            target.pointer)
        }
        let scratchCount = 8 * 16 * ((n + 15) / 16)
        let w = SendableRawPointer(tensor.baseAddress), xp = SendableRawPointer(UnsafeRawPointer(packed))
        let ys = SendablePointer(y), b = bias.map { SendableRawPointer(UnsafeRawPointer($0)) }
        parallelism.forEachChunk(of: rows, minimumChunk: 16, granularity: 8, chunksPerThread: 8) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
            defer { scratch.deallocate() }
            kc_gemm_bf16_rows(w.pointer.assumingMemoryBound(to: UInt16.self), columns, range.lowerBound, range.upperBound,
                              xp.pointer.assumingMemoryBound(to: UInt16.self), n, ys.pointer, rows,
                              b?.pointer.assumingMemoryBound(to: Float.self), scratch)
        }
    }
}

/// Activations in the form the int8 kernels take (see KataribeCKernels.h).
struct QuantizedActivations {
    let padded: Int
    let kernelForm: kc_qactivations
    let staging: UnsafeMutablePointer<Float>

    /// `format` q4 also keeps the codes regrouped for the AVX-512 Q4 GEMV, once per product
    /// rather than once per kernel call (row-wise products call it per tile and row).
    init(padded: Int, format: WeightFormat) {
        self.padded = padded
        kernelForm = kc_qactivations(
            codes: .allocate(capacity: padded), super_scales: .allocate(capacity: padded / 256),
            block_scales: .allocate(capacity: padded / 32), sums: .allocate(capacity: padded / 32),
            q4_codes: format == .q4 ? .allocate(capacity: padded) : nil)
        staging = .allocate(capacity: padded)
    }

    func quantize(_ x: UnsafePointer<Float>, count: Int) {
        // Padding columns hold zeros so they add nothing.
        staging.update(from: x, count: count)
        (staging + count).update(repeating: 0, count: padded - count)
        withUnsafePointer(to: kernelForm) { kc_quantize_activations(staging, padded, $0) }
    }

    func deallocate() {
        kernelForm.codes.deallocate()
        kernelForm.super_scales.deallocate()
        kernelForm.block_scales.deallocate()
        kernelForm.sums.deallocate()
        kernelForm.q4_codes?.deallocate()
        staging.deallocate()
    }
}

/// Read-only during the parallel region that shares it.
struct SendableQuantizedActivations: @unchecked Sendable {
    let value: QuantizedActivations
    init(_ value: QuantizedActivations) { self.value = value }
}
