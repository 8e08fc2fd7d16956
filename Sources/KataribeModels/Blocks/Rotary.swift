import Foundation

/// Rotary position embedding in the "rotate_half" layout (GPT-NeoX, and Llama as transformers
/// stores it): within the first `2·half` values of a head, value j pairs with j + half.
///
/// Each row has its own position, so rows of one step may belong to different sequences.
public struct RotaryEmbedding: Sendable {
    /// `1 / base^(2j / dims)` in Float, as transformers computes them (or a scaled set).
    public let inverseFrequencies: [Float]
    /// Multiplies cos and sin (yarn); 1 leaves them exact.
    public let attentionScaling: Float
    /// Set for dynamic NTK, whose frequencies depend on the longest position of a step.
    public let dynamic: RopeFrequencies?

    public init(dimensions: Int, base: Double) {
        let floatBase = Float(base)
        inverseFrequencies = stride(from: 0, to: dimensions, by: 2).map { j in
            1 / powf(floatBase, Float(j) / Float(dimensions))
        }
        attentionScaling = 1
        dynamic = nil
    }

    public init(_ frequencies: RopeFrequencies) {
        inverseFrequencies = frequencies.inverseFrequencies
        attentionScaling = frequencies.attentionScaling
        dynamic = frequencies.isDynamic ? frequencies : nil
    }

    /// Pairs rotated per head.
    public var half: Int { inverseFrequencies.count }

    /// cos/sin of `position · inv_freq[j]` for each row of `step`, in Float like transformers:
    /// row i of `cos`/`sin` ([rows, half]). Dynamic NTK scales by the length a forward call sees,
    /// as transformers does: the row's sequence's length at the end of this step.
    public func tables(_ step: ForwardStep, cos: FloatRows, sin: FloatRows) {
        let half = self.half, positions = step.positions
        let scaling = attentionScaling
        var lastLength = -1, frequencies = inverseFrequencies
        for (i, position) in positions.enumerated() {
            let p = Float(position), cosRow = cos.row(i), sinRow = sin.row(i)
            if let dynamic, step.sequenceLengths[i] != lastLength {
                lastLength = step.sequenceLengths[i]
                frequencies = dynamic.inverseFrequencies(sequenceLength: lastLength)
            }
            for j in 0..<half {
                let angle = p * frequencies[j]
                if scaling == 1 {
                    cosRow[j] = cosf(angle)
                    sinRow[j] = sinf(angle)
                } else {
                    cosRow[j] = cosf(angle) * scaling
                    sinRow[j] = sinf(angle) * scaling
                }
            }
        }
    }

    /// `x·cos + rotate_half(x)·sin` on the first `2·half` values of `vector`, where
    /// `rotate_half(x) = [-x[half...], x[..<half]]`; the rest of the head passes through.
    @inline(__always)
    public func rotate(_ vector: UnsafeMutablePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>) {
        for j in 0..<half {
            let a = vector[j], b = vector[j + half]
            vector[j] = a * cos[j] - b * sin[j]
            vector[j + half] = b * cos[j] + a * sin[j]
        }
    }
}
