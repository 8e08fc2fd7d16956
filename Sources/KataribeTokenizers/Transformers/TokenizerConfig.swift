import Foundation

/// What transformers reads from `tokenizer_config.json` and `special_tokens_map.json`.
struct TokenizerConfig: Sendable {
    /// A special or added token as transformers describes it (a string or an `AddedToken` dict).
    struct TokenSpec: Sendable {
        var content: String
        var leftStrip = false
        var rightStrip = false
        var singleWord = false
        var normalized: Bool?
        var special = true
    }

    /// In transformers' `SPECIAL_TOKENS_ATTRIBUTES` order, which decides the ids of new tokens.
    enum Role: String, CaseIterable, Sendable {
        case bos = "bos_token", eos = "eos_token", unk = "unk_token", sep = "sep_token"
        case pad = "pad_token", cls = "cls_token", mask = "mask_token"
    }

    var tokenizerClass: String?
    var specialTokens: [Role: TokenSpec] = [:]
    var additionalSpecialTokens: [TokenSpec] = []
    /// `added_tokens_decoder`: id -> token.
    var addedTokensDecoder: [Int: TokenSpec] = [:]
    var cleanUpTokenizationSpaces: Bool?
    var extraIDs: Int?
    var addBOSToken: Bool?
    var addEOSToken: Bool?
    /// `add_prefix_space` and `legacy`, which Llama's and Qwen2's classes build their pre-tokenizer from.
    var addPrefixSpace: Bool?
    var legacy: Bool?
    /// `config.json`'s `model_type` and `tokenizer_class`: with `tokenizerClass` they decide the
    /// transformers tokenizer class (`TransformersTokenizerClass`).
    var modelType: String?
    var modelTokenizerClass: String?

    init() {}

    /// Reads both files from `directory` when present; `special_tokens_map.json` wins on conflicts.
    init(directory: URL) throws(TokenizerError) {
        let manager = FileManager.default
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        if manager.fileExists(atPath: configURL.path) {
            let reader = JSONReader(path: configURL.path)
            let object = try reader.object(try reader.parse(try readFile(configURL)), "tokenizer_config.json")
            tokenizerClass = try reader.optionalString(object["tokenizer_class"], "tokenizer_class")
            try readSpecialTokens(object, reader)
            if let value = object["clean_up_tokenization_spaces"], !Self.isNull(value) {
                cleanUpTokenizationSpaces = try reader.bool(value, "clean_up_tokenization_spaces", default: false)
            }
            extraIDs = try reader.optionalInteger(object["extra_ids"], "extra_ids")
            if let value = object["add_bos_token"], !Self.isNull(value) { addBOSToken = try reader.bool(value, "add_bos_token", default: false) }
            if let value = object["add_eos_token"], !Self.isNull(value) { addEOSToken = try reader.bool(value, "add_eos_token", default: false) }
            if let value = object["add_prefix_space"], !Self.isNull(value) { addPrefixSpace = try reader.bool(value, "add_prefix_space", default: false) }
            if let value = object["legacy"], !Self.isNull(value) { legacy = try reader.bool(value, "legacy", default: false) }
            if let decoder = object["added_tokens_decoder"], !Self.isNull(decoder) {
                for member in try reader.object(decoder, "added_tokens_decoder").members {
                    guard let id = Int(member.key), id >= 0 else {
                        throw reader.invalid("added_tokens_decoder: key \(member.key.debugDescription) is not an id")
                    }
                    addedTokensDecoder[id] = try Self.tokenSpec(member.value, "added_tokens_decoder[\(member.key)]", reader)
                }
            }
        }
        readModelConfig(directory.appendingPathComponent("config.json"))
        let mapURL = directory.appendingPathComponent("special_tokens_map.json")
        if manager.fileExists(atPath: mapURL.path) {
            let reader = JSONReader(path: mapURL.path)
            let object = try reader.object(try reader.parse(try readFile(mapURL)), "special_tokens_map.json")
            try readSpecialTokens(object, reader)
        }
    }

    /// The two strings of `config.json` the tokenizer class depends on. A folder holding only tokenizer
    /// files has none, and a config.json that cannot be read is the model loader's error to report, so
    /// either leaves them unset rather than failing the tokenizer.
    private mutating func readModelConfig(_ url: URL) {
        guard FileManager.default.fileExists(atPath: url.path),
              let bytes = try? readFile(url), case let .object(object)? = try? JSONParser.parse(bytes) else { return }
        if case let .string(value)? = object["model_type"] { modelType = value }
        if case let .string(value)? = object["tokenizer_class"] { modelTokenizerClass = value }
    }

    private static func isNull(_ value: JSONValue) -> Bool {
        if case .null = value { return true }
        return false
    }

    private mutating func readSpecialTokens(_ object: JSONObject, _ reader: JSONReader) throws(TokenizerError) {
        for role in Role.allCases {
            guard let value = object[role.rawValue], !Self.isNull(value) else { continue }
            specialTokens[role] = try Self.tokenSpec(value, role.rawValue, reader)
        }
        for key in ["additional_special_tokens", "extra_special_tokens"] {
            guard let value = object[key], !Self.isNull(value) else { continue }
            // transformers 5 also accepts a {name: token} dict for extra_special_tokens.
            var items: [JSONValue] = []
            switch value {
            case let .array(array): items = array
            case let .object(dict): items = dict.members.map(\.value)
            default: throw reader.invalid("\(key): expected a list")
            }
            var specs: [TokenSpec] = []
            for (index, item) in items.enumerated() { specs.append(try Self.tokenSpec(item, "\(key)[\(index)]", reader)) }
            additionalSpecialTokens = specs
        }
    }

    static func tokenSpec(_ value: JSONValue, _ context: String, _ reader: JSONReader) throws(TokenizerError) -> TokenSpec {
        switch value {
        case let .string(content):
            return TokenSpec(content: content)
        case let .object(object):
            var spec = TokenSpec(content: try reader.string(object["content"], "\(context).content"))
            spec.leftStrip = try reader.bool(object["lstrip"], "\(context).lstrip", default: false)
            spec.rightStrip = try reader.bool(object["rstrip"], "\(context).rstrip", default: false)
            spec.singleWord = try reader.bool(object["single_word"], "\(context).single_word", default: false)
            if let normalized = object["normalized"], !isNull(normalized) {
                spec.normalized = try reader.bool(normalized, "\(context).normalized", default: false)
            }
            spec.special = try reader.bool(object["special"], "\(context).special", default: true)
            return spec
        default:
            throw reader.invalid("\(context): expected a token string or an AddedToken object")
        }
    }

    /// Every special token string: the named roles, then the additional ones.
    var allSpecialTokenContents: [String] {
        var result: [String] = []
        for role in Role.allCases {
            if let spec = specialTokens[role], !result.contains(where: { $0.utf8.elementsEqual(spec.content.utf8) }) {
                result.append(spec.content)
            }
        }
        for spec in additionalSpecialTokens where !result.contains(where: { $0.utf8.elementsEqual(spec.content.utf8) }) {
            result.append(spec.content)
        }
        return result
    }
}
