import KataribeApp
import KataribeGeneration

/// What a scheduled request reports, in order: `.text` events and one `.sampleFinished` per sample
/// (samples run one after another, in index order), then `.finished`, or `.failed` instead.
public enum ScheduledEvent: Sendable {
    /// New text of sample `sample`, never a broken character, never part of a stop string. `logprobs`
    /// covers the tokens generated since the previous event of that sample (empty unless requested).
    case text(sample: Int, text: String, logprobs: [TokenLogprob])
    case sampleFinished(SampleOutcome)
    case finished(RequestOutcome)
    case failed(TextGenerationError)
}

/// One finished sample.
public struct SampleOutcome: Sendable {
    public var index: Int
    /// The whole returned text: the sample's `.text` events and `tail` concatenated.
    public var text: String
    /// The end of the text, not sent in any `.text` event.
    public var tail: String
    /// Log-probabilities of the tokens not covered by any `.text` event.
    public var tailLogprobs: [TokenLogprob]
    /// Every token's log-probability when they were requested, else nil.
    public var logprobs: [TokenLogprob]?
    public var stopReason: StopReason
    /// Generated ids (ending with the eos id when stopped by it).
    public var tokens: [Int]
}

/// The end of a request.
public struct RequestOutcome: Sendable {
    public var promptTokens: Int
    /// Tokens generated over all samples.
    public var completionTokens: Int
    /// The request seed (sample i used `seed &+ i`).
    public var seed: UInt64
}
