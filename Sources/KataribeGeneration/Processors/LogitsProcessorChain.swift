/// The processors transformers' `GenerationMixin._get_logits_processor` builds for a decoder-only
/// model and these settings, in its order:
///
/// 1. `RepetitionPenaltyLogitsProcessor` if `repetition_penalty != 1`
/// 2. `NoRepeatNGramLogitsProcessor` if `no_repeat_ngram_size > 0`
/// 3. `MinNewTokensLengthLogitsProcessor` if `min_new_tokens > 0` and an eos id is known
/// 4. only when sampling: `TemperatureLogitsWarper` if `temperature != 1`, `TopKLogitsWarper` if
///    `top_k != 0` (50 unless given), `TopPLogitsWarper` if `top_p < 1`, `TypicalLogitsWarper`
///    if `typical_p < 1`, all with `min_tokens_to_keep = 1`.
///
/// Greedy decoding therefore still applies 1–3. Processors transformers has but Kataribe does not
/// expose (min_p, epsilon/eta cutoffs, bad words, forced bos/eos, ...) are inactive under the
/// default configuration and are not built.
public struct LogitsProcessorChain: Sendable {
    public let processors: [any LogitsProcessor]

    public init(processors: [any LogitsProcessor]) { self.processors = processors }

    public init(_ parameters: ResolvedGenerationParameters) {
        var chain: [any LogitsProcessor] = []
        if parameters.repetitionPenalty != 1.0 {
            chain.append(RepetitionPenaltyProcessor(penalty: parameters.repetitionPenalty))
        }
        if parameters.noRepeatNgramSize > 0 {
            chain.append(NoRepeatNGramProcessor(ngramSize: parameters.noRepeatNgramSize))
        }
        if parameters.minNewTokens > 0, !parameters.eosTokenIds.isEmpty {
            chain.append(MinNewTokensProcessor(minNewTokens: parameters.minNewTokens, eosTokenIds: parameters.eosTokenIds))
        }
        if parameters.drawsSamples {
            if parameters.temperature != 1.0 { chain.append(TemperatureWarper(temperature: parameters.temperature)) }
            if parameters.topK != 0 { chain.append(TopKWarper(topK: parameters.topK)) }
            if parameters.topP < 1.0 { chain.append(TopPWarper(topP: parameters.topP)) }
            if parameters.typicalP < 1.0 { chain.append(TypicalWarper(mass: parameters.typicalP)) }
        }
        processors = chain
    }

    /// The transformers class names, in order (what the parity fixtures record).
    public var transformersNames: [String] { processors.map(\.transformersName) }

    public func apply(_ scores: UnsafeMutableBufferPointer<Float>, history: TokenHistory, workspace: LogitsWorkspace) {
        workspace.candidatesValid = false
        for processor in processors { processor.process(scores, history: history, workspace: workspace) }
    }

    /// Convenience for tests and one-off use: processes a copy.
    public func applied(to scores: [Float], history: TokenHistory, workspace: LogitsWorkspace = LogitsWorkspace()) -> [Float] {
        var out = scores
        out.withUnsafeMutableBufferPointer { apply($0, history: history, workspace: workspace) }
        return out
    }
}
