import Foundation

/// Element-wise and row-wise operations on `Float` activations. Accumulation is always `Float`
/// (like torch on CPU for float32 tensors).
public enum VectorOps {
    /// `out = (x - mean) / sqrt(var + eps) * weight + bias` over one row of `count` values
    /// (biased variance, like `torch.nn.LayerNorm`). `out` may alias `x`.
    public static func layerNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        epsilon: Float, count: Int, into out: UnsafeMutablePointer<Float>
    ) {
        let mean = sum(x, count) / Float(count)
        var acc = SIMD8<Float>()
        var k = 0
        let xr = UnsafeRawPointer(x)
        let m8 = SIMD8<Float>(repeating: mean)
        while k + 8 <= count {
            let d = xr.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self) - m8
            acc.addProduct(d, d)
            k += 8
        }
        var variance = acc.sum()
        while k < count {
            let d = x[k] - mean
            variance += d * d
            k += 1
        }
        variance /= Float(count)
        let rstd = 1 / (variance + epsilon).squareRoot()
        for i in 0..<count {
            out[i] = (x[i] - mean) * rstd * weight[i] + bias[i]
        }
    }

    public static func sum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc = SIMD8<Float>()
        var k = 0
        let xr = UnsafeRawPointer(x)
        while k + 8 <= count {
            acc += xr.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
            k += 8
        }
        var s = acc.sum()
        while k < count {
            s += x[k]
            k += 1
        }
        return s
    }

    /// `y[i] += x[i]`.
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }

    /// Numerically stable softmax over `count` values, in place.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        var maximum = -Float.infinity
        for i in 0..<count where x[i] > maximum { maximum = x[i] }
        var total: Float = 0
        for i in 0..<count {
            let e = expf(x[i] - maximum)
            x[i] = e
            total += e
        }
        let scale = 1 / total
        for i in 0..<count { x[i] *= scale }
    }

    /// `log_softmax(x)[index]`, accumulated in Double so long vocabularies lose nothing.
    public static func logSoftmax(_ x: UnsafeBufferPointer<Float>, at index: Int) -> Double {
        let maximum = Double(x.max() ?? 0)
        var total = 0.0
        for v in x { total += exp(Double(v) - maximum) }
        return Double(x[index]) - maximum - log(total)
    }

    /// The whole `log_softmax` vector.
    public static func logSoftmax(_ x: [Float]) -> [Double] {
        let maximum = Double(x.max() ?? 0)
        var total = 0.0
        for v in x { total += exp(Double(v) - maximum) }
        let logTotal = maximum + log(total)
        return x.map { Double($0) - logTotal }
    }
}

/// The MLP non-linearities GPT-NeoX checkpoints name in `hidden_act`.
public enum Activation: String, Sendable, CaseIterable {
    /// Exact GELU, `x/2 · (1 + erf(x/√2))` (transformers "gelu", "gelu_python").
    case gelu
    /// Tanh approximation, `x/2 · (1 + tanh(√(2/π)(x + 0.044715x³)))` ("gelu_new", "gelu_pytorch_tanh").
    case geluTanh
    /// transformers' "gelu_fast": the same tanh form written as `x·0.7978845608·(1 + 0.044715x²)`.
    case geluFast

    /// Maps a config.json `hidden_act` name; nil when unsupported.
    public init?(configName: String) {
        switch configName {
        case "gelu", "gelu_python": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh": self = .geluTanh
        case "gelu_fast": self = .geluFast
        default: return nil
        }
    }

    public func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .gelu:
            let invSqrt2 = Float(1 / 2.0.squareRoot())
            for i in 0..<count {
                let v = x[i]
                x[i] = 0.5 * v * (1 + erff(v * invSqrt2))
            }
        case .geluTanh:
            let c = Float((2 / Double.pi).squareRoot())
            for i in 0..<count {
                let v = x[i]
                x[i] = 0.5 * v * (1 + tanhf(c * (v + 0.044715 * v * v * v)))
            }
        case .geluFast:
            for i in 0..<count {
                let v = x[i]
                x[i] = 0.5 * v * (1 + tanhf(v * 0.7978845608 * (1 + 0.044715 * v * v)))
            }
        }
    }
}
