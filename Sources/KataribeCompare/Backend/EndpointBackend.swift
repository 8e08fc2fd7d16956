import AsyncHTTPClient
import Foundation
import KataribeGeneration
import NIOCore
import NIOHTTP1
import Synchronization

/// Runs samples on an OpenAI-compatible server (vLLM, TGI, `kataribe serve`) with one
/// `POST {base_url}/v1/completions` per sample. The prompt is sent already formatted; the body carries
/// the OpenAI fields `model`, `prompt`, `max_tokens`, `temperature`, `top_p`, `n` (always 1: every
/// sample has its own seed, so samples stay individually reproducible and resumable), `seed`, `stop`,
/// and the vLLM extensions `top_k` (-1 when disabled), `repetition_penalty`, `min_tokens`,
/// `skip_special_tokens`, `include_stop_str_in_output` (the transformers behaviour of keeping a matched
/// stop string), plus `typical_p` and `no_repeat_ngram_size` only when set. Greedy decoding is sent as
/// `temperature: 0`. The API key, when the model names `api_key_env`, goes in `Authorization: Bearer`.
///
/// Up to the model's `concurrency` requests are in flight at once (each on its own connection), for
/// servers that run several in parallel.
///
/// Any failure (connection refused, timeout, an HTTP error status, a body that is not a completion)
/// throws `EndpointError`, which fails that sample only. After `maxConsecutiveTransportFailures`
/// requests in a row could not reach the server, the model's remaining samples fail at once instead
/// of each waiting out the connect timeout (a rerun tries them again).
public struct EndpointBackend: CompareBackend {
    /// Limit for one completion request.
    public var requestTimeout: Duration
    public var connectTimeout: Duration
    /// Where `api_key_env` is looked up (the process environment by default).
    public var environment: [String: String]
    public var maxConsecutiveTransportFailures: Int

    public init(requestTimeout: Duration = .seconds(600), connectTimeout: Duration = .seconds(10),
                environment: [String: String] = ProcessInfo.processInfo.environment,
                maxConsecutiveTransportFailures: Int = 3) {
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.environment = environment
        self.maxConsecutiveTransportFailures = maxConsecutiveTransportFailures
    }

    public func load(_ model: PlannedModel, samplesPerCell: Int) async throws -> any CompareModelSession {
        guard case .endpoint(let config) = model.source else { throw EndpointError.notAnEndpoint(label: model.label) }
        var apiKey: String?
        if let variable = config.apiKeyEnv {
            guard let value = environment[variable], !value.isEmpty else { throw EndpointError.missingAPIKey(variable: variable) }
            apiKey = value
        }
        let url = try Self.completionsURL(config.baseURL)
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .nanoseconds(Self.nanoseconds(connectTimeout)), read: .nanoseconds(Self.nanoseconds(requestTimeout))),
            decompression: .enabled(limit: .ratio(50))
        )
        // An HTTP/1.1 connection carries one request at a time; beyond the pool's limit requests would
        // queue in the client instead of running on the server.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit =
            max(configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit, config.concurrency)
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        return EndpointSession(client: client, url: url, config: config, apiKey: apiKey, timeout: requestTimeout,
                               maxTransportFailures: maxConsecutiveTransportFailures)
    }

    /// `{base}/v1/completions`, accepting a base that already ends in `/v1`.
    static func completionsURL(_ baseURL: String) throws -> String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/v1") { base.removeLast(3) }
        guard let url = URL(string: base + "/v1/completions"), url.host != nil,
              ["http", "https"].contains(url.scheme?.lowercased() ?? "") else {
            throw EndpointError.invalidURL(baseURL)
        }
        return url.absoluteString
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The request body for one sample.
    static func requestBody(_ request: SampleRequest, model: String) throws -> CompletionRequest {
        let p = try request.parameters.resolved()
        guard let maxTokens = p.maxNewTokens else {
            throw EndpointError.badRequest(reason: "max_new_tokens must be set for an endpoint")
        }
        var body = CompletionRequest(model: model, prompt: request.prompt, maxTokens: maxTokens, n: 1, seed: request.seed)
        if p.doSample {
            body.temperature = p.temperature
            body.topP = p.topP
            body.topK = p.topK > 0 ? p.topK : -1
            if p.typicalP != 1 { body.typicalP = p.typicalP }
        } else {
            body.temperature = 0
        }
        body.repetitionPenalty = p.repetitionPenalty
        body.minTokens = p.minNewTokens
        if p.noRepeatNgramSize > 0 { body.noRepeatNgramSize = p.noRepeatNgramSize }
        if !p.stopStrings.isEmpty {
            body.stop = p.stopStrings
            body.includeStopStrInOutput = p.stopStringHandling == .keep
        }
        body.skipSpecialTokens = request.preset.skipSpecialTokens
        return body
    }
}

/// `POST /v1/completions` body.
struct CompletionRequest: Codable, Equatable {
    var model: String
    var prompt: String
    var maxTokens: Int
    var temperature: Double?
    var topP: Double?
    var n: Int
    var seed: UInt64
    var stop: [String]?
    var topK: Int?
    var repetitionPenalty: Double?
    var minTokens: Int?
    var typicalP: Double?
    var noRepeatNgramSize: Int?
    var skipSpecialTokens: Bool?
    var includeStopStrInOutput: Bool?
    var stream = false

    init(model: String, prompt: String, maxTokens: Int, n: Int, seed: UInt64) {
        self.model = model
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.n = n
        self.seed = seed
    }

