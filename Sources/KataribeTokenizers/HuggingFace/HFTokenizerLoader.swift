import Foundation

/// Builds an `HFTokenizer` from `tokenizer.json`, component by component, with the defaults and
/// validation of the Rust deserializers. Unknown component types are errors, never ignored.
struct HFTokenizerLoader {
    let path: String
    private var json: JSONReader { JSONReader(path: path) }

    init(path: String) { self.path = path }

    private func unsupported(_ component: String, _ type: String) -> TokenizerError {
        .unsupportedComponent(path: path, component: component, type: type)
    }

    /// - Parameter rewrite: edits the parsed document before anything is built from it (how a
    ///   transformers tokenizer class that builds its own pipeline replaces the file's; see
    ///   `TransformersTokenizerClass`).
    func load(_ bytes: [UInt8], rewrite: ((inout JSONObject) -> Void)? = nil) throws(TokenizerError) -> HFTokenizer {
        var root = try json.object(try json.parse(bytes), "tokenizer.json")
        rewrite?(&root)
        if let version = root["version"] {
            let text = try json.string(version, "version")
            guard text == "1.0" else { throw json.invalid("unknown tokenizer version \(text.debugDescription)") }
        }
        let normalizer = try optional(root["normalizer"]) { value throws(TokenizerError) in try makeNormalizer(value) }
        let preTokenizer = try optional(root["pre_tokenizer"]) { value throws(TokenizerError) in try makePreTokenizer(value) }
        guard let modelValue = root["model"] else { throw json.invalid("missing \"model\"") }
        let model = try makeModel(modelValue)
        let decoder = try optional(root["decoder"]) { value throws(TokenizerError) in try makeDecoder(value) }

        // Added tokens get their ids as `AddedVocabulary::add_tokens` assigns them: the existing id
        // of the content, else the next id after the model vocabulary.
        var added = AddedVocabulary()
        var nextID = model.vocabularyCount
        var maxAddedID: Int?
        var specialIDs = Set<Int>()
        if let value = root["added_tokens"], !isNull(value) {
            for (index, item) in try json.array(value, "added_tokens").enumerated() {
                let context = "added_tokens[\(index)]"
                let object = try json.object(item, context)
                let content = Array(try json.string(object["content"], "\(context).content").utf8)
                guard !content.isEmpty else { continue }
                let special = try json.bool(object["special"], "\(context).special", default: false)
                let normalized = try json.bool(object["normalized"], "\(context).normalized", default: !special)
                let id: Int
                if let existing = added.id(forContent: content) ?? model.tokenToID(content) {
                    id = existing
                } else {
                    if let maxAddedID {
                        nextID = maxAddedID >= model.vocabularyCount || model.vocabularyCount == 0 ? maxAddedID + 1 : model.vocabularyCount
                    }
                    id = nextID
                    nextID += 1
                }
                var normalizedContent = content
                if normalized, let normalizer {
                    var text = NormalizedText(bytes: content, atOriginalStart: true)
                    normalizer.normalize(&text)
                    normalizedContent = text.bytes
                }
                added.insertWithoutMatching(AddedVocabulary.Token(
                    id: id, content: content,
                    singleWord: try json.bool(object["single_word"], "\(context).single_word", default: false),
                    leftStrip: try json.bool(object["lstrip"], "\(context).lstrip", default: false),
                    rightStrip: try json.bool(object["rstrip"], "\(context).rstrip", default: false),
                    normalized: normalized, special: special, normalizedContent: normalizedContent))
                maxAddedID = max(maxAddedID ?? id, id)
                if special { specialIDs.insert(id) }
            }
            added.rebuildMatchers()
        }
        let postProcessor = try optional(root["post_processor"]) { value throws(TokenizerError) in
            try makePostProcessor(value, model: model, added: added)
        }
        return HFTokenizer(addedVocabulary: added, normalizer: normalizer, preTokenizer: preTokenizer, model: model,
                           postProcessor: postProcessor, decoder: decoder, specialTokens: SpecialTokens(all: specialIDs))
    }

    private func isNull(_ value: JSONValue) -> Bool {
        if case .null = value { return true }
        return false
    }

    private func optional<T>(_ value: JSONValue?, _ make: (JSONValue) throws(TokenizerError) -> T) throws(TokenizerError) -> T? {
        guard let value, !isNull(value) else { return nil }
        return try make(value)
    }

    private func type(of object: JSONObject, _ context: String) throws(TokenizerError) -> String {
        try json.string(object["type"], "\(context).type")
    }

