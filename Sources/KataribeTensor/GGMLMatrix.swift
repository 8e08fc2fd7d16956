import KataribeCKernels

/// A weight matrix in one of ggml's block formats (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K ... Q6_K),
/// kept exactly as a GGUF file stores it, usually inside the memory-mapped file: products run on
/// the stored blocks (layouts in KataribeCKernels.h), so memory stays near the file size.
public struct GGMLMatrix: Sendable {
    public let type: GGMLType
    public let rows: Int
    public let columns: Int
    /// The stored bytes: `.uint8`, `[rows, rowBytes]`.
    public let data: RawTensor

    /// The block formats the kernels compute with.
    public static let supportedTypes: [GGMLType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// Bytes from one row to the next (whole blocks, no padding).
    public var rowBytes: Int { columns / type.blockSize * type.blockBytes }
    public var byteCount: Int { rows * rowBytes }

    /// Checks that `type` is a supported block format, `columns` a whole number of blocks and
    /// `data` exactly `rows` rows of blocks (`.uint8`, any shape with that many bytes).
    public init(type: GGMLType, rows: Int, columns: Int, data: RawTensor) throws(TensorError) {
        guard Self.supportedTypes.contains(type) else { throw .unsupportedGGMLType(type) }
        guard rows > 0, columns > 0, columns % type.blockSize == 0 else {
            throw .badGGMLMatrix("\(type) needs columns that are a positive multiple of \(type.blockSize), got \(rows)×\(columns)")
        }
        let rowBytes = columns / type.blockSize * type.blockBytes
        guard data.dtype == .uint8, data.elementCount == rows * rowBytes else {
            throw .badGGMLMatrix("a \(rows)×\(columns) \(type) matrix takes \(rows * rowBytes) bytes, got \(data.dtype) \(data.shape)")
        }
        self.type = type
        self.rows = rows
        self.columns = columns
        self.data = RawTensor(dtype: .uint8, shape: [rows, rowBytes], storage: data.storage, byteOffset: data.byteOffset)
    }

    /// Row `index` widened to floats (`columns` values), e.g. one embedding vector.
    public func row(_ index: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(index >= 0 && index < rows, "row \(index) of \(rows)")
        kc_ggml_dequantize_row(Int32(type.rawValue), data.baseAddress + index * rowBytes, columns, out)
    }

    /// A copy whose row `i` is this matrix's row `newOrder[i]` (llama.cpp stores Q and K
    /// projections with their rotary halves interleaved; loading undoes that by reordering rows).
    public func permutingRows(_ newOrder: [Int]) -> GGMLMatrix {
        let rowBytes = self.rowBytes, source = data.baseAddress
        for index in newOrder { precondition(index >= 0 && index < rows, "row \(index) of \(rows)") }
        let storage = ByteStorage(count: newOrder.count * rowBytes) { out in
            for (i, index) in newOrder.enumerated() {
                (out.baseAddress! + i * rowBytes).copyMemory(from: source + index * rowBytes, byteCount: rowBytes)
            }
        }
        let bytes = RawTensor(dtype: .uint8, shape: [newOrder.count, rowBytes], storage: storage, byteOffset: 0)
        // Same type and columns as a valid matrix, so the checks cannot fail.
        return try! GGMLMatrix(type: type, rows: newOrder.count, columns: columns, data: bytes)
    }

    /// The whole matrix widened to float32 `[rows, columns]`, rows in parallel.
    public func dequantized(parallelism: Parallelism) -> RawTensor {
        let columns = self.columns, rowBytes = self.rowBytes, kind = Int32(type.rawValue)
        let source = SendableRawPointer(data.baseAddress)
        let storage = ByteStorage(count: rows * columns * 4) { out in
            let target = SendablePointer(out.baseAddress!.assumingMemoryBound(to: Float.self))
            parallelism.forEachChunk(of: rows, minimumChunk: 16) { range in
                for r in range {
                    kc_ggml_dequantize_row(kind, source.pointer + r * rowBytes, columns, target.pointer + r * columns)
                }
            }
        }
        return RawTensor(dtype: .float32, shape: [rows, columns], storage: storage, byteOffset: 0)
    }

    /// The C description the GEMM widens rows from.
    var kernelWeights: kc_weights {
        kc_weights(dtype: Int32(KC_W_GGML), data: data.baseAddress, cols: columns, row_bytes: rowBytes,
                   quantized: kc_qmatrix(), ggml_type: Int32(type.rawValue))
    }
}
