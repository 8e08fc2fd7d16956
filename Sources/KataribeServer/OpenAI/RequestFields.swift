import KataribeApp

/// The sampling fields shared by `/v1/completions` and `/v1/chat/completions`: OpenAI's, plus the
/// extensions `top_k`, `repetition_penalty` and `min_tokens` (named as vLLM names them). Fields
/// OpenAI defines but Kataribe cannot honour are decoded so that a non-default value is refused
/// rather than silently ignored; unknown fields are ignored.
struct SamplingFields: Decodable, Sendable, Equatable {
    var maxTokens: Int?
    var temperature: Double?
    var topP: Double?
    var n: Int?
    var seed: UInt64?
    var stop: [String]?
    var stream: Bool
    var includeUsage: Bool
    var topK: Int?
    var repetitionPenalty: Double?
    var minTokens: Int?
    var presencePenalty: Double?
    var frequencyPenalty: Double?
    var hasLogitBias: Bool
    /// vLLM's extensions that compare's endpoint backend sends.
    var skipSpecialTokens: Bool?
    var includeStopStringInOutput: Bool?
    /// `stream_options` was given (it needs `stream`).
    var hasStreamOptions: Bool
    var responseFormat: String?

    /// The fields decoded here, plus `user` (OpenAI's end-user id for abuse monitoring, which never
    /// changes a reply).
    static let knownFields: Set<String> = [
        "max_tokens", "max_completion_tokens", "temperature", "n", "seed", "stop", "stream", "top_p", "top_k", "stream_options",
        "repetition_penalty", "min_tokens", "presence_penalty", "frequency_penalty", "logit_bias", "skip_special_tokens",
        "include_stop_str_in_output", "response_format", "user",
    ]

    enum CodingKeys: String, CodingKey {
        case maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens"
        case temperature, n, seed, stop, stream
        case topP = "top_p", topK = "top_k"
        case streamOptions = "stream_options"
        case repetitionPenalty = "repetition_penalty", minTokens = "min_tokens"
        case presencePenalty = "presence_penalty", frequencyPenalty = "frequency_penalty"
        case logitBias = "logit_bias", skipSpecialTokens = "skip_special_tokens"
        case includeStopStringInOutput = "include_stop_str_in_output", responseFormat = "response_format"
    }

    struct ResponseFormat: Decodable {
        var type: String
    }

    struct StreamOptions: Decodable {
        var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxCompletionTokens) ?? c.decodeIfPresent(Int.self, forKey: .maxTokens)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        topP = try c.decodeIfPresent(Double.self, forKey: .topP)
        n = try c.decodeIfPresent(Int.self, forKey: .n)
        if let unsigned = try? c.decodeIfPresent(UInt64.self, forKey: .seed) {
            seed = unsigned
        } else {
            // OpenAI's seed is any 64-bit integer; negative ones keep their bit pattern.
            seed = try c.decodeIfPresent(Int64.self, forKey: .seed).map { UInt64(bitPattern: $0) }
        }
        stop = try c.decodeStringOrList(forKey: .stop)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream) ?? false
        includeUsage = try c.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)?.includeUsage ?? false
        topK = try c.decodeIfPresent(Int.self, forKey: .topK)
        repetitionPenalty = try c.decodeIfPresent(Double.self, forKey: .repetitionPenalty)
        minTokens = try c.decodeIfPresent(Int.self, forKey: .minTokens)
        presencePenalty = try c.decodeIfPresent(Double.self, forKey: .presencePenalty)
        frequencyPenalty = try c.decodeIfPresent(Double.self, forKey: .frequencyPenalty)
        hasLogitBias = try c.decodeIfPresent([String: Double].self, forKey: .logitBias).map { !$0.isEmpty } ?? false
        skipSpecialTokens = try c.decodeIfPresent(Bool.self, forKey: .skipSpecialTokens)
        includeStopStringInOutput = try c.decodeIfPresent(Bool.self, forKey: .includeStopStringInOutput)
        hasStreamOptions = try c.contains(.streamOptions) && !c.decodeNil(forKey: .streamOptions)
        responseFormat = try c.decodeIfPresent(ResponseFormat.self, forKey: .responseFormat)?.type
    }
}

/// `POST /v1/completions`.
struct CompletionRequest: Decodable, Sendable {
    var model: String?
    var prompt: CompletionPrompt
    var sampling: SamplingFields
    /// How many alternatives to report with each token's log-probability (0...5); nil: none.
    var logprobs: Int?
    var echo: Bool
    var suffix: String?
    var bestOf: Int?
    var promptLogprobs: Int?

    enum CodingKeys: String, CodingKey {
        case model, prompt, logprobs, echo, suffix
        case bestOf = "best_of", promptLogprobs = "prompt_logprobs"
    }

    /// Every field a completion request may carry; any other is refused rather than ignored.
    static let knownFields: Set<String> = SamplingFields.knownFields.union(["model", "prompt", "logprobs", "echo", "suffix", "best_of",
                                                                              "prompt_logprobs"])

