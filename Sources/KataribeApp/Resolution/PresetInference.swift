import Foundation
import KataribeGeneration

/// Settings for a model folder no preset describes, from the files it ships, in this order:
///
/// 1. config.json's `_name_or_path` names a catalog model (a fine-tune saved from it, or a copy under
///    another folder name): that preset's settings.
/// 2. config.json's `model_type` is a chat-model architecture (llama, mistral, qwen2, qwen3, gemma2,
///    gemma3_text): the model's own chat template and generation_config.json, the fast tokenizer, and no
///    card settings, since no card is known.
/// 3. Otherwise GPT-NeoX by tokenizer: a SentencePiece model with a `T5Tokenizer` config is taken as
///    rinna-style (slow tokenizer, no special tokens added), anything else as open-calm-style
///    (`tokenizer.json`), with that family's base-model card settings and plain prompts, since nothing
///    in the files says a model is an instruction model (choose `--preset` / a suite's `preset:`, or
///    `--format rinna-chat`, for those) -- unless the folder ships a chat template, which does say so:
///    then its prompts are that template's (`template`).
public enum PresetInference {
    public static func preset(forFolder folder: URL) -> ModelPreset {
        let config = ConfigSummary(folder: folder)
        var preset: ModelPreset
        switch basis(forFolder: folder, config: config) {
        case .catalog(let base, _):
            preset = base
        case .architecture(let family):
            preset = ModelPreset(
                id: folder.lastPathComponent, hubRepoID: nil, localPath: folder.path, family: family,
                dtype: config.dtype ?? .bfloat16,
                tokenizer: FileManager.default.fileExists(atPath: folder.appendingPathComponent("tokenizer.json").path) ? .fast : .automatic,
                // A chat template writes its own <bos>; plain text gets it from the tokenizer, as `tokenizer(text)` does.
                addSpecialTokens: !config.hasChatTemplate, skipSpecialTokens: true, decodeIncludesPrompt: false,
                promptFormat: config.hasChatTemplate ? ModelPresetCatalog.chatTemplate : .plain,
                // No card known: generation_config.json and transformers' defaults decide, as `generate()` alone.
                generation: GenerationParameters(), summary: "")
        }
        // A guess from the tokenizer says nothing about prompts; a chat template in the folder does
        // (a catalog model named by `_name_or_path` keeps its own format).
        if config.hasChatTemplate, config.nameOrPath.flatMap(catalogPreset(nameOrPath:)) == nil {
            preset.promptFormat = ModelPresetCatalog.chatTemplate
        }
        preset.id = folder.lastPathComponent
        preset.hubRepoID = nil
        preset.localPath = folder.path
        preset.summary = "\(folder.path) (settings inferred: \(description(forFolder: folder)))"
        return preset
    }

    /// The catalog preset whose settings a folder without a preset gets, or for a chat-model
    /// architecture without one, its `model_type`.
    public static func baseID(forFolder folder: URL) -> String {
        switch basis(forFolder: folder, config: ConfigSummary(folder: folder)) {
        case .catalog(let base, _): return base.id
        case .architecture(let family): return family.rawValue
        }
    }

    /// The one line every command that loads such a folder prints (on stderr): the settings it got,
    /// and how to choose others. Without it a rinna instruction model in a folder named unlike its
    /// repository silently ran as the base model.
    public static func notice(folder: URL, preset: ModelPreset) -> String {
        "note: no preset matches \(folder.path); using \(description(forFolder: folder)) "
            + "(\(preset.promptFormat.name) prompts, \(ModelPresetListing.defaultsSummary(preset.generation))). "
            + "Choose others with --preset ID (in a suite, preset: ID); `kataribe models` lists them"
    }

    private enum Basis {
        case catalog(ModelPreset, reason: String)
        case architecture(ModelFamily)
    }

