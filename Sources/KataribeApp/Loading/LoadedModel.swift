import Foundation
import KataribeCheckpoint
import KataribeGeneration
import KataribeHub
import KataribeModels
import KataribeTensor
import KataribeTokenizers

/// How to load a model.
public struct ModelLoadOptions: Sendable {
    /// Worker threads for the forward pass; nil uses every core.
    public var threads: Int?
    /// Tokens per forward chunk while a prompt is processed.
    public var batchCapacity: Int
    /// A preset id whose settings replace the matched or inferred preset.
    public var preset: String?
    /// Field-by-field changes on top of the preset (e.g. the prompt format, the tokenizer kind).
    public var presetOverrides: ModelPresetOverrides?
    /// Branch, tag or commit of a hub model; nil means `main`.
    public var revision: String?
    /// Overrides `HF_HUB_OFFLINE` when not nil.
    public var offline: Bool?
    /// The format the linear layers run in (see `LoadOptions.weightFormat`); nil keeps the checkpoint's.
    public var weightFormat: WeightFormat?
    /// KV cache element type; nil picks float32 for float weights and float16 for quantized ones.
    public var kvCacheFormat: KVCacheFormat?
    /// Where quantized weights are saved and found again; nil quantizes at every load.
    public var quantizedCache: QuantizedCache?
    /// Receives the one-line notes loading has for a person (a folder that matches no preset); the
    /// default writes them to stderr, where every command's messages go.
    public var notices: @Sendable (String) -> Void

    public init(threads: Int? = nil, batchCapacity: Int = 128, preset: String? = nil,
                presetOverrides: ModelPresetOverrides? = nil, revision: String? = nil, offline: Bool? = nil,
                weightFormat: WeightFormat? = nil, kvCacheFormat: KVCacheFormat? = nil,
                quantizedCache: QuantizedCache? = nil, notices: @escaping @Sendable (String) -> Void = ModelLoadOptions.standardError) {
        self.threads = threads
        self.batchCapacity = batchCapacity
        self.preset = preset
        self.presetOverrides = presetOverrides
        self.revision = revision
        self.offline = offline
        self.weightFormat = weightFormat
        self.kvCacheFormat = kvCacheFormat
        self.quantizedCache = quantizedCache
        self.notices = notices
    }

    /// Writes a note as one line on stderr.
    public static let standardError: @Sendable (String) -> Void = { note in
        FileHandle.standardError.write(Data((note + "\n").utf8))
    }

    /// What `ModelLoader` gets from these options (commands that load only the weights use it directly).
    public var modelOptions: LoadOptions {
        LoadOptions(parallelism: threads.map { Parallelism(threadCount: $0) } ?? .automatic, batchCapacity: batchCapacity,
                    weightFormat: weightFormat, kvCacheFormat: kvCacheFormat, quantizedCache: quantizedCache)
    }
}

/// A model ready to generate: weights, tokenizer, the preset that says how to use them, and the
/// generation settings from the model's own config. Immutable and shareable across tasks; every
/// generation makes its own session.
public final class LoadedModel: Sendable {
    /// What was asked for (a name or a folder path).
    public let name: String
    /// The model folder, or the GGUF file.
    public let folder: URL
    public let model: any CausalLanguageModel
    public let tokenizer: any Tokenizer
    /// The preset with `ModelLoadOptions.presetOverrides` applied.
    public let preset: ModelPreset
    public let presetOrigin: PresetOrigin
    /// `generation_config.json` (else `config.json`) read as generation settings: eos/pad ids and any
    /// defaults the model ships.
    public let modelGenerationConfig: GenerationParameters

    /// Assembles a model from parts (tests, custom loaders). `options` are not consulted.
    public init(name: String, folder: URL, model: any CausalLanguageModel, tokenizer: any Tokenizer, preset: ModelPreset,
                presetOrigin: PresetOrigin = .requested, modelGenerationConfig: GenerationParameters = GenerationParameters()) {
        self.name = name
        self.folder = folder
        self.model = model
        self.tokenizer = tokenizer
        self.preset = preset
        self.presetOrigin = presetOrigin
        self.modelGenerationConfig = modelGenerationConfig
    }