    init(from decoder: any Decoder) throws {
        try RequestFieldCheck.refuseUnknown(decoder, known: Self.knownFields)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        prompt = try c.decode(CompletionPrompt.self, forKey: .prompt)
        logprobs = try c.decodeIfPresent(Int.self, forKey: .logprobs)
        echo = try c.decodeIfPresent(Bool.self, forKey: .echo) ?? false
        suffix = try c.decodeIfPresent(String.self, forKey: .suffix)
        bestOf = try c.decodeIfPresent(Int.self, forKey: .bestOf)
        promptLogprobs = try c.decodeIfPresent(Int.self, forKey: .promptLogprobs)
        sampling = try SamplingFields(from: decoder)
    }
}

/// A completion prompt: text or token ids, or a list of either (several prompts in one request,
/// as lm-evaluation-harness sends them with `--batch_size` above 1).
enum CompletionPrompt: Decodable, Sendable, Equatable {
    case text(String)
    case tokens([Int])
    case texts([String])
    case tokenLists([[Int]])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let text = try? c.decode(String.self) {
            self = .text(text)
        } else if let texts = try? c.decode([String].self) {
            guard !texts.isEmpty else { throw APIError.invalidRequest("'prompt' is an empty list", param: "prompt") }
            self = texts.count == 1 ? .text(texts[0]) : .texts(texts)
        } else if let ids = try? c.decode([Int].self) {
            self = .tokens(ids)
        } else if let lists = try? c.decode([[Int]].self) {
            guard !lists.isEmpty else { throw APIError.invalidRequest("'prompt' is an empty list", param: "prompt") }
            self = lists.count == 1 ? .tokens(lists[0]) : .tokenLists(lists)
        } else {
            throw APIError.invalidRequest("'prompt' must be a string, a list of strings, a list of token ids or a list of such lists",
                                          param: "prompt")
        }
    }

    /// Each prompt as generation input (token ids are used exactly as sent: no BOS is added).
    var inputs: [PromptInput] {
        switch self {
        case .text(let text): [.text(text)]
        case .tokens(let ids): [.tokens(ids)]
        case .texts(let texts): texts.map { .text($0) }
        case .tokenLists(let lists): lists.map { .tokens($0) }
        }
    }
}

/// `POST /v1/chat/completions`.
struct ChatCompletionRequest: Decodable, Sendable {
    var model: String?
    var messages: [ChatMessage]
    var sampling: SamplingFields
    var logprobs: Bool
    var topLogprobs: Int?
    var hasTools: Bool

    enum CodingKeys: String, CodingKey {
        case model, messages, logprobs, tools
        case topLogprobs = "top_logprobs"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        try RequestFieldCheck.refuseUnknown(decoder, known: Self.knownFields)
        messages = try c.decode([ChatMessage].self, forKey: .messages)
        logprobs = try c.decodeIfPresent(Bool.self, forKey: .logprobs) ?? false
        topLogprobs = try c.decodeIfPresent(Int.self, forKey: .topLogprobs)
        hasTools = c.contains(.tools) ? !(try c.decodeNil(forKey: .tools)) : false
        sampling = try SamplingFields(from: decoder)
    }

    /// Every field a chat request may carry; any other is refused rather than ignored.
    static let knownFields: Set<String> = SamplingFields.knownFields.union(["model", "messages", "logprobs", "top_logprobs", "tools",
                                                                              "tool_choice"])
}

/// One chat message. `content` is text, or a list of parts of which only text parts are accepted.
struct ChatMessage: Decodable, Sendable, Equatable {
    var role: String
    var content: String

    enum CodingKeys: String, CodingKey { case role, content }

    struct Part: Decodable {
        var type: String
        var text: String?
    }

    init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decode(String.self, forKey: .role)
        if try !c.contains(.content) || c.decodeNil(forKey: .content) {
            content = ""
        } else if let text = try? c.decode(String.self, forKey: .content) {
            content = text
        } else if let parts = try? c.decode([Part].self, forKey: .content) {
            guard parts.allSatisfy({ $0.type == "text" && $0.text != nil }) else {
                throw APIError.invalidRequest("only text content parts are supported", param: "messages")
            }
            content = parts.compactMap(\.text).joined()
        } else {
            throw APIError.invalidRequest("a message's 'content' must be a string or a list of text parts", param: "messages")
        }
    }
}

extension KeyedDecodingContainer {
    /// OpenAI's `stop` is null, one string, or a list of strings.
    func decodeStringOrList(forKey key: Key) throws -> [String]? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let one = try? decode(String.self, forKey: key) { return [one] }
        return try decode([String].self, forKey: key)
    }
}

/// Refuses request fields Kataribe does not know, so that no setting is silently ignored.
enum RequestFieldCheck {
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static func refuseUnknown(_ decoder: any Decoder, known: Set<String>) throws {
        let keys = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        if let unknown = keys.sorted().first(where: { !known.contains($0) }) {
            throw APIError.invalidRequest("unknown or unsupported field '\(unknown.prefix(64))'", param: String(unknown.prefix(64)))
        }
    }
}
