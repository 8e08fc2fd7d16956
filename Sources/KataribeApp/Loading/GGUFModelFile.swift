import Foundation
import KataribeCheckpoint
import KataribeGeneration
import KataribeModels
import KataribeTemplates
import KataribeTokenizers

/// A GGUF file as a model: the weights, the tokenizer, the chat template and the generation ids all
/// come from the one file, read as transformers' `from_pretrained(dir, gguf_file=...)` reads them.
public enum GGUFModelFile {
    /// Whether `url` names a GGUF file (by its extension; the reader checks the magic).
    public static func isGGUF(_ url: URL) -> Bool { ModelLoader.isGGUF(url) }

    /// Settings for a GGUF file no preset describes: its own chat template when it has one (else
    /// plain continuation with the tokenizer's special tokens), and no card settings, as
    /// `PresetInference` does for a folder of a chat-model architecture.
    public static func preset(file url: URL) -> ModelPreset {
        // Unreadable files get plain settings here; loading reports what is wrong with them.
        let file = try? GGUFFile.read(url: url)
        let architecture = file?.architecture ?? "llama"
        let hasTemplate = file?[GGUFTokenizerMetadata.Key.chatTemplate]?.string != nil
        return ModelPreset(
            id: url.lastPathComponent, hubRepoID: nil, localPath: url.path,
            family: ModelFamily(modelType: architecture) ?? .llama,
            // transformers dequantizes GGUF tensors to float32.
            dtype: .float32, tokenizer: .automatic,
            addSpecialTokens: !hasTemplate, skipSpecialTokens: true, decodeIncludesPrompt: false,
            promptFormat: hasTemplate ? ModelPresetCatalog.chatTemplate : .plain,
            generation: GenerationParameters(),
            summary: "\(url.path) (settings inferred: the GGUF file's own tokenizer\(hasTemplate ? " and chat template" : ""); no model card known)")
    }

    /// The file's `tokenizer.chat_template` as a prompt format, with the special tokens the template
    /// sees named as transformers names them (`bos_token` = the text of the BOS id, ...).
    public static func chatTemplateFormat(_ file: GGUFFile) throws(ModelLoadError) -> PromptFormat {
        let key = GGUFTokenizerMetadata.Key.chatTemplate
        guard let source = file[key]?.string else { throw .noChatTemplate(folder: file.path) }
        let tokens = file[GGUFTokenizerMetadata.Key.tokens]?.stringArray ?? []
        var special: [String: String] = [:]
        for (name, idKey) in [("bos_token", GGUFTokenizerMetadata.Key.bosID), ("eos_token", GGUFTokenizerMetadata.Key.eosID),
                              ("unk_token", GGUFTokenizerMetadata.Key.unknownID), ("pad_token", GGUFTokenizerMetadata.Key.paddingID)] {
            if let id = file[idKey]?.int, tokens.indices.contains(id) { special[name] = tokens[id] }
        }
        let origin = "\(file.path) (\(key))"
        let template: ChatTemplate
        do { template = try ChatTemplate(source: source, specialTokens: special) } catch {
            throw .chatTemplate(.template(file: origin, error: error))
        }
        do {
            return PromptFormat(try ChatTemplateFormat(template: template, origin: key))
        } catch {
            throw .chatTemplate(.unusable(file: origin, reason: error.description))
        }
    }

    /// The generation ids transformers' config gets from the file (bos, eos, pad); GGUF files carry
    /// no other generation defaults.
    public static func generationConfig(_ file: GGUFFile) throws(ModelLoadError) -> GenerationParameters {
        var ids: [String: Int] = [:]
        for (configKey, idKey) in [("bos_token_id", GGUFTokenizerMetadata.Key.bosID), ("eos_token_id", GGUFTokenizerMetadata.Key.eosID),
                                   ("pad_token_id", GGUFTokenizerMetadata.Key.paddingID)] {
            if let id = file[idKey]?.int { ids[configKey] = id }
        }
        let data = (try? JSONSerialization.data(withJSONObject: ids)) ?? Data("{}".utf8)
        return try ModelGenerationConfig.decode(data, file: file.url)
    }

    /// Model, tokenizer and generation settings of a GGUF file, read once.
    static func load(_ url: URL, preset: inout ModelPreset, options: ModelLoadOptions) throws(ModelLoadError)
        -> (model: any CausalLanguageModel, tokenizer: any Tokenizer, generation: GenerationParameters) {
        let file: GGUFFile
        do { file = try GGUFFile.read(url: url) } catch { throw .model(.checkpoint(error)) }
        // The template is checked before the weights load, as for folders.
        if preset.promptFormat.isUnresolvedModelTemplate { preset.promptFormat = try chatTemplateFormat(file) }
        let tokenizer: any Tokenizer
        do { tokenizer = try GGUFTokenizerBuilder.make(from: file) } catch { throw .tokenizer(error) }
        let model: any CausalLanguageModel
        do { model = try ModelLoader.load(gguf: file, options: options.modelOptions) } catch { throw .model(error) }
        return (model, tokenizer, try generationConfig(file))
    }
}