    private func pattern(_ value: JSONValue?, _ context: String) throws(TokenizerError) -> SplitPattern {
        let object = try json.object(value, "\(context).pattern")
        if let literal = object["String"] { return .literal(Array(try json.string(literal, "\(context).pattern.String").utf8)) }
        if let regex = object["Regex"] { return .regex(try OnigRegex(try json.string(regex, "\(context).pattern.Regex"))) }
        throw json.invalid("\(context).pattern: expected {\"String\": ...} or {\"Regex\": ...}")
    }

    // MARK: Normalizers

    private func makeNormalizer(_ value: JSONValue) throws(TokenizerError) -> any HFNormalizer {
        let object = try json.object(value, "normalizer")
        let type = try type(of: object, "normalizer")
        switch type {
        case "NFC": return UnicodeFormNormalizer(form: .nfc)
        case "NFD": return UnicodeFormNormalizer(form: .nfd)
        case "NFKC": return UnicodeFormNormalizer(form: .nfkc)
        case "NFKD": return UnicodeFormNormalizer(form: .nfkd)
        case "Lowercase": return LowercaseNormalizer()
        case "StripAccents": return StripAccentsNormalizer()
        case "ByteLevel": return ByteLevelNormalizer()
        case "Replace":
            return ReplaceNormalizer(pattern: try pattern(object["pattern"], "Replace"),
                                     content: Array(try json.string(object["content"], "Replace.content").utf8))
        case "Prepend":
            return PrependNormalizer(prefix: Array(try json.string(object["prepend"], "Prepend.prepend").utf8))
        case "Strip":
            return StripNormalizer(left: try json.bool(object["strip_left"], "Strip.strip_left", default: true),
                                   right: try json.bool(object["strip_right"], "Strip.strip_right", default: true))
        case "Precompiled":
            let encoded = try json.string(object["precompiled_charsmap"], "Precompiled.precompiled_charsmap")
            guard let data = Data(base64Encoded: encoded) else { throw json.invalid("Precompiled.precompiled_charsmap: invalid base64") }
            let blob = [UInt8](data)
            do {
                let charsMap = try PrecompiledCharsMap(blob)
                guard UTF8Bytes.isValid(charsMap.replacements) else { throw json.invalid("Precompiled: replacement strings are not valid UTF-8") }
                return PrecompiledNormalizer(charsMap: charsMap)
            } catch {
                throw json.invalid("Precompiled: cannot parse precompiled_charsmap")
            }
        case "Sequence":
            var normalizers: [any HFNormalizer] = []
            for item in try json.array(object["normalizers"], "Sequence.normalizers") { normalizers.append(try makeNormalizer(item)) }
            return NormalizerSequence(normalizers: normalizers)
        default:
            throw unsupported("normalizer", type)
        }
    }

    // MARK: Pre-tokenizers

    private func behavior(_ value: JSONValue?, _ context: String, default defaultValue: SplitBehavior? = nil) throws(TokenizerError) -> SplitBehavior {
        if value == nil, let defaultValue { return defaultValue }
        let text = try json.string(value, "\(context).behavior")
        guard let behavior = SplitBehavior(rawValue: text) else { throw json.invalid("\(context).behavior: unknown value \(text.debugDescription)") }
        return behavior
    }

    private func prependScheme(_ object: JSONObject, _ context: String) throws(TokenizerError) -> MetaspacePreTokenizer.PrependScheme {
        var scheme = MetaspacePreTokenizer.PrependScheme.always
        if let value = object["prepend_scheme"], !isNull(value) {
            switch try json.string(value, "\(context).prepend_scheme") {
            case "always": scheme = .always
            case "never": scheme = .never
            case "first": scheme = .first
            case let other: throw json.invalid("\(context).prepend_scheme: unknown value \(other.debugDescription)")
            }
        }
        if case .bool(false)? = object["add_prefix_space"], scheme != .never {
            throw json.invalid("\(context): add_prefix_space does not match declared prepend_scheme")
        }
        return scheme
    }

