import Foundation

/// transformers' fast tokenizer (`TokenizersBackend` in transformers 5, e.g. `GPTNeoXTokenizer`
/// for open-calm): the `tokenizer.json` pipeline plus what the configuration files add — special
/// tokens missing from `added_tokens` are added (so they are matched in text and skipped on
/// decode), `add_bos_token`/`add_eos_token` rebuild the template, and `clean_up_tokenization_spaces`
/// (default off in transformers 5, and never applied to BPE models) post-processes decoded text. Classes
/// that build their own pipeline (Qwen2, Gemma, Llama) replace the file's; see `TransformersTokenizerClass`.
enum TransformersFastTokenizer {
    static func load(tokenizerFile: URL, config: TokenizerConfig) throws(TokenizerError) -> HFTokenizer {
        let bytes = try readFile(tokenizerFile)
        let tokenizerClass = TransformersTokenizerClass.resolve(
            hubClass: config.tokenizerClass ?? config.modelTokenizerClass, modelType: config.modelType,
            fileIsByteLevel: bytes.containsSubsequence(Array(#""ByteLevel""#.utf8)))
        var tokenizer = try HFTokenizer(jsonBytes: bytes, path: tokenizerFile.path) { root in
            tokenizerClass.rebuild(&root, config: config)
        }
        for (id, spec) in config.addedTokensDecoder.sorted(by: { $0.key < $1.key })
        where tokenizer.addedVocabulary.token(forID: id) == nil {
            tokenizer.addToken(content: spec.content, special: spec.special, normalized: spec.normalized,
                               leftStrip: spec.leftStrip, rightStrip: spec.rightStrip, singleWord: spec.singleWord)
        }
        var roleSpecs = TokenizerConfig.Role.allCases.compactMap { config.specialTokens[$0] }
        roleSpecs += config.additionalSpecialTokens
        for spec in roleSpecs where tokenizer.addedVocabulary.id(forContent: Array(spec.content.utf8)) == nil {
            tokenizer.addToken(content: spec.content, special: true, normalized: spec.normalized ?? false,
                               leftStrip: spec.leftStrip, rightStrip: spec.rightStrip, singleWord: spec.singleWord)
        }
        func id(_ role: TokenizerConfig.Role) -> Int? {
            config.specialTokens[role].flatMap { tokenizer.tokenToID($0.content) }
        }
        tokenizer.specialTokens.bos = id(.bos)
        tokenizer.specialTokens.eos = id(.eos)
        tokenizer.specialTokens.pad = id(.pad)
        tokenizer.specialTokens.unk = id(.unk)
        if config.addBOSToken != nil || config.addEOSToken != nil {
            var pieces: [TemplatePostProcessor.Piece] = []
            if config.addBOSToken == true, let bos = id(.bos), let spec = config.specialTokens[.bos] {
                pieces.append(.special(ids: [bos], tokens: [spec.content]))
            }
            pieces.append(.sequence)
            if config.addEOSToken == true, let eos = id(.eos), let spec = config.specialTokens[.eos] {
                pieces.append(.special(ids: [eos], tokens: [spec.content]))
            }
            tokenizer.postProcessor = TemplatePostProcessor(single: pieces)
        }
        tokenizer.cleanUpTokenizationSpaces = (config.cleanUpTokenizationSpaces ?? false) && !tokenizer.modelIsBPE
        return tokenizer
    }
}

extension Array where Element == UInt8 {
    /// Whether `needle` occurs in the bytes (transformers tests tokenizer.json's text the same way).
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return needle.isEmpty }
        let first = needle[0]
        var index = 0
        while let start = self[index...].firstIndex(of: first), start + needle.count <= count {
            if self[start..<(start + needle.count)].elementsEqual(needle) { return true }
            index = start + 1
        }
        return false
    }
}
