/// The transformers 5 tokenizer class a model folder gets, where that changes the ids.
///
/// transformers 5's `AutoTokenizer` picks a class from `tokenizer_config.json`'s `tokenizer_class` and
/// `config.json`'s `model_type`. `TokenizersBackend` (`PreTrainedTokenizerFast`) runs `tokenizer.json` as
/// it is; a class with its own `__init__` keeps only the file's vocabulary, merges and post-processor
/// and builds normalizer, pre-tokenizer, decoder and the model's options itself. Of those classes,
/// the ones whose pipeline can differ from the files of the models Kataribe runs are reproduced here:
/// `Qwen2Tokenizer` (Qwen2.5/Qwen3, TinySwallow: Qwen3.5's files carry a pre-tokenizer pattern the class
/// drops), `GemmaTokenizer` (Gemma 2/3) and `LlamaTokenizer` (Llama 2-style files: the class uses
/// `Metaspace` with `prepend_scheme: first` where converted files prepend "▁" to every stretch of text).
/// Every other class is taken as the file as it is: `GPTNeoXTokenizer` and `GPT2Tokenizer` build what
/// their files already say, and T5's rebuild is deliberately not reproduced (see `TokenizerPreference`).
enum TransformersTokenizerClass: Equatable {
    case backend
    case qwen2
    case gemma
    case llama

    /// `TOKENIZER_MAPPING_NAMES` for the model types whose entry matters here.
    private static let registered: [String: String] = [
        "qwen2": "Qwen2Tokenizer", "qwen2_moe": "Qwen2Tokenizer", "qwen3": "Qwen2Tokenizer", "qwen3_moe": "Qwen2Tokenizer",
        "gemma": "GemmaTokenizer", "gemma2": "GemmaTokenizer", "gemma3": "GemmaTokenizer", "gemma3_text": "GemmaTokenizer",
        "mistral": "TokenizersBackend", "gpt_neox": "GPTNeoXTokenizer", "gpt2": "GPT2Tokenizer", "t5": "T5Tokenizer",
    ]
    /// `MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS` (of the types above): their registered class wins.
    private static let incorrectHubClass: Set<String> = ["qwen2"]
    private static let generic: Set<String> = ["TokenizersBackend", "PythonBackend", "PreTrainedTokenizerFast", "MistralCommonBackend"]

    /// The class `AutoTokenizer.from_pretrained` instantiates, following its order of checks.
    /// - Parameters:
    ///   - hubClass: `tokenizer_config.json`'s `tokenizer_class`, else `config.json`'s.
    ///   - fileIsByteLevel: whether `tokenizer.json` mentions `"ByteLevel"` (transformers' own test).
    static func resolve(hubClass: String?, modelType: String?, fileIsByteLevel: Bool) -> Self {
        let hub = hubClass.map(stripFast)
        let registered = modelType.flatMap { Self.registered[$0] }.map(stripFast)
        let incorrect = modelType.map { incorrectHubClass.contains($0) } ?? false
        // A Llama 3-style byte-level file declared as LlamaTokenizer runs as it is.
        if hub == "LlamaTokenizer", registered != "MistralCommonBackend", !incorrect, fileIsByteLevel { return .backend }
        if let hub, let registered, registered != hub {
            guard !generic.contains(registered) else { return .backend }
            return named(incorrect ? registered : hub)
        }
        if let hub { return named(hub) }
        return registered.map(named) ?? .backend
    }

    private static func stripFast(_ name: String) -> String {
        name.hasSuffix("Fast") ? String(name.dropLast(4)) : name
    }

    private static func named(_ name: String) -> Self {
        switch name {
        case "Qwen2Tokenizer": return .qwen2
        case "GemmaTokenizer": return .gemma
        case "LlamaTokenizer": return .llama
        default: return .backend
        }
    }

