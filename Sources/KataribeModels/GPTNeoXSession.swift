import Foundation
import KataribeCKernels
import KataribeTensor

/// The KV cache and scratch buffers of one sequence on a `GPTNeoXModel`.
/// Scratch buffers are allocated once, for `batchCapacity` tokens; the cache grows by doubling
/// up to the context length.
final class GPTNeoXSession: LanguageModelSession, SyntheticContextFilling {
    let neox: GPTNeoXModel
    var model: any CausalLanguageModel { neox }
    private(set) var tokens: [Int] = []

    private let hidden: Int, heads: Int, headDim: Int, intermediate: Int, vocab: Int, batch: Int
    // Scratch, each [batch, width]
    private let x: UnsafeMutablePointer<Float>          // residual stream  [B, H]
    private let normed: UnsafeMutablePointer<Float>     // LayerNorm output [B, H]
    private let qkv: UnsafeMutablePointer<Float>        // fused projection [B, 3H]
    private let attention: UnsafeMutablePointer<Float>  // heads concatenated [B, H]
    private let projected: UnsafeMutablePointer<Float>  // attention dense output [B, H]
    private let up: UnsafeMutablePointer<Float>         // MLP hidden [B, I]
    private let mlpOut: UnsafeMutablePointer<Float>     // MLP output [B, H]
    private let logits: UnsafeMutablePointer<Float>     // [B, V]
    private let rotaryCos: UnsafeMutablePointer<Float>  // [B, rotary/2]
    private let rotarySin: UnsafeMutablePointer<Float>
    // Cache: per layer [heads, capacity, headDim] of float32 or float16; scores [heads, capacity]
    private var keys: [UnsafeMutableRawPointer] = []
    private var values: [UnsafeMutableRawPointer] = []
    private var scores: UnsafeMutablePointer<Float>
    private var capacity = 0
    /// Bytes per cached key/value element (4, or 2 for a float16 cache).
    private let cacheElement: Int

    init(model: GPTNeoXModel) {
        let c = model.configuration
        neox = model
        hidden = c.hiddenSize
        heads = c.numAttentionHeads
        headDim = c.headDimension
        intermediate = c.intermediateSize
        vocab = c.vocabSize
        batch = min(model.batchCapacity, c.contextLength)
        func buffer(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            p.initialize(repeating: 0, count: max(count, 1))
            return p
        }
        x = buffer(batch * hidden)
        normed = buffer(batch * hidden)
        qkv = buffer(batch * 3 * hidden)
        attention = buffer(batch * hidden)
        projected = buffer(batch * hidden)
        up = buffer(batch * intermediate)
        mlpOut = buffer(batch * hidden)
        logits = buffer(batch * vocab)
        rotaryCos = buffer(batch * c.rotaryDimensions / 2)
        rotarySin = buffer(batch * c.rotaryDimensions / 2)
        scores = buffer(0)
        cacheElement = model.kvCacheFormat == .float16 ? 2 : 4
    }

    deinit {
        for p in [x, normed, qkv, attention, projected, up, mlpOut, logits, rotaryCos, rotarySin, scores] {
            p.deallocate()
        }
        for p in keys + values { p.deallocate() }
    }

    // MARK: Public API

    func append(_ newTokens: [Int]) throws(ModelError) -> [Float] {
        var last: [Float] = []
        try run(newTokens) { chunkCount, isFinal in
            guard isFinal else { return }
            last = Array(UnsafeBufferPointer(start: logits + (chunkCount - 1) * vocab, count: vocab))
        } allLogits: { false }
        return last
    }

    func appendReturningAllLogits(_ newTokens: [Int]) throws(ModelError) -> [[Float]] {
        var rows: [[Float]] = []
        rows.reserveCapacity(newTokens.count)
        try run(newTokens) { chunkCount, _ in
            for i in 0..<chunkCount {
                rows.append(Array(UnsafeBufferPointer(start: logits + i * vocab, count: vocab)))
            }
        } allLogits: { true }
        return rows
    }

    func rewind(to count: Int) throws(ModelError) {
        guard count >= 0, count <= tokens.count else { throw .invalidRewind(requested: count, available: tokens.count) }
        tokens.removeLast(tokens.count - count)
    }

    func reset() { tokens.removeAll() }

    func reserveCapacity(_ count: Int) { reserve(min(count, neox.contextLength), exactly: true) }

    func appendSyntheticContext(count: Int, seed: UInt64) throws(ModelError) {
        guard count > 0 else { throw .emptyInput }
        let needed = tokens.count + count
        guard needed <= neox.contextLength else { throw .contextOverflow(needed: needed, limit: neox.contextLength) }
        reserve(needed)
        var state = seed | 1
        func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
        let d = headDim, first = tokens.count
        let row = UnsafeMutablePointer<Float>.allocate(capacity: d)
        defer { row.deallocate() }
        for layer in 0..<keys.count {
            for head in 0..<heads {
                for position in first..<needed {
                    let slot = (head * capacity + position) * d * cacheElement
                    for c in 0..<d { row[c] = Float(Int(next() % 2001) - 1000) / 1000 }
                    store(row, into: keys[layer] + slot, count: d)
                    for c in 0..<d { row[c] = Float(Int(next() % 2001) - 1000) / 1000 }
                    store(row, into: values[layer] + slot, count: d)
                }
            }
        }
        for _ in 0..<count { tokens.append(Int(next() % UInt64(vocab))) }
    }

