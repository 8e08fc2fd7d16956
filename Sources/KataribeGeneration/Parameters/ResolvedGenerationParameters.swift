/// `GenerationParameters` with transformers' global defaults filled in and validated the way
/// transformers validates them (a value transformers rejects is a typed error here; a value it
/// silently ignores, e.g. `no_repeat_ngram_size = -1`, is ignored here too). Two departures, both
/// `GenerationParameterRules`': sampling at temperature 0 picks the most likely token instead of
/// failing, and a `top_p` or `typical_p` above 1 is refused when sampling instead of ignored.
public struct ResolvedGenerationParameters: Sendable, Equatable {
    public var doSample: Bool
    public var temperature: Double
    public var topK: Int
    public var topP: Double
    public var typicalP: Double
    public var repetitionPenalty: Double
    public var noRepeatNgramSize: Int
    public var minNewTokens: Int
    /// nil: the limit is `maxLength` total tokens (see `maxNewTokens(promptLength:)`).
    public var maxNewTokens: Int?
    public var maxLength: Int
    public var eosTokenIds: [Int]
    public var padTokenId: Int?
    public var stopStrings: [String]
    public var numReturnSequences: Int
    public var seed: UInt64?
    public var stopStringHandling: StopStringHandling

    /// Below this temperature (0 included) sampling picks the most likely token, as vLLM does
    /// (`_SAMPLING_EPS`): dividing logits by 1e-38 overflows them to infinities, and transformers
    /// itself then fails inside `torch.multinomial` (and refuses 0 outright). The argmax of the
    /// scores before the temperature is the only token such a distribution can give, and
    /// top-k/top-p/typical always keep it.
    public static let greedyTemperature = 1e-5

    /// Whether tokens are drawn at random: `do_sample` with a temperature of at least
    /// `greedyTemperature`.
    public var drawsSamples: Bool { doSample && temperature >= Self.greedyTemperature }

    /// transformers' `GenerationConfig._get_default_generation_params()` values for the fields above.
    public enum Defaults {
        public static let doSample = false
        public static let temperature = 1.0
        public static let topK = 50
        public static let topP = 1.0
        public static let typicalP = 1.0
        public static let repetitionPenalty = 1.0
        public static let noRepeatNgramSize = 0
        public static let minNewTokens = 0
        public static let maxLength = 20
        public static let numReturnSequences = 1
    }

    /// How many tokens may be generated after a prompt of `promptLength` tokens: `max_new_tokens` when
    /// set, otherwise what is left of `max_length` (transformers raises when nothing is left).
    public func maxNewTokens(promptLength: Int) throws(GenerationParameterError) -> Int {
        if let maxNewTokens { return maxNewTokens }
        guard promptLength < maxLength else {
            throw .promptReachesMaxLength(promptLength: promptLength, maxLength: maxLength)
        }
        return maxLength - promptLength
    }
}

extension GenerationParameters {
    /// Fills transformers' defaults and validates. Throws for the values transformers rejects.
    public func resolved() throws(GenerationParameterError) -> ResolvedGenerationParameters {
        typealias D = ResolvedGenerationParameters.Defaults
        let r = ResolvedGenerationParameters(
            doSample: doSample ?? D.doSample,
            temperature: temperature ?? D.temperature,
            topK: topK ?? D.topK,
            topP: topP ?? D.topP,
            typicalP: typicalP ?? D.typicalP,
            repetitionPenalty: repetitionPenalty ?? D.repetitionPenalty,
            noRepeatNgramSize: noRepeatNgramSize ?? D.noRepeatNgramSize,
            minNewTokens: minNewTokens ?? D.minNewTokens,
            maxNewTokens: maxNewTokens,
            maxLength: maxLength ?? D.maxLength,
            eosTokenIds: eosTokenIds ?? [],
            padTokenId: padTokenId,
            stopStrings: stopStrings ?? [],
            numReturnSequences: numReturnSequences ?? D.numReturnSequences,
            seed: seed,
            stopStringHandling: stopStringHandling ?? .keep
        )
        try r.validate()
        return r
    }
}

extension ResolvedGenerationParameters {
    /// Each check mirrors the place transformers raises: the warpers only exist when sampling, so
    /// their arguments are only checked then (a model's generation_config.json with `do_sample`
    /// false may carry anything there). The domains are `GenerationParameterRules`'.
    func validate() throws(GenerationParameterError) {
        typealias R = GenerationParameterRules
        try R.maxNewTokens.check(maxNewTokens)
        if repetitionPenalty != 1.0 { try R.repetitionPenalty.check(repetitionPenalty) }
        try R.numReturnSequences.check(numReturnSequences)
        if numReturnSequences > 1, !doSample {
            throw .invalid(name: "num_return_sequences", value: "\(numReturnSequences)",
                           reason: "greedy decoding (do_sample=false) gives one sequence; set do_sample=true")
        }
        if stopStrings.contains(where: \.isEmpty) {
            throw .invalid(name: "stop_strings", value: "\"\"", reason: "a stop string must not be empty")
        }
        guard doSample else { return }
        try R.temperature.check(temperature)
        try R.topK.check(topK)
        try R.topP.check(topP)
        try R.typicalP.check(typicalP)
    }
}

/// A generation setting that cannot be used.
public enum GenerationParameterError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalid(name: String, value: String, reason: String)
    case promptReachesMaxLength(promptLength: Int, maxLength: Int)

    public var description: String {
        switch self {
        case let .invalid(name, value, reason):
            return "invalid generation parameter \(name)=\(value): \(reason)"
        case let .promptReachesMaxLength(promptLength, maxLength):
            return "the prompt has \(promptLength) tokens but max_length is \(maxLength); set max_new_tokens"
        }
    }
}
