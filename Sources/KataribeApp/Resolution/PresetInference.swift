import Foundation
import KataribeGeneration

/// Settings for a model folder no preset describes, from the tokenizer it ships: a SentencePiece model
/// with a `T5Tokenizer` config is taken as rinna-style (slow tokenizer, no special tokens added), anything
/// else as open-calm-style (`tokenizer.json`). Generation defaults are that family's model-card settings;
/// the prompt format is plain (force `--format rinna-chat` or `--preset` for instruction models).
public enum PresetInference {
    public static func preset(forFolder folder: URL) -> ModelPreset {
        let base = looksLikeRinna(folder) ? "rinna-3.6b" : "open-calm-small"
        var preset = (try? ModelPresetCatalog.preset(named: base)) ?? ModelPresetCatalog.all[0]
        preset.id = folder.lastPathComponent
        preset.hubRepoID = nil
        preset.localPath = folder.path
        preset.summary = "\(folder.path) (settings inferred: \(base) style)"
        return preset
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
