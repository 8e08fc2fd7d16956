import Foundation

/// transformers' slow `T5Tokenizer` (transformers 4.x, `use_fast=False`, `legacy=True`): how rinna's
/// japanese-gpt-neox models are meant to be tokenized. transformers 5 dropped the slow tokenizers and
/// rebuilds T5 on `tokenizers` with whitespace splitting and a Metaspace prefix, which does not
/// reproduce the SentencePiece model for these vocabularies (no dummy prefix, whitespace kept), so
/// the 4.x behaviour is what this type implements:
///
/// - encode: special and added tokens are cut out of the text first (honouring lstrip/rstrip), each
///   remaining chunk is `sp_model.encode(chunk)`, and `addSpecialTokens` appends `</s>` unless the
///   ids already end with it;
/// - decode: ids become pieces; special tokens are emitted literally (preceded by a space), the
///   pieces between them go through `sp_model.decode`, the result is `str.strip()`-ed, and
///   `clean_up_tokenization_spaces` (when the config sets it; the default is false since
///   transformers 4.45) removes spaces before punctuation.
///
/// The reference for this behaviour is transformers 4.57.1, the last release with slow tokenizers.
public struct T5SlowTokenizer: Tokenizer {
    let sentencePiece: SentencePieceTokenizer

    struct AddedToken: Sendable {
        let id: Int
        let content: [UInt8]
        let leftStrip: Bool
        let rightStrip: Bool
        let singleWord: Bool
        let special: Bool
    }

    private let addedTokens: [AddedToken]
    private let addedByContent: BytesMap
    private let addedByID: [Int: Int]
    private let matcher: DoubleArrayTrie?
    /// `all_special_tokens` (contents) and `all_special_ids`.
    private let specialContents: BytesMap
    private let extraIDs: Int
    private let legacyAddedContents: BytesMap
    /// SentencePiece ids whose piece is spelled like an added token (and so takes its id).
    private let idsSpelledLikeAddedTokens: Set<Int>
    let cleanUpTokenizationSpaces: Bool
    public let specialTokens: SpecialTokens
    public let vocabularySize: Int

    /// Loads `modelFile` with the settings of `tokenizer_config.json`/`special_tokens_map.json`.
    init(modelFile: URL, config: TokenizerConfig) throws(TokenizerError) {
        if let tokenizerClass = config.tokenizerClass, tokenizerClass != "T5Tokenizer", tokenizerClass != "T5TokenizerFast" {
            throw TokenizerError.unsupportedComponent(path: modelFile.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json").path,
                                                      component: "slow tokenizer class", type: tokenizerClass)
        }
        try self.init(sentencePiece: SentencePieceTokenizer(contentsOf: modelFile), config: config)
    }

