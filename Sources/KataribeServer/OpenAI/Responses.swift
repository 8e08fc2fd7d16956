/// The JSON the server answers with, field for field as OpenAI's API documents it. Optional fields
/// OpenAI always sends (`finish_reason`, `logprobs`) are written as null rather than left out.

struct Usage: Encodable, Sendable, Equatable {
    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int { promptTokens + completionTokens }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(completionTokens, forKey: .completionTokens)
        try c.encode(totalTokens, forKey: .totalTokens)
    }
}

// MARK: /v1/models

struct ModelList: Encodable, Sendable {
    var object = "list"
    var data: [ModelCard]
}

struct ModelCard: Encodable, Sendable {
    var id: String
    var object = "model"
    var created: Int
    var ownedBy = "kataribe"

    enum CodingKeys: String, CodingKey {
        case id, object, created
        case ownedBy = "owned_by"
    }
}

// MARK: /v1/completions

/// A whole completion (`object: "text_completion"`), or one streamed chunk of it (same object,
/// partial text; `usage` only on the last chunk when asked for).
struct CompletionBody: Encodable, Sendable {
    var id: String
    var object = "text_completion"
    var created: Int
    var model: String
    var choices: [CompletionChoice]
    var usage: Usage?
    /// Kataribe extension: the request seed (sample i used seed + i), to repeat the request.
    var seed: UInt64?
}

struct CompletionChoice: Encodable, Sendable {
    var text: String
    var index: Int
    var logprobs: CompletionLogprobs?
    var finishReason: String?

    enum CodingKeys: String, CodingKey {
        case text, index, logprobs
        case finishReason = "finish_reason"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(text, forKey: .text)
        try c.encode(index, forKey: .index)
        try c.encode(logprobs, forKey: .logprobs)
        try c.encode(finishReason, forKey: .finishReason)
    }
}

/// The legacy completions log-probability lists (one entry per generated token).
struct CompletionLogprobs: Encodable, Sendable {
    var tokens: [String]
    /// nil (JSON null) for an echoed prompt's first token, which nothing predicts.
    var tokenLogprobs: [Double?]
    var topLogprobs: [[String: Double]?]
    var textOffset: [Int]

    /// `echo: true`: the prompt's tokens (the first without a log-probability), then the generated
    /// ones, with offsets into prompt + completion.
    init(echo: EchoLogprobs) {
        self.init(echo.prompt + echo.generated)
        tokens.insert(echo.first.text, at: 0)
        tokenLogprobs.insert(nil, at: 0)
        topLogprobs.insert(nil, at: 0)
        textOffset.insert(0, at: 0)
    }

    enum CodingKeys: String, CodingKey {
        case tokens
        case tokenLogprobs = "token_logprobs", topLogprobs = "top_logprobs", textOffset = "text_offset"
    }

    init(_ entries: [TokenLogprob]) {
        tokens = entries.map(\.text)
        tokenLogprobs = entries.map { finite($0.logprob) }
        topLogprobs = entries.map { entry in
            // A dictionary keyed by token text, as OpenAI's; two ids with the same text keep the likelier.
            var top: [String: Double] = [:]
            for alternative in entry.top where top[alternative.text] == nil { top[alternative.text] = finite(alternative.logprob) }
            return top
        }
        textOffset = entries.map(\.textOffset)
    }
}

// MARK: /v1/chat/completions

struct ChatCompletionBody: Encodable, Sendable {
    var id: String
    var object = "chat.completion"
    var created: Int
    var model: String
    var choices: [ChatChoice]
    var usage: Usage
    /// Kataribe extension: the request seed.
    var seed: UInt64
}

struct ChatChoice: Encodable, Sendable {
    var index: Int
    var message: ChatReply
    var logprobs: ChatLogprobs?
    var finishReason: String

    enum CodingKeys: String, CodingKey {
        case index, message, logprobs
        case finishReason = "finish_reason"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(message, forKey: .message)
        try c.encode(logprobs, forKey: .logprobs)
        try c.encode(finishReason, forKey: .finishReason)
    }
}

struct ChatReply: Encodable, Sendable {
    var role = "assistant"
    var content: String
}

/// One streamed chunk (`object: "chat.completion.chunk"`).
struct ChatCompletionChunk: Encodable, Sendable {
    var id: String
    var object = "chat.completion.chunk"
    var created: Int
    var model: String
    var choices: [ChatChunkChoice]
    var usage: Usage?
    var seed: UInt64?
}

struct ChatChunkChoice: Encodable, Sendable {
    struct Delta: Encodable, Sendable {
        var role: String?
        var content: String?
    }

    var index: Int
    var delta: Delta
    var logprobs: ChatLogprobs?
    var finishReason: String?

    enum CodingKeys: String, CodingKey {
        case index, delta, logprobs
        case finishReason = "finish_reason"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(delta, forKey: .delta)
        try c.encode(logprobs, forKey: .logprobs)
        try c.encode(finishReason, forKey: .finishReason)
    }
}

struct ChatLogprobs: Encodable, Sendable {
    struct Entry: Encodable, Sendable {
        var token: String
        var logprob: Double
        var bytes: [UInt8]
        var topLogprobs: [Alternative]

        enum CodingKeys: String, CodingKey {
            case token, logprob, bytes
            case topLogprobs = "top_logprobs"
        }
    }

    struct Alternative: Encodable, Sendable {
        var token: String
        var logprob: Double
        var bytes: [UInt8]
    }

    var content: [Entry]

    init(_ entries: [TokenLogprob]) {
        content = entries.map { entry in
            Entry(token: entry.text, logprob: finite(entry.logprob), bytes: Array(entry.text.utf8),
                  topLogprobs: entry.top.map { Alternative(token: $0.text, logprob: finite($0.logprob), bytes: Array($0.text.utf8)) })
        }
    }
}

/// JSON has no infinities; OpenAI reports an impossible token as -9999.
private func finite(_ value: Double) -> Double { value.isFinite ? value : -9999 }
