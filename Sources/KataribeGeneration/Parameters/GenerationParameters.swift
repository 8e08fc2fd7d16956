/// Generation settings, named and defaulted like transformers' `GenerationConfig`.
///
/// Every field is optional so that layers can be merged (preset ← suite ← CLI, see `merged(over:)`) and
/// so that a model's `generation_config.json` decodes directly (unknown keys are ignored). Unset
/// fields take transformers' global defaults in `resolved()`; in particular **`top_k` is 50 when
/// sampling and not given**, exactly like `model.generate(do_sample=True)`.
public struct GenerationParameters: Codable, Sendable, Equatable {
    public var doSample: Bool?
    public var temperature: Double?
    /// 0 disables top-k.
    public var topK: Int?
    public var topP: Double?
    public var typicalP: Double?
    public var repetitionPenalty: Double?
    public var noRepeatNgramSize: Int?
    public var minNewTokens: Int?
    public var maxNewTokens: Int?
    /// Total length (prompt + new tokens); only used when `maxNewTokens` is unset, as in transformers.
    public var maxLength: Int?
    /// `eos_token_id`: one id or a list (JSON accepts both forms, as transformers does).
    public var eosTokenIds: [Int]?
    /// Kept for fidelity with `GenerationConfig`; single-sequence generation never pads.
    public var padTokenId: Int?
    /// `stop_strings`: JSON accepts one string or a list.
    public var stopStrings: [String]?
    /// How many independent samples per prompt (`num_return_sequences`, the OpenAI API's `n`).
    public var numReturnSequences: Int?
    /// Seed of the sampler's generator (Kataribe extension; transformers seeds torch globally).
    public var seed: UInt64?
    /// Whether returned text keeps a matched stop string (Kataribe extension; default `.keep`).
    public var stopStringHandling: StopStringHandling?

    public init(
        doSample: Bool? = nil, temperature: Double? = nil, topK: Int? = nil, topP: Double? = nil,
        typicalP: Double? = nil, repetitionPenalty: Double? = nil, noRepeatNgramSize: Int? = nil,
        minNewTokens: Int? = nil, maxNewTokens: Int? = nil, maxLength: Int? = nil,
        eosTokenIds: [Int]? = nil, padTokenId: Int? = nil, stopStrings: [String]? = nil,
        numReturnSequences: Int? = nil, seed: UInt64? = nil, stopStringHandling: StopStringHandling? = nil
    ) {
        self.doSample = doSample
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.typicalP = typicalP
        self.repetitionPenalty = repetitionPenalty
        self.noRepeatNgramSize = noRepeatNgramSize
        self.minNewTokens = minNewTokens
        self.maxNewTokens = maxNewTokens
        self.maxLength = maxLength
        self.eosTokenIds = eosTokenIds
        self.padTokenId = padTokenId
        self.stopStrings = stopStrings
        self.numReturnSequences = numReturnSequences
        self.seed = seed
        self.stopStringHandling = stopStringHandling
    }

