/// transformers' `TopPLogitsWarper` (nucleus): sort ascending, softmax, cumulative sum (torch
/// accumulates a float32 cumsum in double); every position whose cumulative probability is
/// `<= 1 - top_p` (compared in float32) becomes -inf, except the last `minTokensToKeep` positions.
///
/// The removed set is always a prefix of the ascending order, so only the largest scores need
/// ordering. One pass computes every exp (kept for reuse) and a histogram of probability mass by
/// score (1/8-logit buckets below the maximum); the buckets whose total mass certainly lies
/// under `1 - top_p` are summed without sorting, and only the remaining candidates are sorted.
/// Tied scores are ordered by id in this fast path. That is only observable when a group of equal
/// scores straddles the cut; then the whole row is re-sorted with the exact libstdc++ introsort
/// torch uses (`PairSort<TorchAscending>`) and the cut is taken in that order.
///
/// Residual difference: exp is the C library's (torch uses SLEEF or a polynomial), so a
/// probability can differ by an ulp and a cumulative probability within ~1e-7 of `1 - top_p`
/// could be classified differently. None of the randomized parity fixtures hits that.
public struct TopPWarper: LogitsProcessor {
    public let topP: Double
    public let minTokensToKeep: Int
    /// `1 - top_p` computed in double and compared in float32, as torch compares with a Python float.
    let threshold: Float
    public var transformersName: String { "TopPLogitsWarper" }

    static let bucketsPerLogit: Float = 8
    static let bucketCount = 256

    public init(topP: Double, minTokensToKeep: Int = 1) {
        self.topP = topP
        self.minTokensToKeep = Swift.max(1, minTokensToKeep)
        self.threshold = Float(1.0 - topP)
    }

    public func process(_ scores: UnsafeMutableBufferPointer<Float>, history: TokenHistory, workspace: LogitsWorkspace) {
        let n = scores.count
        guard n > 0 else { return }
        workspace.ensureCapacity(n)
        workspace.values.withUnsafeMutableBufferPointer { keys in
            workspace.indices.withUnsafeMutableBufferPointer { ids in
                workspace.probabilities.withUnsafeMutableBufferPointer { exps in
                    guard let stats = SoftmaxStats(scores: scores, workspace: workspace, exps: exps.baseAddress!) else { return }
                    let k = keys.baseAddress!, d = ids.baseAddress!, e = UnsafePointer(exps.baseAddress!)
                    if fastPath(scores, stats: stats, exps: e, keys: k, ids: d, workspace: workspace) {
                        exactPath(scores, stats: stats, exps: e, keys: k, ids: d)
                    }
                }
            }
        }
        workspace.pruneCandidates(scores)
    }

    @inline(__always) private static func bucket(_ v: Float, max: Float) -> Int {
        let d = (max - v) * bucketsPerLogit
        return d < Float(bucketCount - 1) ? Int(d) : bucketCount - 1
    }

    /// Returns true (leaving `scores` untouched) when a tie straddles the cut.
    private func fastPath(_ scores: UnsafeMutableBufferPointer<Float>, stats: SoftmaxStats, exps: UnsafePointer<Float>,
                          keys: UnsafeMutablePointer<Float>, ids: UnsafeMutablePointer<Int32>,
                          workspace: LogitsWorkspace) -> Bool {
        let n = scores.count
        let forcedStart = n - minTokensToKeep
        var finite = 0
        // Buckets b >= firstRemovable hold mass that is certainly removed (a safety margin covers
        // the difference between bucket sums and torch's per-token float32 probabilities).
        var firstRemovable = withUnsafeTemporaryAllocation(of: Double.self, capacity: Self.bucketCount) { mass in
            mass.initialize(repeating: 0)
            workspace.forEachFinite(scores) { i in
                mass[Self.bucket(scores[i], max: stats.max)] += Double(exps[i])
                finite += 1
            }
            var removable = Self.bucketCount
            var accumulated = 0.0
            let limit = Double(threshold) - 1e-6
            for b in stride(from: Self.bucketCount - 1, through: 0, by: -1) {
                accumulated += mass[b] * Double(stats.inverseSum)
                if accumulated > limit { break }
                removable = b
            }
            return removable
        }
        let leading = n - finite  // -inf scores sort first: probability 0, always removable
        var candidates = 0
        var tailMass = 0.0
        var tailMax = -Float.infinity
        while true {
            candidates = 0
            tailMass = 0
            tailMax = -.infinity
            var tailCount = 0
            workspace.forEachFinite(scores) { i in
                let v = scores[i]
                if Self.bucket(v, max: stats.max) < firstRemovable {
                    keys[candidates] = v
                    ids[candidates] = Int32(truncatingIfNeeded: i)
                    candidates += 1
                } else {
                    tailMass += Double(exps[i] * stats.inverseSum)
                    if v > tailMax { tailMax = v }
                    tailCount += 1
                }
            }
            if tailCount == 0 || (Float(tailMass) <= threshold && leading + tailCount <= forcedStart) { break }
            firstRemovable += 1  // the margin was not enough: move one bucket back into the candidates
        }
        let tailCount = finite - candidates
        PairSort<AscendingThenID>.sort(keys: keys, ids: ids, count: candidates)

        var cumulative = tailMass
        var removed = 0
        for p in 0..<candidates {
            if leading + tailCount + p >= forcedStart { break }
            cumulative += Double(exps[Int(ids[p])] * stats.inverseSum)
            if Float(cumulative) <= threshold { removed += 1 } else { break }
        }
        if removed < candidates {
            // The tail is unordered, so its largest score stands for "last removed" when no
            // candidate was removed.
            let lastRemoved: Float? = removed > 0 ? keys[removed - 1] : (tailCount > 0 ? tailMax : nil)
            if let lastRemoved, lastRemoved == keys[removed] { return true }
        }
        if tailCount > 0 {
            workspace.forEachFinite(scores) { i in
                if Self.bucket(scores[i], max: stats.max) >= firstRemovable { scores[i] = -.infinity }
            }
        }
        for p in 0..<removed { scores[Int(ids[p])] = -.infinity }
        return false
    }

    /// torch's exact procedure over the whole row, with its sort order for ties.
    private func exactPath(_ scores: UnsafeMutableBufferPointer<Float>, stats: SoftmaxStats, exps: UnsafePointer<Float>,
                           keys: UnsafeMutablePointer<Float>, ids: UnsafeMutablePointer<Int32>) {
        let n = scores.count
        for i in 0..<n { keys[i] = scores[i]; ids[i] = Int32(truncatingIfNeeded: i) }
        PairSort<TorchAscending>.sort(keys: keys, ids: ids, count: n)
        var cumulative = 0.0
        for p in 0..<(n - minTokensToKeep) {
            let id = Int(ids[p])
            // `exps` is only filled for finite scores; -inf has probability 0.
            cumulative += keys[p] == -.infinity ? 0 : Double(exps[id] * stats.inverseSum)
            guard Float(cumulative) <= threshold else { break }
            scores[id] = -.infinity
        }
    }
}
