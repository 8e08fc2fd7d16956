import KataribeTensor

/// One sequence on any `DecoderModel`: its tokens, its KV cache and its scratch. Validates input,
/// feeds prompts through in chunks of the model's batch capacity and keeps the cache large
/// enough; the architecture supplies only the forward pass.
final class DecoderSession<Model: DecoderModel>: LanguageModelSession, SyntheticContextFilling {
    let decoder: Model
    var model: any CausalLanguageModel { decoder }
    private(set) var tokens: [Int] = []
    private(set) var cache: KVCache
    /// Made on first use: a session forked for batched decoding is advanced by its batch, whose
    /// scratch it shares, and may never need its own (prompt-sized) one.
    private lazy var scratch: Model.Scratch = decoder.makeScratch(rows: batch)
    /// One row while only last-token logits are asked for; `batch` rows once all are.
    private var logits: FloatRows
    /// Keeps the logits buffer alive.
    private var arena: ScratchArena
    private let batch: Int, vocab: Int

    init(model: Model, tokens: [Int] = [], cache: KVCache? = nil) {
        decoder = model
        batch = min(model.batchCapacity, model.contextLength)
        vocab = model.vocabularySize
        self.tokens = tokens
        self.cache = cache ?? KVCache(layout: model.cacheLayout, contextLength: model.contextLength)
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
        try append(newTokens, scratch: nil)
    }

    /// `append`, in `external` scratch when given (a batch's, so that a session that only ever
    /// computes its prompt never allocates prompt-sized scratch of its own).
    func append(_ newTokens: [Int], scratch external: Model.Scratch?) throws(ModelError) -> [Float] {
        var last: [Float] = []
        try run(newTokens, allLogits: false, scratch: external) { chunkCount, isFinal in
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
        // The shared prefix is never written: a sequence rewound into it takes a copy of what it keeps.
        if count < cache.prefixLength { cache = cache.flattened(count: count) }
        tokens.removeLast(tokens.count - count)
    }

    func reset() {
        tokens.removeAll()
        if cache.prefix != nil { cache = KVCache(layout: decoder.cacheLayout, contextLength: decoder.contextLength) }
    }

    func reserveCapacity(_ count: Int) {
        cache.reserve(min(count, decoder.contextLength), used: tokens.count, exactly: true)
    }

    func fork() -> any LanguageModelSession {
        let shared: KVCache
        if let prefix = cache.prefix, cache.prefixLength == tokens.count {
            shared = prefix  // forked before and nothing added since: every fork shares the one prefix
        } else {
            shared = cache.prefix == nil ? cache : cache.flattened(count: tokens.count)
            // This session continues over the shared prefix too, so nobody writes to it again.
            cache = KVCache(layout: decoder.cacheLayout, contextLength: decoder.contextLength, prefix: shared, prefixLength: tokens.count)
        }
        return DecoderSession(model: decoder, tokens: tokens,
                              cache: KVCache(layout: decoder.cacheLayout, contextLength: decoder.contextLength, prefix: shared,
                                             prefixLength: tokens.count))
    }

    var cacheBytes: Int { cache.ownBytes }

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

    /// Checks that `next` more tokens fit and makes room for them in the cache.
    func prepareToAppend(_ next: Int) throws(ModelError) {
        let needed = tokens.count + next
        guard needed <= decoder.contextLength else { throw .contextOverflow(needed: needed, limit: decoder.contextLength) }
        cache.reserve(needed, used: tokens.count)
    }

    /// Records tokens its batch has just run through the model.
    func didAppend(_ new: some Collection<Int>) { tokens.append(contentsOf: new) }

    /// Tokens per prompt forward step (the model's batch capacity, within the context).
    var chunkRows: Int { batch }

    /// Validates, then feeds `newTokens` through the model `batch` tokens at a time, calling
    /// `consume(count, isFinal)` after each chunk's logits are in `logits`.
    private func run(_ newTokens: [Int], allLogits: Bool, scratch external: Model.Scratch? = nil,
                     consume: (Int, Bool) -> Void) throws(ModelError) {
        guard !newTokens.isEmpty else { throw .emptyInput }
        if allLogits { reserveLogitRows(min(batch, newTokens.count)) }
        for t in newTokens where t < 0 || t >= vocab { throw .tokenOutOfRange(token: t, vocabularySize: vocab) }
        try prepareToAppend(newTokens.count)
        var start = 0
        while start < newTokens.count {
            let chunk = Array(newTokens[start..<min(start + batch, newTokens.count)])
            let isFinal = start + chunk.count == newTokens.count
            decoder.forward(ForwardStep(chunk: chunk, startingAt: tokens.count, cache: cache), scratch: external ?? scratch, logits: logits,
                            logitRows: allLogits ? Array(0..<chunk.count) : (isFinal ? [chunk.count - 1] : []))
            tokens.append(contentsOf: chunk)
            consume(chunk.count, isFinal)
            start += chunk.count
        }
    }
}

/// Advances up to `capacity` sessions of one model by a token each in one forward step, reading
/// every weight once for all of them. Each row's products are computed as they would be for the
/// session alone (`ForwardStep.independentRows`), so a sequence's logits are the same bits in any
/// batch, or none.
final class DecoderBatch<Model: DecoderModel>: SequenceBatch {
    let decoder: Model
    let capacity: Int
    private let scratch: Model.Scratch
    private let logits: FloatRows
    private let arena: ScratchArena