    /// Validates, then feeds `newTokens` through the model `batch` tokens at a time, calling
    /// `consume(count, isFinal)` after each chunk's logits are in `logits`.
    private func run(
        _ newTokens: [Int], consume: (Int, Bool) -> Void, allLogits: () -> Bool
    ) throws(ModelError) {
        guard !newTokens.isEmpty else { throw .emptyInput }
        for t in newTokens where t < 0 || t >= vocab { throw .tokenOutOfRange(token: t, vocabularySize: vocab) }
        let needed = tokens.count + newTokens.count
        guard needed <= neox.contextLength else { throw .contextOverflow(needed: needed, limit: neox.contextLength) }
        reserve(needed)
        let wantAll = allLogits()
        var start = 0
        while start < newTokens.count {
            let chunk = Array(newTokens[start..<min(start + batch, newTokens.count)])
            let isFinal = start + chunk.count == newTokens.count
            forward(chunk, logitRows: wantAll ? 0..<chunk.count : (isFinal ? (chunk.count - 1)..<chunk.count : 0..<0))
            tokens.append(contentsOf: chunk)
            consume(chunk.count, isFinal)
            start += chunk.count
        }
    }

    // MARK: Cache

    /// Grows every layer's cache to hold `count` positions: exactly that many, or by doubling
    /// (capped at the context) so that token-by-token appends copy the cache only a few times.
    private func reserve(_ count: Int, exactly: Bool = false) {
        guard count > capacity else { return }
        var newCapacity = exactly ? count : max(capacity, min(64, neox.contextLength))
        while newCapacity < count { newCapacity = min(newCapacity * 2, neox.contextLength) }
        let layers = neox.configuration.numHiddenLayers
        let used = tokens.count
        let element = cacheElement, oldCapacity = capacity
        func grow(_ old: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer {
            let fresh = UnsafeMutableRawPointer.allocate(byteCount: heads * newCapacity * headDim * element, alignment: 64)
            if let old {
                for h in 0..<heads {
                    (fresh + h * newCapacity * headDim * element)
                        .copyMemory(from: old + h * oldCapacity * headDim * element, byteCount: used * headDim * element)
                }
                old.deallocate()
            }
            return fresh
        }
        if keys.isEmpty {
            keys = (0..<layers).map { _ in grow(nil) }
            values = (0..<layers).map { _ in grow(nil) }
        } else {
            keys = keys.map { grow($0) }
            values = values.map { grow($0) }
        }
        scores.deallocate()
        scores = UnsafeMutablePointer<Float>.allocate(capacity: heads * newCapacity)
        capacity = newCapacity
    }

    // MARK: Forward pass

    /// Runs `chunk` (at positions `tokens.count...`) through every layer and leaves the logits
    /// of the chunk rows in `logitRows` at `logits[row]`.
    private func forward(_ chunk: [Int], logitRows: Range<Int>) {
        let n = chunk.count, h = hidden
        let weights = neox.weights, par = neox.parallelism, eps = Float(neox.configuration.layerNormEpsilon)
        let start = tokens.count

        // x[n, H] = embed_in[token]
        for (i, token) in chunk.enumerated() { weights.embedIn.row(token, into: x + i * h) }
        computeRotaryTables(count: n, firstPosition: start)

        for (layerIndex, layer) in weights.layers.enumerated() {
            // Attention block
            layerNorm(x, layer.inputLayerNorm, rows: n, into: normed, eps: eps)
            layer.queryKeyValue.apply(normed, count: n, into: qkv, parallelism: par)     // [n, 3H]
            applyRotaryAndCache(count: n, firstPosition: start, layer: layerIndex)
            attend(count: n, firstPosition: start, layer: layerIndex)                     // [n, H]
            layer.attentionDense.apply(attention, count: n, into: projected, parallelism: par)

            if neox.configuration.parallelResidual {
                // x = mlp(ln2(x)) + attn + x
                layerNorm(x, layer.postAttentionLayerNorm, rows: n, into: normed, eps: eps)
                mlp(layer, rows: n)
                for i in 0..<(n * h) { x[i] = (mlpOut[i] + projected[i]) + x[i] }
            } else {
                // x = x + attn; x = x + mlp(ln2(x))
                for i in 0..<(n * h) { x[i] = projected[i] + x[i] }
                layerNorm(x, layer.postAttentionLayerNorm, rows: n, into: normed, eps: eps)
                mlp(layer, rows: n)
                for i in 0..<(n * h) { x[i] = mlpOut[i] + x[i] }
            }
        }

        guard !logitRows.isEmpty else { return }
        let first = logitRows.lowerBound, rows = logitRows.count
        layerNorm(x + first * h, weights.finalLayerNorm, rows: rows, into: normed, eps: eps)
        // logits[row, V] = ln_f(x) · W_outᵀ (rows packed from 0, then moved into place)
        weights.embedOut.gemm(normed, count: rows, into: logits + first * vocab, bias: nil, parallelism: par)
    }

    private func layerNorm(
        _ input: UnsafeMutablePointer<Float>, _ norm: LayerNormWeights, rows: Int,
        into output: UnsafeMutablePointer<Float>, eps: Float
    ) {
        let h = hidden
        norm.weight.withUnsafeBufferPointer { w in
            norm.bias.withUnsafeBufferPointer { b in
                guard let w = w.baseAddress, let b = b.baseAddress else { return }
                for r in 0..<rows {
                    VectorOps.layerNorm(input + r * h, weight: w, bias: b, epsilon: eps, count: h, into: output + r * h)
                }
            }
        }
    }

    /// mlpOut[n, H] = act(normed · W_upᵀ + b) · W_downᵀ + b
    private func mlp(_ layer: GPTNeoXLayerWeights, rows n: Int) {
        let par = neox.parallelism
        layer.mlpUp.apply(normed, count: n, into: up, parallelism: par)                  // [n, I]
        let act = neox.activation, upPointer = SendablePointer(up), width = intermediate
        par.forEachChunk(of: n * width, minimumChunk: 16_384) { range in
            act.apply(upPointer.pointer + range.lowerBound, count: range.count)
        }
        layer.mlpDown.apply(up, count: n, into: mlpOut, parallelism: par)                // [n, H]
    }

    /// cos/sin of `position · inv_freq[j]` for each new position, in Float like transformers.
    private func computeRotaryTables(count n: Int, firstPosition: Int) {
        let half = neox.inverseFrequencies.count
        for i in 0..<n {
            let position = Float(firstPosition + i)
            for j in 0..<half {
                let angle = position * neox.inverseFrequencies[j]
                rotaryCos[i * half + j] = cosf(angle)
                rotarySin[i * half + j] = sinf(angle)
            }
        }
    }

    /// Rotates q and k in place inside `qkv` (NeoX layout: pairs are (j, j + rotary/2), the
    /// rest of each head passes through) and copies k and v into the layer's cache.
    private func applyRotaryAndCache(count n: Int, firstPosition: Int, layer: Int) {
        let half = neox.inverseFrequencies.count, d = headDim
        let keyCache = keys[layer], valueCache = values[layer]
        for i in 0..<n {
            let row = qkv + i * 3 * hidden
            let cosRow = rotaryCos + i * half, sinRow = rotarySin + i * half
            let position = firstPosition + i
            for head in 0..<heads {
                let q = row + head * 3 * d, k = q + d, v = k + d
                Self.rotate(q, half: half, cos: cosRow, sin: sinRow)
                Self.rotate(k, half: half, cos: cosRow, sin: sinRow)
                let slot = (head * capacity + position) * d * cacheElement
                store(k, into: keyCache + slot, count: d)
                store(v, into: valueCache + slot, count: d)
            }
        }
    }

    /// Writes `count` floats into the cache in its element type.
    private func store(_ source: UnsafePointer<Float>, into target: UnsafeMutableRawPointer, count: Int) {
        if cacheElement == 2 {
            kc_f32_to_f16(source, target.assumingMemoryBound(to: UInt16.self), count)
        } else {
            target.assumingMemoryBound(to: Float.self).update(from: source, count: count)
        }
    }

    /// `x·cos + rotate_half(x)·sin` on the first `2·half` values, where
    /// `rotate_half(x) = [-x[half...], x[..<half]]`.
    @inline(__always)
    private static func rotate(
        _ vector: UnsafeMutablePointer<Float>, half: Int, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>
    ) {
        for j in 0..<half {
            let a = vector[j], b = vector[j + half]
            vector[j] = a * cos[j] - b * sin[j]
            vector[j + half] = b * cos[j] + a * sin[j]
        }
    }

    /// attention[i, head] = softmax_j≤pos(q_i · k_j / √d) · v_j, heads in parallel. Scores,
    /// softmax and the weighted sum run back to back per head while its keys and values are hot.
    private func attend(count n: Int, firstPosition: Int, layer: Int) {
        let d = headDim, h = hidden, cap = capacity, element = cacheElement
        let half: Int32 = element == 2 ? 1 : 0
        let scale = Float(1 / Double(d).squareRoot())
        let q = SendablePointer(qkv), out = SendablePointer(attention), s = SendablePointer(scores)
        let k = SendableRawPointer(UnsafeRawPointer(keys[layer])), v = SendableRawPointer(UnsafeRawPointer(values[layer]))
        neox.parallelism.forEach(heads) { head in
            let keyBase = k.pointer + head * cap * d * element, valueBase = v.pointer + head * cap * d * element
            let score = s.pointer + head * cap
            for i in 0..<n {
                let query = q.pointer + i * 3 * h + head * 3 * d
                let visible = firstPosition + i + 1
                kc_attention_scores(query, keyBase, half, d, visible, scale, score)
                VectorOps.softmax(score, count: visible)
                kc_attention_values(score, valueBase, half, d, visible, out.pointer + i * h + head * d)
            }
        }
    }
}
