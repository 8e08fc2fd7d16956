import Foundation

/// A config's RoPE settings (`rope_theta` + `rope_scaling`, or transformers 5's `rope_parameters`),
/// as transformers' `ROPE_INIT_FUNCTIONS` read them.
public struct RopeSettings: Codable, Sendable, Equatable {
    public var ropeType: String?
    /// Pre-v5 spelling of `rope_type` inside `rope_scaling`.
    public var type: String?
    public var ropeTheta: Double?
    public var factor: Double?
    public var lowFreqFactor: Double?
    public var highFreqFactor: Double?
    public var originalMaxPositionEmbeddings: Int?
    public var attentionFactor: Double?
    public var betaFast: Double?
    public var betaSlow: Double?
    public var mscale: Double?
    public var mscaleAllDim: Double?
    public var truncate: Bool?
    public var partialRotaryFactor: Double?
    /// A GGUF file's `rope_freqs` tensor: one divisor per frequency, which llama.cpp's converter
    /// computes from Llama 3's rope_scaling (not a transformers key; the GGUF loader sets it).
    public var ggufFrequencyFactors: [Double]?

    enum CodingKeys: String, CodingKey {
        case ropeType = "rope_type", type, ropeTheta = "rope_theta", factor
        case lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings"
        case attentionFactor = "attention_factor", betaFast = "beta_fast", betaSlow = "beta_slow"
        case mscale, mscaleAllDim = "mscale_all_dim", truncate, partialRotaryFactor = "partial_rotary_factor"
        case ggufFrequencyFactors = "gguf_rope_freqs"
    }

    public var kind: String { ropeType ?? type ?? "default" }

    public static let supportedKinds = ["default", "linear", "dynamic", "yarn", "llama3"]
}

/// The rotary frequencies of one RoPE configuration, computed in Float as transformers computes
/// them, and whether they change with the sequence length (dynamic NTK).
public struct RopeFrequencies: Sendable {
    public let dimensions: Int
    public let base: Double
    public let settings: RopeSettings
    /// `max_position_embeddings`, which dynamic NTK scales beyond.
    public let maxPositions: Int
    /// The frequencies for sequences within the trained length (and for every length unless dynamic).
    public private(set) var inverseFrequencies: [Float]
    /// Multiplies cos and sin (yarn's attention factor; 1 otherwise).
    public let attentionScaling: Float

