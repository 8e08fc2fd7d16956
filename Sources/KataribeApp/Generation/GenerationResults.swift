import KataribeGeneration

/// What a `GenerationStream` yields: text as it becomes final, each sample's result, then the summary.
public enum GenerationEvent: Sendable, Equatable {
    /// New text of sample `sample` (never a broken character). A sample's chunks concatenate to its
    /// `GeneratedSample.text`.
    case text(String, sample: Int)
    /// A sample ended (samples run one after another, in index order).
    case sampleFinished(GeneratedSample)
    /// The last event.
    case finished(GenerationSummary)
}

/// One generated sample.
public struct GeneratedSample: Sendable, Codable, Equatable {
    public var index: Int
    /// This sample's generator seed (request seed &+ index).
    public var seed: UInt64
    /// Generated ids (ending with the eos id when stopped by it, as transformers returns them).
    public var tokens: [Int]
    /// The text shown to users: `rawText` with the prompt format's reply conventions applied (rinna chat:
    /// `<NL>` as newlines, a trailing `</s>` removed) and, under `.strip`, cut before a stop string.
    public var text: String
    /// `tokenizer.decode(tokens, skip_special_tokens: preset)`, what transformers' callers print.
    public var rawText: String
    public var stopReason: StopReason
    /// The stop string that ended the sample, if one did.
    public var stopString: String?
    /// Seconds spent generating this sample's tokens (prompt processing excluded).
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case index, seed, tokens, text, seconds
        case rawText = "raw_text"
        case stopReason = "stop_reason"
        case stopString = "stop_string"
    }

    public init(index: Int, seed: UInt64, tokens: [Int], text: String, rawText: String, stopReason: StopReason,
                stopString: String?, seconds: Double) {
        self.index = index
        self.seed = seed
        self.tokens = tokens
        self.text = text
        self.rawText = rawText
        self.stopReason = stopReason
        self.stopString = stopString
        self.seconds = seconds
    }
}

/// Where the time went.
public struct GenerationTiming: Sendable, Codable, Equatable {
    public var promptTokens: Int
    /// Seconds to process the prompt (once, shared by all samples).
    public var promptSeconds: Double
    public var generatedTokens: Int
    /// Seconds spent generating, all samples together.
    public var generationSeconds: Double

    public init(promptTokens: Int, promptSeconds: Double, generatedTokens: Int, generationSeconds: Double) {
        self.promptTokens = promptTokens
        self.promptSeconds = promptSeconds
        self.generatedTokens = generatedTokens
        self.generationSeconds = generationSeconds
    }

    /// Generated tokens per second of generation time (nil before any time has passed).
    public var tokensPerSecond: Double? { generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : nil }
    public var promptTokensPerSecond: Double? { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : nil }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", promptSeconds = "prompt_seconds"
        case generatedTokens = "generated_tokens", generationSeconds = "generation_seconds"
        case tokensPerSecond = "tokens_per_second", promptTokensPerSecond = "prompt_tokens_per_second"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(promptSeconds, forKey: .promptSeconds)
        try c.encode(generatedTokens, forKey: .generatedTokens)
        try c.encode(generationSeconds, forKey: .generationSeconds)
        try c.encode(tokensPerSecond, forKey: .tokensPerSecond)
        try c.encode(promptTokensPerSecond, forKey: .promptTokensPerSecond)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        promptTokens = try c.decode(Int.self, forKey: .promptTokens)
        promptSeconds = try c.decode(Double.self, forKey: .promptSeconds)
        generatedTokens = try c.decode(Int.self, forKey: .generatedTokens)
        generationSeconds = try c.decode(Double.self, forKey: .generationSeconds)
    }
}

/// The outcome of a whole request.
public struct GenerationSummary: Sendable, Codable, Equatable {
    public var samples: [GeneratedSample]
    /// The ids fed to the model (after truncation).
    public var promptTokens: [Int]
    public var droppedPromptTokens: Int
    public var droppedTurns: Int
    /// The request seed; pass it back (`GenerationParameters.seed`) to repeat the run.
    public var seed: UInt64
    public var timing: GenerationTiming

    public init(samples: [GeneratedSample], promptTokens: [Int], droppedPromptTokens: Int, droppedTurns: Int,
                seed: UInt64, timing: GenerationTiming) {
        self.samples = samples
        self.promptTokens = promptTokens
        self.droppedPromptTokens = droppedPromptTokens
        self.droppedTurns = droppedTurns
        self.seed = seed
        self.timing = timing
    }

    /// The first sample's text (the only one unless `num_return_sequences` > 1).
    public var text: String { samples.first?.text ?? "" }
    /// The first sample's stop reason.
    public var stopReason: StopReason { samples.first?.stopReason ?? .cancelled }

    enum CodingKeys: String, CodingKey {
        case samples, seed, timing
        case promptTokens = "prompt_tokens"
        case droppedPromptTokens = "dropped_prompt_tokens"
        case droppedTurns = "dropped_turns"
    }
}
