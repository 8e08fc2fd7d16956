import KataribeGeneration
import KataribeHub
import KataribeModels
import KataribeTokenizers

/// Why a model name could not be turned into a loaded model. Each case names what was asked for and
/// the reason; file problems carry the underlying error, which names the file.
public enum ModelLoadError: Error, CustomStringConvertible, Sendable {
    /// Not a folder, demo model, preset or hub id (`ORG/NAME`).
    case unknownModel(name: String, demos: [String], presets: [String])
    /// A demo model name, but its folder is in none of the places searched.
    case demoModelNotFound(name: String, searched: [String])
    /// `preset` was forced by name but no preset has that id.
    case unknownPreset(name: String, known: [String])
    /// Finding or downloading the model failed (missing folder, hub error, offline cache miss).
    case location(name: String, error: HubError)
    case model(ModelError)
    case tokenizer(TokenizerError)
    /// `generation_config.json` (or `config.json` when it is absent) could not be read as generation settings.
    case generationConfig(file: String, reason: String)
    /// Something else went wrong while locating the model (a `ModelSource` error).
    case other(name: String, reason: String)
    /// The prompt format is `template` but the folder's chat template cannot be read or used.
    case chatTemplate(ChatTemplateFileError)
    /// The prompt format is `template` but the folder has no chat template.
    case noChatTemplate(folder: String)

    public var description: String {
        switch self {
        case let .unknownModel(name, demos, presets):
            return "unknown model \"\(name)\". Give a model folder, a Hugging Face id (ORG/NAME), "
                + "a demo model (\(demos.joined(separator: ", "))) or a preset (\(presets.joined(separator: ", "))); "
                + "`kataribe models` lists them"
        case let .demoModelNotFound(name, searched):
            return "demo model \"\(name)\" was not found; looked in \(searched.joined(separator: ", ")). "
                + "Set KATARIBE_MODELS_DIR to the folder holding \(name)/"
        case let .unknownPreset(name, known):
            return "unknown preset \"\(name)\"; known presets: \(known.joined(separator: ", "))"
        case let .location(name, error):
            return "cannot find model \"\(name)\": \(error.description)"
        case let .model(error): return error.description
        case let .tokenizer(error): return error.description
        case let .generationConfig(file, reason): return "\(file): cannot read generation settings: \(reason)"
        case let .other(name, reason): return "cannot find model \"\(name)\": \(reason)"
        case let .chatTemplate(error): return "cannot use the model's chat template: \(error.description) "
            + "(choose another prompt format with --format, or `prompt_format:` in a suite)"
        case let .noChatTemplate(folder):
            return PromptFormatError.noChatTemplate(model: folder).description
        }
    }
}

/// Why a generation request could not start or had to stop.
public enum TextGenerationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The prompt plus `max_new_tokens` does not fit the model's context (numbers included).
    case promptTooLong(promptTokens: Int, maxNewTokens: Int, contextLength: Int)
    /// The prompt encodes to no tokens.
    case emptyPrompt
    case parameters(GenerationParameterError)
    case context(ContextLengthError)
    /// A conversation for a model whose prompt format has no turns (plain completion models).
    case chatNotSupported(model: String, format: PromptFormat)
    /// A conversation that does not end with a user turn (there is nothing to reply to).
    case conversationMustEndWithUser
    /// A prompt token id the model does not have.
    case tokenOutOfRange(token: Int, vocabularySize: Int)
    /// The prompt format cannot write this input (the model's chat template raised for it).
    case promptFormat(PromptFormatError)
    case model(ModelError)
    case sampling(SamplingError)

    public var description: String {
        switch self {
        case let .promptTooLong(prompt, maxNew, context):
            return "the prompt has \(prompt) tokens and max_new_tokens is \(maxNew), together \(prompt + maxNew), "
                + "but the model's context length is \(context). Shorten the prompt (at most \(max(0, context - maxNew)) "
                + "tokens), lower max_new_tokens, or allow left truncation (--truncate)"
        case .emptyPrompt: return "the prompt is empty (it encodes to no tokens)"
        case let .parameters(error): return error.description
        case let .context(error): return error.description
        case let .chatNotSupported(model, format):
            return "\(model) uses the \(format.name) prompt format, which has no chat turns; "
                + "chat needs an instruction model such as demo-rinna-sft (or force --format rinna-chat)"
        case .conversationMustEndWithUser: return "the conversation must end with a user turn to reply to"
        case let .tokenOutOfRange(token, size): return "prompt token id \(token) is outside the vocabulary (0..<\(size))"
        case let .promptFormat(error): return error.description
        case let .model(error): return error.description
        case let .sampling(error): return error.description
        }
    }
}
