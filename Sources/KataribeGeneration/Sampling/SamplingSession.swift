/// One sequence being generated: owns the history, the processor chain, the seeded generator,
/// reusable scratch buffers and the stopping rules. The model-facing loop is:
///
/// ```swift
/// let session = try SamplingSession(parameters: resolved, promptTokens: promptIDs, seed: seed, sampleIndex: i)
/// var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skip)
/// while !session.isFinished {
///     var logits = model.nextLogits(...)                 // last position, vocab-sized, Float
///     let token = try session.nextToken(logits: &logits) // processes `logits` in place, then picks
///     session.accept(token, decodedText: detokenizer.add(token))
/// }
/// let sequence = session.result(text: tokenizer.decode(Array(session.generatedTokens), skipSpecialTokens: skip))
/// ```
///
/// (KataribeApp's `TextGenerator` runs this loop against a model session.)
///
/// Not thread-safe; use one session per sequence (they are independent, so `n` samples may run on
/// different threads and still give the same results).
public final class SamplingSession {
    public let parameters: ResolvedGenerationParameters
    public let chain: LogitsProcessorChain
    /// The request's seed (see `SeededGenerator` for how the sample's own seed derives from it).
    public let seed: UInt64
    public let sampleIndex: Int
    /// The most tokens this session will generate.
    public let maxNewTokens: Int
    public private(set) var history: TokenHistory
    public private(set) var stopReason: StopReason?
    public private(set) var stopMatcher: StopStringMatcher

    private var generator: SeededGenerator
    private let eosTokenIDs: Set<Int>
    private let workspace = LogitsWorkspace()

    /// - Parameters:
    ///   - seed: the request seed; `SamplingSession.requestSeed(parameters)` picks one (the
    ///     configured seed, else a random one to report back).
    ///   - sampleIndex: which of the `num_return_sequences` samples this is.
    public init(parameters: ResolvedGenerationParameters, promptTokens: [Int], seed: UInt64, sampleIndex: Int = 0) throws(GenerationParameterError) {
        self.parameters = parameters
        self.chain = LogitsProcessorChain(parameters)
        self.seed = seed
        self.sampleIndex = sampleIndex
        self.maxNewTokens = try parameters.maxNewTokens(promptLength: promptTokens.count)
        self.history = TokenHistory(prompt: promptTokens)
        self.stopMatcher = StopStringMatcher(stopStrings: parameters.stopStrings)
        self.generator = SeededGenerator(seed: seed, sampleIndex: sampleIndex)
        self.eosTokenIDs = Set(parameters.eosTokenIds)
    }

    /// One session per requested sample (`num_return_sequences`), sample i seeded `seed &+ i`.
    public static func sessions(parameters: ResolvedGenerationParameters, promptTokens: [Int], seed: UInt64) throws(GenerationParameterError) -> [SamplingSession] {
        var out: [SamplingSession] = []
        for i in 0..<parameters.numReturnSequences {
            out.append(try SamplingSession(parameters: parameters, promptTokens: promptTokens, seed: seed, sampleIndex: i))
        }
        return out
    }

    /// The configured seed, or a fresh random one (report it so the run can be repeated).
    public static func requestSeed(_ parameters: ResolvedGenerationParameters) -> UInt64 {
        if let seed = parameters.seed { return seed }
        var system = SystemRandomNumberGenerator()
        return system.next()
    }

    public var isFinished: Bool { stopReason != nil }
    public var generatedTokens: ArraySlice<Int> { history.generated }

    /// Applies the processor chain to `logits` in place (float32, the last position's raw scores)
    /// and picks the next token: greedy argmax, or a draw from softmax of the processed scores.
    /// Does not record the token; call `accept` with it.
    public func nextToken(logits: UnsafeMutableBufferPointer<Float>) throws(SamplingError) -> Int {
        guard stopReason == nil else { throw .sessionFinished }
        if let bad = TokenChooser.firstInvalidLogit(UnsafeBufferPointer(logits)) {
            throw .invalidLogit(tokenID: bad, value: logits[bad])
        }
        chain.apply(logits, history: history, workspace: workspace)
        let chosen = parameters.drawsSamples
            ? TokenChooser.sample(UnsafeBufferPointer(logits), workspace: workspace, uniform: generator.nextUnitInterval())
            : TokenChooser.argmax(UnsafeBufferPointer(logits))
        guard let chosen else { throw .noCandidate }
        return chosen
    }