    public init(dimensions: Int, base: Double, settings: RopeSettings?, maxPositions: Int) throws(RopeError) {
        self.dimensions = dimensions
        self.base = base
        let settings = settings ?? RopeSettings()
        self.settings = settings
        self.maxPositions = maxPositions
        let d = Float(dimensions)
        let plain = stride(from: 0, to: dimensions, by: 2).map { j in 1 / powf(Float(base), Float(j) / d) }
        func factor() throws(RopeError) -> Double {
            guard let f = settings.factor, f.isFinite, f > 0 else { throw .missing("factor", settings.kind) }
            return f
        }
        switch settings.kind {
        case "default", "dynamic":
            inverseFrequencies = plain
            attentionScaling = 1
            if settings.kind == "dynamic" { _ = try factor() }
        case "linear":
            let f = Float(try factor())
            inverseFrequencies = plain.map { $0 / f }
            attentionScaling = 1
        case "llama3":
            let f = Float(try factor())
            guard let low = settings.lowFreqFactor, let high = settings.highFreqFactor, high != low,
                  let old = settings.originalMaxPositionEmbeddings else { throw .missing("low/high_freq_factor, original_max_position_embeddings", "llama3") }
            let lowWavelength = Float(Double(old) / low), highWavelength = Float(Double(old) / high)
            inverseFrequencies = plain.map { inv in
                let wavelength = 2 * Float.pi / inv
                let scaled = wavelength > lowWavelength ? inv / f : inv
                let smooth = (Float(old) / wavelength - Float(low)) / (Float(high) - Float(low))
                let smoothed = (1 - smooth) * scaled / f + smooth * scaled
                let isMedium = !(wavelength < highWavelength) && !(wavelength > lowWavelength)
                return isMedium ? smoothed : scaled
            }
            attentionScaling = 1
        case "yarn":
            let f = try factor()
            let original = Double(settings.originalMaxPositionEmbeddings ?? maxPositions)
            func mscale(_ scale: Double, _ m: Double = 1) -> Double { scale <= 1 ? 1 : 0.1 * m * log(scale) + 1 }
            if let given = settings.attentionFactor {
                attentionScaling = Float(given)
            } else if let m = settings.mscale, let all = settings.mscaleAllDim, m != 0, all != 0 {
                attentionScaling = Float(mscale(f, m) / mscale(f, all))
            } else {
                attentionScaling = Float(mscale(f))
            }
            let fast = settings.betaFast ?? 32, slow = settings.betaSlow ?? 1
            func correctionDimension(_ rotations: Double) -> Double {
                (Double(dimensions) * log(original / (rotations * 2 * Double.pi))) / (2 * log(base))
            }
            var low = correctionDimension(fast), high = correctionDimension(slow)
            if settings.truncate ?? true {
                low = low.rounded(.down)
                high = high.rounded(.up)
            }
            low = max(low, 0)
            high = min(high, Double(dimensions - 1))
            if low == high { high += 0.001 }
            let positionFrequencies = stride(from: 0, to: dimensions, by: 2).map { j in powf(Float(base), Float(j) / d) }
            inverseFrequencies = positionFrequencies.enumerated().map { index, frequency in
                let ramp = min(max((Float(index) - Float(low)) / (Float(high) - Float(low)), 0), 1)
                let extrapolation = 1 - ramp
                let interpolated = 1 / (Float(f) * frequency), extrapolated = 1 / frequency
                return interpolated * (1 - extrapolation) + extrapolated * extrapolation
            }
        default:
            throw .unsupported(settings.kind)
        }
        if let factors = settings.ggufFrequencyFactors {
            // llama.cpp divides each frequency by its factor: θ_i = position · base^(-2i/d) / f_i.
            guard factors.count == inverseFrequencies.count, factors.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw .missing("\(inverseFrequencies.count) positive rope_freqs values (got \(factors.count))", settings.kind)
            }
            inverseFrequencies = zip(inverseFrequencies, factors).map { $0 / Float($1) }
        }
    }

    /// Dynamic NTK scales the base once a sequence is longer than the trained length (transformers
    /// recomputes the frequencies from the longest position of each forward call).
    public var isDynamic: Bool { settings.kind == "dynamic" }

    /// The frequencies for a forward call whose longest position is `sequenceLength - 1`.
    public func inverseFrequencies(sequenceLength: Int) -> [Float] {
        guard isDynamic, sequenceLength > maxPositions, let factor = settings.factor else { return inverseFrequencies }
        // float32 throughout, as the tensor arithmetic in transformers' _compute_dynamic_ntk_parameters.
        let d = Float(dimensions)
        let ratio = Float(factor) * Float(sequenceLength) / Float(maxPositions) - Float(factor - 1)
        let scaledBase = Float(base) * powf(ratio, Float(Double(dimensions) / Double(dimensions - 2)))
        return stride(from: 0, to: dimensions, by: 2).map { j in 1 / powf(scaledBase, Float(j) / d) }
    }
}

public enum RopeError: Error, Equatable, Sendable {
    case unsupported(String)
    case missing(String, String)
}

/// Plain RoPE frequencies (base 10,000), the fallback when a validated config's own cannot be
/// recomputed (it always can; this keeps model construction free of `try!`).
enum RotaryEmbeddingDefaults {
    static func frequencies(dimensions: Int, maxPositions: Int) -> RopeFrequencies {
        // A default RopeSettings never throws: it has no factor to check.
        (try? RopeFrequencies(dimensions: dimensions, base: 10_000, settings: nil, maxPositions: maxPositions))!
    }
}
