import Foundation
import KataribeCKernels
import KataribeTestSupport
import Testing
@testable import KataribeTensor

/// Byte offsets of the fp16 scales in one block of each supported type: random bytes elsewhere
/// make valid blocks, but a random fp16 scale can be inf/nan or huge.
let scaleOffsets: [GGMLType: [Int]] = [
    .q8_0: [0], .q4_0: [0], .q4_1: [0, 2], .q5_0: [0], .q5_1: [0, 2],
    .q2_K: [80, 82], .q3_K: [108], .q4_K: [0, 2], .q5_K: [0, 2], .q6_K: [208],
]

/// Random valid blocks: every code pattern, finite scales of either sign (0.01-ish, like weights).
func randomGGMLMatrix(_ type: GGMLType, rows: Int, columns: Int, seed: UInt64) throws -> GGMLMatrix {
    var state = seed &* 6_364_136_223_846_793_005 &+ 1
    func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 24
    }
    let rowBytes = columns / type.blockSize * type.blockBytes
    var bytes = (0..<rows * rowBytes).map { _ in UInt8(truncatingIfNeeded: next()) }
    for block in stride(from: 0, to: bytes.count, by: type.blockBytes) {
        for offset in scaleOffsets[type]! {
            let scale = Float16(Float(Int(next() % 2001) - 1000) * 2e-5)
            bytes[block + offset] = UInt8(scale.bitPattern & 0xff)
            bytes[block + offset + 1] = UInt8(scale.bitPattern >> 8)
        }
    }
    let storage = bytes.withUnsafeBytes { ByteStorage(copying: $0) }
    return try GGMLMatrix(type: type, rows: rows, columns: columns,
                          data: RawTensor(dtype: .uint8, shape: [rows, rowBytes], storage: storage, byteOffset: 0))
}

/// Columns that exercise each block size: 576 = 18 blocks of 32 (not a multiple of 256, so the
/// GEMM's last 256-column chunk is partial), 512 = two K super-blocks.
private func testColumns(_ type: GGMLType) -> Int { type.blockSize == 32 ? 576 : 512 }

private func floats(_ matrix: GGMLMatrix) -> [Float] {
    let tensor = matrix.dequantized(parallelism: .serial)
    return Array(UnsafeBufferPointer(start: tensor.baseAddress.assumingMemoryBound(to: Float.self), count: tensor.elementCount))
}

/// Activations with a wide dynamic range: mostly ±1, some blocks 100× smaller, a few outliers.
private func activations(_ count: Int, seed: UInt64) -> [Float] {
    pseudoRandom(count, seed: seed).enumerated().map { i, v in
        (i / 32) % 5 == 3 ? v * 0.01 : i % 97 == 0 ? v * 30 : v
    }
}

/// How far a product with quantized activations may be from the float product Σ w·x: each
/// activation is rounded to its block's step amax/levels (127 for int8, 32767 for int16), so by
/// at most half of it; the rest is float rounding.
private func activationTolerance(weights w: ArraySlice<Float>, x: [Float], block: Int, levels: Double = 127) -> Double {
    var bound = 0.0, magnitude = 0.0
    for start in stride(from: 0, to: x.count, by: block) {
        let step = Double(x[start..<start + block].map(abs).max()!) / levels
        for i in start..<start + block {
            bound += Double(abs(w[w.startIndex + i])) * step / 2
            magnitude += Double(abs(w[w.startIndex + i] * x[i]))
        }
    }
    return bound * 1.001 + magnitude * 1e-5 + 1e-12
}

/// Every instruction set this CPU runs, portable first (kc_isa values).
private let availableISAs: [Int32] = Array(Int32(KC_ISA_GENERIC)...kc_isa_detected())

/// Runs `body` with the C kernels forced to `isa` on this thread (so only with serial work).
private func withISA<T>(_ isa: Int32, _ body: () throws -> T) rethrows -> T {
    kc_force_isa(isa)
    defer { kc_force_isa(kc_isa_detected()) }
    return try body()
}