    /// Loads `folder` with `preset`'s tokenizer kind (no name resolution). Every way of loading a model
    /// comes through here, so this is where a preset guessed for the folder (`presetOrigin == .inferred`)
    /// is announced, once per load, through `options.notices`.
    public convenience init(folder: URL, preset: ModelPreset, name: String? = nil, presetOrigin: PresetOrigin = .requested,
                            options: ModelLoadOptions = ModelLoadOptions()) throws(ModelLoadError) {
        var preset = options.presetOverrides.map { preset.applying($0) } ?? preset
        if presetOrigin == .inferred {
            options.notices(PresetInference.notice(folder: folder, preset: preset))
        }
        if GGUFModelFile.isGGUF(folder) {
            let loaded = try GGUFModelFile.load(folder, preset: &preset, options: options)
            self.init(name: name ?? folder.path, folder: folder, model: loaded.model, tokenizer: loaded.tokenizer, preset: preset,
                      presetOrigin: presetOrigin, modelGenerationConfig: loaded.generation)
            return
        }
        // `template` becomes the folder's own chat template before the weights load, so a template
        // this interpreter cannot read fails in a moment rather than after gigabytes are mapped.
        if preset.promptFormat.isUnresolvedModelTemplate {
            preset.promptFormat = try Self.chatTemplateFormat(folder: folder)
        }
        // config.json is read once per load and handed on, so the model and its generation settings
        // come from the same bytes.
        let config: ModelConfigFile
        let loadedModel: any CausalLanguageModel
        do {
            config = try ModelLoader.readConfigFile(directory: folder)
            loadedModel = try ModelLoader.load(directory: folder, config: config, options: options.modelOptions)
        } catch {
            throw .model(error)
        }
        let tokenizer: any Tokenizer
        do {
            tokenizer = try AutoTokenizer.load(from: folder, preference: preset.tokenizer)
        } catch {
            throw .tokenizer(error)
        }
        self.init(name: name ?? folder.path, folder: folder, model: loadedModel, tokenizer: tokenizer, preset: preset,
                  presetOrigin: presetOrigin, modelGenerationConfig: try ModelGenerationConfig.read(folder: folder, config: config))
    }

    /// Resolves `name` (folder, demo model, preset id, hub id; see `ModelResolver`) and loads it.
    public static func load(_ name: String, options: ModelLoadOptions = ModelLoadOptions(),
                            resolver: ModelResolver = ModelResolver(),
                            progress: ProgressHandler? = nil) async throws(ModelLoadError) -> LoadedModel {
        let resolved = try await resolver.resolve(name, preset: options.preset, revision: options.revision,
                                                  offline: options.offline, progress: progress)
        return try LoadedModel(resolved, options: options)
    }

    public convenience init(_ resolved: ResolvedModel, options: ModelLoadOptions = ModelLoadOptions()) throws(ModelLoadError) {
        try self.init(folder: resolved.folder, preset: resolved.preset, name: resolved.name,
                      presetOrigin: resolved.presetOrigin, options: options)
    }

    /// The preset's generation settings over the model's own (transformers: `generate()` arguments
    /// over `model.generation_config`). eos/pad ids come from the model unless the preset sets them.
    public var generationDefaults: GenerationParameters {
        preset.generation.merged(over: modelGenerationConfig)
    }

    /// `overrides` over `generationDefaults`. Layer several sources by merging them first:
    /// `parameters(cli.merged(over: suite))` is `cli ← suite ← preset ← model config`.
    public func parameters(_ overrides: GenerationParameters = GenerationParameters()) -> GenerationParameters {
        overrides.merged(over: generationDefaults)
    }

    /// The most tokens a sequence may hold (`max_position_embeddings`).
    public var contextLength: Int { model.contextLength }

    /// The folder's chat template as a prompt format (`ChatTemplateFile`).
    public static func chatTemplateFormat(folder: URL) throws(ModelLoadError) -> PromptFormat {
        if GGUFModelFile.isGGUF(folder) {
            let file: GGUFFile
            do { file = try GGUFFile.read(url: folder) } catch { throw .model(.checkpoint(error)) }
            return try GGUFModelFile.chatTemplateFormat(file)
        }
        let format: ChatTemplateFormat?
        do { format = try ChatTemplateFile.format(folder: folder) } catch { throw .chatTemplate(error) }
        guard let format else { throw .noChatTemplate(folder: folder.path) }
        return PromptFormat(format)
    }

    /// `format` with `template` replaced by this model's chat template (the preset's when it is one,
    /// else read from the folder); other formats as they are.
    public func resolving(_ format: PromptFormat) throws(ModelLoadError) -> PromptFormat {
        guard format.isUnresolvedModelTemplate else { return format }
        if preset.promptFormat.style is ChatTemplateFormat { return preset.promptFormat }
        return try Self.chatTemplateFormat(folder: folder)
    }
}