    private static func description(forFolder folder: URL) -> String {
        if GGUFModelFile.isGGUF(folder) { return "the GGUF file's own tokenizer, chat template and token ids (no model card known)" }
        switch basis(forFolder: folder, config: ConfigSummary(folder: folder)) {
        case .catalog(let base, let reason): return "\(base.id)'s settings \(reason)"
        case .architecture(let family):
            return "a \(family.rawValue) model's own settings (its generation_config.json; no model card known)"
        }
    }

    private static func basis(forFolder folder: URL, config: ConfigSummary) -> Basis {
        if let name = config.nameOrPath, let base = catalogPreset(nameOrPath: name) {
            return .catalog(base, reason: "(config.json names \(name))")
        }
        if let family = config.family { return .architecture(family) }
        let base = looksLikeRinna(folder) ? "rinna-3.6b" : "open-calm-small"
        return .catalog(ModelPresetCatalog.all.first { $0.id == base } ?? ModelPresetCatalog.all[0],
                        reason: "guessed from its tokenizer")
    }

    /// A hub preset whose repository `_name_or_path` is, or ends with (a local copy's path keeps the
    /// repository's folder name, e.g. `/models/Qwen2.5-7B-Instruct`).
    static func catalogPreset(nameOrPath: String) -> ModelPreset? {
        let last = nameOrPath.split(separator: "/").last.map(String.init) ?? nameOrPath
        return ModelPresetCatalog.all.first { $0.hubRepoID == nameOrPath }
            ?? ModelPresetCatalog.all.first { $0.hubRepoID?.split(separator: "/").last.map(String.init) == last }
    }

    static func looksLikeRinna(_ folder: URL) -> Bool {
        let manager = FileManager.default
        let hasSentencePiece = (try? manager.contentsOfDirectory(atPath: folder.path))?.contains { $0.hasSuffix(".model") } ?? false
        guard hasSentencePiece else { return false }
        if !manager.fileExists(atPath: folder.appendingPathComponent("tokenizer.json").path) { return true }
        guard let object = jsonObject(folder.appendingPathComponent("tokenizer_config.json")),
              let tokenizerClass = object["tokenizer_class"] as? String else { return false }
        return tokenizerClass.hasPrefix("T5Tokenizer")
    }

    /// What inference reads of config.json and tokenizer_config.json. Unreadable files count as
    /// absent: loading the model reports them properly.
    struct ConfigSummary {
        var nameOrPath: String?
        var family: ModelFamily?
        var dtype: ModelDType?
        var hasChatTemplate = false

        init(folder: URL) {
            if let config = PresetInference.jsonObject(folder.appendingPathComponent("config.json")) {
                nameOrPath = (config["_name_or_path"] as? String).flatMap { $0.isEmpty ? nil : $0 }
                if let type = config["model_type"] as? String {
                    family = ModelFamily(modelType: type)
                } else if let architectures = config["architectures"] as? [String] {
                    family = architectures.lazy.compactMap(Self.family(architecture:)).first
                }
                dtype = ((config["torch_dtype"] ?? config["dtype"]) as? String).flatMap(ModelDType.init(rawValue:))
            }
            if let tokenizerConfig = PresetInference.jsonObject(folder.appendingPathComponent("tokenizer_config.json")),
               let template = tokenizerConfig["chat_template"], !(template is NSNull) {
                hasChatTemplate = true
            } else {
                hasChatTemplate = FileManager.default.fileExists(atPath: folder.appendingPathComponent("chat_template.jinja").path)
            }
        }

        static func family(architecture: String) -> ModelFamily? {
            [
                "LlamaForCausalLM": .llama, "MistralForCausalLM": .mistral, "Qwen2ForCausalLM": .qwen2,
                "Qwen3ForCausalLM": .qwen3, "Gemma2ForCausalLM": .gemma2, "Gemma3ForCausalLM": .gemma3,
            ][architecture]
        }
    }

    /// A small JSON object file; nil when missing, too large for a config, or not a JSON object.
    static func jsonObject(_ url: URL) -> [String: Any]? {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int,
              size <= 16 << 20, let data = try? Data(contentsOf: url) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}