    enum CodingKeys: String, CodingKey {
        case doSample = "do_sample"
        case temperature
        case topK = "top_k"
        case topP = "top_p"
        case typicalP = "typical_p"
        case repetitionPenalty = "repetition_penalty"
        case noRepeatNgramSize = "no_repeat_ngram_size"
        case minNewTokens = "min_new_tokens"
        case maxNewTokens = "max_new_tokens"
        case maxLength = "max_length"
        case eosTokenIds = "eos_token_id"
        case padTokenId = "pad_token_id"
        case stopStrings = "stop_strings"
        case numReturnSequences = "num_return_sequences"
        case seed
        case stopStringHandling = "stop_string_handling"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        doSample = try c.decodeIfPresent(Bool.self, forKey: .doSample)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        topK = try c.decodeIfPresent(Int.self, forKey: .topK)
        topP = try c.decodeIfPresent(Double.self, forKey: .topP)
        typicalP = try c.decodeIfPresent(Double.self, forKey: .typicalP)
        repetitionPenalty = try c.decodeIfPresent(Double.self, forKey: .repetitionPenalty)
        noRepeatNgramSize = try c.decodeIfPresent(Int.self, forKey: .noRepeatNgramSize)
        minNewTokens = try c.decodeIfPresent(Int.self, forKey: .minNewTokens)
        maxNewTokens = try c.decodeIfPresent(Int.self, forKey: .maxNewTokens)
        maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength)
        eosTokenIds = try c.decodeOneOrMany(Int.self, forKey: .eosTokenIds)
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId)
        stopStrings = try c.decodeOneOrMany(String.self, forKey: .stopStrings)
        numReturnSequences = try c.decodeIfPresent(Int.self, forKey: .numReturnSequences)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed)
        stopStringHandling = try c.decodeIfPresent(StopStringHandling.self, forKey: .stopStringHandling)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(doSample, forKey: .doSample)
        try c.encodeIfPresent(temperature, forKey: .temperature)
        try c.encodeIfPresent(topK, forKey: .topK)
        try c.encodeIfPresent(topP, forKey: .topP)
        try c.encodeIfPresent(typicalP, forKey: .typicalP)
        try c.encodeIfPresent(repetitionPenalty, forKey: .repetitionPenalty)
        try c.encodeIfPresent(noRepeatNgramSize, forKey: .noRepeatNgramSize)
        try c.encodeIfPresent(minNewTokens, forKey: .minNewTokens)
        try c.encodeIfPresent(maxNewTokens, forKey: .maxNewTokens)
        try c.encodeIfPresent(maxLength, forKey: .maxLength)
        try c.encodeIfPresent(eosTokenIds, forKey: .eosTokenIds)
        try c.encodeIfPresent(padTokenId, forKey: .padTokenId)
        try c.encodeIfPresent(stopStrings, forKey: .stopStrings)
        try c.encodeIfPresent(numReturnSequences, forKey: .numReturnSequences)
        try c.encodeIfPresent(seed, forKey: .seed)
        try c.encodeIfPresent(stopStringHandling, forKey: .stopStringHandling)
    }

    /// `self` layered over `base`: every field set here wins, unset fields fall through to `base`.
    /// Chain it as `cli.merged(over: suite.merged(over: preset))`.
    public func merged(over base: GenerationParameters) -> GenerationParameters {
        GenerationParameters(
            doSample: doSample ?? base.doSample,
            temperature: temperature ?? base.temperature,
            topK: topK ?? base.topK,
            topP: topP ?? base.topP,
            typicalP: typicalP ?? base.typicalP,
            repetitionPenalty: repetitionPenalty ?? base.repetitionPenalty,
            noRepeatNgramSize: noRepeatNgramSize ?? base.noRepeatNgramSize,
            minNewTokens: minNewTokens ?? base.minNewTokens,
            maxNewTokens: maxNewTokens ?? base.maxNewTokens,
            maxLength: maxLength ?? base.maxLength,
            eosTokenIds: eosTokenIds ?? base.eosTokenIds,
            padTokenId: padTokenId ?? base.padTokenId,
            stopStrings: stopStrings ?? base.stopStrings,
            numReturnSequences: numReturnSequences ?? base.numReturnSequences,
            seed: seed ?? base.seed,
            stopStringHandling: stopStringHandling ?? base.stopStringHandling
        )
    }
}

/// Whether the text returned for a sequence stopped by a stop string keeps that string.
public enum StopStringHandling: String, Codable, Sendable, CaseIterable {
    /// transformers: the tokens that completed the stop string stay in the output (default for `generate`).
    case keep
    /// OpenAI API: the text is cut just before the stop string (for the server).
    case strip
}

extension KeyedDecodingContainer {
    /// transformers accepts `eos_token_id: 2` and `eos_token_id: [2, 3]` alike (same for stop strings).
    func decodeOneOrMany<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> [T]? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let many = try? decode([T].self, forKey: key) { return many }
        return [try decode(T.self, forKey: key)]
    }
}
