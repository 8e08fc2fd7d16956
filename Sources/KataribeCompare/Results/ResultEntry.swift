import Foundation
import KataribeApp
import KataribeGeneration
import KataribeTensor
import KataribeTokenizers

/// One line of `results.jsonl`: a JSON object whose `type` is `sample`, `error` or `note`.
public enum ResultEntry: Codable, Sendable, Equatable {
    case sample(SampleRecord)
    case error(ErrorRecord)
    case note(NoteRecord)

    private enum TypeKey: String, CodingKey { case type }

    public init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: TypeKey.self).decode(String.self, forKey: .type)
        switch type {
        case "sample": self = .sample(try SampleRecord(from: decoder))
        case "error": self = .error(try ErrorRecord(from: decoder))
        case "note": self = .note(try NoteRecord(from: decoder))
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: [TypeKey.type], debugDescription: "unknown record type \"\(type)\""))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: TypeKey.self)
        switch self {
        case .sample(let record):
            try c.encode("sample", forKey: .type)
            try record.encode(to: encoder)
        case .error(let record):
            try c.encode("error", forKey: .type)
            try record.encode(to: encoder)
        case .note(let record):
            try c.encode("note", forKey: .type)
            try record.encode(to: encoder)
        }
    }

    /// The entry as one line of JSON (keys sorted, no newline inside: newlines in text are escaped).
    public func jsonLine() throws -> Data {
        var data = try Self.encoder.encode(self)
        data.append(0x0A)
        return data
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

/// A finished sample: everything needed to reproduce and to report it.
public struct SampleRecord: Codable, Sendable, Equatable {
    public var cellKey: String
    public var promptID: String
    public var promptTitle: String
    public var modelLabel: String
    public var source: ModelSource
    /// 0-based (reports and picks files number samples from 1).
    public var sampleIndex: Int
    public var seed: UInt64
    /// The effective generation settings, with `seed` set to this sample's seed.
    public var parameters: GenerationParameters
    public var settings: ModelSettings
    /// The prompt exactly as sent.
    public var prompt: String
    /// The generated continuation only.
    public var output: String
    /// The text as the model card prints it (see `PromptText.display`).
    public var display: String
    public var promptTokens: Int?
    public var outputTokens: Int
    public var stopReason: String
    public var timings: SampleTimings
    /// `local`, `endpoint` or `fake`.
    public var backend: String
    public var kataribeVersion: String
    /// ISO 8601, UTC.
    public var finishedAt: String

    public init(cellKey: String, promptID: String, promptTitle: String, modelLabel: String, source: ModelSource,
                sampleIndex: Int, seed: UInt64, parameters: GenerationParameters, settings: ModelSettings, prompt: String,
                output: String, display: String, promptTokens: Int?, outputTokens: Int, stopReason: String,
                timings: SampleTimings, backend: String, kataribeVersion: String, finishedAt: String) {
        self.cellKey = cellKey
        self.promptID = promptID
        self.promptTitle = promptTitle
        self.modelLabel = modelLabel
        self.source = source
        self.sampleIndex = sampleIndex
        self.seed = seed
        self.parameters = parameters
        self.settings = settings
        self.prompt = prompt
        self.output = output
        self.display = display
        self.promptTokens = promptTokens
        self.outputTokens = outputTokens
        self.stopReason = stopReason
        self.timings = timings
        self.backend = backend
        self.kataribeVersion = kataribeVersion
        self.finishedAt = finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case seed, parameters, settings, prompt, output, display, timings, backend, source
        case cellKey = "cell_key"
        case promptID = "prompt_id"
        case promptTitle = "prompt_title"
        case modelLabel = "model_label"
        case sampleIndex = "sample_index"
        case promptTokens = "prompt_tokens"
        case outputTokens = "output_tokens"
        case stopReason = "stop_reason"
        case kataribeVersion = "kataribe_version"
        case finishedAt = "finished_at"
    }
}

/// The preset fields that shape a run besides the generation settings.
public struct ModelSettings: Codable, Sendable, Equatable {
    public var preset: String
    public var family: ModelFamily
    /// The preset's (the model card's) dtype.
    public var dtype: ModelDType
    /// The suite's `dtype:`, the format the weights were loaded in; nil: as stored.
    public var weightFormat: String?
    public var tokenizer: TokenizerPreference
    public var promptFormat: PromptFormat
    public var addSpecialTokens: Bool
    public var skipSpecialTokens: Bool
    public var decodeIncludesPrompt: Bool

    public init(_ preset: ModelPreset, weightFormat: WeightFormat? = nil) {
        self.preset = preset.id
        family = preset.family
        dtype = preset.dtype
        self.weightFormat = weightFormat?.rawValue
        tokenizer = preset.tokenizer
        promptFormat = preset.promptFormat
        addSpecialTokens = preset.addSpecialTokens
        skipSpecialTokens = preset.skipSpecialTokens
        decodeIncludesPrompt = preset.decodeIncludesPrompt
    }

    enum CodingKeys: String, CodingKey {
        case preset, family, dtype, tokenizer
        case weightFormat = "weight_format"
        case promptFormat = "prompt_format"
        case addSpecialTokens = "add_special_tokens"
        case skipSpecialTokens = "skip_special_tokens"
        case decodeIncludesPrompt = "decode_includes_prompt"
    }
}

public struct SampleTimings: Codable, Sendable, Equatable {
    /// Loading the model this sample ran on (shared by all its samples in that run).
    public var loadSeconds: Double
    /// From the request to the first generated token, when the backend streams.
    public var firstTokenSeconds: Double?
    /// The whole sample: prompt processing and generation.
    public var generationSeconds: Double
    /// `output_tokens / generation_seconds`.
    public var tokensPerSecond: Double

    public init(loadSeconds: Double, firstTokenSeconds: Double?, generationSeconds: Double, tokensPerSecond: Double) {
        self.loadSeconds = loadSeconds
        self.firstTokenSeconds = firstTokenSeconds
        self.generationSeconds = generationSeconds
        self.tokensPerSecond = tokensPerSecond
    }

    enum CodingKeys: String, CodingKey {
        case loadSeconds = "load_seconds"
        case firstTokenSeconds = "first_token_seconds"
        case generationSeconds = "generation_seconds"
        case tokensPerSecond = "tokens_per_second"
    }
}

/// A model that failed to load (`stage: load`, one record per sample it would have produced) or a
/// sample that failed (`stage: generate`). A failed sample is not finished: a rerun tries it again.
public struct ErrorRecord: Codable, Sendable, Equatable {
    public enum Stage: String, Codable, Sendable { case load, generate }

    public var cellKey: String
    public var promptID: String
    public var modelLabel: String
    public var sampleIndex: Int
    public var stage: Stage
    public var message: String
    public var kataribeVersion: String
    public var at: String

    public init(cellKey: String, promptID: String, modelLabel: String, sampleIndex: Int, stage: Stage,
                message: String, kataribeVersion: String, at: String) {
        self.cellKey = cellKey
        self.promptID = promptID
        self.modelLabel = modelLabel
        self.sampleIndex = sampleIndex
        self.stage = stage
        self.message = message
        self.kataribeVersion = kataribeVersion
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case stage, message, at
        case cellKey = "cell_key"
        case promptID = "prompt_id"
        case modelLabel = "model_label"
        case sampleIndex = "sample_index"
        case kataribeVersion = "kataribe_version"
    }
}

/// Something the store repaired (e.g. a partial last line removed after a crash).
public struct NoteRecord: Codable, Sendable, Equatable {
    public var message: String
    public var at: String

    public init(message: String, at: String) {
        self.message = message
        self.at = at
    }
}

enum Timestamp {
    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}
