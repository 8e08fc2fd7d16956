/// Builds the tokenizer a GGUF file describes, with the ids transformers gives it.
///
/// transformers (5.x, `AutoTokenizer.from_pretrained(folder, gguf_file=name)`;
/// integrations/gguf/gguf_tokenizer_mapping.py) converts the metadata into a `tokenizers` pipeline in
/// four steps, each mirrored here:
///
/// 1. A builder picked by `tokenizer.ggml.model` (and, for SentencePiece files, the architecture)
///    hands the vocabulary and merges to a tokenizer class, whose `__init__` fixes normalizer,
///    pre-tokenizer, model options and decoder: `GPT2Tokenizer` for `gpt2`, `LlamaTokenizer` for
///    `llama`, `GemmaTokenizer` for Gemma 1-3 (with space runs respelled "▁▁" and merges in file
///    order) and `gemma4`, `LlamaTokenizer` plus a prefix normalizer for Phi-3. That class also adds
///    its default special tokens (`<|endoftext|>`, `<s>`/`</s>`/`<unk>`, `<bos>`/`<eos>`/`<pad>`/
///    `<unk>`/`<mask>`) when they are missing from the added tokens, with new ids if the vocabulary
///    lacks them too.
/// 2. Control tokens become special added tokens (byte-level files skip those written outside the
///    byte alphabet), user-defined ones plain added tokens.
/// 3. A `tokenizer.ggml.pre` listed in transformers' table replaces the pre-tokenizer with that
///    regex and a regex-free `ByteLevel`; any other name (`smollm`, `default`, `gpt-2`...) keeps the
///    class's pre-tokenizer. transformers never refuses a name, so neither does this.
/// 4. The model's tokenizer class (chosen by architecture: `GemmaTokenizer`, `Qwen2Tokenizer`, or
///    the plain backend) adds the file's bos/eos/unk/pad tokens as special tokens when missing, and
///    `add_bos_token`/`add_eos_token` become the template (`llama`-type files without the flag add
///    BOS; `gemma4` never does).
///
/// The result is an `HFTokenizer`, the type that runs every `tokenizer.json`: normalizer,
/// pre-tokenizer and decoder are built by the shared `tokenizer.json` loader from the document the
/// class would save; the BPE model and the added tokens are built here directly from ids, with the
/// same rules as that loader (JSON strings for a quarter-million tokens and half a million merges
/// would cost more than the rest of the conversion).
public enum GGUFTokenizerBuilder {
    /// The tokenizer for `metadata`. `source` names the file in errors.
    public static func make(from metadata: GGUFTokenizerMetadata, source: String) throws(TokenizerError) -> any Tokenizer {
        try makeHFTokenizer(from: metadata, source: source)
    }

