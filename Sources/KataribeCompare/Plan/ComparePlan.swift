import Foundation
import KataribeApp
import KataribeGeneration
import KataribeHub
import KataribeTensor
import KataribeTokenizers

/// Command-line overrides; they win over the suite's and the models' settings.
public struct CompareOverrides: Sendable, Equatable {
    public var samples: Int?
    public var seed: UInt64?
    /// Layered over every model's effective generation settings.
    public var generation: GenerationParameters

    public init(samples: Int? = nil, seed: UInt64? = nil, generation: GenerationParameters = GenerationParameters()) {
        self.samples = samples
        self.seed = seed
        self.generation = generation
    }
}

/// The suite resolved into cells: every (model, prompt) pair with its prompt text as sent, its
/// effective parameters and its key. Saved as `plan.json` beside the results so reports can be rebuilt
/// from the output folder alone.
public struct ComparePlan: Codable, Sendable, Equatable {
    public var name: String
    public var title: String
    public var suiteFile: String?
    public var samples: Int
    public var seed: UInt64
    public var models: [PlannedModel]
    public var prompts: [SuitePrompt]
    /// Prompt-major order: all models for the first prompt, then the second prompt, ...
    public var cells: [PlannedCell]

    public init(name: String, title: String, suiteFile: String?, samples: Int, seed: UInt64,
                models: [PlannedModel], prompts: [SuitePrompt], cells: [PlannedCell]) {
        self.name = name
        self.title = title
        self.suiteFile = suiteFile
        self.samples = samples
        self.seed = seed
        self.models = models
        self.prompts = prompts
        self.cells = cells
    }

    /// Applies `overrides` and checks every model's effective generation settings the way transformers
    /// would (errors name the model's line in the suite file).
    public init(suite: CompareSuite, overrides: CompareOverrides = CompareOverrides()) throws(CompareInputError) {
        let samples = overrides.samples ?? suite.samples
        guard (1...1000).contains(samples) else {
            throw CompareInputError(.invalidValue(value: "\(samples)", reason: "samples must be between 1 and 1000"),
                                    keyPath: "--samples")
        }
        let seed = overrides.seed ?? suite.seed
        // Command-line settings are held to the same rules as the suite's own (GenerationParameterRules).
        do {
            try overrides.generation.validate()
        } catch .invalid(let name, let value, let reason) {
            throw CompareInputError(.invalidValue(value: value, reason: reason), keyPath: name)
        } catch {
            throw CompareInputError(.invalidValue(value: "", reason: error.description), keyPath: "generation")
        }
        var models: [PlannedModel] = []
        for model in suite.models {
            var preset = model.preset
            preset.generation = overrides.generation.merged(over: preset.generation)
            let located = { (reason: String) in
                CompareInputError(.invalidGeneration(modelLabel: model.label, reason: reason), file: suite.file, line: model.line)
            }
            do {
                let resolved = try preset.generation.resolved()
                if case .endpoint = model.source, resolved.maxNewTokens == nil {
                    throw located("an endpoint model needs max_new_tokens (in its preset, `generation:` or --max-new-tokens)")
                }
            } catch let error as GenerationParameterError {
                throw located(error.description)
            } catch let error as CompareInputError {
                throw error
            } catch {
                throw located("\(error)")
            }
            models.append(PlannedModel(label: model.label, source: model.source, preset: preset,
                                       presetOrigin: model.presetOrigin, weightFormat: model.weightFormat))
        }
        var cells: [PlannedCell] = []
        for prompt in suite.prompts {
            for model in models {
                guard let sent = PromptText.asSent(prompt, format: model.preset.promptFormat) else {
                    throw CompareInputError(.missingPromptText(
                        promptID: prompt.id, field: PromptText.field(for: model.preset.promptFormat),
                        modelLabel: model.label), file: suite.file)
                }
                cells.append(PlannedCell(model: model, promptID: prompt.id, prompt: sent, suiteSeed: seed))
            }
        }
        self.init(name: suite.name, title: suite.title, suiteFile: suite.file, samples: samples, seed: seed,
                  models: models, prompts: suite.prompts, cells: cells)
    }

