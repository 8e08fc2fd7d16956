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

/// `RMSNorm` as the Llama family computes it in float32: x / √(mean(x²) + ε) · w; Gemma stores
/// the weight as an offset from one and multiplies by (1 + w) (`unitOffset`).
public struct RMSNorm: Sendable {
    public let weight: [Float]
    public let epsilon: Float
    public let unitOffset: Bool

    public init(weight: [Float], epsilon: Float, unitOffset: Bool = false) {
        self.weight = unitOffset ? weight.map { 1 + $0 } : weight
        self.epsilon = epsilon
        self.unitOffset = unitOffset
    }

    /// Normalises `rows` rows of `width` values (a row may be one attention head).
    public func callAsFunction(_ input: UnsafePointer<Float>, rows: Int, width: Int, into output: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            for r in 0..<rows {
                let x = input + r * width, y = output + r * width
                var sum: Float = 0
                for i in 0..<width { sum += x[i] * x[i] }
                let scale = 1 / (sum / Float(width) + epsilon).squareRoot()
                for i in 0..<width { y[i] = w[i] * (x[i] * scale) }
            }
        }
    }

    public func callAsFunction(_ input: FloatRows, rows: Int, into output: FloatRows) {
        self(input.base, rows: rows, width: input.width, into: output.base)
    }
}
