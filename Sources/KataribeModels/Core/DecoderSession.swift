import KataribeTensor

/// One sequence on any `DecoderModel`: its tokens, its KV cache and its scratch. Validates input,
/// feeds prompts through in chunks of the model's batch capacity and keeps the cache large
/// enough; the architecture supplies only the forward pass.
final class DecoderSession<Model: DecoderModel>: LanguageModelSession, SyntheticContextFilling {
    let decoder: Model
    var model: any CausalLanguageModel { decoder }
    private(set) var tokens: [Int] = []
    private let cache: KVCache
    private let scratch: Model.Scratch
    /// One row while only last-token logits are asked for; `batch` rows once all are.
    private var logits: FloatRows
    /// Keeps the logits buffer alive.
    private var arena: ScratchArena
    private let batch: Int, vocab: Int

    init(model: Model) {
        decoder = model
        batch = min(model.batchCapacity, model.contextLength)
        vocab = model.vocabularySize
        cache = KVCache(layout: model.cacheLayout, contextLength: model.contextLength)
        scratch = model.makeScratch(rows: batch)
        arena = ScratchArena(rows: 1)
        logits = arena.rows(width: vocab)
    }

    /// Grows the logits buffer to `rows` rows (kept for the session's later calls).
    private func reserveLogitRows(_ rows: Int) {
        guard rows > arena.rows else { return }
        arena = ScratchArena(rows: rows)
        logits = arena.rows(width: vocab)
    }

    func append(_ newTokens: [Int]) throws(ModelError) -> [Float] {
        var last: [Float] = []
        try run(newTokens, allLogits: false) { chunkCount, isFinal in
            guard isFinal else { return }
            last = Array(UnsafeBufferPointer(start: logits.row(0), count: vocab))
        }
        return last
    }

    func appendReturningAllLogits(_ newTokens: [Int]) throws(ModelError) -> [[Float]] {
        var rows: [[Float]] = []
        rows.reserveCapacity(newTokens.count)
        try run(newTokens, allLogits: true) { chunkCount, _ in
            for i in 0..<chunkCount {
                rows.append(Array(UnsafeBufferPointer(start: logits.row(i), count: vocab)))
            }
        }
        return rows
    }

    func rewind(to count: Int) throws(ModelError) {
        guard count >= 0, count <= tokens.count else { throw .invalidRewind(requested: count, available: tokens.count) }
        tokens.removeLast(tokens.count - count)
    }

    func reset() { tokens.removeAll() }

    func reserveCapacity(_ count: Int) {
        cache.reserve(min(count, decoder.contextLength), used: tokens.count, exactly: true)
    }

    func appendSyntheticContext(count: Int, seed: UInt64) throws(ModelError) {
        guard count > 0 else { throw .emptyInput }
        let needed = tokens.count + count
        guard needed <= decoder.contextLength else { throw .contextOverflow(needed: needed, limit: decoder.contextLength) }
        cache.reserve(needed, used: tokens.count)
        var state = seed | 1
        func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
        cache.fillSynthetic(positions: tokens.count..<needed, next: next)
        for _ in 0..<count { tokens.append(Int(next() % UInt64(vocab))) }
    }

    /// Validates, then feeds `newTokens` through the model `batch` tokens at a time, calling
    /// `consume(count, isFinal)` after each chunk's logits are in `logits`.
    private func run(_ newTokens: [Int], allLogits: Bool, consume: (Int, Bool) -> Void) throws(ModelError) {
        guard !newTokens.isEmpty else { throw .emptyInput }
        if allLogits { reserveLogitRows(min(batch, newTokens.count)) }
        for t in newTokens where t < 0 || t >= vocab { throw .tokenOutOfRange(token: t, vocabularySize: vocab) }
        let needed = tokens.count + newTokens.count
        guard needed <= decoder.contextLength else { throw .contextOverflow(needed: needed, limit: decoder.contextLength) }
        cache.reserve(needed, used: tokens.count)
        var start = 0
        while start < newTokens.count {
            let chunk = Array(newTokens[start..<min(start + batch, newTokens.count)])
            let isFinal = start + chunk.count == newTokens.count
            let first = tokens.count
            decoder.forward(chunk, positions: Array(first..<(first + chunk.count)), cache: cache, scratch: scratch, logits: logits,
                            logitRows: allLogits ? 0..<chunk.count : (isFinal ? (chunk.count - 1)..<chunk.count : 0..<0))
            tokens.append(contentsOf: chunk)
            consume(chunk.count, isFinal)
            start += chunk.count
        }
    }
}