    public func model(_ label: String) -> PlannedModel? { models.first { $0.label == label } }
    public func prompt(_ id: String) -> SuitePrompt? { prompts.first { $0.id == id } }
    public func cell(model label: String, prompt id: String) -> PlannedCell? {
        cells.first { $0.modelLabel == label && $0.promptID == id }
    }

    /// Checks `--models` / `--prompts` names, with a suggestion for a misspelling.
    public func validate(selection: CompareSelection) throws(CompareInputError) {
        for label in selection.models ?? [] where model(label) == nil {
            throw CompareInputError(.unknownName(kind: "model label", name: label,
                                                 suggestion: DidYouMean.suggestion(for: label, among: models.map(\.label))),
                                    keyPath: "--models")
        }
        for id in selection.prompts ?? [] where prompt(id) == nil {
            throw CompareInputError(.unknownName(kind: "prompt id", name: id,
                                                 suggestion: DidYouMean.suggestion(for: id, among: prompts.map(\.id))),
                                    keyPath: "--prompts")
        }
    }
}

/// Which part of a plan to run (nil: all). Reports always cover the whole plan.
public struct CompareSelection: Sendable, Equatable {
    public var models: [String]?
    public var prompts: [String]?

    public init(models: [String]? = nil, prompts: [String]? = nil) {
        self.models = models
        self.prompts = prompts
    }

    public func includes(_ cell: PlannedCell) -> Bool {
        (models?.contains(cell.modelLabel) ?? true) && (prompts?.contains(cell.promptID) ?? true)
    }
}

/// One column of a plan, with its settings final.
public struct PlannedModel: Codable, Sendable, Equatable {
    public var label: String
    public var source: ModelSource
    /// Effective preset; `preset.generation` includes suite, model and command-line overrides.
    public var preset: ModelPreset
    /// How the preset was chosen; `inferred` makes the local backend say so when it loads the model.
    public var presetOrigin: PresetOrigin
    /// The suite's `dtype:` (nil: as stored), applied when the model loads.
    public var weightFormat: WeightFormat?

    public init(label: String, source: ModelSource, preset: ModelPreset, presetOrigin: PresetOrigin = .matched,
                weightFormat: WeightFormat? = nil) {
        self.label = label
        self.source = source
        self.preset = preset
        self.presetOrigin = presetOrigin
        self.weightFormat = weightFormat
    }

    /// The reports' dtype column: what the weights were loaded as.
    public var dtypeShown: String { weightFormat?.rawValue ?? "as stored" }

    enum CodingKeys: String, CodingKey {
        case label, source, preset
        case presetOrigin = "preset_origin"
        case weightFormat = "dtype"
    }

    // plan.json files written before `dtype` and `preset_origin` existed still decode (as stored, matched).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        label = try c.decode(String.self, forKey: .label)
        source = try c.decode(ModelSource.self, forKey: .source)
        preset = try c.decode(ModelPreset.self, forKey: .preset)
        presetOrigin = try c.decodeIfPresent(PresetOrigin.self, forKey: .presetOrigin) ?? .matched
        if let name = try c.decodeIfPresent(String.self, forKey: .weightFormat) {
            guard let format = WeightFormat(dtypeName: name) else {
                throw DecodingError.dataCorruptedError(forKey: .weightFormat, in: c, debugDescription: "unknown dtype \"\(name)\"")
            }
            weightFormat = format
        } else {
            weightFormat = nil
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(label, forKey: .label)
        try c.encode(source, forKey: .source)
        try c.encode(preset, forKey: .preset)
        try c.encode(presetOrigin, forKey: .presetOrigin)
        try c.encodeIfPresent(weightFormat?.rawValue, forKey: .weightFormat)
    }
}

