import Foundation

/// Which implementation `AutoTokenizer` should load from a model folder.
public enum TokenizerPreference: String, Codable, Sendable, CaseIterable {
    /// `tokenizer.json` when the folder has one (transformers' `AutoTokenizer` prefers the fast
    /// tokenizer), else the SentencePiece model through the slow semantics. transformers would
    /// instead convert the SentencePiece model to a fast tokenizer; that conversion changes the ids
    /// of models like rinna's, so Kataribe does not reproduce it.
    case automatic
    /// `tokenizer.json` (Hugging Face `tokenizers`); an error when the folder has none.
    case fast
    /// The SentencePiece model through transformers' slow tokenizer semantics (rinna needs this:
    /// `use_fast=False`); an error when the folder has none.
    case slow
}

/// Loads the right tokenizer for a path, as transformers' `AutoTokenizer.from_pretrained` would.
public enum AutoTokenizer {
    /// `url` may be a model folder, a `tokenizer.json` file or a SentencePiece `.model` file.
    /// Single files get the plain library behaviour (`tokenizers` / `sentencepiece`); folders get
    /// the transformers behaviour configured by `tokenizer_config.json` and `special_tokens_map.json`.
    public static func load(from url: URL, preference: TokenizerPreference = .automatic) throws(TokenizerError) -> any Tokenizer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw TokenizerError.unreadableFile(path: url.path, reason: "no such file or directory")
        }
        if !isDirectory.boolValue {
            if url.pathExtension.lowercased() == "json" {
                return try HFTokenizer(contentsOf: url)
            }
            return try SentencePieceTokenizer(contentsOf: url)
        }
        return try TransformersTokenizerLoader.load(directory: url, preference: preference)
    }
}