    init(sentencePiece: SentencePieceTokenizer, config: TokenizerConfig) {
        self.sentencePiece = sentencePiece
        let pieceCount = sentencePiece.vocabularySize
        let extraIDs = config.extraIDs ?? 100
        self.extraIDs = extraIDs
        var baseVocabularySize = pieceCount + extraIDs

        var tokens: [AddedToken] = []
        var byContent = BytesMap(capacity: 64)
        var byID: [Int: Int] = [:]
        func add(_ token: AddedToken) {
            if let existing = byID[token.id] { tokens[existing] = token } else {
                byID[token.id] = tokens.count
                tokens.append(token)
            }
            byContent.set(token.content, Int32(token.id))
        }

        // Sentinel tokens, as T5Tokenizer registers them when `added_tokens_decoder` is not given.
        var roles: [TokenizerConfig.Role: TokenizerConfig.TokenSpec] = [
            .eos: .init(content: "</s>"), .unk: .init(content: "<unk>"), .pad: .init(content: "<pad>"),
        ]
        for (role, spec) in config.specialTokens { roles[role] = spec }
        var additional = config.additionalSpecialTokens
        if !additional.contains(where: { $0.content.contains("<extra_id_") }) {
            additional += (0..<extraIDs).map { TokenizerConfig.TokenSpec(content: "<extra_id_\($0)>") }
        }
        if config.addedTokensDecoder.isEmpty {
            for i in 0..<extraIDs {
                add(AddedToken(id: pieceCount - 1 + extraIDs - i, content: Array("<extra_id_\(i)>".utf8),
                               leftStrip: true, rightStrip: true, singleWord: false, special: true))
            }
        }
        for (id, spec) in config.addedTokensDecoder.sorted(by: { $0.key < $1.key }) {
            add(AddedToken(id: id, content: Array(spec.content.utf8), leftStrip: spec.leftStrip, rightStrip: spec.rightStrip,
                           singleWord: spec.singleWord, special: spec.special))
        }

        // Every special token becomes an added token, with its vocabulary id or a new one.
        var specialList: [String] = []
        for role in TokenizerConfig.Role.allCases {
            if let spec = roles[role], !specialList.contains(where: { $0.utf8.elementsEqual(spec.content.utf8) }) {
                specialList.append(spec.content)
            }
        }
        for spec in additional where !specialList.contains(where: { $0.utf8.elementsEqual(spec.content.utf8) }) {
            specialList.append(spec.content)
        }
        var nextID = baseVocabularySize + tokens.filter { $0.id >= baseVocabularySize }.count
        for content in specialList {
            let bytes = Array(content.utf8)
            guard !bytes.isEmpty, byContent[bytes] == nil else { continue }
            let id: Int
            if let vocabularyID = sentencePiece.tokenToID(content) {
                id = vocabularyID
            } else {
                id = nextID
                nextID += 1
            }
            add(AddedToken(id: id, content: bytes, leftStrip: false, rightStrip: false, singleWord: false, special: true))
        }
        baseVocabularySize = max(baseVocabularySize, (tokens.map(\.id).max() ?? -1) + 1)

        addedTokens = tokens
        addedByContent = byContent
        addedByID = byID
        var unique: [[UInt8]] = []
        var values: [Int32] = []
        var seen = BytesMap(capacity: tokens.count)
        for token in tokens where seen.set(token.content, 0) == nil {
            unique.append(token.content)
            values.append(Int32(token.id))
        }
        matcher = unique.isEmpty ? nil : DoubleArrayTrie(keys: unique, values: values)

        var special = BytesMap(capacity: 64)
        var specialIDs = Set<Int>()
        for content in specialList {
            let bytes = Array(content.utf8)
            special.set(bytes, 1)
            if let id = byContent[bytes] { specialIDs.insert(Int(id)) }
        }
        specialContents = special
        // `legacy_added_tokens`: added tokens that are not special, plus additional special tokens
        // outside the vocabulary; decoding keeps them apart from the SentencePiece text.
        var legacy = BytesMap(capacity: 16)
        for token in tokens where special[token.content] == nil { legacy.set(token.content, 1) }
        for spec in additional {
            let bytes = Array(spec.content.utf8)
            if let id = byContent[bytes], Int(id) >= pieceCount + extraIDs { legacy.set(bytes, 1) }
        }
        legacyAddedContents = legacy
        var spelled = Set<Int>()
        for token in tokens {
            if let id = sentencePiece.tokenToID(UTF8Bytes.string(token.content)), id != token.id { spelled.insert(id) }
        }
        idsSpelledLikeAddedTokens = spelled
        cleanUpTokenizationSpaces = config.cleanUpTokenizationSpaces ?? false
        vocabularySize = baseVocabularySize
        func id(_ role: TokenizerConfig.Role) -> Int? { roles[role].flatMap { byContent[Array($0.content.utf8)].map(Int.init) } }
        specialTokens = SpecialTokens(bos: id(.bos), eos: id(.eos), pad: id(.pad), unk: id(.unk), all: specialIDs)
    }

    public func tokenToID(_ token: String) -> Int? {
        let bytes = Array(token.utf8)
        if let id = addedByContent[bytes] { return Int(id) }
        return sentencePiece.tokenToID(token)
    }

    public func idToToken(_ id: Int) -> String? {
        if let index = addedByID[id] { return UTF8Bytes.string(addedTokens[index].content) }
        if id >= 0 && id < sentencePiece.vocabularySize { return sentencePiece.idToToken(id) }
        let t5VocabularySize = sentencePiece.vocabularySize + extraIDs
        if id >= sentencePiece.vocabularySize && id < t5VocabularySize { return "<extra_id_\(t5VocabularySize - 1 - id)>" }
        return nil
    }

    // MARK: Encoding

    private enum Chunk {
        case text([UInt8])
        case token(Int, [UInt8])
    }

    /// `PreTrainedTokenizer.tokenize` before `_tokenize`: split on added tokens, then strip.
    private func chunks(_ text: [UInt8]) -> [Chunk] {
        guard let matcher else { return [.text(text)] }
        var pieces: [Chunk] = []
        text.withUnsafeBufferPointer { buffer in
            var offset = 0
            var i = 0
            while i < buffer.count {
                if let (length, id) = matcher.longestPrefix(of: buffer, from: i) {
                    if offset < i { pieces.append(.text(Array(buffer[offset..<i]))) }
                    pieces.append(.token(Int(id), Array(buffer[i..<(i + length)])))
                    i += length
                    offset = i
                } else {
                    i += 1
                }
            }
            if offset < buffer.count { pieces.append(.text(Array(buffer[offset...]))) }
        }
        // lstrip/rstrip/single_word of the tokens act on their neighbours.
        for index in pieces.indices {
            guard case let .token(id, content) = pieces[index], let position = addedByID[id] else { continue }
            let token = addedTokens[position]
            if token.rightStrip, index + 1 < pieces.count, case let .text(right) = pieces[index + 1] {
                pieces[index + 1] = .text(Self.pythonStrip(right, leading: true, trailing: false))
            }
            if token.leftStrip, index > 0, case let .text(left) = pieces[index - 1] {
                pieces[index - 1] = .text(Self.pythonStrip(left, leading: false, trailing: true))
            }
            if token.singleWord, index > 0, case let .text(left) = pieces[index - 1], let last = left.last, last != 0x20 {
                pieces[index - 1] = .text(left + content)
                pieces[index] = .text([])
            } else if token.singleWord, index + 1 < pieces.count, case let .text(right) = pieces[index + 1], let first = right.first, first != 0x20 {
                pieces[index] = .text(content + right)
                pieces[index + 1] = .text([])
            }
        }
        return pieces
    }

