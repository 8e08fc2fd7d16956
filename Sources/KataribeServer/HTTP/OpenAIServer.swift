import Foundation
import Hummingbird
import HummingbirdCore
import KataribeApp
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// How `OpenAIServer` listens and what it accepts.
public struct ServerConfiguration: Sendable {
    /// The address to bind; loopback unless the server is meant to be reachable from elsewhere.
    public var host: String
    /// 0 picks a free port (see `OpenAIServer.run(onListening:)`).
    public var port: Int
    /// When set, every request but `GET /health` must send `Authorization: Bearer <apiKey>` (401 otherwise).
    public var apiKey: String?
    /// Requests that may wait for the model while another runs; one more gets 429.
    public var maxQueue: Int
    /// Requests generated at once, batched into shared forward steps (continuous batching): the
    /// number of sequences one step advances. Requests beyond it wait in the queue.
    public var parallel: Int
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
    /// Whether each request gets an info line (method, path, status, duration, tokens) through
    /// swift-log (label `kataribe.serve`; stderr unless the process bootstraps another handler).
    public var logRequests: Bool
    /// A connection that sends nothing for this long, when opened or after a response, is closed
    /// (uvicorn's keep-alive default).
    public var idleTimeout: Duration
    /// A request head must be complete this long after its first byte (slow-header clients).
    public var headerTimeout: Duration
    /// A request body must be complete this long after its head, however steadily it trickles.
    public var bodyTimeout: Duration
    /// Open connections at most; more wait in the listen backlog until one closes.
    public var maxConnections: Int
    /// On graceful shutdown, how long responses in progress may take before they are cut off.
    /// Connections not being answered close at once.
    public var shutdownTimeout: Duration

    public init(host: String = "127.0.0.1", port: Int = 8080, apiKey: String? = nil, maxQueue: Int = 16, parallel: Int = 1,
                maxBodyBytes: Int = 1 << 20, maxTokens: Int? = nil, maxChoices: Int = 8, modelID: String? = nil,
                tokenPacing: Duration? = nil, logLevel: Logger.Level = .warning, logRequests: Bool = false,
                idleTimeout: Duration = .seconds(5), headerTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(30),
                maxConnections: Int = 256, shutdownTimeout: Duration = .seconds(30)) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.maxQueue = maxQueue
        self.parallel = max(1, parallel)
        self.maxBodyBytes = maxBodyBytes
        self.maxTokens = maxTokens
        self.maxChoices = maxChoices
        self.modelID = modelID
        self.tokenPacing = tokenPacing
        self.logLevel = logLevel
        self.logRequests = logRequests
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.maxConnections = maxConnections
        self.shutdownTimeout = shutdownTimeout
    }
}

