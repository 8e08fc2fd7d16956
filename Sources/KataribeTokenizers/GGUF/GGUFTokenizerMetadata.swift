/// The tokenizer a GGUF file carries in its metadata (`tokenizer.ggml.*`, `tokenizer.chat_template`,
/// `general.architecture`), as plain values. This module does not read GGUF files itself (the reader
/// lives in KataribeCheckpoint, which it does not depend on): whoever reads the file fills this in,
/// and `GGUFTokenizerBuilder.make(from:source:)` turns it into a tokenizer.
public struct GGUFTokenizerMetadata: Sendable, Equatable {
    /// llama.cpp's `tokenizer.ggml.token_type` values.
    public enum TokenType: Int32, Sendable {
        case normal = 1
        case unknown = 2
        /// transformers adds these as special tokens (cut out of text whole, skipped on decode).
        case control = 3
        /// transformers adds these as plain added tokens (cut out of text whole, kept on decode).
        case userDefined = 4
        case unused = 5
        case byte = 6
    }

    /// The metadata keys each field comes from, for readers of GGUF files.
    public enum Key {
        public static let architecture = "general.architecture"
        public static let model = "tokenizer.ggml.model"
        public static let pre = "tokenizer.ggml.pre"
        public static let tokens = "tokenizer.ggml.tokens"
        public static let scores = "tokenizer.ggml.scores"
        public static let tokenTypes = "tokenizer.ggml.token_type"
        public static let merges = "tokenizer.ggml.merges"
        public static let bosID = "tokenizer.ggml.bos_token_id"
        public static let eosID = "tokenizer.ggml.eos_token_id"
        public static let unknownID = "tokenizer.ggml.unknown_token_id"
        public static let paddingID = "tokenizer.ggml.padding_token_id"
        public static let addBOS = "tokenizer.ggml.add_bos_token"
        public static let addEOS = "tokenizer.ggml.add_eos_token"
        public static let addSpacePrefix = "tokenizer.ggml.add_space_prefix"
        public static let chatTemplate = "tokenizer.chat_template"
    }

    /// `general.architecture` (`llama`, `qwen2`, `gemma3`, `phi3`...): transformers picks the
    /// SentencePiece conversion and the tokenizer class by it.
    public var architecture: String
    /// `tokenizer.ggml.model`: `gpt2` (byte-level BPE), `llama` (SentencePiece BPE with byte
    /// fallback), `gemma4`; others are refused.
    public var model: String
    /// `tokenizer.ggml.pre`: llama.cpp's name for the pre-tokenizer regex.
    public var pre: String?
    public var tokens: [String]
    public var scores: [Float]?
    /// `TokenType` raw values, one per token.
    public var tokenTypes: [Int32]?
    /// `"left right"` strings, best first.
    public var merges: [String]?
    public var bosID: Int?
    public var eosID: Int?
    public var unknownID: Int?
    public var paddingID: Int?
    public var addBOS: Bool?
    public var addEOS: Bool?
    /// Read but, as in transformers, not used: the SentencePiece conversion always prepends "▁" to
    /// the first word (Llama) or never (Gemma), whatever the file says.
    public var addSpacePrefix: Bool?
    public var chatTemplate: String?

    public init(architecture: String, model: String, pre: String? = nil, tokens: [String], scores: [Float]? = nil,
                tokenTypes: [Int32]? = nil, merges: [String]? = nil, bosID: Int? = nil, eosID: Int? = nil,
                unknownID: Int? = nil, paddingID: Int? = nil, addBOS: Bool? = nil, addEOS: Bool? = nil,
                addSpacePrefix: Bool? = nil, chatTemplate: String? = nil) {
        self.architecture = architecture
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bosID = bosID
        self.eosID = eosID
        self.unknownID = unknownID
        self.paddingID = paddingID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
        self.chatTemplate = chatTemplate
    }

    /// The type of token `index` (nil without `tokenTypes`, or for a value llama.cpp does not define).
    public func tokenType(_ index: Int) -> TokenType? {
        guard let tokenTypes, index >= 0, index < tokenTypes.count else { return nil }
        return TokenType(rawValue: tokenTypes[index])
    }
}
