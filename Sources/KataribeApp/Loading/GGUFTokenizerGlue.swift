import KataribeCheckpoint
import KataribeTokenizers

extension GGUFTokenizerMetadata {
    /// The tokenizer metadata of a GGUF file (KataribeTokenizers cannot read GGUF itself: it does
    /// not depend on KataribeCheckpoint). A key holding the wrong kind of value is an error naming
    /// the file and the key, never silently skipped: a vocabulary read wrong gives wrong ids.
    public init(_ file: GGUFFile) throws(TokenizerError) {
        let path = file.path
        func wrongType(_ key: String, _ expected: String) -> TokenizerError {
            .invalidModel(path: path, reason: "\(key) is \(file[key].map { "\($0.type)" } ?? "missing"), expected \(expected)")
        }
        func string(_ key: String) throws(TokenizerError) -> String? {
            guard let value = file[key] else { return nil }
            guard let text = value.string else { throw wrongType(key, "a string") }
            return text
        }
        func strings(_ key: String) throws(TokenizerError) -> [String]? {
            guard let value = file[key] else { return nil }
            guard let texts = value.stringArray else { throw wrongType(key, "an array of strings") }
            return texts
        }
        func integer(_ key: String) throws(TokenizerError) -> Int? {
            guard let value = file[key] else { return nil }
            guard let number = value.int else { throw wrongType(key, "an integer") }
            return number
        }
        func flag(_ key: String) throws(TokenizerError) -> Bool? {
            guard let value = file[key] else { return nil }
            guard let bool = value.bool else { throw wrongType(key, "a boolean") }
            return bool
        }

        guard let architecture = try string(Key.architecture) else { throw wrongType(Key.architecture, "a string") }
        guard let model = try string(Key.model) else {
            throw TokenizerError.invalidModel(path: path, reason: "no tokenizer in the file (\(Key.model) is missing)")
        }
        guard let tokens = try strings(Key.tokens) else { throw wrongType(Key.tokens, "an array of strings") }
        var scores: [Float]?
        if let value = file[Key.scores] {
            guard let floats = value.floatArray else { throw wrongType(Key.scores, "an array of floats") }
            scores = floats
        }
        var tokenTypes: [Int32]?
        if let value = file[Key.tokenTypes] {
            guard let ints = value.intArray, ints.allSatisfy({ Int32(exactly: $0) != nil }) else {
                throw wrongType(Key.tokenTypes, "an array of 32-bit integers")
            }
            tokenTypes = ints.map { Int32($0) }
        }
        self.init(architecture: architecture, model: model, pre: try string(Key.pre), tokens: tokens, scores: scores,
                  tokenTypes: tokenTypes, merges: try strings(Key.merges), bosID: try integer(Key.bosID),
                  eosID: try integer(Key.eosID), unknownID: try integer(Key.unknownID), paddingID: try integer(Key.paddingID),
                  addBOS: try flag(Key.addBOS), addEOS: try flag(Key.addEOS), addSpacePrefix: try flag(Key.addSpacePrefix),
                  chatTemplate: try string(Key.chatTemplate))
    }
}

extension GGUFTokenizerBuilder {
    /// The tokenizer embedded in a GGUF file, with transformers' ids.
    public static func make(from file: GGUFFile) throws(TokenizerError) -> any Tokenizer {
        try make(from: GGUFTokenizerMetadata(file), source: file.path)
    }
}
