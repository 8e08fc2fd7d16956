import KataribeTensor

/// `nn.LayerNorm`: parameters widened to Float (they are tiny).
public struct LayerNorm: Sendable {
    public let weight: [Float]
    public let bias: [Float]
    public let epsilon: Float

    /// output[r] = (input[r] - mean) / √(var + ε) · w + b for each of `rows` rows.
    public func callAsFunction(_ input: FloatRows, rows: Int, into output: FloatRows) {
        let width = input.width, eps = epsilon
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                guard let w = w.baseAddress, let b = b.baseAddress else { return }
                for r in 0..<rows {
                    VectorOps.layerNorm(input.row(r), weight: w, bias: b, epsilon: eps, count: width, into: output.row(r))
                }
            }
        }
    }
}
