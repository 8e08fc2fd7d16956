import Foundation

/// Picks the next token from processed scores.
public enum TokenChooser {
    /// Greedy decoding: the highest score; among equal highest scores the lowest id, like
    /// `torch.argmax`. nil when no score is above -inf.
    public static func argmax(_ scores: UnsafeBufferPointer<Float>) -> Int? {
        // Vector max first, then the first id holding it: two cheap passes instead of one branchy one.
        guard let base = scores.baseAddress, !scores.isEmpty else { return nil }
        let n = scores.count
        let raw = UnsafeRawPointer(base)
        var lanes = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= n {
            lanes = pointwiseMax(lanes, raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            i += 8
        }
        var best = lanes.max()
        while i < n { best = Swift.max(best, scores[i]); i += 1 }
        guard best > -.infinity else { return nil }
        for j in 0..<n where scores[j] == best { return j }
        return nil
    }

    /// The first id whose logit is NaN or +inf (which no distribution can be made from), if any.
    public static func firstInvalidLogit(_ scores: UnsafeBufferPointer<Float>) -> Int? {
        guard let base = scores.baseAddress else { return nil }
        let n = scores.count
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= n {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            if any((v .!= v) .| (v .== .infinity)) { break }
            i += 8
        }
        for j in i..<n where scores[j].isNaN || scores[j] == .infinity { return j }
        return nil
    }

    /// Sampling by inverse CDF in token-id order, in Float64:
    /// weights wᵢ = exp(Double(sᵢ) − Double(max s)) (0 for -inf), W = Σ wᵢ in id order,
    /// u = uniform[0,1) · W, and the result is the first id whose running sum exceeds u (the last
    /// id with a positive weight if rounding leaves u ≥ the final sum). This samples softmax(s), the
    /// distribution transformers feeds to `torch.multinomial`, without normalising first.
    /// nil when no score is above -inf.
    public static func sample(_ scores: UnsafeBufferPointer<Float>, uniform: Double) -> Int? {
        sample(scores, ids: scores.indices, uniform: uniform)
    }

    /// `sample` visiting only `ids` (ascending, covering every id above -inf): the same result.
    static func sample<IDs: Collection>(_ scores: UnsafeBufferPointer<Float>, ids: IDs, uniform: Double) -> Int?
    where IDs.Element: BinaryInteger {
        var maxScore = -Float.infinity
        for id in ids where scores[Int(id)] > maxScore { maxScore = scores[Int(id)] }
        guard maxScore > -.infinity else { return nil }
        let m = Double(maxScore)
        var total = 0.0
        for id in ids where scores[Int(id)] > -.infinity { total += Foundation.exp(Double(scores[Int(id)]) - m) }
        let target = uniform * total
        var running = 0.0
        var lastPositive: Int?
        for id in ids where scores[Int(id)] > -.infinity {
            let i = Int(id)
            let w = Foundation.exp(Double(scores[i]) - m)
            guard w > 0 else { continue }
            running += w
            lastPositive = i
            if running > target { return i }
        }
        return lastPositive
    }

    /// Samples using the workspace's candidate list when the chain left one.
    static func sample(_ scores: UnsafeBufferPointer<Float>, workspace: LogitsWorkspace, uniform: Double) -> Int? {
        guard workspace.candidatesValid else { return sample(scores, uniform: uniform) }
        return workspace.candidates.withUnsafeBufferPointer { c in
            sample(scores, ids: c[0..<workspace.candidateCount], uniform: uniform)
        }
    }
}
