import KataribeCKernels

/// A weight matrix in Kataribe's block quantization (layout in KataribeCKernels.h): each row is
/// padded to a multiple of 256 columns and cut into super-blocks of 256 with a float32 scale `D`,
/// each made of 8 blocks of 32 with an 8-bit integer scale `s`; a weight is `D·s·c` for its code
/// `c` (Q8: int8 in -127...127, s unsigned; Q4: 4-bit `u - 8` packed two blocks per 32 bytes,
/// s signed). Q8 costs 8.38 bits per weight, Q4 4.38.
///
/// The three parts are plain tensors so they can live in memory made at load time or inside a
/// memory-mapped saved model (`QuantizedCheckpoint`).
public struct QuantizedMatrix: Sendable {
    public let format: WeightFormat
    public let rows: Int
    public let columns: Int
    /// `[rows, codeBytesPerRow]`: int8 (Q8) or uint8 nibble pairs (Q4).
    public let codes: RawTensor
    /// `[rows, paddedColumns / 32]`: uint8 (Q8) or int8 (Q4).
    public let blockScales: RawTensor
    /// `[rows, paddedColumns / 256]` float32.
    public let superScales: RawTensor

    public var paddedColumns: Int { Self.paddedColumns(columns) }
    public var byteCount: Int { codes.byteCount + blockScales.byteCount + superScales.byteCount }

    public static func paddedColumns(_ columns: Int) -> Int { (columns + 255) / 256 * 256 }

    /// Code bytes per row for a format.
    public static func codeBytesPerRow(_ format: WeightFormat, columns: Int) -> Int {
        format == .q4 ? paddedColumns(columns) / 2 : paddedColumns(columns)
    }

    /// The dtypes and shapes the three parts must have.
    public static func expectedParts(
        _ format: WeightFormat, rows: Int, columns: Int
    ) -> (codes: (DType, [Int]), blockScales: (DType, [Int]), superScales: (DType, [Int])) {
        let padded = paddedColumns(columns)
        return ((format == .q4 ? .uint8 : .int8, [rows, codeBytesPerRow(format, columns: columns)]),
                (format == .q4 ? .int8 : .uint8, [rows, padded / 32]),
                (.float32, [rows, padded / 256]))
    }

    /// Assembles a matrix from its parts, checking every dtype and shape (the parts may come
    /// from a file).
    public init(format: WeightFormat, rows: Int, columns: Int, codes: RawTensor, blockScales: RawTensor,
                superScales: RawTensor) throws(TensorError) {
        guard format.isQuantized else { throw .notQuantized(format) }
        guard rows > 0, columns > 0 else { throw .notAMatrix(shape: [rows, columns]) }
        let expected = Self.expectedParts(format, rows: rows, columns: columns)
        for (name, tensor, want) in [("codes", codes, expected.codes), ("block scales", blockScales, expected.blockScales),
                                     ("super-block scales", superScales, expected.superScales)] {
            guard tensor.dtype == want.0, tensor.shape == want.1 else {
                throw .badQuantizedPart(part: name, expected: "\(want.0) \(want.1)", actual: "\(tensor.dtype) \(tensor.shape)")
            }
        }
        self.format = format
        self.rows = rows
        self.columns = columns
        self.codes = codes
        self.blockScales = blockScales
        self.superScales = superScales.aligned()
    }

    /// Quantizes a dense 2-D float tensor (`[rows, columns]`), rows in parallel.
    public static func quantize(_ source: RawTensor, to format: WeightFormat, parallelism: Parallelism) throws(TensorError) -> QuantizedMatrix {
        guard format.isQuantized else { throw .notQuantized(format) }
        guard source.shape.count == 2, source.shape[0] > 0, source.shape[1] > 0 else { throw .notAMatrix(shape: source.shape) }
        guard source.dtype.isWeightType else { throw .unsupportedWeightType(source.dtype) }
        let rows = source.shape[0], columns = source.shape[1]
        let padded = paddedColumns(columns), codeBytes = codeBytesPerRow(format, columns: columns)
        let superBytes = rows * (padded / 256) * 4, scaleBytes = rows * (padded / 32)
        // One block: super-block scales first (4-byte aligned), then block scales, then codes.
        let allocation = LargeAllocation(count: superBytes + scaleBytes + rows * codeBytes)
        let supers = SendablePointer(allocation.base.assumingMemoryBound(to: Float.self))
        let scales = SendablePointer((allocation.base + superBytes).assumingMemoryBound(to: UInt8.self))
        let codes = SendablePointer((allocation.base + superBytes + scaleBytes).assumingMemoryBound(to: UInt8.self))
        let input = source.aligned()
        let base = SendableRawPointer(input.baseAddress), dtype = input.dtype
        parallelism.forEachChunk(of: rows, minimumChunk: 16) { range in
            let row = UnsafeMutablePointer<Float>.allocate(capacity: columns)
            defer { row.deallocate() }
            for r in range {
                convertToFloat(base.pointer + r * columns * dtype.size, dtype: dtype, count: columns, into: row)
                let c = codes.pointer + r * codeBytes, s = scales.pointer + r * (padded / 32)
                let d = supers.pointer + r * (padded / 256)
                if format == .q8 {
                    UnsafeMutableRawPointer(c).withMemoryRebound(to: Int8.self, capacity: codeBytes) {
                        kc_quantize_row_q8(row, columns, $0, s, d)
                    }
                } else {
                    kc_quantize_row_q4(row, columns, c, s, d)
                }
            }
        }
        let storage = allocation.storage()
        let parts = expectedParts(format, rows: rows, columns: columns)
        return try QuantizedMatrix(
            format: format, rows: rows, columns: columns,
            codes: RawTensor(dtype: parts.codes.0, shape: parts.codes.1, storage: storage, byteOffset: superBytes + scaleBytes),
            blockScales: RawTensor(dtype: parts.blockScales.0, shape: parts.blockScales.1, storage: storage, byteOffset: superBytes),
            superScales: RawTensor(dtype: .float32, shape: parts.superScales.1, storage: storage, byteOffset: 0))
    }

    /// The C view of this matrix.
    var kernelMatrix: kc_qmatrix {
        kc_qmatrix(codes: codes.baseAddress, block_scales: blockScales.baseAddress.assumingMemoryBound(to: UInt8.self),
                   super_scales: superScales.baseAddress.assumingMemoryBound(to: Float.self),
                   cols: columns, padded: paddedColumns)
    }

    /// Row `index` widened to floats (`columns` values).
    public func row(_ index: Int, into out: UnsafeMutablePointer<Float>) {
        var m = kernelMatrix
        let padded = paddedColumns
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: padded)
        defer { buffer.deallocate() }
        if format == .q8 { kc_dequantize_q8(&m, index, 0, padded, buffer) } else { kc_dequantize_q4(&m, index, 0, padded, buffer) }
        out.update(from: buffer, count: columns)
    }
}
