import Foundation
import KataribeCKernels

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
        let r8 = SIMD8<Float>(repeating: rstd)
        let wr = UnsafeRawPointer(weight), br = UnsafeRawPointer(bias), outRaw = UnsafeMutableRawPointer(out)
        k = 0
        while k + 8 <= count {
            let d = xr.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self) - m8
            let w = wr.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
            let b = br.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
            outRaw.storeBytes(of: d * r8 * w + b, toByteOffset: k * 4, as: SIMD8<Float>.self)
            k += 8
        }
        while k < count {
            out[k] = (x[k] - mean) * rstd * weight[k] + bias[k]
            k += 1
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

    /// Numerically stable softmax over `count` values, in place (vectorised exp, within 1e-7
    /// relative of `expf`).
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        kc_softmax(x, count)
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

/// The MLP non-linearities checkpoints name in `hidden_act`.
public enum Activation: String, Sendable, CaseIterable {
    /// Exact GELU, `x/2 · (1 + erf(x/√2))` (transformers "gelu", "gelu_python").
    case gelu
    /// Tanh approximation, `x/2 · (1 + tanh(√(2/π)(x + 0.044715x³)))` ("gelu_new", "gelu_pytorch_tanh").
    case geluTanh
    /// transformers' "gelu_fast": the same tanh form written as `x·0.7978845608·(1 + 0.044715x²)`.
    case geluFast
    /// SiLU (swish), `x · σ(x)` (transformers "silu", "swish"): the gate of Llama-family GLUs.
    case silu

    /// Maps a config.json `hidden_act` name; nil when unsupported.
    public init?(configName: String) {
        switch configName {
        case "gelu", "gelu_python": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh": self = .geluTanh
        case "gelu_fast": self = .geluFast
        case "silu", "swish": self = .silu
        default: return nil
        }
    }

    /// Applies the activation in place, vectorised: erf is a rational approximation within 4e-7
    /// of libm's, tanh goes through a vectorised exp (tools/kernels/fit_coefficients.py).
    public func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .gelu: kc_gelu_erf(x, count)
        // "gelu_fast" is the same function as the tanh form, only spelled differently.
        case .geluTanh, .geluFast: kc_gelu_tanh(x, count)
        case .silu: for i in 0..<count { x[i] = x[i] / (1 + expf(-x[i])) }
        }
    }

    /// The scalar definition with libm (tests compare the vectorised kernels against it).
    public func reference(_ v: Float) -> Float {
        switch self {
        case .gelu: 0.5 * v * (1 + erff(v * Float(1 / 2.0.squareRoot())))
        case .geluTanh: 0.5 * v * (1 + tanhf(Float((2 / Double.pi).squareRoot()) * (v + 0.044715 * v * v * v)))
        case .geluFast: 0.5 * v * (1 + tanhf(v * 0.7978845608 * (1 + 0.044715 * v * v)))
        case .silu: v / (1 + expf(-v))
        }
    }
}
