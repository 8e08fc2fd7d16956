/// transformers' `TopPLogitsWarper` (nucleus): sort ascending, softmax, cumulative sum (torch
/// accumulates a float32 cumsum in double); every position whose cumulative probability is
/// `<= 1 - top_p` (compared in float32) becomes -inf, except the last `minTokensToKeep` positions.
///
/// The removed set is always a prefix of the ascending order, so only finite scores matter and
/// only the largest ones need ordering: when many scores are finite the largest few hundred are
/// selected (quickselect) and sorted, and the rest is summed; the window grows until the rest is
/// certainly removed. Tied scores are ordered by id in this fast path. That is only observable
/// when a group of equal scores straddles the cut; then the whole row is re-sorted with the exact
/// libstdc++ introsort torch uses (`PairSort<TorchAscending>`) and the cut is taken in that order.
///
/// Residual difference: probabilities come from `SoftmaxStats` (double-accumulated sum), torch's
/// from a float32 vector sum and SLEEF exp, so a cumulative probability within ~1e-7 of `1 - top_p`
/// could be classified differently. None of the randomized parity fixtures hits that.
public struct TopPWarper: LogitsProcessor {
    public let topP: Double
    public let minTokensToKeep: Int
    /// `1 - top_p` computed in double and compared in float32, as torch compares with a Python float.
    let threshold: Float
    public var transformersName: String { "TopPLogitsWarper" }

    /// Below this many finite scores the fast path simply sorts them all.
    static let fullSortLimit = 1024
    static let initialWindow = 256

    public init(topP: Double, minTokensToKeep: Int = 1) {
        self.topP = topP
        self.minTokensToKeep = Swift.max(1, minTokensToKeep)
        self.threshold = Float(1.0 - topP)
    }

    public func process(_ scores: UnsafeMutableBufferPointer<Float>, history: TokenHistory, workspace: LogitsWorkspace) {
        let n = scores.count
        guard n > 0 else { return }
        workspace.ensureCapacity(n)
        guard let stats = SoftmaxStats(values: UnsafePointer(scores.baseAddress!), count: n) else { return }
        let needsExactOrder = workspace.values.withUnsafeMutableBufferPointer { keys in
            workspace.indices.withUnsafeMutableBufferPointer { ids in
                fastPath(scores, stats: stats, keys: keys.baseAddress!, ids: ids.baseAddress!)
            }
        }
        if needsExactOrder {
            workspace.values.withUnsafeMutableBufferPointer { keys in
                workspace.indices.withUnsafeMutableBufferPointer { ids in
                    exactPath(scores, stats: stats, keys: keys.baseAddress!, ids: ids.baseAddress!)
                }
            }
        }
    }

    /// Returns true (leaving `scores` untouched) when a tie straddles the cut.
    private func fastPath(_ scores: UnsafeMutableBufferPointer<Float>, stats: SoftmaxStats,
                          keys: UnsafeMutablePointer<Float>, ids: UnsafeMutablePointer<Int32>) -> Bool {
        let n = scores.count
        var finite = 0
        for i in 0..<n where scores[i] > -.infinity {
            keys[finite] = scores[i]
            ids[finite] = Int32(truncatingIfNeeded: i)
            finite += 1
        }
        // Positions before the finite ones hold -inf: probability 0, always removable, never forced.
        let leading = n - finite
        var window = finite <= Self.fullSortLimit ? finite : Self.initialWindow
        var tailMass = 0.0
        var tailMax = -Float.infinity
        while true {
            PairSelect<AscendingThenID>.moveLargestToEnd(keys: keys, ids: ids, total: finite, count: window)
            let tailCount = finite - window
            tailMass = 0
            tailMax = -.infinity
            for p in 0..<tailCount {
                tailMass += Double(stats.probability(keys[p]))
                if keys[p] > tailMax { tailMax = keys[p] }
            }
            let forcedStart = n - minTokensToKeep
            if window == finite || (Float(tailMass) <= threshold && leading + tailCount <= forcedStart) { break }
            window = Swift.min(finite, window * 4)
        }
        let tailCount = finite - window
        PairSort<AscendingThenID>.sort(keys: keys + tailCount, ids: ids + tailCount, count: window)

        var cumulative = tailMass
        var removedInWindow = 0
        let forcedStart = n - minTokensToKeep
        for p in tailCount..<finite {
            if leading + p >= forcedStart { break }
            cumulative += Double(stats.probability(keys[p]))
            if Float(cumulative) <= threshold { removedInWindow += 1 } else { break }
        }
        let firstKept = tailCount + removedInWindow
        if firstKept < finite {
            // The tail is unordered, so its largest score stands for "last removed" when the window
            // lost nothing.
            let lastRemoved: Float? = removedInWindow > 0 ? keys[firstKept - 1] : (tailCount > 0 ? tailMax : nil)
            if let lastRemoved, lastRemoved == keys[firstKept] { return true }
        }
        for p in 0..<firstKept { scores[Int(ids[p])] = -.infinity }
        return false
    }

    /// torch's exact procedure over the whole row, with its sort order for ties.
    private func exactPath(_ scores: UnsafeMutableBufferPointer<Float>, stats: SoftmaxStats,
                           keys: UnsafeMutablePointer<Float>, ids: UnsafeMutablePointer<Int32>) {
        let n = scores.count
        for i in 0..<n { keys[i] = scores[i]; ids[i] = Int32(truncatingIfNeeded: i) }
        PairSort<TorchAscending>.sort(keys: keys, ids: ids, count: n)
        var cumulative = 0.0
        let forcedStart = n - minTokensToKeep
        for p in 0..<forcedStart {
            cumulative += Double(stats.probability(keys[p]))
            guard Float(cumulative) <= threshold else { break }
            scores[Int(ids[p])] = -.infinity
        }
    }
}
