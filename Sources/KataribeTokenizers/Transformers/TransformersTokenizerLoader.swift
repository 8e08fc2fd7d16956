import Foundation

/// Builds the transformers-level tokenizer for a model folder.
enum TransformersTokenizerLoader {
    static let sentencePieceFileNames = ["spiece.model", "tokenizer.model", "sentencepiece.bpe.model", "sentencepiece.model"]

    static func load(directory: URL, preference: TokenizerPreference) throws(TokenizerError) -> any Tokenizer {
        let manager = FileManager.default
        let tokenizerJSON = directory.appendingPathComponent("tokenizer.json")
        let hasFast = manager.fileExists(atPath: tokenizerJSON.path)
        var sentencePieceModel: URL?
        for name in sentencePieceFileNames where manager.fileExists(atPath: directory.appendingPathComponent(name).path) {
            sentencePieceModel = directory.appendingPathComponent(name)
            break
        }
        let config = try TokenizerConfig(directory: directory)

        let useFast: Bool
        switch preference {
        case .fast:
            guard hasFast else { throw TokenizerError.noTokenizerFiles(directory: directory.path, reason: "no tokenizer.json (needed for the fast tokenizer)") }
            useFast = true
        case .slow:
            guard sentencePieceModel != nil else {
                throw TokenizerError.noTokenizerFiles(directory: directory.path, reason: "no SentencePiece model (\(sentencePieceFileNames.joined(separator: ", "))) for the slow tokenizer")
            }
            useFast = false
        case .automatic:
            guard hasFast || sentencePieceModel != nil else {
                throw TokenizerError.noTokenizerFiles(directory: directory.path, reason: "neither tokenizer.json nor a SentencePiece model")
            }
            useFast = hasFast
        }
        if useFast {
            return try TransformersFastTokenizer.load(tokenizerFile: tokenizerJSON, config: config)
        }
        guard let sentencePieceModel else {
            throw TokenizerError.noTokenizerFiles(directory: directory.path, reason: "no SentencePiece model")
        }
        return try T5SlowTokenizer(modelFile: sentencePieceModel, config: config)
    }
}