    private func makePreTokenizer(_ value: JSONValue) throws(TokenizerError) -> any HFPreTokenizer {
        let object = try json.object(value, "pre_tokenizer")
        let type = try type(of: object, "pre_tokenizer")
        switch type {
        case "ByteLevel":
            return ByteLevelPreTokenizer(addPrefixSpace: try json.bool(object["add_prefix_space"], "ByteLevel.add_prefix_space", default: true),
                                         useRegex: try json.bool(object["use_regex"], "ByteLevel.use_regex", default: true))
        case "Metaspace":
            return MetaspacePreTokenizer(replacement: try json.character(object["replacement"], "Metaspace.replacement"),
                                         prependScheme: try prependScheme(object, "Metaspace"),
                                         split: try json.bool(object["split"], "Metaspace.split", default: true))
        case "Split":
            return SplitPreTokenizer(pattern: try pattern(object["pattern"], "Split"),
                                     behavior: try behavior(object["behavior"], "Split"),
                                     invert: try json.bool(object["invert"], "Split.invert", default: false))
        case "Digits":
            let individual = try json.bool(object["individual_digits"], "Digits.individual_digits", default: false)
            return PredicateSplitPreTokenizer(behavior: individual ? .isolated : .contiguous, predicate: UnicodeProperties.isNumber)
        case "Whitespace":
            return WhitespacePreTokenizer()
        case "WhitespaceSplit":
            return PredicateSplitPreTokenizer(behavior: .removed, predicate: UnicodeProperties.isWhitespace)
        case "Punctuation":
            return PredicateSplitPreTokenizer(behavior: try behavior(object["behavior"], "Punctuation", default: .isolated),
                                              predicate: { scalar in
                                                  (scalar < 0x80 && isASCIIPunctuation(scalar)) || UnicodeProperties.isPunctuation(scalar)
                                              })
        case "CharDelimiterSplit":
            let delimiter = try json.character(object["delimiter"], "CharDelimiterSplit.delimiter")
            return PredicateSplitPreTokenizer(behavior: .removed, predicate: { $0 == delimiter })
        case "BertPreTokenizer":
            return PreTokenizerSequence(preTokenizers: [
                PredicateSplitPreTokenizer(behavior: .removed, predicate: UnicodeProperties.isWhitespace),
                PredicateSplitPreTokenizer(behavior: .isolated, predicate: { scalar in
                    (scalar < 0x80 && isASCIIPunctuation(scalar)) || UnicodeProperties.isPunctuation(scalar)
                }),
            ])
        case "Sequence":
            var items: [any HFPreTokenizer] = []
            for item in try json.array(object["pretokenizers"], "Sequence.pretokenizers") { items.append(try makePreTokenizer(item)) }
            return PreTokenizerSequence(preTokenizers: items)
        default:
            throw unsupported("pre-tokenizer", type)
        }
    }

    // MARK: Models

    private func makeModel(_ value: JSONValue) throws(TokenizerError) -> any HFModel {
        let object = try json.object(value, "model")
        var type = try json.optionalString(object["type"], "model.type")
        if type == nil {
            // Files written before the "type" tag: infer it as the untagged deserializer does.
            if object["merges"] != nil { type = "BPE" } else if case .array? = object["vocab"] { type = "Unigram" } else { type = "WordLevel" }
        }
        switch type ?? "" {
        case "BPE": return try makeBPE(object)
        case "Unigram": return try makeUnigram(object)
        case "WordLevel": return try makeWordLevel(object)
        case let other: throw unsupported("model", other)
        }
    }

    /// A `{token: id}` vocabulary.
    private func vocabulary(_ value: JSONValue?, _ context: String) throws(TokenizerError) -> (BytesMap, [[UInt8]?]) {
        let object = try json.object(value, context)
        var map = BytesMap(capacity: object.members.count)
        var maxID = -1
        var entries: [([UInt8], Int)] = []
        entries.reserveCapacity(object.members.count)
        for member in object.members {
            let id = try json.integer(member.value, "\(context)[\(member.key.debugDescription)]")
            let token = Array(member.key.utf8)
            map.set(token, Int32(truncatingIfNeeded: id))
            entries.append((token, id))
            maxID = max(maxID, id)
        }
        guard maxID < max(4 * object.members.count, 1 << 20) else {
            throw json.invalid("\(context): ids are too sparse (largest \(maxID) for \(object.members.count) entries)")
        }
        var tokens = [[UInt8]?](repeating: nil, count: maxID + 1)
        for (token, id) in entries { tokens[id] = token }
        return (map, tokens)
    }

