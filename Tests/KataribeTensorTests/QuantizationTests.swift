import KataribeCKernels
import Testing
@testable import KataribeTensor

/// Weights shaped like a trained layer's: mostly small, a few larger ones per row.
func weightLike(_ count: Int, seed: UInt64) -> [Float] {
    pseudoRandom(count, seed: seed).enumerated().map { i, v in v * (i % 97 == 0 ? 0.2 : 0.03) }
}

func quantized(_ values: [Float], rows: Int, columns: Int, _ format: WeightFormat) throws -> WeightMatrix {
    try matrix(values, rows: rows, columns: columns, dtype: .float32).converted(to: format, parallelism: .serial)
}

func rows(of w: WeightMatrix) -> [[Float]] {
    (0..<w.rows).map { r in
        [Float](unsafeUninitializedCapacity: w.columns) { buffer, count in
            w.row(r, into: buffer.baseAddress!)
            count = w.columns
        }
    }
}

/// `Y = X · Wᵀ + b` in double precision from the weights as `row` widens them.
func referenceProduct(_ w: WeightMatrix, _ x: [Float], n: Int, bias: [Float]) -> [Double] {
    let widened = rows(of: w)
    var out = [Double](repeating: 0, count: n * w.rows)
    for r in 0..<w.rows {
        for t in 0..<n {
            var s = Double(bias[r])
            for k in 0..<w.columns { s += Double(widened[r][k]) * Double(x[t * w.columns + k]) }
            out[t * w.rows + r] = s
        }
    }
    return out
}

func product(_ w: WeightMatrix, _ x: [Float], n: Int, bias: [Float], parallelism: Parallelism) -> [Float] {
    var y = [Float](repeating: .nan, count: n * w.rows)
    x.withUnsafeBufferPointer { xp in
        bias.withUnsafeBufferPointer { bp in
            y.withUnsafeMutableBufferPointer { yp in
                w.gemm(xp.baseAddress!, count: n, into: yp.baseAddress!, bias: bp.baseAddress!, parallelism: parallelism)
            }
        }
    }
    return y
}

@Suite("Block quantization")
struct QuantizationTests {
    /// RMS error of plain round-to-nearest with one float scale per 32 (absmax / levels): what
    /// llama.cpp's q8_0 and q4_0 do, the bar our 8-bit block scales must not fall below.
    func plainBlockError(_ values: [Float], columns: Int, levels: Float) -> Double {
        var error = 0.0
        for start in stride(from: 0, to: values.count, by: 32) {
            let block = values[start..<min(start + 32, values.count)]
            let scale = (block.map { abs($0) }.max() ?? 0) / levels
            for v in block {
                let q = scale > 0 ? (v / scale).rounded() * scale : 0
                error += Double(v - q) * Double(v - q)
            }
        }
        return error
    }

    @Test("quantize then dequantize is as close as plain per-32 absmax rounding (q8 < 1% RMS, q4 < 15%), ragged widths padded",
          arguments: [WeightFormat.q8, .q4])
    func roundTrip(format: WeightFormat) throws {
        for (rowCount, columns) in [(3, 256), (5, 100), (2, 600), (7, 2048)] {
            let values = weightLike(rowCount * columns, seed: UInt64(columns))
            let w = try quantized(values, rows: rowCount, columns: columns, format)
            #expect(w.format == format && w.rows == rowCount && w.columns == columns)
            let back = rows(of: w).flatMap { $0 }
            var error = 0.0, norm = 0.0
            for (a, b) in zip(values, back) {
                error += Double(a - b) * Double(a - b)
                norm += Double(a) * Double(a)
            }
            let relative = (error / norm).squareRoot()
            #expect(relative < (format == .q8 ? 0.01 : 0.15), "\(rowCount)x\(columns): relative RMS error \(relative)")
            // Rows are quantized independently, so compare row by row.
            var plain = 0.0
            for r in 0..<rowCount {
                plain += plainBlockError(Array(values[(r * columns)..<((r + 1) * columns)]), columns: columns,
                                         levels: format == .q8 ? 127 : 7.5)
            }
            #expect(error <= plain * (format == .q8 ? 1.15 : 1.0), "\(rowCount)x\(columns): \(error) vs plain \(plain)")
        }
    }

