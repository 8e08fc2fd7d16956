/// A tokenizer with exact parity to its reference library (Hugging Face `tokenizers`,
/// `sentencepiece`, or transformers' behaviour on top of them). Token ids are `Int`.
public protocol Tokenizer: Sendable {
    /// Token ids for `text`. `addSpecialTokens` applies the tokenizer's template (for example the
    /// `</s>` that T5-style tokenizers append); tokenizers without one ignore it.
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int]

    /// Token ids with the pieces the reference library reports for them (its `tokens`): for
    /// unknown characters these are the original text, not the unknown token's name.
    func encodeWithPieces(_ text: String, addSpecialTokens: Bool) -> TokenizedText

    /// The text for `ids`. Ids outside the vocabulary are ignored.
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String

    /// The id of a vocabulary entry or added token, nil when there is none.
    func tokenToID(_ token: String) -> Int?

    /// The vocabulary entry for an id, nil when out of range.
    func idToToken(_ id: Int) -> String?

    /// The vocabulary entries for `ids` (empty strings for ids out of range).
    func pieces(for ids: [Int]) -> [String]

    /// Number of ids: the model vocabulary plus added tokens.
    var vocabularySize: Int { get }

    /// Beginning/end of sequence, padding and unknown ids, and every id `skipSpecialTokens` drops.
    var specialTokens: SpecialTokens { get }

    /// How many ids at the end of `ids` decode to text that a later id could still change, beyond
    /// what `StreamingDetokenizer` detects in the text itself (for example a run of byte-fallback
    /// tokens that the `ByteFallback` decoder may yet turn into U+FFFD). `ids` starts at least one
    /// id before the first id whose text has not been emitted.
    func pendingTokenCount(in ids: ArraySlice<Int>, skipSpecialTokens: Bool) -> Int
}

extension Tokenizer {
    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        encodeWithPieces(text, addSpecialTokens: addSpecialTokens).ids
    }

    public func pieces(for ids: [Int]) -> [String] {
        ids.map { idToToken($0) ?? "" }
    }

    public func pendingTokenCount(in ids: ArraySlice<Int>, skipSpecialTokens: Bool) -> Int { 0 }
}

/// The special token ids of a tokenizer.
public struct SpecialTokens: Sendable, Equatable {
    public var bos: Int?
    public var eos: Int?
    public var pad: Int?
    public var unk: Int?
    /// Every id that `decode(_:skipSpecialTokens: true)` removes.
    public var all: Set<Int>

    public init(bos: Int? = nil, eos: Int? = nil, pad: Int? = nil, unk: Int? = nil, all: Set<Int> = []) {
        self.bos = bos
        self.eos = eos
        self.pad = pad
        self.unk = unk
        self.all = all
    }
}

/// Ids and the reference library's pieces for one encoded text.
public struct TokenizedText: Sendable, Equatable {
    public var ids: [Int]
    public var pieces: [String]

    public init(ids: [Int] = [], pieces: [String] = []) {
        self.ids = ids
        self.pieces = pieces
    }
}