    private func makeBPE(_ object: JSONObject) throws(TokenizerError) -> BPEModel {
        let (vocabulary, tokens) = try self.vocabulary(object["vocab"], "model.vocab")
        let mergeValues = try json.array(object["merges"], "model.merges")
        var merges = IntegerMap(capacity: mergeValues.count)
        // An empty prefix or suffix (Qwen's files write "") changes nothing; as none it keeps the fast
        // byte-level path.
        let prefix = try json.optionalString(object["continuing_subword_prefix"], "model.continuing_subword_prefix")
            .flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        var rank = 0
        for (index, item) in mergeValues.enumerated() {
            let left: String, right: String
            switch item {
            case let .string(line):
                if line.hasPrefix("#version") { continue }
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw json.invalid("model.merges[\(index)]: expected two tokens separated by one space") }
                left = String(parts[0])
                right = String(parts[1])
            case let .array(pair):
                guard pair.count == 2 else { throw json.invalid("model.merges[\(index)]: expected a pair") }
                left = try json.string(pair[0], "model.merges[\(index)][0]")
                right = try json.string(pair[1], "model.merges[\(index)][1]")
            default:
                throw json.invalid("model.merges[\(index)]: expected a string or a pair")
            }
            let leftBytes = Array(left.utf8), rightBytes = Array(right.utf8)
            guard let leftID = vocabulary[leftBytes], let rightID = vocabulary[rightBytes] else {
                throw json.invalid("model.merges[\(index)]: token not in the vocabulary")
            }
            var merged = leftBytes
            if let prefix, rightBytes.starts(with: prefix) { merged += rightBytes.dropFirst(prefix.count) } else { merged += rightBytes }
            guard let newID = vocabulary[merged] else { throw json.invalid("model.merges[\(index)]: merged token not in the vocabulary") }
            // Later duplicates of a pair overwrite earlier ones, as when the Rust map is collected.
            merges.set(UInt64(UInt32(bitPattern: leftID)) << 32 | UInt64(UInt32(bitPattern: rightID)),
                       UInt64(rank) << 32 | UInt64(UInt32(bitPattern: newID)))
            rank += 1
        }
        let byteLevelIDs = ByteLevelAlphabet.tokenIDs(in: vocabulary)
        return BPEModel(
            vocabulary: vocabulary, tokens: tokens, tokenStrings: tokens.map { $0.map { UTF8Bytes.string($0) } },
            merges: merges,
            unknownToken: try json.optionalString(object["unk_token"], "model.unk_token").map { Array($0.utf8) },
            continuingSubwordPrefix: prefix,
            endOfWordSuffix: try json.optionalString(object["end_of_word_suffix"], "model.end_of_word_suffix")
                .flatMap { $0.isEmpty ? nil : Array($0.utf8) },
            fuseUnknown: try json.bool(object["fuse_unk"], "model.fuse_unk", default: false),
            byteFallback: try json.bool(object["byte_fallback"], "model.byte_fallback", default: false),
            ignoreMerges: try json.bool(object["ignore_merges"], "model.ignore_merges", default: false),
            byteLevelIDs: byteLevelIDs,
            byteFallbackIDs: (0..<256).map { vocabulary[byteFallbackPiece(UInt8($0))] ?? -1 })
    }

    private func makeUnigram(_ object: JSONObject) throws(TokenizerError) -> UnigramModel {
        var entries: [(token: [UInt8], score: Double)] = []
        for (index, item) in try json.array(object["vocab"], "model.vocab").enumerated() {
            let pair = try json.array(item, "model.vocab[\(index)]")
            guard pair.count == 2 else { throw json.invalid("model.vocab[\(index)]: expected [token, score]") }
            entries.append((Array(try json.string(pair[0], "model.vocab[\(index)][0]").utf8), try json.double(pair[1], "model.vocab[\(index)][1]")))
        }
        let unknownID = try json.optionalInteger(object["unk_id"], "model.unk_id")
        if let unknownID {
            guard !entries.isEmpty else { throw json.invalid("model: the vocabulary is empty but at least <unk> is needed") }
            guard unknownID < entries.count else { throw json.invalid("model.unk_id: larger than the vocabulary") }
        }
        return UnigramModel(entries: entries, unknownID: unknownID,
                            byteFallback: try json.bool(object["byte_fallback"], "model.byte_fallback", default: false))
    }

    private func makeWordLevel(_ object: JSONObject) throws(TokenizerError) -> WordLevelModel {
        let (vocabulary, tokens) = try self.vocabulary(object["vocab"], "model.vocab")
        let unknown = try json.optionalString(object["unk_token"], "model.unk_token") ?? "<unk>"
        return WordLevelModel(vocabulary: vocabulary, tokens: tokens, unknownToken: Array(unknown.utf8))
    }

    // MARK: Post-processors

    private func makePostProcessor(_ value: JSONValue, model: any HFModel, added: AddedVocabulary) throws(TokenizerError) -> any HFPostProcessor {
        let object = try json.object(value, "post_processor")
        let type = try type(of: object, "post_processor")
        switch type {
        case "ByteLevel":
            return PassThroughPostProcessor()
        case "TemplateProcessing":
            let specials = try json.object(object["special_tokens"], "TemplateProcessing.special_tokens")
            var pieces: [TemplatePostProcessor.Piece] = []
            for (index, item) in try json.array(object["single"], "TemplateProcessing.single").enumerated() {
                let piece = try json.object(item, "TemplateProcessing.single[\(index)]")
                if piece["Sequence"] != nil {
                    pieces.append(.sequence)
                } else if let special = piece["SpecialToken"] {
                    let name = try json.string(try json.object(special, "SpecialToken")["id"], "SpecialToken.id")
                    guard let entry = specials[name] else { throw json.invalid("TemplateProcessing: missing special token \(name.debugDescription)") }
                    let entryObject = try json.object(entry, "special_tokens[\(name.debugDescription)]")
                    var ids: [Int] = []
                    for id in try json.array(entryObject["ids"], "special_tokens.ids") { ids.append(try json.integer(id, "special_tokens.ids")) }
                    var tokens: [String] = []
                    for token in try json.array(entryObject["tokens"], "special_tokens.tokens") { tokens.append(try json.string(token, "special_tokens.tokens")) }
                    guard ids.count == tokens.count else { throw json.invalid("TemplateProcessing: ids and tokens of \(name.debugDescription) differ in length") }
                    pieces.append(.special(ids: ids, tokens: tokens))
                } else {
                    throw json.invalid("TemplateProcessing.single[\(index)]: expected Sequence or SpecialToken")
                }
            }
            return TemplatePostProcessor(single: pieces)
        case "BertProcessing", "RobertaProcessing":
            func pair(_ key: String) throws(TokenizerError) -> (id: Int, token: String) {
                let items = try json.array(object[key], "\(type).\(key)")
                guard items.count == 2 else { throw json.invalid("\(type).\(key): expected [token, id]") }
                return (try json.integer(items[1], "\(type).\(key)[1]"), try json.string(items[0], "\(type).\(key)[0]"))
            }
            return ClassifierPostProcessor(cls: try pair("cls"), sep: try pair("sep"))
        case "Sequence":
            var items: [any HFPostProcessor] = []
            for item in try json.array(object["processors"], "Sequence.processors") {
                items.append(try makePostProcessor(item, model: model, added: added))
            }
            return PostProcessorSequence(processors: items)
        default:
            throw unsupported("post-processor", type)
        }
    }

    // MARK: Decoders

    private func makeDecoder(_ value: JSONValue) throws(TokenizerError) -> any HFDecoder {
        let object = try json.object(value, "decoder")
        let type = try type(of: object, "decoder")
        switch type {
        case "ByteLevel": return ByteLevelDecoder()
        case "ByteFallback": return ByteFallbackDecoder()
        case "Fuse": return FuseDecoder()
        case "Metaspace":
            return MetaspaceDecoder(replacement: try json.character(object["replacement"], "Metaspace.replacement"),
                                    prependScheme: try prependScheme(object, "Metaspace"))
        case "Strip":
            return StripDecoder(content: try json.character(object["content"], "Strip.content"),
                                start: try json.integer(object["start"], "Strip.start"),
                                stop: try json.integer(object["stop"], "Strip.stop"))
        case "Replace":
            return ReplaceDecoder(pattern: try pattern(object["pattern"], "Replace"),
                                  content: Array(try json.string(object["content"], "Replace.content").utf8))
        case "BPEDecoder":
            return BPESuffixDecoder(suffix: Array((try json.optionalString(object["suffix"], "BPEDecoder.suffix") ?? "</w>").utf8))
        case "Sequence":
            var items: [any HFDecoder] = []
            for item in try json.array(object["decoders"], "Sequence.decoders") { items.append(try makeDecoder(item)) }
            return DecoderSequence(decoders: items)
        default:
            throw unsupported("decoder", type)
        }
    }
}

/// Rust's `char::is_ascii_punctuation`.
func isASCIIPunctuation(_ scalar: UInt32) -> Bool {
    (0x21...0x2F).contains(scalar) || (0x3A...0x40).contains(scalar) || (0x5B...0x60).contains(scalar) || (0x7B...0x7E).contains(scalar)
}
