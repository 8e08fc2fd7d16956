import Foundation

/// Settings for a model folder no preset describes, from the tokenizer it ships: a SentencePiece model
/// with a `T5Tokenizer` config is taken as rinna-style (slow tokenizer, no special tokens added), anything
/// else as open-calm-style (`tokenizer.json`). Generation defaults are that family's base-model card
/// settings; the prompt format is plain, since nothing in the files says a model is an instruction model
/// (choose `--preset` / a suite's `preset:`, or `--format rinna-chat`, for those).
public enum PresetInference {
    public static func preset(forFolder folder: URL) -> ModelPreset {
        let base = baseID(forFolder: folder)
        var preset = ModelPresetCatalog.all.first { $0.id == base } ?? ModelPresetCatalog.all[0]
        preset.id = folder.lastPathComponent
        preset.hubRepoID = nil
        preset.localPath = folder.path
        preset.summary = "\(folder.path) (settings inferred: \(base) style)"
        return preset
    }

    /// The catalog preset whose settings a folder without a preset gets.
    public static func baseID(forFolder folder: URL) -> String {
        looksLikeRinna(folder) ? "rinna-3.6b" : "open-calm-small"
    }

    /// The one line every command that loads such a folder prints (on stderr): the settings it got,
    /// and how to choose others. Without it a rinna instruction model in a folder named unlike its
    /// repository silently ran as the base model.
    public static func notice(folder: URL, preset: ModelPreset) -> String {
        "note: no preset matches \(folder.path); using \(baseID(forFolder: folder))'s settings guessed from its tokenizer "
            + "(\(preset.promptFormat.name) prompts, \(ModelPresetListing.defaultsSummary(preset.generation))). "
            + "Choose others with --preset ID (in a suite, preset: ID); `kataribe models` lists them"
    }

    static func looksLikeRinna(_ folder: URL) -> Bool {
        let manager = FileManager.default
        let hasSentencePiece = (try? manager.contentsOfDirectory(atPath: folder.path))?.contains { $0.hasSuffix(".model") } ?? false
        guard hasSentencePiece else { return false }
        if !manager.fileExists(atPath: folder.appendingPathComponent("tokenizer.json").path) { return true }
        guard let data = try? Data(contentsOf: folder.appendingPathComponent("tokenizer_config.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let tokenizerClass = object["tokenizer_class"] as? String else { return false }
        return tokenizerClass.hasPrefix("T5Tokenizer")
    }
}