    /// Replaces the parts of a parsed `tokenizer.json` the class builds itself, with the values its
    /// `__init__` uses. Only BPE files are rebuilt: these classes construct a BPE model, and given a
    /// Unigram file transformers 5 makes a BPE without merges, which Kataribe does not imitate.
    func rebuild(_ root: inout JSONObject, config: TokenizerConfig) {
        guard self != .backend, case let .object(model)? = root["model"], case .string("BPE")? = model["type"] else { return }
        var options = model
        switch self {
        case .backend:
            return
        case .qwen2:
            let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
            root.set("normalizer", .object(["type": .string("NFC")]))
            root.set("pre_tokenizer", .object(["type": .string("Sequence"), "pretokenizers": .array([
                .object(["type": .string("Split"), "pattern": .object(["Regex": .string(qwen2Pattern)]),
                         "behavior": .string("Isolated"), "invert": .bool(false)]),
                .object(["type": .string("ByteLevel"), "add_prefix_space": .bool(config.addPrefixSpace ?? false),
                         "trim_offsets": .bool(true), "use_regex": .bool(false)]),
            ])]))
            root.set("decoder", .object(["type": .string("ByteLevel")]))
            options.set("unk_token", .null)
            options.set("fuse_unk", .bool(false))
            options.set("byte_fallback", .bool(false))
        case .gemma:
            root.set("normalizer", .object(["type": .string("Replace"), "pattern": .object(["String": .string(" ")]),
                                            "content": .string("▁")]))
            // A no-op after the normalizer (no space is left), kept because the class has it.
            root.set("pre_tokenizer", .object(["type": .string("Split"), "pattern": .object(["String": .string(" ")]),
                                               "behavior": .string("MergedWithPrevious"), "invert": .bool(false)]))
            root.set("decoder", .object(["type": .string("Sequence"), "decoders": .array([
                .object(["type": .string("Replace"), "pattern": .object(["String": .string("▁")]), "content": .string(" ")]),
                .object(["type": .string("ByteFallback")]),
                .object(["type": .string("Fuse")]),
            ])]))
            options.set("unk_token", .string(config.specialTokens[.unk]?.content ?? "<unk>"))
            options.set("fuse_unk", .bool(true))
            options.set("byte_fallback", .bool(true))
        case .llama:
            let addPrefixSpace = config.addPrefixSpace ?? true
            // `_get_prepend_scheme`: "first" unless the config asks for the legacy behaviour.
            let scheme = !addPrefixSpace ? "never" : (config.legacy == true ? "always" : "first")
            root.set("normalizer", .null)
            root.set("pre_tokenizer", .object(["type": .string("Metaspace"), "replacement": .string("▁"),
                                               "prepend_scheme": .string(scheme), "split": .bool(false)]))
            var decoders: [JSONValue] = [
                .object(["type": .string("Replace"), "pattern": .object(["String": .string("▁")]), "content": .string(" ")]),
                .object(["type": .string("ByteFallback")]),
                .object(["type": .string("Fuse")]),
            ]
            if addPrefixSpace {
                decoders.append(.object(["type": .string("Strip"), "content": .string(" "), "start": .number(1), "stop": .number(0)]))
            }
            root.set("decoder", .object(["type": .string("Sequence"), "decoders": .array(decoders)]))
            options.set("unk_token", .null)
            options.set("fuse_unk", .bool(true))
            options.set("byte_fallback", .bool(true))
        }
        // What every one of these classes leaves at the BPE defaults (Qwen2Tokenizer's "" prefix and
        // suffix behave as none).
        options.set("dropout", .null)
        options.set("ignore_merges", .bool(false))
        options.set("continuing_subword_prefix", .null)
        options.set("end_of_word_suffix", .null)
        root.set("model", .object(options))
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(members: elements.map { (key: $0.0, value: $0.1) })
    }

    /// Sets `key` to `value`, replacing every member of that name.
    mutating func set(_ key: String, _ value: JSONValue) {
        members.removeAll { $0.key.utf8.elementsEqual(key.utf8) }
        members.append((key: key, value: value))
    }
}
