import KataribeTensor

/// A `nn.Linear`: the weight stays in its stored (or converted/quantized) format, the small bias
/// is widened to Float.
public struct LinearLayer: Sendable {
    public let weight: WeightMatrix
    public let bias: [Float]?

    /// `y[n, out] = x[n, in] · Wᵀ + b`, reading the weight once for all n rows.
    public func callAsFunction(_ x: FloatRows, rows: Int, into y: FloatRows, parallelism: Parallelism) {
        if let bias {
            bias.withUnsafeBufferPointer { b in
                weight.gemm(x.base, count: rows, into: y.base, bias: b.baseAddress, parallelism: parallelism)
            }
        } else {
            weight.gemm(x.base, count: rows, into: y.base, bias: nil, parallelism: parallelism)
        }
    }
}