private func dot(_ w: ArraySlice<Float>, _ x: [Float]) -> Double {
    zip(w, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
}

@Suite("GGML block formats (GGUF weights used as stored)")
struct GGMLMatrixTests {
    static let fixtureNames = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k"]

    @Test("dequantization equals gguf-py's bit for bit on committed fixtures, on every instruction set this CPU has",
          arguments: fixtureNames)
    func dequantizationMatchesGGUFPy(name: String) throws {
        let manifest = try JSONSerialization.jsonObject(
            with: Data(contentsOf: TestPaths.fixture("ggml/manifest.json"))) as! [String: Any]
        let entry = try #require(manifest[name] as? [String: Int])
        let type = try #require(GGMLType(rawValue: UInt32(entry["ggml_type"]!)))
        let rows = entry["rows"]!, columns = entry["columns"]!
        let blocks = try Data(contentsOf: TestPaths.fixture("ggml/\(name).bin"))
        let reference = try Data(contentsOf: TestPaths.fixture("ggml/\(name).f32")).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let storage = blocks.withUnsafeBytes { ByteStorage(copying: $0) }
        let matrix = try GGMLMatrix(type: type, rows: rows, columns: columns,
                                    data: RawTensor(dtype: .uint8, shape: [blocks.count], storage: storage, byteOffset: 0))
        #expect(WeightFormat(ggml: type)?.rawValue == name)

        // The portable dequantizer, then the AVX2 one the prompt GEMM widens weights with: both
        // must give gguf-py's bits. Whole-matrix and per-row (GEMM widening) paths, serially so
        // the forced instruction set applies.
        for isa in availableISAs {
            withISA(isa) {
                let whole = floats(matrix)
                #expect(whole.map(\.bitPattern) == reference.map(\.bitPattern), "isa \(isa)")
                var row = [Float](repeating: .nan, count: columns)
                for r in 0..<rows {
                    WeightMatrix(matrix).row(r, into: &row)
                    #expect(row.map(\.bitPattern) == reference[r * columns..<(r + 1) * columns].map(\.bitPattern),
                            "isa \(isa) row \(r)")
                }
            }
        }
    }

    @Test("vector dequantization equals the portable one bit for bit on random blocks (every code and scale sign)",
          .enabled(if: kc_isa_detected() >= KC_ISA_AVX2, "this CPU has no AVX2"),
          arguments: GGMLMatrix.supportedTypes)
    func vectorDequantizationMatchesPortable(type: GGMLType) throws {
        let matrix = try randomGGMLMatrix(type, rows: 7, columns: testColumns(type) * 2, seed: 300 + UInt64(type.rawValue))
        let portable = withISA(Int32(KC_ISA_GENERIC)) { floats(matrix) }
        for isa in availableISAs.dropFirst() {
            let fast = withISA(isa) { floats(matrix) }
            #expect(fast.map(\.bitPattern) == portable.map(\.bitPattern), "\(type) isa \(isa)")
        }
    }

    @Test("GEMV equals the float product with the dequantized rows, within the activations' int8 rounding",
          arguments: GGMLMatrix.supportedTypes)
    func gemvMatchesFloatProduct(type: GGMLType) throws {
        let rows = 13, columns = testColumns(type)
        let matrix = try randomGGMLMatrix(type, rows: rows, columns: columns, seed: UInt64(type.rawValue))
        let w = floats(matrix), x = activations(columns, seed: 7), bias = pseudoRandom(rows, seed: 8)
        let activationBlock = type.blockSize == 32 ? 32 : 256
        for parallelism in [Parallelism.serial, Parallelism(threadCount: 2)] {
            var y = [Float](repeating: .nan, count: rows)
            WeightMatrix(matrix).gemv(x, into: &y, bias: bias, parallelism: parallelism)
            for r in 0..<rows {
                let weights = w[r * columns..<(r + 1) * columns]
                let expected = dot(weights, x) + Double(bias[r])
                let tolerance = activationTolerance(weights: weights, x: x, block: activationBlock)
                #expect(abs(Double(y[r]) - expected) <= tolerance, "\(type) row \(r): \(y[r]) vs \(expected) ± \(tolerance)")
            }
        }
    }

    /// The vector GEMV at `isa` against the portable one: the same integer sum per block, so
    /// only the float summation order differs.
    private func expectGEMVMatchesPortable(type: GGMLType, isa: Int32) throws {
        // An odd block count, so the unrolled loops' tails (one block for the 32-weight formats)
        // run too.
        let rows = 9, columns = testColumns(type) * 2 + type.blockSize
        let matrix = try randomGGMLMatrix(type, rows: rows, columns: columns, seed: 100 + UInt64(type.rawValue))
        let w = floats(matrix), x = activations(columns, seed: 11)
        func product(_ isa: Int32) -> [Float] {
            withISA(isa) {
                var y = [Float](repeating: .nan, count: rows)
                WeightMatrix(matrix).gemv(x, into: &y, parallelism: .serial)  // forcing the ISA is per thread
                return y
            }
        }
        let fast = product(isa), portable = product(Int32(KC_ISA_GENERIC))
        for r in 0..<rows {
            // Block terms are bounded by Σ|w·x| (up to the activations' rounding); reordering a sum
            // of ~40 float terms moves it by a few ulps of that.
            let magnitude = w[r * columns..<(r + 1) * columns].indices.reduce(0.0) { $0 + Double(abs(w[$1] * x[$1 % columns])) }
            #expect(abs(Double(fast[r]) - Double(portable[r])) <= magnitude * 2e-6, "\(type) isa \(isa) row \(r): \(fast[r]) vs \(portable[r])")
        }
    }

    @Test("AVX2 GEMV forms the same integer sums as the portable one (float summation order only)",
          .enabled(if: kc_isa_detected() >= KC_ISA_AVX2, "this CPU has no AVX2"),
          arguments: GGMLMatrix.supportedTypes)
    func avx2MatchesPortable(type: GGMLType) throws {
        try expectGEMVMatchesPortable(type: type, isa: Int32(KC_ISA_AVX2))
    }

    @Test("AVX-512 VNNI GEMV forms the same integer sums as the portable one (float summation order only)",
          .enabled(if: kc_isa_detected() >= KC_ISA_AVX512, "this CPU has no AVX-512 F/BW/VL + VNNI"),
          arguments: GGMLMatrix.supportedTypes)
    func avx512MatchesPortable(type: GGMLType) throws {
        try expectGEMVMatchesPortable(type: type, isa: Int32(KC_ISA_AVX512))
    }

    @Test("GEMM over several tokens equals per-token products with the dequantized weights (16-bit activations on AVX-512 VNNI)",
          arguments: GGMLMatrix.supportedTypes)
    func gemmMatchesDequantizedProducts(type: GGMLType) throws {
        let rows = 14, columns = testColumns(type), tokens = 11
        let matrix = try randomGGMLMatrix(type, rows: rows, columns: columns, seed: 200 + UInt64(type.rawValue))
        let w = floats(matrix), x = activations(tokens * columns, seed: 12), bias = pseudoRandom(rows, seed: 13)
        var y = [Float](repeating: .nan, count: tokens * rows)
        WeightMatrix(matrix).gemm(x, count: tokens, into: &y, bias: bias, parallelism: Parallelism(threadCount: 2))
        let sixteenBit = kc_isa() >= KC_ISA_AVX512
        for t in 0..<tokens {
            let token = Array(x[t * columns..<(t + 1) * columns])
            for r in 0..<rows {
                let weights = w[r * columns..<(r + 1) * columns]
                let expected = dot(weights, token) + Double(bias[r])
                let magnitude = zip(weights, token).reduce(0.0) { $0 + Double(abs($1.0 * $1.1)) }
                let tolerance = sixteenBit ? activationTolerance(weights: weights, x: token, block: 32, levels: 32767)
                                           : magnitude * 1e-5 + 1e-6
                #expect(abs(Double(y[t * rows + r]) - expected) <= tolerance, "\(type) token \(t) row \(r)")
            }
        }
    }

    /// kc_gemm_ggml_rows over all rows for n tokens at `isa` (serial, so the forced level holds).
    private func int16GEMM(_ matrix: GGMLMatrix, _ x: [Float], n: Int, isa: Int32) -> [Float] {
        withISA(isa) {
            var y = [Float](repeating: .nan, count: n * matrix.rows)
            var weights = matrix.kernelWeights
            let packed = UnsafeMutableRawPointer.allocate(byteCount: kc_gemm_wx_bytes(n, matrix.columns), alignment: 64)
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: kc_gemm_ggml_scratch_bytes(n), alignment: 64)
            defer { packed.deallocate(); scratch.deallocate() }
            kc_gemm_pack_wx(x, n, matrix.columns, 0, (n + 15) / 16, packed)
            y.withUnsafeMutableBufferPointer { kc_gemm_ggml_rows(&weights, 0, matrix.rows, packed, n, $0.baseAddress!, matrix.rows, nil, scratch) }
            return y
        }
    }

    @Test("16-bit-activation GEMM: VNNI gives the portable version's bits, a token alone its bits in the batch, within 16-bit rounding of the float product, a NaN only in its own token",
          arguments: GGMLMatrix.supportedTypes)
    func int16GEMMMatchesPortable(type: GGMLType) throws {
        // 37 tokens: two full groups of 16 and a ragged third that runs beside itself; 18 rows: a
        // full panel of 16 and a short one.
        let rows = 18, columns = testColumns(type) + 256, n = 37
        let matrix = try randomGGMLMatrix(type, rows: rows, columns: columns, seed: 300 + UInt64(type.rawValue))
        let w = floats(matrix), x = activations(n * columns, seed: 14)
        let portable = int16GEMM(matrix, x, n: n, isa: Int32(KC_ISA_GENERIC))
        for t in [0, 17, n - 1] {
            let token = Array(x[t * columns..<(t + 1) * columns])
            let alone = int16GEMM(matrix, token, n: 1, isa: Int32(KC_ISA_GENERIC))
            #expect(alone.map(\.bitPattern) == portable[t * rows..<(t + 1) * rows].map(\.bitPattern), "\(type) token \(t)")
            for r in 0..<rows {
                let weights = w[r * columns..<(r + 1) * columns]
                let tolerance = activationTolerance(weights: weights, x: token, block: 32, levels: 32767)
                #expect(abs(Double(portable[t * rows + r]) - dot(weights, token)) <= tolerance, "\(type) token \(t) row \(r)")
            }
        }
        // A NaN activation makes its token's results NaN (as the float product would), and only its token's.
        var poisoned = x
        poisoned[17 * columns + 5] = .nan
        for isa in [Int32(KC_ISA_GENERIC), kc_isa_detected()] {
            let y = int16GEMM(matrix, poisoned, n: n, isa: isa)
            #expect(y[17 * rows..<18 * rows].allSatisfy { $0.isNaN }, "\(type) isa \(isa)")
            #expect(y[16 * rows..<17 * rows].map(\.bitPattern) == portable[16 * rows..<17 * rows].map(\.bitPattern))
        }
        guard kc_isa_detected() >= KC_ISA_AVX512 else {
            print("note: skipped the VNNI 16-bit GEMM for \(type): this CPU lacks AVX-512 VNNI (portable version checked)")
            return
        }
        let vnni = int16GEMM(matrix, x, n: n, isa: Int32(KC_ISA_AVX512))
        #expect(vnni.map(\.bitPattern) == portable.map(\.bitPattern), "\(type)")
    }

    @Test("permutingRows copies the blocks of the named rows, in order")
    func permutingRows() throws {
        let matrix = try randomGGMLMatrix(.q4_K, rows: 6, columns: 256, seed: 3)
        let order = [5, 3, 1, 4, 2, 0]
        let permuted = matrix.permutingRows(order)
        #expect(permuted.rows == 6 && permuted.columns == 256 && permuted.type == .q4_K)
        let before = floats(matrix), after = floats(permuted)
        for (i, source) in order.enumerated() {
            #expect(after[i * 256..<(i + 1) * 256] == before[source * 256..<(source + 1) * 256])
        }
        let picked = matrix.permutingRows([2, 2])
        #expect(picked.rows == 2 && floats(picked)[256...] == before[512..<768])
    }

    @Test("a GGML weight converts to float formats by exact dequantization, and refuses q8/q4")
    func weightMatrixConversions() throws {
        let matrix = try randomGGMLMatrix(.q5_K, rows: 4, columns: 256, seed: 4)
        let weight = WeightMatrix(matrix)
        #expect(weight.format == .ggmlQ5_K && weight.ggmlMatrix != nil && weight.byteCount == 4 * 176)
        #expect(try weight.converted(to: .ggmlQ5_K, parallelism: .serial).ggmlMatrix != nil)

        let reference = floats(matrix)
        let f32 = try weight.converted(to: .float32, parallelism: .serial)
        #expect(f32.denseTensor?.floats() == reference)
        let f16 = try weight.converted(to: .float16, parallelism: .serial)
        var row = [Float](repeating: 0, count: 256)
        f16.row(1, into: &row)
        #expect(row == reference[256..<512].map { Float(Float16($0)) })

        for target in [WeightFormat.q8, .q4, .ggmlQ4_0] {
            #expect(throws: TensorError.cannotRequantize(from: .ggmlQ5_K, to: target)) {
                try weight.converted(to: target, parallelism: .serial)
            }
        }
        let dense = try WeightMatrix(RawTensor(dtype: .float32, shape: [1, 32], storage: ByteStorage(count: 128) { $0.initializeMemory(as: UInt8.self, repeating: 0) }, byteOffset: 0))
        #expect(throws: TensorError.cannotRequantize(from: .float32, to: .ggmlQ8_0)) {
            try dense.converted(to: .ggmlQ8_0, parallelism: .serial)
        }
    }

    @Test("GGML formats name their block type and are not Kataribe's own quantization")
    func formats() {
        let ggml = WeightFormat.allCases.filter(\.isGGML)
        #expect(Set(ggml.compactMap(\.ggmlType)) == Set(GGMLMatrix.supportedTypes))
        for format in ggml {
            #expect(!format.isQuantized && format.denseType == nil)
            #expect(WeightFormat(ggml: format.ggmlType!) == format)
        }
        #expect(WeightFormat.allCases.filter(\.isQuantized) == [.q8, .q4])
        #expect(WeightFormat(ggml: .f16) == nil && WeightFormat(ggml: .q8_K) == nil)
    }

    @Test("a matrix is checked against its type: supported blocks, whole blocks per row, exact byte count")
    func validation() throws {
        let bytes = RawTensor(dtype: .uint8, shape: [2 * 144], storage: ByteStorage(count: 2 * 144) { $0.initializeMemory(as: UInt8.self, repeating: 0) }, byteOffset: 0)
        #expect(throws: TensorError.unsupportedGGMLType(.q8_K)) { try GGMLMatrix(type: .q8_K, rows: 1, columns: 256, data: bytes) }
        #expect(throws: TensorError.self) { try GGMLMatrix(type: .q4_K, rows: 2, columns: 128, data: bytes) }
        #expect(throws: TensorError.self) { try GGMLMatrix(type: .q4_K, rows: 1, columns: 256, data: bytes) }
        let matrix = try GGMLMatrix(type: .q4_K, rows: 2, columns: 256, data: bytes)
        #expect(matrix.rowBytes == 144 && matrix.data.shape == [2, 144])
    }
}