    enum CodingKeys: String, CodingKey {
        case model, prompt, temperature, n, seed, stop, stream
        case maxTokens = "max_tokens"
        case topP = "top_p"
        case topK = "top_k"
        case repetitionPenalty = "repetition_penalty"
        case minTokens = "min_tokens"
        case typicalP = "typical_p"
        case noRepeatNgramSize = "no_repeat_ngram_size"
        case skipSpecialTokens = "skip_special_tokens"
        case includeStopStrInOutput = "include_stop_str_in_output"
    }
}

/// The parts of a completion response Kataribe reads.
struct CompletionResponse: Decodable {
    struct Choice: Decodable {
        var text: String
        var finishReason: String?
        /// vLLM: the matched stop string (a string) or stop token id (a number); nil for eos/length.
        var stopReason: StopMatch?

        enum CodingKeys: String, CodingKey {
            case text
            case finishReason = "finish_reason"
            case stopReason = "stop_reason"
        }
    }

    enum StopMatch: Decodable {
        case string(String)
        case token(Int)

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .string(s) } else { self = .token(try c.decode(Int.self)) }
        }
    }

    struct Usage: Decodable {
        var promptTokens: Int?
        var completionTokens: Int?

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
        }
    }

    var choices: [Choice]
    var usage: Usage?

    /// `finish_reason` in Kataribe's terms: `length`, `stop_string` (a stop string matched), `eos`.
    static func stopReason(_ choice: Choice) -> String {
        switch choice.finishReason {
        case "length": return StopReason.length.rawValue
        case "stop":
            if case .string = choice.stopReason { return StopReason.stopString.rawValue }
            return StopReason.eos.rawValue
        case let other?: return other
        case nil: return StopReason.eos.rawValue
        }
    }
}

final class EndpointSession: CompareModelSession {
    let client: HTTPClient
    let url: String
    let config: EndpointConfig
    let apiKey: String?
    let timeout: Duration
    let maxTransportFailures: Int
    /// Consecutive requests that could not reach the server, and the last reason.
    private let unreachable = Mutex<(count: Int, reason: String)>((0, ""))
    var backendName: String { "endpoint" }
    var maxConcurrentSamples: Int { max(1, config.concurrency) }

    static let responseLimit = 32 << 20

    init(client: HTTPClient, url: String, config: EndpointConfig, apiKey: String?, timeout: Duration, maxTransportFailures: Int) {
        self.client = client
        self.url = url
        self.config = config
        self.apiKey = apiKey
        self.timeout = timeout
        self.maxTransportFailures = maxTransportFailures
    }

    func generate(_ request: SampleRequest, progress: @escaping @Sendable (Int) -> Void) async throws -> SampleOutput {
        let body = try EndpointBackend.requestBody(request, model: config.model)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var httpRequest = HTTPClientRequest(url: url)
        httpRequest.method = .POST
        httpRequest.headers.add(name: "Content-Type", value: "application/json")
        httpRequest.headers.add(name: "Accept", value: "application/json")
        if let apiKey { httpRequest.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        httpRequest.body = .bytes(ByteBuffer(bytes: try encoder.encode(body)))

        let failures = unreachable.withLock { $0 }
        if failures.count >= maxTransportFailures {
            throw EndpointError.transport(url: url, reason: "not tried after \(failures.count) requests in a row failed (\(failures.reason))")
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(httpRequest, timeout: .nanoseconds(EndpointBackend.nanoseconds(timeout)))
            bytes = try await response.body.collect(upTo: Self.responseLimit)
        } catch let error as CancellationError {
            throw error
        } catch {
            let reason = Self.describe(error)
            unreachable.withLock { $0 = ($0.count + 1, reason) }
            throw EndpointError.transport(url: url, reason: reason)
        }
        unreachable.withLock { $0 = (0, "") }
        let data = Data(bytes.readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw EndpointError.http(status: Int(response.status.code), url: url, body: Self.snippet(data))
        }
        let decoded: CompletionResponse
        do {
            decoded = try JSONDecoder().decode(CompletionResponse.self, from: data)
        } catch {
            throw EndpointError.badResponse(url: url, reason: "not a completion response (\(Self.snippet(data)))")
        }
        guard let choice = decoded.choices.first else {
            throw EndpointError.badResponse(url: url, reason: "the response has no choices")
        }
        let outputTokens = decoded.usage?.completionTokens ?? 0
        progress(outputTokens)
        return SampleOutput(text: choice.text, promptTokens: decoded.usage?.promptTokens, outputTokens: outputTokens,
                            stopReason: CompletionResponse.stopReason(choice))
    }

    func close() async {
        try? await client.shutdown()
    }

    static func snippet(_ data: Data) -> String {
        let text = String(decoding: data.prefix(300), as: UTF8.self)
        return text.isEmpty ? "empty body" : text.replacingOccurrences(of: "\n", with: " ")
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return "\(error)" }
        return String(describing: error)
    }
}

public enum EndpointError: Error, CustomStringConvertible, Equatable, Sendable {
    case notAnEndpoint(label: String)
    case missingAPIKey(variable: String)
    case invalidURL(String)
    case badRequest(reason: String)
    case transport(url: String, reason: String)
    case http(status: Int, url: String, body: String)
    case badResponse(url: String, reason: String)

    public var description: String {
        switch self {
        case .notAnEndpoint(let label): return "\(label) is not an endpoint model"
        case .missingAPIKey(let variable): return "the environment variable \(variable) (api_key_env) is not set"
        case .invalidURL(let url): return "\(url): not an http(s) base URL"
        case .badRequest(let reason): return "cannot build the request: \(reason)"
        case let .transport(url, reason): return "\(url): request failed: \(reason)"
        case let .http(status, url, body): return "\(url): HTTP \(status): \(body)"
        case let .badResponse(url, reason): return "\(url): \(reason)"
        }
    }
}
