import KataribeApp
import KataribeGeneration
import KataribeTensor

/// A comparison experiment as read from a suite file: which models, which prompts, how many samples.
///
/// Every model entry is already resolved to its effective preset (catalog preset ← the entry's
/// overrides) and effective generation settings (preset ← suite `generation` ← entry `generation`);
/// command-line overrides are applied later by `ComparePlan`.
public struct CompareSuite: Sendable, Equatable {
    /// Names the default output folder (`kataribe-results/<name>`); the file name without extension
    /// unless the file sets `name`.
    public var name: String
    /// Heading of the reports (defaults to `name`).
    public var title: String
    /// Where the suite was read from (nil for suites built in code).
    public var file: String?
    /// Samples per (model, prompt) cell.
    public var samples: Int
    /// The seed every sample seed is derived from (see `SampleSeeds`).
    public var seed: UInt64
    public var models: [SuiteModel]
    public var prompts: [SuitePrompt]

    public init(name: String, title: String? = nil, file: String? = nil, samples: Int, seed: UInt64,
                models: [SuiteModel], prompts: [SuitePrompt]) {
        self.name = name
        self.title = title ?? name
        self.file = file
        self.samples = samples
        self.seed = seed
        self.models = models
        self.prompts = prompts
    }

    public static let defaultSamples = 3
    public static let defaultSeed: UInt64 = 0
}

/// One column of the comparison.
public struct SuiteModel: Sendable, Equatable {
    /// Unique name in tables, `--models` and picks files.
    public var label: String
    public var source: ModelSource
    /// The catalog preset with the entry's overrides applied; `preset.generation` is the effective
    /// generation before command-line overrides.
    public var preset: ModelPreset
    /// How the preset was chosen (`inferred`: the folder matched none, see `PresetInference`).
    public var presetOrigin: PresetOrigin
    /// The entry's `dtype:`, the format the weights are loaded in; nil loads them as stored, as
    /// `kataribe generate` does without `--dtype`.
    public var weightFormat: WeightFormat?
    /// Line of the entry in the suite file, for errors found later.
    public var line: Int?

    public init(label: String, source: ModelSource, preset: ModelPreset, presetOrigin: PresetOrigin = .matched,
                weightFormat: WeightFormat? = nil, line: Int? = nil) {
        self.label = label
        self.source = source
        self.preset = preset
        self.presetOrigin = presetOrigin
        self.weightFormat = weightFormat
        self.line = line
    }
}

/// Where a model runs.
public enum ModelSource: Sendable, Equatable, Codable, CustomStringConvertible {
    /// In this process: a demo model, a preset id, a Hugging Face id or a local folder, as every
    /// command takes them (`ModelResolver`).
    case local(String)
    /// An OpenAI-compatible server (`POST {base_url}/v1/completions`).
    case endpoint(EndpointConfig)

    public var description: String {
        switch self {
        case .local(let reference): return reference
        case .endpoint(let endpoint): return "\(endpoint.model) @ \(endpoint.baseURL)"
        }
    }

    private enum CodingKeys: String, CodingKey { case model, endpoint }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let endpoint = try c.decodeIfPresent(EndpointConfig.self, forKey: .endpoint) {
            self = .endpoint(endpoint)
        } else {
            self = .local(try c.decode(String.self, forKey: .model))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .local(let reference): try c.encode(reference, forKey: .model)
        case .endpoint(let endpoint): try c.encode(endpoint, forKey: .endpoint)
        }
    }
}

/// An OpenAI-compatible completions server (vLLM, TGI, `kataribe serve`).
public struct EndpointConfig: Sendable, Equatable, Codable {
    /// e.g. `http://gpu-node-1:8000` (a trailing `/v1` is accepted and not doubled).
    public var baseURL: String
    /// The `model` field of each request.
    public var model: String
    /// Environment variable holding the API key, sent as `Authorization: Bearer …`.
    public var apiKeyEnv: String?
    /// Requests sent at once (at least 1), for a server that runs several in parallel (vLLM,
    /// `kataribe serve --parallel N`). It decides how samples are scheduled, not what they are, so no
    /// cell key depends on it.
    public var concurrency: Int

    public init(baseURL: String, model: String, apiKeyEnv: String? = nil, concurrency: Int = 1) {
        self.baseURL = baseURL
        self.model = model
        self.apiKeyEnv = apiKeyEnv
        self.concurrency = concurrency
    }

    enum CodingKeys: String, CodingKey {
        case model, concurrency
        case baseURL = "base_url"
        case apiKeyEnv = "api_key_env"
    }

    // Written only when not 1, so plans, results and cell keys of suites without `concurrency` stay
    // as they were before it existed (and still decode).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        baseURL = try c.decode(String.self, forKey: .baseURL)
        model = try c.decode(String.self, forKey: .model)
        apiKeyEnv = try c.decodeIfPresent(String.self, forKey: .apiKeyEnv)
        concurrency = try c.decodeIfPresent(Int.self, forKey: .concurrency) ?? 1
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(baseURL, forKey: .baseURL)
        try c.encode(model, forKey: .model)
        try c.encodeIfPresent(apiKeyEnv, forKey: .apiKeyEnv)
        if concurrency != 1 { try c.encode(concurrency, forKey: .concurrency) }
    }
}

/// One row of the comparison: the same task phrased for base models and for chat models.
public struct SuitePrompt: Sendable, Equatable, Codable {
    public var id: String
    public var title: String
    /// Text a plain (completion) model continues, e.g. `昔々あるところに、`.
    public var completion: String?
    /// Request given to chat-format models as the user's turn.
    public var instruction: String?

    public init(id: String, title: String? = nil, completion: String?, instruction: String?) {
        self.id = id
        self.title = title ?? id
        self.completion = completion
        self.instruction = instruction
    }
}
