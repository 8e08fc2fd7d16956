import Foundation
import KataribeTensor

/// Causal scaled dot-product attention over one sequence's `KVCache`: the only caller of the
/// attention kernels (`AttentionKernels`).
///
/// For row i (at position p_i) and query head h, with kv head g = h / (queryHeads / kvHeads):
///   out[i, h] = softmax_{j ≤ p_i}(q[i, h] · K[g, j] · scale) · V[g, j]        [headDim]
/// Scores, softmax and the weighted sum run back to back per head while its keys and values are
/// hot; heads run in parallel.
public struct Attention: Sendable {
    public let queryHeads: Int
    public let kvHeads: Int
    public let headDim: Int
    public let scale: Float
    /// Sliding-window attention: a row at position p sees positions p - window + 1 ... p only
    /// (transformers' `kv_idx > q_idx - sliding_window`); nil sees every earlier position.
    public let window: Int?
    /// Gemma 2's attention soft-capping: scores become cap·tanh(score/cap) before the softmax.
    public let softcap: Float?

    /// `scale` nil is 1/√headDim, computed in Double and rounded once, as the reference does.
    public init(queryHeads: Int, kvHeads: Int, headDim: Int, scale: Float? = nil, window: Int? = nil, softcap: Float? = nil) {
        self.queryHeads = queryHeads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.scale = scale ?? Float(1 / Double(headDim).squareRoot())
        self.window = window
        self.softcap = softcap
    }

    /// Where a row's query heads are: head h of row i starts at `base + i·rowStride + h·headStride`.
    public struct Queries: @unchecked Sendable {
        public let base: UnsafeMutablePointer<Float>
        public let rowStride: Int
        public let headStride: Int

        public init(base: UnsafeMutablePointer<Float>, rowStride: Int, headStride: Int) {
            self.base = base
            self.rowStride = rowStride
            self.headStride = headStride
        }
    }

    /// Attends rows `0..<positions.count` (row i at `positions[i]`, whose key and value are
    /// already in `cache`) and writes heads concatenated into `output` ([rows, queryHeads·headDim]).
    public func callAsFunction(
        _ queries: Queries, positions: [Int], cache: KVCache, layer: Int, into output: FloatRows, parallelism: Parallelism
    ) {
        let d = headDim, capacity = cache.capacity, element = cache.layout.elementBytes
        let half = cache.layout.format == .float16
        let group = queryHeads / kvHeads, scale = self.scale, window = self.window ?? Int.max, softcap = self.softcap
        let q = queries, out = output
        let scores = SendablePointer(cache.scores)
        let keys = SendableRawPointer(UnsafeRawPointer(cache.keys[layer]))
        let values = SendableRawPointer(UnsafeRawPointer(cache.values[layer]))
        positions.withUnsafeBufferPointer { positionBuffer in
            let rowPositions = SendablePointer(UnsafeMutablePointer(mutating: positionBuffer.baseAddress!))
            let rows = positionBuffer.count
            parallelism.forEach(queryHeads) { head in
                let kvHead = head / group
                let keyBase = keys.pointer + kvHead * capacity * d * element
                let valueBase = values.pointer + kvHead * capacity * d * element
                let score = scores.pointer + head * capacity
                for i in 0..<rows {
                    let query = q.base + i * q.rowStride + head * q.headStride
                    let position = rowPositions.pointer[i]
                    let first = window > position ? 0 : position - window + 1
                    let visible = position + 1 - first
                    let offset = first * d * element
                    AttentionKernels.scores(query: query, keys: keyBase + offset, float16: half, dim: d, count: visible, scale: scale,
                                            into: score)
                    if let cap = softcap {
                        for j in 0..<visible { score[j] = tanhf(score[j] / cap) * cap }
                    }
                    VectorOps.softmax(score, count: visible)
                    AttentionKernels.weightedValues(score, values: valueBase + offset, float16: half, dim: d, count: visible,
                                                    into: out.row(i) + head * d)
                }
            }
        }
    }
}
