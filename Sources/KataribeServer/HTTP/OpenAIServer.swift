import Foundation
import Hummingbird
import KataribeApp
import Logging
import NIOCore

/// How `OpenAIServer` listens and what it accepts.
public struct ServerConfiguration: Sendable {
    /// The address to bind; loopback unless the server is meant to be reachable from elsewhere.
    public var host: String
    /// 0 picks a free port (see `OpenAIServer.run(onListening:)`).
    public var port: Int
    /// When set, `/v1` requests must send `Authorization: Bearer <apiKey>` (401 otherwise).
    public var apiKey: String?
    /// Requests that may wait for the model while another runs; one more gets 429.
    public var maxQueue: Int
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes: Int
    /// Largest `max_tokens` a request may ask for (400 beyond); nil: the context length is the limit.
    public var maxTokens: Int?
    /// Largest `n`.
    public var maxChoices: Int
    /// The model id clients see in `/v1/models` and responses; nil uses the loaded model's name.
    public var modelID: String?
    /// A pause after each generated token (tests and demos: makes a tiny model's generation last).
    public var tokenPacing: Duration?
    /// Hummingbird's log messages at or above this level go to stderr.
    public var logLevel: Logger.Level

    public init(host: String = "127.0.0.1", port: Int = 8080, apiKey: String? = nil, maxQueue: Int = 16,
                maxBodyBytes: Int = 1 << 20, maxTokens: Int? = nil, maxChoices: Int = 8, modelID: String? = nil,
                tokenPacing: Duration? = nil, logLevel: Logger.Level = .warning) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.maxQueue = maxQueue
        self.maxBodyBytes = maxBodyBytes
        self.maxTokens = maxTokens
        self.maxChoices = maxChoices
        self.modelID = modelID
        self.tokenPacing = tokenPacing
        self.logLevel = logLevel
    }
}

/// An OpenAI-compatible HTTP API over one loaded model: `GET /v1/models`, `POST /v1/completions`,
/// `POST /v1/chat/completions` (JSON or server-sent events), plus `GET /health`.
///
/// Requests share the model through a `GenerationScheduler`: generations run one at a time (a
/// generation already keeps every core busy), the rest wait in a bounded queue.
///
/// ```swift
/// let server = OpenAIServer(model: try await LoadedModel.load("demo-rinna-sft"),
///                           configuration: ServerConfiguration(port: 0))
/// try await server.run { port in print("listening on \(port)") }
/// ```
public final class OpenAIServer: Sendable {
    public let model: LoadedModel
    public let configuration: ServerConfiguration
    public let scheduler: GenerationScheduler
    /// What `/v1/models` lists.
    public var modelID: String { configuration.modelID ?? model.name }

    public init(model: LoadedModel, configuration: ServerConfiguration = ServerConfiguration()) {
        self.model = model
        self.configuration = configuration
        self.scheduler = GenerationScheduler(concurrency: 1, maxQueue: configuration.maxQueue)
    }

    /// Serves until the task is cancelled (or, with `handleSignals`, until SIGINT/SIGTERM, which
    /// let requests in progress finish). `onListening` gets the bound port once requests are accepted.
    public func run(handleSignals: Bool = false, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var logger = Logger(label: "kataribe.serve")
        logger.logLevel = configuration.logLevel
        let port = configuration.port
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(configuration.host, port: port), serverName: "kataribe"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
        if handleSignals { try await app.runService() } else { try await app.run() }
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let endpoints = Endpoints(
            modelID: modelID, created: Int(Date().timeIntervalSince1970),
            planner: RequestPlanner(generator: TextGenerator(model: model),
                                    limits: RequestLimits(maxTokens: configuration.maxTokens, maxChoices: configuration.maxChoices),
                                    tokenPacing: configuration.tokenPacing),
            runner: GenerationRunner(generator: TextGenerator(model: model)),
            scheduler: scheduler, maxBodyBytes: configuration.maxBodyBytes)
        let router = Router(context: BasicRequestContext.self)
        router.middlewares.add(OpenAIErrorMiddleware())
        if let key = configuration.apiKey { router.middlewares.add(APIKeyMiddleware(key: key)) }
        router.get("/health") { _, _ in Response.json(["status": "ok"]) }
        router.get("/v1/models") { _, _ in endpoints.models() }
        router.get("/v1/models/{id}") { _, context in
            try endpoints.model(context.parameters.get("id") ?? "")
        }
        router.post("/v1/completions") { request, _ in try await endpoints.completions(request) }
        router.post("/v1/chat/completions") { request, _ in try await endpoints.chatCompletions(request) }
        return router
    }
}
