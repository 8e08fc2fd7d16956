import KataribeTensor

/// A `nn.Linear`: the weight stays in its stored (or converted/quantized) format, the small bias
/// is widened to Float.
public struct LinearLayer: Sendable {
    public let weight: WeightMatrix
    public let bias: [Float]?

    /// `y[n, out] = x[n, in] · Wᵀ + b`, reading the weight once for all n rows; `rowwise` computes
    /// each row exactly as it would be computed alone (rows of different sequences).
    public func callAsFunction(_ x: FloatRows, rows: Int, into y: FloatRows, rowwise: Bool = false, parallelism: Parallelism) {
        if let bias {
            bias.withUnsafeBufferPointer { b in product(x, rows, y, b.baseAddress, rowwise, parallelism) }
        } else {
            product(x, rows, y, nil, rowwise, parallelism)
        }
    }

    private func product(_ x: FloatRows, _ rows: Int, _ y: FloatRows, _ bias: UnsafePointer<Float>?, _ rowwise: Bool,
                         _ parallelism: Parallelism) {
        if rowwise {
            weight.rowwiseGEMV(x.base, count: rows, into: y.base, bias: bias, parallelism: parallelism)
        } else {
            weight.gemm(x.base, count: rows, into: y.base, bias: bias, parallelism: parallelism)
        }
    }
}
