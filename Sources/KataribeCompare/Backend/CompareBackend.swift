import KataribeApp
import KataribeGeneration

/// Where samples come from. The runner loads one model at a time through `load`, runs all of that
/// model's pending samples on the returned session, and closes it before loading the next model, so
/// at most one model is in memory.
public protocol CompareBackend: Sendable {
    /// `samplesPerCell` is the plan's `samples`, for backends that size their batches by it.
    func load(_ model: PlannedModel, samplesPerCell: Int) async throws -> any CompareModelSession
}

extension CompareBackend {
    /// Loads `model` for one sample per cell.
    public func load(_ model: PlannedModel) async throws -> any CompareModelSession {
        try await load(model, samplesPerCell: 1)
    }
}

/// A loaded model.
public protocol CompareModelSession: Sendable {
    /// Recorded with every sample (`local`, `endpoint`, `fake`).
    var backendName: String { get }
    /// How many `generate` calls the runner keeps in flight at once (at least 1). A backend that
    /// gains from concurrent requests (a batching model, a server with parallel slots) says so here;
    /// `generate` must then be safe to call concurrently.
    var maxConcurrentSamples: Int { get }
    /// Generates one sample. `progress` receives the number of tokens generated so far (backends that
    /// do not stream call it once at the end). Throwing fails only this sample.
    func generate(_ request: SampleRequest, progress: @escaping @Sendable (Int) -> Void) async throws -> SampleOutput
    /// Frees the model. Called exactly once, after its last `generate` returned and before the next
    /// model loads.
    func close() async
}

extension CompareModelSession {
    public var maxConcurrentSamples: Int { 1 }
}

/// One sample to generate.
public struct SampleRequest: Sendable, Equatable {
    public var modelLabel: String
    public var promptID: String
    /// 0-based.
    public var sampleIndex: Int
    /// The prompt exactly as the model must see it (chat formatting already applied).
    public var prompt: String
    /// Effective settings with `seed` set to this sample's seed and one sequence requested.
    public var parameters: GenerationParameters
    /// The model's effective preset (tokenizer, special tokens, dtype).
    public var preset: ModelPreset

    public init(modelLabel: String, promptID: String, sampleIndex: Int, prompt: String,
                parameters: GenerationParameters, preset: ModelPreset) {
        self.modelLabel = modelLabel
        self.promptID = promptID
        self.sampleIndex = sampleIndex
        self.prompt = prompt
        self.parameters = parameters
        self.preset = preset
    }

    public var seed: UInt64 { parameters.seed ?? 0 }
}

/// What a backend produced for one sample.
public struct SampleOutput: Sendable, Equatable {
    /// The generated continuation only (decoded per the preset's `skip_special_tokens`).
    public var text: String
    public var promptTokens: Int?
    public var outputTokens: Int
    /// A `StopReason` raw value (`eos`, `length`, `stop_string`, `cancelled`) or a server's own reason.
    public var stopReason: String
    public var firstTokenSeconds: Double?

    public init(text: String, promptTokens: Int?, outputTokens: Int, stopReason: String, firstTokenSeconds: Double? = nil) {
        self.text = text
        self.promptTokens = promptTokens
        self.outputTokens = outputTokens
        self.stopReason = stopReason
        self.firstTokenSeconds = firstTokenSeconds
    }
}

/// Sends endpoint models to one backend and in-process models to another.
public struct RoutingBackend: CompareBackend {
    public var local: any CompareBackend
    public var endpoint: any CompareBackend

    public init(local: any CompareBackend, endpoint: any CompareBackend = EndpointBackend()) {
        self.local = local
        self.endpoint = endpoint
    }

    public func load(_ model: PlannedModel, samplesPerCell: Int) async throws -> any CompareModelSession {
        switch model.source {
        case .local: return try await local.load(model, samplesPerCell: samplesPerCell)
        case .endpoint: return try await endpoint.load(model, samplesPerCell: samplesPerCell)
        }
    }
}

/// A backend that cannot load anything, with the reason (e.g. in-process generation not built in).
public struct UnavailableBackend: CompareBackend {
    public struct Unavailable: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public var reason: String

    public init(reason: String) { self.reason = reason }

    public func load(_ model: PlannedModel, samplesPerCell: Int) async throws -> any CompareModelSession {
        throw Unavailable(description: "\(model.label): \(reason)")
    }
}
