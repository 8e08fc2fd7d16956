/// Errors from building tensors out of checkpoint data.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    case notAMatrix(shape: [Int])
    case unsupportedWeightType(DType)

    public var description: String {
        switch self {
        case .notAMatrix(let shape): "expected a 2-D weight matrix, got shape \(shape)"
        case .unsupportedWeightType(let dtype): "weights stored as \(dtype) are not supported (float32, float16, bfloat16 are)"
        }
    }
}

/// A linear layer's weight, `[rows = out features, columns = in features]` like torch's
/// `nn.Linear.weight`, kept in its stored dtype (usually straight from the mmapped checkpoint).
///
/// The model only calls `gemv`/`gemm`/`row`; the storage format and the kernels behind them are
/// this type's business, so quantized formats and faster kernels can be added here alone.
public struct WeightMatrix: Sendable {
    public let rows: Int
    public let columns: Int
    public let dtype: DType
    public let tensor: RawTensor

    public init(_ tensor: RawTensor) throws(TensorError) {
        guard tensor.shape.count == 2 else { throw .notAMatrix(shape: tensor.shape) }
        guard tensor.dtype.isWeightType else { throw .unsupportedWeightType(tensor.dtype) }
        self.tensor = tensor.aligned()
        self.rows = tensor.shape[0]
        self.columns = tensor.shape[1]
        self.dtype = tensor.dtype
    }

    public var byteCount: Int { tensor.byteCount }

    /// Writes row `index` (e.g. one embedding vector) widened to `Float` into `out[0..<columns]`.
    public func row(_ index: Int, into out: UnsafeMutablePointer<Float>) {
        convertToFloat(tensor.baseAddress + index * columns * dtype.size, dtype: dtype, count: columns, into: out)
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
        switch dtype {
        case .float32: run(Float32Element.self, x, n, y, bias, parallelism)
        case .float16: run(Float16Element.self, x, n, y, bias, parallelism)
        case .bfloat16: run(BFloat16Element.self, x, n, y, bias, parallelism)
        default: break  // unreachable: init accepts weight dtypes only
        }
    }

    private func run<E: WeightElement>(
        _ element: E.Type, _ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>,
        _ bias: UnsafePointer<Float>?, _ parallelism: Parallelism
    ) {
        let w = SendableRawPointer(tensor.baseAddress)
        let xs = SendableRawPointer(UnsafeRawPointer(x))
        let ys = SendablePointer(y)
        let b = bias.map { SendableRawPointer(UnsafeRawPointer($0)) }
        let rows = rows, columns = columns, rowBytes = columns * dtype.size
        // Small layers are not worth waking other threads for.
        let minimumRows = max(4, 32_768 / max(1, columns * n))
        parallelism.forEachChunk(of: rows, minimumChunk: minimumRows) { range in
            let x = xs.pointer.assumingMemoryBound(to: Float.self)
            let bias = b?.pointer.assumingMemoryBound(to: Float.self)
            if n == 1 {
                MatrixKernels.gemvRows(E.self, w.pointer, rowBytes: rowBytes, columns: columns,
                                       rows: range, x: x, y: ys.pointer, bias: bias)
            } else {
                MatrixKernels.gemmRows(E.self, w.pointer, rowBytes: rowBytes, columns: columns, rows: range,
                                       x: x, count: n, y: ys.pointer, ldy: rows, bias: bias)
            }
        }
    }
}
