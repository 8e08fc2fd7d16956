import KataribeGeneration
import KataribeTokenizers

/// Everything Kataribe needs to run a known model the way its model card does.
public struct ModelPreset: Codable, Sendable, Equatable {
    /// Short name used on the command line, e.g. `open-calm-small`.
    public var id: String
    /// Hugging Face repository the weights come from (nil for local-only models).
    public var hubRepoID: String?
    /// Folder relative to the project root for local models (e.g. `Models/demo-calm`).
    public var localPath: String?
    public var family: ModelFamily
    /// Weight dtype the card (and transformers 5's default `dtype="auto"`) loads.
    public var dtype: ModelDType
    /// Which of the folder's tokenizers the card loads (`use_fast`).
    public var tokenizer: TokenizerPreference
    /// `add_special_tokens` when encoding the prompt (the cards' `tokenizer(...)` / `encode(...)` call).
    public var addSpecialTokens: Bool
    /// `skip_special_tokens` when decoding the output (drops eos from the text when true).
    public var skipSpecialTokens: Bool
    /// Whether the card prints the prompt together with the continuation (`decode(output[0])`)
    /// rather than only the new tokens.
    public var decodeIncludesPrompt: Bool
    public var promptFormat: PromptFormat
    /// The card's `generate(...)` arguments. eos/pad ids are left to the model's own config.
    public var generation: GenerationParameters
    public var summary: String
    /// Where `generation` (and dtype, tokenizer and decoding) come from: the model card's URL, so a
    /// reader can check the settings against it. Nil for presets not taken from a card.
    public var source: String?

    public init(id: String, hubRepoID: String?, localPath: String?, family: ModelFamily, dtype: ModelDType,
                tokenizer: TokenizerPreference, addSpecialTokens: Bool, skipSpecialTokens: Bool,
                decodeIncludesPrompt: Bool, promptFormat: PromptFormat, generation: GenerationParameters, summary: String,
                source: String? = nil) {
        self.id = id
        self.hubRepoID = hubRepoID
        self.localPath = localPath
        self.family = family
        self.dtype = dtype
        self.tokenizer = tokenizer
        self.addSpecialTokens = addSpecialTokens
        self.skipSpecialTokens = skipSpecialTokens
        self.decodeIncludesPrompt = decodeIncludesPrompt
        self.promptFormat = promptFormat
        self.generation = generation
        self.summary = summary
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case id, family, dtype, tokenizer, summary, generation, source
        case hubRepoID = "hub_repo_id"
        case localPath = "local_path"
        case addSpecialTokens = "add_special_tokens"
        case skipSpecialTokens = "skip_special_tokens"
        case decodeIncludesPrompt = "decode_includes_prompt"
        case promptFormat = "prompt_format"
    }
}

/// The architecture (and, for GPT-NeoX, the tokenizer kind) a preset's model has. The raw values of the
/// chat-model families are config.json `model_type` values (`init(modelType:)` maps a folder's).
public enum ModelFamily: String, Codable, Sendable, CaseIterable {
    /// cyberagent/open-calm-*: GPT-NeoX with a byte-level BPE tokenizer.
    case openCalm = "open-calm"
    /// rinna/japanese-gpt-neox-3.6b*: GPT-NeoX with a SentencePiece unigram tokenizer.
    case rinnaGPTNeoX = "rinna-gpt-neox"
    /// `LlamaForCausalLM`: llm-jp-3, Llama-3.1-Swallow, Llama-3-ELYZA-JP, calm3, sarashina2.2.
    case llama
    /// `MistralForCausalLM`.
    case mistral
    /// `Qwen2ForCausalLM`: Qwen2.5, TinySwallow.
    case qwen2
    /// `Qwen3ForCausalLM`.
    case qwen3
    /// `Gemma2ForCausalLM`: gemma-2 it.
    case gemma2
    /// `Gemma3ForCausalLM` (`model_type` `gemma3_text`): the text-only gemma-3-1b.
    case gemma3

    /// The family of a config.json `model_type` among the chat-model architectures; nil for GPT-NeoX
    /// (whose two families differ by tokenizer, not by config) and for unknown types.
    public init?(modelType: String) {
        if modelType == "gemma3_text" { self = .gemma3; return }
        guard let family = Self(rawValue: modelType), family != .openCalm, family != .rinnaGPTNeoX else { return nil }
        self = family
    }
}

public enum ModelDType: String, Codable, Sendable, CaseIterable {
    case float16, bfloat16, float32
}

/// Per-field overrides of a preset (suite files, CLI flags). Unset fields keep the preset's value;
/// `generation` is merged field by field (`GenerationParameters.merged(over:)`).
public struct ModelPresetOverrides: Codable, Sendable, Equatable {
    public var hubRepoID: String?
    public var localPath: String?
    public var family: ModelFamily?
    public var dtype: ModelDType?
    public var tokenizer: TokenizerPreference?
    public var addSpecialTokens: Bool?
    public var skipSpecialTokens: Bool?
    public var decodeIncludesPrompt: Bool?
    public var promptFormat: PromptFormat?
    public var generation: GenerationParameters?

    public init(hubRepoID: String? = nil, localPath: String? = nil, family: ModelFamily? = nil, dtype: ModelDType? = nil,
                tokenizer: TokenizerPreference? = nil, addSpecialTokens: Bool? = nil, skipSpecialTokens: Bool? = nil,
                decodeIncludesPrompt: Bool? = nil, promptFormat: PromptFormat? = nil, generation: GenerationParameters? = nil) {
        self.hubRepoID = hubRepoID
        self.localPath = localPath
        self.family = family
        self.dtype = dtype
        self.tokenizer = tokenizer
        self.addSpecialTokens = addSpecialTokens
        self.skipSpecialTokens = skipSpecialTokens
        self.decodeIncludesPrompt = decodeIncludesPrompt
        self.promptFormat = promptFormat
        self.generation = generation
    }

    enum CodingKeys: String, CodingKey {
        case family, dtype, tokenizer, generation
        case hubRepoID = "hub_repo_id"
        case localPath = "local_path"
        case addSpecialTokens = "add_special_tokens"
        case skipSpecialTokens = "skip_special_tokens"
        case decodeIncludesPrompt = "decode_includes_prompt"
        case promptFormat = "prompt_format"
    }
}

extension ModelPreset {
    /// This preset with `overrides` applied on top. Chain for several layers:
    /// `preset.applying(suite).applying(cli)`.
    public func applying(_ overrides: ModelPresetOverrides) -> ModelPreset {
        var p = self
        p.hubRepoID = overrides.hubRepoID ?? hubRepoID
        p.localPath = overrides.localPath ?? localPath
        p.family = overrides.family ?? family
        p.dtype = overrides.dtype ?? dtype
        p.tokenizer = overrides.tokenizer ?? tokenizer
        p.addSpecialTokens = overrides.addSpecialTokens ?? addSpecialTokens
        p.skipSpecialTokens = overrides.skipSpecialTokens ?? skipSpecialTokens
        p.decodeIncludesPrompt = overrides.decodeIncludesPrompt ?? decodeIncludesPrompt
        p.promptFormat = overrides.promptFormat ?? promptFormat
        if let generation = overrides.generation { p.generation = generation.merged(over: self.generation) }
        return p
    }
}
