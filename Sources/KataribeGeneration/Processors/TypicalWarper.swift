import Foundation

/// transformers' `TypicalLogitsWarper` (locally typical sampling): tokens are ordered by how far
/// their surprisal is from the distribution's entropy, the smallest set of those reaching `mass`
/// is kept, and anything farther from the entropy than the last kept token becomes -inf (the
/// first `minTokensToKeep` in that order always stay).
///
/// The cut is by value, so ties in the ordering cannot change the result; -inf scores are at
/// infinite distance and never kept, so only finite scores are sorted.
public struct TypicalWarper: LogitsProcessor {
    public let mass: Double
    public let minTokensToKeep: Int
    let massF32: Float
    public var transformersName: String { "TypicalLogitsWarper" }

    public init(mass: Double, minTokensToKeep: Int = 1) {
        self.mass = mass
        self.minTokensToKeep = Swift.max(1, minTokensToKeep)
        self.massF32 = Float(mass)
    }

    public func process(_ scores: UnsafeMutableBufferPointer<Float>, history: TokenHistory, workspace: LogitsWorkspace) {
        let n = scores.count
        guard n > 0 else { return }
        workspace.ensureCapacity(n)
        guard let stats = SoftmaxStats(values: UnsafePointer(scores.baseAddress!), count: n) else { return }
        workspace.values.withUnsafeMutableBufferPointer { keysBuffer in
            workspace.indices.withUnsafeMutableBufferPointer { idsBuffer in
                let keys = keysBuffer.baseAddress!, ids = idsBuffer.baseAddress!
                // Entropy = -nansum(log p * p) over the whole row, summed in torch's order; -inf
                // scores give NaN terms there, which nansum skips (0 here).
                let entropy = workspace.probabilities.withUnsafeMutableBufferPointer { terms in
                    for i in 0..<n {
                        let logP = stats.logProbability(scores[i])
                        terms[i] = scores[i] > -.infinity ? logP * Foundation.exp(logP) : 0
                    }
                    return -TorchReductions.cascadeSum(terms.baseAddress!, count: n)
                }
                var finite = 0
                for i in 0..<n where scores[i] > -.infinity {
                    ids[finite] = Int32(truncatingIfNeeded: i)
                    finite += 1
                }
                for p in 0..<finite { keys[p] = Swift.abs(-stats.logProbability(scores[Int(ids[p])]) - entropy) }
                PairSort<AscendingThenID>.sort(keys: keys, ids: ids, count: finite)

                var cumulative = 0.0
                var lastIndex = 0
                for p in 0..<finite {
                    cumulative += Double(stats.probability(scores[Int(ids[p])]))
                    if Float(cumulative) < massF32 { lastIndex += 1 } else { break }
                }
                // If the finite tokens never reach `mass` the cut lands on an -inf token, whose
                // distance is infinite, and nothing is removed (torch clamps the index to n - 1).
                guard lastIndex < finite else { return }
                let cut = keys[lastIndex]
                for p in minTokensToKeep..<Swift.max(minTokensToKeep, finite) where keys[p] > cut {
                    scores[Int(ids[p])] = -.infinity
                }
            }
        }
        workspace.pruneCandidates(scores)
    }
}
