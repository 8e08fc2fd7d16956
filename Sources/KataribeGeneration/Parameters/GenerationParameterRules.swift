/// The values each generation setting can take: the checks transformers makes in its logits
/// processors' constructors and `GenerationConfig.validate` (`top_p` "has to be a float > 0 and
/// < 1", a strictly positive `repetition_penalty`, `max_new_tokens` greater than 0, ...), with
/// one difference: transformers only builds the processors a run uses, so `top_p=1.5` passes
/// silently there, and here a value outside its domain is refused whatever `do_sample` says.
///
/// One table for every place settings come from a person: `generate`/`chat` flags, suite files
/// (`compare`), request bodies (`serve`, whose OpenAI fields map onto these) and
/// `TextGenerator.prepare`, so they accept and refuse the same values with the same words.
public enum GenerationParameterRules {
    /// A setting's name (transformers' spelling), what its values must be, and the check.
    public struct Rule<Value>: Sendable {
        public let name: String
        /// Completes "NAME …", e.g. "must be between 0 and 1".
        public let requirement: String
        private let test: @Sendable (Value) -> Bool

        init(_ name: String, _ requirement: String, _ test: @escaping @Sendable (Value) -> Bool) {
            self.name = name
            self.requirement = requirement
            self.test = test
        }

        public func allows(_ value: Value) -> Bool { test(value) }

        /// Throws `.invalid` naming the setting when `value` is set and outside the domain.
        public func check(_ value: Value?) throws(GenerationParameterError) {
            guard let value, !test(value) else { return }
            throw .invalid(name: name, value: "\(value)", reason: requirement)
        }
    }

    /// 0, and anything below `ResolvedGenerationParameters.greedyTemperature`, picks the most likely
    /// token, as in vLLM and the OpenAI API (transformers refuses 0 when sampling).
    public static let temperature = Rule<Double>("temperature", "must be at least 0 (0 picks the most likely token)") {
        $0 >= 0 && $0.isFinite
    }
    public static let topK = Rule<Int>("top_k", "must be 0 (disabled) or a positive integer") { $0 >= 0 }
    /// 0 keeps only the most likely token (transformers keeps `min_tokens_to_keep = 1`); 1 disables it.
    public static let topP = Rule<Double>("top_p", "must be between 0 and 1") { $0 >= 0 && $0 <= 1 }
    public static let typicalP = Rule<Double>("typical_p", "must be greater than 0 and at most 1") { $0 > 0 && $0 <= 1 }
    public static let repetitionPenalty = Rule<Double>("repetition_penalty", "must be greater than 0") { $0 > 0 && $0.isFinite }
    public static let noRepeatNgramSize = Rule<Int>("no_repeat_ngram_size", "must be 0 (disabled) or a positive integer") { $0 >= 0 }
    public static let minNewTokens = Rule<Int>("min_new_tokens", "must not be negative") { $0 >= 0 }
    public static let maxNewTokens = Rule<Int>("max_new_tokens", "must be greater than 0") { $0 > 0 }
    public static let maxLength = Rule<Int>("max_length", "must be greater than 0") { $0 > 0 }
    public static let numReturnSequences = Rule<Int>("num_return_sequences", "must be at least 1") { $0 >= 1 }
}

extension GenerationParameters {
    /// Checks every value that is set against `GenerationParameterRules`, whatever `do_sample`
    /// says: what a person asks for is refused when it cannot mean anything, not only when the
    /// processor that uses it runs. (`resolved()` checks the merged settings, model files' values
    /// among them, with transformers' own leniency.)
    public func validate() throws(GenerationParameterError) {
        typealias R = GenerationParameterRules
        try R.temperature.check(temperature)
        try R.topK.check(topK)
        try R.topP.check(topP)
        try R.typicalP.check(typicalP)
        try R.repetitionPenalty.check(repetitionPenalty)
        try R.noRepeatNgramSize.check(noRepeatNgramSize)
        try R.minNewTokens.check(minNewTokens)
        try R.maxNewTokens.check(maxNewTokens)
        try R.maxLength.check(maxLength)
        try R.numReturnSequences.check(numReturnSequences)
        if let stopStrings, stopStrings.contains(where: \.isEmpty) {
            throw .invalid(name: "stop_strings", value: "\"\"", reason: "a stop string must not be empty")
        }
    }
}