/// One (model, prompt) cell.
public struct PlannedCell: Codable, Sendable, Equatable {
    public var modelLabel: String
    public var promptID: String
    /// The prompt exactly as sent to the model (chat formatting applied).
    public var prompt: String
    /// Effective generation settings without a seed (each sample gets its own, `seed(sample:)`).
    public var parameters: GenerationParameters
    public var suiteSeed: UInt64
    /// Identifies the cell's effective settings; see `CellKey`.
    public var key: String

    public init(model: PlannedModel, promptID: String, prompt: String, suiteSeed: UInt64) {
        modelLabel = model.label
        self.promptID = promptID
        self.prompt = prompt
        parameters = model.preset.generation
        self.suiteSeed = suiteSeed
        key = CellKey.key(model: model, promptID: promptID, prompt: prompt, suiteSeed: suiteSeed)
    }

    public func seed(sample index: Int) -> UInt64 {
        SampleSeeds.seed(suiteSeed: suiteSeed, modelLabel: modelLabel, promptID: promptID, sampleIndex: index)
    }

    enum CodingKeys: String, CodingKey {
        case prompt, parameters, key
        case modelLabel = "model_label"
        case promptID = "prompt_id"
        case suiteSeed = "suite_seed"
    }
}

/// The key under which a cell's samples are stored. A finished sample counts for a later run only if
/// that run computes the same key, i.e. when nothing that can change the text changed:
///
/// - the model label and source (local reference, or endpoint base URL + model name),
/// - the effective preset fields used to run it (family, dtype, tokenizer, special-token handling,
///   `decode_includes_prompt`, prompt format), the suite's `dtype:` when it sets one (the format the
///   weights are loaded in) and the effective generation settings,
/// - the prompt id and the prompt text as sent, and the suite seed (sample seeds derive from it).
///
/// The number of samples is not part of the key: raising `samples` keeps the finished ones and adds
/// the rest. The key is the first 16 hex digits of the SHA-256 of the canonical (key-sorted) JSON of
/// those fields. An API key, an endpoint's `concurrency` or the Kataribe version never changes it.
public enum CellKey {
    struct Identity: Encodable {
        let format = "kataribe-compare-cell-v1"
        let label: String
        let source: ModelSource
        let family: ModelFamily
        let dtype: ModelDType
        let tokenizer: TokenizerPreference
        let addSpecialTokens: Bool
        let skipSpecialTokens: Bool
        let decodeIncludesPrompt: Bool
        let promptFormat: PromptFormat
        /// Left out when nil, so cells of suites without `dtype:` keep the keys they had before it was applied.
        let weightFormat: String?
        let generation: GenerationParameters
        let promptID: String
        let prompt: String
        let suiteSeed: UInt64

        enum CodingKeys: String, CodingKey {
            case format, label, source, family, dtype, tokenizer, generation, prompt
            case addSpecialTokens = "add_special_tokens"
            case skipSpecialTokens = "skip_special_tokens"
            case decodeIncludesPrompt = "decode_includes_prompt"
            case promptFormat = "prompt_format"
            case weightFormat = "weight_format"
            case promptID = "prompt_id"
            case suiteSeed = "suite_seed"
        }
    }

    public static func key(model: PlannedModel, promptID: String, prompt: String, suiteSeed: UInt64) -> String {
        var source = model.source
        if case .endpoint(var endpoint) = source {
            endpoint.apiKeyEnv = nil
            endpoint.concurrency = 1
            source = .endpoint(endpoint)
        }
        let p = model.preset
        let identity = Identity(label: model.label, source: source, family: p.family, dtype: p.dtype, tokenizer: p.tokenizer,
                                addSpecialTokens: p.addSpecialTokens, skipSpecialTokens: p.skipSpecialTokens,
                                decodeIncludesPrompt: p.decodeIncludesPrompt, promptFormat: p.promptFormat,
                                weightFormat: model.weightFormat?.rawValue, generation: p.generation, promptID: promptID, prompt: prompt, suiteSeed: suiteSeed)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain values and strings cannot fail; an empty payload would still give a stable key.
        let json = (try? encoder.encode(identity)) ?? Data()
        return String(SHA256.hash(json).prefix(16))
    }
}