    /// transformers' `GGUF_PRE_TOKENIZER_SPLITS`: the `tokenizer.ggml.pre` names it gives a regex.
    static let preTokenizerSplits: [String: String] = {
        let llama3 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        let tekken = #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        let gpt4o = #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        let qwen2 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        let qwen35 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        var table: [String: String] = [:]
        for name in ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
                     "jina-v5-nano", "dbrx", "smaug-bpe"] { table[name] = llama3 }
        table["tekken"] = tekken
        for name in ["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez"] { table[name] = qwen2 }
        table["qwen35"] = qwen35
        for name in ["gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"] { table[name] = gpt4o }
        return table
    }()

    /// The class `convert_gguf_tokenizer`'s builder instantiates (its `__init__` fixes the pipeline).
    enum BuilderClass: Equatable {
        /// `byte_level_tokenizer`: `GPT2Tokenizer`.
        case gpt2
        /// `sentencepiece_tokenizer`: `LlamaTokenizer`.
        case llama
        /// `phi3_tokenizer`: `LlamaTokenizer` with the prefix from a normalizer.
        case phi3
        /// `gemma_tokenizer` (Gemma 1-3): `GemmaTokenizer`, space runs respelled, merges in file order.
        case gemma
        /// `gemma4`: `GemmaTokenizer` on the vocabulary as it is.
        case gemma4
    }

    static func builderClass(for metadata: GGUFTokenizerMetadata, source: String) throws(TokenizerError) -> BuilderClass {
        switch metadata.model {
        case "gpt2": return .gpt2
        case "gemma4": return .gemma4
        case "llama":
            switch metadata.architecture {
            case "gemma", "gemma2", "gemma3": return .gemma
            case "phi3": return .phi3
            default: return .llama
            }
        default:
            // `t5` (Unigram) is the one other model transformers converts; Kataribe has no
            // encoder-decoder models to run it with.
            throw TokenizerError.unsupportedComponent(path: source, component: "GGUF tokenizer model (tokenizer.ggml.model)",
                                                      type: metadata.model)
        }
    }

    /// The outer class `AutoTokenizer` picks from the architecture's model type; it matters only where
    /// its `__init__` adds tokens of its own.
    enum OuterClass {
        case backend
        /// `GemmaTokenizer`: adds `<mask>` (its default) when missing.
        case gemma
        /// `Qwen2Tokenizer`: re-adds every named special token as special.
        case qwen2
    }

    static func outerClass(architecture: String) -> OuterClass {
        switch architecture {
        case "gemma", "gemma2", "gemma3": return .gemma
        case "qwen2", "qwen2moe", "qwen3", "qwen3moe": return .qwen2
        default: return .backend
        }
    }

    // MARK: Building

    static func makeHFTokenizer(from metadata: GGUFTokenizerMetadata, source: String) throws(TokenizerError) -> HFTokenizer {
        try validate(metadata, source: source)
        let builder = try builderClass(for: metadata, source: source)
        let (vocabularyTokens, vocabulary) = self.vocabulary(metadata, builder: builder)
        let merges = try mergeIDs(metadata, builder: builder, tokens: vocabularyTokens, vocabulary: vocabulary, source: source)
        let model = try bpeModel(builder, tokens: vocabularyTokens, vocabulary: vocabulary, merges: merges, source: source)

        // Normalizer, pre-tokenizer and decoder come from the shared tokenizer.json loader, given the
        // document the class would save (with an empty model: the real one is built above, directly
        // from ids, because 515k merges as JSON strings cost a second for Gemma).
        var root = JSONObject(members: [])
        setPipeline(&root, builder: builder)
        // transformers maps no `gptneox` files; the model type's own class, GPTNeoXTokenizer (like
        // every GPT-NeoX tokenizer.json: EleutherAI's, open-calm's), puts NFC before the byte-level
        // split, which llama.cpp's `gpt2` vocabulary does not record. With it the ids are the
        // original tokenizer.json's for any text (llama.cpp's differ on text not in NFC).
        if builder == .gpt2, metadata.architecture == "gptneox" {
            root.set("normalizer", .object(["type": .string("NFC")]))
        }
        if let pre = metadata.pre, let pattern = preTokenizerSplits[pre] {
            root.set("pre_tokenizer", .object(["type": .string("Sequence"), "pretokenizers": .array([
                .object(["type": .string("Split"), "pattern": .object(["Regex": .string(pattern)]),
                         "behavior": .string("Isolated"), "invert": .bool(false)]),
                .object(["type": .string("ByteLevel"), "add_prefix_space": .bool(false), "trim_offsets": .bool(true),
                         "use_regex": .bool(false)]),
            ])]))
        }
        root.set("model", .object(["type": .string("BPE"), "vocab": .object(JSONObject(members: [])), "merges": .array([])]))
        let document = root
        let pipeline = try HFTokenizer(jsonBytes: Array("{}".utf8), path: source) { parsed in parsed = document }

        var added = AddedVocabulary()
        var specialIDs = Set<Int>()
        assignIDs(addedTokens(metadata, builder: builder, vocabulary: vocabulary), model: model, into: &added, specialIDs: &specialIDs)

        var tokenizer = HFTokenizer(addedVocabulary: added, normalizer: pipeline.normalizer, preTokenizer: pipeline.preTokenizer,
                                    model: model, postProcessor: nil, decoder: pipeline.decoder,
                                    specialTokens: SpecialTokens(all: specialIDs))
        let names = specialTokenNames(metadata)
        func id(_ name: String?) -> Int? { name.flatMap { tokenizer.tokenToID($0) } }
        tokenizer.specialTokens.bos = id(names.bos)
        tokenizer.specialTokens.eos = id(names.eos)
        tokenizer.specialTokens.unk = id(names.unk)
        tokenizer.specialTokens.pad = id(names.pad)
        tokenizer.postProcessor = template(metadata, builder: builder, names: names, id: id)
        return tokenizer
    }

    /// The vocabulary the builder's class is given, in file order, and `{token: index}` over it.
    /// Byte-level files respell tokens written outside the byte alphabet, Gemma 1-3 respell runs of
    /// spaces. A repeated token keeps its last index, and its earlier indices have no token (as in
    /// `tokenizers`' reverse vocabulary).
    static func vocabulary(_ metadata: GGUFTokenizerMetadata, builder: BuilderClass) -> (tokens: [[UInt8]], map: BytesMap) {
        let tokenBytes = metadata.tokens.map { Array($0.utf8) }
        let tokens: [[UInt8]]
        switch builder {
        case .gpt2: tokens = tokenBytes.map { isInByteAlphabet($0) ? $0 : ByteLevelAlphabet.encode($0) }
        case .gemma: tokens = tokenBytes.map(respelledSpaceRun)
        case .llama, .phi3, .gemma4: tokens = tokenBytes
        }
        var map = BytesMap(capacity: tokens.count)
        for (index, token) in tokens.enumerated() { map.set(token, Int32(index)) }
        return (tokens, map)
    }

    static func validate(_ metadata: GGUFTokenizerMetadata, source: String) throws(TokenizerError) {
        let count = metadata.tokens.count
        guard count > 0 else { throw TokenizerError.invalidModel(path: source, reason: "tokenizer.ggml.tokens is empty") }
        guard count < Int(Int32.max) else { throw TokenizerError.invalidModel(path: source, reason: "too many tokens (\(count))") }
        if let scores = metadata.scores, scores.count != count {
            throw TokenizerError.invalidModel(path: source, reason: "tokenizer.ggml.scores has \(scores.count) entries for \(count) tokens")
        }
        if let types = metadata.tokenTypes, types.count != count {
            throw TokenizerError.invalidModel(path: source, reason: "tokenizer.ggml.token_type has \(types.count) entries for \(count) tokens")
        }
        let ids: [(String, Int?)] = [("bos_token_id", metadata.bosID), ("eos_token_id", metadata.eosID),
                                     ("unknown_token_id", metadata.unknownID), ("padding_token_id", metadata.paddingID)]
        for (name, id) in ids {
            if let id, id < 0 || id >= count {
                throw TokenizerError.invalidModel(path: source, reason: "tokenizer.ggml.\(name) \(id) is outside the \(count) tokens")
            }
        }
    }

    /// `tokenizer.ggml.merges` split as transformers splits them (`merge.split(" ")`), or, without
    /// them (every SentencePiece file seen so far), the merges `generate_merges` derives from the
    /// vocabulary; as ids, best first.
    static func mergeIDs(_ metadata: GGUFTokenizerMetadata, builder: BuilderClass, tokens: [[UInt8]],
                                 vocabulary: BytesMap, source: String) throws(TokenizerError) -> [GGUFDerivedMerges.Merge] {
        if let merges = metadata.merges {
            var pairs: [GGUFDerivedMerges.Merge] = []
            pairs.reserveCapacity(merges.count)
            for (index, merge) in merges.enumerated() {
                let parts = Array(merge.utf8).split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.invalidModel(path: source, reason: "tokenizer.ggml.merges[\(index)] is not two tokens separated by one space: \(merge.debugDescription)")
                }
                guard let left = vocabulary[parts[0]], let right = vocabulary[parts[1]] else {
                    throw TokenizerError.invalidModel(path: source, reason: "tokenizer.ggml.merges[\(index)] \(merge.debugDescription): token not in the vocabulary")
                }
                pairs.append(GGUFDerivedMerges.Merge(left: left, right: right))
            }
            return pairs
        }
        if builder == .gemma {
            // Gemma's scores do not follow its merge order; the file order does (`-index`).
            return GGUFDerivedMerges.derive(tokens: tokens, vocabulary: vocabulary) { -Float($0) }
        }
        guard let scores = metadata.scores else {
            throw TokenizerError.invalidModel(path: source, reason: "neither tokenizer.ggml.merges nor tokenizer.ggml.scores to derive merges from")
        }
        // `dict(zip(tokens, scores))`: a repeated token's last score, the score at the index the
        // vocabulary keeps.
        return GGUFDerivedMerges.derive(tokens: tokens, vocabulary: vocabulary) { scores[$0] }
    }

    /// The `BPE(vocab, merges, ...)` the builder's class constructs, as `tokenizers` builds it:
    /// each merge maps its pair to (rank, merged token id), a later duplicate pair replacing the
    /// earlier, and a merge whose concatenation is not in the vocabulary is an error.
    static func bpeModel(_ builder: BuilderClass, tokens: [[UInt8]], vocabulary: BytesMap,
                                 merges: [GGUFDerivedMerges.Merge], source: String) throws(TokenizerError) -> BPEModel {
        var idTokens = [[UInt8]?](repeating: nil, count: tokens.count)
        for (index, token) in tokens.enumerated() where token.withUnsafeBufferPointer({ vocabulary.get($0) }) == Int32(index) {
            idTokens[index] = token
        }
        var mergeMap = IntegerMap(capacity: merges.count)
        var concatenation: [UInt8] = []
        for (rank, merge) in merges.enumerated() {
            var merged: Int32?
            if let left = idTokens[Int(merge.left)], let right = idTokens[Int(merge.right)] {
                concatenation.removeAll(keepingCapacity: true)
                concatenation.append(contentsOf: left)
                concatenation.append(contentsOf: right)
                merged = concatenation.withUnsafeBufferPointer { vocabulary.get($0) }
            }
            guard let merged else {
                let pair = [merge.left, merge.right].map { idTokens[Int($0)].map { UTF8Bytes.string($0) } ?? "?" }
                throw TokenizerError.invalidModel(path: source, reason: "merge \(rank) (\(pair[0].debugDescription) \(pair[1].debugDescription)): merged token not in the vocabulary")
            }
            mergeMap.set(UInt64(UInt32(bitPattern: merge.left)) << 32 | UInt64(UInt32(bitPattern: merge.right)),
                         UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged)))
        }
        let byteLevelIDs = ByteLevelAlphabet.tokenIDs(in: vocabulary)
        let sentencePiece = builder != .gpt2
        // GemmaTokenizer names "<unk>" as the model's unknown token; LlamaTokenizer and
        // GPT2Tokenizer give none (characters without a byte piece are then dropped).
        let unknownToken: [UInt8]? = builder == .gemma || builder == .gemma4 ? Array("<unk>".utf8) : nil
        return BPEModel(vocabulary: vocabulary, tokens: idTokens, tokenStrings: idTokens.map { $0.map { UTF8Bytes.string($0) } },
                        merges: mergeMap, unknownToken: unknownToken, continuingSubwordPrefix: nil, endOfWordSuffix: nil,
                        fuseUnknown: sentencePiece, byteFallback: sentencePiece, ignoreMerges: false,
                        byteLevelIDs: byteLevelIDs,
                        byteFallbackIDs: (0..<256).map { vocabulary[byteFallbackPiece(UInt8($0))] ?? -1 })
    }

    /// `AddedVocabulary::add_tokens`, entry by entry: a token keeps the id its content already has
    /// (an earlier added token or the model vocabulary), else takes the next id after the vocabulary
    /// and the added tokens; a later entry for the same content replaces the earlier one. The
    /// matchers are built once, at the end.
    static func assignIDs(_ entries: [AddedTokenEntry], model: BPEModel, into added: inout AddedVocabulary,
                                  specialIDs: inout Set<Int>) {
        let count = model.vocabularyCount
        var maxAddedID: Int?
        for entry in entries {
            let content = Array(entry.content.utf8)
            let id: Int
            if let existing = added.id(forContent: content) ?? model.tokenToID(content) {
                id = existing
            } else if let maxAddedID {
                id = maxAddedID >= count ? maxAddedID + 1 : count
            } else {
                id = count
            }
            // Every token added here is `normalized: false`: it matches the raw text and decodes as
            // written.
            added.insertWithoutMatching(AddedVocabulary.Token(id: id, content: content, singleWord: false, leftStrip: false,
                                                              rightStrip: false, normalized: false, special: entry.special,
                                                              normalizedContent: content))
            maxAddedID = max(maxAddedID ?? id, id)
            if entry.special { specialIDs.insert(id) }
        }
        added.rebuildMatchers()
    }

    /// Normalizer, pre-tokenizer and decoder as the builder's class sets them.
    private static func setPipeline(_ root: inout JSONObject, builder: BuilderClass) {
        let spaceToMeta: JSONValue = .object(["type": .string("Replace"), "pattern": .object(["String": .string(" ")]),
                                              "content": .string("▁")])
        let sentencePieceDecoders: [JSONValue] = [
            .object(["type": .string("Replace"), "pattern": .object(["String": .string("▁")]), "content": .string(" ")]),
            .object(["type": .string("ByteFallback")]),
            .object(["type": .string("Fuse")]),
        ]
        // LlamaTokenizer: `add_prefix_space` defaults to true and `legacy` to false, so "▁" goes before
        // the first word only, and the decoder strips one leading space.
        let llamaDecoder: JSONValue = .object(["type": .string("Sequence"), "decoders": .array(sentencePieceDecoders + [
            .object(["type": .string("Strip"), "content": .string(" "), "start": .number(1), "stop": .number(0)]),
        ])])
        switch builder {
        case .gpt2:
            root.set("normalizer", .null)
            root.set("pre_tokenizer", .object(["type": .string("ByteLevel"), "add_prefix_space": .bool(false),
                                               "trim_offsets": .bool(true), "use_regex": .bool(true)]))
            root.set("decoder", .object(["type": .string("ByteLevel")]))
        case .llama:
            root.set("normalizer", .null)
            root.set("pre_tokenizer", .object(["type": .string("Metaspace"), "replacement": .string("▁"),
                                               "prepend_scheme": .string("first"), "split": .bool(false)]))
            root.set("decoder", llamaDecoder)
        case .phi3:
            root.set("normalizer", .object(["type": .string("Sequence"), "normalizers": .array([
                .object(["type": .string("Prepend"), "prepend": .string("▁")]), spaceToMeta,
            ])]))
            root.set("pre_tokenizer", .null)
            root.set("decoder", llamaDecoder)
        case .gemma, .gemma4:
            root.set("normalizer", spaceToMeta)
            // A no-op after the normalizer (no space is left), kept because the class has it.
            root.set("pre_tokenizer", .object(["type": .string("Split"), "pattern": .object(["String": .string(" ")]),
                                               "behavior": .string("MergedWithPrevious"), "invert": .bool(false)]))
            root.set("decoder", .object(["type": .string("Sequence"), "decoders": .array(sentencePieceDecoders)]))
        }
    }

    // MARK: Added tokens

    struct AddedTokenEntry {
        let content: String
        let special: Bool

    }

    /// The file's names for the special tokens (`tokenizer.tokens[id]`, as spelled in the file).
    struct SpecialTokenNames {
        var bos: String?
        var eos: String?
        var unk: String?
        var pad: String?
    }

    static func specialTokenNames(_ metadata: GGUFTokenizerMetadata) -> SpecialTokenNames {
        func name(_ id: Int?) -> String? { id.map { metadata.tokens[$0] } }
        return SpecialTokenNames(bos: name(metadata.bosID), eos: name(metadata.eosID), unk: name(metadata.unknownID),
                                 pad: name(metadata.paddingID))
    }

    /// Every `add_tokens` call transformers makes, in order. The loader gives each the id its
    /// content already has (model vocabulary or an earlier added token), else the next free id, and
    /// a later entry for the same content replaces the earlier one, as `AddedVocabulary` does.
    static func addedTokens(_ metadata: GGUFTokenizerMetadata, builder: BuilderClass, vocabulary: BytesMap) -> [AddedTokenEntry] {
        var entries: [AddedTokenEntry] = []
        var addedContents = BytesMap(capacity: 64)
        func add(_ content: String, special: Bool) {
            guard !content.isEmpty else { return }
            entries.append(AddedTokenEntry(content: content, special: special))
            addedContents.set(Array(content.utf8), 1)
        }
        /// `tokens_to_add` in `TokenizersBackend.__init__`: named special tokens not yet added.
        func addMissingNamed(_ names: [String?]) {
            for case let name? in names where addedContents[Array(name.utf8)] == nil { add(name, special: true) }
        }

        // 1. The builder class's own defaults (bos, eos, unk, sep, pad, cls, mask order).
        switch builder {
        case .gpt2: addMissingNamed(["<|endoftext|>"])
        case .llama, .phi3: addMissingNamed(["<s>", "</s>", "<unk>"])
        case .gemma, .gemma4: addMissingNamed(["<bos>", "<eos>", "<unk>", "<pad>", "<mask>"])
        }

        // 2. Control tokens as special; in a byte-level vocabulary only those spelled in the byte
        //    alphabet (anything else is a llama.cpp mislabel that would grow the vocabulary).
        for (index, token) in metadata.tokens.enumerated() where metadata.tokenType(index) == .control {
            if builder == .gpt2 && !isInByteAlphabet(Array(token.utf8)) { continue }
            add(token, special: true)
        }
        // 3. User-defined tokens as plain added tokens, when `get_vocab()` (vocabulary and added
        //    tokens) has them as the file spells them: respelled ones are left out.
        for (index, token) in metadata.tokens.enumerated() where metadata.tokenType(index) == .userDefined {
            let bytes = Array(token.utf8)
            guard vocabulary[bytes] != nil || addedContents[bytes] != nil else { continue }
            add(token, special: false)
        }

        // 4. The model's tokenizer class: the file's special tokens, then the class's own defaults.
        let names = specialTokenNames(metadata)
        let named = [names.bos, names.eos, names.unk, names.pad]
        switch outerClass(architecture: metadata.architecture) {
        case .backend:
            addMissingNamed(named)
        case .gemma:
            addMissingNamed(named + ["<mask>"])
        case .qwen2:
            addMissingNamed(named)
            // `self.add_tokens([AddedToken(t, special=True) for t in self.all_special_tokens])`:
            // makes a named token special even when it was added as a plain one.
            for case let name? in named { add(name, special: true) }
        }
        return entries
    }

    // MARK: Template

    /// `update_post_processor`: `bos $A eos` per the flags. `llama`-type files without the flag add
    /// BOS (llama.cpp's default for SentencePiece vocabularies), `gemma4` never does (its chat
    /// template writes `<bos>`), and a flag whose token the file does not name is dropped.
    private static func template(_ metadata: GGUFTokenizerMetadata, builder: BuilderClass, names: SpecialTokenNames,
                                 id: (String?) -> Int?) -> TemplatePostProcessor {
        var addBOS = metadata.addBOS ?? (metadata.model == "llama")
        if metadata.model == "gemma4" { addBOS = false }
        let addEOS = metadata.addEOS ?? false
        var pieces: [TemplatePostProcessor.Piece] = []
        if addBOS, let bos = names.bos, let bosID = id(bos) { pieces.append(.special(ids: [bosID], tokens: [bos])) }
        pieces.append(.sequence)
        if addEOS, let eos = names.eos, let eosID = id(eos) { pieces.append(.special(ids: [eosID], tokens: [eos])) }
        return TemplatePostProcessor(single: pieces)
    }

    // MARK: Spelling

    /// Whether every character of `token` is one of the 256 byte-alphabet characters.
    static func isInByteAlphabet(_ token: [UInt8]) -> Bool {
        ByteLevelAlphabet.decode(token) != nil
    }

    /// Gemma files store tokens of two or more spaces as spaces, where `GemmaTokenizer` looks them up
    /// as "▁▁"...: a token that contains a space and is all whitespace (Python's `str.strip()`)
    /// becomes as many "▁" as it has characters.
    static func respelledSpaceRun(_ token: [UInt8]) -> [UInt8] {
        guard token.contains(0x20) else { return token }
        let scalars = UTF8Bytes.scalars(token)
        guard scalars.allSatisfy(UnicodeProperties.isPythonSpace) else { return token }
        return Array(String(repeating: "▁", count: scalars.count).utf8)
    }
}
