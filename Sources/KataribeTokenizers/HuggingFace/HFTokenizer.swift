import Foundation

/// A `tokenizer.json` with the behaviour of the Rust `tokenizers` library (0.23):
/// `encode(text, add_special_tokens)` and `decode(ids, skip_special_tokens)`.
public struct HFTokenizer: Tokenizer {
    private(set) var addedVocabulary: AddedVocabulary
    let normalizer: (any HFNormalizer)?
    let preTokenizer: (any HFPreTokenizer)?
    let model: any HFModel
    var postProcessor: (any HFPostProcessor)?
    let decoder: (any HFDecoder)?
    public internal(set) var specialTokens: SpecialTokens
    /// transformers' `clean_up_tokenization_spaces` (off for the plain library).
    var cleanUpTokenizationSpaces = false

    /// Loads a `tokenizer.json` file.
    public init(contentsOf url: URL) throws(TokenizerError) {
        let bytes = try readFile(url)
        try self.init(jsonBytes: bytes, path: url.path)
    }

    /// Parses `tokenizer.json` bytes; `path` names the source in errors.
    public init(jsonBytes: [UInt8], path: String = "<memory>") throws(TokenizerError) {
        self = try HFTokenizerLoader(path: path).load(jsonBytes)
    }

    /// `tokenizer.json` bytes whose parsed document `rewrite` edits before the pipeline is built.
    init(jsonBytes: [UInt8], path: String, rewrite: @escaping (inout JSONObject) -> Void) throws(TokenizerError) {
        self = try HFTokenizerLoader(path: path).load(jsonBytes, rewrite: rewrite)
    }

    init(addedVocabulary: AddedVocabulary, normalizer: (any HFNormalizer)?, preTokenizer: (any HFPreTokenizer)?,
         model: any HFModel, postProcessor: (any HFPostProcessor)?, decoder: (any HFDecoder)?, specialTokens: SpecialTokens) {
        self.addedVocabulary = addedVocabulary
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        self.postProcessor = postProcessor
        self.decoder = decoder
        self.specialTokens = specialTokens
    }

    /// `add_tokens`/`add_special_tokens`: a token keeps the id its content already has (added or in
    /// the model), else takes the next id after the vocabulary and the added tokens.
    mutating func addToken(content: String, special: Bool, normalized: Bool? = nil, leftStrip: Bool = false,
                           rightStrip: Bool = false, singleWord: Bool = false) {
        let bytes = Array(content.utf8)
        guard !bytes.isEmpty else { return }
        let id: Int
        if let existing = addedVocabulary.id(forContent: bytes) ?? model.tokenToID(bytes) {
            id = existing
        } else {
            let count = model.vocabularyCount
            if let maxAdded = addedVocabulary.tokens.map(\.id).max() {
                id = maxAdded >= count || count == 0 ? maxAdded + 1 : count
            } else {
                id = count
            }
        }
        let isNormalized = normalized ?? !special
        var normalizedContent = bytes
        if isNormalized, let normalizer {
            var text = NormalizedText(bytes: bytes, atOriginalStart: true)
            normalizer.normalize(&text)
            normalizedContent = text.bytes
        }
        addedVocabulary.add(AddedVocabulary.Token(id: id, content: bytes, singleWord: singleWord, leftStrip: leftStrip,
                                                  rightStrip: rightStrip, normalized: isNormalized, special: special,
                                                  normalizedContent: normalizedContent))
        if special { specialTokens.all.insert(id) }
    }

    /// Whether the model is BPE (transformers 5 never applies `clean_up_tokenization_spaces` to BPE).
    var modelIsBPE: Bool { model is BPEModel }

    public var vocabularySize: Int {
        // `get_vocab_size(with_added_tokens=True)`: model entries plus added tokens it lacks.
        model.vocabularyCount + addedVocabulary.tokens.filter { model.idToToken($0.id) == nil }.count
    }

    /// The normalizer's output for `text` (`tokenizer.normalizer.normalize_str`).
    public func normalize(_ text: String) -> String {
        var normalized = NormalizedText(bytes: Array(text.utf8), atOriginalStart: true)
        normalizer?.normalize(&normalized)
        return UTF8Bytes.string(normalized.bytes)
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        var output = EncodingOutput(collectPieces: false)
        encode(text, into: &output)
        postProcessor?.process(&output, addSpecialTokens: addSpecialTokens)
        return output.ids
    }

    public func encodeWithPieces(_ text: String, addSpecialTokens: Bool) -> TokenizedText {
        var output = EncodingOutput(collectPieces: true)
        encode(text, into: &output)
        postProcessor?.process(&output, addSpecialTokens: addSpecialTokens)
        return TokenizedText(ids: output.ids, pieces: output.pieces)
    }

    private func encode(_ text: String, into output: inout EncodingOutput) {
        let raw = Array(text.utf8)
        for segment in addedVocabulary.split(raw, normalizedTokens: false) {
            switch segment {
            case let .token(id, range):
                output.append(id, piece: UTF8Bytes.string(raw[range]))
            case let .text(range):
                var normalized = NormalizedText(bytes: Array(raw[range]), atOriginalStart: range.lowerBound == 0)
                normalizer?.normalize(&normalized)
                for inner in addedVocabulary.split(normalized.bytes, normalizedTokens: true) {
                    switch inner {
                    case let .token(id, innerRange):
                        output.append(id, piece: UTF8Bytes.string(normalized.bytes[innerRange]))
                    case let .text(innerRange):
                        let piece = NormalizedText(bytes: Array(normalized.bytes[innerRange]),
                                                   atOriginalStart: normalized.atOriginalStart && innerRange.lowerBound == 0)
                        var splits = SplitList(text: piece)
                        preTokenizer?.preTokenize(&splits)
                        model.tokenize(splits, into: &output)
                    }
                }
            }
        }
    }

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var tokens: [[UInt8]] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            guard let token = tokenBytes(id) else { continue }
            if skipSpecialTokens && addedVocabulary.isSpecialContent(token) { continue }
            tokens.append(token)
        }
        let text: String
        if let decoder {
            text = UTF8Bytes.lossyString(decoder.decodeChain(tokens).flatMap { $0 })
        } else {
            var joined: [UInt8] = []
            for (index, token) in tokens.enumerated() {
                if index > 0 { joined.append(0x20) }
                joined.append(contentsOf: token)
            }
            text = UTF8Bytes.string(joined)
        }
        return cleanUpTokenizationSpaces ? TextCleanup.cleanUpTokenization(text) : text
    }

    /// The token string decoding starts from: an added token's normalized form, else the model's entry.
    private func tokenBytes(_ id: Int) -> [UInt8]? {
        if let added = addedVocabulary.token(forID: id) { return added.normalizedContent }
        return model.idToToken(id)
    }

    public func tokenToID(_ token: String) -> Int? {
        let bytes = Array(token.utf8)
        return addedVocabulary.id(forContent: bytes) ?? model.tokenToID(bytes)
    }

    /// A trailing run of `<0xXX>` tokens: `ByteFallback` turns the whole run into U+FFFD when a
    /// later byte makes it invalid, so its text is not final until the run ends.
    public func pendingTokenCount(in ids: ArraySlice<Int>, skipSpecialTokens: Bool) -> Int {
        var count = 0
        for id in ids.reversed() {
            guard let token = tokenBytes(id), ByteFallbackDecoder.byteValue(token) != nil else { break }
            count += 1
        }
        return count
    }

    public func idToToken(_ id: Int) -> String? {
        tokenBytes(id).map { UTF8Bytes.string($0) }
    }
}