    init(model: Model, capacity: Int) {
        decoder = model
        self.capacity = max(1, capacity)
        scratch = model.makeScratch(rows: self.capacity)
        arena = ScratchArena(rows: self.capacity)
        logits = arena.rows(width: model.vocabularySize)
    }

    func step(_ sessions: [any LanguageModelSession], tokens: [Int]) throws(ModelError) -> [[Float]] {
        guard !sessions.isEmpty, sessions.count == tokens.count else { throw .emptyInput }
        guard sessions.count <= capacity else { throw .batchTooLarge(sequences: sessions.count, capacity: capacity) }
        let members = try checkedMembers(sessions)
        let vocab = decoder.vocabularySize
        for t in tokens where t < 0 || t >= vocab { throw .tokenOutOfRange(token: t, vocabularySize: vocab) }
        for member in members { try member.prepareToAppend(1) }
        let step = ForwardStep(nextTokens: tokens, positions: members.map(\.tokens.count), caches: members.map(\.cache))
        decoder.forward(step, scratch: scratch, logits: logits, logitRows: Array(0..<sessions.count))
        for (member, token) in zip(members, tokens) { member.didAppend(CollectionOfOne(token)) }
        return (0..<sessions.count).map { Array(UnsafeBufferPointer(start: logits.row($0), count: vocab)) }
    }

    func prefill(_ sessions: [any LanguageModelSession], prompts: [[Int]]) throws(ModelError) -> [[Float]] {
        guard !sessions.isEmpty, sessions.count == prompts.count else { throw .emptyInput }
        let members = try checkedMembers(sessions)
        let vocab = decoder.vocabularySize
        for prompt in prompts {
            guard !prompt.isEmpty else { throw .emptyInput }
            for t in prompt where t < 0 || t >= vocab { throw .tokenOutOfRange(token: t, vocabularySize: vocab) }
        }
        var results = [[Float]](repeating: [], count: sessions.count)
        // Prompts that alone take exactly one blocked step (2 tokens up to a chunk) share steps of
        // up to a chunk's rows and `capacity` prompts; the others run alone.
        let chunkRows = members[0].chunkRows
        var group: [Int] = [], rows = 0
        func flush() throws(ModelError) {
            defer { group.removeAll(); rows = 0 }
            if group.count == 1 { results[group[0]] = try members[group[0]].append(prompts[group[0]], scratch: prefillScratch) }
            guard group.count > 1 else { return }
            for i in group { try members[i].prepareToAppend(prompts[i].count) }
            let step = ForwardStep(chunks: group.map { (prompts[$0], members[$0].tokens.count, members[$0].cache) })
            var last: [Int] = [], end = 0
            for i in group {
                end += prompts[i].count
                last.append(end - 1)
            }
            decoder.forward(step, scratch: prefillScratch, logits: logits, logitRows: last)
            for (row, i) in group.enumerated() {
                members[i].didAppend(prompts[i])
                results[i] = Array(UnsafeBufferPointer(start: logits.row(row), count: vocab))
            }
        }
        for (i, prompt) in prompts.enumerated() {
            guard prompt.count >= 2 && prompt.count <= chunkRows else {
                results[i] = try members[i].append(prompt, scratch: prefillScratch)
                continue
            }
            if rows + prompt.count > chunkRows || group.count == capacity { try flush() }
            group.append(i)
            rows += prompt.count
        }
        try flush()
        return results
    }

    /// Scratch for a whole prompt chunk of rows, made when prompts are first prefilled together.
    private lazy var prefillScratch: Model.Scratch = decoder.makeScratch(rows: min(decoder.batchCapacity, decoder.contextLength))

    /// The sessions as this model's, each once.
    private func checkedMembers(_ sessions: [any LanguageModelSession]) throws(ModelError) -> [DecoderSession<Model>] {
        var members: [DecoderSession<Model>] = []
        members.reserveCapacity(sessions.count)
        for session in sessions {
            guard let member = session as? DecoderSession<Model>, member.decoder === decoder else { throw .foreignSession }
            guard !members.contains(where: { $0 === member }) else { throw .sessionTwiceInBatch }
            members.append(member)
        }
        return members
    }
}
