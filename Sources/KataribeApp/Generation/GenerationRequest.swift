import KataribeGeneration

/// What to generate from.
public enum PromptInput: Sendable, Equatable {
    /// Text a person typed, written by the prompt format (`GenerationOptions.format`, else the
    /// preset's; `PromptFormat.prompt(forText:)`): the user's turn in a chat format, the text to
    /// continue in a completion format.
    case text(String)
    /// A chat history whose last turn other than system turns is the user's, written by the prompt
    /// format (which must have turns); system turns follow the format's rule.
    case conversation(Conversation)
    /// Token ids fed as they are (no format, no tokenizer).
    case tokens([Int])
}

/// Request-level choices that are not sampling settings.
public struct GenerationOptions: Sendable, Equatable {
    /// The prompt format for `.text` and `.conversation` input; nil uses the preset's.
    public var format: PromptFormat?
    /// What to do when the prompt and `max_new_tokens` do not fit the context: `.error` (default), or
    /// `.truncateLeft`, which drops the oldest tokens (for conversations: whole exchanges first).
    public var contextOverflow: ContextOverflowPolicy
    /// A pause after each generated token. Tiny models finish a reply faster than a person (or a test)
    /// can press Ctrl-C; pacing makes interruption observable. nil (default) never waits.
    public var tokenPacing: Duration?
    /// Whether special tokens are left out of the text (vLLM's `skip_special_tokens`); nil: the preset's.
    public var skipSpecialTokens: Bool?

    public init(format: PromptFormat? = nil, contextOverflow: ContextOverflowPolicy = .error, tokenPacing: Duration? = nil) {
        self.format = format
        self.contextOverflow = contextOverflow
        self.tokenPacing = tokenPacing
    }
}

/// A request checked and tokenized, ready to run: everything is decided except the tokens.
public struct PreparedGeneration: Sendable {
    public let input: PromptInput
    public let format: PromptFormat
    /// The text given to the tokenizer (after formatting and dropped turns); nil for token input.
    public let promptText: String?
    /// The ids fed to the model (after truncation).
    public let promptTokens: [Int]
    /// Oldest prompt tokens dropped to fit the context (`.truncateLeft`).
    public let droppedPromptTokens: Int
    /// Oldest conversation turns dropped to fit the context (`.truncateLeft` on a conversation).
    public let droppedTurns: Int
    /// The merged, validated settings; `maxNewTokens` is always set.
    public let parameters: ResolvedGenerationParameters
    /// The request seed (the configured one, or a random one to report back); sample i uses `seed &+ i`.
    public let seed: UInt64
    /// See `GenerationOptions.tokenPacing`.
    public var tokenPacing: Duration? = nil
    /// See `GenerationOptions.skipSpecialTokens`.
    public var skipSpecialTokens: Bool? = nil
}