    private static func pythonStrip(_ bytes: [UInt8], leading: Bool, trailing: Bool) -> [UInt8] {
        var scalars = UTF8Bytes.scalars(bytes)
        if trailing { while let last = scalars.last, UnicodeProperties.isPythonSpace(last) { scalars.removeLast() } }
        if leading {
            var start = 0
            while start < scalars.count && UnicodeProperties.isPythonSpace(scalars[start]) { start += 1 }
            scalars.removeFirst(start)
        }
        return UTF8Bytes.bytes(of: scalars)
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        encode(text, addSpecialTokens: addSpecialTokens, collectPieces: false).ids
    }

    public func encodeWithPieces(_ text: String, addSpecialTokens: Bool) -> TokenizedText {
        encode(text, addSpecialTokens: addSpecialTokens, collectPieces: true)
    }

    private func encode(_ text: String, addSpecialTokens: Bool, collectPieces: Bool) -> TokenizedText {
        var result = TokenizedText()
        for chunk in chunks(Array(text.utf8)) {
            switch chunk {
            case let .token(id, content):
                result.ids.append(id)
                if collectPieces { result.pieces.append(UTF8Bytes.string(content)) }
            case let .text(bytes):
                guard !bytes.isEmpty else { continue }
                // `convert_tokens_to_ids` on the pieces: a piece spelled like an added token takes
                // its id. Pieces are only needed when an id could be affected.
                var ids: [Int] = []
                var pieces: [String] = []
                bytes.withUnsafeBufferPointer { sentencePiece.encode($0, ids: &ids, pieces: &pieces, collectPieces: collectPieces) }
                let unknownID = sentencePiece.unknownID
                if !collectPieces && ids.contains(where: { $0 == unknownID || idsSpelledLikeAddedTokens.contains($0) }) {
                    ids.removeAll()
                    bytes.withUnsafeBufferPointer { sentencePiece.encode($0, ids: &ids, pieces: &pieces, collectPieces: true) }
                }
                for (index, id) in ids.enumerated() {
                    if index < pieces.count, id == unknownID || idsSpelledLikeAddedTokens.contains(id),
                       let added = addedByContent[Array(pieces[index].utf8)] {
                        result.ids.append(Int(added))
                    } else {
                        result.ids.append(id)
                    }
                    if collectPieces, index < pieces.count { result.pieces.append(pieces[index]) }
                }
            }
        }
        if addSpecialTokens, let eos = specialTokens.eos, result.ids.last != eos {
            result.ids.append(eos)
            if collectPieces { result.pieces.append(idToToken(eos) ?? "") }
        }
        return result
    }

    // MARK: Decoding

    /// When a special token is decoded literally, `convert_tokens_to_string` puts a space before the
    /// pieces that precede it, so the pieces after a special token are not final until the next one.
    public func pendingTokenCount(in ids: ArraySlice<Int>, skipSpecialTokens: Bool) -> Int {
        guard !skipSpecialTokens else { return 0 }
        var count = 0
        for id in ids.reversed() {
            if specialTokens.all.contains(id) { return count }
            count += 1
        }
        return 0
    }

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var subTexts: [String] = []
        var current: [[UInt8]] = []
        for id in ids where id >= 0 && id < vocabularySize {
            if skipSpecialTokens && specialTokens.all.contains(id) { continue }
            guard let token = idToToken(id) else { continue }
            let bytes = Array(token.utf8)
            if legacyAddedContents[bytes] != nil {
                if !current.isEmpty {
                    let string = convertTokensToString(current)
                    if !string.isEmpty { subTexts.append(string) }
                    current = []
                }
                subTexts.append(token)
            } else {
                current.append(bytes)
            }
        }
        if !current.isEmpty { subTexts.append(convertTokensToString(current)) }
        let text = subTexts.joined(separator: " ")
        return cleanUpTokenizationSpaces ? TextCleanup.cleanUpTokenization(text) : text
    }

    /// T5Tokenizer.convert_tokens_to_string.
    private func convertTokensToString(_ input: [[UInt8]]) -> String {
        var tokens = input
        if let first = tokens.first, first.starts(with: SentencePieceNormalizer.spaceSymbol) {
            tokens[0] = Array(first.dropFirst(3))  // add_prefix_space (default True) drops the first "▁"
        }
        var out: [UInt8] = []
        var current: [[UInt8]] = []
        var previousWasSpecial = false
        for token in tokens {
            if specialContents[token] != nil {
                if !previousWasSpecial { out.append(0x20) }
                out += sentencePiece.decode(pieces: current)
                out += token
                previousWasSpecial = true
                current = []
            } else {
                current.append(token)
                previousWasSpecial = false
            }
        }
        out += sentencePiece.decode(pieces: current)
        return TextCleanup.pythonStrip(UTF8Bytes.string(out))
    }
}
