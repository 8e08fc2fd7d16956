import KataribeCKernels

/// Errors from building tensors out of checkpoint data.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    case notAMatrix(shape: [Int])
    case unsupportedWeightType(DType)
    case notQuantized(WeightFormat)
    case badQuantizedPart(part: String, expected: String, actual: String)
    case unsupportedGGMLType(GGMLType)
    case badGGMLMatrix(String)
    case cannotRequantize(from: WeightFormat, to: WeightFormat)

    public var description: String {
        switch self {
        case .notAMatrix(let shape): "expected a 2-D weight matrix, got shape \(shape)"
        case .unsupportedWeightType(let dtype): "weights stored as \(dtype) are not supported (float32, float16, bfloat16 are)"
        case .notQuantized(let format): "\(format) is not a quantized format (q8, q4 are)"
        case .badQuantizedPart(let part, let expected, let actual): "quantized \(part) should be \(expected), got \(actual)"
        case .unsupportedGGMLType(let type):
            "ggml type \(type) is not supported (\(GGMLMatrix.supportedTypes.map(\.description).joined(separator: ", ")) are)"
        case .badGGMLMatrix(let problem): problem
        case .cannotRequantize(let source, let target):
            "cannot convert \(source) weights to \(target): re-quantizing already quantized weights compounds their error (load a float checkpoint, or keep \(source))"
        }
    }
}

/// A linear layer's weight, `[rows = out features, columns = in features]` like torch's
/// `nn.Linear.weight`: either dense in a float dtype (usually straight from the mmapped
/// checkpoint), block-quantized (`QuantizedMatrix`), or in a ggml block format as a GGUF file
/// stores it (`GGMLMatrix`).
///
/// The model only calls `gemv`/`gemm`/`row`; the storage format and the kernels behind them are
/// this type's business.
public struct WeightMatrix: Sendable {
    public let rows: Int
    public let columns: Int
    public let format: WeightFormat
    let storage: Storage
    /// Products round their inputs to bfloat16 first (exact products, float32 sums), as a
    /// bfloat16 `nn.Linear` in transformers does: what `--dtype bf16` asks for. Prompts then run
    /// through the AVX-512 BF16 GEMM where the CPU has it. Off, bfloat16 weights meet float32
    /// activations (transformers' float32 math on bfloat16 checkpoints, the parity reference).
    public var bfloat16Activations = false

    enum Storage: Sendable {
        case dense(RawTensor)
        case quantized(QuantizedMatrix)
        case ggml(GGMLMatrix)
    }

    public init(_ tensor: RawTensor) throws(TensorError) {
        guard tensor.shape.count == 2 else { throw .notAMatrix(shape: tensor.shape) }
        guard let format = WeightFormat(tensor.dtype) else { throw .unsupportedWeightType(tensor.dtype) }
        self.storage = .dense(tensor.aligned())
        self.rows = tensor.shape[0]
        self.columns = tensor.shape[1]
        self.format = format
    }

    public init(_ matrix: QuantizedMatrix) {
        self.storage = .quantized(matrix)
        self.rows = matrix.rows
        self.columns = matrix.columns
        self.format = matrix.format
    }

    public init(_ matrix: GGMLMatrix) {
        self.storage = .ggml(matrix)
        self.rows = matrix.rows
        self.columns = matrix.columns
        // Every supported ggml type has a format (GGMLMatrix checks the type).
        self.format = WeightFormat(ggml: matrix.type)!
    }

    public var byteCount: Int {
        switch storage {
        case .dense(let tensor): tensor.byteCount
        case .quantized(let matrix): matrix.byteCount
        case .ggml(let matrix): matrix.byteCount
        }
    }

    /// The stored tensor of a dense matrix.
    public var denseTensor: RawTensor? {
        if case .dense(let tensor) = storage { return tensor }
        return nil
    }

    /// The parts of a quantized matrix.
    public var quantizedMatrix: QuantizedMatrix? {
        if case .quantized(let matrix) = storage { return matrix }
        return nil
    }

    /// The stored blocks of a GGML matrix.
    public var ggmlMatrix: GGMLMatrix? {
        if case .ggml(let matrix) = storage { return matrix }
        return nil
    }

    /// This matrix in another format: quantized (q8, q4) or converted to another float type
    /// (rounding to nearest even). Returns `self` when the format already matches. A GGML matrix
    /// converts to float types only (dequantized exactly, then rounded to the target).
    public func converted(to target: WeightFormat, parallelism: Parallelism) throws(TensorError) -> WeightMatrix {
        if target == format { return self }
        if case .ggml(let matrix) = storage {
            guard let dtype = target.denseType else { throw .cannotRequantize(from: format, to: target) }
            let floats = matrix.dequantized(parallelism: parallelism)
            if dtype == .float32 { return try WeightMatrix(floats) }
            return try WeightMatrix(DenseConversion.convert(floats, to: dtype, parallelism: parallelism))
        }
        if target.isGGML { throw .cannotRequantize(from: format, to: target) }
        guard case .dense(let tensor) = storage else {
            // Re-quantizing a quantized matrix would compound the error; nothing asks for it.
            throw .notQuantized(target)
        }
        if target.isQuantized {
            return WeightMatrix(try QuantizedMatrix.quantize(tensor, to: target, parallelism: parallelism))
        }
        guard let dtype = target.denseType else { throw .notQuantized(target) }
        return try WeightMatrix(DenseConversion.convert(tensor, to: dtype, parallelism: parallelism))
    }

