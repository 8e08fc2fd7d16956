/// One step of transformers' logits processing, applied in place to the last position's scores.
///
/// Implementations mirror one transformers class each (`transformersName`) with the same
/// semantics in float32. They keep no per-step state; reusable buffers come from the workspace.
public protocol LogitsProcessor: Sendable {
    /// The transformers class this processor reproduces, e.g. `"TopKLogitsWarper"`.
    var transformersName: String { get }
    /// Rewrites `scores` (one entry per vocabulary id) in place.
    func process(_ scores: UnsafeMutableBufferPointer<Float>, history: TokenHistory, workspace: LogitsWorkspace)
}

/// The ids the model has seen so far: the prompt followed by the generated tokens
/// (transformers' `input_ids` for a decoder-only model).
public struct TokenHistory: Sendable, Equatable {
    public var tokens: [Int]
    /// How many of `tokens` are the prompt.
    public var promptLength: Int

    public init(tokens: [Int], promptLength: Int) {
        self.tokens = tokens
        self.promptLength = promptLength
    }

    public init(prompt: [Int]) {
        self.init(tokens: prompt, promptLength: prompt.count)
    }

    public var generatedCount: Int { tokens.count - promptLength }
    public var generated: ArraySlice<Int> { tokens[promptLength...] }
}

/// Scratch buffers reused across steps so the per-token path allocates nothing once warmed up.
/// One per sequence being generated; not for sharing between threads.
public final class LogitsWorkspace {
    var values: [Float] = []
    var indices: [Int32] = []
    var probabilities: [Float] = []
    var keys: [Float] = []
    var order: [Int32] = []
    /// Per-vocab-id marks; an id is "marked" when its stamp equals `currentStamp`, so clearing is O(1).
    private var stamps: [UInt32] = []
    private var currentStamp: UInt32 = 0

    /// Ids whose score is above -inf, ascending, once a filtering warper (top-k) has found them in
    /// the current chain run; later processors and the sampler then visit only these instead of
    /// the whole vocabulary. Reset by `LogitsProcessorChain.apply`.
    var candidates: [Int32] = []
    var candidateCount = 0
    var candidatesValid = false

    public init() {}

    /// Records the finite-scored ids of `scores` as the candidate list.
    func collectCandidates(_ scores: UnsafeMutableBufferPointer<Float>) {
        if candidates.count < scores.count { candidates = [Int32](repeating: 0, count: scores.count) }
        var count = 0
        candidates.withUnsafeMutableBufferPointer { c in
            for i in scores.indices where scores[i] > -.infinity {
                c[count] = Int32(truncatingIfNeeded: i)
                count += 1
            }
        }
        candidateCount = count
        candidatesValid = true
    }

    /// Drops candidates whose score has since become -inf (keeps the list valid after a filter).
    func pruneCandidates(_ scores: UnsafeMutableBufferPointer<Float>) {
        guard candidatesValid else { return }
        var kept = 0
        candidates.withUnsafeMutableBufferPointer { c in
            for j in 0..<candidateCount where scores[Int(c[j])] > -.infinity {
                c[kept] = c[j]
                kept += 1
            }
        }
        candidateCount = kept
    }

    /// Calls `body` with every id whose score is above -inf, in ascending order.
    @inline(__always)
    func forEachFinite(_ scores: UnsafeMutableBufferPointer<Float>, _ body: (Int) -> Void) {
        if candidatesValid {
            candidates.withUnsafeBufferPointer { c in
                for j in 0..<candidateCount { body(Int(c[j])) }
            }
        } else {
            for i in scores.indices where scores[i] > -.infinity { body(i) }
        }
    }

    /// Starts a fresh set of marks over `vocabularySize` ids.
    func beginMarking(vocabularySize: Int) {
        if stamps.count < vocabularySize { stamps = [UInt32](repeating: 0, count: vocabularySize); currentStamp = 0 }
        currentStamp &+= 1
        if currentStamp == 0 {  // wrapped: old stamps could collide, so really clear once
            for i in stamps.indices { stamps[i] = 0 }
            currentStamp = 1
        }
    }

    /// Marks `id`; returns true when it was not marked yet in this set.
    func mark(_ id: Int) -> Bool {
        if stamps[id] == currentStamp { return false }
        stamps[id] = currentStamp
        return true
    }

    func ensureCapacity(_ n: Int) {
        if values.count < n {
            values = [Float](repeating: 0, count: n)
            indices = [Int32](repeating: 0, count: n)
            probabilities = [Float](repeating: 0, count: n)
            keys = [Float](repeating: 0, count: n)
            order = [Int32](repeating: 0, count: n)
        }
    }
}