    public func nextToken(logits: inout [Float]) throws(SamplingError) -> Int {
        try logits.withUnsafeMutableBufferPointer { buffer throws(SamplingError) in try nextToken(logits: buffer) }
    }

    /// Records `token` (and the text it completed, if any) and applies the stopping rules, in this
    /// priority: eos id, stop string, length. Returns the stop reason once stopped.
    @discardableResult
    public func accept(_ token: Int, decodedText: String = "") -> StopReason? {
        guard stopReason == nil else { return stopReason }
        history.tokens.append(token)
        let hitStopString = stopMatcher.append(decodedText)
        if eosTokenIDs.contains(token) {
            stopReason = .eos
        } else if hitStopString {
            stopReason = .stopString
        } else if history.generatedCount >= maxNewTokens {
            stopReason = .length
        }
        return stopReason
    }

    /// Feeds text that arrived after the token that produced it (a held-back character); may stop
    /// the session on a stop string.
    @discardableResult
    public func acceptText(_ decodedText: String) -> StopReason? {
        guard stopReason == nil else { return stopReason }
        if stopMatcher.append(decodedText) { stopReason = .stopString }
        return stopReason
    }

    /// Stops the session (no-op once stopped).
    public func cancel() {
        if stopReason == nil { stopReason = .cancelled }
    }

    /// The finished sample. `text` is the decoded generated text (transformers:
    /// `decode(generated ids)`); a stop string is cut off when the handling is `.strip`.
    public func result(text: String? = nil) -> GeneratedSequence {
        var body = text ?? stopMatcher.text(.keep)
        if parameters.stopStringHandling == .strip {
            var matcher = StopStringMatcher(stopStrings: parameters.stopStrings)
            matcher.append(body)
            body = matcher.text(.strip)
        }
        return GeneratedSequence(sampleIndex: sampleIndex, seed: SeededGenerator.sampleSeed(seed, sampleIndex: sampleIndex),
                                 tokens: Array(generatedTokens), text: body, stopReason: stopReason ?? .cancelled)
    }
}

/// One finished sample.
public struct GeneratedSequence: Codable, Sendable, Equatable {
    public var sampleIndex: Int
    /// The seed this sample's generator was started from (`request seed &+ sampleIndex`).
    public var seed: UInt64
    /// Generated ids; ends with the eos id when `stopReason == .eos`, as transformers returns it.
    public var tokens: [Int]
    public var text: String
    public var stopReason: StopReason

    public init(sampleIndex: Int, seed: UInt64, tokens: [Int], text: String, stopReason: StopReason) {
        self.sampleIndex = sampleIndex
        self.seed = seed
        self.tokens = tokens
        self.text = text
        self.stopReason = stopReason
    }

    /// The ids to decode for display: without a final eos id when `skipEOS` (what
    /// `skip_special_tokens=True` does to it), as generated otherwise.
    public func tokensForDecoding(skipEOS: Bool) -> ArraySlice<Int> {
        skipEOS && stopReason == .eos ? tokens.dropLast() : tokens[...]
    }
}

/// Why no token could be chosen.
public enum SamplingError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The model produced NaN or +inf; transformers' multinomial rejects such rows too.
    case invalidLogit(tokenID: Int, value: Float)
    /// Every score is -inf after processing.
    case noCandidate
    /// `nextToken` was called after the session stopped.
    case sessionFinished

    public var description: String {
        switch self {
        case let .invalidLogit(tokenID, value): return "invalid logit \(value) for token id \(tokenID)"
        case .noCandidate: return "every token was filtered out; no token can be chosen"
        case .sessionFinished: return "the sampling session has already stopped"
        }
    }
}
