import Testing
@testable import KataribeTensor

/// Deterministic pseudo-random floats in [-1, 1).
func pseudoRandom(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 6_364_136_223_846_793_005 &+ 1
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(bitPattern: state >> 11) % 1_000_000) / 1_000_000
    }
}

func matrix(_ values: [Float], rows: Int, columns: Int, dtype: DType) throws -> WeightMatrix {
    let bytes: [UInt8]
    switch dtype {
    case .float16: bytes = values.map { Float16($0).bitPattern }.withUnsafeBytes { Array($0) }
    case .bfloat16: bytes = values.map { UInt16($0.bitPattern >> 16) }.withUnsafeBytes { Array($0) }
    default: bytes = values.withUnsafeBytes { Array($0) }
    }
    let storage = bytes.withUnsafeBytes { ByteStorage(copying: $0) }
    return try WeightMatrix(RawTensor(dtype: dtype, shape: [rows, columns], storage: storage, byteOffset: 0))
}

@Suite("WeightMatrix gemv / gemm")
struct WeightMatrixTests {
    /// Double-precision reference of `X · Wᵀ + b` using the weights as stored (after rounding).
    func reference(_ w: WeightMatrix, _ x: [Float], n: Int, bias: [Float]) -> [Double] {
        var widened = [Float](repeating: 0, count: w.columns)
        var out = [Double](repeating: 0, count: n * w.rows)
        for r in 0..<w.rows {
            widened.withUnsafeMutableBufferPointer { w.row(r, into: $0.baseAddress!) }
            for t in 0..<n {
                var s = Double(bias[r])
                for k in 0..<w.columns { s += Double(widened[k]) * Double(x[t * w.columns + k]) }
                out[t * w.rows + r] = s
            }
        }
        return out
    }

    @Test("gemm and gemv agree with a double-precision reference for every weight dtype and ragged sizes",
          arguments: [DType.float32, .float16, .bfloat16])
    func matchesReference(dtype: DType) throws {
        for (rows, columns, n) in [(1, 1, 1), (7, 13, 3), (37, 100, 5), (64, 36, 1), (130, 257, 4)] {
            let w = try matrix(pseudoRandom(rows * columns, seed: UInt64(rows)), rows: rows, columns: columns, dtype: dtype)
            let x = pseudoRandom(n * columns, seed: 99)
            let bias = pseudoRandom(rows, seed: 7)
            let expected = reference(w, x, n: n, bias: bias)
            for parallelism in [Parallelism.serial, Parallelism(threadCount: 3)] {
                var y = [Float](repeating: .nan, count: n * rows)
                x.withUnsafeBufferPointer { xp in
                    bias.withUnsafeBufferPointer { bp in
                        y.withUnsafeMutableBufferPointer { yp in
                            w.gemm(xp.baseAddress!, count: n, into: yp.baseAddress!, bias: bp.baseAddress!, parallelism: parallelism)
                        }
                    }
                }
                let worst = zip(y, expected).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(worst < 1e-4, "rows \(rows) columns \(columns) n \(n): max error \(worst)")

                var single = [Float](repeating: .nan, count: rows)
                x.withUnsafeBufferPointer { xp in
                    single.withUnsafeMutableBufferPointer { yp in
                        w.gemv(xp.baseAddress!, into: yp.baseAddress!, parallelism: parallelism)
                    }
                }
                let worstSingle = (0..<rows).map { abs(Double(single[$0]) - (expected[$0] - Double(bias[$0]))) }.max() ?? 0
                #expect(worstSingle < 1e-4)
            }
        }
    }

    @Test("a 3-D tensor or an integer tensor is not a weight matrix")
    func rejectsNonMatrices() {
        let storage = ByteStorage(copying: UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(throws: TensorError.notAMatrix(shape: [1, 1, 0])) {
            try WeightMatrix(RawTensor(dtype: .float32, shape: [1, 1, 0], storage: storage, byteOffset: 0))
        }
        #expect(throws: TensorError.unsupportedWeightType(.uint8)) {
            try WeightMatrix(RawTensor(dtype: .uint8, shape: [0, 0], storage: storage, byteOffset: 0))
        }
    }

    @Test("misaligned storage is copied before typed reads")
    func misaligned() throws {
        let values: [Float] = [1, 2, 3, 4]
        var bytes: [UInt8] = [0]
        bytes += values.withUnsafeBytes { Array($0) }
        let storage = bytes.withUnsafeBytes { ByteStorage(copying: $0) }
        let tensor = RawTensor(dtype: .float32, shape: [2, 2], storage: storage, byteOffset: 1)
        #expect(!tensor.isAligned)
        #expect(tensor.floats() == values)
        let w = try WeightMatrix(tensor)
        var y: [Float] = [0, 0]
        let x: [Float] = [1, 1]
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { w.gemv(xp.baseAddress!, into: $0.baseAddress!, parallelism: .serial) }
        }
        #expect(y == [3, 7])
    }
}
