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

    /// Attends every row of `step` (row i at `step.positions[i]`, whose key and value are already
    /// in `step.caches[i]`) and writes heads concatenated into `output` ([rows, queryHeads·headDim]).
    /// A row whose cache continues a shared prefix reads the prefix's positions first, then its
    /// own: scores are per position and each value column sums in position order, so the result
    /// has the bits of one cache holding everything.
    public func callAsFunction(
        _ queries: Queries, step: ForwardStep, layer: Int, into output: FloatRows, parallelism: Parallelism
    ) {
        let d = headDim, element = step.caches[0].layout.elementBytes
        let half = step.caches[0].layout.format == .float16
        let group = queryHeads / kvHeads, scale = self.scale, window = self.window ?? Int.max, softcap = self.softcap
        let q = queries, out = output, rowBytes = d * element
        let rows = step.caches.map { cache in
            Row(scores: SendablePointer(cache.scores), ownCapacity: cache.capacity, prefixLength: cache.prefixLength,
                keys: SendableRawPointer(UnsafeRawPointer(cache.keys[layer])), values: SendableRawPointer(UnsafeRawPointer(cache.values[layer])),
                prefixCapacity: cache.prefix?.capacity ?? 0,
                prefixKeys: cache.prefix.map { SendableRawPointer(UnsafeRawPointer($0.keys[layer])) },
                prefixValues: cache.prefix.map { SendableRawPointer(UnsafeRawPointer($0.values[layer])) })
        }
        positions(step.positions) { rowPositions in
            rows.withUnsafeBufferPointer { rowBuffer in
                let rowInfo = SendablePointer(UnsafeMutablePointer(mutating: rowBuffer.baseAddress!))
                let count = rowBuffer.count
                parallelism.forEach(queryHeads) { head in
                    let kvHead = head / group
                    for i in 0..<count {
                        let row = rowInfo.pointer[i]
                        let query = q.base + i * q.rowStride + head * q.headStride
                        let position = rowPositions.pointer[i]
                        let first = window > position ? 0 : position - window + 1
                        let visible = position + 1 - first
                        let score = row.scores.pointer + head * (row.prefixLength + row.ownCapacity)
                        // Positions first..<shared come from the prefix, shared...position from the row's own cache.
                        let shared = min(max(first, row.prefixLength), position + 1), fromPrefix = shared - first
                        let prefixBase = kvHead * row.prefixCapacity * rowBytes + first * rowBytes
                        let ownBase = kvHead * row.ownCapacity * rowBytes + (shared - row.prefixLength) * rowBytes
                        if fromPrefix > 0, let keys = row.prefixKeys {
                            AttentionKernels.scores(query: query, keys: keys.pointer + prefixBase, float16: half, dim: d, count: fromPrefix,
                                                    scale: scale, into: score)
                        }
                        if visible > fromPrefix {
                            AttentionKernels.scores(query: query, keys: row.keys.pointer + ownBase, float16: half, dim: d,
                                                    count: visible - fromPrefix, scale: scale, into: score + fromPrefix)
                        }
                        if let cap = softcap {
                            for j in 0..<visible { score[j] = tanhf(score[j] / cap) * cap }
                        }
                        VectorOps.softmax(score, count: visible)
                        let target = out.row(i) + head * d
                        if fromPrefix > 0, let values = row.prefixValues {
                            AttentionKernels.weightedValues(score, values: values.pointer + prefixBase, float16: half, dim: d,
                                                            count: fromPrefix, into: target)
                        }
                        if visible > fromPrefix {
                            AttentionKernels.weightedValues(score + fromPrefix, values: row.values.pointer + ownBase, float16: half, dim: d,
                                                            count: visible - fromPrefix, accumulating: fromPrefix > 0, into: target)
                        }
                    }
                }
            }
        }
    }

    /// One row's cache, as raw pointers the worker threads may read.
    private struct Row: Sendable {
        let scores: SendablePointer<Float>
        let ownCapacity, prefixLength: Int
        let keys, values: SendableRawPointer
        let prefixCapacity: Int
        let prefixKeys, prefixValues: SendableRawPointer?
    }

    private func positions(_ positions: [Int], _ body: (SendablePointer<Int>) -> Void) {
        positions.withUnsafeBufferPointer { body(SendablePointer(UnsafeMutablePointer(mutating: $0.baseAddress!))) }
    }
}
