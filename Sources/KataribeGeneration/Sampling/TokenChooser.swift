import Foundation

/// Picks the next token from processed scores.
public enum TokenChooser {
    /// Greedy decoding: the highest score; among equal highest scores the lowest id, like
    /// `torch.argmax`. nil when no score is above -inf.
    public static func argmax(_ scores: UnsafeBufferPointer<Float>) -> Int? {
        var best = -Float.infinity
        var bestID: Int?
        for i in scores.indices where scores[i] > best {
            best = scores[i]
            bestID = i
        }
        return bestID
    }

    /// Sampling by inverse CDF in token-id order, in Float64:
    /// weights wᵢ = exp(Double(sᵢ) − Double(max s)) (0 for -inf), W = Σ wᵢ in id order,
    /// u = uniform[0,1) · W, and the result is the first id whose running sum exceeds u (the last
    /// id with a positive weight if rounding leaves u ≥ the final sum). This samples softmax(s), the
    /// distribution transformers feeds to `torch.multinomial`, without normalising first.
    /// nil when no score is above -inf.
    public static func sample(_ scores: UnsafeBufferPointer<Float>, uniform: Double) -> Int? {
        var maxScore = -Float.infinity
        for s in scores where s > maxScore { maxScore = s }
        guard maxScore > -.infinity else { return nil }
        let m = Double(maxScore)
        var total = 0.0
        for s in scores where s > -.infinity { total += Foundation.exp(Double(s) - m) }
        let target = uniform * total
        var running = 0.0
        var lastPositive: Int?
        for i in scores.indices where scores[i] > -.infinity {
            let w = Foundation.exp(Double(scores[i]) - m)
            guard w > 0 else { continue }
            running += w
            lastPositive = i
            if running > target { return i }
        }
        return lastPositive
    }
}