    /// Writes row `index` (e.g. one embedding vector) widened to `Float` into `out[0..<columns]`.
    public func row(_ index: Int, into out: UnsafeMutablePointer<Float>) {
        switch storage {
        case .dense(let tensor):
            convertToFloat(tensor.baseAddress + index * columns * tensor.dtype.size, dtype: tensor.dtype, count: columns, into: out)
        case .quantized(let matrix):
            matrix.row(index, into: out)
        case .ggml(let matrix):
            matrix.row(index, into: out)
        }
    }

    /// `y[rows] = W · x[columns] (+ bias)`: one token's activations through the layer.
    public func gemv(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
        bias: UnsafePointer<Float>? = nil, parallelism: Parallelism
    ) {
        gemm(x, count: 1, into: y, bias: bias, parallelism: parallelism)
    }

    /// `Y[n, rows] = X[n, columns] · Wᵀ (+ bias)`: a batch of tokens, reading W once.
    public func gemm(
        _ x: UnsafePointer<Float>, count n: Int, into y: UnsafeMutablePointer<Float>,
        bias: UnsafePointer<Float>? = nil, parallelism: Parallelism
    ) {
        guard n > 0 else { return }
        if bfloat16Activations, case .dense(let tensor) = storage, tensor.dtype == .bfloat16 {
            if n > 1 && kc_gemm_bf16_available() != 0 {
                return MatrixProducts.bfloat16GEMM(tensor, x, n, y, bias, parallelism)
            }
            return withBFloat16Rounded(x, count: n) { rounded in
                var plain = self
                plain.bfloat16Activations = false
                plain.gemm(rounded, count: n, into: y, bias: bias, parallelism: parallelism)
            }
        }
        if n == 1 {
            switch storage {
            case .dense(let tensor): MatrixProducts.denseGEMV(tensor, x, y, bias, parallelism)
            case .quantized(let matrix): MatrixProducts.quantizedGEMV(matrix, x, y, bias, parallelism)
            case .ggml(let matrix): MatrixProducts.ggmlGEMV(matrix, x, y, bias, parallelism)
            }
        } else {
            MatrixProducts.gemm(kernelWeights, rows: rows, x, n, y, bias, parallelism)
        }
    }

    /// `Y[n, rows] = X[n, columns] · Wᵀ (+ bias)` with each row computed exactly as `gemv` computes
    /// it alone, so a row's result does not depend on the other rows (batched decoding of independent
    /// sequences). W is still read from memory once for all n rows. A prompt's rows, which are
    /// always computed together, use `gemm`'s faster blocked product instead.
    public func rowwiseGEMV(
        _ x: UnsafePointer<Float>, count n: Int, into y: UnsafeMutablePointer<Float>,
        bias: UnsafePointer<Float>? = nil, parallelism: Parallelism
    ) {
        guard n > 0 else { return }
        if n == 1 { return gemm(x, count: 1, into: y, bias: bias, parallelism: parallelism) }
        if bfloat16Activations {
            return withBFloat16Rounded(x, count: n) { rounded in
                MatrixProducts.rowwiseGEMV(self, rounded, n, y, bias, parallelism)
            }
        }
        MatrixProducts.rowwiseGEMV(self, x, n, y, bias, parallelism)
    }

    /// `body` with a copy of x[n][columns] rounded to bfloat16 values (to nearest even).
    private func withBFloat16Rounded(_ x: UnsafePointer<Float>, count n: Int, _ body: (UnsafePointer<Float>) -> Void) {
        let rounded = UnsafeMutablePointer<Float>.allocate(capacity: n * columns)
        defer { rounded.deallocate() }
        kc_round_bf16(x, rounded, n * columns)
        body(rounded)
    }

    /// The C description the GEMM widens rows from.
    var kernelWeights: kc_weights {
        switch storage {
        case .dense(let tensor):
            let dtype: Int32 = switch tensor.dtype {
            case .float16: Int32(KC_W_F16)
            case .bfloat16: Int32(KC_W_BF16)
            default: Int32(KC_W_F32)
            }
            return kc_weights(dtype: dtype, data: tensor.baseAddress, cols: columns, row_bytes: columns * tensor.dtype.size,
                              quantized: kc_qmatrix(), ggml_type: 0)
        case .quantized(let matrix):
            return kc_weights(dtype: Int32(matrix.format == .q8 ? KC_W_Q8 : KC_W_Q4), data: nil, cols: columns, row_bytes: 0,
                              quantized: matrix.kernelMatrix, ggml_type: 0)
        case .ggml(let matrix):
            return matrix.kernelWeights
        }
    }
}