/// An OpenAI-compatible HTTP API over one loaded model: `GET /v1/models`, `POST /v1/completions`,
/// `POST /v1/chat/completions` (JSON or server-sent events), plus `GET /health` and `GET /metrics`.
///
/// Requests share the model through a `GenerationScheduler`: up to `parallel` generations run at
/// once, batched by one `GenerationEngine` (every step advances all of them while reading the
/// weights once; a request joins at the next step and leaves when it finishes), the rest wait in
/// a bounded queue.
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
    /// Batches the running requests' sequences.
    public let engine: GenerationEngine
    /// What `/v1/models` lists.
    public var modelID: String { configuration.modelID ?? model.name }

    public init(model: LoadedModel, configuration: ServerConfiguration = ServerConfiguration()) {
        self.model = model
        self.configuration = configuration
        self.scheduler = GenerationScheduler(concurrency: configuration.parallel, maxQueue: configuration.maxQueue)
        self.engine = GenerationEngine(model: model, maxSequences: configuration.parallel)
    }

    /// Connections open now (at most `configuration.maxConnections`).
    public var openConnections: Int { connections.count.load(ordering: .relaxed) }

    private let connections = ConnectionGauge()
    private let lifecycle = Mutex(Lifecycle.notStarted)

    private enum Lifecycle {
        case notStarted
        case running(ServiceGroup)
        /// `shutdownGracefully()` came before `run`: the first run returns at once.
        case stopRequested
        case stopped
    }

    /// Serves until `shutdownGracefully()` is called (or, with `handleSignals`, until SIGINT/SIGTERM)
    /// or the task is cancelled. A graceful shutdown stops accepting, closes the connections that are
    /// not being answered at once and lets responses in progress finish, for up to
    /// `configuration.shutdownTimeout` (then they are cancelled). `onListening` gets the bound port
    /// once requests are accepted.
    ///
    /// Prefer `shutdownGracefully()` to cancelling: a connection accepted in the instant before the
    /// serving task is cancelled, not yet handed to Hummingbird, traps in NIO (apple/swift-nio#2813).
    public func run(handleSignals: Bool = false, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let logger = {
            var logger = Logger(label: "kataribe.serve")
            logger.logLevel = configuration.logLevel
            return logger
        }()
        let requestLogger = {
            var logger = Logger(label: "kataribe.serve")
            logger.logLevel = .info
            return logger
        }()
        let port = configuration.port
        let timeouts = ConnectionTimeouts(idle: TimeAmount(configuration.idleTimeout), header: TimeAmount(configuration.headerTimeout),
                                          body: TimeAmount(configuration.bodyTimeout))
        let app = Application(
            router: makeRouter(requestLogger: configuration.logRequests ? requestLogger : nil),
            // The autoclosure runs once per connection: each gets its own deadline handler.
            server: .http1(configuration: HTTP1Channel.Configuration(
                additionalChannelHandlers: [ConnectionDeadlineHandler(timeouts: timeouts, logger: logger)])),
            configuration: .init(address: .hostname(configuration.host, port: port), serverName: "kataribe",
                                 availableConnectionsDelegate: ConnectionLimit(maximum: configuration.maxConnections, gauge: connections)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
        // Our own group rather than `app.runService()`: it bounds how long a graceful shutdown may
        // wait for responses in progress (then they are cancelled), and lets `shutdownGracefully()`
        // stop the server the way Ctrl-C does.
        var groupConfiguration = ServiceGroupConfiguration(
            services: [app], gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownTimeout
        let group = ServiceGroup(configuration: groupConfiguration)
        let stopRequested = lifecycle.withLock { state in
            if case .stopRequested = state { state = .stopped; return true }
            state = .running(group)
            return false
        }
        if stopRequested { return }
        defer { lifecycle.withLock { $0 = .stopped } }
        try await group.run()
    }

    /// Stops `run` as SIGINT does with `handleSignals`: no new connections, idle and half-received
    /// requests closed at once, responses in progress finished (within `configuration.shutdownTimeout`).
    /// Returns at once; `run` returns when the server has stopped.
    public func shutdownGracefully() async {
        let group = lifecycle.withLock { state -> ServiceGroup? in
            switch state {
            case .running(let group): return group
            case .notStarted: state = .stopRequested
            case .stopRequested, .stopped: break
            }
            return nil
        }
        await group?.triggerGracefulShutdown()
    }

    func makeRouter(requestLogger: Logger? = nil) -> Router<BasicRequestContext> {
        let generator = TextGenerator(model: model, engine: engine)
        let endpoints = Endpoints(
            modelID: modelID, created: Int(Date().timeIntervalSince1970),
            planner: RequestPlanner(generator: generator,
                                    limits: RequestLimits(maxTokens: configuration.maxTokens, maxChoices: configuration.maxChoices),
                                    tokenPacing: configuration.tokenPacing),
            runner: GenerationRunner(generator: generator),
            scheduler: scheduler, maxBodyBytes: configuration.maxBodyBytes)
        let status = ServerStatus(scheduler: scheduler, engine: engine, slots: configuration.parallel)
        let router = Router(context: BasicRequestContext.self)
        // Outermost, so it sees the status every other middleware settled on.
        if let requestLogger { router.middlewares.add(RequestLogMiddleware(logger: requestLogger)) }
        router.middlewares.add(OpenAIErrorMiddleware())
        if let key = configuration.apiKey { router.middlewares.add(APIKeyMiddleware(key: key)) }
        router.get("/health") { _, _ in status.health() }
        router.get("/metrics") { _, _ in status.metrics() }
        router.get("/v1/models") { _, _ in endpoints.models() }
        router.get("/v1/models/{id}") { _, context in
            try endpoints.model(context.parameters.get("id") ?? "")
        }
        router.post("/v1/completions") { request, _ in try await endpoints.completions(request) }
        router.post("/v1/chat/completions") { request, _ in try await endpoints.chatCompletions(request) }
        let tokenizer = TokenizerEndpoints(model: model, maxBodyBytes: configuration.maxBodyBytes)
        router.get("/tokenizer_info") { _, _ in tokenizer.info() }
        router.post("/tokenize") { request, _ in
            var request = request
            return try await tokenizer.tokenize(endpoints.readBody(&request))
        }
        router.post("/detokenize") { request, _ in
            var request = request
            return try await tokenizer.detokenize(endpoints.readBody(&request))
        }
        return router
    }
}
