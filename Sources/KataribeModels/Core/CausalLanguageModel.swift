import KataribeTensor

/// What every architecture's config tells the rest of Kataribe.
public protocol ModelConfig: Sendable {
    /// config.json's `model_type`, e.g. `gpt_neox`.
    var modelType: String { get }
    var vocabularySize: Int { get }
    /// `max_position_embeddings`: the most tokens a session may hold.
    var contextLength: Int { get }
    var bosTokenID: Int? { get }
    var eosTokenIDs: [Int] { get }
}

extension GPTNeoXConfig: ModelConfig {
    public var vocabularySize: Int { vocabSize }
    public var bosTokenID: Int? { bosTokenId }
}

/// A loaded decoder-only language model. Immutable and shareable across threads; all mutable
/// state (the KV cache, scratch buffers) lives in the sessions it makes.
public protocol CausalLanguageModel: AnyObject, Sendable {
    var config: any ModelConfig { get }
    var vocabularySize: Int { get }
    var contextLength: Int { get }
    /// A fresh session with an empty KV cache.
    func makeSession() -> any LanguageModelSession
    /// Scratch for advancing up to `capacity` of this model's sessions by one token each per
    /// forward step (batched decoding).
    func makeBatch(capacity: Int) -> any SequenceBatch
}

/// Advances several sessions of one model in one forward step: every weight is read once for all
/// of them, and each session's logits are bit-identical to what advancing it alone would give.
/// Not thread-safe; one thread drives a batch and its sessions.
public protocol SequenceBatch: AnyObject {
    /// The most sessions one step takes.
    var capacity: Int { get }
    /// Appends `tokens[i]` to `sessions[i]` (each at its own position, in its own cache) and
    /// returns the logits after each, in order. The sessions must be distinct sessions of the
    /// model that made this batch.
    func step(_ sessions: [any LanguageModelSession], tokens: [Int]) throws(ModelError) -> [[Float]]
    /// Appends `prompts[i]` to `sessions[i]` and returns the logits after each prompt's last
    /// token: what `sessions[i].append(prompts[i])` returns, bit for bit, but prompts that fit
    /// one forward step share it (the weights are read once for all of them).
    func prefill(_ sessions: [any LanguageModelSession], prompts: [[Int]]) throws(ModelError) -> [[Float]]
}

/// One sequence being processed: the tokens seen so far and their cached keys/values.
/// Not thread-safe; use one session per thread (they share the model's weights).
public protocol LanguageModelSession: AnyObject {
    var model: any CausalLanguageModel { get }
    /// Every token appended so far, in order.
    var tokens: [Int] { get }
    /// Appends `tokens` (processed as one batch) and returns the logits after the last one
    /// (`vocabularySize` values).
    func append(_ tokens: [Int]) throws(ModelError) -> [Float]
    /// Appends `tokens` and returns the logits after each of them: row `i` predicts the token
    /// that follows `tokens[i]`.
    func appendReturningAllLogits(_ tokens: [Int]) throws(ModelError) -> [[Float]]
    /// Drops everything after the first `count` tokens (e.g. to reuse a shared prompt prefix).
    func rewind(to count: Int) throws(ModelError)
    /// A new session holding the same tokens that shares their cached keys and values with this
    /// one instead of copying or recomputing them: B samples of one prompt compute and store the
    /// prompt once. Both sessions go on independently from here.
    func fork() -> any LanguageModelSession
    /// Bytes of keys and values this session allocated itself (a shared prefix not counted).
    var cacheBytes: Int { get }
    /// Empties the session.
    func reset()
    /// Allocates the KV cache for `count` tokens in total now (at most the context length), as
    /// llama.cpp's fixed context size does, so that appending up to `count` tokens never stops
    /// to grow and copy it. Appending more still works: the cache grows as it would have.
    func reserveCapacity(_ count: Int)
}

extension LanguageModelSession {
    /// Sessions without a growing cache have nothing to reserve.
    public func reserveCapacity(_ count: Int) {}
}

/// A batch that advances its sessions one after another, for models without a batched forward
/// pass (test doubles): same results, no shared weight reads.
public final class SequentialBatch: SequenceBatch {
    public let capacity: Int

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    public func step(_ sessions: [any LanguageModelSession], tokens: [Int]) throws(ModelError) -> [[Float]] {
        guard !sessions.isEmpty, sessions.count == tokens.count else { throw .emptyInput }
        guard sessions.count <= capacity else { throw .batchTooLarge(sequences: sessions.count, capacity: capacity) }
        var rows: [[Float]] = []
        for (session, token) in zip(sessions, tokens) { rows.append(try session.append([token])) }
        return rows
    }

    public func prefill(_ sessions: [any LanguageModelSession], prompts: [[Int]]) throws(ModelError) -> [[Float]] {
        guard sessions.count == prompts.count else { throw .emptyInput }
        var rows: [[Float]] = []
        for (session, prompt) in zip(sessions, prompts) { rows.append(try session.append(prompt)) }
        return rows
    }
}

extension CausalLanguageModel {
    public func makeBatch(capacity: Int) -> any SequenceBatch { SequentialBatch(capacity: capacity) }

    public var vocabularySize: Int { config.vocabularySize }
    public var contextLength: Int { config.contextLength }

    /// Logits for every position of `tokens` in a fresh session (what scoring needs).
    public func logits(for tokens: [Int]) throws(ModelError) -> [[Float]] {
        try makeSession().appendReturningAllLogits(tokens)
    }
}

/// A session that can be given a long context without computing it, for benchmarks: attention
/// costs the same whatever the cached numbers are, so generation speed at a long context can be
/// measured without first running thousands of prompt tokens.
public protocol SyntheticContextFilling: LanguageModelSession {
    /// Appends `count` positions with random token ids whose cached keys and values are
    /// pseudo-random numbers in [-1, 1] (seeded) instead of computed ones.
    func appendSyntheticContext(count: Int, seed: UInt64) throws(ModelError)
}
