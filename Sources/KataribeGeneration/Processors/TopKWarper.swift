/// transformers' `TopKLogitsWarper`: scores below the k-th largest score become -inf. Every score
/// equal to the k-th largest is kept, so ties at the cut keep more than k tokens, as in torch.
/// The k-th largest is found with a size-k min-heap (one pass, O(n log k)), not a full sort, and
/// the surviving ids are handed on as the workspace's candidate list.
public struct TopKWarper: LogitsProcessor {
    public let topK: Int
    public var transformersName: String { "TopKLogitsWarper" }

    public init(topK: Int, minTokensToKeep: Int = 1) { self.topK = Swift.max(topK, minTokensToKeep) }

    public func process(_ scores: UnsafeMutableBufferPointer<Float>, history: TokenHistory, workspace: LogitsWorkspace) {
        let n = scores.count
        let k = Swift.min(topK, n)
        guard k > 0, k < n else { return }
        workspace.ensureCapacity(k)
        let kth = workspace.values.withUnsafeMutableBufferPointer { heap in
            Self.kthLargest(scores, k: k, heap: heap.baseAddress!)
        }
        for i in 0..<n where scores[i] < kth { scores[i] = -.infinity }
        // Few ids survive; let the warpers and the sampler after this one visit only those.
        workspace.collectCandidates(scores)
    }

    /// Keeps the k largest seen so far in a min-heap whose root is the current k-th largest.
    static func kthLargest(_ scores: UnsafeMutableBufferPointer<Float>, k: Int, heap: UnsafeMutablePointer<Float>) -> Float {
        for i in 0..<k { heap[i] = scores[i] }
        var parent = k / 2 - 1
        while parent >= 0 { siftDown(heap, count: k, from: parent); parent -= 1 }
        for i in k..<scores.count where scores[i] > heap[0] {
            heap[0] = scores[i]
            siftDown(heap, count: k, from: 0)
        }
        return heap[0]
    }

    @inline(__always)
    private static func siftDown(_ heap: UnsafeMutablePointer<Float>, count: Int, from start: Int) {
        var i = start
        let value = heap[i]
        while true {
            var child = 2 * i + 1
            if child >= count { break }
            if child + 1 < count, heap[child + 1] < heap[child] { child += 1 }
            if !(heap[child] < value) { break }
            heap[i] = heap[child]
            i = child
        }
        heap[i] = value
    }
}