    @Test("values already on the q8 grid come back exactly")
    func exactGrid() throws {
        // Every block reaches ±1, so all share the largest block scale and every value is a code/127.
        let columns = 512
        var values = [Float](repeating: 1, count: columns)
        for k in 0..<columns where k % 32 != 0 {
            let code = (k * 7) % 255 - 127
            values[k] = Float(code) / 127
        }
        let w = try quantized(values, rows: 1, columns: columns, .q8)
        let back = rows(of: w)[0]
        let worst = zip(values, back).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-6)
    }

    @Test("an all-zero row quantizes to zeros without dividing by zero", arguments: [WeightFormat.q8, .q4])
    func zeros(format: WeightFormat) throws {
        let w = try quantized([Float](repeating: 0, count: 2 * 300), rows: 2, columns: 300, format)
        #expect(rows(of: w).flatMap { $0 }.allSatisfy { $0 == 0 })
        let y = product(w, [Float](repeating: 1, count: 300), n: 1, bias: [0.5, -0.5], parallelism: .serial)
        #expect(y == [0.5, -0.5])
    }

    @Test("quantized gemv and gemm match a double-precision product of the dequantized weights",
          arguments: [WeightFormat.q8, .q4])
    func products(format: WeightFormat) throws {
        for (rowCount, columns, n) in [(1, 256, 1), (7, 100, 3), (37, 600, 1), (130, 512, 9), (64, 2048, 2)] {
            let w = try quantized(weightLike(rowCount * columns, seed: 5), rows: rowCount, columns: columns, format)
            let x = pseudoRandom(n * columns, seed: 11)
            let bias = pseudoRandom(rowCount, seed: 3)
            let expected = referenceProduct(w, x, n: n, bias: bias)
            // Weights are exact after dequantization; single tokens (and, on AVX-512 VNNI, prompts:
            // the int8 GEMM) also quantize x to int8 (one scale per 256), which bounds the error
            // by ~|x|max/254 · Σ|w|.
            let weightSum = rows(of: w).map { $0.reduce(0) { $0 + abs(Double($1)) } }.max() ?? 0
            let int8Activations = n == 1 || kc_isa() >= Int32(KC_ISA_AVX512)
            let tolerance = int8Activations ? weightSum / 127 + 1e-5 : 1e-4
            for parallelism in [Parallelism.serial, Parallelism(threadCount: 3)] {
                let y = product(w, x, n: n, bias: bias, parallelism: parallelism)
                let worst = zip(y, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
                #expect(worst < tolerance, "\(rowCount)x\(columns) n=\(n): max error \(worst) (tolerance \(tolerance))")
            }
        }
    }

    @Test("the AVX2 and portable kernels give the same products", arguments: WeightFormat.allCases.filter { !$0.isGGML })  // GGML: GGMLMatrixTests
    func portableAgrees(format: WeightFormat) throws {
        guard KernelInfo.instructionSet != "generic" else { return }
        for (rowCount, columns, n) in [(9, 300, 1), (13, 512, 1), (21, 768, 5), (6, 256, 17)] {
            let values = weightLike(rowCount * columns, seed: 9)
            let w = format.isQuantized ? try quantized(values, rows: rowCount, columns: columns, format)
                : try matrix(values, rows: rowCount, columns: columns, dtype: format.denseType!)
            let x = pseudoRandom(n * columns, seed: 4), bias = pseudoRandom(rowCount, seed: 8)
            // AVX2 explicitly: on AVX-512 VNNI, quantized prompts take the int8 GEMM, which
            // AVX512KernelTests compares with its own portable version.
            kc_force_isa(Int32(KC_ISA_AVX2))
            let fast = product(w, x, n: n, bias: bias, parallelism: .serial)
            KernelInfo.usePortableKernels(true)
            let portable = product(w, x, n: n, bias: bias, parallelism: .serial)
            KernelInfo.usePortableKernels(false)
            let worst = zip(fast, portable).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst < 1e-4, "\(format) \(rowCount)x\(columns) n=\(n): \(worst)")
            // The quantizer itself must agree too (it runs row by row in C either way).
            if format.isQuantized {
                KernelInfo.usePortableKernels(true)
                let again = try quantized(values, rows: rowCount, columns: columns, format)
                KernelInfo.usePortableKernels(false)
                #expect(rows(of: again) == rows(of: w))
            }
        }
    }

    @Test("float conversions round to nearest even like torch's .to(dtype)")
    func denseConversion() throws {
        let values: [Float] = [1, -2.5, 1.0009765625, 65504, 1e-8, 3.14159, -0.0, 1 + 1.0 / 256]
        let w = try matrix(values, rows: 2, columns: 4, dtype: .float32)
        let half = rows(of: try w.converted(to: .float16, parallelism: .serial)).flatMap { $0 }
        #expect(half == values.map { Float(Float16($0)) })
        let brain = rows(of: try w.converted(to: .bfloat16, parallelism: .serial)).flatMap { $0 }
        #expect(brain[0] == 1 && brain[1] == -2.5 && brain[5] == 3.140625 && brain[7] == 1)
        #expect(try w.converted(to: .float32, parallelism: .serial).format == .float32)
    }

    @Test("a quantized matrix cannot be converted again, and parts with the wrong shape are rejected")
    func errors() throws {
        let q = try quantized(weightLike(256, seed: 1), rows: 1, columns: 256, .q8)
        #expect(throws: TensorError.self) { try q.converted(to: .q4, parallelism: .serial) }
        let parts = try #require(q.quantizedMatrix)
        #expect(throws: TensorError.self) {
            try QuantizedMatrix(format: .q8, rows: 1, columns: 512, codes: parts.codes, blockScales: parts.blockScales,
                                superScales: parts.superScales)
        }
        #expect(throws: TensorError.notQuantized(.float16)) {
            try QuantizedMatrix(format: .float16, rows: 1, columns: 256, codes: parts.codes, blockScales: parts.blockScales,
                                superScales: parts.superScales)
        }
        #expect(throws: TensorError.self) {
            try QuantizedMatrix(format: .q4, rows: 1, columns: 256, codes: parts.codes, blockScales: parts.blockScales,
                                superScales: parts.superScales)
        }
    }
}
